"""``rustdl.linalg``: norms, factorizations (LU, Cholesky, QR, symmetric
eigen, SVD), solvers and the cross product, differentiable as PyTorch's.

The factorizations run in Rust (``rust/ops/linalg.rs``); the norms here are
compositions of differentiable tensor ops.
"""

import math

from . import _C, _return_types
from ._checks import require_tensors as _require_tensors
from ._grad_mode import no_grad as _no_grad
from ._out import write_out as _into
from ._tensor_methods import _dtype_name

LinAlgError = _C._LinAlgError
LinAlgError.__module__ = "rustdl.linalg"
LinAlgError.__qualname__ = LinAlgError.__name__ = "LinAlgError"


def _check_float(x, op):
    if not x.is_floating_point():
        raise NotImplementedError(
            f"{op}: Expected a floating point or complex tensor as input. Got {_dtype_name(x.dtype)}"
        )


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    _require_tensors("linalg_vector_norm", ("input", x))
    _check_float(x, "linalg.vector_norm")
    return x.norm(p=ord, dim=dim, keepdim=keepdim, dtype=dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Frobenius, nuclear, max column-sum (1), max row-sum (inf) and spectral
    (2) norms and their minimum counterparts (-1, -inf, -2) over ``dim``."""
    _require_tensors("linalg_matrix_norm", ("input", A))
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    _check_float(A, "linalg.matrix_norm")
    if dtype is not None:
        A = A.to(dtype)
    nd = A.dim()
    dim = tuple(dim)
    for d in dim:
        if not -nd <= d < nd:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {d})")
    d0, d1 = (d % nd for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return A.norm(p=2, dim=(d0, d1), keepdim=keepdim)
    if ord == "nuc" or (not isinstance(ord, str) and ord in (2, -2)):
        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        r = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            for d in sorted((d0, d1)):
                r = r.unsqueeze(d)
        return r
    if not isinstance(ord, str) and ord in (1, -1, math.inf, -math.inf):
        # 1: largest column sum (sum over rows); inf: largest row sum
        sum_dim, pick_dim = (d0, d1) if abs(ord) == 1 else (d1, d0)
        s = A.abs().sum(sum_dim, keepdim=True)
        r = s.amax(pick_dim, keepdim=True) if ord > 0 else s.amin(pick_dim, keepdim=True)
        if not keepdim:
            r = r.squeeze(max(d0, d1)).squeeze(min(d0, d1))
        return r
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm over one dim (or all, when neither ord nor dim is given),
    a matrix norm over two."""
    _require_tensors("linalg_norm", ("input", A))
    if dim is not None:
        dim = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dim) == 1:
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is specified, it mut be of length 1 or 2. Got {list(dim)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.dim() == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.dim() == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.dim()}D.")


def matmul(input, other, *, out=None):
    return _into(out, input @ other, "linalg_matmul")


def inv(A, *, out=None):
    _require_tensors("linalg_inv", ("A", A))
    return _into(out, _C._linalg_inv(A), "linalg_inv")


def det(A, *, out=None):
    _require_tensors("linalg_det", ("A", A))
    return _into(out, _C._linalg_det(A), "linalg_det")


def slogdet(A, *, out=None):
    _require_tensors("linalg_slogdet", ("A", A))
    return _into(out, _return_types.linalg_slogdet(*_C._linalg_slogdet(A)), "linalg_slogdet")


def solve(A, B, *, left=True, out=None):
    _require_tensors("linalg_solve", ("A", A), ("B", B))
    return _into(out, _C._linalg_solve(A, B, left), "linalg_solve")


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """Solve ``A X = B`` (or ``X A = B`` with ``left=False``) reading only the triangle of ``A``
    that ``upper`` names, its diagonal taken as ones when ``unitriangular``. Composed from
    ``solve`` on the masked triangle, so the gradient for ``A`` lands on that triangle only."""
    _require_tensors("linalg_solve_triangular", ("A", A), ("B", B))
    for name, t in (("A", A), ("B", B)):
        if t.dim() < 2:
            raise RuntimeError(
                f"linalg.solve_triangular: The input tensor {name} must have at least 2 dimensions."
            )
    _check_float(A, "linalg.solve_triangular")
    if unitriangular:
        strict = A.triu(1) if upper else A.tril(-1)
        T = strict + _C.eye(A.shape[-1], dtype=A.dtype)
    else:
        T = A.triu() if upper else A.tril()
    return _into(out, _C._linalg_solve(T, B, left), "linalg_solve_triangular")


def cholesky(A, *, upper=False, out=None):
    _require_tensors("linalg_cholesky", ("A", A))
    return _into(out, _C._linalg_cholesky(A, upper), "linalg_cholesky")


def qr(A, mode="reduced", *, out=None):
    _require_tensors("linalg_qr", ("A", A))
    return _into(out, _return_types.linalg_qr(*_C._linalg_qr(A, mode)), "linalg_qr")


def eigh(A, UPLO="L", *, out=None):
    _require_tensors("linalg_eigh", ("A", A))
    return _into(out, _return_types.linalg_eigh(*_C._linalg_eigh(A, UPLO)), "linalg_eigh")


def eigvalsh(A, UPLO="L", *, out=None):
    _require_tensors("linalg_eigvalsh", ("A", A))
    return _into(out, _C._linalg_eigh(A, UPLO)[0], "linalg_eigvalsh")


def svd(A, full_matrices=True, *, driver=None, out=None):
    _require_tensors("linalg_svd", ("A", A))
    return _into(out, _return_types.linalg_svd(*_C._linalg_svd(A, full_matrices)), "linalg_svd")


def svdvals(A, *, driver=None, out=None):
    _require_tensors("linalg_svdvals", ("A", A))
    return _into(out, _C._linalg_svd(A, False)[1], "linalg_svdvals")


def cross(input, other, *, dim=-1, out=None):
    _require_tensors("linalg_cross", ("input", input), ("other", other))
    return _into(out, _C._linalg_cross(input, other, dim), "linalg_cross")


def vecdot(x, y, *, dim=-1, out=None):
    _require_tensors("linalg_vecdot", ("x", x), ("y", y))
    _check_float(x, "linalg.vecdot")
    return _into(out, (x * y).sum(dim), "linalg_vecdot")


def matrix_power(A, n, *, out=None):
    """A^n by repeated squaring; n < 0 powers the inverse, n = 0 gives identities."""
    _require_tensors("linalg_matrix_power", ("A", A))
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"linalg_matrix_power(): argument 'n' (position 2) must be int, not {type(n).__name__}")
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"linalg.matrix_power: A must be batches of square matrices, but they are {A.shape[-2]} by "
            f"{A.shape[-1]} matrices"
        )
    k = A.shape[-1]
    if n == 0:
        return _into(out, _C.eye(k, dtype=A.dtype).expand(tuple(A.shape)).clone(), "linalg_matrix_power")
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return _into(out, result.clone() if result is A else result, "linalg_matrix_power")


def multi_dot(tensors, *, out=None):
    """The chained product; a 1-D first (last) tensor is a row (column) vector."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        _require_tensors("linalg_multi_dot", (f"tensors[{i}]", t))
    first, last = tensors[0], tensors[-1]
    if first.dim() not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first.dim()}D")
    if last.dim() not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last.dim()}D")
    for i, t in enumerate(tensors[1:-1], 1):
        if t.dim() != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
    mats = list(tensors)
    if first.dim() == 1:
        mats[0] = first.unsqueeze(0)
    if last.dim() == 1:
        mats[-1] = last.unsqueeze(1)
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes {list(tensors[i].shape)} and "
                f"{list(tensors[i + 1].shape)} cannot be multiplied"
            )
    result = mats[0]
    for m in mats[1:]:
        result = result @ m
    if first.dim() == 1:
        result = result.squeeze(0)
    if last.dim() == 1:
        result = result.squeeze(-1)
    return _into(out, result, "linalg_multi_dot")


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The number of singular values above max(atol, rtol * largest)."""
    _require_tensors("linalg_matrix_rank", ("input", A))
    if not A.is_floating_point():
        raise RuntimeError("This function doesn't handle types other than float and double")
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_rank: The input tensor input must have at least 2 dimensions.")
    m, n = A.shape[-2], A.shape[-1]
    if m * n == 0:
        return _into(out, _C.zeros(tuple(A.shape[:-2]), dtype=_C.int64), "linalg_matrix_rank")
    with _no_grad():
        S = eigvalsh(A).abs() if hermitian else svdvals(A)
        if rtol is None:
            eps = 1.1920928955078125e-07 if A.dtype == _C.float32 else 2.220446049250313e-16
            rtol = 0.0 if (atol is not None and atol > 0) else eps * max(m, n)
        tol = (S.amax(-1, keepdim=True) * rtol).clamp_min(0.0 if atol is None else atol)
        return _into(out, (S > tol).sum(-1), "linalg_matrix_rank")


__all__ = [
    "LinAlgError",
    "cholesky",
    "cross",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "qr",
    "slogdet",
    "solve",
    "solve_triangular",
    "svd",
    "svdvals",
    "vecdot",
    "vector_norm",
]
