"""torch.special / gamma-family cases shared by tools/differential/record_special.py (PyTorch) and
tests/test_special.py (rustdl): values, gradients and second derivatives at ordinary and edge
inputs (0, negative non-integers, negative integers, large values, inf, NaN)."""

import numpy as np

EDGE = [0.0, -0.0, 0.5, 1.0, 2.5, 7.0, 30.0, 1e-3, -0.5, -2.5, -3.0, float("inf"), float("-inf"), float("nan")]
UNIT = [0.0, 1e-4, 0.1, 0.5, 0.9, 1.0, -0.2, 1.3, float("nan")]
REAL = [-40.0, -25.0, -5.0, -1.0, -1e-3, 0.0, 0.7, 3.0, 9.0, float("inf"), float("-inf"), float("nan")]

# name: (function of (lib, x [, y]), inputs, second derivative too)
UNARY = {
    "lgamma": (lambda lib, x: x.lgamma(), EDGE, True),
    "digamma": (lambda lib, x: lib.digamma(x), EDGE, True),
    "polygamma1": (lambda lib, x: lib.polygamma(1, x), EDGE, True),
    "polygamma2": (lambda lib, x: x.polygamma(2), EDGE, False),
    "polygamma3": (lambda lib, x: lib.special.polygamma(3, x), EDGE, False),
    "erfc": (lambda lib, x: x.erfc(), REAL, True),
    "gammaln": (lambda lib, x: lib.special.gammaln(x), EDGE, False),
    "logit": (lambda lib, x: lib.logit(x), UNIT, True),
    "logit_eps": (lambda lib, x: x.logit(eps=0.05), UNIT, False),
    "sinc": (lambda lib, x: lib.sinc(x), REAL + [0.5, 2.0], True),
    "entr": (lambda lib, x: lib.special.entr(x), UNIT + [-1.0, float("inf")], False),
    "ndtr": (lambda lib, x: lib.special.ndtr(x), REAL, True),
    "log_ndtr": (lambda lib, x: lib.special.log_ndtr(x), REAL, False),
    "multigammaln": (lambda lib, x: lib.special.multigammaln(x, 3), [1.2, 2.0, 4.5, 30.0], True),
}
XS = [0.0, 0.0, 0.0, 1.5, -2.0, 3.0, 0.0, 2.0]
YS = [0.0, 2.0, float("nan"), 0.0, 4.0, -1.0, -1.0, float("inf")]
BINARY = {
    "xlogy": lambda lib, x, y: lib.xlogy(x, y),
    "xlog1py": lambda lib, x, y: lib.special.xlog1py(x, y),
}


def _list(t):
    return [None if np.isnan(v) else float(v) for v in t.detach().numpy().astype(np.float64).ravel()]


def run_unary(lib, name, dtype):
    fn, values, second = UNARY[name]
    x = lib.tensor(np.array(values, dtype=dtype), requires_grad=True)
    y = fn(lib, x)
    (g,) = lib.autograd.grad(y.sum(), [x], create_graph=second)
    out = {"y": _list(y), "dtype": str(y.dtype).split(".")[-1], "grad": _list(g)}
    if second:
        (gg,) = lib.autograd.grad(g.sum(), [x])
        out["grad2"] = _list(gg)
    return out


def run_binary(lib, name):
    x = lib.tensor(np.array(XS, dtype=np.float64), requires_grad=True)
    y = lib.tensor(np.array(YS, dtype=np.float64), requires_grad=True)
    z = BINARY[name](lib, x, y)
    gx, gy = lib.autograd.grad(z.sum(), [x, y])
    return {"z": _list(z), "gx": _list(gx), "gy": _list(gy)}
