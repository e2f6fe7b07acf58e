"""``torch.testing.assert_close``: compare tensors (or nested sequences/mappings of them, or
Python numbers) within dtype-dependent tolerances, with PyTorch's messages."""

import math

import numpy as np

from .. import _C

__all__ = ["assert_close"]

# (rtol, atol) by dtype, as PyTorch's defaults; integers and bool compare exactly
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7)}


def _dtype_name(dtype):
    return str(dtype).split(".")[-1]


def _show(dtype):
    return "torch." + _dtype_name(dtype)


def _shape(shape):
    return f"torch.Size({list(shape)})"


def _fail(msg, default, path):
    text = default if msg is None else (msg(default) if callable(msg) else msg)
    if path and msg is None:
        text += "\n\nThe failure occurred for item " + "".join(f"[{p!r}]" for p in path)
    raise AssertionError(text)


def _compare_tensors(actual, expected, rtol, atol, equal_nan, check_dtype, msg, path):
    if tuple(actual.shape) != tuple(expected.shape):
        _fail(f"The values for attribute 'shape' do not match: {_shape(actual.shape)} != {_shape(expected.shape)}.",
              None, path) if msg is None else _fail(msg, "", path)
    if check_dtype and actual.dtype != expected.dtype:
        _fail(f"The values for attribute 'dtype' do not match: {_show(actual.dtype)} != {_show(expected.dtype)}.",
              None, path) if msg is None else _fail(msg, "", path)
    name = _dtype_name(expected.dtype)
    default_rtol, default_atol = _TOLERANCES.get(name, (0.0, 0.0))
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    a = actual.detach().cpu().to(_C.float64).numpy()
    e = expected.detach().cpu().to(_C.float64).numpy()
    close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    close |= (a == e)  # equal infinities
    if close.all():
        return
    exact = name not in _TOLERANCES
    bad = int((~close).sum())
    total = close.size
    diff = np.abs(a - e)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = diff / np.abs(e)
    diff_m = np.where(close, 0.0, diff)
    rel_m = np.where(close, 0.0, rel)
    ia = np.unravel_index(int(np.nanargmax(diff_m)) if not np.isnan(diff_m).all() else 0, a.shape)
    ir = np.unravel_index(int(np.nanargmax(rel_m)) if not np.isnan(rel_m).all() else 0, a.shape)
    if np.isnan(diff_m).any():
        ia = np.unravel_index(int(np.argmax(np.isnan(diff_m))), a.shape)
    if np.isnan(rel_m).any():
        ir = np.unravel_index(int(np.argmax(np.isnan(rel_m))), a.shape)

    def number(v):
        return str(int(v)) if exact and math.isfinite(v) and float(v).is_integer() else repr(float(v))

    def rel_number(v):  # PyTorch reports the relative difference in the compared dtype
        return repr(float(np.float32(v))) if name in ("float32", "float16", "bfloat16") or exact else repr(float(v))

    kind = "equal" if exact else "close"
    lines = [f"Tensor-likes are not {kind}!", "", f"Mismatched elements: {bad} / {total} ({100 * bad / total:.1f}%)"]
    if exact:
        lines.append(f"Greatest absolute difference: {number(diff_m[ia])} at index {tuple(int(i) for i in ia)}")
        lines.append(f"Greatest relative difference: {rel_number(rel_m[ir])} at index {tuple(int(i) for i in ir)}")
    else:
        abs_value = float(np.float32(diff_m[ia])) if name != "float64" else float(diff_m[ia])
        lines.append(f"Greatest absolute difference: {abs_value!r} at index {tuple(int(i) for i in ia)} "
                     f"(up to {atol} allowed)")
        lines.append(f"Greatest relative difference: {rel_number(rel_m[ir])} at index {tuple(int(i) for i in ir)} "
                     f"(up to {rtol} allowed)")
    _fail(msg, "\n".join(lines), path)


def _compare(actual, expected, rtol, atol, equal_nan, check_dtype, msg, path):
    if isinstance(actual, _C.Tensor) or isinstance(expected, _C.Tensor):
        if not (isinstance(actual, _C.Tensor) and isinstance(expected, _C.Tensor)):
            actual = actual if isinstance(actual, _C.Tensor) else _C.tensor(actual)
            expected = expected if isinstance(expected, _C.Tensor) else _C.tensor(expected)
        return _compare_tensors(actual, expected, rtol, atol, equal_nan, check_dtype, msg, path)
    if isinstance(actual, dict) and isinstance(expected, dict):
        if set(actual) != set(expected):
            _fail(msg, f"The keys of the mappings do not match:\nMissing keys in the actual mapping: "
                       f"{sorted(set(expected) - set(actual))}\nAdditional keys in the actual mapping: "
                       f"{sorted(set(actual) - set(expected))}", path)
        for k in expected:
            _compare(actual[k], expected[k], rtol, atol, equal_nan, check_dtype, msg, path + [k])
        return
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            _fail(msg, f"The length of the sequences mismatch: {len(actual)} != {len(expected)}", path)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, rtol, atol, equal_nan, check_dtype, msg, path + [i])
        return
    if isinstance(actual, (bool, int, float)) and isinstance(expected, (bool, int, float)):
        if check_dtype and type(actual) is not type(expected):
            _fail(msg, f"The values for attribute 'dtype' do not match: {type(actual)} != {type(expected)}.", path)
        if isinstance(expected, float):
            r, a_tol = (1e-7 if rtol is None else rtol), (1e-7 if atol is None else atol)
            ok = math.isclose(actual, expected, rel_tol=0.0, abs_tol=a_tol + r * abs(expected)) or actual == expected \
                or (equal_nan and math.isnan(actual) and math.isnan(expected))
            if not ok:
                d = abs(actual - expected)
                rd = d / abs(expected) if expected else math.inf
                _fail(msg, f"Scalars are not close!\n\nExpected {expected} but got {actual}.\nAbsolute difference: "
                           f"{d} (up to {a_tol} allowed)\nRelative difference: {rd} (up to {r} allowed)", path)
        elif actual != expected:
            _fail(msg, f"Scalars are not equal!\n\nExpected {expected} but got {actual}.\nAbsolute difference: "
                       f"{abs(actual - expected)}\nRelative difference: "
                       f"{abs(actual - expected) / abs(expected) if expected else math.inf}", path)
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.")


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise AssertionError unless ``actual`` and ``expected`` are close: ``|a - e| <= atol +
    rtol * |e|`` elementwise, same shape (and dtype with ``check_dtype``)."""
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {'rtol' if rtol is None else 'atol'}.")
    _compare(actual, expected, rtol, atol, equal_nan, check_dtype, msg, [])
