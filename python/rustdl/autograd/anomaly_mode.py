"""Anomaly detection (`torch.autograd.detect_anomaly`, `set_detect_anomaly`): while enabled, the
backward pass stops with a RuntimeError at the first function whose gradient contains NaN
("Function 'MulBackward0' returned nan values in its 0th output."), instead of letting the NaN
reach the parameters. The check runs in the Rust engine (rust/autograd/anomaly.rs). Unlike
PyTorch, the traceback of the forward call that created the node is not recorded."""

import functools
import warnings

from .. import _C


def is_anomaly_enabled():
    return _C._anomaly_state()[0]


def is_anomaly_check_nan_enabled():
    return _C._anomaly_state()[1]


def set_anomaly_enabled(enabled, check_nan=True):
    _C._set_anomaly_enabled(bool(enabled), bool(check_nan))


class _AnomalyScope:
    """Sets anomaly mode for a `with` block (or each call of a decorated function) and restores
    the previous mode afterwards."""

    def __init__(self, enabled, check_nan):
        self._state = (bool(enabled), bool(check_nan))
        self._saved = []

    def __enter__(self):
        self._saved.append(_C._anomaly_state())
        _C._set_anomaly_enabled(*self._state)
        return self

    def __exit__(self, *exc):
        _C._set_anomaly_enabled(*self._saved.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapper


class detect_anomaly(_AnomalyScope):
    def __init__(self, check_nan=True):
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only "
                      "be enabled for debugging.", UserWarning, stacklevel=2)
        super().__init__(True, check_nan)


class set_detect_anomaly(_AnomalyScope):
    """Turns anomaly mode on or off at once (`set_detect_anomaly(True)` as a statement); used
    in a `with` block, the previous mode comes back at its end."""

    def __init__(self, mode, check_nan=True):
        super().__init__(mode, check_nan)
        self._before_call = _C._anomaly_state()
        _C._set_anomaly_enabled(*self._state)

    def __enter__(self):
        self._saved.append(self._before_call)
        _C._set_anomaly_enabled(*self._state)
        return self
