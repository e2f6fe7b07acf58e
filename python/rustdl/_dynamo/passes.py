"""Rewrites of a captured graph that compute the same values with less work.

``max_pool(relu(x))`` -> ``relu(max_pool(x))``: relu is monotone, so the maximum of the
rectified window is the rectified maximum, and the rectifier then runs on a quarter of the
values (a 2x2 pool), forward and backward. The gradients are the same bits: where the
window's maximum is positive both orders route the gradient to the same first maximal
position; otherwise both give zero (relu's gradient at a value <= 0 is 0, NaN included).
Only applied when nothing else reads the rectified tensor and the pool does not return
indices (they would point into the rectified tensor).
"""

import inspect

from ..jit._graph import Node, Value

__all__ = ["optimize"]

_MAX_POOLS = ("max_pool1d", "max_pool2d", "max_pool3d")


def optimize(graph):
    """Rewrite ``graph`` in place; returns the names of the rewrites applied."""
    applied = []
    if _pool_before_relu(graph):
        applied.append("pool_before_relu")
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
