"""``torch.jit`` (tracing only): ``rustdl.jit.trace`` records a function or module into a
graph (``rustdl.jit._graph.Graph``) that ONNX export and ``SummaryWriter.add_graph`` read.

``torch.jit.script`` runs the code eagerly: rustdl has no TorchScript compiler, and what
TorchScript compiles means the same as the Python it came from, so a scripted module trains and
predicts exactly as the original. What only a compiled script has (``.save`` to a TorchScript
archive, ``.code``) raises and names the alternative (``torch.save(state_dict)``,
``rustdl.onnx.export``, ``rustdl.jit.trace``).
"""

import copy
import functools

from ._graph import Graph, Node, Value
from ._tracer import TracerWarning, TracingError, is_tracing, trace_graph

__all__ = [
    "Graph",
    "Node",
    "RecursiveScriptModule",
    "ScriptFunction",
    "ScriptModule",
    "TracedModule",
    "TracerWarning",
    "TracingError",
    "Value",
    "annotate",
    "export",
    "ignore",
    "is_scripting",
    "is_tracing",
    "script",
    "trace",
    "unused",
]


def is_scripting():
    """False: rustdl never compiles TorchScript."""
    return False


class ScriptModule:
    """Mixed into the class of a module returned by ``script``: the module runs eagerly; the
    parts of a compiled TorchScript module that need the compiler raise."""

    def save(self, f, _extra_files=None):
        raise NotImplementedError(
            "ScriptModule.save: rustdl does not write TorchScript archives (it has no TorchScript compiler); "
            "save the weights with torch.save(model.state_dict(), f), or export the graph with "
            "rustdl.onnx.export")

    @property
    def code(self):
        raise NotImplementedError("ScriptModule.code: rustdl has no TorchScript compiler; rustdl.jit.trace(model, "
                                  "example_inputs).code shows the recorded graph")

    @property
    def graph(self):
        raise NotImplementedError("ScriptModule.graph: rustdl has no TorchScript compiler; use rustdl.jit.trace")


RecursiveScriptModule = ScriptModule


class ScriptFunction:
    """``script`` of a plain function: calls it eagerly."""

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self._fn = fn

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    def save(self, f, _extra_files=None):
        raise NotImplementedError("ScriptFunction.save: rustdl does not write TorchScript archives")


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Eager stand-in for TorchScript: a module comes back as a shallow copy sharing its
    parameters and submodules (as PyTorch's scripted module shares them), whose class also
    derives from ``ScriptModule``; a function comes back wrapped, called as it is."""
    from ..nn import Module

    if isinstance(obj, (ScriptModule, ScriptFunction)):
        return obj
    if isinstance(obj, Module):
        scripted = copy.copy(obj)
        scripted.__class__ = type(type(obj).__name__, (ScriptModule, type(obj)),
                                  {"__module__": type(obj).__module__, "__qualname__": type(obj).__qualname__})
        return scripted
    if isinstance(obj, type):
        return obj  # @torch.jit.script on a class: TorchScript-compatible classes run as Python
    if callable(obj):
        return ScriptFunction(obj)
    raise RuntimeError(f"torch.jit.script: cannot script an object of type {type(obj).__name__}")


def _passthrough_decorator(fn=None, **kwargs):
    # TorchScript markers on model code (``@torch.jit.ignore``, ``@torch.jit.unused``, ...)
    # change nothing without a compiler: the function is returned as it is.
    if fn is None:
        return lambda f: f
    return fn


ignore = unused = export = _passthrough_decorator


def annotate(the_type, the_value):
    """``torch.jit.annotate``: the value itself."""
    return the_value


class TracedModule:
    """The result of ``trace``: calling it replays the recorded ops on new inputs (control
    flow is frozen as traced); ``.graph`` is the recorded graph, printable."""

    def __init__(self, graph, original, module):
        self.graph = graph
        self._original = original
        self._module = module

    def __call__(self, *args, **kwargs):
        flat = []
        _flatten((args, kwargs), flat)
        if len(flat) != len(self.graph.inputs):
            raise RuntimeError(f"traced function expected {len(self.graph.inputs)} tensor inputs, got {len(flat)}")
        params = {}
        if self._module is not None:
            params = dict(self._module.state_dict(keep_vars=True))
            for name, p in self._module.named_parameters():
                params.setdefault(name, p)
        return self.graph.replay(flat, params)

    def forward(self, *args, **kwargs):
        return self(*args, **kwargs)

    @property
    def code(self):
        return str(self.graph)

    def __repr__(self):
        return f"TracedModule({getattr(self._original, '__name__', type(self._original).__name__)})"


def _flatten(obj, out):
    from .. import _C

    if isinstance(obj, _C.Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _flatten(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _flatten(o, out)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    """Record ``func(*example_inputs)`` (a function or an ``nn.Module``) as a graph; returns a
    callable ``TracedModule`` with ``.graph``. Ops run as traced: a Python value computed from
    a traced tensor (``bool(t)``, ``t.item()``) warns with ``TracerWarning``."""
    from ..nn.modules.module import Module

    if example_inputs is None and example_kwarg_inputs is None:
        raise RuntimeError("rustdl.jit.trace: example_inputs (or example_kwarg_inputs) is required")
    from .. import _C

    if isinstance(example_inputs, _C.Tensor):
        example_inputs = (example_inputs,)
    module = func if isinstance(func, Module) else getattr(func, "__self__", None)
    module = module if isinstance(module, Module) else None
    graph, _ = trace_graph(func, tuple(example_inputs or ()), example_kwarg_inputs or {}, module=module)
    return TracedModule(graph, func, module)
