"""Argument checks the norm and loss functions share, as PyTorch makes them
before any work: optional Tensor arguments (its generated bindings' TypeError)
and the CPU norms' mixed-dtype rule (aten/native/mixed_type.h)."""

from .._C import Tensor


def require_optional_tensors(fname, *positioned):
    """PyTorch's TypeError for an argument that must be a Tensor (or None).
    ``positioned`` holds ``(position, argument name, value)`` triples in the
    order of the binding's signature, so the first offender is named."""
    for position, arg, value in positioned:
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(
                f"{fname}(): argument '{arg}' (position {position}) must be Tensor, not {type(value).__name__}"
            )


_REDUCED = ("float16", "bfloat16")


def _dtype_name(t):
    return str(getattr(t, "dtype", t)).split(".")[-1]


_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                 "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def scalar_name(t):
    """The dtype as PyTorch's C++ messages name it ("Float", "Long", ...)."""
    return _SCALAR_NAMES.get(_dtype_name(t), _dtype_name(t))


def check_float_input(input, kernel):
    """PyTorch's dispatch error for an integer or bool input."""
    if not input.is_floating_point():
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{scalar_name(input)}'")


def check_mixed_dtype(input, *params):
    """A norm's parameters have the input's dtype, or (mixed) float32 with a
    half input. PyTorch decides "mixed" by the first given parameter; when
    that one matches, every other must match too."""
    given = [p for p in params if p is not None]
    if not given:
        return
    if given[0].dtype == input.dtype:
        for p in given[1:]:
            if p.dtype != input.dtype:
                raise RuntimeError(f"expected scalar type {scalar_name(input)} but found {scalar_name(p)}")
        return
    if any(_dtype_name(p) != "float32" for p in given):
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    if _dtype_name(input) not in _REDUCED:
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def check_running_stat(stat, name, channels):
    """Running statistics are vectors of one value per channel."""
    if stat is None:
        return
    if stat.numel() != channels:
        raise RuntimeError(f"{name} should contain {channels} elements not {stat.numel()}")
    if stat.dim() != 1:
        raise RuntimeError(f"TensorAccessor expected 1 dims but tensor has {stat.dim()}")
