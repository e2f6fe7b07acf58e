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
    return str(t.dtype).split(".")[-1]


def check_mixed_dtype(input, *params):
    """A norm's parameters have the input's dtype, or (mixed) float32 with a
    half input. PyTorch decides "mixed" by the first given parameter."""
    given = [p for p in params if p is not None]
    if not given or given[0].dtype == input.dtype:
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
