"""Turn a captured ``Graph`` into one Python function (as ``torch.fx`` generates code).

The function takes the flat input tensors and the parameter dict and calls the recorded
targets in order, with intermediate tensors as local variables: no per-node dictionary
lookups or argument rebuilding as in ``Graph.replay``. Values that are not Python literals
(callables, dtypes, constant tensors) are globals of the generated code.
"""

import math

from ..jit._graph import Value

__all__ = ["generate"]


class _Emitter:
    def __init__(self):
        self.globals = {}
        self.names = {}  # Value.id -> local name

    def const(self, obj):
        name = f"_c{len(self.globals)}"
        self.globals[name] = obj
        return name

    def expr(self, obj):
        if isinstance(obj, Value):
            return self.names[obj.id]
        if obj is None or isinstance(obj, (bool, str)):
            return repr(obj)
        if isinstance(obj, int) and type(obj) is int:
            return repr(obj)
        if type(obj) is float and math.isfinite(obj):
            return repr(obj)
        if type(obj) is list:
            return "[" + ", ".join(self.expr(o) for o in obj) + "]"
        if type(obj) is tuple:
            return "(" + "".join(self.expr(o) + ", " for o in obj) + ")"
        if type(obj) is dict and all(isinstance(k, str) for k in obj):
            return "{" + ", ".join(f"{k!r}: {self.expr(o)}" for k, o in obj.items()) + "}"
        if _holds_value(obj):
            raise TypeError(f"rustdl.compile: cannot emit a {type(obj).__name__} holding graph values")
        return self.const(obj)


def _holds_value(obj):
    if isinstance(obj, Value):
        return True
    if isinstance(obj, (list, tuple, set, frozenset)):
        return any(_holds_value(o) for o in obj)
    if isinstance(obj, dict):
        return any(_holds_value(o) for o in obj.values()) or any(_holds_value(k) for k in obj)
    if isinstance(obj, slice):
        return any(_holds_value(o) for o in (obj.start, obj.stop, obj.step))
    return False


def _paths(tree, path, out):
    """(Value, index path) for every Value in a node's returned structure."""
    if isinstance(tree, Value):
        out.append((tree, path))
    elif isinstance(tree, (list, tuple)):
        for i, t in enumerate(tree):
            _paths(t, path + (i,), out)


def generate(graph, name="compiled_forward"):
    """Python source and the function for ``graph``: ``fn(inputs, params)`` returns what the
    captured call returned."""
    em = _Emitter()
    lines = [f"def {name}(inputs, params):"]
    for i, v in enumerate(graph.inputs):
        if v.id not in em.names:
            em.names[v.id] = f"i{i}"
            lines.append(f"    i{i} = inputs[{i}]")
    for pname, v in graph.params.items():
        em.names[v.id] = f"p{v.id}"
        lines.append(f"    p{v.id} = params[{pname!r}]")
    for c in graph.constants:
        em.names[c.id] = em.const(c.data)
    for k, node in enumerate(graph.nodes):
        target = em.const(node.target)
        args = [em.expr(a) for a in node.args]
        args += [f"{key}={em.expr(a)}" for key, a in node.kwargs.items()]
        call = f"{target}({', '.join(args)})"
        if isinstance(node.out_tree, Value):
            em.names[node.out_tree.id] = f"v{node.out_tree.id}"
            lines.append(f"    v{node.out_tree.id} = {call}")
            continue
        found = []
        _paths(node.out_tree, (), found)
        if not found:
            lines.append(f"    {call}")
            continue
        lines.append(f"    r{k} = {call}")
        for v, path in found:
            em.names[v.id] = f"v{v.id}"
            lines.append(f"    v{v.id} = r{k}" + "".join(f"[{i}]" for i in path))
    lines.append(f"    return {em.expr(graph.out_tree)}")
    source = "\n".join(lines) + "\n"
    scope = dict(em.globals)
    exec(compile(source, f"<rustdl.compile {name}>", "exec"), scope)  # noqa: S102 (code generated from the graph)
    return source, scope[name]

