"""Module backward hooks (``register_full_backward_hook`` / ``register_full_backward_pre_hook``).

As in PyTorch, the module's call is bracketed by two identity autograd nodes: one on the
tensors going in, one on the tensors coming out. In backward the output node sees the
gradients of the outputs first (the pre-hooks run there and may replace them); the input
node then sees the gradients of the inputs (the hooks run there with both and may replace
``grad_input``). When no input needs a gradient, the hooks run at the output node with
``grad_input`` all None.
"""

from ... import _C
from ...autograd.function import Function


class _Identity(Function):
    """Passes tensors through; its backward hands the gradients to ``ctx.on_backward``."""

    @staticmethod
    def forward(ctx, on_backward, *tensors):
        ctx.on_backward = on_backward
        ctx.set_materialize_grads(False)
        return tuple(t.view_as(t) for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.on_backward(grads))


def _tensor_positions(values):
    return [i for i, v in enumerate(values) if isinstance(v, _C.Tensor)]


class BackwardHooks:
    """One module call's backward hooks: wraps its inputs and outputs."""

    def __init__(self, module):
        self.module = module
        self.n_args = 0
        self.input_positions = []
        self.constant_inputs = {}  # tensor inputs that need no gradient: position -> a zero gradient's shape
        self.inputs_wrapped = False
        self.grad_outputs = None
        self.constant_outputs = {}

    @classmethod
    def for_call(cls, module):
        if not (module._backward_hooks or module._backward_pre_hooks) or not _C.is_grad_enabled():
            return None
        return cls(module)

    # ---- forward ----
    def wrap_inputs(self, args):
        self.n_args = len(args)
        self.input_positions = [i for i in _tensor_positions(args) if args[i].requires_grad]
        if not self.input_positions:
            return args
        # PyTorch marks them non-differentiable, so the hooks get zeros for them
        self.constant_inputs = {i: args[i] for i in _tensor_positions(args) if not args[i].requires_grad}
        self.inputs_wrapped = True
        wrapped = _Identity.apply(self._on_input_grads, *(args[i] for i in self.input_positions))
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        args = list(args)
        for i, t in zip(self.input_positions, wrapped):
            args[i] = t
        return tuple(args)

    def wrap_outputs(self, result):
        single = isinstance(result, _C.Tensor)
        outs = (result,) if single else result
        if not isinstance(outs, tuple):
            return result  # (PyTorch too hooks only a tensor or a tuple of tensors)
        positions = [i for i in _tensor_positions(outs) if outs[i].requires_grad]
        if not positions:
            return result
        self.output_positions, self.n_outputs = positions, len(outs)
        self.constant_outputs = {i: outs[i] for i in _tensor_positions(outs) if not outs[i].requires_grad}
        wrapped = _Identity.apply(self._on_output_grads, *(outs[i] for i in positions))
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        outs = list(outs)
        for i, t in zip(positions, wrapped):
            outs[i] = t
        return outs[0] if single else tuple(outs)

    # ---- backward ----
    def _pack(self, positions, grads, size):
        packed = [None] * size
        for i, g in zip(positions, grads):
            packed[i] = g
        return tuple(packed)

    def _unpack(self, positions, packed):
        return tuple(packed[i] for i in positions)

    def _on_output_grads(self, grads):
        module = self.module
        packed = list(self._pack(self.output_positions, grads, self.n_outputs))
        for i, t in self.constant_outputs.items():
            packed[i] = _C.zeros_like(t)
        grad_outputs = tuple(packed)
        for hook in list(module._backward_pre_hooks.values()):
            r = hook(module, grad_outputs)
            if r is not None:
                r = r if isinstance(r, tuple) else (r,)
                if len(r) != len(grad_outputs):
                    raise RuntimeError(f"Backward pre hook returned an invalid number of grad_output, got "
                                       f"{len(r)}, but expected {len(grad_outputs)}")
                grad_outputs = r
        self.grad_outputs = grad_outputs
        if not self.inputs_wrapped:  # no input needs a gradient: the hooks run now
            self._run_hooks((None,) * self.n_args)
        return self._unpack(self.output_positions, grad_outputs)

    def _on_input_grads(self, grads):
        packed = list(self._pack(self.input_positions, grads, self.n_args))
        for i, t in self.constant_inputs.items():
            packed[i] = _C.zeros_like(t)
        grad_inputs = self._run_hooks(tuple(packed))
        return self._unpack(self.input_positions, grad_inputs)

    def _run_hooks(self, grad_inputs):
        module = self.module
        grad_outputs = self.grad_outputs if self.grad_outputs is not None else ()
        for hook in list(module._backward_hooks.values()):
            r = hook(module, grad_inputs, grad_outputs)
            if r is not None:
                r = r if isinstance(r, tuple) else (r,)
                if len(r) != len(grad_inputs):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {len(r)}, but "
                                       f"expected {len(grad_inputs)}")
                grad_inputs = r
        return grad_inputs
