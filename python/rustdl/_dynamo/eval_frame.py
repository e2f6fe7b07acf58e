"""``rustdl.compile``: capture a module's forward once per input signature and replay it.

What is compiled is a module's ``forward``: ``compile(module)`` returns an ``OptimizedModule``
whose forward is compiled; ``compile(function)`` runs the function's Python as it is
(``loss.backward()``, ``optimizer.step()``, prints: everything the function does happens),
and the outermost module calls it makes are sent to their compiled forwards. A forward is
compiled per *signature*, the guards of a replay:

- the input tensors' shapes, dtypes, devices, ``requires_grad``, contiguity and which of them
  are the same tensor, and the other arguments' values;
- grad mode and autocast state;
- every submodule's identity, ``training`` flag, simple attributes (numbers, strings,
  tuples), parameter/buffer objects and shapes, and that no module has forward hooks.

The first call of a signature runs ``forward`` eagerly while the tracer of ``rustdl.jit``
records it (``capture.py``); a faithful graph is rewritten (``passes.py``) and turned into a
Python function (``codegen.py``) that later calls of the signature run instead. A call the
graph would not reproduce (an op the tracer does not record, a random draw or a tensor's
value read in Python, an attribute assignment in ``forward``, ...) keeps that signature
eager; ``fullgraph=True`` raises ``Unsupported`` instead. A function past
``recompile_limit`` signatures runs eagerly for new ones.

``mode``, ``options`` and ``dynamic`` are checked as PyTorch checks them and change nothing:
there is one set of rewrites, and every new shape is a new signature.
"""

import functools
import threading
import warnings
import weakref
from itertools import chain
from operator import attrgetter

from .. import _C
from ..jit import _tracer
from ..nn.modules import module as _module_mod
from ..nn.modules.module import Module
from . import exc
from .capture import ASSIGNS, capture
from .codegen import generate
from .passes import optimize

__all__ = ["OptimizedModule", "compile", "list_backends", "reset"]

recompile_limit = 8  # signatures per compiled forward (``torch._dynamo.config.recompile_limit``)

_BACKENDS = ("inductor", "eager", "aot_eager", "cudagraphs")
_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
_caches = weakref.WeakSet()  # every _ForwardCache, for reset()


def list_backends(exclude_tags=("debug", "experimental")):
    """The backend names ``compile`` accepts (``torch._dynamo.list_backends``)."""
    return ["cudagraphs", "inductor"] if exclude_tags else sorted(_BACKENDS)


def reset():
    """Forget every compiled graph (``torch._dynamo.reset``): the next calls capture again."""
    for cache in list(_caches):
        cache.entries.clear()
        cache.never, cache.warned = None, False


class _Options:
    """What one ``compile`` call asked for."""

    def __init__(self, fullgraph, dynamic, backend, mode, options):
        self.fullgraph, self.dynamic, self.backend = fullgraph, dynamic, backend
        self.mode, self.options = mode, options
        self.rewrite = backend in ("inductor", "cudagraphs") or callable(backend)


class _Unkeyable(Exception):
    pass


_SIMPLE = (bool, int, float, str, type(None))


def _spec(obj, flat, ids):
    """A hashable description of one argument; tensors go to ``flat``."""
    if isinstance(obj, _C.Tensor):
        first = ids.setdefault(id(obj), len(flat))
        flat.append(obj)
        return (obj.shape, obj.dtype, obj.device, obj.requires_grad, obj.is_contiguous(), first)
    t = type(obj)
    if t in _SIMPLE:
        return (t, obj)
    if t is tuple or t is list:
        return (t, tuple(_spec(o, flat, ids) for o in obj))
    if t is dict:
        return (t, tuple((k, _spec(o, flat, ids)) for k, o in obj.items()))
    if t.__hash__ is None or t.__hash__ is object.__hash__:
        raise _Unkeyable  # compared by identity only: the object may change unseen
    try:
        return (t, obj, hash(obj))
    except TypeError:
        raise _Unkeyable from None


_SUBDICTS = ("_parameters", "_buffers", "_modules", "_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
             "_backward_pre_hooks")


def _module_hooks(m):
    d = m.__dict__
    return d["_forward_hooks"] or d["_forward_pre_hooks"] or d.get("_backward_hooks") or d.get("_backward_pre_hooks")


def _has_hooks(module, below_only=False):
    """Whether a forward or backward module hook would run (``below_only``: of a submodule, for
    ``module.forward``)."""
    return any(_module_hooks(m) and not (below_only and m is module) for m in module.modules())


def _snapshot(module):
    """Every module's attributes (and parameter, buffer, submodule and hook tables) as they
    are now, by identity, and the parameters' shapes: what a replay assumes unchanged. The
    snapshot holds the objects, so their ids stay unique while it lives (a float attribute
    set again to an equal value is a new object: a recapture, never a wrong replay)."""
    dicts, tensors = [], []
    for m in module.modules():
        d = m.__dict__
        dicts.append(d)
        dicts.extend(d[key] for key in _SUBDICTS if key in d)
        tensors.extend(p for p in chain(d["_parameters"].values(), d["_buffers"].values()) if p is not None)
    keys = tuple(chain.from_iterable(dicts))
    values = tuple(chain.from_iterable(map(dict.values, dicts)))
    shapes = tuple(map(_shape_of, tensors))
    return dicts, keys, tuple(map(id, values)), values, tensors, shapes


_shape_of = attrgetter("shape")


def _unchanged(snapshot):
    """Whether the module tree is as in ``snapshot`` (C-level loops only: this runs per call)."""
    dicts, keys, ids, _, tensors, shapes = snapshot
    return (tuple(map(id, chain.from_iterable(map(dict.values, dicts)))) == ids
            and tuple(chain.from_iterable(dicts)) == keys
            and tuple(map(_shape_of, tensors)) == shapes)


class _Entry:
    __slots__ = ("fn", "graph", "keep", "reason", "snapshot", "source")

    def __init__(self, fn, snapshot, keep=None, source=None, reason=None, graph=None):
        self.fn, self.snapshot, self.keep, self.source, self.reason = fn, snapshot, keep, source, reason
        self.graph = graph  # the rewritten graph the code was generated from


class _ForwardCache:
    """The compiled graphs of one module's forward, by signature."""

    def __init__(self, module, options, via_call=True):
        self.module_ref = weakref.ref(module)
        self.via_call = via_call  # stands for module(...) (hooks run when eager) or module.forward(...)
        self.options = options
        self.entries = {}
        self.warned = False
        self.never = None  # why this forward always runs eagerly
        _caches.add(self)

    def __call__(self, args, kwargs):
        m = self.module_ref()
        if _tracer._state is not None or self.never:  # (inside rustdl.jit.trace: recorded eagerly)
            return self._eager(m, args, kwargs)
        if not kwargs and len(args) == 1 and type(args[0]) is _C.Tensor:  # the common call, keyed fast
            t = args[0]
            flat = [t]
            key = (_C.is_grad_enabled(), _C._autocast_get_state(), t.shape, t.dtype, t.device, t.requires_grad,
                   t.is_contiguous())
        else:
            flat = []
            try:
                key = (_C.is_grad_enabled(), _C._autocast_get_state(), _spec((args, kwargs), flat, {}))
            except _Unkeyable:
                return self._eager(m, args, kwargs)
        for entry in self.entries.get(key, ()):
            if _unchanged(entry.snapshot):
                return entry.fn(flat) if entry.fn is not None else m.forward(*args, **kwargs)
        return self._first_call(m, key, args, kwargs, flat)

    def _eager(self, m, args, kwargs):
        return m._call_impl(*args, **kwargs) if self.via_call else m.forward(*args, **kwargs)

    def count(self):
        return sum(len(v) for v in self.entries.values())

    def _first_call(self, m, key, args, kwargs, flat):
        if _has_hooks(m, below_only=not self.via_call):  # the hooks would not run in a replay
            return self._eager(m, args, kwargs)
        if self.count() >= recompile_limit:
            if not self.warned:
                self.warned = True
                warnings.warn(f"rustdl.compile: {type(m).__name__}.forward reached recompile_limit "
                              f"({recompile_limit}); new input signatures run eagerly", stacklevel=4)
            return m.forward(*args, **kwargs)
        snapshot = _snapshot(m)
        graph, out, reason = capture(m, args, kwargs, flat)
        entry = None
        if reason is None:
            try:
                entry = self._build(graph, flat, snapshot)
            except TypeError as e:
                reason = str(e)
        if entry is None:
            if self.options.fullgraph:
                raise exc.Unsupported(f"rustdl.compile(fullgraph=True): {type(m).__name__}.forward cannot be "
                                      f"captured as one graph: {reason}")
            entry = _Entry(None, snapshot, reason=reason)
            if reason == ASSIGNS:  # its attributes are guarded: every call would be a new signature
                self.never = reason
        self.entries.setdefault(key, []).append(entry)
        return out

    def _build(self, graph, flat, snapshot):
        opts = self.options
        if opts.rewrite:
            optimize(graph)
        params = {name: v.data for name, v in graph.params.items()}
        source, fn = generate(graph)
        run = functools.partial(_run_with_params, fn, params)
        if callable(opts.backend):
            run = opts.backend(_GraphModule(graph, source, run), list(flat))
            if not callable(run):
                raise TypeError("rustdl.compile: the backend did not return a callable")
            run = _flat_caller(run)
        return _Entry(run, snapshot, params, source, graph=graph)


def _run_with_params(fn, params, flat):
    return fn(flat, params)


def _flat_caller(fn):
    return lambda flat: fn(*flat)


class _GraphModule:
    """What a callable backend receives (``torch.fx.GraphModule``'s place): ``graph`` (a
    ``rustdl.jit.Graph``), ``code`` (the generated Python) and a call on the flat inputs."""

    def __init__(self, graph, code, run):
        self.graph, self.code, self._run = graph, code, run

    def __call__(self, *inputs):
        return self._run(list(inputs))

    forward = __call__


class OptimizedModule(Module):
    """``torch.compile(module)``: the module itself under ``_orig_mod`` (so ``state_dict`` keys
    are ``_orig_mod.<name>``, and parameters are the original's), with a compiled forward."""

    _opt_mod_attributes = frozenset({"_orig_mod", "_compiled_forward", "forward", "_super_module_initialized"})

    def __init__(self, mod, options):
        object.__setattr__(self, "_super_module_initialized", False)
        super().__init__()
        self._super_module_initialized = True
        self._orig_mod = mod
        self._compiled_forward = _ForwardCache(mod, options)

    def forward(self, *args, **kwargs):
        return self._compiled_forward(args, kwargs)

    def __reduce__(self):  # (pickle, deepcopy: the module and the options; graphs are captured again)
        return (self.__class__, (self._orig_mod, self._compiled_forward.options))

    @property
    def training(self):
        return self._orig_mod.training

    @training.setter
    def training(self, value):
        if self.__dict__.get("_super_module_initialized"):
            self._orig_mod.training = value

    def __getattr__(self, name):
        if name == "_orig_mod":
            return self.__dict__["_modules"]["_orig_mod"]
        return getattr(self._orig_mod, name)

    def __setattr__(self, name, value):
        if hasattr(type(self), name) or name in OptimizedModule._opt_mod_attributes:
            return super().__setattr__(name, value)
        return setattr(self._orig_mod, name, value)

    def __delattr__(self, name):
        if hasattr(type(self), name) or name in OptimizedModule._opt_mod_attributes:
            return super().__delattr__(name)
        return delattr(self._orig_mod, name)

    def __len__(self):
        try:
            return len(self._orig_mod)
        except TypeError:
            raise TypeError(f"{type(self._orig_mod).__name__} does not support len()") from None

    def __getitem__(self, idx):
        return self._orig_mod[idx]

    def __iter__(self):
        return iter(self._orig_mod)

    def __dir__(self):
        return sorted(set(dir(self._orig_mod)) | set(super().__dir__()))


class _Router:
    """Sends the outermost module calls of a running compiled function to compiled forwards."""

    def __init__(self, options):
        self.options = options
        self.caches = weakref.WeakKeyDictionary()
        self.local = threading.local()

    def __call__(self, module, args, kwargs):
        local = self.local
        if getattr(local, "depth", 0) or not getattr(local, "active", 0) or _tracer._state is not None:
            return NotImplemented
        try:
            cache = self.caches.get(module)
            if cache is None:
                if isinstance(module, OptimizedModule):
                    return NotImplemented  # it has its own
                cache = self.caches[module] = _ForwardCache(module, self.options)
        except TypeError:  # a module class with __eq__ and no __hash__: not a cache key, runs eagerly
            return NotImplemented
        local.depth = 1
        try:
            return cache(args, kwargs)
        finally:
            local.depth = 0


def _compile_function(fn, options):
    router = _Router(options)

    @functools.wraps(fn)
    def compiled(*args, **kwargs):
        local = router.local
        prev_router = _module_mod._compiled_call_router
        if prev_router is not None and prev_router is not router:
            return fn(*args, **kwargs)  # inside another compiled function: its router applies
        local.active = getattr(local, "active", 0) + 1
        _module_mod._compiled_call_router = router
        try:
            return fn(*args, **kwargs)
        finally:
            local.active -= 1
            if not local.active:
                _module_mod._compiled_call_router = prev_router

    compiled._torchdynamo_orig_callable = fn
    compiled._rustdl_router = router
    return compiled


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """``torch.compile``: see the module docstring (``rustdl/_dynamo/eval_frame.py``)."""
    if model is None:
        def wrap(model):
            if model is None:
                raise RuntimeError("Model can't be None")
            return compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                           options=options, disable=disable)
        return wrap
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options must be a dict, got {type(options).__name__}")
    if isinstance(backend, str) and backend not in _BACKENDS:
        raise exc.InvalidBackend(backend)
    if not isinstance(backend, str) and not callable(backend):
        raise exc.InvalidBackend(backend)
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")  # noqa: TRY004 (PyTorch's)
    if disable:
        return model
    opts = _Options(fullgraph, dynamic, backend, mode or "default", options)
    if isinstance(model, Module):
        return OptimizedModule(model, opts)
    owner = getattr(model, "__self__", None)
    if isinstance(owner, Module) and getattr(model, "__func__", None) is getattr(type(owner), "forward", None):
        return _compile_forward_method(owner, model, opts)
    return _compile_function(model, opts)


def _compile_forward_method(module, forward, options):
    """``compile(module.forward)``: the module's forward compiled as one graph (not its
    submodules one by one, as running the method's Python would give)."""
    cache = _ForwardCache(module, options, via_call=False)

    @functools.wraps(forward)
    def compiled(*args, **kwargs):
        return cache(args, kwargs)

    compiled._compiled_forward = cache
    compiled._torchdynamo_orig_callable = forward
    return compiled


def _module_compile(self, *args, **kwargs):
    """``Module.compile(...)``: compile this module's forward in place (its ``__call__`` then
    runs the compiled forward); the arguments are ``rustdl.compile``'s."""
    compiled = compile(self, *args, **kwargs)
    if compiled is self:  # disable=True
        self.__dict__.pop("_compiled_call_impl", None)
        return
    cache = compiled._compiled_forward
    self.__dict__["_compiled_call_impl"] = lambda *a, **k: cache(a, k)
    return

