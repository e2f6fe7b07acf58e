"""``rustdl.autocast`` / ``rustdl.amp.autocast``: PyTorch's automatic mixed
precision on the CPU. The casting happens in the Rust op layer
(``rust/ops/autocast.rs``): this module only sets the thread's state, and
marks the entries of the listed ops that are composed in Python (``_op``)."""

import functools
import warnings

from .. import _C

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available"]

_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                 "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")

# State PyTorch keeps per device beyond the CPU one the Rust layer holds.
_cuda_enabled = False
_cuda_dtype = _C.float16
_cache_enabled = True
_nesting = 0


def _check_device(device_type):
    base = device_type.split(":")[0] if isinstance(device_type, str) else device_type
    if base not in _DEVICE_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device string: "
                           f"{device_type}")
    return base


def is_autocast_available(device_type):
    """Whether autocast runs on ``device_type`` here: only the CPU."""
    return _check_device(device_type) == "cpu"


def is_autocast_enabled(device_type=None):
    if device_type is None:
        return _cuda_enabled
    if _check_device(device_type) == "cpu":
        return _C._autocast_get_state()[0]
    return _cuda_enabled if device_type == "cuda" else False


def set_autocast_enabled(device_type, enabled=None):
    global _cuda_enabled
    if enabled is None:  # the legacy one-argument form is CUDA's
        _cuda_enabled = bool(device_type)
        return
    if _check_device(device_type) == "cpu":
        _C._autocast_set_state(bool(enabled), _C._autocast_get_state()[1])
    elif device_type == "cuda":
        _cuda_enabled = bool(enabled)


def get_autocast_dtype(device_type):
    if _check_device(device_type) == "cpu":
        return _C._autocast_get_state()[1]
    return _cuda_dtype


def set_autocast_dtype(device_type, dtype):
    global _cuda_dtype
    if _check_device(device_type) == "cpu":
        _C._autocast_set_state(_C._autocast_get_state()[0], dtype)
    else:
        _cuda_dtype = dtype


def _deprecated(old, new):
    warnings.warn(f"torch.{old}() is deprecated. Please use torch.{new} instead.", DeprecationWarning, stacklevel=3)


def is_autocast_cpu_enabled():
    _deprecated("is_autocast_cpu_enabled", "is_autocast_enabled('cpu')")
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled):
    _deprecated("set_autocast_cpu_enabled", "set_autocast_enabled('cpu', enabled)")
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype():
    _deprecated("get_autocast_cpu_dtype", "get_autocast_dtype('cpu')")
    return get_autocast_dtype("cpu")


def set_autocast_cpu_dtype(dtype):
    _deprecated("set_autocast_cpu_dtype", "set_autocast_dtype('cpu', dtype)")
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype():
    return _cuda_dtype


def is_autocast_cache_enabled():
    return _cache_enabled


def set_autocast_cache_enabled(enabled):
    global _cache_enabled
    _cache_enabled = bool(enabled)


def autocast_increment_nesting():
    global _nesting
    _nesting += 1
    return _nesting


def autocast_decrement_nesting():
    global _nesting
    _nesting -= 1
    return _nesting


def clear_autocast_cache():
    """rustdl keeps no cache of cast weights (each listed op casts its inputs)."""


class autocast:
    """Runs the ops on PyTorch's CPU autocast lists in ``dtype`` (bfloat16 by
    default; float16 allowed) or in float32, as a context manager or decorator."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")  # noqa: TRY004 (PyTorch raises ValueError)
        self.device = _check_device(device_type)
        self.fast_dtype = get_autocast_dtype(self.device) if dtype is None else dtype
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        enabled = bool(enabled)
        if self.device == "cuda":
            if enabled:
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", stacklevel=2)
            enabled = False
        elif self.device != "cpu":
            if enabled:
                warnings.warn(f"User specified an unsupported autocast device_type '{self.device}'", stacklevel=2)
            enabled = False
        elif self.fast_dtype not in (_C.bfloat16, _C.float16):
            if enabled:
                warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                              "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                              stacklevel=2)
            enabled = False
        self._enabled = enabled
        self._prev = []  # a stack: the same instance may be entered again (a recursive decorated function)

    def __enter__(self):
        self._prev.append((_C._autocast_get_state(), is_autocast_cache_enabled()))
        if self.device == "cpu":
            _C._autocast_set_state(self._enabled, self.fast_dtype)
        set_autocast_cache_enabled(self._cache_enabled)
        autocast_increment_nesting()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        (enabled, dtype), cache = self._prev.pop()
        _C._autocast_set_state(enabled, dtype)
        set_autocast_cache_enabled(cache)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        decorate_autocast.__script_unsupported = "@autocast() decorator is not supported in script mode"
        return decorate_autocast


def _cast_args(policy, args, kwargs):
    """Positional and keyword tensors (and tensors in lists/tuples) cast in one Rust call."""
    found = []

    def collect(v):
        if isinstance(v, _C.Tensor):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            for x in v:
                collect(x)

    for v in args:
        collect(v)
    for v in kwargs.values():
        collect(v)
    if not found:
        return args, kwargs
    cast = iter(_C._autocast_cast(policy, found))

    def rebuild(v):
        if isinstance(v, _C.Tensor):
            return next(cast)
        if isinstance(v, (list, tuple)):
            return type(v)(rebuild(x) for x in v)
        return v

    args = tuple(rebuild(v) for v in args)
    kwargs = {k: rebuild(v) for k, v in kwargs.items()}
    return args, kwargs


def _op(policy):
    """Marks an op composed in Python as on an autocast list ("lower", "fp32",
    "promote"): under autocast its tensor arguments are cast by the Rust
    mechanism, and autocast is suspended while its body runs (as PyTorch's
    autocast wrappers exclude the autocast key)."""

    def wrap(fn):
        @functools.wraps(fn)
        def entry(*args, **kwargs):
            if not _C._autocast_active():
                return fn(*args, **kwargs)
            args, kwargs = _cast_args(policy, args, kwargs)
            prev = _C._autocast_suspend(True)
            try:
                return fn(*args, **kwargs)
            finally:
                _C._autocast_suspend(prev)

        return entry

    return wrap


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """``torch.amp.custom_fwd``: runs ``forward`` of a custom autograd Function
    with autocast as at the call (cast_inputs: run it in that dtype, autocast off)."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            return fwd(*args, **kwargs)
        if is_autocast_enabled(device_type):
            args = tuple(a.to(cast_inputs) if isinstance(a, _C.Tensor) and a.is_floating_point() else a for a in args)
            with autocast(device_type=device_type, enabled=False):
                return fwd(*args, **kwargs)
        return fwd(*args, **kwargs)

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """``torch.amp.custom_bwd``: runs ``backward`` with the forward's autocast state."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=getattr(ctx, "_fwd_used_autocast", False),
                      dtype=getattr(ctx, "_dtype", None)):
            return bwd(*args, **kwargs)

    return decorate_bwd
