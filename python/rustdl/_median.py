"""``median`` and ``nanmedian``: the lower of the two middle values, through
``sort`` (so the gradient flows to the chosen element, as PyTorch's)."""

from . import _C, _return_types
from ._grad_mode import no_grad


def _check(x, name):
    if x.dtype == _C.bool:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Bool\'')


def _median_dim(x, dim, keepdim, ignore_nan):
    name = "nanmedian" if ignore_nan else "median"
    _check(x, name)
    nd = x.dim()
    if not -max(nd, 1) <= dim < max(nd, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(nd, 1)}, {max(nd, 1) - 1}], "
                         f"but got {dim})")
    if nd == 0:
        values, indices = x.clone(), _C.zeros((), dtype=_C.int64)
        return getattr(_return_types, name)(values, indices)
    dim %= nd
    n = x.shape[dim]
    others = [s for i, s in enumerate(x.shape) if i != dim]
    if n == 0 and all(others):
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    if n == 0:
        shape = [s for i, s in enumerate(x.shape) if i != dim] if not keepdim else list(x.shape)
        return getattr(_return_types, name)(_C.empty(shape, dtype=x.dtype), _C.empty(shape, dtype=_C.int64))
    if x.numel() == 0:
        shape = list(x.shape) if keepdim else others
        if keepdim:
            shape[dim] = 1
        return getattr(_return_types, name)(_C.empty(shape, dtype=x.dtype), _C.empty(shape, dtype=_C.int64))
    ordered, order = x.sort(dim)  # NaN sorts last
    nan = x.isnan() if x.is_floating_point() else None
    if ignore_nan and nan is not None:
        # the lower middle of the non-NaN values (position 0, a NaN, when all are NaN)
        count = (~nan).sum(dim, keepdim=True)
        k = ((count - 1).clamp(min=0)) // 2
    else:
        k = _C.full([1 if i == dim else s for i, s in enumerate(x.shape)], (n - 1) // 2, dtype=_C.int64)
    values = ordered.gather(dim, k)
    indices = order.gather(dim, k)
    if nan is not None and not ignore_nan:
        # PyTorch: NaN wins, at the position of the first NaN
        has_nan = nan.any(dim, keepdim=True)
        first_nan = nan.to(_C.uint8).argmax(dim, keepdim=True)
        values = _C.where(has_nan, x.gather(dim, first_nan), values)
        indices = _C.where(has_nan, first_nan, indices)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return getattr(_return_types, name)(values, indices)


def _median_all(x, ignore_nan):
    name = "nanmedian" if ignore_nan else "median"
    _check(x, name)
    if x.numel() == 0:
        fill = float("nan") if x.is_floating_point() else -(1 << 63)
        return _C.full((), fill, dtype=x.dtype)
    with no_grad():
        value = _median_dim(x.reshape(-1), 0, False, ignore_nan).values
    if not (_C.is_grad_enabled() and x.requires_grad and x.is_floating_point()):
        return value
    # PyTorch's gradient of the global median: shared equally by every
    # element equal to it (MedianBackward0), not given to one of them.
    value = value.detach()
    ties = (x == value) | (x.isnan() & value.isnan())
    share = ties.to(x.dtype) / ties.sum().to(x.dtype)

    def backward(grads):
        return [grads[0] * share]

    _C._record_function("NanmedianBackward0" if ignore_nan else "MedianBackward0", [x], [value], backward)
    return value



def median(self, dim=None, keepdim=False):
    return _median_all(self, False) if dim is None else _median_dim(self, dim, keepdim, False)


def nanmedian(self, dim=None, keepdim=False):
    return _median_all(self, True) if dim is None else _median_dim(self, dim, keepdim, True)
