"""PyTorch's ``out=`` argument for functions that compute a fresh result: checked and copied
into the caller's tensor(s)."""

import builtins

from ._C import Tensor, is_grad_enabled


def write_out(out, result, name):
    """PyTorch's ``out=`` argument: write ``result`` into ``out`` (a tensor, or a
    tuple of tensors for ops returning several) and return ``out``."""
    if out is None:
        return result
    outs, results = (out, result) if isinstance(result, tuple) else ((out,), (result,))
    if len(outs) != len(results) or not builtins.all(isinstance(o, Tensor) for o in outs):
        kind = f"a tuple of {len(results)} tensors" if isinstance(result, tuple) else "a Tensor"
        raise TypeError(f"{name}(): out= must be {kind}")
    for o, r in zip(outs, results):
        if is_grad_enabled() and (o.requires_grad or r.requires_grad):
            raise RuntimeError(
                f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                "but one of the arguments requires grad."
            )
        if tuple(o.shape) != tuple(r.shape):
            raise RuntimeError(
                f"{name}(): out= has shape {list(o.shape)} but the result has shape {list(r.shape)} "
                "(rustdl does not resize out= tensors)"
            )
        o.copy_(r)
    return out
