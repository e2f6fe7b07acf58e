"""``nn.Parameter``: a tensor that a Module registers as a learnable parameter."""

from .. import _C


class Parameter(_C.Tensor):
    """A Tensor that is a module parameter. Shares memory with ``data``."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _C.zeros(0)
        t = _C.Tensor.__new__(cls, data)
        t.requires_grad_(requires_grad)
        return t

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto):
        return (Parameter, (self.detach(), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result


class Buffer(_C.Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module."""

    def __new__(cls, data=None, *, persistent=True):
        t = _C.Tensor.__new__(cls, data if data is not None else _C.zeros(0))
        t.persistent = persistent
        return t
