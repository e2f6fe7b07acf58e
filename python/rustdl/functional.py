"""``rustdl.functional``: the functions of ``torch.functional``.

``split``, ``norm``, ``broadcast_shapes`` and ``broadcast_tensors`` are
rustdl's own (the same objects as ``rustdl.split`` ...); the others are
compositions of rustdl ops (permute, reshape, matmul, indexing, cat, sort),
differentiable wherever PyTorch's are. ``stft``/``istft`` and ``lu`` raise NotImplementedError (rustdl has no FFT
and no LU factorization yet); ``svd_lowrank``/``pca_lowrank`` truncate the exact
SVD (deterministic); and ``unique``/``unique_consecutive``
support only ``dim=None``.
"""

import math
import warnings

from . import _into, broadcast_shapes, broadcast_tensors, norm, split
from . import cdist as _cdist
from ._C import Tensor, _autocast_active, arange, cat, int64, result_type, stack, tensor, zeros
from ._C import bool as _bool

__all__ = [
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "block_diag",
    "broadcast_shapes",
    "broadcast_tensors",
    "cartesian_prod",
    "cdist",
    "chain_matmul",
    "einsum",
    "istft",
    "lu",
    "meshgrid",
    "norm",
    "pca_lowrank",
    "split",
    "stft",
    "svd_lowrank",
    "tensordot",
    "unique",
    "unique_consecutive",
    "unravel_index",
]


def _not_implemented(name, what):
    raise NotImplementedError(f"rustdl.functional.{name} (torch.{name}) is not implemented: {what}")


# ---------------------------------------------------------------- shapes


def _atleast(tensors, fn):
    if len(tensors) == 1:
        tensors = tensors[0]
    if isinstance(tensors, Tensor):
        return fn(tensors)
    return tuple(fn(t) for t in tensors)


def atleast_1d(*tensors):
    """Views with at least one dimension: a 0-d tensor becomes shape ``(1,)``."""
    return _atleast(tensors, lambda t: t.reshape(1) if t.dim() == 0 else t)


def atleast_2d(*tensors):
    """Views with at least two dimensions: ``()`` -> ``(1, 1)``, ``(n,)`` -> ``(1, n)``."""
    return _atleast(tensors, lambda t: t.reshape(1, -1) if t.dim() < 2 else t)


def _to_3d(t):
    if t.dim() == 0:
        return t.reshape(1, 1, 1)
    if t.dim() == 1:
        return t.reshape(1, -1, 1)
    if t.dim() == 2:
        return t.unsqueeze(-1)
    return t


def atleast_3d(*tensors):
    """Views with at least three dimensions: ``(n,)`` -> ``(1, n, 1)``, ``(m, n)`` -> ``(m, n, 1)``."""
    return _atleast(tensors, _to_3d)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 0-d/1-d tensors; ``indexing='ij'`` (matrix, the default
    with a warning, as PyTorch) or ``'xy'`` (Cartesian: the first two swapped)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got shape {list(t.shape)}")
        if t.dtype != tensors[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        tensors = (tensors[1], tensors[0]) + tuple(tensors[2:])
    sizes = [t.numel() for t in tensors]
    n = len(tensors)
    grids = [t.reshape([-1 if d == i else 1 for d in range(n)]).expand(tuple(sizes)) for i, t in enumerate(tensors)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cartesian_prod(*tensors):
    """The Cartesian product of 1-d tensors as rows of a ``(N, len(tensors))`` tensor."""
    for t in tensors:
        if t.dim() != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], dim=1)


def block_diag(*tensors):
    """A block-diagonal matrix from 0-d, 1-d (one row) and 2-d blocks."""
    blocks = []
    for i, t in enumerate(tensors):
        if t.dim() > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has {t.dim()} dimensions"
            )
        blocks.append(t.reshape(1, -1) if t.dim() < 2 else t)
    if not blocks:
        return zeros(1, 0)
    dtype = blocks[0].dtype
    for b in blocks[1:]:
        dtype = result_type(zeros(0, dtype=dtype), b)
    total = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        r, c = b.shape
        parts = [zeros(r, left, dtype=dtype), b.to(dtype), zeros(r, total - left - c, dtype=dtype)]
        rows.append(cat(parts, dim=1))
        left += c
    return cat(rows, dim=0)


def unravel_index(indices, shape):
    """Flat indices -> a tuple of coordinate tensors for ``shape`` (C order);
    like PyTorch, indices are not range-checked (they wrap, floor-wise)."""
    if not isinstance(indices, Tensor):
        raise TypeError(f"expected 'indices' to be an integer tensor, but got {type(indices).__name__}")
    if indices.dtype.is_floating_point or indices.dtype is _bool:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    if 0 in shape and indices.numel() > 0:
        raise ValueError(f"'shape' cannot have zero dimensions when 'indices' is non-empty, but got {shape}")
    coords = []
    rest = indices.to(int64)
    for size in reversed(shape):
        coords.append(rest.remainder(size))
        rest = rest.div(size, rounding_mode="floor")
    return tuple(reversed(coords))


# ---------------------------------------------------------------- products


def tensordot(a, b, dims=2, out=None):
    """Contract ``a``'s ``dims[0]`` with ``b``'s ``dims[1]`` (or ``a``'s last
    ``dims`` with ``b``'s first ``dims``); the result has ``a``'s free dims
    then ``b``'s."""
    if isinstance(dims, Tensor):
        dims = dims.item() if dims.numel() == 1 else dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.dim() or dims > b.dim():
            raise RuntimeError(f"tensordot expects dims <= the inputs' dimensions, but got dims={dims}")
        dims_a, dims_b = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        dims_a, dims_b = dims
        dims_a = [dims_a] if isinstance(dims_a, int) else list(dims_a)
        dims_b = [dims_b] if isinstance(dims_b, int) else list(dims_b)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    if a.dtype != b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    dims_a = [_wrap_dim(d, a.dim()) for d in dims_a]
    dims_b = [_wrap_dim(d, b.dim()) for d in dims_b]
    for dims_x in (dims_a, dims_b):
        for d in dims_x:
            if dims_x.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    sizes = []
    for da, db in zip(dims_a, dims_b):
        sa, sb = a.shape[da], b.shape[db]
        if sa != sb and sa != 1 and sb != 1:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {sa} in dim {da} "
                f"and second has size {sb} in dim {db}"
            )
        sizes.append(max(sa, sb))
    free_a = [d for d in range(a.dim()) if d not in dims_a]
    free_b = [d for d in range(b.dim()) if d not in dims_b]
    free_sizes_a = [a.shape[d] for d in free_a]
    free_sizes_b = [b.shape[d] for d in free_b]
    k = math.prod(sizes)
    lhs = a.permute(free_a + dims_a).expand((*free_sizes_a, *sizes)).reshape(math.prod(free_sizes_a), k)
    rhs = b.permute(dims_b + free_b).expand((*sizes, *free_sizes_b)).reshape(k, math.prod(free_sizes_b))
    return _into(out, lhs.matmul(rhs).reshape(free_sizes_a + free_sizes_b), "tensordot")


def _wrap_dim(d, ndim):
    if not -max(ndim, 1) <= d < max(ndim, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {d})")
    return d % ndim if ndim else 0


def chain_matmul(*matrices, out=None):
    """The product of 2-d matrices, left to right. Deprecated in PyTorch in favour
    of ``torch.linalg.multi_dot`` (and warns, as there)."""
    warnings.warn(
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. "
        "Use torch.linalg.multi_dot instead, which accepts a list of two or more tensors "
        "rather than multiple parameters.",
        UserWarning,
        stacklevel=2,
    )
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {m.dim()}, expected 2 instead.")
    result = matrices[0].clone()
    for m in matrices[1:]:
        result = result.mm(m)
    return _into(out, result, "chain_matmul")


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M)."""
    if compute_mode not in (
        "use_mm_for_euclid_dist_if_necessary",
        "use_mm_for_euclid_dist",
        "donot_use_mm_for_euclid_dist",
    ):
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for name, x in (("X1", x1), ("X2", x2)):
        if x.dim() < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.dim()}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    return _cdist(x1, x2, p)


# ---------------------------------------------------------------- einsum

_ELLIPSIS = "..."


def _sublist_letter(n):
    if n is Ellipsis:
        return _ELLIPSIS
    if 0 <= n < 26:
        return chr(ord("A") + n)
    if 26 <= n < 52:
        return chr(ord("a") + n - 26)
    raise ValueError("einsum(): subscript in subscript list is not within the valid range [0, 52)")


def _sublist_equation(args):
    """``einsum(a, [0, 1], b, [1, 2], [0, 2])`` -> ``("AB,BC->AC", [a, b])``."""
    operands, terms = list(args[0::2]), ["".join(map(_sublist_letter, s)) for s in args[1::2]]
    if len(args) % 2:  # a trailing output sublist
        operands.pop()
        equation = ",".join(terms) + "->" + "".join(map(_sublist_letter, args[-1]))
    else:
        equation = ",".join(terms)
    return equation, operands


def _parse_term(term, where):
    """Subscripts of one term as a list of letters, with ``...`` kept as one item."""
    labels, i = [], 0
    while i < len(term):
        if term.startswith(_ELLIPSIS, i):
            if _ELLIPSIS in labels:
                raise RuntimeError(f"einsum(): found '...' more than once in {where}")
            labels.append(_ELLIPSIS)
            i += 3
            continue
        if not ("a" <= term[i] <= "z" or "A" <= term[i] <= "Z"):
            raise RuntimeError(f"einsum(): invalid subscript {term[i]!r} in {where}, subscripts must be in [a-zA-Z]")
        labels.append(term[i])
        i += 1
    return labels


def _expand_ellipsis(labels, n_ellipsis):
    """Replace ``...`` by integer labels -n..-1 (ellipsis dims are right-aligned across operands)."""
    out = []
    for label in labels:
        out.extend(range(-n_ellipsis, 0) if label == _ELLIPSIS else [label])
    return out


def _label_name(label):
    return label if isinstance(label, str) else "..."


def _take_diagonals(x, labels):
    """``ii`` in one operand: keep the diagonal (one dim per distinct label)."""
    while len(set(labels)) != len(labels):
        label = next(lb for lb in labels if labels.count(lb) > 1)
        p = labels.index(label)
        q = labels.index(label, p + 1)
        if x.shape[p] != x.shape[q]:
            raise RuntimeError(
                f"einsum(): subscript {_label_name(label)} is repeated for an operand "
                f"but the sizes don't match, {x.shape[p]} != {x.shape[q]}"
            )
        rest = [d for d in range(x.dim()) if d not in (p, q)]
        idx = arange(x.shape[p])
        x = x.permute([p, q] + rest)[idx, idx]
        labels = [label] + [labels[d] for d in rest]
    return x, labels


def _sum_out(x, labels, keep):
    dims = tuple(d for d, lb in enumerate(labels) if lb not in keep)
    if not dims:
        return x, labels
    return x.sum(dim=dims), [lb for lb in labels if lb in keep]


def _contract(a, la, b, lb, keep):
    """Multiply ``a`` and ``b`` and sum their shared labels that are not in ``keep``: one bmm."""
    batch = [lab for lab in la if lab in lb and lab in keep]
    summed = [lab for lab in la if lab in lb and lab not in keep]
    a_only = [lab for lab in la if lab not in lb]
    b_only = [lab for lab in lb if lab not in la]

    def size(lab):  # shared labels broadcast (a size of 1 against n)
        sa, sb = a.shape[la.index(lab)], b.shape[lb.index(lab)]
        return sb if sa == 1 else sa

    batch_sizes, summed_sizes = [size(lab) for lab in batch], [size(lab) for lab in summed]
    a_sizes = [a.shape[la.index(lab)] for lab in a_only]
    b_sizes = [b.shape[lb.index(lab)] for lab in b_only]
    nb, m, k, n = (math.prod(s) for s in (batch_sizes, a_sizes, summed_sizes, b_sizes))
    a3 = a.permute([la.index(lab) for lab in batch + a_only + summed])
    a3 = a3.expand((*batch_sizes, *a_sizes, *summed_sizes)).reshape(nb, m, k)
    b3 = b.permute([lb.index(lab) for lab in batch + summed + b_only])
    b3 = b3.expand((*batch_sizes, *summed_sizes, *b_sizes)).reshape(nb, k, n)
    result = a3.bmm(b3).reshape(batch_sizes + a_sizes + b_sizes)
    return result, batch + a_only + b_only


def einsum(*args):
    """Einstein summation: ``einsum("ij,jk->ik", a, b)``, also with operands in a
    list and in the sublist format ``einsum(a, [0, 1], b, [1, 2], [0, 2])``.
    Supports ``...``, implicit outputs (ellipsis dims, then once-seen labels in
    alphabetical order), repeated labels (diagonals) and size-1 broadcasting.
    Operands are contracted left to right, each pair with one batched matmul."""
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand")
    if isinstance(args[0], Tensor):
        equation, operands = _sublist_equation(args)
    else:
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for x in operands[1:]:
        if x.dtype != operands[0].dtype and not _autocast_active():  # autocast casts at the bmm
            raise RuntimeError(f"einsum(): expected all operands to have the same dtype, got {operands[0].dtype} and {x.dtype}")

    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")

    inputs, sizes, n_ellipsis = [], {}, 0
    for i, (term, x) in enumerate(zip(terms, operands)):
        labels = _parse_term(term, f"operand {i}")
        n_letters = len(labels) - (_ELLIPSIS in labels)
        n_ell = x.dim() - n_letters
        if (_ELLIPSIS in labels and n_ell < 0) or (_ELLIPSIS not in labels and n_ell != 0):
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({n_letters}) does not match the number "
                f"of dimensions ({x.dim()}) for operand {i}" + ("" if _ELLIPSIS in labels else " and no ellipsis was given")
            )
        labels = _expand_ellipsis(labels, n_ell if _ELLIPSIS in labels else 0)
        n_ellipsis = max(n_ellipsis, n_ell if _ELLIPSIS in term else 0)
        x, labels = _take_diagonals(x, labels)
        for lab, s in zip(labels, x.shape):
            seen = sizes.get(lab, 1)
            if s != 1 and seen != 1 and s != seen:
                raise RuntimeError(
                    f"einsum(): subscript {_label_name(lab)} has size {s} for operand {i} which does not "
                    f"broadcast with previously seen size {seen}"
                )
            sizes[lab] = max(seen, s) if s != 1 else seen
        inputs.append((x, labels))

    if arrow:
        output = _expand_ellipsis(_parse_term(rhs, "the output"), n_ellipsis)
        for lab in output:
            if output.count(lab) > 1:
                raise RuntimeError(f"einsum(): output subscript {lab} appears more than once in the output")
            if lab not in sizes:
                raise RuntimeError(f"einsum(): output subscript {lab} does not appear in the equation for any input operand")
    else:
        counts = {}
        for term in terms:
            for lab in _parse_term(term, "the equation"):
                counts[lab] = counts.get(lab, 0) + 1
        once = sorted(lab for lab, c in counts.items() if c == 1 and lab != _ELLIPSIS)
        output = list(range(-n_ellipsis, 0)) + once

    keep_out = set(output)
    x, labels = inputs[0]
    for j in range(1, len(inputs)):
        y, ylabels = inputs[j]
        later = keep_out.union(*(set(lbs) for _, lbs in inputs[j + 1:]))
        x, labels = _sum_out(x, labels, later | set(ylabels))
        y, ylabels = _sum_out(y, ylabels, later | set(labels))
        x, labels = _contract(x, labels, y, ylabels, later)
    x, labels = _sum_out(x, labels, keep_out)
    if labels != output:
        x = x.permute([labels.index(lab) for lab in output])
    return x


# ---------------------------------------------------------------- unique


def _unique_flat(values, sorted_order, return_inverse, return_counts, shape):
    """Shared tail of unique / unique_consecutive: ``values`` (1-d, equal values
    adjacent), ``sorted_order`` maps its positions back to the input's (or None)."""
    n = values.numel()
    if n == 0:
        result = [values, zeros(shape, dtype=int64), zeros(0, dtype=int64)]
        result = [result[0]] + [r for r, want in zip(result[1:], (return_inverse, return_counts)) if want]
        return result[0] if len(result) == 1 else tuple(result)
    starts = cat([tensor([True]), values[1:].ne(values[:-1])])  # NaN != NaN: each NaN its own value
    result = [values[starts]]
    if return_inverse:
        group = starts.cumsum(0) - 1
        if sorted_order is not None:
            group = zeros(n, dtype=int64).scatter(0, sorted_order, group)
        result.append(group.reshape(shape))
    if return_counts:
        first = starts.nonzero().reshape(-1)
        ends = cat([first[1:], tensor([n], dtype=int64)])
        result.append(ends - first)
    return result[0] if len(result) == 1 else tuple(result)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of ``input``, sorted (as PyTorch's CPU result, whatever
    ``sorted`` says); optionally the inverse indices and the counts. Each NaN
    counts as its own value. ``dim`` is not supported yet."""
    if dim is not None:
        _not_implemented("unique", "the dim= argument (only dim=None is supported)")
    flat = input.detach().reshape(-1)
    values, order = flat.sort(stable=True)
    return _unique_flat(values, order, return_inverse, return_counts, input.shape)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive values (``dim=None`` only)."""
    if dim is not None:
        _not_implemented("unique_consecutive", "the dim= argument (only dim=None is supported)")
    return _unique_flat(input.detach().reshape(-1), None, return_inverse, return_counts, input.shape)


# ---------------------------------------------------------------- not available


def stft(input, n_fft, *args, **kwargs):
    _not_implemented("stft", "rustdl has no FFT")


def istft(input, n_fft, *args, **kwargs):
    _not_implemented("istft", "rustdl has no FFT")


def lu(*args, **kwargs):
    _not_implemented("lu", "rustdl has no LU factorization")


def pca_lowrank(A, q=None, center=True, niter=2):
    """``(U, S, V)`` of the (column-centered) ``A``, rank ``q`` (default
    ``min(6, m, n)``), through :func:`svd_lowrank`."""
    m, n = A.shape[-2], A.shape[-1]
    q = min(6, m, n) if q is None else q
    if center:
        A = A - A.mean(dim=-2, keepdim=True)
    return svd_lowrank(A, q, niter)


def svd_lowrank(A, q=6, niter=2, M=None):
    """The rank-``q`` truncated SVD ``(U, S, V)`` of ``A - M``. PyTorch draws a
    random subspace and refines it ``niter`` times; rustdl truncates the exact
    SVD (``linalg.svd``), which is what that iteration converges to, so the
    result is deterministic (signs of the vectors may differ from PyTorch's)."""
    from . import linalg

    if M is not None:
        A = A - M
    q = 6 if q is None else q
    if not 0 <= q <= min(A.shape[-2], A.shape[-1]):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(A.shape[-2:])}")
    U, S, Vh = linalg.svd(A, full_matrices=False)
    return U[..., :q], S[..., :q], Vh[..., :q, :].transpose(-2, -1)

