"""Rewrites of a captured graph that compute the same values with less work.

``max_pool(relu(x))`` -> ``relu(max_pool(x))``: relu is monotone, so the maximum of the
rectified window is the rectified maximum, and the rectifier then runs on a quarter of the
values (a 2x2 pool), forward and backward. The gradients are the same bits: where the
window's maximum is positive both orders route the gradient to the same first maximal
position; otherwise both give zero (relu's gradient at a value <= 0 is 0, NaN included).
Only applied when nothing else reads the rectified tensor and the pool does not return
indices (they would point into the rectified tensor).

``relu(max_pool2d(conv2d(x, w, b), 2))`` -> ``_C._conv2d_relu_max_pool2d``: the CNN block as
one op with one autograd node (``rust/ops/conv_relu_pool.rs``). Few-channel layers (LeNet's)
run direct kernels with the output channels in the vector lanes, forward and weight/bias
gradients, and an input gradient that skips the padded gradient's zeros: eager's values
within float32 rounding; wider layers keep the convolution's own kernels. The pooling, the
rectifier and their gradients become one pass each (one-byte window positions, no zeroing
or scatter). Applied to
float32 2-d convolutions with numeric padding whose result only the 2x2 pool reads, and whose
pooled result only the relu reads; the op itself runs the three ops unfused where its fused
path does not apply (another device, for one).
"""

import inspect

from .. import _C
from ..jit._graph import Node, Value

__all__ = ["optimize"]

_MAX_POOLS = ("max_pool1d", "max_pool2d", "max_pool3d")


def optimize(graph):
    """Rewrite ``graph`` in place; returns the names of the rewrites applied."""
    applied = []
    if _pool_before_relu(graph):
        applied.append("pool_before_relu")
    if _conv_relu_pool(graph):
        applied.append("conv_relu_pool")
    return applied


def _uses(graph):
    counts = {}
    for node in graph.nodes:
        for v in node.inputs:
            counts[v.id] = counts.get(v.id, 0) + 1
    for v in graph.outputs:
        counts[v.id] = counts.get(v.id, 0) + 1
    return counts


def _bound(node):
    try:
        return inspect.signature(node.target).bind(*node.args, **node.kwargs).arguments
    except (TypeError, ValueError):
        return None


def _relu_source(node):
    """The tensor a relu node rectifies, or None if the node is not a plain relu."""
    if node.op not in ("relu", "relu_") or len(node.outputs) != 1 or not node.args:
        return None
    x = node.args[0]
    if not isinstance(x, Value) or x.dtype is None or "float" not in str(x.dtype):
        return None
    inplace = node.op == "relu_" or node.kwargs.get("inplace") is True or (
        len(node.args) > 1 and node.args[1] is True)
    return x, inplace


def _pool_before_relu(graph):
    from ..nn import functional as F

    changed = False
    uses = _uses(graph)
    next_id = 1 + max([v.id for n in graph.nodes for v in n.outputs + n.inputs]
                      + [v.id for v in graph.inputs + graph.constants + list(graph.params.values())], default=0)
    out = []
    nodes = graph.nodes
    skip = set()
    for i, node in enumerate(nodes):
        if i in skip:
            continue
        found = _relu_source(node)
        nxt = nodes[i + 1] if i + 1 < len(nodes) else None
        if (found is None or nxt is None or nxt.op not in _MAX_POOLS or len(nxt.outputs) != 1
                or not nxt.args or nxt.args[0] is not node.outputs[0]
                or uses.get(node.outputs[0].id) != 1):
            out.append(node)
            continue
        x, inplace = found
        args = _bound(nxt)
        if args is None or args.get("return_indices", False) or nxt.target is None:
            out.append(node)
            continue
        if inplace and (x.kind != "node" or uses.get(x.id) != 1):
            out.append(node)  # the in-place relu also changed x for someone else
            continue
        pooled = nxt.outputs[0]
        raw = Value(next_id, "node", pooled.shape, pooled.dtype)
        next_id += 1
        pool = Node(nxt.op, nxt.target, (x,) + tuple(nxt.args[1:]), dict(nxt.kwargs), [raw], raw,
                    nxt.scope, nxt.module, nxt.params)
        raw.producer = pool
        relu = Node("relu", F.relu, (raw,), {}, [pooled], pooled, node.scope)
        pooled.producer = relu
        out.extend([pool, relu])
        skip.add(i + 1)
        changed = True
    graph.nodes = out
    return changed


def _is_float32(v):
    return isinstance(v, Value) and v.dtype is not None and str(v.dtype).endswith("float32")


def _pair(v, default=None):
    """A 2-d pooling/conv parameter as a pair of ints (None if it is not one)."""
    if v is None:
        return default
    if type(v) is int:
        return (v, v)
    if isinstance(v, (tuple, list)) and all(type(e) is int for e in v):
        if len(v) == 1:
            return (v[0], v[0])
        if len(v) == 2:
            return tuple(v)
    return None


def _conv_args(node):
    """``(x, w, b, stride, padding, dilation, groups)`` of a plain float32 2-d conv node, or None."""
    if node.op != "conv2d" or len(node.outputs) != 1 or node.target is None:
        return None
    args = _bound(node)
    if args is None:
        return None
    x, w, b = args.get("input"), args.get("weight"), args.get("bias")
    out = node.outputs[0]
    if not (_is_float32(x) and _is_float32(w) and _is_float32(out) and (b is None or _is_float32(b))):
        return None
    if len(x.shape or ()) != 4 or len(w.shape or ()) != 4 or len(out.shape or ()) != 4:
        return None
    conv = [_pair(args.get("stride", 1)), _pair(args.get("padding", 0)), _pair(args.get("dilation", 1))]
    groups = args.get("groups", 1)
    if any(c is None for c in conv) or type(groups) is not int:
        return None
    return (x, w, b, *conv, groups)


def _is_pool_2x2(node, source):
    if node.op != "max_pool2d" or len(node.outputs) != 1 or not node.args or node.args[0] is not source:
        return False
    args = _bound(node)
    if args is None or args.get("return_indices", False) or args.get("ceil_mode", False):
        return False
    kernel = _pair(args.get("kernel_size"))
    stride = _pair(args.get("stride"), kernel) if args.get("stride") not in ((), []) else kernel
    return (kernel == (2, 2) and stride == (2, 2) and _pair(args.get("padding", 0)) == (0, 0)
            and _pair(args.get("dilation", 1)) == (1, 1))


def _is_plain_relu(node, source):
    found = _relu_source(node)
    return found is not None and found[0] is source and not found[1] and len(node.args) == 1


def _conv_relu_pool(graph):
    """conv2d -> max_pool2d(2) -> relu, each result read only by the next: one fused node."""
    uses = _uses(graph)
    nodes, out, i, changed = graph.nodes, [], 0, False
    while i < len(nodes):
        conv = nodes[i]
        found = _conv_args(conv) if i + 2 < len(nodes) else None
        if found is not None:
            pool, relu = nodes[i + 1], nodes[i + 2]
            y = conv.outputs[0]
            if (uses.get(y.id) == 1 and _is_pool_2x2(pool, y) and uses.get(pool.outputs[0].id) == 1
                    and _is_plain_relu(relu, pool.outputs[0])):
                result = relu.outputs[0]
                fused = Node("conv2d_relu_max_pool2d", _C._conv2d_relu_max_pool2d, found, {}, [result], result,
                             conv.scope, conv.module, conv.params)
                result.producer = fused
                out.append(fused)
                i += 3
                changed = True
                continue
        out.append(conv)
        i += 1
    graph.nodes = out
    return changed
