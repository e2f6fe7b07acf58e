"""``rustdl.autograd``: gradients of tensors (the engine is in Rust)."""

from .. import _C
from .._grad_mode import enable_grad, no_grad, set_grad_enabled  # noqa: F401
from . import functional, graph, profiler  # noqa: F401
from .anomaly_mode import detect_anomaly, set_detect_anomaly  # noqa: F401
from .function import Function, FunctionCtx  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401
from .variable import Variable  # noqa: F401


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs`` (not accumulated into ``.grad``).
    ``is_grads_batched``: the first dim of every grad_output indexes independent
    vector-Jacobian products, computed one after another and stacked."""
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                             materialize_grads)
    single = isinstance(inputs, _C.Tensor)
    result = _C._autograd_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                               bool(allow_unused) or materialize_grads)
    if materialize_grads:
        ins = [inputs] if single else list(inputs)
        result = tuple(g if g is not None else _C.zeros_like(i) for g, i in zip(result, ins))
    return result


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads):
    outs = [outputs] if isinstance(outputs, _C.Tensor) else list(outputs)
    gos = [grad_outputs] if isinstance(grad_outputs, _C.Tensor) else list(grad_outputs or [None] * len(outs))
    if any(g is None for g in gos):
        raise RuntimeError("If `is_grads_batched=True`, we interpret the first dimension of each grad_output "
                           "as the batch dimension. The sizes of the remaining dimensions are expected to match "
                           "the shape of corresponding output, but a mismatch was detected: grad_output is None")
    batch = gos[0].shape[0] if gos[0].dim() else None
    for i, (o, g) in enumerate(zip(outs, gos)):
        if g.dim() == 0 or tuple(g.shape[1:]) != tuple(o.shape) or g.shape[0] != batch:
            raise RuntimeError(
                "If `is_grads_batched=True`, we interpret the first dimension of each grad_output as the batch "
                "dimension. The sizes of the remaining dimensions are expected to match the shape of "
                f"corresponding output, but a mismatch was detected: grad_output[{i}] has a shape of "
                f"{tuple(g.shape)} and output[{i}] has a shape of {tuple(o.shape)}. If you only want some "
                "tensors in `grad_output` to be considered batched, consider using vmap.")
    ins = [inputs] if isinstance(inputs, _C.Tensor) else list(inputs)
    per_sample = [grad(outs, ins, [g[b] for g in gos], retain_graph=True, create_graph=create_graph,
                       allow_unused=allow_unused, materialize_grads=materialize_grads) for b in range(batch)]
    result = []
    for j, x in enumerate(ins):
        column = [r[j] for r in per_sample]
        if any(c is None for c in column):
            result.append(None)
        elif batch == 0:
            result.append(_C.zeros((0, *x.shape), dtype=x.dtype))
        else:
            result.append(_C.stack(column))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    if isinstance(tensors, _C.Tensor):
        tensors = [tensors]
        grad_tensors = [grad_tensors]
    grad_tensors = grad_tensors or [None] * len(tensors)
    for t, g in zip(tensors, grad_tensors):
        t.backward(g, retain_graph=True if len(tensors) > 1 else retain_graph, create_graph=create_graph,
                   inputs=inputs)
