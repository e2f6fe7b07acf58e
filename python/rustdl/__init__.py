"""rustdl: a deep-learning library with a Rust engine and PyTorch's face.

``import rustdl as torch`` and PyTorch-style code runs on rustdl's tensors,
autograd and kernels.
"""

import builtins

from . import (
    _C,
    _tensor_methods,  # noqa: F401
)
from ._C import (  # noqa: F401  # noqa: F401
    Generator,
    Tensor,
    arange,
    as_tensor,
    bernoulli,
    bfloat16,
    can_cast,
    cat,
    device,
    dtype,
    empty,
    empty_like,
    eye,
    float16,
    float32,
    float64,
    from_numpy,
    full,
    full_like,
    get_default_device,
    get_num_threads,
    int8,
    int16,
    int32,
    int64,
    is_grad_enabled,
    linspace,
    multinomial,
    normal,
    ones,
    ones_like,
    promote_types,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    result_type,
    set_default_device,
    set_num_threads,
    stack,
    tensor,
    uint8,
    zeros,
    zeros_like,
)
from ._C import bool as bool
from ._C import where as where
from ._factory_out import with_out as _with_out
from ._out import write_out as _into

arange, linspace, eye, full, randint, randperm = (
    _with_out(f) for f in (arange, linspace, eye, full, randint, randperm))


@_with_out
def logspace(start, end, steps, base=10.0, *, dtype=None, layout=None, device=None, requires_grad=False):  # noqa: F811
    """``base ** linspace(start, end, steps)``, computed in float64 and cast once."""
    exponents = linspace(start, end, steps, dtype=float64)
    result = (tensor(builtins.float(base), dtype=float64) ** exponents).to(dtype or get_default_dtype())
    if device is not None:
        result = result.to(device)
    return result.requires_grad_(requires_grad)


from ._checks import require_tensors as _require_tensors
from ._dtype_info import finfo, iinfo  # noqa: F401
from ._grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401
from ._size import Size

float = float32
double = float64
long = int64
int = int32
short = int16
half = float16


class _ComplexDType:
    """torch.complex64 and friends, named so scripts import, but refused wherever a dtype is used:
    rustdl has no complex tensors yet, and a silent real dtype in their place would be wrong."""

    is_complex = True
    is_floating_point = False
    is_signed = True

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"torch.{self._name}"


complex32 = chalf = _ComplexDType("complex32")
complex64 = cfloat = _ComplexDType("complex64")
complex128 = cdouble = _ComplexDType("complex128")

from .version import __version__ as __version__


def _dtype_from_name(name):
    return getattr(_C, name)


def manual_seed(seed):
    """Seed the global random number generator; returns a Generator-like handle."""
    global _initial_seed
    _C.manual_seed(seed)
    _initial_seed = builtins.int(seed)
    g = Generator()
    g.manual_seed(seed)
    return g


def seed():
    import time

    global _initial_seed
    s = time.time_ns() & 0xFFFFFFFFFFFF
    _C.manual_seed(s)
    _initial_seed = s
    return s


_initial_seed = 0


def initial_seed():
    """The seed last given to ``manual_seed`` / chosen by ``seed`` (PyTorch's ``initial_seed``)."""
    return _initial_seed


def get_rng_state():
    # the u64 state words are stored as int64 (two's complement)
    return tensor([v - (1 << 64) if v >= (1 << 63) else v for v in _C._get_rng_state()], dtype=int64)


def set_rng_state(state):
    import builtins

    # (the module-level name ``int`` is rustdl.int32 here, as in torch)
    _C._set_rng_state([builtins.int(v) & ((1 << 64) - 1) for v in state.tolist()])


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(t):
    return t.is_floating_point()


def numel(t):
    return t.numel()


def get_default_dtype():
    return float32


def set_default_dtype(d):
    if d is not float32:
        raise NotImplementedError("rustdl: the default dtype is float32")


# PyTorch's arithmetic takes a Python number as `input` too (`torch.mul(2, x)`),
# wrapped as a 0-dim tensor.
_NUMBER_INPUT = {"add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "remainder",
                 "floor_divide", "bitwise_and", "bitwise_or", "bitwise_xor"}


# ... but not with a number as `other` too (no (Number, Number) overload).
_NO_NUMBER_PAIR = {"remainder", "bitwise_and", "bitwise_or", "bitwise_xor"}


# Functions PyTorch writes in Python: a non-tensor input fails at the first
# attribute they read (torch.norm reads input.layout).
_FIRST_ATTRIBUTE_READ = {"norm": "layout", "split": "split"}


def _method(name):
    def f(input, *args, out=None, **kwargs):
        if out is None and isinstance(input, Tensor):  # the common call: straight to the method
            return getattr(input, name)(*args, **kwargs)
        if (name in _NO_NUMBER_PAIR and isinstance(input, (builtins.bool, builtins.int, builtins.float))
                and not isinstance(args[0] if args else kwargs.get("other"), Tensor)):
            other = args[0] if args else kwargs.get("other")
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            f"({type(input).__name__}, {type(other).__name__})")
        if name in ("sub", "subtract") and isinstance(input, builtins.bool):
            # The number becomes a bool tensor there, which sub refuses.
            raise NotImplementedError(
                "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert "
                "a mask, use the `~` or `logical_not()` operator instead.")
        if name in _NUMBER_INPUT and isinstance(input, (builtins.bool, builtins.int, builtins.float)):
            input = _wrapped_number(input, args[0] if args else kwargs.get("other"))
        if name in _FIRST_ATTRIBUTE_READ and not isinstance(input, Tensor):
            raise AttributeError(f"'{type(input).__name__}' object has no attribute '{_FIRST_ATTRIBUTE_READ[name]}'")
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        return _into(out, getattr(input, name)(*args, **kwargs), name)

    f.__name__ = name
    f.__qualname__ = name
    f.__doc__ = f"``rustdl.{name}(input, ...)`` is ``input.{name}(...)``."
    return f


# Functions that are the same as the tensor method of the same name.
_METHOD_FUNCTIONS = ["abs", "absolute", "neg", "negative", "sign", "sgn", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "erf", "sqrt", "rsqrt", "square", "reciprocal", "sin", "cos", "tan", "tanh", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erfinv", "erfc", "lgamma", "digamma", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "sigmoid", "relu", "floor", "ceil", "round", "trunc", "frac", "clamp", "clip", "clamp_min", "clamp_max", "isnan", "isinf", "isfinite", "nan_to_num", "sum", "mean", "nansum", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "var", "std", "logsumexp", "norm", "cumsum", "cumprod", "all", "any", "count_nonzero", "matmul", "mm", "bmm", "dot", "mv", "outer", "ger", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide", "remainder", "fmod", "maximum", "minimum", "fmax", "fmin", "eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "equal", "allclose", "isclose", "logical_and", "logical_or", "logical_xor", "logical_not", "signbit", "bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor", "lerp", "atan2", "float_power", "reshape", "view_as", "permute", "transpose", "swapaxes", "swapdims", "t", "squeeze", "unsqueeze", "flatten", "ravel", "unflatten", "narrow", "select", "split", "chunk", "unbind", "flip", "roll", "movedim", "moveaxis", "tril", "triu", "gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add", "index_copy", "index_fill", "tensor_split", "take", "masked_fill", "masked_select", "nonzero", "argwhere", "sort", "argsort", "topk", "clone", "detach", "numel", "addcmul", "addcdiv", "addmm", "baddbmm", "addbmm", "addmv", "as_strided", "median", "nanmedian"]

for _name in _METHOD_FUNCTIONS:
    globals()[_name] = _method(_name)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """``torch.repeat_interleave(input, repeats, dim)``; with one tensor of
    counts only, ``repeat_interleave(repeats)`` gives each index ``i``
    ``repeats[i]`` times."""
    if not isinstance(input, Tensor):
        raise TypeError(f"repeat_interleave(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if repeats is None:
        return _C._repeat_interleave_indices(input, output_size)
    return input.repeat_interleave(repeats, dim, output_size=output_size)


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, disable=False):
    """``torch.compile``: ``model`` (an ``nn.Module``, or a function) with its module
    forwards captured per input signature and replayed as rewritten graphs; usable as
    ``@compile`` and ``@compile(mode=...)``. See ``rustdl/_dynamo/eval_frame.py``."""
    from ._dynamo.eval_frame import compile as _compile

    return _compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                    options=options, disable=disable)


def _wrapped_number(number, other):
    """A Python number in a tensor's place: a 0-dim tensor of the type the
    number would promote to with ``other`` (a number never widens a tensor)."""
    if isinstance(other, Tensor):
        return tensor(number, dtype=result_type(other, number))
    return tensor(number)


def add(input, other, *deprecated, alpha=None, out=None):
    if deprecated:  # the old add(input, Number alpha, Tensor other)
        other, alpha = _deprecated_overloads.alpha_first_function("add", other, deprecated, alpha)
    if isinstance(input, (builtins.bool, builtins.int, builtins.float)):
        input = _wrapped_number(input, other)
    if not isinstance(input, Tensor):
        raise TypeError(f"add(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    result = input.add(other) if alpha is None else input.add(other, alpha=alpha)
    return _into(out, result, "add")


def sub(input, other, *deprecated, alpha=None, out=None):
    if deprecated:  # the old sub(input, Number alpha, Tensor other)
        other, alpha = _deprecated_overloads.alpha_first_function("sub", other, deprecated, alpha)
    if isinstance(input, builtins.bool):  # the number becomes a bool tensor there, which sub refuses
        raise NotImplementedError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert "
            "a mask, use the `~` or `logical_not()` operator instead.")
    if isinstance(input, (builtins.bool, builtins.int, builtins.float)):
        input = _wrapped_number(input, other)
    if not isinstance(input, Tensor):
        raise TypeError(f"sub(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    result = input.sub(other) if alpha is None else input.sub(other, alpha=alpha)
    return _into(out, result, "sub")


def pow(input, exponent, *, out=None):
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError(f"pow() received an invalid combination of arguments - got "
                        f"({type(input).__name__}, {type(exponent).__name__})")
    result = exponent.__rpow__(input) if not isinstance(input, Tensor) else input.pow(exponent)
    return _into(out, result, "pow")


def softmax(input, dim, dtype=None):  # noqa: F811
    return _C.softmax(input, dim, dtype)


def log_softmax(input, dim, dtype=None):  # noqa: F811
    return _C.log_softmax(input, dim, dtype)


def broadcast_shapes(*shapes):
    """The shape all `shapes` broadcast to (an int stands for a 1-D shape), with PyTorch's error."""
    shapes = [(s,) if isinstance(s, builtins.int) else tuple(s) for s in shapes]
    result = [1] * builtins.max([len(s) for s in shapes], default=0)
    for index, shape in enumerate(shapes):
        for i in range(1, len(shape) + 1):
            size = shape[-i]
            if size < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {size}: {list(shape)}")
            if result[-i] == 1 or result[-i] == size:
                result[-i] = size
            elif size != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {size} at {-i}! Mismatching "
                                   f"argument at index {index} had {shape}; but expected shape should be "
                                   f"broadcastable to {result}")
    return Size(result)


def _broadcast_pair(a, b):
    """infer_size of two shapes, with PyTorch's message naming the first disagreeing dimension."""
    ndim = builtins.max(len(a), len(b))
    out = []
    for i in range(ndim):
        offset = ndim - 1 - i
        x = a[len(a) - 1 - offset] if len(a) - 1 - offset >= 0 else 1
        y = b[len(b) - 1 - offset] if len(b) - 1 - offset >= 0 else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton "
                               f"dimension {i}")
        out.append(y if x == 1 else x)
    return tuple(out)


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = tuple(tensors[0].shape) if tensors else ()
    for t in tensors[1:]:
        shape = _broadcast_pair(shape, tuple(t.shape))
    return tuple(t.expand(shape) for t in tensors)


def broadcast_to(input, size):
    _require_tensors("broadcast_to", ("input", input))
    return input.broadcast_to(size)


def concat(tensors, dim=0, *, out=None):
    return _into(out, cat(tensors, dim), "concat")


concatenate = concat


def inner(input, other, *, out=None):
    _require_tensors("inner", ("input", input), ("other", other))
    return _into(out, input.inner(other), "inner")


def tile(input, dims):
    _require_tensors("tile", ("input", input))
    return input.tile(dims)


_ABSENT = object()


def std_mean(input, dim=_ABSENT, unbiased=None, keepdim=None, *, correction=None):
    """``(std, mean)`` over ``dim``, as two differentiable results."""
    _require_tensors("std_mean", ("input", input))
    if isinstance(dim, builtins.bool):  # std_mean(x, True): the (unbiased) overload
        dim, unbiased = _ABSENT, dim
    # dim and keepdim are passed on only when given: PyTorch's overloads tell them apart.
    kw = ({} if keepdim is None else {"keepdim": keepdim}) | ({} if dim is _ABSENT else {"dim": dim})
    std = input.std(unbiased=unbiased, correction=correction, **kw)
    return std, _welford_mean(input, None if dim is _ABSENT else dim, builtins.bool(keepdim))


def var_mean(input, dim=_ABSENT, unbiased=None, keepdim=None, *, correction=None):
    """``(var, mean)`` over ``dim``, as two differentiable results."""
    _require_tensors("var_mean", ("input", input))
    if isinstance(dim, builtins.bool):  # var_mean(x, True): the (unbiased) overload
        dim, unbiased = _ABSENT, dim
    kw = ({} if keepdim is None else {"keepdim": keepdim}) | ({} if dim is _ABSENT else {"dim": dim})
    var = input.var(unbiased=unbiased, correction=correction, **kw)
    return var, _welford_mean(input, None if dim is _ABSENT else dim, builtins.bool(keepdim))


def _welford_mean(input, dim, keepdim):
    """The mean PyTorch's ``var_mean`` returns: it comes from Welford's
    running update ``m += (x - m) / k``, which turns an infinity into NaN as
    soon as any element follows it in reduction order (``[inf, 1]`` gives
    NaN, ``[1, inf]`` gives inf)."""
    mean = input.mean(dim, keepdim)
    if not input.is_floating_point() or input.numel() == 0:
        return mean
    finite = mean.isfinite()
    if input.dtype == float32 and not finite.all():
        # Welford's running mean never forms the float32 sum that overflows
        # (outputs over finite values; the others are as the sum gives them)
        mean = where(finite, mean, input.double().mean(dim, keepdim).to(float32))
    inf = input.isinf()
    if not inf.any():
        return mean
    nd = input.dim()
    dims = [dim] if isinstance(dim, builtins.int) else list(range(nd)) if dim is None or not len(dim) else list(dim)
    dims = [d % builtins.max(nd, 1) for d in dims] if nd else []
    kept = [d for d in range(nd) if d not in dims]
    rows = inf.permute(*kept, *dims).reshape(*[input.shape[d] for d in kept], -1) if nd else inf.reshape(1)
    count = rows.sum(-1)
    spoiled = (count > 1) | ((count == 1) & ~rows[..., -1])
    return where(spoiled.reshape(mean.shape), full((), builtins.float("nan"), dtype=mean.dtype), mean)


from .amp.autocast_mode import _op as _autocast_op


@_autocast_op("fp32")
def trace(input):
    return input.trace()


def index_put(input, indices, values, accumulate=False):
    return input.index_put(indices, values, accumulate)


def masked_scatter(input, mask, source):
    return input.masked_scatter(mask, source)


def diagonal(input, offset=0, dim1=0, dim2=1):
    return input.diagonal(offset, dim1, dim2)


def diag(input, diagonal=0):
    if input.dim() == 1:
        n = input.shape[0] + builtins.abs(diagonal)
        out = zeros(n, n, dtype=input.dtype)
        idx = arange(input.shape[0])
        r, c = (idx, idx + diagonal) if diagonal >= 0 else (idx - diagonal, idx)
        out[r, c] = input
        return out
    n = min(input.shape[0], input.shape[1])
    idx = arange(n)
    rows = idx if diagonal >= 0 else idx - diagonal
    cols = idx + diagonal if diagonal >= 0 else idx
    keep = (rows < input.shape[0]) & (cols < input.shape[1])
    return input[rows[keep], cols[keep]]


@_autocast_op("fp32")
def cdist(x1, x2, p=2.0):
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).norm(p=p, dim=-1)


def dist(input, other, p=2):
    return input.dist(other, p)


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    from .serialization import save as _save

    return _save(obj, f, pickle_module, pickle_protocol, _use_new_zipfile_serialization, _disable_byteorder_record)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    from .serialization import load as _load

    return _load(f, map_location, pickle_module, weights_only=weights_only, mmap=mmap, **pickle_load_args)


from . import _tensor_flags, accelerator, autograd, backends, cuda, functional, linalg, nn, optim, utils  # noqa: F401  # noqa: E402, F401  # noqa: F401, E402
from ._import_hook import install_torch_alias  # noqa: F401
from ._linalg_functions import cholesky, cross, det, inverse, logdet, matrix_power, slogdet, svd  # noqa: F401
from .functional import (  # noqa: F401
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    cartesian_prod,
    chain_matmul,
    einsum,
    meshgrid,
    pca_lowrank,
    svd_lowrank,
    tensordot,
    unique,
    unique_consecutive,
    unravel_index,
)


def _register_multiprocessing():
    # `import torch` imports torch.multiprocessing, which registers the
    # pickling of tensors for other processes (through shared memory).
    from . import multiprocessing  # noqa: F401


_register_multiprocessing()
del _register_multiprocessing

# torch.profiler (after autograd, whose profiler it extends)
profiler = builtins.__import__("importlib").import_module(__name__ + ".profiler")

# torch.distributed is an attribute of torch after `import torch` (MPI is only loaded by
# init_process_group, so this needs none)
distributed = builtins.__import__("importlib").import_module(__name__ + ".distributed")

from . import _composite_ops as _composite_ops

for _name in _composite_ops.FUNCTIONS:
    globals()[_name] = getattr(_composite_ops, _name)
for _name in _composite_ops.METHODS:
    setattr(Tensor, _name, getattr(_composite_ops, _name))
from . import _elementwise_composites, _shape_composites

for _module in (_elementwise_composites, _shape_composites):
    for _name in _module.FUNCTIONS:
        globals()[_name] = getattr(_module, _name)
    for _name in _module.METHODS:
        setattr(Tensor, _name, getattr(_module, _name))
for _name, _method in _elementwise_composites.IN_PLACE_METHODS.items():
    setattr(Tensor, _name, _method)
from . import (
    _factories_more,
    _global_settings,
    _legacy_tensor_types,
    _memory_format,
    _random_fill,
    _torch_nn_aliases,
    _window_functions,
)

for _module in (_factories_more, _global_settings, _window_functions):
    for _name in _module.FUNCTIONS:
        globals()[_name] = getattr(_module, _name)
globals().update(_legacy_tensor_types.TYPES)
from . import _linalg_more
from .utils import dlpack as _dlpack

from_dlpack = _dlpack.from_dlpack
from . import _storage

_storage.install(Tensor, globals())
from . import _special_more, _torch_functions_more, special

for _name in _torch_functions_more.FUNCTIONS:
    globals().setdefault(_name, getattr(_torch_functions_more, _name))

for _name in _special_more.SPECIAL:
    setattr(special, _name, getattr(_special_more, _name))
for _name, _function in _special_more.TORCH.items():
    globals().setdefault(_name, _function)
Tensor.__dlpack__ = _dlpack.tensor_dlpack
Tensor.__dlpack_device__ = _dlpack.tensor_dlpack_device

for _name in _linalg_more.LINALG:
    setattr(linalg, _name, getattr(_linalg_more, _name))
for _name, _function in _linalg_more.TORCH.items():
    globals().setdefault(_name, _function)

for _name in _memory_format.NAMES:
    globals()[_name] = getattr(_memory_format, _name)
Tensor.layout = property(lambda self: _memory_format.strided)

for _name in _random_fill.METHODS:
    setattr(Tensor, _name, getattr(_random_fill, _name))

_torch_nn_aliases.install(globals())
from . import _deprecated_overloads

_deprecated_overloads.install(globals())

# torch.autocast, torch.amp, torch.cpu.amp and the autocast state functions
from . import amp, cpu  # noqa: F401
from .amp import autocast  # noqa: F401
from .amp.autocast_mode import (  # noqa: F401
    autocast_decrement_nesting,
    autocast_increment_nesting,
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_cpu_dtype,
    set_autocast_cpu_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)


def polygamma(n, input, *, out=None):
    """``torch.polygamma(n, input)``: the n-th derivative of digamma."""
    result = input.polygamma(n)
    return result if out is None else out.copy_(result)


def xlogy(input, other, *, out=None):
    from . import special

    result = special.xlogy(input, other)
    return result if out is None else out.copy_(result)


def logit(input, eps=None, *, out=None):
    from . import special

    result = special.logit(input, eps)
    return result if out is None else out.copy_(result)


def sinc(input, *, out=None):
    from . import special

    result = special.sinc(input)
    return result if out is None else out.copy_(result)


def mvlgamma(input, p, *, out=None):
    from . import special

    result = special.multigammaln(input, p)
    return result if out is None else out.copy_(result)


from . import _tensor_surface

_tensor_surface.install(globals(), Tensor)


def __getattr__(name):
    # `torch.serialization.safe_globals(...)` works after a bare `import torch`;
    # the module is imported on first use (it costs ~0.1 s at startup).
    if name in ("serialization", "jit", "onnx", "_dynamo", "compiler", "func", "special", "testing", "random", "distributions", "version"):  # (imported on first use)
        return builtins.__import__("importlib").import_module(__name__ + "." + name)
    if name == "vmap":
        return builtins.__import__("importlib").import_module(__name__ + ".func").vmap
    if name == "range":  # torch.range (deprecated), kept out of the module globals: see _torch_functions_more
        return _torch_functions_more.range
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
