"""``rustdl.analysis``: what kind of point the optimiser is at.

``critical_point(closure, params)`` computes the gradient norm and the Hessian's
eigenvalues (exactly, or the extremes by Lanczos on Hessian-vector products) and
says whether the parameters sit at a local minimum, a local maximum, a saddle
point (with the direction to escape it) or a degenerate / non-critical point.
"""

from .critical_point import critical_point
from .hessian_vector import HessianVectorProduct
from .lanczos import LanczosResult, lanczos_extremes
from .report import KINDS, CriticalPointReport, classify

__all__ = [
    "KINDS",
    "CriticalPointReport",
    "HessianVectorProduct",
    "LanczosResult",
    "classify",
    "critical_point",
    "lanczos_extremes",
]
