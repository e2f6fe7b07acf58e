"""A JSON description of a loaded checkpoint, the same under PyTorch and rustdl.

Used by ``tools/differential/record_checkpoints.py`` (under PyTorch, and under rustdl for
the files rustdl writes) and by ``tests/test_torch_checkpoints.py`` (under rustdl only):
both sides describe what they loaded and the descriptions are compared. Duck-typed, so it
imports neither library.
"""

import math

# dtypes rustdl has no tensors of, and what rustdl widens them to on load
WIDENED = {"float16": "float32", "bfloat16": "float32", "int8": "int64", "int16": "int64",
           "uint16": "int64", "uint32": "int64", "uint64": "int64"}


def _is_tensor(obj):
    return all(hasattr(obj, a) for a in ("dtype", "shape", "stride", "storage_offset", "detach"))


def _dtype(obj):
    return str(obj).rsplit(".", 1)[-1]


def _number(x):
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    return x


def _values(t):
    values = t.detach().tolist()

    def fix(v):
        return [fix(x) for x in v] if isinstance(v, list) else _number(v)

    return fix(values)


def storage_key(t):
    if hasattr(t, "untyped_storage"):
        return t.untyped_storage().data_ptr()
    return t._storage_id()


def describe(obj, path="", storages=None):
    """(description, storages): ``storages`` maps storage keys to the tensor paths on them."""
    if storages is None:
        storages = {}
    if _is_tensor(obj):
        if obj.numel():  # PyTorch gives every empty storage the same address
            storages.setdefault(storage_key(obj), []).append(path)
        return {
            "tensor": _dtype(obj.dtype),
            "type": type(obj).__name__,
            "shape": list(obj.shape),
            "stride": list(obj.stride()),
            "storage_offset": obj.storage_offset(),
            "requires_grad": bool(obj.requires_grad),
            "values": _values(obj),
        }, storages
    name = type(obj).__name__
    if name == "Size":
        return {"Size": [int(d) for d in obj]}, storages
    if name in ("dtype", "ForeignDtype"):
        return {"dtype": _dtype(obj)}, storages
    if name == "device":
        return {"device": str(obj)}, storages
    if isinstance(obj, dict):
        items = [[describe(k, path + ".<key>", storages)[0], describe(v, f"{path}.{k}", storages)[0]]
                 for k, v in obj.items()]
        return {name if name in ("OrderedDict", "Counter") else "dict": items}, storages
    if isinstance(obj, (list, tuple)):
        return {type(obj).__name__: [describe(v, f"{path}.{i}", storages)[0] for i, v in enumerate(obj)]}, storages
    if isinstance(obj, (set, frozenset)):
        return {type(obj).__name__: sorted(repr(v) for v in obj)}, storages
    if isinstance(obj, (bytes, bytearray)):
        return {type(obj).__name__: bytes(obj).hex()}, storages
    if isinstance(obj, complex):
        return {"complex": [_number(obj.real), _number(obj.imag)]}, storages
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj, storages
    if isinstance(obj, float):
        return {"float": _number(obj)}, storages
    return {"other": repr(obj)}, storages


def describe_checkpoint(obj):
    """{'object': description, 'shared': groups of tensor paths that share a storage}."""
    tree, storages = describe(obj)
    shared = sorted(sorted(paths) for paths in storages.values() if len(paths) > 1)
    return {"object": tree, "shared": shared}


def as_rustdl_would_load(description, widened=WIDENED):
    """A PyTorch-side description with the dtypes rustdl widens (``widened``) replaced by
    the wider ones."""
    if isinstance(description, list):
        return [as_rustdl_would_load(v, widened) for v in description]
    if isinstance(description, dict):
        out = {k: as_rustdl_would_load(v, widened) for k, v in description.items()}
        if "tensor" in out:
            out["tensor"] = widened.get(out["tensor"], out["tensor"])
        return out
    return description
