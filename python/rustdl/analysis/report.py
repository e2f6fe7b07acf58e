"""What a critical point is, from the gradient norm and the Hessian's eigenvalues,
and the report that says so.

At a critical point (gradient ≈ 0) the loss near θ' is L(θ' + u) ≈ L(θ') + ½ uᵀHu.
All eigenvalues of H positive: every direction goes up, a local minimum; all
negative: a local maximum; both signs: a saddle point, and along an eigenvector u of
a negative eigenvalue λ the loss falls by about |λ|/2·‖u‖². Zero eigenvalues (flat
directions) leave the second-order test undecided when the rest share one sign:
"degenerate". The minimum ratio is the share of positive eigenvalues.
"""

import math

import numpy as np

from .. import _C
from .._grad_mode import no_grad

__all__ = ["KINDS", "CriticalPointReport", "classify"]

KINDS = ("local minimum", "local maximum", "saddle point", "not critical", "degenerate")


def zero_tolerance(eigenvalues, tol):
    """Eigenvalues within ``tol`` times the spectrum's scale (at least 1) count as zero."""
    scale = max(1.0, float(np.abs(eigenvalues).max())) if len(eigenvalues) else 1.0
    return tol * scale


def classify(grad_norm, eigenvalues, tol, grad_tol=None):
    """One of :data:`KINDS`. ``eigenvalues`` may be only the extremes (the smallest and
    largest bound all the others, so the signs decide the same way)."""
    if grad_norm > (tol if grad_tol is None else grad_tol):
        return "not critical"
    if len(eigenvalues) == 0:
        return "degenerate"
    zero = zero_tolerance(eigenvalues, tol)
    lo, hi = float(np.min(eigenvalues)), float(np.max(eigenvalues))
    if lo < -zero and hi > zero:
        return "saddle point"
    if lo > zero:
        return "local minimum"
    if hi < -zero:
        return "local maximum"
    return "degenerate"


def _fmt(x):
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    return f"{x:.4g}"


class CriticalPointReport:
    """The result of :func:`rustdl.analysis.critical_point`.

    Attributes: ``loss``, ``grad_norm``, ``eigenvalues`` (ascending numpy array: all of
    them, or the k smallest and k largest), ``exact`` (all eigenvalues computed),
    ``n_params``, ``minimum_ratio`` (share of positive eigenvalues; estimated from the
    Lanczos quadrature when not exact), ``n_negative`` / ``n_zero`` / ``n_positive``
    (estimates when not exact), ``kind``, ``escape_direction`` (unit eigenvector of the
    most negative eigenvalue as tensors shaped like the parameters, or None),
    ``escape_eigenvalue``, ``predicted_loss_change`` (λ/2·‖u‖² for the unit step),
    ``hvp_count`` (Hessian-vector products taken), ``lanczos_steps``, ``max_residual``.
    """

    def __init__(self, *, named_params, loss, gradient, eigenvalues, eigenvectors, exact, tol, grad_tol,
                 counts, minimum_ratio, hvp_count, lanczos_steps=None, max_residual=0.0):
        self._named = named_params
        self.params = [p for _, p in named_params]
        self.param_names = [n for n, _ in named_params]
        self.n_params = int(sum(p.numel() for p in self.params))
        self.loss = float(loss)
        self._gradient = gradient
        self.grad_norm = float(np.linalg.norm(gradient))
        order = np.argsort(eigenvalues, kind="stable")
        self.eigenvalues = np.asarray(eigenvalues, dtype=np.float64)[order]
        self.exact = bool(exact)
        self.tol = tol
        self.grad_tol = tol if grad_tol is None else grad_tol
        self.n_negative, self.n_zero, self.n_positive = counts
        self.minimum_ratio = float(minimum_ratio)
        self.kind = classify(self.grad_norm, self.eigenvalues, tol, grad_tol)
        self.hvp_count = hvp_count
        self.lanczos_steps = lanczos_steps
        self.max_residual = float(max_residual)
        self.escape_eigenvalue = None
        self.escape_direction = None
        self.predicted_loss_change = None
        self._escape_flat = None
        zero = zero_tolerance(self.eigenvalues, tol)
        if len(self.eigenvalues) and self.eigenvalues[0] < -zero:
            u = np.asarray(eigenvectors)[:, order[0]]
            u = u / np.linalg.norm(u)
            # the sign is free: take the one that also goes downhill to first order
            # (or, at a critical point, the one whose largest component is positive)
            slope = float(gradient @ u)
            if slope > 1e-12 * max(1.0, self.grad_norm) or (abs(slope) <= 1e-12 * max(1.0, self.grad_norm)
                                                             and u[np.argmax(np.abs(u))] < 0):
                u = -u
            self._escape_flat = u
            self.escape_eigenvalue = float(self.eigenvalues[0])
            self.escape_direction = self._split(u)
            self.predicted_loss_change = self.escape_eigenvalue / 2.0

    def _split(self, flat):
        out, start = [], 0
        for p in self.params:
            size = p.numel()
            piece = np.ascontiguousarray(flat[start:start + size]).reshape(tuple(p.shape))
            out.append(_C.tensor(piece).to(p.dtype))
            start += size
        return out

    def predicted_change(self, step=1.0):
        """Second-order prediction of the loss change after ``escape(step)``:
        g·u·step + λ/2·step² (g ≈ 0 at a critical point)."""
        if self._escape_flat is None:
            return 0.0
        return float(self._gradient @ self._escape_flat) * step + self.escape_eigenvalue / 2.0 * step * step

    def escape(self, step=1.0):
        """Move the parameters in place by ``step`` along the escape direction; returns the
        predicted loss change. Raises if there is no negative eigenvalue to escape along."""
        if self.escape_direction is None:
            raise RuntimeError(f"no escape direction: the Hessian has no negative eigenvalue ({self.kind})")
        with no_grad():
            for p, u in zip(self.params, self.escape_direction):
                p.add_(u, alpha=step)
        return self.predicted_change(step)

    def escape_shares(self):
        """``[(name, share)]``: how much of the unit escape direction lies in each parameter tensor."""
        if self._escape_flat is None:
            return []
        shares, start = [], 0
        for name, p in self._named:
            size = p.numel()
            shares.append((name, float((self._escape_flat[start:start + size] ** 2).sum())))
            start += size
        return sorted(shares, key=lambda t: -t[1])

    def describe_escape(self, top=3):
        """"the eigenvector of λ = -2 (w1 50%, w2 50%)"."""
        if self._escape_flat is None:
            return "no escape direction"
        parts = ", ".join(f"{name} {100 * share:.0f}%" for name, share in self.escape_shares()[:top] if share >= 0.005)
        return f"the eigenvector of λ = {_fmt(self.escape_eigenvalue)} ({parts})"

    def _spectrum_line(self, ev, count=4):
        if len(ev) <= 2 * count:
            return ", ".join(_fmt(x) for x in ev)
        return ", ".join(_fmt(x) for x in ev[:count]) + ", …, " + ", ".join(_fmt(x) for x in ev[-count:])

    def __str__(self):
        how = "exact Hessian" if self.exact else (f"Lanczos on Hessian-vector products, {self.lanczos_steps} steps, "
                                                  f"max residual {_fmt(self.max_residual)}")
        approx = "" if self.exact else "≈"
        lines = [
            f"Critical-point analysis ({self.n_params:,} parameters, {how})",
            f"  loss {_fmt(self.loss)}, gradient norm {_fmt(self.grad_norm)} (critical below {_fmt(self.grad_tol)})",
            f"  kind: {self.kind}",
            f"  eigenvalues ({'all' if self.exact else 'extremes'}): {self._spectrum_line(self.eigenvalues)}",
            (f"  {approx}{self.n_negative:,} negative, {approx}{self.n_zero:,} ~zero (|λ| <= "
            f"{_fmt(zero_tolerance(self.eigenvalues, self.tol))}), {approx}{self.n_positive:,} positive"),
            f"  minimum ratio: {self.minimum_ratio:.3f} (share of positive eigenvalues"
            + ("" if self.exact else ", estimated by Lanczos quadrature") + ")",
        ]
        if self._escape_flat is not None:
            lines.append(f"  escape direction: {self.describe_escape()}; a unit step changes the loss by "
                         f"about λ/2 = {_fmt(self.predicted_loss_change)} (report.escape(step) moves the parameters)")
        else:
            lines.append("  escape direction: none (no negative eigenvalue)")
        return "\n".join(lines)

    def __repr__(self):
        return (f"CriticalPointReport(kind={self.kind!r}, grad_norm={self.grad_norm:.3g}, "
                f"minimum_ratio={self.minimum_ratio:.3f}, n_params={self.n_params})")
