"""``critical_point``: is the loss at a minimum, a maximum or a saddle point?

The Hessian's eigenvalues decide (see :mod:`.report`). Up to ``exact_max``
parameters the Hessian is built column by column from Hessian-vector products
and all its eigenvalues come from numpy's ``eigh``; above, Lanczos finds the ``k``
smallest and ``k`` largest from products alone (no n x n matrix, memory O(steps x n)).
"""

import numpy as np

from .hessian_vector import HessianVectorProduct, as_named_parameters
from .lanczos import lanczos_extremes
from .report import CriticalPointReport, zero_tolerance

__all__ = ["critical_point"]


def critical_point(closure, params, *, tol=1e-5, exact_max=2000, k=20, grad_tol=None, max_steps=None, seed=0):
    """Analyse the loss ``closure()`` at the current ``params``.

    Args:
        closure: recomputes the loss (a single-element tensor) from ``params``.
        params: tensors that require grad, ``model.parameters()``, ``model.named_parameters()``
            (names then appear in the report) or a dict of them.
        tol: eigenvalues with |λ| <= tol·max(1, max|λ|) count as zero; also the gradient
            norm below which the point is critical unless ``grad_tol`` is given.
        exact_max: up to this many parameters the full Hessian is formed and all its
            eigenvalues computed; above, ``k`` smallest and ``k`` largest by Lanczos.
        k: how many extreme eigenvalues of each end Lanczos computes.
        grad_tol: gradient-norm threshold for "critical" (default ``tol``).
        max_steps, seed: Lanczos's step limit (default ``min(n, 2k + 100)``) and start vector seed.

    Returns a :class:`~rustdl.analysis.report.CriticalPointReport`. ``.grad`` of the
    parameters is left untouched.
    """
    named = as_named_parameters(params)
    hvp = HessianVectorProduct(closure, [p for _, p in named])
    n = hvp.numel
    if n <= exact_max:
        eigenvalues, eigenvectors = np.linalg.eigh(hvp.matrix())
        zero = zero_tolerance(eigenvalues, tol)
        counts = (int((eigenvalues < -zero).sum()), int((np.abs(eigenvalues) <= zero).sum()),
                  int((eigenvalues > zero).sum()))
        ratio = counts[2] / n
        return CriticalPointReport(named_params=named, loss=hvp.loss, gradient=hvp.gradient,
                                   eigenvalues=eigenvalues, eigenvectors=eigenvectors, exact=True, tol=tol,
                                   grad_tol=grad_tol, counts=counts, minimum_ratio=ratio, hvp_count=hvp.calls)
    result = lanczos_extremes(hvp, n, k, max_steps=max_steps, seed=seed)
    zero = zero_tolerance(result.ritz_values, tol)
    negative = result.density_fraction(upper=-zero)
    positive = result.density_fraction(lower=zero)
    n_negative = max(round(negative * n), int((result.eigenvalues < -zero).sum()))
    n_positive = max(round(positive * n), int((result.eigenvalues > zero).sum()))
    counts = (n_negative, max(0, n - n_negative - n_positive), n_positive)
    return CriticalPointReport(named_params=named, loss=hvp.loss, gradient=hvp.gradient,
                               eigenvalues=result.eigenvalues, eigenvectors=result.eigenvectors, exact=False,
                               tol=tol, grad_tol=grad_tol, counts=counts, minimum_ratio=positive,
                               hvp_count=hvp.calls, lanczos_steps=result.steps,
                               max_residual=float(result.residuals.max()) if len(result.residuals) else 0.0)
