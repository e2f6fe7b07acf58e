"""Tensor factories beside the Rust ones: empty_strided, asarray, frombuffer, randint_like,
poisson, binomial."""

import numpy as np

import rustdl as _t


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """A tensor of `size` viewing a zero-filled storage through `stride` (the storage holds
    exactly the elements those strides reach)."""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape: {len(stride)} vs {len(size)}")
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise RuntimeError(f"empty_strided: negative size or stride (size {list(size)}, stride {list(stride)})")
    storage = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    base = _t.zeros(storage, dtype=_t.get_default_dtype() if dtype is None else dtype)
    result = base.as_strided(size, stride)
    return result.requires_grad_() if requires_grad else result


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """`obj` as a tensor, sharing memory where it can (a tensor of the same dtype, or a NumPy
    array through from_numpy) unless `copy=True`; `copy=False` raises where a copy is needed."""
    if isinstance(obj, _t.Tensor):
        result = obj if dtype is None or obj.dtype == dtype else obj.to(dtype)
        if result is not obj and copy is False:
            raise ValueError("can't alias tensor of a different dtype with copy=False")
        result = result.clone() if copy and result is obj else result
    elif isinstance(obj, np.ndarray) and not copy:
        result = _t.from_numpy(obj)
        if dtype is not None and result.dtype != dtype:
            if copy is False:
                raise ValueError("can't alias a NumPy array as a different dtype with copy=False")
            result = result.to(dtype)
    else:
        if copy is False and not isinstance(obj, np.ndarray):
            raise ValueError(f"can't alias a {type(obj).__name__} with copy=False")
        result = _t.tensor(obj, dtype=dtype)
    if requires_grad:
        result.requires_grad_()
    return result


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor viewing the bytes of a Python buffer (shared, as in PyTorch)."""
    itemsize = _t.empty(0, dtype=dtype).element_size()
    length = len(memoryview(buffer).cast("B"))
    if offset < 0 or offset > length:
        raise ValueError(f"offset must be non-negative and no greater than buffer length ({length}), but got {offset}")
    if count < 0 and (length - offset) % itemsize:
        raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} bytes) must be a multiple "
                         f"of element size ({itemsize})")
    if count == 0 or length == offset:
        raise ValueError("both buffer length and count must be greater than 0")
    array = np.frombuffer(buffer, dtype=str(dtype).split(".")[-1], count=count, offset=offset)
    result = _t.from_numpy(array)
    return result.requires_grad_() if requires_grad else result


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None, requires_grad=False,
                 memory_format=None, generator=None):
    if high is None:
        low, high = 0, low
    return _t.randint(low, high, tuple(input.shape), dtype=input.dtype if dtype is None else dtype,
                      generator=generator, requires_grad=requires_grad)


def poisson(input, generator=None):
    """Poisson draws with the rates in `input` (a float tensor, rates >= 0)."""
    if not input.is_floating_point():
        raise NotImplementedError(f"\"poisson_cpu\" not implemented for '{str(input.dtype).split('.')[-1]}'")
    if input.numel() and (input < 0).any():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    if generator is not None:
        raise NotImplementedError("poisson(): an explicit generator is not supported yet; use manual_seed")
    return _t.distributions.Poisson(input.detach()).sample()


FUNCTIONS = ["asarray", "empty_strided", "frombuffer", "poisson", "randint_like"]
