"""More of torch.linalg, composed from rustdl's differentiable SVD, eigh, triangular solves and
matmuls (so their gradients, of every order, come from those): pinv, lstsq, matrix_exp,
cholesky_solve, cholesky_inverse, cond, vander, lu_factor / lu / lu_solve / lu_unpack; and the
older torch.* spellings (pinverse, matrix_exp, qr, lu, lu_solve, lu_unpack, triangular_solve,
cholesky_solve, cholesky_inverse).

LU runs partial pivoting as LAPACK's getrf does (largest magnitude in the column, the first on
ties; pivots 1-based int32); its backward is the square-matrix formula
A_grad = P L^-H (tril_-1(L^H L_grad) + triu(U_grad U^H)) U^-H, written in differentiable ops."""

import math

import numpy as np

import rustdl as _t

from . import _return_types
from ._out import write_out
from .autograd.function import Function


def _require_matrix(A, op, name="A"):
    if not isinstance(A, _t.Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(A).__name__}")
    if A.dim() < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")
    if not A.is_floating_point():
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {str(A.dtype).split('.')[-1].capitalize()}")


def _mT(x):
    return x.transpose(-2, -1)


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """Moore-Penrose pseudo-inverse: V diag(1/s) U^T over the singular values above
    max(atol, rtol * largest); rtol defaults to max(m, n) * eps when atol is not given."""
    _require_matrix(A, "linalg.pinv")
    m, n = A.shape[-2], A.shape[-1]
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else max(m, n) * _t.finfo(A.dtype).eps
    atol = 0.0 if atol is None else atol
    # hermitian=True gives the same value for a Hermitian A; the SVD route is kept for it too so
    # that the gradient is PyTorch's general pseudo-inverse derivative (not a symmetrised one)
    U, S, Vh = _t.linalg.svd(A, full_matrices=False)
    largest = S.amax(-1, keepdim=True) if S.numel() else S
    keep = S > _t.clamp(largest * rtol, min=atol)
    inverse = _t.where(keep, 1 / _t.where(keep, S, _t.ones_like(S)), _t.zeros_like(S))
    result = (_mT(Vh) * inverse.unsqueeze(-2)) @ _mT(U)
    return write_out(out, result, "linalg_pinv")


def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of A X = B (minimum norm for rank-deficient A) with PyTorch's
    return structure for the CPU drivers: residuals only for 'gelsd'/'gelss'/'gels' with
    m > n and full rank, rank for all but 'gels', singular values for 'gelsd'/'gelss'."""
    _require_matrix(A, "linalg.lstsq")
    driver = "gelsy" if driver is None else driver
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"parameter `driver` should be one of (gels, gelsy, gelsd, gelss), but got {driver}")
    if B.dim() < 1 or A.shape[-2] != B.shape[-2 if B.dim() > 1 else -1]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2) "
                           f"(got {A.shape[-2]} and {B.shape[-2] if B.dim() > 1 else B.shape[-1]})")
    vector = B.dim() == A.dim() - 1
    rhs = B.unsqueeze(-1) if vector else B
    m, n = A.shape[-2], A.shape[-1]
    eps = _t.finfo(A.dtype).eps
    rtol = max(m, n) * eps if rcond is None or rcond < 0 else rcond
    solution = pinv(A, rtol=rtol) @ rhs
    S = _t.linalg.svdvals(A.detach())
    largest = S.amax(-1, keepdim=True) if S.numel() else S
    rank = (S > largest * rtol).sum(-1)
    empty = _t.empty(0, dtype=A.dtype)
    residuals = empty
    if driver != "gelsy" and m > n and bool((rank == n).all()):
        residuals = ((A @ solution - rhs) ** 2).sum(-2)
        residuals = residuals.squeeze(-1) if vector else residuals
    rank_out = _t.empty(0, dtype=_t.int64) if driver == "gels" else rank
    singular = S if driver in ("gelsd", "gelss") else empty
    return _return_types.linalg_lstsq(solution.squeeze(-1) if vector else solution, residuals, rank_out, singular)


def matrix_exp(A):
    """exp(A) by scaling and squaring: a Taylor series of A / 2^s (norm <= 1/2, 18 terms: below
    float64 rounding), squared s times. Only matmuls and sums, so every derivative follows."""
    if not isinstance(A, _t.Tensor):
        raise TypeError(f"matrix_exp(): argument 'input' must be Tensor, not {type(A).__name__}")
    if A.dim() < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_exp: A must be batches of square matrices, but they are "
                           f"{A.shape[-2] if A.dim() > 1 else 1} by {A.shape[-1] if A.dim() else 1} matrices")
    if not A.is_floating_point():
        raise NotImplementedError(f"linalg.matrix_exp: Expected a floating point or complex tensor as input. Got "
                           f"{str(A.dtype).split('.')[-1].capitalize()}")
    if A.numel() == 0:
        return A.clone()
    norm = float(A.detach().abs().sum(-2).amax())  # the 1-norm, largest over the batch
    if not math.isfinite(norm):
        return A + math.nan  # PyTorch's result is NaN wherever the input is not finite
    squarings = max(0, math.ceil(math.log2(norm / 0.5))) if norm > 0.5 else 0
    scaled = A / (2.0 ** squarings)
    eye = _t.eye(A.shape[-1], dtype=A.dtype).expand(A.shape)
    term, total = eye, eye
    for k in range(1, 19):
        term = (term @ scaled) / k
        total = total + term
    for _ in range(squarings):
        total = total @ total
    return total


def cholesky_solve(B, L, upper=False, *, out=None):
    """X with A X = B for A = L L^T (or U^T U with upper=True), by two triangular solves."""
    if upper:
        y = _t.linalg.solve_triangular(_mT(L), B, upper=False)
        result = _t.linalg.solve_triangular(L, y, upper=True)
    else:
        y = _t.linalg.solve_triangular(L, B, upper=False)
        result = _t.linalg.solve_triangular(_mT(L), y, upper=True)
    return write_out(out, result, "cholesky_solve")


def cholesky_inverse(L, upper=False, *, out=None):
    _require_matrix(L, "cholesky_inverse", "input")
    eye = _t.eye(L.shape[-1], dtype=L.dtype).expand(L.shape)
    return cholesky_solve(eye, L, upper, out=out)


def cond(A, p=None, *, out=None):
    _require_matrix(A, "linalg.cond")
    if p in (None, 2, -2):
        S = _t.linalg.svdvals(A)
        ratio = S[..., 0] / S[..., -1] if p != -2 else S[..., -1] / S[..., 0]
        result = ratio
    else:
        result = _t.linalg.matrix_norm(A, p) * _t.linalg.matrix_norm(_t.linalg.inv(A), p)
    return write_out(out, result, "linalg_cond")


def vander(x, *, N=None):
    if x.dim() < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension.")
    n = x.shape[-1] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if n == 0:
        return x.unsqueeze(-1)[..., :0]
    base = x if x.dtype != _t.bool else x.long()
    columns = [_t.ones_like(base)] + [base] * (n - 1)
    return _t.stack(columns, -1).cumprod(-1)


# --- LU ---


def _lu_numpy(a):
    """Packed LU of one matrix with partial pivoting (getrf's choices) and 1-based pivots."""
    a = a.copy()
    m, n = a.shape
    k = min(m, n)
    pivots = np.arange(1, k + 1, dtype=np.int32)
    for j in range(k):
        p = j + int(np.argmax(np.abs(a[j:, j])))
        pivots[j] = p + 1
        if p != j:
            a[[j, p]] = a[[p, j]]
        if a[j, j] != 0:
            a[j + 1:, j] /= a[j, j]
            a[j + 1:, j + 1:] -= np.outer(a[j + 1:, j], a[j, j + 1:])
    return a, pivots


def _permutation_from_pivots(pivots, m, dtype):
    """P with A = P L U for 1-based LAPACK row interchanges."""
    order = np.arange(m)
    for j, p in enumerate(pivots):
        order[[j, p - 1]] = order[[p - 1, j]]
    P = np.zeros((m, m))
    P[order, np.arange(m)] = 1.0
    return P.astype(dtype)


def _split_lu(packed, m, n):
    k = min(m, n)
    L = packed[..., :, :k].tril(-1) + _t.eye(m, k, dtype=packed.dtype)
    U = packed[..., :k, :].triu()
    return L, U


class _LUFactor(Function):
    @staticmethod
    def forward(ctx, A, pivot):
        if not pivot:
            raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented for CPU tensors.")
        data = A.detach().contiguous().numpy()
        batch = data.reshape((-1,) + data.shape[-2:])
        results = [_lu_numpy(a) for a in batch]
        packed = np.stack([r[0] for r in results]).reshape(data.shape) if results else data.copy()
        k = min(data.shape[-2:])
        pivots = np.stack([r[1] for r in results]).reshape(data.shape[:-2] + (k,)) if results else \
            np.zeros(data.shape[:-2] + (k,), dtype=np.int32)
        LU = _t.from_numpy(np.array(packed, order="C"))
        piv = _t.from_numpy(np.array(pivots, order="C"))
        ctx.mark_non_differentiable(piv)
        ctx.save_for_backward(A, LU, piv)
        return LU, piv

    @staticmethod
    def backward(ctx, grad_LU, *unused_pivot_grad):
        A, LU, piv = ctx.saved_tensors
        m, n = A.shape[-2], A.shape[-1]
        if m != n:
            raise RuntimeError("linalg.lu_factor: the derivative is implemented for square matrices only")
        if _t.is_grad_enabled():
            LU = _LUFactor.apply(A, True)[0]  # so that second derivatives see d LU / d A
        L, U = _split_lu(LU, m, n)
        P = lu_unpack(LU.detach(), piv, unpack_data=False).P.to(A.dtype)
        L_grad, U_grad = grad_LU.tril(-1), grad_LU.triu()
        phi = (_mT(L) @ L_grad).tril(-1) + (U_grad @ _mT(U)).triu()
        left = _t.linalg.solve_triangular(_mT(L), phi, upper=True, unitriangular=True)
        inner = _t.linalg.solve_triangular(_mT(U), left, upper=False, left=False)
        return P @ inner, None


def lu_factor(A, *, pivot=True, out=None):
    _require_matrix(A, "linalg.lu_factor")
    LU, pivots = _LUFactor.apply(A, pivot)
    result = _return_types.linalg_lu_factor(LU, pivots)
    if out is not None:
        write_out(tuple(out), tuple(result), "linalg_lu_factor")
        return _return_types.linalg_lu_factor(*out)
    return result


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    if unpack_data:
        L, U = _split_lu(LU_data, m, n)
    else:
        L = U = _t.empty(0, dtype=LU_data.dtype)
    if unpack_pivots:
        pivots = LU_pivots.detach().contiguous().numpy().astype(np.int64)
        batch = pivots.reshape((-1, pivots.shape[-1])) if pivots.ndim else pivots.reshape(1, -1)
        dtype = str(LU_data.dtype).split(".")[-1]
        Ps = [_permutation_from_pivots(p, m, np.float64) for p in batch]
        P = _t.tensor(np.stack(Ps).reshape(pivots.shape[:-1] + (m, m)) if Ps else np.zeros((m, m)),
                      dtype=getattr(_t, dtype))
    else:
        P = _t.empty(0, dtype=LU_data.dtype)
    return _return_types.lu_unpack(P, L, U)


def lu(A, *, pivot=True, out=None):
    _require_matrix(A, "linalg.lu")
    LU, pivots = lu_factor(A, pivot=pivot)
    P, L, U = lu_unpack(LU, pivots)
    return _return_types.linalg_lu(P, L, U)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """X with A X = B (or X A = B, A^H for adjoint) for A = P L U given by lu_factor."""
    m, n = LU.shape[-2], LU.shape[-1]
    L, U = _split_lu(LU, m, n)
    P = lu_unpack(LU.detach(), pivots, unpack_data=False).P
    if left and not adjoint:  # L U X = P^T B
        y = _t.linalg.solve_triangular(L, _mT(P) @ B, upper=False, unitriangular=True)
        result = _t.linalg.solve_triangular(U, y, upper=True)
    elif left:  # U^T L^T P^T X = B
        y = _t.linalg.solve_triangular(_mT(U), B, upper=False)
        result = P @ _t.linalg.solve_triangular(_mT(L), y, upper=True, unitriangular=True)
    elif not adjoint:  # X P L U = B
        y = _t.linalg.solve_triangular(U, B, upper=True, left=False)
        result = _t.linalg.solve_triangular(L, y, upper=False, unitriangular=True, left=False) @ _mT(P)
    else:  # X U^T L^T P^T = B
        y = _t.linalg.solve_triangular(_mT(L), B @ P, upper=True, unitriangular=True, left=False)
        result = _t.linalg.solve_triangular(_mT(U), y, upper=False, left=False)
    return write_out(out, result, "linalg_lu_solve")


# --- the *_ex forms: an info tensor instead of an exception ---


def _batch_matrices(A):
    data = A.detach().to(_t.float64).contiguous().numpy()
    return data.reshape((-1,) + data.shape[-2:]), tuple(A.shape[:-2])


def _lu_info(A):
    """LAPACK getrf's info per matrix: 1 + the index of the first zero pivot, 0 if none."""
    mats, batch = _batch_matrices(A)
    info = []
    for a in mats:
        packed, _ = _lu_numpy(a)
        zero = np.flatnonzero(np.diagonal(packed) == 0)
        info.append(int(zero[0]) + 1 if zero.size else 0)
    return _t.tensor(info, dtype=_t.int32).reshape(batch)


def _cholesky_info(A, upper):
    """potrf's info per matrix: the order of the first leading minor that is not positive definite."""
    mats, batch = _batch_matrices(A)
    info = []
    for a in mats:
        a = np.triu(a) + np.triu(a, 1).T if upper else np.tril(a) + np.tril(a, -1).T
        bad = 0
        for k in range(1, a.shape[0] + 1):
            try:
                np.linalg.cholesky(a[:k, :k])
            except np.linalg.LinAlgError:
                bad = k
                break
        info.append(bad)
    return _t.tensor(info, dtype=_t.int32).reshape(batch)


def _masked_batch(A, info, compute, fill_shape_of=None):
    """`compute` on the matrices whose info is 0 (the others replaced by the identity first, so the
    factorisation succeeds), NaN where info reports a failure."""
    bad = info != 0
    if not bool(bad.any()):
        return compute(A)
    eye = _t.eye(A.shape[-1], dtype=A.dtype).expand(A.shape)
    mask = bad.reshape(tuple(bad.shape) + (1, 1))
    result = compute(_t.where(mask, eye, A))
    return _t.where(mask.expand(result.shape) if result.dim() == A.dim() else mask, _t.full_like(result, math.nan),
                    result)


def _raise_if(check_errors, info, op, message):
    """PyTorch's error for the first failed matrix; `message` has an {info} placeholder."""
    if not check_errors or not bool((info != 0).any()):
        return
    flat = info.reshape(-1)
    index = int((flat != 0).nonzero()[0, 0])
    where = f"(Batch element {index}): " if info.dim() else ""
    raise _t.linalg.LinAlgError(f"{op}: {where}" + message.format(info=int(flat[index])))


def inv_ex(A, *, check_errors=False, out=None):
    _require_matrix(A, "linalg.inv_ex")
    info = _lu_info(A)
    _raise_if(check_errors, info, "linalg.inv", "The diagonal element {info} is zero, the inversion could not be "
              "completed because the input matrix is singular.")
    inverse = _masked_batch(A, info, _t.linalg.inv)
    return _return_types.linalg_inv_ex(inverse, info)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    _require_matrix(A, "linalg.cholesky_ex")
    info = _cholesky_info(A, upper)
    _raise_if(check_errors, info, "linalg.cholesky", "The factorization could not be completed because the input is "
              "not positive-definite (the leading minor of order {info} is not positive-definite).")
    L = _masked_batch(A, info, lambda M: _t.linalg.cholesky(M, upper=upper))
    return _return_types.linalg_cholesky_ex(L, info)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    _require_matrix(A, "linalg.solve_ex")
    info = _lu_info(A)
    _raise_if(check_errors, info, "linalg.solve", "The solver failed because the input matrix is singular.")
    if not bool((info != 0).any()):
        result = _t.linalg.solve(A, B, left=left)
    else:
        eye = _t.eye(A.shape[-1], dtype=A.dtype).expand(A.shape)
        mask = (info != 0).reshape(tuple(info.shape) + (1, 1))
        result = _t.linalg.solve(_t.where(mask, eye, A), B, left=left)
        result = _t.where(mask if result.dim() == A.dim() else mask.squeeze(-1), _t.full_like(result, math.nan), result)
    return _return_types.linalg_solve_ex(result, info)


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    _require_matrix(A, "linalg.lu_factor_ex")
    LU, pivots = lu_factor(A, pivot=pivot)
    info = _lu_info(A)
    _raise_if(check_errors, info, "linalg.lu_factor", "The diagonal element {info} is zero, the factorization "
              "could not be completed.")
    return _return_types.linalg_lu_factor_ex(LU, pivots, info)


def tensorinv(A, ind=2, *, out=None):
    """The inverse of A read as a matrix of its first `ind` dims by the rest."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows = math.prod(A.shape[:ind])
    cols = math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return _t.linalg.inv(A.reshape(rows, cols)).reshape(tuple(A.shape[ind:]) + tuple(A.shape[:ind]))


def tensorsolve(A, B, dims=None, *, out=None):
    """X with tensordot(A, X, X.dim()) = B."""
    if dims is not None:
        dims = [d % A.dim() for d in dims]
        rest = [d for d in range(A.dim()) if d not in dims]
        A = A.permute(rest + dims)
    result_shape = tuple(A.shape[B.dim():])
    rows = math.prod(B.shape)
    cols = math.prod(result_shape)
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    return _t.linalg.solve(A.reshape(rows, cols), B.reshape(rows)).reshape(result_shape)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)


def householder_product(A, tau, *, out=None):
    """The first n columns of H_1 H_2 ... H_k, H_i = I - tau_i v_i v_i^T, v_i the i-th column of A below
    the diagonal with an implicit 1 on it (what geqrf returns), in differentiable ops."""
    m, n = A.shape[-2], A.shape[-1]
    k = tau.shape[-1]
    if n > m or k > n:
        raise RuntimeError(f"torch.linalg.householder_product: input.shape[-2] must be greater than or equal to "
                           f"input.shape[-1] and input.shape[-1] greater than or equal to tau.shape[-1] (got {m}, "
                           f"{n}, {k})")
    eye = _t.eye(m, dtype=A.dtype).expand(tuple(A.shape[:-2]) + (m, m))
    Q = eye
    rows = _t.arange(m)
    for i in range(k):
        column = A[..., :, i]
        v = _t.where(rows > i, column, _t.where(rows == i, _t.ones_like(column), _t.zeros_like(column)))
        H = eye - tau[..., i, None, None] * (v.unsqueeze(-1) * v.unsqueeze(-2))
        Q = Q @ H
    return Q[..., :, :n]


def _complex_only(name):
    def function(*args, **kwargs):
        raise NotImplementedError(f"torch.linalg.{name} returns complex tensors, which rustdl does not have yet")

    function.__name__ = name
    return function


eig = _complex_only("eig")
eigvals = _complex_only("eigvals")


# --- torch.* spellings ---


def _deprecated(old, new):
    import warnings

    warnings.warn(f"torch.{old} is deprecated in favor of torch.linalg.{new} and will be removed in a future "
                  "PyTorch release.", UserWarning, stacklevel=3)


def torch_lu(A, pivot=True, get_infos=False, out=None):
    _deprecated("lu", "lu_factor")
    LU, pivots = lu_factor(A, pivot=pivot)
    if get_infos:
        return LU, pivots, _t.zeros(tuple(A.shape[:-2]), dtype=_t.int32)
    return LU, pivots


def torch_lu_solve(b, LU_data, LU_pivots, *, out=None):
    _deprecated("lu_solve", "lu_solve (with its arguments reversed)")
    return lu_solve(LU_data, LU_pivots, b, out=out)


def torch_qr(input, some=True, *, out=None):
    """Removed from PyTorch (it raises there too): the error says what replaces it."""
    raise RuntimeError("torch.qr was removed; use torch.linalg.qr(A, mode='reduced') (or mode='complete' for "
                       f"some=False, as requested here: some={some})")


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    coefficient = _mT(A) if transpose else A
    solution = _t.linalg.solve_triangular(coefficient, b, upper=upper != transpose, unitriangular=unitriangular)
    return _return_types.triangular_solve(solution, A.clone())


LINALG = ["cholesky_ex", "cond", "diagonal", "eig", "eigvals", "householder_product", "inv_ex", "lstsq", "lu",
          "lu_factor", "lu_factor_ex", "lu_solve", "matrix_exp", "pinv", "solve_ex", "tensorinv", "tensorsolve",
          "vander"]
TORCH = {"pinverse": pinverse, "orgqr": householder_product, "matrix_exp": matrix_exp, "cholesky_solve": cholesky_solve,
         "cholesky_inverse": cholesky_inverse, "lu": torch_lu, "lu_solve": torch_lu_solve, "lu_unpack": lu_unpack,
         "qr": torch_qr, "triangular_solve": triangular_solve}
