"""``rustdl.autograd``: gradients of tensors (the engine is in Rust)."""

from .. import _C
from .._grad_mode import enable_grad, no_grad, set_grad_enabled  # noqa: F401
from . import functional, graph, profiler  # noqa: F401
from .function import Function, FunctionCtx  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs`` (not accumulated into ``.grad``)."""
    single = isinstance(inputs, _C.Tensor)
    result = _C._autograd_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                               bool(allow_unused) or materialize_grads)
    if materialize_grads:
        ins = [inputs] if single else list(inputs)
        result = tuple(g if g is not None else _C.zeros_like(i) for g, i in zip(result, ins))
    return result


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    if isinstance(tensors, _C.Tensor):
        tensors = [tensors]
        grad_tensors = [grad_tensors]
    grad_tensors = grad_tensors or [None] * len(tensors)
    for t, g in zip(tensors, grad_tensors):
        t.backward(g, retain_graph=True if len(tensors) > 1 else retain_graph, create_graph=create_graph)
