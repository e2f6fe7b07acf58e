"""``autograd.Function``: custom ops with a hand-written backward, as in PyTorch.

``forward`` runs without recording; ``apply`` then records one graph node whose
backward calls the class's ``backward`` (with the GIL, from the Rust engine).
"""

from .. import _C
from .._grad_mode import no_grad


class FunctionCtx:
    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()
        self.materialize_grads = True
        self.non_differentiable = set()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class Function:
    """Subclass with static ``forward(ctx, ...)`` and ``backward(ctx, *grads)``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, _C.Tensor) and a.requires_grad for a in args)
        with no_grad():
            result = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        # fresh handles so the node owns their autograd metadata
        outs = tuple(o.detach() if isinstance(o, _C.Tensor) else o for o in outs)
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, _C.Tensor)]
        inputs = [args[i] for i in tensor_pos]
        out_tensors = [o for o in outs if isinstance(o, _C.Tensor) and o.is_floating_point()
                       and id(o) not in ctx.non_differentiable]
        if _C.is_grad_enabled() and any(t.requires_grad for t in inputs) and out_tensors:

            def backward(grads):
                if ctx.materialize_grads:
                    grads = tuple(g if g is not None else _C.zeros_like(o) for g, o in zip(grads, out_tensors))
                res = cls.backward(ctx, *grads)
                if not isinstance(res, tuple):
                    res = (res,)
                if len(res) < len(args):
                    res = res + (None,) * (len(args) - len(res))
                return [res[i] for i in tensor_pos]

            # (a class may give PyTorch's node name, e.g. "...Backward0")
            name = getattr(cls, "_node_name", cls.__name__ + "Backward")
            _C._record_function(name, inputs, out_tensors, backward)
        return outs[0] if single else outs


class InplaceFunction(Function):
    pass
