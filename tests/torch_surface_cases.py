"""Cases for the torch-namespace functions composed in Python (rustdl/_shape_composites.py,
_elementwise_composites.py, _torch_nn_aliases.py, _window_functions.py, linalg additions), shared by
tools/differential/record_torch_surface.py (PyTorch) and tests/test_torch_surface.py (rustdl):
values, dtypes, shapes, gradients, and the exception type where PyTorch raises."""

import importlib

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
    except Exception as e:  # noqa: BLE001  (the exception type is what is compared)
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
        "zero_dim_results": lambda L: [_out(L.gcd(_t(L, 12, "int64"), _t(L, 18, "int64"))),
                                       _out(L.heaviside(_t(L, 0.0), _t(L, 2.0))),
                                       _out(L.nextafter(_t(L, 1.0), _t(L, 2.0))), _out(list(L.frexp(_t(L, 6.0)))),
                                       _out(_t(L, 5, "int64") << 2)],
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


def _mat(lib, seed, n=3, m=None, grad=True):
    return _rand(lib, (n, n if m is None else m), seed, grad)


def _spd(lib, seed, n=3):
    a = np.random.default_rng(seed).standard_normal((n, n))
    return _t(lib, a @ a.T + n * np.eye(n), grad=True)


def _inv_ex_check_errors(L):
    try:
        L.linalg.inv_ex(_t(L, [[1.0, 2.0], [2.0, 4.0]]), check_errors=True)
    except L.linalg.LinAlgError as e:  # PyTorch's class is named _LinAlgError: the type is what counts
        return {"python": repr((True, "singular" in str(e)))}
    return {"python": "no error"}


def _linalg_cases():
    return {
        "pinv": lambda L: _with_grads(L, L.linalg.pinv, [_mat(L, 40, 3, 2)], order2=True),
        "pinv_rank_deficient": lambda L: _out(L.linalg.pinv(_t(L, [[1.0, 2.0], [2.0, 4.0]]))),
        "pinv_hermitian": lambda L: _with_grads(L, lambda a: L.linalg.pinv(a, hermitian=True), [_spd(L, 41)]),
        "pinverse": lambda L: _out(L.pinverse(_t(L, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))),
        "lstsq": lambda L: _with_grads(L, lambda a, b: L.linalg.lstsq(a, b).solution, [_mat(L, 42, 5, 3), _mat(L, 43, 5, 2)]),
        "lstsq_gelsd": lambda L: _out([v for v in L.linalg.lstsq(_t(L, [[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]),
                                                                _t(L, [[1.0], [2.0], [2.0]]), driver="gelsd")]),
        "lstsq_gelsy": lambda L: _out([v for v in L.linalg.lstsq(_t(L, [[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]),
                                                                _t(L, [[1.0], [2.0], [2.0]]))]),
        "matrix_exp": lambda L: _with_grads(L, L.linalg.matrix_exp, [_mat(L, 44)], order2=True),
        "matrix_exp_large_norm": lambda L: _out(L.matrix_exp(_t(L, [[5.0, 2.0], [-3.0, 1.0]]))),
        "matrix_exp_batch_float32": lambda L: _out(L.linalg.matrix_exp(_rand(L, (2, 2, 2), 45, False, "float32"))),
        "matrix_exp_int": lambda L: _raises(lambda: L.linalg.matrix_exp(_t(L, [[1, 0], [0, 1]], "int64"))),
        "cholesky_solve": lambda L: _with_grads(L, lambda b, a: L.cholesky_solve(b, L.linalg.cholesky(a)),
                                                [_mat(L, 46, 3, 2), _spd(L, 47)]),
        "cholesky_solve_upper": lambda L: _out(L.cholesky_solve(_t(L, [[1.0], [2.0]]),
                                                                _t(L, [[2.0, 1.0], [0.0, 3.0]]), upper=True)),
        "cholesky_inverse": lambda L: _with_grads(L, lambda a: L.cholesky_inverse(L.linalg.cholesky(a)), [_spd(L, 48)]),
        "cond": lambda L: [_out(L.linalg.cond(_t(L, [[1.0, 2.0], [3.0, 4.0]]), p)) for p in (None, -2, "fro", 1, INF)],
        "linalg_vander": lambda L: _with_grads(L, lambda x: L.linalg.vander(x, N=4), [_t(L, [1.0, 2.0, -0.5], grad=True)]),
        "lu_factor": lambda L: _with_grads(L, lambda a: tuple(L.linalg.lu_factor(a)), [_mat(L, 49, 4)], order2=True),
        "lu_factor_batch": lambda L: _out(list(L.linalg.lu_factor(_rand(L, (2, 3, 3), 50, False)))),
        "lu_factor_wide": lambda L: _out(list(L.linalg.lu_factor(_rand(L, (2, 4), 51, False)))),
        "lu": lambda L: _with_grads(L, lambda a: tuple(L.linalg.lu(a))[1:], [_mat(L, 52)]),
        "lu_unpack": lambda L: _out(list(L.lu_unpack(*L.linalg.lu_factor(_rand(L, (3, 3), 53, False))))),
        "lu_solve": lambda L: _with_grads(L, lambda a, b: L.linalg.lu_solve(*L.linalg.lu_factor(a), b),
                                          [_mat(L, 54), _mat(L, 55, 3, 2)]),
        "lu_solve_adjoint_right": lambda L: [
            _out(L.linalg.lu_solve(*L.linalg.lu_factor(_mat(L, 56, grad=False)), _mat(L, 57, 3, 2, False), adjoint=True)),
            _out(L.linalg.lu_solve(*L.linalg.lu_factor(_mat(L, 58, grad=False)), _mat(L, 59, 2, 3, False), left=False))],
        "torch_lu_solve": lambda L: _out(L.lu_solve(_mat(L, 60, 3, 1, False), *L.lu(_mat(L, 61, grad=False)))),
        "torch_qr_removed": lambda L: _raises(lambda: L.qr(_mat(L, 62, 4, 3, False), some=False)),
        "inv_ex": lambda L: _out(list(L.linalg.inv_ex(_t(L, [[[2.0, 1.0], [1.0, 3.0]], [[1.0, 2.0], [2.0, 4.0]]]))[1:])) and
        [_out(L.linalg.inv_ex(_t(L, [[[2.0, 1.0], [1.0, 3.0]], [[1.0, 2.0], [2.0, 4.0]]])).info),
         _out(L.linalg.inv_ex(_t(L, [[[2.0, 1.0], [1.0, 3.0]], [[1.0, 2.0], [2.0, 4.0]]])).inverse[0])],
        "inv_ex_grad": lambda L: _with_grads(L, lambda a: L.linalg.inv_ex(a).inverse, [_mat(L, 63)]),
        "inv_ex_check_errors": _inv_ex_check_errors,
        "cholesky_ex": lambda L: [_out(L.linalg.cholesky_ex(_t(L, [[[4.0, 2.0], [2.0, 3.0]], [[1.0, 2.0], [2.0, 1.0]]])).info),
                                  _out(L.linalg.cholesky_ex(_t(L, [[[4.0, 2.0], [2.0, 3.0]], [[1.0, 2.0], [2.0, 1.0]]])).L[0]),
                                  _out(L.linalg.cholesky_ex(_t(L, [[4.0, 2.0], [2.0, 3.0]]), upper=True).L)],
        "solve_ex": lambda L: _out(list(L.linalg.solve_ex(_t(L, [[2.0, 1.0], [1.0, 3.0]]), _t(L, [1.0, 2.0])))),
        "lu_factor_ex": lambda L: _out(list(L.linalg.lu_factor_ex(_t(L, [[0.0, 1.0], [0.0, 2.0]])))),
        "tensorinv": lambda L: _with_grads(L, lambda a: L.linalg.tensorinv(a.reshape(4, 2, 2), ind=1), [_mat(L, 64, 4)]),
        "tensorsolve": lambda L: _with_grads(L, lambda a, b: L.linalg.tensorsolve(a.reshape(2, 3, 6), b.reshape(2, 3)),
                                             [_mat(L, 65, 6), _rand(L, (6,), 66)]),
        "tensorsolve_dims": lambda L: _out(L.linalg.tensorsolve(_rand(L, (6, 2, 3), 67, False), _rand(L, (2, 3), 68, False),
                                                                dims=(0,))),
        "linalg_diagonal": lambda L: _out(L.linalg.diagonal(_rand(L, (2, 3, 3), 69, False), offset=1)),
        "householder_product": lambda L: _with_grads(L, L.linalg.householder_product,
                                                     [_mat(L, 141, 4, 3), _rand(L, (2,), 142)]),
        "triangular_solve": lambda L: _out(list(L.triangular_solve(_t(L, [[1.0], [2.0]]), _t(L, [[2.0, 1.0], [0.0, 4.0]]),
                                                                  transpose=True))),
    }


def _alias_cases():
    x4 = lambda L, seed: _rand(L, (2, 3, 4, 4), seed)
    return {
        "torch_conv2d": lambda L: _with_grads(L, lambda x, w: L.conv2d(x, w, None, 1, 1), [x4(L, 70), _rand(L, (2, 3, 3, 3), 71)]),
        "torch_max_pool2d": lambda L: _out(L.max_pool2d(x4(L, 72), 2)),
        "torch_max_pool1d_indices": lambda L: _out(list(L.max_pool1d_with_indices(_rand(L, (1, 2, 6), 73), 2))),
        "torch_adaptive_max_pool1d": lambda L: _out(list(L.adaptive_max_pool1d(_rand(L, (1, 2, 6), 74), 3))),
        "torch_batch_norm": lambda L: _with_grads(L, lambda x, w, b: L.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, True),
                                                  [x4(L, 75), _rand(L, (3,), 76), _rand(L, (3,), 77)]),
        "torch_layer_norm": lambda L: _with_grads(L, lambda x: L.layer_norm(x, (4,)), [x4(L, 78)]),
        "torch_group_norm": lambda L: _out(L.group_norm(_rand(L, (2, 4, 3), 79, False), 2)),
        "torch_instance_norm": lambda L: _out(L.instance_norm(x4(L, 80).detach(), None, None, None, None, True, 0.1, 1e-5,
                                                              True)),
        "native_layer_norm": lambda L: _out(list(L.native_layer_norm(_rand(L, (2, 3, 4), 81, False), [4], None, None,
                                                                     1e-5))),
        "torch_embedding": lambda L: _with_grads(L, lambda w: L.embedding(w, _t(L, [[0, 2], [2, 1]], "int64"), 2),
                                                 [_rand(L, (3, 2), 82)]),
        "torch_kl_div": lambda L: [_out(L.kl_div(_rand(L, (4,), 83, False).log_softmax(0), _t(L, [0.1, 0.2, 0.3, 0.4]), r))
                                   for r in (0, 1, 2)],
        "torch_bce_logits": lambda L: _out(L.binary_cross_entropy_with_logits(_rand(L, (3,), 84, False), _t(L, [0.0, 1.0, 1.0]),
                                                                              None, _t(L, [2.0, 2.0, 2.0]), 2)),
        "torch_losses_int_reduction": lambda L: [
            _out(L.hinge_embedding_loss(_t(L, [0.5, -1.0]), _t(L, [1.0, -1.0]), 1.0, 0)),
            _out(L.margin_ranking_loss(_t(L, [1.0, 2.0]), _t(L, [2.0, 1.0]), _t(L, [1.0, 1.0]), 0.5, 2)),
            _out(L.cosine_embedding_loss(_rand(L, (2, 3), 85, False), _rand(L, (2, 3), 86, False), _t(L, [1.0, -1.0]), 0.0, 1)),
            _out(L.triplet_margin_loss(_rand(L, (2, 3), 87, False), _rand(L, (2, 3), 88, False), _rand(L, (2, 3), 89, False))),
            _out(L.poisson_nll_loss(_t(L, [0.5, 1.0]), _t(L, [1.0, 2.0]), True, False, 1e-8, 1))],
        "torch_activations": lambda L: [_out(f(_t(L, [-2.0, -0.3, 0.0, 0.4, 3.0]))) for f in
                                        (L.selu, L.celu, lambda x: L.threshold(x, 0.1, 20.0), L.hardshrink,
                                         lambda x: L.prelu(x, _t(L, [0.25])), lambda x: L.rrelu(x))],
        "torch_in_place_activations": lambda L: [_out(f(_t(L, [-2.0, -0.3, 0.0, 0.4, 3.0]))) for f in
                                                 (L.relu_, L.selu_, L.celu_, lambda x: L.threshold_(x, 0.1, 20.0),
                                                  L.nn.functional.elu_, lambda x: L.nn.functional.leaky_relu_(x, 0.2),
                                                  L.nn.functional.hardtanh_, L.exp_, lambda x: L.clamp_(x, -1, 1))],
        "torch_dropout_eval": lambda L: [_out(L.dropout(_t(L, [1.0, 2.0]), 0.5, False)),
                                         _out(L.feature_alpha_dropout(_t(L, [[1.0, 2.0]]), 0.5, False))],
        "torch_distances": lambda L: [_out(L.cosine_similarity(_rand(L, (2, 3), 90, False), _rand(L, (2, 3), 91, False))),
                                      _out(L.pairwise_distance(_rand(L, (2, 3), 92, False), _rand(L, (2, 3), 93, False))),
                                      _out(L.pdist(_rand(L, (3, 2), 94, False)))],
        "torch_pixel_shuffle": lambda L: _out(L.pixel_unshuffle(L.pixel_shuffle(_rand(L, (1, 4, 2, 2), 95, False), 2), 2)),
        "conv_tbc": lambda L: _with_grads(L, L.conv_tbc, [_rand(L, (5, 2, 3), 96), _rand(L, (3, 3, 4), 97),
                                                          _rand(L, (4,), 98)]),
        "aliases": lambda L: [_out(L.not_equal(_t(L, [1, 2], "int64"), 2)), _out(L.greater_equal(_t(L, [1.0, 2.0]), 2.0)),
                              _out(L.arctan2(_t(L, [1.0, -1.0]), _t(L, [-1.0, -1.0]))),
                              _out(list(L.split_with_sizes(_t(L, [1.0, 2.0, 3.0]), [1, 2])))],
        "tensor_methods": lambda L: [_out(_t(L, [3.0, 1.0, 3.0]).unique()), _out(_t(L, [1.0, 2.0]).cumsum_(0)),
                                     _out(_t(L, [[1.0, 2.0], [3.0, 4.0]]).sum_to_size(1, 2)),
                                     _out(L.zeros(5, 2).fill_diagonal_(3.0, wrap=True)),
                                     _out(L.zeros(3, 3, 3).fill_diagonal_(1.0)),
                                     _out(_t(L, [[1.0, 2.0], [3.0, 4.0]]).put_(_t(L, [3, -4], "int64"), _t(L, [9.0, 8.0]))),
                                     _out(_t(L, [1.0, 2.0]).put(_t(L, [0, 0], "int64"), _t(L, [5.0, 6.0]), True)),
                                     _out(L.isposinf(_t(L, [INF, -INF, 1.0]))), _out(L.isneginf(_t(L, [INF, -INF, 1.0]))),
                                     _out(L.angle(_t(L, [-2.0, 0.0, 3.0, NAN]))), _out(L.angle(_t(L, [-2, 3], "int64"))),
                                     _out(L.isreal(_t(L, [1.0]))), _out(_t(L, [1.0, 2.0]).hypot_(_t(L, [3.0, 4.0]))),
                                     _out(L.rsub(_t(L, [1.0, 2.0]), _t(L, [5.0, 5.0]), alpha=2)),
                                     {"python": repr((_t(L, [1.0]).nbytes, _t(L, [1, 2], "int32").itemsize,
                                                      L.is_nonzero(_t(L, [2.0])), L.is_same_size(L.zeros(2), L.ones(2)),
                                                      L.zeros(2).is_complex(), _t(L, [1.0]).get_device()))}],
        "is_nonzero_ambiguous": lambda L: _raises(lambda: L.is_nonzero(L.zeros(2))),
        "imag_real_tensor": lambda L: _raises(lambda: L.zeros(2).imag),
        "view_copies": lambda L: [_out(L.permute_copy(_rand(L, (2, 3), 99, False), (1, 0))),
                                  _out(L.transpose_copy(_rand(L, (2, 3), 100, False), 0, 1)),
                                  _out(L.slice_copy(_t(L, [1.0, 2.0, 3.0, 4.0]), 0, 1, 4, 2))],
        "windows": lambda L: [_out(f(n, periodic)) for f in (L.hann_window, L.hamming_window, L.blackman_window,
                                                             L.bartlett_window, L.kaiser_window)
                              for n in (0, 1, 5, 8) for periodic in (True, False)],
        "window_dtype": lambda L: [_out(L.hann_window(4, dtype=L.float64)), _out(L.kaiser_window(6, False, 5.0))],
        "window_negative": lambda L: _raises(lambda: L.hann_window(-1)),
        "empty_strided": lambda L: {"python": repr((tuple(L.empty_strided((2, 3), (1, 2)).stride()),
                                                    tuple(L.empty_strided((2, 3), (1, 2)).shape)))},
        "legacy_types": lambda L: [_out(L.FloatTensor([1, 2])), _out(L.LongTensor([1.0, 2.0])), list(L.DoubleTensor(2, 3).shape),
                                   _out(L.BoolTensor([1, 0])),
                                   {"python": repr((isinstance(L.zeros(1), L.FloatTensor), isinstance(L.zeros(1), L.LongTensor),
                                                    _t(L, [1], "int64").type(L.FloatTensor).dtype == L.float32))}],
        "channels_last": lambda L: {"python": repr((
            tuple(L.zeros(2, 3, 4, 5).contiguous(memory_format=L.channels_last).stride()),
            L.zeros(2, 3, 4, 5).to(memory_format=L.channels_last).is_contiguous(memory_format=L.channels_last),
            L.zeros(2, 3, 4, 5).to(memory_format=L.channels_last).is_contiguous(),
            tuple(L.zeros(2, 3, 4, 5).to(memory_format=L.channels_last).clone().stride()),
            tuple(L.zeros(1, 2, 3, 4, 5).contiguous(memory_format=L.channels_last_3d).stride()),
            tuple(L.zeros(2, 3, 4, 5).to(memory_format=L.channels_last).contiguous().stride())))},
        "channels_last_values": lambda L: _with_grads(L, lambda x: x.to(memory_format=L.channels_last) * 2, [x4(L, 101)]),
        "channels_last_rank": lambda L: _raises(lambda: L.zeros(2, 3).contiguous(memory_format=L.channels_last)),
    }


def _ctc(L, seed, T=6, N=2, C=4, zero_infinity=False, reduction="mean", targets=None, target_lengths=None,
         input_lengths=None, blank=0, through_logits=False):
    logits = np.random.default_rng(seed).standard_normal((T, N, C))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = [[1, 2], [3, 3]] if targets is None else targets
    target_lengths = [2, 2] if target_lengths is None else target_lengths
    input_lengths = [T] * N if input_lengths is None else input_lengths

    def loss(x):
        lp = x.log_softmax(-1) if through_logits else x
        return L.nn.functional.ctc_loss(lp, _t(L, targets, "int64"), _t(L, input_lengths, "int64"),
                                        _t(L, target_lengths, "int64"), blank, reduction, zero_infinity)

    return _with_grads(L, loss, [_t(L, logits if through_logits else log_probs, grad=True)])


def _nn_cases():
    return {
        "ctc_mean": lambda L: _ctc(L, 110),
        "ctc_sum_logits": lambda L: _ctc(L, 111, reduction="sum", through_logits=True),
        "ctc_none_lengths": lambda L: _ctc(L, 112, reduction="none", input_lengths=[6, 4], target_lengths=[2, 1]),
        "ctc_repeated_labels": lambda L: _ctc(L, 113, T=5, targets=[[2, 2, 2], [1, 3, 1]], target_lengths=[3, 3],
                                              reduction="none"),
        "ctc_impossible": lambda L: _ctc(L, 114, T=3, targets=[[1, 1, 1], [1, 2, 3]], target_lengths=[3, 3],
                                         reduction="none"),
        "ctc_zero_infinity": lambda L: _ctc(L, 115, T=3, targets=[[1, 1, 1], [1, 2, 0]], target_lengths=[3, 2],
                                            zero_infinity=True, reduction="sum", blank=0),
        "ctc_empty_target": lambda L: _ctc(L, 116, targets=[[1], [2]], target_lengths=[0, 1], reduction="none"),
        "ctc_blank_last": lambda L: _ctc(L, 117, targets=[[0, 1], [2, 2]], blank=3),
        "ctc_concatenated_targets": lambda L: _with_grads(L, lambda x: L.nn.functional.ctc_loss(
            x.log_softmax(-1), _t(L, [1, 2, 3, 1, 1], "int64"), [5, 4], [2, 3]), [_rand(L, (5, 2, 4), 118)]),
        "ctc_unbatched": lambda L: _with_grads(L, lambda x: L.nn.functional.ctc_loss(
            x.log_softmax(-1), _t(L, [1, 2], "int64"), [5], [2], reduction="none"), [_rand(L, (5, 3), 119)]),
        "ctc_module": lambda L: _out(L.nn.CTCLoss(blank=1)(_rand(L, (4, 1, 3), 120, False).log_softmax(-1),
                                                           _t(L, [[0, 2]], "int64"), [4], [2])),
        "ctc_input_length_too_long": lambda L: _raises(lambda: L.nn.functional.ctc_loss(
            L.zeros(3, 1, 4).log_softmax(-1), _t(L, [[1]], "int64"), [4], [1])),
        "ctc_double_backward": lambda L: _raises(lambda: _ctc_second_derivative(L)),
        "glu_module": lambda L: _with_grads(L, L.nn.GLU(1), [_rand(L, (2, 4), 122)]),
        "adaptive_max_pool3d_module": lambda L: _out(L.nn.AdaptiveMaxPool3d((1, 2, 2))(_rand(L, (1, 2, 3, 4, 4), 123, False))),
        # values only: PyTorch's hand-written CrossMapLRN2d backward is not the derivative of its own
        # forward (finite differences disagree); rustdl's gradient is (tests/test_torch_surface.py)
        "cross_map_lrn2d": lambda L: [_out(L.nn.CrossMapLRN2d(size, 1e-2, 0.75, 1.0)(_rand(L, (2, 7, 2, 2), 124, False)))
                                      for size in (1, 2, 3, 4, 5, 9)],
        "multilabel_margin_module": lambda L: _out(L.nn.MultiLabelMarginLoss()(_rand(L, (2, 4), 125, False),
                                                                              _t(L, [[3, 0, -1, 1], [1, 2, 3, -1]], "int64"))),
        "triplet_distance_module": lambda L: _out(L.nn.TripletMarginWithDistanceLoss(
            distance_function=L.nn.PairwiseDistance(), margin=0.5)(*[_rand(L, (3, 2), s, False) for s in (126, 127, 128)])),
        "lazy_linear": lambda L: {"python": repr(_lazy_summary(L, L.nn.LazyLinear(4), L.zeros(2, 3)))},
        "lazy_conv2d": lambda L: {"python": repr(_lazy_summary(L, L.nn.LazyConv2d(6, 3, stride=2), L.zeros(1, 5, 7, 7)))},
        "lazy_conv_transpose1d": lambda L: {"python": repr(_lazy_summary(L, L.nn.LazyConvTranspose1d(2, 3, groups=2),
                                                                         L.zeros(1, 4, 5)))},
        "lazy_batch_norm2d": lambda L: {"python": repr(_lazy_summary(L, L.nn.LazyBatchNorm2d(), L.zeros(2, 3, 2, 2)))},
        "norm_bias_flag": lambda L: {"python": repr([str(m) + repr(sorted(m.state_dict())) for m in (
            L.nn.BatchNorm1d(3, bias=False), L.nn.InstanceNorm2d(3), L.nn.InstanceNorm2d(3, affine=True, bias=False),
            L.nn.GroupNorm(2, 4), L.nn.GroupNorm(2, 4, bias=False))])},
        "lazy_instance_norm1d": lambda L: {"python": repr(_lazy_summary(L, L.nn.LazyInstanceNorm1d(affine=True),
                                                                        L.zeros(2, 3, 5)))},
        "lazy_instance_norm1d_unbatched": lambda L: _raises(lambda: L.nn.LazyInstanceNorm1d(affine=True)(L.zeros(3, 5))),
    }


def _linear_with(L, values, bias=(0.5, -0.5)):
    layer = L.nn.Linear(len(values[0]), len(values))
    with L.no_grad():
        layer.weight.copy_(_t(L, values, "float32"))
        layer.bias.copy_(_t(L, list(bias)[:len(values)], "float32"))
    return layer


_W = [[0.1, -2.0, 0.3, 4.0], [-0.5, 0.6, -7.0, 0.05]]


def _prune_summary(L, module, x=None):
    names = (sorted(n for n, _ in module.named_parameters()), sorted(n for n, _ in module.named_buffers()))
    result = {"python": repr(names)}
    result["weight"] = _out(module.weight)
    if x is not None:
        y = module(x)
        y.sum().backward()
        result["out"] = _out(y)
        result["grad"] = _out(module.weight_orig.grad if hasattr(module, "weight_orig") else module.weight.grad)
    return result


def _prune_cases():
    def P(L):  # torch.nn.utils.prune is imported on request in PyTorch
        return importlib.import_module(L.__name__ + ".nn.utils.prune")

    return {
        "prune_l1_unstructured": lambda L: _prune_summary(
            L, P(L).l1_unstructured(_linear_with(L, _W), "weight", amount=3), _t(L, [[1.0, 2.0, 3.0, 4.0]], "float32")),
        "prune_l1_fraction_then_remove": lambda L: _prune_summary(
            L, P(L).remove(P(L).l1_unstructured(_linear_with(L, _W), "weight", amount=0.5), "weight")),
        "prune_successive": lambda L: _prune_summary(
            L, P(L).l1_unstructured(P(L).l1_unstructured(_linear_with(L, _W), "weight", 2), "weight", 2)),
        "prune_ln_structured": lambda L: _prune_summary(
            L, P(L).ln_structured(_linear_with(L, _W), "weight", amount=1, n=2, dim=0), _t(L, [[1.0, 1.0, 1.0, 1.0]], "float32")),
        "prune_ln_structured_columns": lambda L: _prune_summary(
            L, P(L).ln_structured(_linear_with(L, _W), "weight", amount=0.5, n=1, dim=1)),
        "prune_custom_mask": lambda L: _prune_summary(
            L, P(L).custom_from_mask(_linear_with(L, _W), "weight", _t(L, [[1, 0, 1, 0], [0, 1, 1, 1]], "float32"))),
        "prune_bias_identity": lambda L: _prune_summary(L, P(L).identity(_linear_with(L, _W), "bias")),
        "prune_global": lambda L: _global_pruned(L),
        "prune_amount_too_large": lambda L: _raises(lambda: P(L).l1_unstructured(_linear_with(L, _W), "weight", 9)),
        "prune_remove_unpruned": lambda L: _raises(lambda: P(L).remove(_linear_with(L, _W), "weight")),
    }


def _optimizer_run(L, make, steps=4):
    p = L.nn.Parameter(_t(L, [1.0, -2.0, 0.5, 3.0], "float32"))
    optimizer = make(L, [p])
    trace = []
    for _ in range(steps):
        optimizer.zero_grad()
        ((p - _t(L, [0.3, 0.3, 0.3, 0.3], "float32")) ** 2 * _t(L, [1.0, 2.0, 3.0, 4.0], "float32")).sum().backward()
        optimizer.step()
        trace.append(_out(p))
    state = optimizer.state_dict()["state"][0]
    return [trace, {k: _out(v) for k, v in sorted(state.items())}]


def _variable_case(L):
    x = L.ones(2)
    return {"python": repr((L.autograd.Variable(x, requires_grad=True).requires_grad, x.requires_grad,
                            isinstance(x, L.autograd.Variable), L.autograd.Variable(x * 2).grad_fn is None))}


def _storage_case(L):
    import warnings

    x = L.arange(6.0).reshape(2, 3)
    y = x[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        typed = y.storage()
        return {"python": repr((x.untyped_storage().data_ptr() == y.untyped_storage().data_ptr(),
                                x.untyped_storage().nbytes(), len(y.untyped_storage()), L.is_storage(y.untyped_storage()),
                                typed.size(), typed.tolist(), typed[4], typed.element_size(),
                                L.zeros(2).untyped_storage().data_ptr() == x.untyped_storage().data_ptr()))}


def _special_cases():
    sp = lambda L: L.special
    xs = [0.0, 1e-8, 0.5, -3.0, 7.5, 20.0, 29.9, 30.1, 35.0, -50.0, 700.0, INF, -INF, NAN]
    return {
        "bessel_i": lambda L: [_out(f(_t(L, xs))) for f in (sp(L).i0, sp(L).i0e, sp(L).i1, sp(L).i1e, L.i0)],
        "bessel_i_float32": lambda L: [_out(f(_t(L, [0.0, 0.5, -3.0, 20.0, 40.0], "float32")))
                                       for f in (sp(L).i0, sp(L).i0e, sp(L).i1, sp(L).i1e)],
        "bessel_i_int": lambda L: _out(sp(L).i0(_t(L, [0, 1, 2], "int64"))),
        "bessel_i_grads": lambda L: [_with_grads(L, f, [_t(L, [0.0, 0.3, -2.0, 40.0], grad=True)], order2=True)
                                     for f in (sp(L).i0, sp(L).i0e, sp(L).i1, sp(L).i1e)],
        "ndtri": lambda L: _with_grads(L, sp(L).ndtri, [_t(L, [1e-300, 1e-30, 1e-10, 0.025, 0.3, 0.5, 0.7, 0.975,
                                                             1 - 1e-10], grad=True)]),
        "ndtri_edges": lambda L: _out(sp(L).ndtri(_t(L, [0.0, 1.0, -0.5, 1.5, NAN]))),
        "erfcx": lambda L: _with_grads(L, sp(L).erfcx, [_t(L, [-26.0, -5.0, -1.0, 0.0, 0.5, 3.0, 24.9, 25.1, 100.0, 1e10],
                                                           grad=True)]),
        "erfcx_edges": lambda L: _out(sp(L).erfcx(_t(L, [-30.0, INF, -INF, NAN], "float32"))),
        "gammainc": lambda L: _with_grads(L, lambda x: sp(L).gammainc(_t(L, [0.5, 1.0, 5.0, 100.0, 2.5, 30.0]), x),
                                          [_t(L, [0.2, 1.0, 10.0, 90.0, 0.0, 45.0], grad=True)]),
        "gammaincc": lambda L: _with_grads(L, lambda x: sp(L).gammaincc(_t(L, [0.5, 1.0, 5.0, 100.0, 3.0]), x),
                                           [_t(L, [0.2, 1.0, 10.0, 110.0, 1e-3], grad=True)]),
        "gammainc_edges": lambda L: [_out(sp(L).gammainc(_t(L, [0.0, 0.0, -1.0, 1.0, 1.0, INF, 2.0]),
                                                         _t(L, [0.0, 2.0, 1.0, -1.0, INF, 3.0, NAN]))),
                                     _out(sp(L).gammaincc(_t(L, [0.0, 0.0, 1.0, 1.0]), _t(L, [0.0, 2.0, 0.0, INF]))),
                                     _out(L.igamma(_t(L, [2.0], "float32"), _t(L, [3.0], "float32"))),
                                     _out(_t(L, [[1.0], [2.0]]).igammac(_t(L, [0.5, 4.0])))],
        "gammainc_a_grad": lambda L: _raises(lambda: sp(L).gammainc(_t(L, [2.0], grad=True), _t(L, [1.0])).sum().backward()),
        "zeta": lambda L: _out(sp(L).zeta(_t(L, [2.0, 3.0, 1.5, 1.0, 0.5, 4.0, 2.0, 2.0, 10.0]),
                                          _t(L, [1.0, 2.0, 0.5, 1.0, 1.0, -2.0, -1.5, 1e-3, 3.0]))),
        "polynomials": lambda L: [_out(getattr(sp(L), name)(_t(L, [-1.0, -0.3, 0.0, 0.5, 1.0, 2.5, NAN]), n))
                                  for name in ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
                                               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
                                               "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
                                               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h",
                                               "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p")
                                  for n in (0, 1, 4, 7)],
        "polynomial_tensor_n": lambda L: _out(sp(L).hermite_polynomial_h(_t(L, [0.3]), _t(L, [-1, 0, 1, 2, 5], "int64"))),
    }


def _functions_more_cases():
    warn_free = importlib.import_module("warnings")

    def quiet(fn):
        with warn_free.catch_warnings():
            warn_free.simplefilter("ignore")
            return fn()

    return {
        "gradient_uniform": lambda L: _with_grads(L, lambda f: L.gradient(f, spacing=0.5), [_rand(L, (6,), 150)]),
        "gradient_2d_dims": lambda L: _with_grads(L, lambda f: L.gradient(f, dim=(0, 1), spacing=[2.0, 0.5], edge_order=2),
                                                  [_rand(L, (4, 5), 151)]),
        "gradient_coordinates": lambda L: _with_grads(L, lambda f: L.gradient(f, spacing=(_t(L, [0.0, 1.0, 1.5, 3.5, 4.0]),),
                                                                              edge_order=2), [_rand(L, (5,), 152)]),
        "gradient_coordinates_order1": lambda L: _out(list(L.gradient(_t(L, [1.0, 4.0, 9.0, 16.0, 25.0]),
                                                                      spacing=(_t(L, [0.0, 1.0, 1.5, 3.5, 4.0]),)))),
        "gradient_int": lambda L: _out(list(L.gradient(_t(L, [[1, 4, 9], [2, 3, 8]], "int64"), dim=1))),
        "gradient_too_short": lambda L: _raises(lambda: L.gradient(_t(L, [1.0, 2.0]), edge_order=2)),
        "histogram": lambda L: [_out(list(L.histogram(_t(L, [1.0, 2.0, 1.0, 4.0]), bins=3, range=(0.0, 4.0)))),
                                _out(list(L.histogram(_t(L, [1.0, 2.0, 1.0, 4.0, 9.0], "float32"),
                                                      bins=_t(L, [0.0, 2.0, 5.0], "float32"),
                                                      weight=_t(L, [1.0, 0.5, 2.0, 1.0, 3.0], "float32"), density=True)))],
        "histogramdd": lambda L: [_out(v) if not isinstance(v, list) else [_out(e) for e in v]
                                  for v in L.histogramdd(_t(L, [[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]]), bins=[2, 2])],
        "index_reduce": lambda L: [_out(_t(L, [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]).index_reduce(
            0, _t(L, [0, 0, 2], "int64"), _t(L, [[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]), reduce))
            for reduce in ("prod", "mean", "amax", "amin")],
        "index_reduce_exclude_self": lambda L: _with_grads(L, lambda x, s: L.index_reduce(
            x, 1, _t(L, [1, 1], "int64"), s, "mean", include_self=False), [_rand(L, (2, 3), 153), _rand(L, (2, 2), 154)]),
        "rnn_cells": lambda L: _with_grads(L, lambda x, h, c, wi, wh, b: [*L.lstm_cell(x, (h, c), wi, wh, b, b),
                                                                         L.gru_cell(x, h, wi[:6], wh[:6], b[:6], b[:6]),
                                                                         L.rnn_tanh_cell(x, h, wi[:2], wh[:2]),
                                                                         L.rnn_relu_cell(x, h, wi[:2], wh[:2], b[:2])],
                                           [_rand(L, (3, 4), 155), _rand(L, (3, 2), 156), _rand(L, (3, 2), 157),
                                            _rand(L, (8, 4), 158), _rand(L, (8, 2), 159), _rand(L, (8,), 160)]),
        "convolution": lambda L: [_out(L.convolution(_rand(L, (1, 2, 5), 161, False), _rand(L, (3, 2, 2), 162, False), None,
                                                     [2], [1], [1], False, [0], 1)),
                                  _out(L.convolution(_rand(L, (1, 2, 3, 3), 163, False), _rand(L, (2, 1, 2, 2), 164, False),
                                                     _t(L, [0.5]), [2, 2], [0, 0], [1, 1], True, [1, 1], 1))],
        "constant_pad_nd": lambda L: _out(L.constant_pad_nd(_rand(L, (2, 2), 165, False), [1, 0, 0, 2], 3.5)),
        "native_norms": lambda L: [_out(list(L.native_batch_norm(_rand(L, (4, 3, 2), 166, False), None, None, None, None,
                                                                 True, 0.1, 1e-5))),
                                   _out(list(L.native_group_norm(_rand(L, (2, 4, 3), 167, False), None, None, 2, 4, 3, 2,
                                                                 1e-5)))],
        "native_dropout_eval": lambda L: _out(list(L.native_dropout(_t(L, [1.0, 2.0]), 0.5, False))),
        "matrix_norm_aliases": lambda L: [_out(L.nuclear_norm(_rand(L, (3, 2), 168, False))),
                                          _out(L.frobenius_norm(_rand(L, (2, 3, 2), 169, False), dim=(1, 2)))],
        "torch_ctc_loss": lambda L: _out(L.ctc_loss(_rand(L, (5, 2, 4), 170, False).log_softmax(-1),
                                                    _t(L, [[1, 2], [1, 1]], "int64"), [5, 5], [2, 2])),
        "range_deprecated": lambda L: quiet(lambda: [_out(L.range(1, 4)), _out(L.range(0, 1, 0.25)),
                                                     _out(L.range(5, 1, -2, dtype=L.int64))]),
        "nonzero_static": lambda L: [_out(L.nonzero_static(_t(L, [0, 1, 0, 2], "int64"), size=s)) for s in (1, 4)],
        "typename_signed": lambda L: {"python": repr((L.typename(L.zeros(2)), L.typename(3), L.typename(L.nn.Linear(1, 1)),
                                                      L.is_signed(L.zeros(1, dtype=L.uint8)), L.is_inference_mode_enabled()))},
        "removed_functions": lambda L: [_raises(lambda name=name, arity=arity: getattr(L, name)(*[L.eye(2)] * arity))
                                        for name, arity in (("lstsq", 2), ("solve", 2), ("symeig", 1),
                                                            ("matrix_rank", 1), ("eig", 1))],
        "cond_while_loop": lambda L: [_out(L.cond(_t(L, True, "bool"), lambda x: x + 1, lambda x: x - 1, (_t(L, [1.0]),))),
                                      _out(list(L.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, x * 2),
                                                             (_t(L, 0, "int64"), _t(L, [1.0])))))],
    }


def _adaptive_softmax(L, unbatched=False):
    m = L.nn.AdaptiveLogSoftmaxWithLoss(8, 12, [3, 7], div_value=2.0, head_bias=True).double()
    rng = np.random.default_rng(171)
    with L.no_grad():
        for name, p in sorted(m.named_parameters()):
            p.copy_(_t(L, rng.standard_normal(tuple(p.shape)) * 0.5))
    x = _t(L, rng.standard_normal((8,) if unbatched else (5, 8)), grad=True)
    y = _t(L, 10 if unbatched else [0, 2, 4, 8, 11], "int64")
    out = m(x, y)
    (grad,) = L.autograd.grad(out.loss, [x])
    result = [_out(out.output), _out(out.loss), _out(grad), {"python": repr(sorted(m.state_dict()))}]
    if not unbatched:
        result += [_out(m.log_prob(x)), _out(m.predict(x))]
    return result


def _extra_state_case(L):
    class Counter(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = L.nn.Linear(2, 2)
            self.count = 3

        def get_extra_state(self):
            return {"count": self.count}

        def set_extra_state(self, state):
            self.count = state["count"]

    model = L.nn.Sequential(Counter(), L.nn.BatchNorm1d(2))
    state = model.state_dict()
    fresh = L.nn.Sequential(Counter(), L.nn.BatchNorm1d(2))
    fresh[0].count = 0
    loaded = fresh.load_state_dict(state)
    missing = L.nn.Sequential(Counter()).load_state_dict({k: v for k, v in state.items() if k.startswith("0.lin.w")}
                                                         | {"extra": L.zeros(1)}, strict=False)
    return {"python": repr((list(state), state["0._extra_state"], fresh[0].count, list(loaded.missing_keys),
                            list(missing.missing_keys), list(missing.unexpected_keys),
                            tuple(model.get_buffer("1.running_var").shape)))}


def _fractional_cases():
    def pool2d(L, x, **kw):
        samples = _t(L, [[[0.3, 0.8], [0.1, 0.55]], [[0.99, 0.0], [0.5, 0.25]]])
        return L.nn.functional.fractional_max_pool2d(x, 2, return_indices=True, _random_samples=samples[:x.shape[0]], **kw)

    return {
        "fractional_max_pool2d": lambda L: _with_grads(L, lambda x: tuple(pool2d(L, x, output_size=(4, 5))),
                                                       [_rand(L, (2, 2, 7, 9), 180)]),
        "fractional_max_pool2d_ratio": lambda L: _out(list(pool2d(L, _rand(L, (1, 2, 8, 8), 181, False),
                                                                  output_ratio=(0.6, 0.5)))),
        "fractional_max_pool2d_nan": lambda L: _out(list(pool2d(L, _t(L, [[[[1.0, NAN, 3.0], [4.0, 5.0, NAN],
                                                                              [0.0, 2.0, 1.0]]] * 2]),
                                                                output_size=2))),
        "fractional_max_pool3d": lambda L: _with_grads(L, lambda x: L.nn.functional.fractional_max_pool3d(
            x, (2, 1, 2), output_size=(3, 3, 2), _random_samples=_t(L, [[[0.2, 0.7, 0.4]]])), [_rand(L, (1, 1, 5, 4, 5), 182)]),
        "fractional_max_pool_module": lambda L: _out(L.nn.FractionalMaxPool2d(3, output_size=2, _random_samples=_t(
            L, [[[0.5, 0.5]]]))(_rand(L, (2, 6, 6), 183, False).unsqueeze(0)[:, :1])),
        "fractional_max_pool_too_large": lambda L: _raises(lambda: L.nn.functional.fractional_max_pool2d(
            L.zeros(1, 1, 4, 4), 3, output_size=3)),
    }


def _more_cases():
    def unpool(L, dims):
        pool = (L.nn.functional.max_pool1d, L.nn.functional.max_pool2d, L.nn.functional.max_pool3d)[dims - 1]
        module = (L.nn.MaxUnpool1d, L.nn.MaxUnpool2d, L.nn.MaxUnpool3d)[dims - 1]
        x = _rand(L, (1, 2) + (4,) * dims, 130 + dims, False)
        out, idx = pool(x, 2, return_indices=True)
        return [_out(module(2)(out, idx)), {"python": repr(str(module(2)))}]

    return {
        "variable": _variable_case,
        "storage": _storage_case,
        "module_extra_state": _extra_state_case,
        "adaptive_log_softmax": _adaptive_softmax,
        "adaptive_log_softmax_unbatched": lambda L: _adaptive_softmax(L, True),
        "adaptive_log_softmax_bad_target": lambda L: _raises(lambda: L.nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2])(
            L.zeros(2, 4), _t(L, [1, 6], "int64"))),
        "adaptive_log_softmax_bad_cutoffs": lambda L: _raises(lambda: L.nn.AdaptiveLogSoftmaxWithLoss(4, 6, [3, 2])),
        "variable_not_tensor": lambda L: _raises(lambda: L.autograd.Variable([1.0])),
        "rprop": lambda L: _optimizer_run(L, lambda L, ps: L.optim.Rprop(ps, lr=0.05)),
        "rprop_maximize": lambda L: _optimizer_run(L, lambda L, ps: L.optim.Rprop(ps, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2),
                                                                              maximize=True)),
        "asgd": lambda L: _optimizer_run(L, lambda L, ps: L.optim.ASGD(ps, lr=0.05, t0=2, weight_decay=0.1), steps=5),
        "init_aliases": lambda L: [_out(L.nn.init.eye(L.empty(2, 3))), _out(L.nn.init.dirac(L.empty(2, 2, 3)))],
        "init_sparse_counts": lambda L: _out((L.nn.init.sparse_(L.empty(10, 4), 0.3) == 0).sum(0)),
        "init_sparse_3d": lambda L: _raises(lambda: L.nn.init.sparse_(L.empty(2, 2, 2), 0.5)),
        "max_unpool1d": lambda L: unpool(L, 1),
        "max_unpool3d": lambda L: unpool(L, 3),
        "rrelu_eval": lambda L: [_out(L.nn.RReLU(0.1, 0.3).eval()(_t(L, [-2.0, 0.5]))), {"python": repr(str(L.nn.RReLU()))}],
        "feature_alpha_dropout_eval": lambda L: _out(L.nn.FeatureAlphaDropout(0.5).eval()(_t(L, [[1.0, -2.0]]))),
        "multilabel_soft_margin_module": lambda L: _with_grads(L, L.nn.MultiLabelSoftMarginLoss(
            weight=_t(L, [1.0, 2.0, 0.5])), [_rand(L, (2, 3), 135), _t(L, [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])]),
        "nll_loss_2d": lambda L: _out(L.nn.NLLLoss2d()(_rand(L, (1, 3, 2, 2), 136, False).log_softmax(1),
                                                       _t(L, [[[0, 1], [2, 1]]], "int64"))),
        "functional_with_indices": lambda L: [_out(list(L.nn.functional.max_pool2d_with_indices(_rand(L, (1, 1, 4, 4), 137, False), 2))),
                                              _out(list(L.nn.functional.adaptive_max_pool1d_with_indices(
                                                  _rand(L, (1, 2, 5), 138, False), 2)))],
        "upsample_deprecated": lambda L: [_out(L.nn.functional.upsample_bilinear(_rand(L, (1, 1, 2, 2), 139, False), scale_factor=2)),
                                          _out(L.nn.functional.upsample_nearest(_rand(L, (1, 1, 2), 140, False), size=5))],
    }


def _global_pruned(L):
    a, b = _linear_with(L, _W), _linear_with(L, [[3.0, -0.2, 0.01, 1.0], [0.4, 0.7, -0.9, 2.0]])
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
    prune.global_unstructured([(a, "weight"), (b, "weight")], prune.L1Unstructured, amount=6)
    return [_out(a.weight), _out(b.weight), {"python": repr(prune.is_pruned(a))}]


def _ctc_second_derivative(L):
    x = _rand(L, (4, 1, 3), 121)
    loss = L.nn.functional.ctc_loss(x.log_softmax(-1), _t(L, [[1]], "int64"), [4], [1])
    (g,) = L.autograd.grad(loss, [x], create_graph=True)
    L.autograd.grad(g.sum(), [x])


def _lazy_summary(L, module, x):
    before = (module.has_uninitialized_params(), type(module).__name__)
    out = module(x)
    return before + (type(module).__name__, tuple(out.shape), str(module),
                     [(k, tuple(v.shape)) for k, v in module.state_dict().items()])


CASES = {**_shape_cases(), **_elementwise_cases(), **_linalg_cases(), **_alias_cases(), **_nn_cases(),
         **_prune_cases(), **_more_cases(), **_special_cases(),
         **_functions_more_cases(), **_fractional_cases()}
