"""Top-level linear-algebra functions (``torch.det``, ``torch.svd``, ...)
and the matching Tensor methods, built on ``rustdl.linalg``."""

import warnings

from . import _C, _return_types, linalg
from ._checks import require_tensors as _require_tensors
from ._out import write_out as _into
from .amp.autocast_mode import _op as _autocast_op

Tensor = _C.Tensor

_CHOLESKY_REMOVED = (
    "This function was deprecated since version 1.9 and is now removed. `torch.cholesky` is deprecated in "
    "favor of `torch.linalg.cholesky`.\nL = torch.cholesky(A) should be replaced with:\n"
    "L = torch.linalg.cholesky(A)\nU = torch.cholesky(A, upper=True) should be replaced with:\n"
    "U = torch.linalg.cholesky(A).mH"
)


def det(input):
    _require_tensors("det", ("input", input))
    return linalg.det(input)


def logdet(input):
    """log(det): NaN for a negative determinant, -inf for a zero one."""
    _require_tensors("logdet", ("input", input))
    sign, logabsdet = _C._linalg_slogdet(input, "logdet")
    return logabsdet + sign.log()


def slogdet(input):
    _require_tensors("slogdet", ("input", input))
    return _return_types.slogdet(*_C._linalg_slogdet(input))


@_autocast_op("fp32")
def inverse(input, *, out=None):
    _require_tensors("inverse", ("input", input))
    return _into(out, linalg.inv(input), "inverse")


def svd(input, some=True, compute_uv=True, *, out=None):
    """(U, S, V) with V (not Vh); without ``compute_uv`` U and V are zeros of
    the full shapes, as in PyTorch."""
    _require_tensors("svd", ("input", input))
    if compute_uv:
        U, S, Vh = _C._linalg_svd(input, not some)
        return _into(out, _return_types.svd(U, S, Vh.mT), "svd")
    S = _C._linalg_svd(input, False)[1]
    *batch, m, n = input.shape
    U = _C.zeros((*batch, m, m), dtype=input.dtype)
    V = _C.zeros((*batch, n, n), dtype=input.dtype)
    return _into(out, _return_types.svd(U, S, V), "svd")


def cholesky(input, upper=False, *, out=None):
    # removed from PyTorch (2.x raises this); torch.linalg.cholesky replaces it
    raise RuntimeError(_CHOLESKY_REMOVED)


def cross(input, other, dim=None, *, out=None):
    """As ``linalg.cross``; without ``dim``, the first dim of size 3 (deprecated in PyTorch)."""
    _require_tensors("cross", ("input", input), ("other", other))
    if dim is None:
        warnings.warn(
            "Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
            "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
            "with that of linalg.cross in a future release.",
            UserWarning,
            stacklevel=2,
        )
        dim = next((i for i, s in enumerate(input.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return _into(out, _C._linalg_cross(input, other, dim), "cross")


def matrix_power(input, n, *, out=None):
    return _into(out, linalg.matrix_power(input, n), "matrix_power")


_METHODS = {
    "matrix_power": matrix_power,
    "det": det,
    "logdet": logdet,
    "slogdet": slogdet,
    "inverse": inverse,
    "svd": svd,
    "cholesky": cholesky,
    "cross": cross,
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
