"""Capture one call of a module's ``forward`` as a graph, for ``rustdl.compile``.

The call is the real one: it runs on the caller's tensors, in the caller's grad mode, and its
result is returned to the caller, so the first call of every input signature is eager. While
it runs, the tracer of ``rustdl.jit`` (``jit/_tracer.py``) records the ops into a ``Graph``.
Unlike ``jit.trace`` nothing raises or warns here: anything that would make a replay differ
from running ``forward`` again is noted as the reason the graph cannot be used (the caller
then runs that signature eagerly):

- an engine call outside the recorded ops other than metadata reads and factories (an op the
  tracer does not record, a random draw, reading a tensor's value in Python, ``.data``,
  iterating a tensor, seeding): its result would be frozen into the replay;
- a tensor with autograd history that did not come from a recorded op;
- an in-place op on a constant (a tensor made inside ``forward``): a replay reuses it;
- ``forward`` assigning attributes of a module (``self.count += 1``, ``self.last = out``):
  a replay would not.
"""

import warnings

from .. import _C
from ..jit import _tracer
from ..jit._graph import Value

__all__ = ["capture"]

# Engine calls that may run outside recorded ops without freezing anything into the graph:
# metadata (guarded by the input signature) and factories from Python data (constants).
_ALLOWED_OUTSIDE = {
    "shape", "dtype", "device", "requires_grad", "grad_fn", "is_leaf", "dim", "ndim", "ndimension", "size",
    "stride", "numel", "nelement", "__len__", "is_contiguous", "data_ptr", "element_size", "is_floating_point",
    "is_complex", "storage_offset", "__hash__", "is_meta", "_version", "is_grad_enabled", "get_num_threads",
    "result_type", "promote_types", "get_default_device", "_is_deferred", "names", "layout", "is_sparse",
    "is_quantized", "itemsize", "nbytes", "can_cast", "is_inference_mode_enabled", "is_cuda", "is_cpu",
    "get_device", "zeros", "ones", "full", "empty", "tensor", "as_tensor", "arange", "linspace", "eye",
    "scalar_tensor", "autocast_active",
}
_INPLACE_SUFFIXES = ("_",)
ASSIGNS = "forward assigns module attributes"


class _CaptureRecorder(_tracer._Recorder):
    """The tracer's recorder, noting (not raising) what makes the graph unusable."""

    def __init__(self, param_names):
        super().__init__(param_names)
        self.broken = None

    def note(self, reason):
        if self.broken is None:
            self.broken = reason

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
            self.note(f"a tensor reached '{op}' from an op the tracer does not record "
                      f"({type(t.grad_fn).__name__})")
        # the tensor itself, not a copy: a module attribute updated in place is seen by replays
        v = self._new(t, "const", data=t)
        v.name = f"const_{v.id}"
        self.graph.constants.append(v)
        return v

    def _record(self, op, target, args, kwargs, out, module, params):
        super()._record(op, target, args, kwargs, out, module, params)
        node = self.graph.nodes[-1]
        if _is_inplace(op):
            first = node.args[0] if node.args else None
            if isinstance(first, Value) and first.kind == "const":
                self.note(f"'{op}' writes into a tensor made inside forward")


def _is_inplace(op):
    return (op.endswith(_INPLACE_SUFFIXES) and not op.endswith("__")) or op.startswith("__i")


def _attribute_state(module):
    """Every module's attributes by identity (which objects its names hold)."""
    state = []
    for m in module.modules():
        d = m.__dict__
        state.append((id(m), tuple((k, id(v)) for k, v in d.items())))
        for key in ("_parameters", "_buffers", "_modules"):
            sub = d.get(key)
            if sub is not None:
                state.append((id(m), key, tuple((k, id(v)) for k, v in sub.items())))
    return state


def capture(module, args, kwargs, flat_inputs):
    """Run ``module.forward(*args, **kwargs)`` once, recording. Returns ``(graph, result,
    reason)``: ``reason`` is None when the graph replays ``forward`` faithfully, otherwise
    why not (the result is the eager one either way)."""
    param_names = {}
    for name, t in module.state_dict(keep_vars=True).items():
        param_names.setdefault(id(t), name)
    for name, t in module.named_parameters():
        param_names.setdefault(id(t), name)
    for name, t in module.named_buffers():
        param_names.setdefault(id(t), name)
    before = _attribute_state(module)
    with _tracer._lock:
        if _tracer._state is not None:
            raise RuntimeError("rustdl.compile: a trace is already running")
        rec = _CaptureRecorder(param_names)
        rec.module_names = {id(m): name for name, m in module.named_modules()}
        for i, t in enumerate(flat_inputs):
            rec.add_input(t, f"input_{i}")
        patches = _tracer._Patches()
        patches.install()
        _tracer._state = rec
        _C._trace_set_callback(_tracer._binding_recorded)
        _C._trace_start()
        try:
            with warnings.catch_warnings():  # (a value read is noted below, not warned about)
                warnings.simplefilter("ignore", _tracer.TracerWarning)
                out = module.forward(*args, **kwargs)
        finally:
            outside = _C._trace_stop()
            _C._trace_set_callback(None)
            _tracer._state = None
            patches.restore()
    for name in outside:
        short = name.split(".", 1)[1] if name.startswith(("Tensor.", "Size.")) else name
        if short not in _ALLOWED_OUTSIDE and not name.startswith(("Device.", "DType.", "dtype.", "device.")):
            rec.note(f"'{name}' ran outside the recorded ops")
    if _attribute_state(module) != before:
        rec.note(ASSIGNS)
    g = rec.graph
    outputs = []
    try:
        g.out_tree = _output_tree(rec, out, outputs)
    except TypeError as e:
        rec.note(str(e))
    g.outputs = outputs
    if any(v.kind == "const" for v in outputs):
        rec.note("forward returned a tensor made inside it (a replay would return the same one)")
    rec.keep = None
    return g, out, rec.broken


def _output_tree(rec, out, outputs):
    if isinstance(out, _C.Tensor):
        v = rec.value_of(out, "output")
        outputs.append(v)
        return v
    if isinstance(out, (list, tuple)) and not hasattr(out, "_fields"):
        items = [_output_tree(rec, o, outputs) for o in out]
        return items if isinstance(out, list) else tuple(items)
    if isinstance(out, dict) and type(out) is dict:
        return {k: _output_tree(rec, o, outputs) for k, o in out.items()}
    if out is None or isinstance(out, (bool, int, float, str)):
        return out
    raise TypeError(f"forward returned a {type(out).__name__}")

