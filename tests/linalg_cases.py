"""Cases for torch.linalg, shared by the recorder
(tools/differential/record_linalg.py, run with PyTorch) and
tests/test_linalg.py (run with rustdl as ``torch``).

Each case is a Python expression over the named inputs below, evaluated with
``torch`` bound to either library. Expressions whose raw result depends on a
gauge choice (the signs of eigenvectors and singular vectors) are written so
that the result does not (``.abs()`` of the vectors for distinct values).
"""

import numpy as np


def _inputs():
    rng = np.random.default_rng(20)
    A = {}

    def add(name, arr, dtype):
        A[name] = (np.asarray(arr, dtype=np.float64), dtype)

    for dt in ("float32", "float64"):
        s = dt[-2:]
        add(f"sq4_{s}", rng.standard_normal((4, 4)) + 2 * np.eye(4), dt)
        add(f"batch_{s}", rng.standard_normal((2, 3, 5, 5)) + 3 * np.eye(5), dt)
        add(f"tall_{s}", rng.standard_normal((6, 4)), dt)
        add(f"wide_{s}", rng.standard_normal((3, 7)), dt)
        add(f"btall_{s}", rng.standard_normal((3, 5, 3)), dt)
        m = rng.standard_normal((3, 6, 6))
        add(f"spd_{s}", m @ m.transpose(0, 2, 1) + 6 * np.eye(6), dt)
        add(f"sym_{s}", (m + m.transpose(0, 2, 1)) / 2, dt)
        add(f"rhs_{s}", rng.standard_normal((3, 6, 2)), dt)
        add(f"vec_{s}", rng.standard_normal((6,)), dt)
        add(f"v3a_{s}", rng.standard_normal((4, 3)), dt)
        add(f"v3b_{s}", rng.standard_normal((1, 3)), dt)
        add(f"mat34_{s}", rng.standard_normal((2, 3, 4)), dt)
    add("big_f32", rng.standard_normal((16, 16)) + 4 * np.eye(16), "float32")
    add("singular_f32", [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 1.0, 1.0]], "float32")
    add("singular_batch_f32", [np.eye(3), [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 1.0, 1.0]]], "float32")
    add("notpd_f32", [[1.0, 2.0], [2.0, 1.0]], "float32")
    add("notpd_batch_f32", [np.eye(2), [[1.0, 2.0], [2.0, 1.0]]], "float32")
    add("rank1_f64", np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 0.5]), "float64")
    add("negdet_f64", [[0.0, 1.0], [1.0, 0.0]], "float64")
    add("rect23_f32", np.ones((2, 3)), "float32")
    add("ones3_f32", np.ones(3), "float32")
    add("ones22_i64", np.ones((2, 2)), "int64")
    add("ones3_i64", np.ones(3), "int64")
    add("nan33_f32", np.full((3, 3), np.nan), "float32")
    add("empty00_f32", np.zeros((0, 0)), "float32")
    add("empty033_f64", np.zeros((0, 3, 3)), "float64")
    add("empty03_f32", np.zeros((0, 3)), "float32")
    add("empty30_f32", np.zeros((3, 0)), "float32")
    return A


INPUTS = _inputs()

# (expression, inputs that get requires_grad, or None for values only)
VALUE_CASES = []
GRAD_CASES = []
for s in ("32", "64"):
    VALUE_CASES += [
        f"torch.linalg.inv(sq4_{s})",
        f"torch.linalg.inv(batch_{s})",
        f"torch.linalg.inv(batch_{s}.mT)",
        f"torch.linalg.det(sq4_{s})",
        f"torch.linalg.det(batch_{s})",
        f"torch.linalg.slogdet(batch_{s})",
        f"torch.linalg.solve(spd_{s}, rhs_{s})",
        f"torch.linalg.solve(spd_{s}, vec_{s})",
        f"torch.linalg.solve(spd_{s}[0], rhs_{s})",
        f"torch.linalg.solve(spd_{s}, rhs_{s}.mT, left=False)",
        f"torch.linalg.cholesky(spd_{s})",
        f"torch.linalg.cholesky(spd_{s}, upper=True)",
        f"torch.linalg.qr(tall_{s})",
        f"torch.linalg.qr(tall_{s}, mode='complete')",
        f"torch.linalg.qr(tall_{s}, mode='r').R",
        f"torch.linalg.qr(wide_{s})",
        f"torch.linalg.qr(btall_{s}.mT)",
        f"torch.linalg.eigvalsh(sym_{s})",
        f"torch.linalg.eigvalsh(sym_{s}.triu(), UPLO='U')",
        f"torch.linalg.eigh(sym_{s}).eigenvectors.abs()",
        f"torch.linalg.svdvals(tall_{s})",
        f"torch.linalg.svdvals(wide_{s})",
        f"torch.linalg.svdvals(btall_{s})",
        f"torch.linalg.svd(tall_{s}, full_matrices=False).U.abs()",
        f"torch.linalg.svd(wide_{s}).Vh[:3].abs()",
        f"torch.svd(tall_{s}).V.abs()",
        f"torch.linalg.cross(v3a_{s}, v3b_{s})",
        f"torch.linalg.matrix_norm(mat34_{s})",
        f"torch.linalg.matrix_norm(mat34_{s}, 'nuc')",
        f"torch.linalg.matrix_norm(mat34_{s}, 2)",
        f"torch.linalg.matrix_norm(mat34_{s}, -2)",
        f"torch.linalg.matrix_norm(mat34_{s}, 1)",
        f"torch.linalg.matrix_norm(mat34_{s}, -1)",
        f"torch.linalg.matrix_norm(mat34_{s}, float('inf'))",
        f"torch.linalg.matrix_norm(mat34_{s}, float('-inf'))",
        f"torch.linalg.matrix_norm(mat34_{s}, 1, dim=(2, 0), keepdim=True)",
        f"torch.linalg.matrix_norm(mat34_{s}, 'nuc', dim=(2, 0), keepdim=True)",
        f"torch.linalg.norm(mat34_{s})",
        f"torch.linalg.norm(mat34_{s}[0], 2)",
        f"torch.linalg.norm(vec_{s}, 1)",
        f"torch.linalg.norm(mat34_{s}, dim=(0, 2))",
        f"torch.linalg.vector_norm(mat34_{s}, float('inf'), dim=-1)",
        f"torch.logdet(spd_{s})",
        f"torch.inverse(sq4_{s})",
        f"sq4_{s}.det()",
        f"torch.linalg.matrix_power(batch_{s}, 5)",
        f"torch.linalg.matrix_power(batch_{s}, -3)",
        f"torch.linalg.matrix_power(sq4_{s}, 0)",
        f"torch.matrix_power(sq4_{s}, 1)",
        f"torch.linalg.multi_dot([vec_{s}[:4], tall_{s}.mT, tall_{s}, vec_{s}[:4]])",
        f"torch.linalg.multi_dot([tall_{s}, tall_{s}.mT, tall_{s}])",
        f"torch.linalg.vecdot(v3a_{s}, v3b_{s})",
        "torch.linalg.matrix_rank(rank1_f64)",
        f"torch.linalg.matrix_rank(batch_{s})",
        f"torch.linalg.matrix_rank(sym_{s}, hermitian=True)",
        f"torch.linalg.matrix_rank(tall_{s}, atol=1.0, rtol=0.0)",
    ]
VALUE_CASES += [
    "torch.linalg.inv(big_f32)",
    "torch.linalg.svdvals(big_f32)",
    "torch.linalg.eigvalsh(big_f32 + big_f32.mT)",
    "torch.linalg.det(singular_f32)",
    "torch.linalg.slogdet(rank1_f64)",
    "torch.logdet(negdet_f64)",
    "torch.logdet(rank1_f64)",
    "torch.linalg.svdvals(rank1_f64)",
    "torch.linalg.det(empty00_f32)",
    "torch.linalg.slogdet(empty00_f32)",
    "torch.linalg.inv(empty033_f64)",
    "torch.linalg.det(empty033_f64)",
    "torch.linalg.cholesky(empty00_f32)",
    "torch.linalg.eigh(empty00_f32)",
    "torch.linalg.svd(empty03_f32)",
    "torch.linalg.svd(empty30_f32)",
    "torch.linalg.qr(empty03_f32)",
    "torch.linalg.qr(empty30_f32)",
    "torch.linalg.solve(empty00_f32, empty00_f32)",
    "torch.linalg.cross(ones3_i64, ones3_i64)",
    "torch.svd(tall_64, compute_uv=False)",
    "torch.svd(tall_64, some=False).U.shape",
    "torch.linalg.inv(nan33_f32)",
    "torch.linalg.det(nan33_f32)",
]

# Gradients (float64): each expression is a scalar loss; the gradient is
# recorded for the inputs listed.
GRAD_CASES = [
    ("torch.linalg.inv(sq4_64).sin().sum()", ["sq4_64"]),
    ("torch.linalg.det(batch_64).sum()", ["batch_64"]),
    ("torch.linalg.slogdet(batch_64).logabsdet.sum()", ["batch_64"]),
    ("torch.logdet(spd_64).sum()", ["spd_64"]),
    ("torch.linalg.solve(spd_64, rhs_64).sin().sum()", ["spd_64", "rhs_64"]),
    ("torch.linalg.solve(spd_64[0], vec_64).sin().sum()", ["spd_64", "vec_64"]),
    ("torch.linalg.cholesky(spd_64).sin().sum()", ["spd_64"]),
    ("torch.linalg.cholesky(spd_64, upper=True).sin().sum()", ["spd_64"]),
    ("sum(x.sin().sum() for x in torch.linalg.qr(tall_64))", ["tall_64"]),
    ("sum(x.sin().sum() for x in torch.linalg.qr(wide_64))", ["wide_64"]),
    ("torch.linalg.eigvalsh(sym_64).sin().sum()", ["sym_64"]),
    ("(torch.linalg.eigh(sym_64).eigenvectors ** 2).sin().sum()", ["sym_64"]),
    ("torch.linalg.svdvals(btall_64).sin().sum()", ["btall_64"]),
    (("(lambda r: (r.U ** 2).sin().sum() + (r.Vh ** 2).cos().sum() + r.S.sum())"
      "(torch.linalg.svd(tall_64, full_matrices=False))"), ["tall_64"]),
    (("(lambda r: (r.U ** 2).sin().sum() + (r.Vh ** 2).cos().sum())"
      "(torch.linalg.svd(wide_64, full_matrices=False))"), ["wide_64"]),
    ("torch.linalg.cross(v3a_64, v3b_64).sin().sum()", ["v3a_64", "v3b_64"]),
    ("torch.linalg.matrix_norm(mat34_64, 'nuc').sum()", ["mat34_64"]),
    ("torch.linalg.matrix_norm(mat34_64, 2).sum()", ["mat34_64"]),
    ("torch.linalg.matrix_norm(mat34_64, float('inf')).sum()", ["mat34_64"]),
    ("torch.linalg.det(rank1_f64)", ["rank1_f64"]),
    ("torch.linalg.inv(sq4_32).sum()", ["sq4_32"]),
    ("torch.linalg.matrix_power(sq4_64, -3).sin().sum()", ["sq4_64"]),
    ("torch.linalg.multi_dot([vec_64[:4], tall_64.mT, tall_64]).sin().sum()", ["vec_64", "tall_64"]),
]

ERROR_CASES = [
    "torch.linalg.inv(rect23_f32)",
    "torch.linalg.det(rect23_f32)",
    "torch.linalg.inv(ones3_f32)",
    "torch.linalg.inv(ones22_i64)",
    "torch.linalg.inv(ones3_i64)",
    "torch.linalg.det(ones22_i64)",
    "torch.linalg.svd(ones22_i64)",
    "torch.linalg.qr(ones22_i64)",
    "torch.linalg.cholesky(ones22_i64)",
    "torch.linalg.eigh(ones22_i64)",
    "torch.linalg.eigh(rect23_f32)",
    "torch.linalg.solve(ones22_i64, ones22_i64)",
    "torch.linalg.matrix_norm(ones22_i64)",
    "torch.linalg.vector_norm(ones3_i64)",
    "torch.linalg.inv(singular_f32)",
    "torch.linalg.inv(singular_batch_f32)",
    "torch.linalg.solve(singular_f32, ones3_f32)",
    "torch.linalg.solve(singular_batch_f32, ones3_f32)",
    "torch.linalg.solve(sq4_32, ones3_f32)",
    "torch.linalg.solve(sq4_32, sq4_64)",
    "torch.linalg.cholesky(notpd_f32)",
    "torch.linalg.cholesky(notpd_batch_f32)",
    "torch.linalg.svd(nan33_f32)",
    "torch.linalg.qr(tall_32, mode='x')",
    "torch.linalg.eigh(sq4_32, UPLO='X')",
    "torch.linalg.cross(rect23_f32.mT, rect23_f32.mT)",
    "torch.linalg.cross(ones3_f32, v3a_32)",
    "torch.linalg.cross(v3a_32, v3a_64)",
    "torch.linalg.matrix_norm(ones3_f32)",
    "torch.linalg.matrix_norm(sq4_32, 3)",
    "torch.linalg.matrix_norm(sq4_32, dim=(0, 0))",
    "torch.linalg.norm(mat34_32, 2)",
    "torch.cholesky(spd_32)",
    "torch.cross(sq4_32, sq4_32)",
    "torch.logdet(ones3_f32)",
    "torch.linalg.matrix_power(rect23_f32, 2)",
    "torch.linalg.matrix_power(ones3_f32, 2)",
    "torch.linalg.matrix_power(ones22_i64, -1)",
    "torch.linalg.matrix_power(sq4_32, 2.0)",
    "torch.linalg.multi_dot([ones3_f32])",
    "torch.linalg.multi_dot([rect23_f32, sq4_32])",
    "torch.linalg.multi_dot([mat34_32, sq4_32])",
    "torch.linalg.vecdot(ones3_i64, ones3_i64)",
    "torch.linalg.matrix_rank(ones22_i64)",
    "torch.linalg.qr(tall_64.requires_grad_(), mode='r').R.sum().backward()",
    "torch.linalg.qr(tall_64.requires_grad_(), mode='complete').Q.sum().backward()",
]


def tensor(torch, name):
    arr, dtype = INPUTS[name]
    return torch.tensor(arr.tolist(), dtype=getattr(torch, dtype)).reshape(arr.shape)


def env(torch, requires_grad=()):
    names = {"torch": torch}
    for name in INPUTS:
        t = tensor(torch, name)
        if name in requires_grad:
            t.requires_grad_()
        names[name] = t
    return names


def flatten(result):
    """A result as a list of (shape, dtype name, values) or plain values."""
    if isinstance(result, (tuple, list)) and not hasattr(result, "tolist"):
        return [x for r in result for x in flatten(r)]
    if hasattr(result, "tolist"):
        return [{"shape": list(result.shape), "dtype": str(result.dtype).rsplit(".", 1)[-1],
                 "values": np.asarray(result.detach().tolist(), dtype=np.float64).ravel().tolist()}]
    return [{"value": list(result) if hasattr(result, "__len__") else result}]


def error_of(exc):
    kind = "LinAlgError" if "LinAlgError" in type(exc).__name__ else type(exc).__name__
    return {"type": kind, "message": str(exc)}
