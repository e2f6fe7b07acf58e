"""Tensor methods written in Python (thin compositions of Rust ops), attached
to the Rust ``Tensor`` class at import time."""

import copy

from . import _C, _median

Tensor = _C.Tensor


def softmax(self, dim, dtype=None):
    return _C.softmax(self, dim, dtype)


def log_softmax(self, dim, dtype=None):
    return _C.log_softmax(self, dim, dtype)


def _new(fill):
    def f(self, *size, dtype=None, device=None, requires_grad=False):
        if len(size) == 1 and isinstance(size[0], (tuple, list)):
            size = tuple(size[0])
        return _C.full(size, fill, dtype=dtype or self.dtype, device=self.device if device is None else device,
                       requires_grad=requires_grad)

    return f


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return _C.full(tuple(size), fill_value, dtype=dtype or self.dtype,
                   device=self.device if device is None else device, requires_grad=requires_grad)


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return _C.tensor(data, dtype=dtype or self.dtype, device=self.device if device is None else device,
                     requires_grad=requires_grad)


def __deepcopy__(self, memo):
    if id(self) in memo:
        return memo[id(self)]
    t = self.detach().clone()
    t.requires_grad_(self.requires_grad)
    if self.grad is not None:
        t.grad = copy.deepcopy(self.grad, memo)
    memo[id(self)] = t
    return t


def __reduce_ex__(self, proto):
    # Pickling goes through numpy (data only; no code runs on load beyond this).
    return (_rebuild, (self.detach().numpy().copy(), self.requires_grad))


def _rebuild(array, requires_grad):
    return _C.tensor(array, requires_grad=requires_grad)


def __format__(self, spec):
    if self.dim() == 0:
        return self.item().__format__(spec)
    return repr(self)


def __reversed__(self):
    return self.flip(0) if self.dim() else self


def __contains__(self, element):
    return bool((self == element).any().item())


def is_shared(self):
    """Whether the elements live in shared memory (``share_memory_``)."""
    return _C._is_shared(self)


def pin_memory(self):
    return self


def share_memory_(self):
    """Move the storage to shared memory, in place (every view sees it; a
    no-op when already shared): processes it is sent to, or forked from this
    one, then read and write the same elements."""
    if self.device.type != "cpu":
        return self
    _C._share_memory_(self)
    return self


def apply_(self, fn):
    import numpy as np

    vals = np.vectorize(fn)(self.numpy())
    self.copy_(_C.tensor(vals, dtype=self.dtype))
    return self


def unfold(self, dimension, size, step):
    nd = max(self.dim(), 1)
    if not -nd <= dimension < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dimension})")
    if self.dim() == 0:
        return self.unsqueeze(0).unfold(0, size, step).squeeze(0)
    dimension %= self.dim()
    n = self.shape[dimension]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {dimension} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    starts = range(0, n - size + 1, step)
    pieces = [self.narrow(dimension, s, size).unsqueeze(dimension) for s in starts]
    out = _C.cat(pieces, dimension)
    return out.movedim(dimension + 1, -1)


def dist(self, other, p=2):
    """``torch.dist``: the p-norm of ``self - other`` (broadcast)."""
    return (self - other).norm(p=p)


def diag(self, diagonal=0):
    import rustdl

    return rustdl.diag(self, diagonal)


def addcmul(self, tensor1, tensor2, *, value=1):
    return self + value * (tensor1 * tensor2)


def addcmul_(self, tensor1, tensor2, *, value=1):
    return self.add_(tensor1 * tensor2, alpha=value)


def _check_addcdiv(tensor1, tensor2):
    if not tensor1.dtype.is_floating_point and not tensor2.dtype.is_floating_point:
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future release addcdiv "
            "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can "
            "be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
            "integer inputs and as (input + value * tensor1 / tensor2) for float inputs."
        )


def addcdiv(self, tensor1, tensor2, *, value=1):
    _check_addcdiv(tensor1, tensor2)
    return self + value * (tensor1 / tensor2)


def addcdiv_(self, tensor1, tensor2, *, value=1):
    _check_addcdiv(tensor1, tensor2)
    return self.add_(tensor1 / tensor2, alpha=value)


_DTYPE_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
                "uint8": "Byte", "bool": "Bool"}


def _dtype_name(dtype):
    """PyTorch's name in error messages: Float, Long, ..."""
    return _DTYPE_NAMES.get(str(dtype).rsplit(".", 1)[-1], str(dtype))


def _inplace(base):
    """``x.<base>_(...)``: ``x.<base>(...)`` written back into ``x``, with
    PyTorch's in-place rules (no float result into an integer tensor; a leaf
    that requires grad is refused by ``copy_``). The value is computed from a
    copy when autograd records, since ``<base>``'s backward may read it."""

    def f(self, *args, **kwargs):
        import rustdl

        # (a tensor argument that requires grad, positional or keyword as in
        # `x.clip_(min=lo)`, makes the graph record too)
        records = rustdl.is_grad_enabled() and (
            self.requires_grad
            or any(isinstance(a, Tensor) and a.requires_grad for a in (*args, *kwargs.values()))
        )
        src = self.clone() if records else self
        result = getattr(src, base)(*args, **kwargs)
        if (result.dtype.is_floating_point and not self.dtype.is_floating_point
                or self.dtype == rustdl.bool and result.dtype != rustdl.bool):
            raise RuntimeError(
                f"result type {_dtype_name(result.dtype)} can't be cast to the desired output type "
                f"{_dtype_name(self.dtype)}"
            )
        return self.copy_(result)

    f.__name__ = base + "_"
    f.__doc__ = f"In-place version of :meth:`{base}`."
    return f


def _inplace_view(base):
    """``x.<base>_(...)`` for a shape op (``unsqueeze_``, ``t_``, ...): ``x``
    itself takes the view's geometry over the same storage."""

    def f(self, *args, **kwargs):
        import rustdl

        if self.requires_grad and self.is_leaf and rustdl.is_grad_enabled():
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        self._become_view(getattr(self, base)(*args, **kwargs))
        return self

    f.__name__ = base + "_"
    f.__doc__ = f"In-place version of :meth:`{base}` (changes this tensor's shape, not its data)."
    return f


def _sizes_arg(sizes):
    return tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)


def resize_(self, *sizes, memory_format=None):
    """PyTorch's ``resize_``: this tensor becomes contiguous with ``sizes``
    from its storage offset; a larger size gets a larger storage (the old
    elements kept, the new ones zero where PyTorch leaves them uninitialised)."""
    import math

    import rustdl

    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    sizes = _sizes_arg(sizes)
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {list(sizes)}")
    strides, acc = [], 1
    for s in reversed(sizes):
        strides.insert(0, acc)
        acc *= max(s, 1)
    offset, have = self.storage_offset(), self._storage_numel()
    need = offset + math.prod(sizes)
    base = self
    if need > have:
        base = rustdl.zeros(need, dtype=self.dtype)
        if have:
            base[:have] = self.as_strided((have,), (1,), 0)
    self._become_view(base.as_strided(sizes, strides, offset))
    return self


def resize_as_(self, other, memory_format=None):
    return self.resize_(tuple(other.shape))


# In-place variants PyTorch has for these methods (those written in Rust,
# such as relu_ and add_, are kept).
_INPLACE_OF = ["square", "log", "log2", "log10", "log1p", "erf", "expm1", "sin", "cos", "tan", "reciprocal",
               "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erfinv", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
               "erfc", "lgamma", "digamma", "polygamma", "xlogy", "logit", "sinc", "mvlgamma", "rsqrt", "sign", "sgn", "round", "ceil", "trunc", "frac", "fmod", "remainder", "atan2",
               "nan_to_num", "clip", "float_power", "logical_not", "logical_and", "logical_or",
               "logical_xor", "bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor", "eq", "ne",
               "lt", "le", "gt", "ge", "true_divide", "floor_divide", "subtract", "multiply", "divide", "negative",
               "absolute", "exp2", "tril", "triu", "index_add", "scatter_add", "addmm", "baddbmm", "addbmm",
               "addmv"]


def broadcast_to(self, size):
    return self.expand(tuple(size))


def inner(self, other):
    """Sum over the last dims: shape ``self.shape[:-1] + other.shape[:-1]``."""
    if not isinstance(other, Tensor):
        raise TypeError(f"inner(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
    if self.dim() == 0 or other.dim() == 0:
        return self * other
    k = self.shape[-1]
    if other.shape[-1] != k:
        raise RuntimeError(
            f"inner() the last dimension must match on both input tensors but got shapes "
            f"{list(self.shape)} and {list(other.shape)}"
        )
    rows = 1
    for n in self.shape[:-1]:
        rows *= n
    cols = 1
    for n in other.shape[:-1]:
        cols *= n
    out = self.reshape(rows, k) @ other.reshape(cols, k).t()
    return out.reshape(tuple(self.shape[:-1]) + tuple(other.shape[:-1]))


def tile(self, dims):
    dims = tuple(dims)
    if len(dims) < self.dim():
        dims = (1,) * (self.dim() - len(dims)) + dims
    return self.repeat(tuple(dims))


def where(self, condition, other):
    return _C.where(condition, self, other)


_METHODS = {
    "broadcast_to": broadcast_to,
    "inner": inner,
    "tile": tile,
    "where": where,
    "addcmul": addcmul,
    "addcmul_": addcmul_,
    "addcdiv": addcdiv,
    "addcdiv_": addcdiv_,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "new_zeros": _new(0.0),
    "new_ones": _new(1.0),
    "new_empty": _new(0.0),
    "new_full": new_full,
    "new_tensor": new_tensor,
    "__deepcopy__": __deepcopy__,
    "__reduce_ex__": __reduce_ex__,
    "__format__": __format__,
    "__reversed__": __reversed__,
    "__contains__": __contains__,
    "is_shared": is_shared,
    "pin_memory": pin_memory,
    "share_memory_": share_memory_,
    "apply_": apply_,
    "unfold": unfold,
    "diag": diag,
    "dist": dist,
}

def diagonal(self, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes as a view, appended as the last
    dim (PyTorch's ``diagonal``: a strided view onto the same storage)."""
    nd = self.dim()

    def wrap(d):
        if not -nd <= d < nd:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {d})")
        return d % nd

    d1, d2 = wrap(dim1), wrap(dim2)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return self._diagonal(offset, d1, d2)


def index_put(self, indices, values, accumulate=False):
    """Out-of-place ``index_put_``: a copy with ``values`` put at ``indices``."""
    return self.clone().index_put_(indices, values, accumulate)


def _masked_scatter_source(self, mask, source, name):
    from ._C import bool as bool_dtype
    from .nn._arg_checks import scalar_name

    if mask.dtype != bool_dtype:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {scalar_name(mask)}")
    if source.dtype != self.dtype:
        raise RuntimeError(f"{name}: expected self and source to have same dtypes but got"
                           f"{scalar_name(self)} and {scalar_name(source)}")
    count = int(mask.sum())
    if source.numel() < count:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    return source.reshape(-1)[:count]


def masked_scatter_(self, mask, source):
    """Copies ``source``'s first elements, in order, into the positions where
    ``mask`` (broadcast to this tensor) is True."""
    mask = mask.expand_as(self)
    self[mask] = _masked_scatter_source(self, mask, source, "masked_scatter_")
    return self


def masked_scatter(self, mask, source):
    """Out of place: this tensor and ``mask`` broadcast together first."""
    from . import broadcast_shapes

    shape = broadcast_shapes(tuple(self.shape), tuple(mask.shape))
    mask = mask.expand(shape)
    out = self.expand(shape).clone()
    out[mask] = _masked_scatter_source(self, mask, source, "masked_scatter")
    return out


def trace(self):
    """Sum of the main diagonal of a matrix (integers summed as int64)."""
    if self.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.dim()}")
    return self.diagonal().sum()


for _name in ["unsqueeze", "squeeze", "t", "transpose", "swapdims", "swapaxes", "as_strided"]:
    setattr(Tensor, _name + "_", _inplace_view(_name))
_METHODS["resize_"] = resize_
_METHODS["trace"] = trace
_METHODS["index_put"] = index_put
_METHODS["masked_scatter"] = masked_scatter
_METHODS["masked_scatter_"] = masked_scatter_
_METHODS["diagonal"] = diagonal
_METHODS["median"] = _median.median
_METHODS["nanmedian"] = _median.nanmedian
_METHODS["resize_as_"] = resize_as_
_ABSENT = object()


def _variance(name):
    """``var``/``std`` with PyTorch's overloads: ``unbiased`` with ``keepdim`` needs a
    ``dim`` (``dim=None`` counts; an absent one does not), which the Rust method
    cannot tell apart."""
    rust = getattr(Tensor, name)

    def f(self, dim=_ABSENT, unbiased=None, keepdim=None, *, correction=None):
        no_dim = dim is _ABSENT or isinstance(dim, bool)
        if no_dim and keepdim is not None and (unbiased is not None or isinstance(dim, bool)):
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            f"(keepdim=bool, unbiased=bool), but expected one of: (tuple of ints dim, "
                            f"bool unbiased = True, bool keepdim = False), (tuple of ints dim = None, *, "
                            f"Number correction = None, bool keepdim = False), (bool unbiased = True)")
        kw = {} if keepdim is None else {"keepdim": keepdim}
        return rust(self, None if dim is _ABSENT else dim, unbiased, correction=correction, **kw)

    f.__name__ = name
    f.__doc__ = rust.__doc__
    return f


_METHODS["var"] = _variance("var")
_METHODS["std"] = _variance("std")

def _special_method(name, fn_name=None):
    def method(self, *args, **kwargs):
        from . import special

        return getattr(special, fn_name or name)(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name, _fn_name in (("xlogy", None), ("logit", None), ("sinc", None), ("mvlgamma", "multigammaln")):
    _METHODS[_name] = _special_method(_name, _fn_name)

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
for _name in _INPLACE_OF:
    if hasattr(Tensor, _name) and not hasattr(Tensor, _name + "_"):
        setattr(Tensor, _name + "_", _inplace(_name))
