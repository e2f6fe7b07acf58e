"""Cases for the torch-namespace functions composed in Python (rustdl/_shape_composites.py,
_elementwise_composites.py, _torch_nn_aliases.py, _window_functions.py, linalg additions), shared by
tools/differential/record_torch_surface.py (PyTorch) and tests/test_torch_surface.py (rustdl):
values, dtypes, shapes, gradients, and the exception type where PyTorch raises."""

import numpy as np

INF, NAN = float("inf"), float("nan")


def _t(lib, values, dtype="float64", grad=False):
    a = np.array(values, dtype=dtype)
    return lib.tensor(a, requires_grad=grad) if grad else lib.tensor(a)


def _rand(lib, shape, seed, grad=True, dtype="float64"):
    return _t(lib, np.random.default_rng(seed).standard_normal(shape), dtype, grad=grad)


def _out(x):
    if isinstance(x, (tuple, list)):
        return [_out(v) for v in x]
    if isinstance(x, (bool, int, float)) and not hasattr(x, "dtype"):
        return {"python": repr(x)}
    a = x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)
    flat = np.asarray(a, dtype=np.float64).ravel()
    return {"shape": list(a.shape), "dtype": str(x.dtype).split(".")[-1] if hasattr(x, "dtype") else "",
            "values": [None if np.isnan(v) else (str(v) if np.isinf(v) else float(v)) for v in flat]}


def _raises(fn):
    try:
        fn()
    except Exception as e:  # the type is what is compared
        return {"error": type(e).__name__}
    return {"error": None}


def _with_grads(lib, fn, inputs, order2=False):
    """Output, first-order gradients of a fixed weighting of the outputs, and (order2) the
    gradient of the sum of those gradients (a second derivative)."""
    out = fn(*inputs)
    result = {"out": _out(out)}
    outs = out if isinstance(out, (tuple, list)) else [out]
    floats = [o for o in outs if hasattr(o, "requires_grad") and o.requires_grad]
    leaves = [i for i in inputs if hasattr(i, "requires_grad") and i.requires_grad]
    if floats:
        total = sum((o * _t(lib, np.linspace(0.5, 1.5, o.numel()).reshape(tuple(o.shape)), str(o.dtype).split(".")[-1]))
                    .sum() for o in floats)
        grads = lib.autograd.grad(total, leaves, allow_unused=True, create_graph=order2)
        result["grads"] = [None if g is None else _out(g) for g in grads]
        if order2:
            used = [g for g in grads if g is not None and g.requires_grad]
            if used:
                second = lib.autograd.grad(sum((g * g).sum() for g in used), leaves, allow_unused=True)
                result["grads2"] = [None if g is None else _out(g) for g in second]
    return result


def _shape_cases():
    return {
        "hstack_1d": lambda L: _with_grads(L, lambda a, b: L.hstack((a, b)), [_rand(L, (3,), 1), _rand(L, (2,), 2)]),
        "hstack_2d": lambda L: _with_grads(L, lambda a, b: L.hstack([a, b]), [_rand(L, (2, 3), 3), _rand(L, (2, 1), 4)]),
        "hstack_0d": lambda L: _out(L.hstack((_t(L, 1.0), _t(L, [2.0, 3.0])))),
        "hstack_empty_list": lambda L: _raises(lambda: L.hstack([])),
        "vstack": lambda L: _with_grads(L, lambda a, b: L.vstack((a, b)), [_rand(L, (3,), 5), _rand(L, (2, 3), 6)]),
        "row_stack": lambda L: _out(L.row_stack((_t(L, [1, 2], "int64"), _t(L, [3, 4], "int64")))),
        "vstack_mismatch": lambda L: _raises(lambda: L.vstack((L.zeros(3), L.zeros(2)))),
        "dstack": lambda L: _with_grads(L, lambda a, b: L.dstack((a, b)), [_rand(L, (2, 3), 7), _rand(L, (2, 3, 2), 8)]),
        "dstack_1d": lambda L: _out(L.dstack((_t(L, [1.0, 2.0]), _t(L, [3.0, 4.0])))),
        "column_stack": lambda L: _with_grads(L, lambda a, b, c: L.column_stack((a, b, c)),
                                              [_rand(L, (3,), 9), _rand(L, (3, 2), 10), _rand(L, (3, 1), 11)]),
        "column_stack_0d": lambda L: _out(L.column_stack((_t(L, 1.0), _t(L, 2.0)))),
        "hsplit_sections": lambda L: _with_grads(L, lambda x: L.hsplit(x, 2), [_rand(L, (2, 4), 12)]),
        "hsplit_indices": lambda L: _with_grads(L, lambda x: x.hsplit([1, 3]), [_rand(L, (5,), 13)]),
        "hsplit_uneven": lambda L: _raises(lambda: L.hsplit(L.zeros(2, 5), 2)),
        "hsplit_0d": lambda L: _raises(lambda: L.hsplit(L.zeros(()), 2)),
        "vsplit": lambda L: _with_grads(L, lambda x: L.vsplit(x, [1]), [_rand(L, (3, 2), 14)]),
        "vsplit_1d": lambda L: _raises(lambda: L.vsplit(L.zeros(4), 2)),
        "dsplit": lambda L: _with_grads(L, lambda x: L.dsplit(x, 2), [_rand(L, (1, 2, 4), 15)]),
        "dsplit_2d": lambda L: _raises(lambda: L.dsplit(L.zeros(2, 2), 2)),
        "flipud": lambda L: _with_grads(L, L.flipud, [_rand(L, (3, 2), 16)]),
        "fliplr": lambda L: _with_grads(L, lambda x: x.fliplr(), [_rand(L, (2, 3, 2), 17)]),
        "fliplr_1d": lambda L: _raises(lambda: L.fliplr(L.zeros(3))),
        "flipud_0d": lambda L: _raises(lambda: L.flipud(L.zeros(()))),
        "narrow_copy": lambda L: _with_grads(L, lambda x: L.narrow_copy(x, 1, 1, 2), [_rand(L, (2, 4), 18)]),
        "select_scatter": lambda L: _with_grads(L, lambda x, s: L.select_scatter(x, s, 1, 0),
                                                [_rand(L, (3, 2), 19), _rand(L, (3,), 20)], order2=True),
        "select_scatter_shape": lambda L: _raises(lambda: L.select_scatter(L.zeros(3, 2), L.zeros(2), 1, 0)),
        "slice_scatter": lambda L: _with_grads(L, lambda x, s: L.slice_scatter(x, s, 1, 1, 5, 2),
                                               [_rand(L, (2, 6), 21), _rand(L, (2, 2), 22)]),
        "slice_scatter_default": lambda L: _with_grads(L, lambda x, s: x.slice_scatter(s, start=2),
                                                       [_rand(L, (4, 2), 23), _rand(L, (2, 2), 24)]),
        "diagonal_scatter": lambda L: _with_grads(L, lambda x, s: L.diagonal_scatter(x, s, 1),
                                                  [_rand(L, (3, 4), 25), _rand(L, (3,), 26)]),
        "diagonal_scatter_dims": lambda L: _with_grads(L, lambda x, s: L.diagonal_scatter(x, s, 0, 1, 2),
                                                       [_rand(L, (2, 3, 3), 27), _rand(L, (2, 3), 28)]),
    }


def _elementwise_cases():
    return {
        "rad2deg": lambda L: _with_grads(L, L.rad2deg, [_t(L, [0.0, 1.0, -3.5, INF, NAN], grad=True)]),
        "deg2rad_float32": lambda L: _with_grads(L, lambda x: x.deg2rad(), [_t(L, [0.0, 90.0, -720.0], "float32", True)]),
        "deg2rad_int": lambda L: _out(L.deg2rad(_t(L, [1, 180], "int64"))),
        "rad2deg_bool": lambda L: _out(L.rad2deg(_t(L, [True, False], "bool"))),
        "positive": lambda L: _out(L.positive(_t(L, [1, -2], "int64"))),
        "positive_bool": lambda L: _raises(lambda: L.positive(_t(L, [True], "bool"))),
        "fix": lambda L: _with_grads(L, L.fix, [_t(L, [-1.5, 2.7, -0.2, INF], grad=True)]),
        "heaviside": lambda L: _out(L.heaviside(_t(L, [-1.0, 0.0, 2.0, NAN, -0.0]), _t(L, [0.5]))),
        "heaviside_int": lambda L: _out(L.heaviside(_t(L, [[-3, 0, 4]], "int64"), _t(L, [[7], [8]], "int64"))),
        "heaviside_dtypes": lambda L: _raises(lambda: L.heaviside(_t(L, [1.0]), _t(L, [1], "int64"))),
        "heaviside_backward": lambda L: _raises(
            lambda: L.heaviside(_t(L, [1.0, 0.0], grad=True), _t(L, [0.5])).sum().backward()),
        "gcd": lambda L: _out(L.gcd(_t(L, [0, -4, 9, 12], "int64"), _t(L, [0, 6, -3, 18], "int64"))),
        "gcd_int32_broadcast": lambda L: _out(L.gcd(_t(L, [[8], [6]], "int32"), _t(L, [4, 9], "int32"))),
        "gcd_float": lambda L: _raises(lambda: L.gcd(_t(L, [1.0]), _t(L, [2.0]))),
        "lcm": lambda L: _out(L.lcm(_t(L, [0, -4, 9, 5], "int64"), _t(L, [3, 6, -3, 7], "int64"))),
        "left_shift": lambda L: _out(L.bitwise_left_shift(_t(L, [1, -8, 3, 5], "int64"), _t(L, [64, 2, 0, -1], "int64"))),
        "right_shift": lambda L: _out(L.bitwise_right_shift(_t(L, [-8, 8, -1, 7], "int64"), _t(L, [70, 1, 3, 1], "int64"))),
        "shift_operators": lambda L: [_out(_t(L, [1, 2], "int32") << 3), _out(_t(L, [16, -16], "int64") >> 2),
                                      _out(_t(L, [1], "uint8") << 9)],
        "shift_float": lambda L: _raises(lambda: L.bitwise_left_shift(_t(L, [1.0]), _t(L, [1.0]))),
        "nextafter": lambda L: _out(L.nextafter(_t(L, [1.0, 0.0, -1.0, INF], "float32"),
                                                _t(L, [2.0, -1.0, -INF, 0.0], "float32"))),
        "nextafter_double": lambda L: _out(L.nextafter(_t(L, [1.0, 0.0]), _t(L, [0.0, 1.0]))),
        "frexp": lambda L: _out(list(L.frexp(_t(L, [0.0, 8.0, -3.5, INF, NAN, 1e-310])))),
        "frexp_float32": lambda L: _out(list(_t(L, [[0.75, -6.0]], "float32").frexp())),
        "frexp_int": lambda L: _raises(lambda: L.frexp(_t(L, [1], "int64"))),
        "logcumsumexp": lambda L: _with_grads(L, lambda x: L.logcumsumexp(x, 1), [_rand(L, (2, 5), 29)], order2=True),
        "logcumsumexp_dim0_float32": lambda L: _with_grads(L, lambda x: x.logcumsumexp(0),
                                                           [_rand(L, (4, 3), 30, dtype="float32")]),
        "logcumsumexp_large": lambda L: _with_grads(L, lambda x: L.logcumsumexp(x, 0),
                                                    [_t(L, [-1000.0, 0.0, 1000.0, 999.0], grad=True)]),
        "logcumsumexp_inf": lambda L: _with_grads(L, lambda x: L.logcumsumexp(x, 0),
                                                  [_t(L, [-INF, 1.0, -INF, 2.0], grad=True)]),
        "logcumsumexp_0d": lambda L: _out(L.logcumsumexp(_t(L, 2.5), 0)),
        "logcumsumexp_int": lambda L: _raises(lambda: L.logcumsumexp(_t(L, [1, 2], "int64"), 0)),
        "logcumsumexp_dim": lambda L: _raises(lambda: L.logcumsumexp(L.zeros(2), 1)),
        "aminmax": lambda L: _with_grads(L, lambda x: tuple(L.aminmax(x)), [_t(L, [[1.0, 4.0], [4.0, -2.0]], grad=True)]),
        "aminmax_dim": lambda L: _with_grads(L, lambda x: tuple(x.aminmax(dim=0, keepdim=True)), [_rand(L, (3, 2), 31)]),
        "aminmax_int": lambda L: _out(list(L.aminmax(_t(L, [[3, 1], [2, 5]], "int64"), dim=1))),
        "aminmax_empty": lambda L: _raises(lambda: L.aminmax(L.zeros(0))),
        "aminmax_0d": lambda L: _out(list(L.aminmax(_t(L, 3.0)))),
        "mode": lambda L: _out(list(L.mode(_t(L, [1, 2, 2, 3, 3, 1, 5], "int64")))),
        "mode_rows": lambda L: _with_grads(L, lambda x: tuple(L.mode(x, 1)),
                                           [_t(L, [[3.0, 1.0, 1.0, 3.0], [2.0, 2.0, 0.0, 0.0]], grad=True)]),
        "mode_dim0_keepdim": lambda L: _out(list(_t(L, [[1, 2], [1, 3], [2, 3]], "int64").mode(0, True))),
        "mode_0d": lambda L: _out(list(L.mode(_t(L, 4.0)))),
        "mode_empty_dim": lambda L: _raises(lambda: L.mode(L.zeros(2, 0), 1)),
        "addr": lambda L: _with_grads(L, lambda m, a, b: L.addr(m, a, b, beta=0.5, alpha=2.0),
                                      [_rand(L, (3, 2), 32), _rand(L, (3,), 33), _rand(L, (2,), 34)], order2=True),
        "addr_beta0_nan": lambda L: _out(L.addr(_t(L, [[NAN, 1.0]]), _t(L, [2.0]), _t(L, [3.0, 4.0]), beta=0)),
        "addr_broadcast_int": lambda L: _out(L.addr(_t(L, [1, 2], "int64"), _t(L, [1, 2], "int64"), _t(L, [3, 4], "int64"))),
        "addr_2d_vec": lambda L: _raises(lambda: L.addr(L.zeros(2, 2), L.zeros(2, 1), L.zeros(2))),
        "vdot": lambda L: _with_grads(L, L.vdot, [_rand(L, (4,), 35), _rand(L, (4,), 36)]),
        "vdot_2d": lambda L: _raises(lambda: L.vdot(L.zeros(2, 2), L.zeros(2, 2))),
        "vdot_dtypes": lambda L: _raises(lambda: L.vdot(L.zeros(2), _t(L, [1, 2], "int64"))),
        "cumulative_trapezoid": lambda L: _with_grads(L, lambda y: L.cumulative_trapezoid(y), [_rand(L, (2, 5), 37)]),
        "cumulative_trapezoid_dx": lambda L: _with_grads(L, lambda y: L.cumulative_trapezoid(y, dx=0.5, dim=0),
                                                         [_rand(L, (3, 2), 38)]),
        "cumulative_trapezoid_x": lambda L: _with_grads(L, lambda y: L.cumulative_trapezoid(y, _t(L, [0.0, 1.0, 3.0, 6.0])),
                                                        [_rand(L, (2, 4), 39)]),
    }


CASES = {**_shape_cases(), **_elementwise_cases()}
