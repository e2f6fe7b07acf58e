"""Cases for the composed torch functions and layers (rustdl/_composite_ops.py,
nn/_functional_more.py, padding and distance modules), shared by
tools/differential/record_more_ops.py (PyTorch) and tests/test_more_ops.py (rustdl): values,
dtypes, shapes and gradients."""

import numpy as np

INF, NAN = float("inf"), float("nan")


def _t(lib, values, dtype="float64", grad=False):
    a = np.array(values, dtype=dtype)
    return lib.tensor(a, requires_grad=grad) if grad else lib.tensor(a)


def _rand(lib, shape, seed, grad=True, scale=1.0):
    return _t(lib, np.random.default_rng(seed).standard_normal(shape) * scale, grad=grad)


def _out(x):
    if isinstance(x, (tuple, list)):
        return [_out(v) for v in x]
    a = x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)
    flat = np.asarray(a, dtype=np.float64).ravel()
    return {"shape": list(a.shape), "dtype": str(x.dtype).split(".")[-1] if hasattr(x, "dtype") else "",
            "values": [None if np.isnan(v) else (str(v) if np.isinf(v) else float(v)) for v in flat]}


def _with_grads(lib, fn, inputs):
    out = fn(*inputs)
    result = {"out": _out(out)}
    outs = out if isinstance(out, (tuple, list)) else [out]
    floats = [o for o in outs if hasattr(o, "requires_grad") and o.requires_grad]
    if floats:
        total = sum((o * _t(lib, np.linspace(0.5, 1.5, o.numel()).reshape(tuple(o.shape)))).sum() for o in floats)
        grads = lib.autograd.grad(total, [i for i in inputs if hasattr(i, "requires_grad") and i.requires_grad],
                                  allow_unused=True)
        result["grads"] = [None if g is None else _out(g) for g in grads]
    return result


CASES = {
    "logaddexp": lambda L: _with_grads(L, L.logaddexp, [_t(L, [1.0, -3.0, 5.0, -INF, 2.0, INF], grad=True),
                                                        _t(L, [2.0, -3.0, -1.0, -INF, INF, INF], grad=True)]),
    "logaddexp2": lambda L: _with_grads(L, L.logaddexp2, [_t(L, [1.0, -3.0, 5.0], grad=True),
                                                          _t(L, [2.0, -3.0, -1.0], grad=True)]),
    "copysign": lambda L: _with_grads(L, L.copysign, [_t(L, [1.0, -2.0, 3.0, 0.0], grad=True),
                                                      _t(L, [-1.0, 2.0, -0.0, -5.0])]),
    "copysign_int": lambda L: _with_grads(L, L.copysign, [_t(L, [1, -2, 3], "int64"), _t(L, [-1, 2, -3], "int64")]),
    "hypot": lambda L: _with_grads(L, L.hypot, [_t(L, [3.0, 1e200, -5.0, 0.5], grad=True),
                                                _t(L, [4.0, 1e200, 12.0, 0.0], grad=True)]),
    "ldexp": lambda L: _with_grads(L, L.ldexp, [_t(L, [1.0, 3.0, -2.0], grad=True), _t(L, [2, -1, 10], "int64")]),
    "diff": lambda L: _with_grads(L, lambda x: L.diff(x, n=2, dim=1), [_rand(L, (2, 5), 1)]),
    "diff_prepend": lambda L: _with_grads(L, lambda x: L.diff(x, prepend=_t(L, [[0.0], [1.0]]), append=x[:, :1]),
                                          [_rand(L, (2, 3), 2)]),
    "diff_bool": lambda L: _with_grads(L, L.diff, [_t(L, [True, False, False, True], "bool")]),
    "kron": lambda L: _with_grads(L, L.kron, [_rand(L, (2, 3), 3), _rand(L, (2, 2), 4)]),
    "kron_rank": lambda L: _with_grads(L, L.kron, [_rand(L, (2,), 5), _rand(L, (3, 2), 6)]),
    "diag_embed": lambda L: _with_grads(L, lambda x: L.diag_embed(x, offset=1, dim1=0, dim2=2), [_rand(L, (2, 3), 7)]),
    "diagflat": lambda L: _with_grads(L, lambda x: L.diagflat(x, -1), [_rand(L, (2, 2), 8)]),
    "tril_indices": lambda L: [_out(L.tril_indices(4, 3, 1)), _out(L.triu_indices(3, 5, -1)), _out(L.tril_indices(0, 3))],
    "searchsorted": lambda L: [_out(L.searchsorted(_t(L, [1.0, 3.0, 5.0, 7.0]), _t(L, [3.0, 6.0, 9.0, 0.0]))),
                               _out(L.searchsorted(_t(L, [1.0, 3.0, 5.0, 7.0]), _t(L, [3.0, 7.0]), right=True)),
                               _out(L.searchsorted(_t(L, [[1.0, 3.0], [2.0, 4.0]]), _t(L, [[3.0], [3.0]]),
                                                   out_int32=True))],
    "bucketize": lambda L: [_out(L.bucketize(_t(L, [[1.0, 6.0], [9.0, 3.0]]), _t(L, [1.0, 3.0, 5.0, 7.0]))),
                            _out(L.bucketize(_t(L, [3.0, 5.0]), _t(L, [1.0, 3.0, 5.0]), right=True))],
    "bincount": lambda L: [_out(L.bincount(_t(L, [0, 1, 1, 3], "int64"))),
                           _out(L.bincount(_t(L, [0, 1, 1, 3], "int64"), minlength=6)),
                           _out(L.bincount(_t(L, [0, 1, 1], "int64"), weights=_t(L, [0.5, 1.0, 2.0], "float32")))],
    "histc": lambda L: [_out(L.histc(_t(L, [1.0, 2.0, 1.0, 4.0, 2.5], "float32"), bins=4, min=0, max=3)),
                        _out(L.histc(_t(L, [1.0, 2.0, 1.0, 4.0]), bins=3))],
    "isin": lambda L: [_out(L.isin(_t(L, [[1, 2], [3, 4]], "int64"), _t(L, [2, 3], "int64"))),
                       _out(L.isin(_t(L, [1.0, 2.0]), _t(L, [2.0]), invert=True))],
    "take_along_dim": lambda L: _with_grads(L, lambda x: L.take_along_dim(x, _t(L, [[0, 2], [1, 1]], "int64"), 1),
                                            [_rand(L, (2, 3), 9)]),
    "take_along_dim_flat": lambda L: _with_grads(L, lambda x: L.take_along_dim(x, _t(L, [5, 0], "int64")),
                                                 [_rand(L, (2, 3), 10)]),
    "kthvalue": lambda L: _with_grads(L, lambda x: tuple(L.kthvalue(x, 2, 1)), [_rand(L, (3, 4), 11)]),
    "kthvalue_keepdim": lambda L: _with_grads(L, lambda x: tuple(x.kthvalue(1, 0, keepdim=True)), [_rand(L, (3, 2), 12)]),
    "quantile": lambda L: _with_grads(L, lambda x: L.quantile(x, 0.3, dim=1), [_rand(L, (2, 5), 13)]),
    "quantile_vec": lambda L: _with_grads(L, lambda x: L.quantile(x, _t(L, [0.0, 0.25, 1.0]), dim=0, keepdim=True),
                                          [_rand(L, (4, 2), 14)]),
    "quantile_all": lambda L: _with_grads(L, lambda x: L.quantile(x, 0.5), [_rand(L, (3, 3), 15)]),
    "quantile_interp": lambda L: [_out(L.quantile(_t(L, [1.0, 2.0, 3.0, 4.0]), 0.4, interpolation=m))
                                  for m in ("lower", "higher", "midpoint", "nearest")],
    "quantile_nan": lambda L: [_out(L.quantile(_t(L, [[1.0, NAN, 3.0], [1.0, 2.0, 3.0]]), 0.5, dim=1)),
                               _out(L.nanquantile(_t(L, [[1.0, NAN, 3.0], [NAN, NAN, NAN]]), 0.5, dim=1))],
    "nanmean": lambda L: _with_grads(L, lambda x: L.nanmean(x * _t(L, [[1.0, NAN, 1.0], [1.0, 1.0, 1.0]]), dim=1),
                                     [_rand(L, (2, 3), 16)]),
    "rot90": lambda L: [_with_grads(L, lambda x, k=k: L.rot90(x, k, (0, 1)), [_rand(L, (2, 3), 17)]) for k in (1, 2, 3, -1)],
    "msort": lambda L: _with_grads(L, L.msort, [_rand(L, (3, 2), 18)]),
    "trapezoid": lambda L: [_with_grads(L, L.trapezoid, [_rand(L, (2, 4), 19)]),
                            _with_grads(L, lambda y: L.trapezoid(y, _t(L, [0.0, 1.0, 3.0, 6.0])), [_rand(L, (2, 4), 20)]),
                            _with_grads(L, lambda y: L.trapezoid(y, dx=0.5, dim=0), [_rand(L, (3, 2), 21)])],
    "vander": lambda L: [_out(L.vander(_t(L, [1.0, 2.0, 3.0]))), _out(L.vander(_t(L, [1, 2, 3], "int64"), N=4,
                                                                                increasing=True))],
    "cov": lambda L: _with_grads(L, L.cov, [_rand(L, (3, 5), 22)]),
    "cov_weights": lambda L: _with_grads(L, lambda x: L.cov(x, correction=0, fweights=_t(L, [1, 2, 1, 3], "int64"),
                                                            aweights=_t(L, [0.5, 1.0, 2.0, 1.0])),
                                         [_rand(L, (2, 4), 23)]),
    "corrcoef": lambda L: _with_grads(L, L.corrcoef, [_rand(L, (3, 6), 24)]),
    "combinations": lambda L: [_with_grads(L, L.combinations, [_rand(L, (4,), 25)]),
                               _with_grads(L, lambda x: L.combinations(x, 3, with_replacement=True),
                                           [_rand(L, (3,), 26)])],
    "renorm": lambda L: _with_grads(L, lambda x: L.renorm(x, 2, 0, 1.0), [_rand(L, (3, 4), 27)]),
    "rms_norm": lambda L: _with_grads(L, lambda x, w: L.nn.functional.rms_norm(x, (4,), w, 1e-6),
                                      [_rand(L, (3, 4), 28), _rand(L, (4,), 29)]),
    "rms_norm_default_eps": lambda L: _with_grads(L, lambda x: L.nn.functional.rms_norm(x, (2, 3)),
                                                  [_rand(L, (2, 2, 3), 30, scale=1e-4)]),
    "channel_shuffle": lambda L: _with_grads(L, lambda x: L.nn.functional.channel_shuffle(x, 3), [_rand(L, (2, 6, 2), 31)]),
    "affine_grid": lambda L: [_with_grads(L, lambda th, ac=ac: L.nn.functional.affine_grid(th, (2, 1, 3, 4), align_corners=ac),
                                          [_rand(L, (2, 2, 3), 32)]) for ac in (False, True)],
    "affine_grid_3d": lambda L: _with_grads(L, lambda th: L.nn.functional.affine_grid(th, (1, 1, 2, 3, 2),
                                                                                      align_corners=False),
                                            [_rand(L, (1, 3, 4), 33)]),
    "grid_sample": lambda L: [_with_grads(L, lambda x, g, m=m, p=p, ac=ac: L.nn.functional.grid_sample(x, g, mode=m, padding_mode=p,
                                                                                      align_corners=ac),
                                          [_rand(L, (2, 2, 4, 5), 34), _rand(L, (2, 3, 2, 2), 35, scale=0.8)])
                              for m in ("bilinear", "nearest") for p in ("zeros", "border", "reflection")
                              for ac in (False, True)],
    "pdist": lambda L: _with_grads(L, lambda x: L.nn.functional.pdist(x), [_rand(L, (4, 3), 36)]),
    "pdist_p1": lambda L: _with_grads(L, lambda x: L.nn.functional.pdist(x, p=1), [_rand(L, (3, 2), 37)]),
    "triplet_distance": lambda L: _with_grads(
        L, lambda a, p, n: L.nn.functional.triplet_margin_with_distance_loss(a, p, n, swap=True, margin=0.5),
        [_rand(L, (4, 3), 38), _rand(L, (4, 3), 39), _rand(L, (4, 3), 40)]),
    "padding_modules": lambda L: [_with_grads(L, m, [_rand(L, shape, 41)]) for m, shape in (
        (L.nn.ReflectionPad1d((1, 2)), (2, 3, 4)), (L.nn.ReplicationPad2d(1), (1, 2, 3, 3)),
        (L.nn.CircularPad2d((1, 0, 2, 1)), (1, 1, 3, 3)), (L.nn.ZeroPad2d((1, 1, 0, 2)), (1, 1, 2, 2)),
        (L.nn.ConstantPad3d(1, 3.5), (1, 1, 2, 2, 2)), (L.nn.ReflectionPad3d(1), (1, 1, 2, 3, 3)),
        (L.nn.ReplicationPad3d((1, 0, 0, 1, 1, 0)), (1, 1, 2, 2, 2)), (L.nn.ZeroPad1d(2), (1, 2)))],
    "distance_modules": lambda L: [_with_grads(L, L.nn.CosineSimilarity(dim=1), [_rand(L, (3, 4), 42), _rand(L, (3, 4), 43)]),
                                   _with_grads(L, L.nn.PairwiseDistance(p=3.0), [_rand(L, (3, 4), 44), _rand(L, (3, 4), 45)])],
    "cummax": lambda L: _with_grads(L, lambda x: tuple(L.cummax(x * _t(L, [[1.0, 1.0, 1.0, 1.0], [1.0, NAN, 1.0, 1.0],
                                                                       [1.0, 1.0, 1.0, 1.0]]), 1)),
                                    [_t(L, [[1.0, 3.0, 3.0, 2.0], [1.0, 5.0, 9.0, 0.0], [2.0, 2.0, 1.0, 2.0]], grad=True)]),
    "cummin": lambda L: _with_grads(L, lambda x: tuple(x.cummin(0)),
                                    [_t(L, [[1.0, 0.0], [1.0, 2.0], [0.0, 2.0]], grad=True)]),
    "cummax_int": lambda L: [_out(v) for v in L.cummax(_t(L, [3, 1, 4, 4, 2], "int64"), 0)],
    "embedding_bag": lambda L: [
        _with_grads(L, lambda w: L.nn.functional.embedding_bag(_t(L, [1, 2, 4, 5, 4, 3], "int64"), w,
                                                                _t(L, [0, 2, 2, 5], "int64"), mode="mean"),
                    [_rand(L, (6, 2), 47)]),
        _with_grads(L, lambda w: L.nn.functional.embedding_bag(_t(L, [[1, 2], [4, 5]], "int64"), w, mode="max"),
                    [_rand(L, (6, 2), 48)]),
        _with_grads(L, lambda w, psw: L.nn.functional.embedding_bag(
            _t(L, [1, 2, 4, 5, 4, 3], "int64"), w, _t(L, [0, 2, 4, 6], "int64"), mode="sum",
            include_last_offset=True, per_sample_weights=psw), [_rand(L, (6, 2), 49), _rand(L, (6,), 50)]),
        _with_grads(L, lambda w: L.nn.functional.embedding_bag(_t(L, [1, 2, 4, 5, 4, 3], "int64"), w,
                                                                _t(L, [0, 3], "int64"), mode="mean", padding_idx=4),
                    [_rand(L, (6, 2), 51)])],
    "softmax2d": lambda L: _with_grads(L, L.nn.Softmax2d(), [_rand(L, (2, 3, 2, 2), 46)]),
}
