"""Tensor methods and torch functions that are other spellings or plain forms of existing ops,
installed in one place so that each family is one mechanism rather than many definitions:

- aliases PyTorch keeps for NumPy/array-API names (`not_equal`, `arctan2`, `greater_equal`, ...);
- method forms of torch functions (`x.unique()`, `x.multinomial(n)`, ...) and function forms of
  Tensor methods, in place ones included (`torch.exp_(x)`, `torch.fill_(x, v)`);
- in-place forms missing from the Rust binding (`cumsum_`, `hypot_`, ...), each computed
  out of place and written back (reading a copy when a graph is recorded, so the op's backward
  still sees the old values);
- what a real-valued tensor answers to complex-number queries (`conj`, `real`, `imag`, `angle`,
  `is_complex`, ...: rustdl has no complex dtypes, so these are the identities PyTorch gives
  for real inputs, and `imag` raises as PyTorch does);
- `*_copy` forms of view ops, and small predicates (`is_nonzero`, `is_same_size`, `is_signed`,
  `isposinf`, `isneginf`, `nbytes`, `itemsize`, `get_device`, `sum_to_size`, `fill_diagonal_`, `put_`)."""

import math

import rustdl as _t

from ._out import write_out

_ALIASES = {  # alias: existing name, for both torch.<alias> and Tensor.<alias> (when the target has them)
    "not_equal": "ne", "not_equal_": "ne_", "greater_equal": "ge", "greater_equal_": "ge_",
    "less_equal": "le", "less_equal_": "le_", "greater_": "gt_", "less_": "lt_", "arctan2": "atan2",
    "arctan2_": "atan2_", "unsafe_chunk": "chunk", "unsafe_split": "split", "split_with_sizes": "split",
    "unsafe_split_with_sizes": "split", "trapz": "trapezoid", "rsub": None,
}

# torch functions that become Tensor methods as they are (the tensor is the first argument)
_FUNCTIONS_AS_METHODS = ["unique", "unique_consecutive", "multinomial", "bernoulli", "histogram", "index_reduce", "nonzero_static", "i0", "igamma", "igammac", "pinverse", "matrix_exp",
                         "prelu", "hardshrink", "isposinf", "isneginf", "adjoint", "conj", "conj_physical",
                         "resolve_conj", "resolve_neg", "real", "imag", "angle", "isreal", "is_complex", "is_conj",
                         "is_neg", "is_nonzero", "is_same_size", "is_inference", "cholesky_solve",
                         "cholesky_inverse", "qr", "lu", "lu_solve", "triangular_solve", "nonzero_static"]

# out-of-place ops whose in-place form (name + "_") the Tensor lacks
_NEEDS_IN_PLACE = ["index_reduce", "cumsum", "cumprod", "renorm", "copysign", "hypot", "ldexp", "nextafter", "i0", "igamma", "igammac", "clamp_min",
                   "clamp_max", "addr", "conj_physical", "logit", "xlogy"]


def _with_graph_copy(self):
    return self.clone() if self.requires_grad and _t.is_grad_enabled() else self


def _in_place_of(name):
    def method(self, *args, **kwargs):
        return self.copy_(getattr(_t, name)(_with_graph_copy(self), *args, **kwargs))

    method.__name__ = name + "_"
    return method


def _method_of(function):
    def method(self, *args, **kwargs):
        return function(self, *args, **kwargs)

    method.__name__ = function.__name__
    return method


def _function_of(method_name):
    def function(input, *args, **kwargs):
        return getattr(input, method_name)(*args, **kwargs)

    function.__name__ = method_name
    return function


# --- complex-number queries on real tensors ---


def is_complex(input):
    return False


def is_conj(input):
    return False


def is_neg(input):
    return False


def conj(input):
    return input


conj_physical = resolve_conj = resolve_neg = conj


def conj_physical_(input):
    return input


def real(input):
    return input


def imag(input):
    raise TypeError("imag is not implemented for tensors with non-complex dtypes.")


def isreal(input):
    return _t.ones_like(input, dtype=_t.bool)


def angle(input, *, out=None):
    """0 for non-negative values, pi for negative ones, NaN kept (float result for integers)."""
    x = input if input.is_floating_point() else input.to(_t.get_default_dtype())
    value = _t.where(x < 0, _t.full_like(x, math.pi), _t.zeros_like(x)) + x * 0  # x * 0 keeps NaN
    return write_out(out, value, "angle")


def adjoint(input):
    if input.dim() < 2:
        raise RuntimeError("tensor.adjoint() is only supported on matrices or batches of matrices. "
                           f"Got {input.dim()}-D tensor.")
    return input.transpose(-2, -1)


# --- small predicates and helpers ---


def is_nonzero(input):
    if input.numel() == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if input.numel() > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item() != 0)


def is_same_size(input, other):
    return tuple(input.shape) == tuple(other.shape)


def is_inference(input):
    return False


def isposinf(input, *, out=None):
    value = (input == math.inf) if input.is_floating_point() else _t.zeros_like(input, dtype=_t.bool)
    return write_out(out, value, "isposinf")


def isneginf(input, *, out=None):
    value = (input == -math.inf) if input.is_floating_point() else _t.zeros_like(input, dtype=_t.bool)
    return write_out(out, value, "isneginf")


def nbytes(self):
    return self.numel() * self.element_size()


def itemsize(self):
    return self.element_size()


def get_device(self):
    return -1  # CPU, as PyTorch reports it


def sum_to_size(self, *size):
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list, _t.Size)) else size
    if len(size) > self.dim() or tuple(_t.broadcast_shapes(size, tuple(self.shape))) != tuple(self.shape):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(self.shape)}}}.")
    lead = self.dim() - len(size)
    result = self.sum(tuple(range(lead))) if lead else self
    dims = tuple(i for i, n in enumerate(size) if n == 1 and result.shape[i] != 1)
    return result.sum(dims, keepdim=True) if dims else result


def fill_diagonal_(self, fill_value, wrap=False):
    if self.dim() < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.dim() > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if self.dim() == 2:
        rows, cols = self.shape
        positions = _t.arange(0, rows * cols, cols + 1)  # the diagonal of a row-major matrix
        if not (wrap and rows > cols + 1):  # wrap: a tall matrix's diagonal restarts every cols + 1 rows
            positions = positions[: min(rows, cols)]
    else:
        size = self.shape[0]
        positions = _t.arange(size) * sum(size ** k for k in range(self.dim()))
    flat = _with_graph_copy(self).contiguous().view(-1)
    return self.copy_(flat.index_fill(0, positions, fill_value).view(self.shape))


def put_(self, index, source, accumulate=False):
    if index.numel() != source.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    n = self.numel()
    flat_index = index.reshape(-1)
    if flat_index.numel() and ((flat_index >= n) | (flat_index < -n)).any():
        raise IndexError(f"out of range: tried to access index {int(flat_index.abs().max())} on a tensor of "
                         f"{n} elements.")
    flat_index = _t.where(flat_index < 0, flat_index + n, flat_index)
    base = _with_graph_copy(self).reshape(-1)
    values = source.reshape(-1).to(self.dtype)
    updated = base.index_add(0, flat_index, values) if accumulate else base.index_copy(0, flat_index, values)
    return self.copy_(updated.view(self.shape))


def put(input, index, source, accumulate=False):
    return put_(input.clone(), index, source, accumulate)


def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, **kwargs):
    return _t.empty_strided(size, stride, dtype=self.dtype if dtype is None else dtype,
                            requires_grad=requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False, **kwargs):
    return _t.tensor(s, dtype=_t.get_default_dtype() if dtype is None else dtype, requires_grad=requires_grad)


def rsub(input, other, *, alpha=1):
    return _t.sub(other, input, alpha=alpha) if isinstance(other, _t.Tensor) else (-alpha) * input + other


_VIEW_COPIES = ["alias", "as_strided", "detach", "diagonal", "expand", "narrow", "permute", "select", "slice",
                "split", "split_with_sizes", "squeeze", "t", "transpose", "unbind", "unfold", "unsqueeze", "view",
                "view_as_real"]


def _copy_of_view(view_name):
    def function(input, *args, **kwargs):
        if view_name == "alias":
            return input.clone()
        if view_name == "slice":
            dim, start, end, step = (list(args) + [0, None, None, 1][len(args):])[:4]
            index = [slice(None)] * input.dim()
            index[dim] = slice(start, end, step)
            return input[tuple(index)].clone()
        result = getattr(input, "split" if view_name == "split_with_sizes" else view_name)(*args, **kwargs)
        return tuple(r.clone() for r in result) if isinstance(result, (tuple, list)) else result.clone()

    function.__name__ = view_name + "_copy"
    return function


def install(torch_namespace, tensor_class):
    module = globals()
    for name in ("is_complex", "is_conj", "is_neg", "conj", "conj_physical", "conj_physical_", "resolve_conj",
                 "resolve_neg", "real", "imag", "isreal", "angle", "adjoint", "is_nonzero", "is_same_size",
                 "is_inference", "isposinf", "isneginf", "put", "scalar_tensor", "rsub"):
        torch_namespace.setdefault(name, module[name])
    for name in ("nbytes", "itemsize"):
        setattr(tensor_class, name, property(module[name]))
    for name in ("get_device", "sum_to_size", "fill_diagonal_", "put_", "put", "new_empty_strided"):
        if not hasattr(tensor_class, name):
            setattr(tensor_class, name, module[name])
    for name in ("real", "imag"):  # properties on Tensor, as in PyTorch
        if not hasattr(tensor_class, name):
            setattr(tensor_class, name, property(module[name]))
    for alias, target in _ALIASES.items():
        if target is None:
            continue
        if target in torch_namespace and alias not in torch_namespace:
            torch_namespace[alias] = torch_namespace[target]
        if hasattr(tensor_class, target) and not hasattr(tensor_class, alias):
            setattr(tensor_class, alias, getattr(tensor_class, target))
    for name in _NEEDS_IN_PLACE:
        if not hasattr(tensor_class, name + "_") and name in torch_namespace:
            setattr(tensor_class, name + "_", _in_place_of(name))
    for name in _FUNCTIONS_AS_METHODS:
        if not hasattr(tensor_class, name) and name in torch_namespace:
            setattr(tensor_class, name, _method_of(torch_namespace[name]))
    # torch.<method>_ for every in-place Tensor method (torch.exp_(x), torch.fill_(x, v), ...)
    for name in dir(tensor_class):
        if name.endswith("_") and not name.startswith("_") and name not in torch_namespace:
            torch_namespace[name] = _function_of(name)
    for name in ("fill", "zero"):  # out-of-place forms of fill_/zero_
        torch_namespace.setdefault(name, lambda input, *a, _m=name + "_": getattr(input.clone(), _m)(*a))
    for view_name in _VIEW_COPIES:
        torch_namespace.setdefault(view_name + "_copy", _copy_of_view(view_name))
