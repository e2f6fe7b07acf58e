"""torch elementwise and reduction functions composed from rustdl ops: rad2deg, deg2rad, positive,
fix, heaviside, gcd, lcm, bitwise_left_shift, bitwise_right_shift, nextafter, frexp,
logcumsumexp, aminmax, mode, addr, vdot, cumulative_trapezoid.

Differentiable ones take their gradients from the ops they are made of, or (logcumsumexp) from a
backward written in differentiable ops, so every order is available. The integer-only ones and
those PyTorch gives no derivative compute through NumPy; where PyTorch has no derivative formula
the backward raises its error instead of returning a silent zero."""

import math

import numpy as np

import rustdl as _t

from . import _return_types
from ._out import write_out
from .autograd.function import Function

_DTYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                "bool": "Bool", "float32": "Float", "float64": "Double", "float16": "Half",
                "bfloat16": "BFloat16"}


def _type_name(dtype):
    return _DTYPE_NAMES.get(str(dtype).split(".")[-1], str(dtype))


def _require_tensor(x, op, arg="input"):
    if not isinstance(x, _t.Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position 1) must be Tensor, not {type(x).__name__}")


def _to_tensor(array):
    """A tensor owning a C-ordered copy of `array` (0-d stays 0-d, unlike np.ascontiguousarray)."""
    return _t.from_numpy(np.array(array, order="C", copy=True))


def _float_result(x):
    return x if x.is_floating_point() else x.to(_t.get_default_dtype())


def rad2deg(input):
    _require_tensor(input, "rad2deg")
    return _float_result(input) * (180.0 / math.pi)


def deg2rad(input):
    _require_tensor(input, "deg2rad")
    return _float_result(input) * (math.pi / 180.0)


def positive(input):
    _require_tensor(input, "positive")
    if input.dtype == _t.bool:
        raise NotImplementedError("The `+` operator, on a bool tensor is not supported.")
    return input


def fix(input, *, out=None):
    return _t.trunc(input, out=out) if out is not None else _t.trunc(input)


class _NoDerivative(Function):
    """Wraps a value computed without a graph so that, like PyTorch, it requires grad when an input
    does and its backward raises "the derivative for 'op' is not implemented"."""

    @staticmethod
    def forward(ctx, value, op, *inputs):
        ctx.op = op
        return value

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(f"the derivative for '{ctx.op}' is not implemented.")


def _without_derivative(value, op, *inputs):
    tracked = [x for x in inputs if isinstance(x, _t.Tensor) and x.requires_grad]
    if not tracked or not _t.is_grad_enabled():
        return value
    return _NoDerivative.apply(value, op, *tracked)


def _numpy_pair(input, other):
    """Both operands broadcast to one shape, as NumPy arrays of the promoted dtype."""
    dtype = _t.result_type(input, other)
    a = input if isinstance(input, _t.Tensor) else _t.tensor(input)
    b = other if isinstance(other, _t.Tensor) else _t.tensor(other)
    a, b = _t.broadcast_tensors(a.detach().to(dtype), b.detach().to(dtype))
    return a.contiguous().numpy(), b.contiguous().numpy(), dtype


def heaviside(input, values, *, out=None):
    _require_tensor(input, "heaviside")
    _require_tensor(values, "heaviside", "values")
    if input.dtype != values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    a, b, dtype = _numpy_pair(input, values)
    with np.errstate(invalid="ignore"):
        result = np.where(a == 0, b, (a > 0).astype(a.dtype))
    value = _to_tensor(result).to(dtype)
    return _write(_without_derivative(value, "heaviside", input, values), out)


def _integer_binary(input, other, op, numpy_fn):
    _require_tensor(input, op)
    a, b, dtype = _numpy_pair(input, other)
    if a.dtype.kind not in "iub":
        raise NotImplementedError(f'"{op}_cpu" not implemented for \'{_type_name(dtype)}\'')
    with np.errstate(over="ignore"):
        return _to_tensor(numpy_fn(a, b).astype(a.dtype))


def gcd(input, other, *, out=None):
    return _write(_integer_binary(input, other, "gcd", np.gcd), out)


def lcm(input, other, *, out=None):
    return _write(_integer_binary(input, other, "lcm", np.lcm), out)


def _shift(a, b, left):
    """PyTorch's shifts: a count outside [0, bit width) shifts every bit out (0, or -1 for a
    negative signed value shifted right) instead of C's undefined behaviour."""
    if a.dtype == np.bool_:
        a, b = a.astype(np.uint8), b.astype(np.uint8)
    bits = a.dtype.itemsize * 8
    out_of_range = (b < 0) | (b >= bits)
    safe = np.where(out_of_range, 0, b).astype(a.dtype)
    shifted = np.left_shift(a, safe) if left else np.right_shift(a, safe)
    if left:
        spilled = np.zeros_like(a)
    else:
        spilled = np.where(a < 0, -1, 0).astype(a.dtype) if a.dtype.kind == "i" else np.zeros_like(a)
    return np.where(out_of_range, spilled, shifted)


def bitwise_left_shift(input, other, *, out=None):
    return _write(_integer_binary(input, other, "lshift", lambda a, b: _shift(a, b, True)), out)


def bitwise_right_shift(input, other, *, out=None):
    return _write(_integer_binary(input, other, "rshift", lambda a, b: _shift(a, b, False)), out)


def nextafter(input, other, *, out=None):
    _require_tensor(input, "nextafter")
    a, b, dtype = _numpy_pair(input, other)
    if a.dtype.kind != "f":
        raise RuntimeError(f'"nextafter_cpu" not implemented for \'{_type_name(dtype)}\'')
    value = _to_tensor(np.nextafter(a, b))
    return _write(_without_derivative(value, "nextafter", input, other), out)


def frexp(input, *, out=None):
    _require_tensor(input, "frexp")
    if not input.is_floating_point():
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa, exponent = np.frexp(input.detach().contiguous().numpy())
    result = _return_types.frexp(_to_tensor(mantissa).to(input.dtype),
                                 _to_tensor(exponent.astype(np.int32)))
    if out is not None:
        write_out(tuple(out), tuple(result), "frexp")
        return _return_types.frexp(*out)
    return result


def _write(value, out):
    return write_out(out, value, "out")


class Logcumsumexp(Function):
    """log(sum_{j<=i} exp(x_j)) along dim as an exact running log-add-exp (no shared shift that
    would underflow early terms). Backward, in differentiable ops so every order exists:
    grad_x = exp(x + rev_lcse(log g+ - out)) - exp(x + rev_lcse(log g- - out)), the positive and
    negative parts of the incoming gradient kept apart so their logs are defined (the identity
    behind TensorFlow's and PyTorch's logcumsumexp gradient)."""

    @staticmethod
    def forward(ctx, x, dim):
        with np.errstate(invalid="ignore"):  # -inf - -inf inside logaddexp: the result is still -inf
            values = np.logaddexp.accumulate(x.detach().contiguous().numpy().astype(np.float64), axis=dim)
        out = _to_tensor(values).to(x.dtype)
        ctx.dim = dim
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        dim = ctx.dim
        if _t.is_grad_enabled():
            out = logcumsumexp(x, dim)  # differentiable again: second derivatives see d out / d x

        def reversed_lcse(v):
            return logcumsumexp(v.flip(dim), dim).flip(dim)

        # log(0) is taken as the lowest finite value, not -inf, so that no -inf - -inf = NaN
        # appears in the next order's backward and swallows the gradient through `out`
        lowest = _t.tensor(_t.finfo(grad.dtype).min, dtype=grad.dtype)
        log_abs = grad.abs().log()
        log_pos = _t.where(grad > 0, log_abs, lowest) - out
        log_neg = _t.where(grad < 0, log_abs, lowest) - out
        return (x + reversed_lcse(log_pos)).exp() - (x + reversed_lcse(log_neg)).exp(), None


def logcumsumexp(input, dim, *, out=None):
    _require_tensor(input, "logcumsumexp")
    if not input.is_floating_point():
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for \'{_type_name(input.dtype)}\'')
    ndim = max(input.dim(), 1)
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
    if input.dim() == 0:
        return _write(input.clone(), out)
    if input.numel() == 0:
        return _write(input.clone(), out)
    return _write(Logcumsumexp.apply(input, dim % input.dim()), out)


def aminmax(input, *, dim=None, keepdim=False, out=None):
    _require_tensor(input, "aminmax")
    if input.numel() == 0 and (dim is None or input.dim() == 0 or input.shape[dim] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    if dim is None:
        dims = tuple(range(input.dim()))
        low, high = (input.amin(dims, keepdim), input.amax(dims, keepdim)) if dims else (input, input)
    else:
        low, high = input.amin(dim, keepdim), input.amax(dim, keepdim)
    result = _return_types.aminmax(low, high)
    if out is not None:
        for target, value in zip(out, result):
            _write(value, target)
        return _return_types.aminmax(*out)
    return result


def _mode_indices(values, dim):
    """Index, along dim, of the mode of each slice: the most frequent value (the smallest among
    equally frequent ones), at its last occurrence, as PyTorch reports it."""
    moved = np.moveaxis(values, dim, -1)
    rows = moved.reshape(-1, moved.shape[-1]) if moved.shape[-1] else moved.reshape(-1, 0)
    picked = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        order = np.argsort(row, kind="stable")
        ordered = row[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        counts = np.diff(np.r_[starts, len(ordered)])
        best = starts[np.argmax(counts)]
        picked[r] = order[best + counts[np.argmax(counts)] - 1]
    return picked.reshape(moved.shape[:-1])


def mode(input, dim=-1, keepdim=False, *, out=None):
    _require_tensor(input, "mode")
    if input.dim() == 0:
        result = _return_types.mode(input.clone(), _t.zeros((), dtype=_t.int64))
    else:
        d = dim % input.dim() if -input.dim() <= dim < input.dim() else None
        if d is None:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-input.dim()}, "
                             f"{input.dim() - 1}], but got {dim})")
        if input.shape[d] == 0:
            raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
        indices = _t.tensor(_mode_indices(input.detach().numpy(), d), dtype=_t.int64).unsqueeze(d)
        values = input.gather(d, indices)
        if not keepdim:
            values, indices = values.squeeze(d), indices.squeeze(d)
        result = _return_types.mode(values, indices)
    if out is not None:
        for target, value in zip(out, result):
            _write(value, target)
        return _return_types.mode(*out)
    return result


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        _require_tensor(v, "addr", name)
        if v.dim() != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.dim()}-D")
    product = _t.outer(vec1, vec2)
    if input.dtype == _t.bool:
        value = (input & bool(beta)) | (product.bool() & bool(alpha))
    else:
        scaled = product if alpha == 1 else product * alpha
        # beta == 0 ignores input entirely (NaN and inf in it do not propagate), as in PyTorch
        value = scaled if beta == 0 else (input if beta == 1 else input * beta) + scaled
        value = value.to(_t.result_type(input, product))
    if tuple(value.shape) != tuple(product.shape):
        value = value.expand(product.shape)
    return _write(value, out)


def vdot(input, other, *, out=None):
    _require_tensor(input, "vdot")
    _require_tensor(other, "vdot", "other")
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors")
    if input.dtype != other.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {_type_name(input.dtype)} "
                           f"and {_type_name(other.dtype)}")
    return _write(_t.dot(input, other), out)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoid rule along dim: n - 1 partial integrals for n samples."""
    _require_tensor(y, "cumulative_trapezoid", "y")
    if x is not None and dx is not None:
        raise TypeError("cumulative_trapezoid() received an invalid combination of arguments - both x and dx")
    n = y.shape[dim]
    if n == 0:
        return y.narrow(dim, 0, 0)
    left, right = y.narrow(dim, 0, n - 1), y.narrow(dim, 1, n - 1)
    if x is None:
        areas = (left + right) * ((1.0 if dx is None else dx) / 2)
    else:
        spacing = _t.diff(x, dim=dim if x.dim() == y.dim() else -1)
        if x.dim() == 1 and y.dim() > 1:
            shape = [1] * y.dim()
            shape[dim % y.dim()] = n - 1
            spacing = spacing.reshape(shape)
        areas = (left + right) * spacing / 2
    return areas.cumsum(dim)


FUNCTIONS = ["addr", "aminmax", "bitwise_left_shift", "bitwise_right_shift", "cumulative_trapezoid", "deg2rad", "fix",
             "frexp", "gcd", "heaviside", "lcm", "logcumsumexp", "mode", "nextafter", "positive", "rad2deg", "vdot"]
def _in_place(fn):
    def method(self, *args, **kwargs):
        return self.copy_(fn(self, *args, **kwargs))

    method.__name__ = fn.__name__ + "_"
    return method


IN_PLACE_METHODS = {f.__name__ + "_": _in_place(f) for f in (bitwise_left_shift, bitwise_right_shift, deg2rad,
                                                              fix, gcd, heaviside, lcm, rad2deg)}
IN_PLACE_METHODS.update({"__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
                         "__ilshift__": IN_PLACE_METHODS["bitwise_left_shift_"],
                         "__irshift__": IN_PLACE_METHODS["bitwise_right_shift_"],
                         "__rlshift__": lambda self, other: bitwise_left_shift(_t.tensor(other, dtype=self.dtype), self),
                         "__rrshift__": lambda self, other: bitwise_right_shift(_t.tensor(other, dtype=self.dtype), self)})
METHODS = ["addr", "aminmax", "bitwise_left_shift", "bitwise_right_shift", "deg2rad", "fix", "frexp", "gcd",
           "heaviside", "lcm", "logcumsumexp", "mode", "nextafter", "positive", "rad2deg", "vdot"]
