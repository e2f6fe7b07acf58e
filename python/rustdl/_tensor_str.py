"""Printing tensors the way PyTorch does (precision 4, aligned columns,
scientific notation when the magnitudes call for it, summarised when large)."""

import numpy as np

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80
SCI_MODE = None  # set_printoptions(sci_mode=...): True / False force it, None decides per tensor


def _float_formatter(values):
    finite = values[np.isfinite(values)]
    nonzero = np.abs(finite[finite != 0])
    all_int = finite.size > 0 and np.all(finite == np.round(finite))
    sci = False
    if nonzero.size:
        mx, mn = nonzero.max(), nonzero.min()
        sci = mx / mn > 1000.0 or mx > 1e8 or mn < 1e-4
    if SCI_MODE is not None:
        sci = SCI_MODE
    if sci:
        return lambda v: _special(v) or f"{v:.{PRECISION}e}"
    if all_int:
        return lambda v: _special(v) or f"{v:.0f}."
    return lambda v: _special(v) or f"{v:.{PRECISION}f}"


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _summarize(a):
    """Indices kept when printing a large tensor (None means all)."""
    if a.size <= THRESHOLD:
        return a, False
    return a, True


def _format(arr, fmt, summarize, indent):
    if arr.ndim == 0:
        return fmt(arr.item())
    n = arr.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        idx = list(range(EDGEITEMS)) + [None] + list(range(n - EDGEITEMS, n))
    else:
        idx = list(range(n))
    if arr.ndim == 1:
        # PyTorch's summarised vectors show " ..." (with a leading space)
        items = [" ..." if i is None else fmt(arr[i]) for i in idx]
        width = max((len(s) for s in items if s != " ..."), default=0)
        per_line = max(1, (LINEWIDTH - indent) // (width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    parts = ["..." if i is None else _format(arr[i], fmt, summarize, indent + 1) for i in idx]
    sep = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def _meta_repr(t):
    """A meta tensor has no values: PyTorch prints ``tensor(..., device='meta',
    size=(2, 3))``."""
    suffix = ["device='meta'", f"size={tuple(t.shape)}"]
    if repr(t.dtype) != "rustdl.float32":
        suffix.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffix.append("requires_grad=True")
    return "tensor(..., " + ", ".join(suffix) + ")"


def tensor_repr(t):
    if t.device.type == "meta":
        return _meta_repr(t)
    name = str(t.dtype).split(".")[-1]
    # NumPy has no bfloat16: its values are printed from float32 (exact).
    a = (t.detach().float() if name == "bfloat16" else t.detach()).numpy()
    summarize = a.size > THRESHOLD
    if a.dtype == np.bool_:
        fmt = lambda v: "True" if v else "False"
    elif np.issubdtype(a.dtype, np.integer):
        fmt = lambda v: str(int(v))
    else:
        flat = a.reshape(-1).astype(np.float64)
        fmt = _float_formatter(flat)
    indent = len("tensor(")
    body = _format(a, _uniform(fmt, a), summarize, indent) if a.size else "[]"
    suffix = []
    if t.device.type != "cpu":
        suffix.append(f"device='{t.device}'")
    default = {"float32", "int64", "bool"}
    if name not in default or (a.size == 0 and name != "float32"):
        suffix.append(f"dtype=rustdl.{name}")
    if a.size == 0 and a.ndim != 1:
        suffix.append(f"size={tuple(a.shape)}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffix.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + s for s in suffix) + ")"


def _uniform(fmt, a):
    """Pad every element to a common width, as PyTorch aligns: for floats the
    width of the widest nonzero finite value (nan/inf/0 do not widen columns),
    for ints and bools the widest value."""
    if a.size == 0 or a.ndim == 0:
        return fmt
    flat = a.reshape(-1)[:2000]
    if np.issubdtype(a.dtype, np.floating):
        flat = flat[np.isfinite(flat) & (flat != 0)]
    width = max((len(fmt(v)) for v in flat), default=1)
    return lambda v: fmt(v).rjust(width)
