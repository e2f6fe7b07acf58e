"""Argument checks PyTorch's generated bindings make before any work."""

from ._C import Tensor


def require_tensors(fname, *named):
    """Raise PyTorch's TypeError when an argument that must be a Tensor is
    not (a list or a number would otherwise fail later with AttributeError,
    or be taken as data). ``named`` holds ``(argument name, value)`` pairs."""
    for position, (arg, value) in enumerate(named, 1):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{fname}(): argument '{arg}' (position {position}) must be Tensor, not {type(value).__name__}"
            )
