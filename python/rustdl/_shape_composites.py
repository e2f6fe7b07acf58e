"""torch functions that stack, split, flip or scatter along one dimension, composed from rustdl's
differentiable view, cat and copy ops (their gradients of every order come from those ops):
hstack, vstack, row_stack, dstack, column_stack, hsplit, vsplit, dsplit, flipud, fliplr,
narrow_copy, select_scatter, slice_scatter, diagonal_scatter."""

import rustdl as _t

from .functional import atleast_1d, atleast_2d, atleast_3d


def _tensor_list(tensors, op):
    if isinstance(tensors, _t.Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, not {type(tensors).__name__}")
    if len(tensors) == 0:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return list(tensors)


def hstack(tensors, *, out=None):
    parts = [atleast_1d(x) for x in _tensor_list(tensors, "hstack")]
    return _t.cat(parts, 0 if parts[0].dim() == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    return _t.cat([atleast_2d(x) for x in _tensor_list(tensors, "vstack")], 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    return _t.cat([atleast_3d(x) for x in _tensor_list(tensors, "dstack")], 2, out=out)


def column_stack(tensors, *, out=None):
    parts = [x.reshape(x.numel(), 1) if x.dim() <= 1 else x for x in _tensor_list(tensors, "column_stack")]
    return _t.cat(parts, 1, out=out)


def _split_along(input, indices_or_sections, dim, min_dims, op):
    if input.dim() < min_dims:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {min_dims} dimension"
                           f"{'s' if min_dims > 1 else ''}, but got a tensor with {input.dim()} dimensions!")
    if isinstance(indices_or_sections, int) and not isinstance(indices_or_sections, bool):
        size = input.shape[dim]
        if indices_or_sections == 0 or size % indices_or_sections != 0:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the size of the "
                               f"dimension {size} is not divisible by the split_size {indices_or_sections}!")
    return _t.tensor_split(input, indices_or_sections, dim)


def hsplit(input, indices_or_sections):
    return _split_along(input, indices_or_sections, 0 if input.dim() == 1 else 1, 1, "hsplit")


def vsplit(input, indices_or_sections):
    return _split_along(input, indices_or_sections, 0, 2, "vsplit")


def dsplit(input, indices_or_sections):
    return _split_along(input, indices_or_sections, 2, 3, "dsplit")


def flipud(input):
    if input.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return input.flip(0)


def fliplr(input):
    if input.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return input.flip(1)


def narrow_copy(input, dim, start, length):
    return input.narrow(dim, start, length).clone()


def _scatter_into_view(input, src, view_of, op):
    """A copy of `input` whose view `view_of(copy)` holds `src`: the gradient reaches `input`
    outside the view and `src` inside it, through rustdl's copy-into-view autograd."""
    if not isinstance(src, _t.Tensor):
        raise TypeError(f"{op}(): argument 'src' must be Tensor, not {type(src).__name__}")
    result = input.clone()
    target = view_of(result)
    if tuple(target.shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(target.shape)}")
    if src.dtype != input.dtype:
        raise RuntimeError(f"{op}(): expected src to have the same dtype as self ({input.dtype}), "
                           f"got {src.dtype}")
    target.copy_(src)
    return result


def select_scatter(input, src, dim, index):
    return _scatter_into_view(input, src, lambda r: r.select(dim, index), "select_scatter")


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    if step <= 0:
        raise RuntimeError("slice step must be positive")

    def view(r):
        index = [slice(None)] * r.dim()
        index[dim if dim >= 0 else dim + r.dim()] = slice(start, end, step)
        return r[tuple(index)]

    if input.dim() == 0:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    return _scatter_into_view(input, src, view, "slice_scatter")


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    return _scatter_into_view(input, src, lambda r: r.diagonal(offset, dim1, dim2), "diagonal_scatter")


FUNCTIONS = ["column_stack", "diagonal_scatter", "dsplit", "dstack", "fliplr", "flipud", "hsplit", "hstack",
             "narrow_copy", "row_stack", "select_scatter", "slice_scatter", "vsplit", "vstack"]
METHODS = ["dsplit", "fliplr", "flipud", "hsplit", "narrow_copy", "select_scatter", "slice_scatter",
           "diagonal_scatter", "vsplit"]
