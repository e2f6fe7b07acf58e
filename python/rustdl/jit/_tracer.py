"""The tracer: run a function once and record every op it calls into a ``Graph``.

Recording happens at the boundary where Python hands an op to the Rust engine: the
``nn.functional`` ops, the ``Tensor`` methods and operators and the top-level functions in
``TRACED_*`` below are swapped for recording wrappers while a trace runs, and put back
after, so nothing is paid when no trace runs. Only the outermost traced call is recorded
(a depth counter): ``F.linear`` is one node even though it calls ``addmm`` inside.
RNN modules (``nn.LSTM/GRU/RNN``) are *composites*: their whole ``forward`` is one node (the
time loop inside is not recorded), so ONNX gets its own LSTM/GRU/RNN ops.

Tensors are identified by ``id()`` of the Python object; the recorder keeps every tensor it
saw alive until the trace ends, so an id is never reused within one trace. A tensor that
reaches a recorded op without having been recorded is a constant when it has no autograd
history (made inside ``forward`` from Python data: ``torch.tensor``, ``zeros``); with history
it came from an op the tracer does not record, which raises naming that op (float graph
inputs are traced with ``requires_grad`` so such ops always leave a ``grad_fn``).
"""

import sys
import threading
import warnings

from .. import _C
from .._grad_mode import enable_grad
from ._graph import Graph, Node, Value

__all__ = ["TracerWarning", "TracingError", "is_tracing", "trace_graph"]


class TracerWarning(Warning):
    """A Python value computed from a traced tensor decided something: the trace is only
    valid for inputs that give the same value (PyTorch's ``torch.jit.TracerWarning``)."""


class TracingError(RuntimeError):
    """The function called an op the tracer cannot record."""


# nn.functional ops recorded as one node each (their PyTorch names).
TRACED_FUNCTIONAL = [
    "linear", "bilinear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "batch_norm", "instance_norm", "layer_norm", "group_norm", "relu", "relu6",
    "leaky_relu", "gelu", "elu", "selu", "celu", "silu", "mish", "softplus", "softsign", "hardtanh",
    "hardsigmoid", "hardswish", "logsigmoid", "sigmoid", "tanh", "softmax", "log_softmax", "dropout",
    "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "embedding", "scaled_dot_product_attention",
    "pad", "prelu", "glu", "normalize", "interpolate", "_canonical_mask", "one_hot",
]
# Tensor methods and operators (a method gets the tensor as its first argument).
TRACED_METHODS = [
    "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__", "__isub__", "__mul__", "__rmul__", "__imul__",
    "__truediv__", "__rtruediv__", "__itruediv__", "__pow__", "__rpow__", "__neg__", "__matmul__",
    "__rmatmul__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__and__", "__or__",
    "__invert__", "__getitem__",
    "add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "pow", "neg", "sqrt", "rsqrt", "exp", "log",
    "tanh", "sigmoid", "relu", "relu_", "abs", "erf", "reciprocal", "sin", "cos", "floor", "ceil", "clamp",
    "clip", "clamp_min", "clamp_max", "square", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge",
    "logical_not", "logical_and", "logical_or", "where", "sum", "mean", "amax", "amin", "matmul", "mm", "bmm",
    "baddbmm", "addmm", "softmax", "log_softmax", "view", "reshape", "view_as", "reshape_as", "flatten",
    "unflatten", "transpose", "permute", "t", "contiguous", "clone", "detach", "unsqueeze", "squeeze",
    "expand", "expand_as", "repeat", "chunk", "split", "unbind", "select", "narrow", "index_select",
    "gather", "masked_fill", "masked_fill_", "float", "double", "long", "int", "bool", "half", "to", "type_as",
    "tril", "triu", "cumsum", "argmax", "argmin", "max", "min", "var", "std", "topk",
]
# Top-level functions (``rustdl.cat``) that are not just a method.
TRACED_TOPLEVEL = ["cat", "concat", "concatenate", "stack", "where", "bmm", "matmul", "baddbmm", "einsum"]
# Reading a traced tensor's value in Python: the trace freezes what it decided.
_VALUE_READS = ["__bool__", "item", "tolist", "__int__", "__float__", "__index__"]
# nn modules recorded as one node each.
COMPOSITE_MODULES = ["LSTM", "GRU", "RNN"]

_state = None  # the running trace (one at a time)
_lock = threading.Lock()


def is_tracing():
    """True while a trace records on this thread."""
    st = _state
    return st is not None and st.thread == threading.get_ident()


class _Recorder:
    def __init__(self, param_names):
        self.thread = threading.get_ident()
        self.depth = 0
        self.graph = Graph()
        self.values = {}  # id(tensor) -> Value
        self.keep = []  # every tensor seen, alive until the trace ends (ids stay unique)
        self.param_names = param_names  # id(tensor) -> state_dict name
        self.scopes = []  # module scopes of the running forward ("CNN", "Conv2d[conv1]")
        self.module_names = {}  # id(submodule) -> its qualified name in the traced model
        self.counter = 0

    def _new(self, t, kind, **kw):
        self.counter += 1
        v = Value(self.counter, kind, tuple(t.shape), t.dtype, **kw)
        self.values[id(t)] = v
        self.keep.append(t)
        return v

    def add_input(self, t, name):
        v = self.values.get(id(t))
        if v is None:
            v = self._new(t, "input", name=name)
        self.graph.inputs.append(v)
        return v

    def value_of(self, t, op):
        v = self.values.get(id(t))
        if v is not None:
            return v
        name = self.param_names.get(id(t))
        if name is not None:
            v = self._new(t, "param", name=name, data=t)
            self.graph.params[name] = v
            return v
        if t.grad_fn is not None:
            raise TracingError(
                f"rustdl.jit.trace: a tensor reached '{op}' from an operation the tracer does not record "
                f"({type(t.grad_fn).__name__}); that op cannot be exported yet")
        v = self._new(t, "const", data=t.detach().clone())
        v.name = f"const_{v.id}"
        self.graph.constants.append(v)
        return v

    def to_values(self, obj, op):
        if isinstance(obj, _C.Tensor):
            return self.value_of(obj, op)
        if isinstance(obj, list):
            return [self.to_values(o, op) for o in obj]
        if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
            return tuple(self.to_values(o, op) for o in obj)
        if isinstance(obj, dict):
            return {k: self.to_values(o, op) for k, o in obj.items()}
        return obj

    def outputs_tree(self, out, node_outputs):
        if isinstance(out, _C.Tensor):
            v = self._new(out, "node")
            node_outputs.append(v)
            return v
        if isinstance(out, (list, tuple)):
            items = [self.outputs_tree(o, node_outputs) for o in out]
            return items if isinstance(out, list) else tuple(items)
        return out

    def record(self, op, target, args, kwargs, out, module=None, params=None):
        self.depth += 1  # the recorder's own tensor calls (detach, clone) are not part of the trace
        try:
            self._record(op, target, args, kwargs, out, module, params)
        finally:
            self.depth -= 1

    def _record(self, op, target, args, kwargs, out, module, params):
        args = self.to_values(tuple(args), op)
        kwargs = self.to_values(dict(kwargs), op)
        outputs = []
        tree = self.outputs_tree(out, outputs)
        node = Node(op, target, args, kwargs, outputs, tree, ".".join(self.scopes), module, params)
        for v in outputs:
            v.producer = node
        self.graph.nodes.append(node)


def _recording(op, fn):
    def traced(*args, **kwargs):
        st = _state
        if st is None or st.depth or st.thread != threading.get_ident():
            return fn(*args, **kwargs)
        st.depth += 1
        _C._trace_enter()  # the engine calls inside belong to this op
        try:
            out = fn(*args, **kwargs)
            if not (op == "_canonical_mask" and (out is None or out is args[0])):  # (a float mask passes through)
                st.record(op, fn, args, kwargs, out)
        finally:
            _C._trace_exit()
            st.depth -= 1
        return out

    traced.__name__ = getattr(fn, "__name__", op)
    traced.__doc__ = getattr(fn, "__doc__", None)
    traced.__wrapped__ = fn
    return traced


def _binding_recorded(name, args, result):
    """Called by the engine for a binding that records itself (``cat``/``stack``, reached
    through a name the tracer did not swap, e.g. ``from torch import cat``)."""
    st = _state
    if st is None or st.depth or st.thread != threading.get_ident():
        return
    st.record(name, getattr(_C, name), tuple(args), {}, result)


def _value_read(name, fn):
    def read(self, *args, **kwargs):
        st = _state
        if st is not None and not st.depth and st.thread == threading.get_ident():
            v = st.values.get(id(self))
            if v is not None and v.kind in ("input", "node"):
                warnings.warn(
                    f"Converting a tensor to a Python value ({name}) during tracing: the trace records the "
                    "value it had for these example inputs and treats it as a constant, so it may not "
                    "generalize to other inputs", TracerWarning, stacklevel=2)
        return fn(self, *args, **kwargs)

    read.__name__ = name
    return read


def _composite(op, fn):
    def forward(module, *args, **kwargs):
        st = _state
        if st is None or st.depth or st.thread != threading.get_ident():
            return fn(module, *args, **kwargs)
        st.depth += 1
        _C._trace_enter()
        try:
            out = fn(module, *args, **kwargs)
            params = {name: st.value_of(p, op) for name, p in module.named_parameters()}
            st.record(op, fn.__get__(module), args, kwargs, out, module=module, params=params)
        finally:
            _C._trace_exit()
            st.depth -= 1
        return out

    forward.__name__ = "forward"
    return forward


def _scoped_call(call):
    def __call__(module, *args, **kwargs):
        st = _state
        if st is None or st.depth or st.thread != threading.get_ident():
            return call(module, *args, **kwargs)
        name = st.module_names.get(id(module))
        kind = type(module).__name__
        st.scopes.append(kind if not name else f"{kind}[{name.rsplit('.', 1)[-1]}]")
        try:
            return call(module, *args, **kwargs)
        finally:
            st.scopes.pop()

    return __call__


class _Patches:
    """Swaps the recording wrappers in and restores the originals."""

    def __init__(self):
        self.saved = []

    def set(self, owner, name, value):
        if name in owner.__dict__:
            self.saved.append((owner, name, owner.__dict__[name], True))
        else:
            self.saved.append((owner, name, None, False))
        setattr(owner, name, value)

    def install(self):
        import rustdl

        from ..nn import functional as F
        from ..nn import modules as nn_modules

        for name in TRACED_FUNCTIONAL:
            fn = F.__dict__.get(name)
            if fn is not None:
                self.set(F, name, _recording(name, fn))
                home = sys.modules.get(getattr(fn, "__module__", None) or "")
                if home is not None and home is not F and home.__dict__.get(name) is fn:
                    self.set(home, name, _recording(name, fn))  # calls inside its own module
        tensor = _C.Tensor
        for name in TRACED_METHODS:
            fn = _lookup(tensor, name)
            if fn is not None:
                self.set(tensor, name, _recording("Tensor.where" if name == "where" else name, fn))
        for name in _VALUE_READS:
            fn = _lookup(tensor, name)
            if fn is not None:
                self.set(tensor, name, _value_read(name, fn))
        for ns in (rustdl, _C):
            for name in TRACED_TOPLEVEL:
                fn = ns.__dict__.get(name)
                if fn is not None and not isinstance(fn, type):
                    self.set(ns, name, _recording(name, fn))
        from ..nn.modules.module import Module

        self.set(Module, "__call__", _scoped_call(Module.__call__))
        for name in COMPOSITE_MODULES:
            cls = getattr(nn_modules, name, None)
            if cls is not None:
                base = _lookup(cls, "forward")
                self.set(cls, "forward", _composite(name, base))

    def restore(self):
        for owner, name, value, had in reversed(self.saved):
            if had:
                setattr(owner, name, value)
            else:
                delattr(owner, name)
        self.saved = []


def _lookup(cls, name):
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return getattr(cls, name)
    return None


def _flatten_args(obj, out):
    if isinstance(obj, _C.Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _flatten_args(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _flatten_args(o, out)


def _trace_inputs(obj):
    """The example inputs as the function will see them: float tensors detached with
    ``requires_grad`` (so any op the tracer misses leaves a ``grad_fn`` behind)."""
    if isinstance(obj, _C.Tensor):
        t = obj.detach()
        if t.is_floating_point():
            t.requires_grad_(True)
        return t
    if isinstance(obj, list):
        return [_trace_inputs(o) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_trace_inputs(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _trace_inputs(o) for k, o in obj.items()}
    return obj


def trace_graph(fn, args, kwargs=None, module=None, input_names=None):
    """Run ``fn(*args, **kwargs)`` once, recording; returns ``(graph, result)``.
    ``module`` (the model, if any) names parameters and buffers by their ``state_dict`` keys."""
    global _state
    kwargs = kwargs or {}
    param_names = {}
    if module is not None:
        for name, t in module.state_dict(keep_vars=True).items():
            param_names.setdefault(id(t), name)
        for name, t in module.named_parameters():
            param_names.setdefault(id(t), name)
        for name, t in module.named_buffers():
            param_names.setdefault(id(t), name)
    args = _trace_inputs(tuple(args))
    kwargs = _trace_inputs(dict(kwargs))
    with _lock:
        if _state is not None:
            raise RuntimeError("rustdl.jit.trace: a trace is already running")
        rec = _Recorder(param_names)
        if module is not None:
            rec.module_names = {id(m): name for name, m in module.named_modules()}
        flat = []
        _flatten_args((args, kwargs), flat)
        for i, t in enumerate(flat):
            name = input_names[i] if input_names and i < len(input_names) else f"input_{i}"
            rec.add_input(t, name)
        patches = _Patches()
        patches.install()
        _state = rec
        _C._trace_set_callback(_binding_recorded)
        _C._trace_start()
        try:
            with enable_grad():
                out = fn(*args, **kwargs)
        finally:
            outside = _C._trace_stop()
            _C._trace_set_callback(None)
            _state = None
            patches.restore()
        _warn_outside(outside)
    g = rec.graph
    outputs = []
    g.out_tree = _output_tree(rec, out, outputs)
    g.outputs = outputs
    rec.keep = None
    return g, out


# Engine calls outside recorded ops that are expected: metadata reads, factories (constants),
# and the value reads that warn on their own (``_value_read``).
_QUIET_OUTSIDE = {
    "shape", "dtype", "device", "requires_grad", "set_requires_grad", "grad", "grad_fn", "is_leaf", "dim", "ndim",
    "ndimension", "size", "stride", "numel", "nelement", "__len__", "is_contiguous", "data_ptr", "element_size",
    "is_floating_point", "is_complex", "storage_offset", "__repr__", "__hash__", "is_meta", "_version",
    "is_grad_enabled", "_set_grad_enabled", "get_num_threads", "result_type", "promote_types", "get_default_device",
    "_is_deferred", "names", "layout", "is_sparse", "is_quantized", "itemsize", "nbytes", "data", "detach_",
    "requires_grad_", "__bool__", "item", "tolist", "__int__", "__float__", "__index__", "__eq__", "__ne__",
    "zeros", "ones", "full", "empty", "tensor", "as_tensor", "arange", "linspace", "eye", "from_numpy",
    "scalar_tensor", "manual_seed", "can_cast", "is_inference_mode_enabled", "__iter__", "__contains__", "type",
    "is_cuda", "is_cpu", "get_device", "__format__", "__getattr__",
}


def _warn_outside(outside):
    """Warn about engine ops that ran outside recorded ops (constants of the trace)."""
    counts = {}
    for name in outside:
        short = name.split(".", 1)[1] if name.startswith(("Tensor.", "Device.", "DType.", "Size.")) else name
        if short in _QUIET_OUTSIDE or name.startswith(("Device.", "DType.", "dtype.", "device.")):
            continue
        counts[name] = counts.get(name, 0) + 1
    if counts:
        listed = ", ".join(f"{n}" + (f" (x{c})" if c > 1 else "") for n, c in counts.items())
        warnings.warn(
            f"rustdl.jit.trace: these ops ran outside the recorded graph: {listed}. Their results are "
            "constants of the trace (computed for these example inputs); if they depend on the inputs "
            "the trace does not generalize", TracerWarning, stacklevel=3)


def _output_tree(rec, out, outputs):
    if isinstance(out, _C.Tensor):
        v = rec.value_of(out, "output")
        outputs.append(v)
        return v
    if isinstance(out, (list, tuple)):
        items = [_output_tree(rec, o, outputs) for o in out]
        return items if isinstance(out, list) else tuple(items)
    if isinstance(out, dict):
        return {k: _output_tree(rec, o, outputs) for k, o in out.items()}
    return out
