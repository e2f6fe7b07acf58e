"""Signal windows (`torch.hann_window`, `hamming_window`, `blackman_window`, `bartlett_window`,
`kaiser_window`), computed in float64 and returned in the requested dtype. `periodic=True`
(the default, for spectral analysis) gives the first N points of an N + 1 point symmetric
window."""

import numpy as np

import rustdl as _t


def _points(window_length, periodic, name):
    if not isinstance(window_length, int) or isinstance(window_length, bool):
        raise TypeError(f"{name}(): argument 'window_length' must be int, not {type(window_length).__name__}")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    span = window_length if periodic else window_length - 1  # denominator of the phase n / span
    return np.arange(window_length, dtype=np.float64), span


def _finish(values, window_length, dtype, requires_grad, name):
    dtype = _t.get_default_dtype() if dtype is None else dtype
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if window_length == 1:
        values = np.ones(1)
    return _t.tensor(values, dtype=dtype, requires_grad=requires_grad)


def _cosine_sum(window_length, periodic, coefficients, dtype, requires_grad, name):
    n, span = _points(window_length, periodic, name)
    phase = 2 * np.pi * n / max(span, 1)
    values = sum(c * np.cos(k * phase) for k, c in enumerate(coefficients))
    return _finish(values, window_length, dtype, requires_grad, name)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                requires_grad=False):
    return _cosine_sum(window_length, periodic, (0.5, -0.5), dtype, requires_grad, "hann_window")


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   pin_memory=False, requires_grad=False):
    return _cosine_sum(window_length, periodic, (alpha, -beta), dtype, requires_grad, "hamming_window")


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                    requires_grad=False):
    return _cosine_sum(window_length, periodic, (0.42, -0.5, 0.08), dtype, requires_grad, "blackman_window")


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                    requires_grad=False):
    n, span = _points(window_length, periodic, "bartlett_window")
    values = 1 - np.abs(2 * n / max(span, 1) - 1)
    return _finish(values, window_length, dtype, requires_grad, "bartlett_window")


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  pin_memory=False, requires_grad=False):
    n, span = _points(window_length, periodic, "kaiser_window")
    ratio = 2 * n / max(span, 1) - 1
    values = np.i0(beta * np.sqrt(np.clip(1 - ratio * ratio, 0, None))) / np.i0(beta)
    return _finish(values, window_length, dtype, requires_grad, "kaiser_window")


FUNCTIONS = ["bartlett_window", "blackman_window", "hamming_window", "hann_window", "kaiser_window"]
