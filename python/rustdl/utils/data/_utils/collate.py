"""``default_collate`` and ``default_convert`` (the semantics of
``torch.utils.data._utils.collate``), with errors that name the culprit.

Errors say *where* in the batch the problem is: ``batch[3]`` is the 4th
sample, ``batch[3]['image']`` a key of it, ``batch[3][1]`` a tuple position.
"""

import collections.abc
import copy
import re

import numpy as np

import rustdl

__all__ = ["collate", "default_collate", "default_collate_fn_map", "default_convert"]

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _where(path, i=None):
    p = "batch" if i is None else f"batch[{i}]"
    return p + "".join(path)


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_convert(data):
    """Convert numpy arrays/scalars (nested in mappings and sequences) to tensors;
    tensors, strings and other objects are returned unchanged."""
    elem_type = type(data)
    if isinstance(data, rustdl.Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_", "string_"):
        if elem_type.__name__ in ("ndarray", "memmap") and np_str_obj_array_pattern.search(data.dtype.str):
            return data
        return _numpy_to_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if _is_namedtuple(data):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # backwards compatibility (as PyTorch)
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def _numpy_to_tensor(a):
    a = np.asarray(a)
    if a.dtype == np.float16:
        a = a.astype(np.float32)
    elif a.dtype in (np.uint16, np.uint32) or a.dtype == np.int16 or a.dtype == np.int8:
        a = a.astype(np.int64)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return rustdl.from_numpy(a)


# ---------------------------------------------------------------- collate_fns
def _type_name(x):
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


def _check_all(batch, ok, kind, path):
    t0 = type(batch[0])
    if ok(batch[0]) and all(type(b) is t0 for b in batch):
        return
    for i, b in enumerate(batch):
        if not ok(b):
            raise TypeError(
                f"default_collate: inconsistent types in the batch: {_where(path, 0)} is {kind} but "
                f"{_where(path, i)} is {_type_name(b)} ({_short_repr(b)})"
            )


def _short_repr(x, n=60):
    if isinstance(x, rustdl.Tensor):
        return f"tensor of shape {tuple(x.shape)}, dtype {x.dtype}"
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape}, dtype {x.dtype}"
    r = repr(x)
    return r if len(r) <= n else r[: n - 3] + "..."


def collate_tensor_fn(batch, path=(), collate_fn_map=None):
    _check_all(batch, lambda b: isinstance(b, rustdl.Tensor), "a Tensor", path)
    batch = list(batch)
    try:
        return rustdl.stack(batch, 0)
    except (RuntimeError, TypeError, ValueError) as e:
        return _stack_failed(batch, path, e)


def _stack_failed(batch, path, err):
    """``stack`` failed: raise an error naming the culprit (or retry with promoted dtypes)."""
    shape0 = tuple(batch[0].shape)
    for i, b in enumerate(batch):
        if tuple(b.shape) != shape0:
            raise RuntimeError(
                f"default_collate: tensors in the batch must have equal shapes to be stacked, but "
                f"{_where(path, 0)} has shape {list(shape0)} and {_where(path, i)} has shape "
                f"{list(b.shape)}"
            ) from None
    dtype = batch[0].dtype
    for b in batch:
        dtype = rustdl.promote_types(dtype, b.dtype)
    if all(b.dtype == dtype for b in batch):
        raise err
    return rustdl.stack([b.to(dtype) for b in batch], 0)


def collate_numpy_array_fn(batch, path=(), collate_fn_map=None):
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(
            default_collate_err_msg_format.format(elem.dtype) + f" (at {_where(path, 0)})"
        )
    _check_all(batch, lambda b: isinstance(b, np.ndarray), "a numpy array", path)
    shape0 = elem.shape
    for i, b in enumerate(batch):
        if b.shape != shape0:
            raise RuntimeError(
                f"default_collate: numpy arrays in the batch must have equal shapes to be stacked, "
                f"but {_where(path, 0)} has shape {list(shape0)} and {_where(path, i)} has shape "
                f"{list(b.shape)}"
            )
        if np_str_obj_array_pattern.search(b.dtype.str) is not None:
            raise TypeError(default_collate_err_msg_format.format(b.dtype) + f" (at {_where(path, i)})")
    return _numpy_to_tensor(np.stack(batch, 0))


def collate_numpy_scalar_fn(batch, path=(), collate_fn_map=None):
    _check_all(batch, _is_number, "a numpy scalar", path)
    return _numpy_to_tensor(np.array(batch))


def _is_number(b):
    return isinstance(b, (int, float, np.number, np.bool_))


def collate_float_fn(batch, path=(), collate_fn_map=None):
    _check_all(batch, _is_number, "a float", path)
    return rustdl.tensor([float(b) for b in batch], dtype=rustdl.float64)


def collate_int_fn(batch, path=(), collate_fn_map=None):
    _check_all(batch, _is_number, "an int" if not isinstance(batch[0], bool) else "a bool", path)
    if all(isinstance(b, (bool, np.bool_)) for b in batch):
        return rustdl.tensor([bool(b) for b in batch])
    if all(isinstance(b, (int, np.integer)) for b in batch):
        return rustdl.tensor([int(b) for b in batch], dtype=rustdl.int64)
    return rustdl.tensor([float(b) for b in batch])  # ints mixed with floats: default dtype (as PyTorch)


def collate_str_fn(batch, path=(), collate_fn_map=None):
    _check_all(batch, lambda b: isinstance(b, (str, bytes)), "a string", path)
    return batch


_PATH_AWARE = {
    collate_tensor_fn,
    collate_numpy_array_fn,
    collate_numpy_scalar_fn,
    collate_float_fn,
    collate_int_fn,
    collate_str_fn,
}

default_collate_fn_map = {
    rustdl.Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    np.generic: collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def _call(fn, batch, path, collate_fn_map):
    if fn in _PATH_AWARE:
        return fn(batch, path=path, collate_fn_map=collate_fn_map)
    # a user-supplied function with PyTorch's signature fn(batch, *, collate_fn_map=None)
    return fn(batch, collate_fn_map=collate_fn_map)


def collate(batch, *, collate_fn_map=None, _path=()):
    """The general collate function: dispatches on the type of ``batch[0]``
    through ``collate_fn_map`` (type -> function) and recurses into mappings
    and sequences."""
    if not isinstance(batch, (list, tuple)):
        batch = list(batch)
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    elem_type = type(elem)
    path = _path

    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return _call(collate_fn_map[elem_type], batch, path, collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return _call(collate_fn_map[collate_type], batch, path, collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        _check_all(batch, lambda b: isinstance(b, collections.abc.Mapping), "a mapping", path)
        keys = list(elem)
        for i, b in enumerate(batch):
            missing = [k for k in keys if k not in b]
            extra = [k for k in b if k not in elem]
            if missing or extra:
                raise KeyError(
                    f"default_collate: the dicts in the batch have different keys: {_where(path, i)} "
                    + (f"lacks {missing}" if missing else "")
                    + (" and " if missing and extra else "")
                    + (f"has extra {extra}" if extra else "")
                    + f" compared to {_where(path, 0)} (keys {keys})"
                )

        def sub(key):
            return collate([d[key] for d in batch], collate_fn_map=collate_fn_map, _path=path + (f"[{key!r}]",))

        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update({key: sub(key) for key in elem})
                return clone
            return elem_type({key: sub(key) for key in elem})
        except TypeError as e:
            if str(e).startswith("default_collate"):
                raise
            return {key: sub(key) for key in elem}

    if _is_namedtuple(elem):
        _check_all(batch, lambda b: isinstance(b, tuple) and len(b) == len(elem), f"a {_type_name(elem)}", path)
        return elem_type(
            *(
                collate(list(samples), collate_fn_map=collate_fn_map, _path=path + (f".{name}",))
                for name, samples in zip(elem._fields, zip(*batch))
            )
        )

    if isinstance(elem, collections.abc.Sequence) and not isinstance(elem, (str, bytes)):
        _check_all(
            batch,
            lambda b: isinstance(b, collections.abc.Sequence) and not isinstance(b, (str, bytes)),
            f"a {_type_name(elem)}",
            path,
        )
        elem_size = len(elem)
        for i, b in enumerate(batch):
            if len(b) != elem_size:
                raise RuntimeError(
                    "each element in list of batch should be of equal size "
                    f"({_where(path, 0)} has {elem_size} items, {_where(path, i)} has {len(b)})"
                )
        transposed = list(zip(*batch))
        items = [
            collate(list(samples), collate_fn_map=collate_fn_map, _path=path + (f"[{j}]",))
            for j, samples in enumerate(transposed)
        ]
        if isinstance(elem, tuple):
            return items  # backwards compatibility (as PyTorch): tuples collate to lists
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for j, item in enumerate(items):
                    clone[j] = item
                return clone
            return elem_type(items)
        except TypeError:
            return items

    raise TypeError(
        default_collate_err_msg_format.format(elem_type) + f" (at {_where(path, 0)}: {_short_repr(elem)})"
    )


def default_collate(batch):
    """Collate a list of samples into a batch, as ``torch.utils.data.default_collate``:

    * tensors -> ``stack`` (equal shapes required), numpy arrays -> tensor (stacked),
    * Python floats -> float64 tensor, ints -> int64 tensor, bools -> bool tensor,
    * strings/bytes -> kept as a list,
    * mappings -> same mapping type with every key collated,
    * namedtuples -> same namedtuple, tuples -> list, other sequences -> same type,
      each position collated (the batch is transposed).

    Mixed types, mismatched shapes, sequence lengths or dict keys raise an error
    that names the offending sample (``batch[i]...``).
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
