"""``torch.autograd.Variable``, the pre-0.4 wrapper older scripts still use. Every tensor is a
Variable (``isinstance`` holds), and ``Variable(t, requires_grad=...)`` returns ``t`` detached
(sharing its memory) with that flag, as PyTorch's does."""

import warnings

from .. import _C


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _C.Tensor)


class Variable(metaclass=_VariableMeta):
    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                          UserWarning, stacklevel=2)
        if data is None:
            data = _C.zeros(0)
        if not isinstance(data, _C.Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)
