"""``torch.utils.checkpoint``: trade compute for memory. The checkpointed function runs
without recording a graph (its intermediate tensors are freed); in backward it runs again,
with the random-number state it had the first time, to rebuild the graph and differentiate
through it."""

import warnings

from .. import _C
from .._grad_mode import enable_grad, no_grad
from ..autograd.function import Function

__all__ = ["checkpoint", "checkpoint_sequential"]


def _rng_module():
    import rustdl

    return rustdl


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, run, preserve_rng_state, n_args, *args):
        ctx.run, ctx.n_args = run, n_args
        ctx.rng_state = _rng_module().get_rng_state() if preserve_rng_state else None
        ctx.inputs = args[:n_args]  # (any extra argument is the anchor, not the function's)
        with no_grad():
            out = run(*ctx.inputs)
        ctx.single = not isinstance(out, tuple)
        return out

    @staticmethod
    def backward(ctx, *grads):
        inputs = [a.detach().requires_grad_(a.requires_grad) if isinstance(a, _C.Tensor) else a for a in ctx.inputs]
        saved_state = None
        if ctx.rng_state is not None:  # the same dropout masks as the first run
            saved_state = _rng_module().get_rng_state()
            _rng_module().set_rng_state(ctx.rng_state)
        try:
            with enable_grad():
                out = ctx.run(*inputs)
        finally:
            if saved_state is not None:
                _rng_module().set_rng_state(saved_state)
        outs = (out,) if ctx.single else out
        pairs = [(o, g) for o, g in zip(outs, grads)
                 if isinstance(o, _C.Tensor) and o.requires_grad and g is not None]
        if pairs:
            from ..autograd import backward as autograd_backward

            # parameters inside `run` accumulate their .grad here, as in PyTorch's reentrant form;
            # the inputs' gradients are handed back through this node
            autograd_backward([o for o, _ in pairs], [g for _, g in pairs], inputs=None)
        grads_in = tuple(t.grad if isinstance(t, _C.Tensor) and t.requires_grad else None for t in inputs)
        return (None, None, None, *grads_in[:ctx.n_args], *(None,) * (len(inputs) - ctx.n_args))


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, context_fn=None,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its intermediate tensors for backward."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. In a future "
                      "release, calling checkpoint without use_reentrant will raise an exception. use_reentrant=False "
                      "is recommended, but if you need to preserve the current default behavior, you can pass "
                      "use_reentrant=True. Refer to docs for more details on the differences between the two "
                      "variants.", stacklevel=2)
        use_reentrant = True
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    run = (lambda *a: function(*a, **kwargs)) if kwargs else function
    if not _C.is_grad_enabled():
        return run(*args)
    anchor = ()
    if not any(isinstance(a, _C.Tensor) and a.requires_grad for a in args):
        # no input needs a gradient, but parameters inside may: a tensor that requires grad
        # makes the node record, so backward reaches them (PyTorch's non-reentrant behaviour)
        anchor = (_C.zeros((), requires_grad=True),)
    return _Checkpoint.apply(run, preserve_rng_state, len(args), *args, *anchor)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a Sequential or a list of modules) in ``segments`` checkpointed pieces
    (the last piece runs normally)."""
    if isinstance(functions, _C.Tensor):
        raise TypeError("checkpoint_sequential: functions must be a Sequential or a list of modules")
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = len(functions) // segments
    end = -1

    def run_segment(start, stop):
        def forward(x):
            for j in range(start, stop + 1):
                x = functions[j](x)
            return x

        return forward

    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run_segment(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run_segment(end + 1, len(functions) - 1)(input)
