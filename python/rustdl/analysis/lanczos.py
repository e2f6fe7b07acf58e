"""Extreme eigenpairs of a symmetric operator by Lanczos with full reorthogonalisation.

Only products ``matvec(v)`` are needed (for a Hessian: double backward), never the
matrix. After m steps the Krylov basis V (m x n, orthonormal) and the tridiagonal
T = V A V^T give Ritz pairs (θ, V^T y) from T's eigenpairs; the extreme ones converge
first. Every new vector is orthogonalised against the whole basis, twice (classical
Gram-Schmidt repeated): without it rounding errors make copies of converged
eigenvalues ("ghosts"). The residual of a Ritz pair is |β_m y_m|, so convergence is
checked without another product. When the Krylov space closes (β ≈ 0: the start
vector lay in an invariant subspace) the iteration continues from a fresh random
vector orthogonal to the basis, so every eigenvalue can still be found.

The Ritz values with weights y_0² (the first components of T's eigenvectors) are a
Gauss quadrature of the operator's spectral density seen from the random start
vector (stochastic Lanczos quadrature): ``density_fraction`` uses it to estimate
which share of *all* eigenvalues is positive, negative or near zero.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["LanczosResult", "lanczos_extremes"]


@dataclass
class LanczosResult:
    eigenvalues: np.ndarray   # the wanted Ritz values, ascending
    eigenvectors: np.ndarray  # n x len(eigenvalues), unit columns
    residuals: np.ndarray     # ||A x - θ x|| of each returned pair
    ritz_values: np.ndarray   # every Ritz value of the last T, ascending
    ritz_weights: np.ndarray  # their quadrature weights (summing to 1)
    steps: int

    def density_fraction(self, lower=-np.inf, upper=np.inf):
        """Estimated share of all eigenvalues in (lower, upper]."""
        inside = (self.ritz_values > lower) & (self.ritz_values <= upper)
        total = self.ritz_weights.sum()
        return float(self.ritz_weights[inside].sum() / total) if total > 0 else float("nan")


def _wanted(m, k):
    """Indices of the k smallest and k largest of m ascending values (each once)."""
    if 2 * k >= m:
        return np.arange(m)
    return np.concatenate([np.arange(k), np.arange(m - k, m)])


def lanczos_extremes(matvec, n, k, *, max_steps=None, tol=1e-8, seed=0, check_every=5):
    """The ``k`` smallest and ``k`` largest eigenpairs of the symmetric n x n operator.

    Stops when every wanted pair's residual is below ``tol`` times the spectral scale,
    or after ``max_steps`` products (default ``min(n, 2k + 100)``); at ``n`` steps the
    result is exact up to rounding.
    """
    if n == 0:
        empty = np.zeros(0)
        return LanczosResult(empty, np.zeros((0, 0)), empty, empty, empty, 0)
    k = max(1, int(k))
    max_steps = min(n, 2 * k + 100) if max_steps is None else max(1, min(n, int(max_steps)))
    rng = np.random.default_rng(seed)
    basis = np.zeros((max_steps, n))
    alpha = np.zeros(max_steps)
    beta = np.zeros(max_steps)  # beta[j] couples vector j and j + 1
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    steps = 0
    for j in range(max_steps):
        basis[j] = q
        w = np.asarray(matvec(q), dtype=np.float64)
        alpha[j] = q @ w
        w = w - alpha[j] * q - (beta[j - 1] * basis[j - 1] if j > 0 else 0.0)
        for _ in range(2):
            w -= basis[: j + 1].T @ (basis[: j + 1] @ w)
        beta[j] = np.linalg.norm(w)
        steps = j + 1
        if steps == max_steps:
            break
        scale = max(np.abs(alpha[: j + 1]).max(), beta[: j + 1].max(), 1e-300)
        if beta[j] <= 1e-10 * scale:
            # invariant subspace found: go on from a fresh direction orthogonal to it
            beta[j] = 0.0
            q = rng.standard_normal(n)
            for _ in range(2):
                q -= basis[: j + 1].T @ (basis[: j + 1] @ q)
            q /= np.linalg.norm(q)
            continue
        q = w / beta[j]
        if steps >= 2 * k and steps % check_every == 0:
            theta, y = _tridiagonal_eigh(alpha[:steps], beta[: steps - 1])
            wanted = _wanted(steps, k)
            spectral = max(np.abs(theta).max(), 1e-300)
            if np.all(np.abs(beta[j] * y[-1, wanted]) <= tol * spectral):
                break
    theta, y = _tridiagonal_eigh(alpha[:steps], beta[: steps - 1])
    wanted = _wanted(steps, k)
    vectors = basis[:steps].T @ y[:, wanted]
    vectors /= np.linalg.norm(vectors, axis=0, keepdims=True)
    residuals = np.abs(beta[steps - 1] * y[-1, wanted]) if steps < n else np.zeros(len(wanted))
    weights = y[0, :] ** 2  # pairs found after a restart have no part in the start vector: weight 0
    return LanczosResult(theta[wanted], vectors, residuals, theta, weights, steps)


def _tridiagonal_eigh(alpha, beta):
    t = np.diag(alpha)
    if len(beta):
        t += np.diag(beta, 1) + np.diag(beta, -1)
    return np.linalg.eigh(t)
