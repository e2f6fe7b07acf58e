"""Helpers shared by the distributions: broadcasting parameters, probabilities <-> logits,
and a cached property for parameters derived on first use."""

import numbers

import rustdl

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits",
           "sum_rightmost"]


def broadcast_all(*values):
    """Broadcast tensors and Python numbers to one shape; numbers become tensors of the first
    tensor's dtype (the default dtype when there is none)."""
    tensors = [v for v in values if isinstance(v, rustdl.Tensor)]
    for v in values:
        if not isinstance(v, (rustdl.Tensor, numbers.Number)):
            raise ValueError("Input arguments must all be instances of numbers.Number, "  # noqa: TRY004
                             "torch.Tensor or objects implementing __torch_function__.")
    if len(tensors) < len(values):
        dtype = tensors[0].dtype if tensors else rustdl.get_default_dtype()
        values = [v if isinstance(v, rustdl.Tensor) else rustdl.tensor(v, dtype=dtype) for v in values]
    return rustdl.broadcast_tensors(*values)


def sum_rightmost(value, dim):
    """Sum over the `dim` rightmost dimensions."""
    if dim == 0:
        return value
    return value.reshape(value.shape[: value.dim() - dim] + (-1,)).sum(-1)


def clamp_probs(probs):
    """Keep probabilities strictly inside (0, 1) by the dtype's machine epsilon."""
    eps = rustdl.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    if is_binary:
        return rustdl.sigmoid(logits)
    return rustdl.softmax(logits, dim=-1)


def probs_to_logits(probs, is_binary=False):
    ps = clamp_probs(probs)
    if is_binary:
        return rustdl.log(ps) - rustdl.log1p(-ps)
    return rustdl.log(ps)


class lazy_property:
    """A property computed on first access and then stored on the instance (so that e.g.
    `Bernoulli(logits=...)` derives `probs` only if asked, and only once)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with rustdl.enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value
