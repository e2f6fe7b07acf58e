"""The graph IR a trace produces (read by ``rustdl.onnx``, ``SummaryWriter.add_graph``,
and made so a later ``rustdl.compile`` can replay it).

A ``Graph`` is SSA: every tensor that existed during the trace is one ``Value``, made by
exactly one of: a graph input, a parameter/buffer (named by its ``state_dict`` key), a
constant (a tensor made inside ``forward`` from Python data), or a ``Node``. A node keeps
the callable that ran (``target``) and its arguments with tensors replaced by ``Value``s,
so replaying the graph is calling the targets in order (``Graph.replay``).
"""

__all__ = ["Graph", "Node", "Value"]


class Value:
    """One tensor of the trace: ``kind`` is "input", "param", "const" or "node"."""

    __slots__ = ("data", "dtype", "id", "kind", "name", "producer", "shape")

    def __init__(self, id, kind, shape, dtype, name=None, data=None, producer=None):
        self.id, self.kind, self.name = id, kind, name
        self.shape, self.dtype, self.data, self.producer = tuple(shape), dtype, data, producer

    def __repr__(self):
        return f"%{self.name or self.id}"

    def type_str(self):
        dt = str(self.dtype).replace("rustdl.", "")
        return f"{dt}[{', '.join(str(s) for s in self.shape)}]"


class Node:
    """One recorded call: ``op`` (e.g. "linear", "view", "add", "LSTM"), the callable that ran,
    its arguments with tensors as ``Value``s, and the output ``Value``s (``out_tree`` keeps the
    structure of what the call returned: a tensor, a tuple of tensors, ...)."""

    __slots__ = ("args", "kwargs", "module", "op", "out_tree", "outputs", "params", "scope", "target")

    def __init__(self, op, target, args, kwargs, outputs, out_tree, scope="", module=None, params=None):
        self.op, self.target, self.args, self.kwargs = op, target, args, kwargs
        self.outputs, self.out_tree, self.scope, self.module = outputs, out_tree, scope, module
        self.params = params or {}  # composite nodes: {local name: Value} of the module's parameters

    @property
    def inputs(self):
        """The ``Value``s this node reads, in argument order (parameters of a composite last)."""
        found = []
        _collect(self.args, found)
        _collect(self.kwargs, found)
        found.extend(self.params.values())
        seen, out = set(), []
        for v in found:
            if v.id not in seen:
                seen.add(v.id)
                out.append(v)
        return out

    def __repr__(self):
        outs = ", ".join(f"{v!r} : {v.type_str()}" for v in self.outputs)
        args = ", ".join([_fmt(a) for a in self.args] + [f"{k}={_fmt(v)}" for k, v in self.kwargs.items()])
        scope = f"  # {self.scope}" if self.scope else ""
        return f"{outs} = {self.op}({args}){scope}"


class Graph:
    """``inputs`` (Values), ``params`` ({state_dict name: Value}), ``constants``, ``nodes``,
    ``outputs`` (Values) and ``out_tree`` (the structure the traced function returned)."""

    def __init__(self):
        self.inputs, self.params, self.constants, self.nodes = [], {}, [], []
        self.outputs, self.out_tree = [], None

    def __str__(self):
        lines = ["graph(" + ",\n      ".join(
            [f"{v!r} : {v.type_str()}" for v in self.inputs]
            + [f"%{n} : {v.type_str()}" for n, v in self.params.items()]) + "):"]
        for c in self.constants:
            lines.append(f"  {c!r} : {c.type_str()} = constant()")
        lines.extend(f"  {n!r}" for n in self.nodes)
        lines.append("  return (" + ", ".join(repr(v) for v in self.outputs) + ")")
        return "\n".join(lines)

    __repr__ = __str__

    def replay(self, inputs, params):
        """Run the recorded calls on new ``inputs`` (a list of tensors, one per graph input)
        with ``params`` ({state_dict name: tensor}); returns the traced function's result."""
        env = {}
        for v, t in zip(self.inputs, inputs):
            env[v.id] = t
        for name, v in self.params.items():
            env[v.id] = params[name]
        for c in self.constants:
            env[c.id] = c.data
        for node in self.nodes:
            args = _substitute(node.args, env)
            kwargs = _substitute(node.kwargs, env)
            out = node.target(*args, **kwargs)
            for v, t in zip(node.outputs, _flatten_tensors(out)):
                env[v.id] = t
        return _rebuild(self.out_tree, env)


def _collect(obj, found):
    if isinstance(obj, Value):
        found.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _collect(o, found)
    elif isinstance(obj, dict):
        for o in obj.values():
            _collect(o, found)


def _fmt(a):
    if isinstance(a, Value):
        return repr(a)
    if isinstance(a, (list, tuple)):
        inner = ", ".join(_fmt(x) for x in a)
        return f"[{inner}]" if isinstance(a, list) else f"({inner}{',' if len(a) == 1 else ''})"
    if isinstance(a, slice):
        return f"{'' if a.start is None else a.start}:{'' if a.stop is None else a.stop}" + (
            "" if a.step is None else f":{a.step}")
    if callable(a):
        return getattr(a, "__name__", type(a).__name__)
    return repr(a)


def _substitute(obj, env):
    if isinstance(obj, Value):
        return env[obj.id]
    if isinstance(obj, list):
        return [_substitute(o, env) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_substitute(o, env) for o in obj)
    if isinstance(obj, dict):
        return {k: _substitute(o, env) for k, o in obj.items()}
    return obj


def _flatten_tensors(out):
    from .. import _C

    if isinstance(out, _C.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        res = []
        for o in out:
            res.extend(_flatten_tensors(o))
        return res
    return []


def _rebuild(tree, env):
    if isinstance(tree, Value):
        return env[tree.id]
    if isinstance(tree, list):
        return [_rebuild(t, env) for t in tree]
    if isinstance(tree, tuple):
        return tuple(_rebuild(t, env) for t in tree)
    if isinstance(tree, dict):
        return {k: _rebuild(t, env) for k, t in tree.items()}
    return tree
