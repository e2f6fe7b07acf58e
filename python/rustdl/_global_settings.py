"""Process-wide switches PyTorch scripts set: deterministic algorithms, float32 matmul precision,
the default tensor type, warn-always, anomaly detection mode, printing options, interop threads.

rustdl's CPU kernels are deterministic (each thread owns a fixed slice of every reduction), so
`use_deterministic_algorithms(True)` changes nothing but is remembered and reported; float32
matmuls are always computed in float32 ("highest"), whatever precision is requested."""

import math

import rustdl as _t

from . import _tensor_str

_state = {"deterministic": False, "warn_only": False, "matmul_precision": "highest", "warn_always": False,
          "interop_threads": 1, "debug_mode": 0}


def use_deterministic_algorithms(mode, *, warn_only=False):
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms expects a bool, but got {type(mode).__name__}")
    _state["deterministic"], _state["warn_only"] = mode, bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    return _state["warn_only"]


def set_deterministic_debug_mode(debug_mode):
    modes = {"default": 0, "warn": 1, "error": 2}
    value = modes.get(debug_mode, debug_mode) if isinstance(debug_mode, str) else debug_mode
    if value not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected one of 0, 1, 2, but got {debug_mode}")
    _state["debug_mode"] = value
    use_deterministic_algorithms(value != 0, warn_only=value == 1)


def get_deterministic_debug_mode():
    if not _state["deterministic"]:
        return 0
    return 1 if _state["warn_only"] else 2


def set_float32_matmul_precision(precision):
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid value for precision: {precision}; expected one of highest, high, medium")
    _state["matmul_precision"] = precision


def get_float32_matmul_precision():
    return _state["matmul_precision"]


def set_warn_always(b):
    _state["warn_always"] = bool(b)


def is_warn_always_enabled():
    return _state["warn_always"]


def set_num_interop_threads(n):
    if not isinstance(n, int) or n <= 0:
        raise RuntimeError("Expected positive number of threads")
    _state["interop_threads"] = n


def get_num_interop_threads():
    return _state["interop_threads"]


def set_flush_denormal(mode):
    """PyTorch returns False where it cannot set flush-to-zero; rustdl does not set it either."""
    return False


def set_default_tensor_type(t):
    """The legacy way to set the default floating dtype (a CPU float/double tensor type)."""
    name = t if isinstance(t, str) else getattr(t, "__name__", str(t))
    dtypes = {"FloatTensor": _t.float32, "DoubleTensor": _t.float64, "HalfTensor": _t.float16,
              "BFloat16Tensor": _t.bfloat16}
    key = name.split(".")[-1]
    if key not in dtypes:
        raise TypeError(f"only floating-point types are supported as the default type (got {name})")
    _t.set_default_dtype(dtypes[key])


_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"unknown print profile {profile!r}")
        (_tensor_str.PRECISION, _tensor_str.THRESHOLD, _tensor_str.EDGEITEMS,
         _tensor_str.LINEWIDTH) = _PROFILES[profile]
    if precision is not None:
        _tensor_str.PRECISION = int(precision)
    if threshold is not None:
        _tensor_str.THRESHOLD = threshold
    if edgeitems is not None:
        _tensor_str.EDGEITEMS = int(edgeitems)
    if linewidth is not None:
        _tensor_str.LINEWIDTH = int(linewidth)
    _tensor_str.SCI_MODE = sci_mode



from .autograd.anomaly_mode import (  # noqa: F401  (re-exported as torch.<name>)
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_anomaly_enabled,
)

FUNCTIONS = ["is_anomaly_check_nan_enabled", "is_anomaly_enabled", "set_anomaly_enabled",
             "are_deterministic_algorithms_enabled", "get_deterministic_debug_mode", "get_float32_matmul_precision",
             "get_num_interop_threads", "is_deterministic_algorithms_warn_only_enabled", "is_warn_always_enabled",
             "set_default_tensor_type", "set_deterministic_debug_mode", "set_float32_matmul_precision",
             "set_flush_denormal", "set_num_interop_threads", "set_printoptions", "set_warn_always",
             "use_deterministic_algorithms"]
