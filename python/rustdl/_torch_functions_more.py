"""More torch.* functions, composed from existing ops: gradient, histogram, histogramdd,
index_reduce, binomial, rms_norm, range, nonzero_static, the functional RNN cells
(lstm_cell, gru_cell, rnn_tanh_cell, rnn_relu_cell), convolution, constant_pad_nd,
native_batch_norm / native_group_norm / native_dropout, nuclear_norm / frobenius_norm,
ctc_loss, typename, is_signed, get_device, eager cond / while_loop, and the functions PyTorch
removed (lstsq, solve, symeig, matrix_rank, eig), which raise as they do there."""

import builtins
import warnings

import numpy as np

import rustdl as _t

from . import _return_types
from ._grad_mode import is_inference_mode_enabled  # noqa: F401  (re-exported as torch.<name>)
from .nn import functional as F


def _dims_of(input, dim):
    if dim is None:
        return list(builtins.range(input.dim()))
    return [d % input.dim() for d in ([dim] if isinstance(dim, int) else dim)]


def _gradient_along(f, dim, spacing, edge_order):
    """numpy.gradient's central differences along one dim: uniform step or sample coordinates."""
    n = f.shape[dim]
    if n < edge_order + 1:
        raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")

    def part(start, length):
        return f.narrow(dim, start, length)

    if isinstance(spacing, _t.Tensor) and spacing.dim() == 1:
        x = spacing.to(f.dtype if f.is_floating_point() else _t.get_default_dtype())
        shape = [1] * f.dim()
        shape[dim] = -1
        dx = (x[1:] - x[:-1]).reshape(shape)
        hd, hs = dx.narrow(dim, 0, n - 2), dx.narrow(dim, 1, n - 2)
        # hd, hs: the left and right steps around each interior point
        interior = (hd * hd * part(2, n - 2) + (hs * hs - hd * hd) * part(1, n - 2) - hs * hs * part(0, n - 2)) / (
            hs * hd * (hd + hs))
        d0, d1 = dx.narrow(dim, 0, 1), dx.narrow(dim, 1, 1) if n > 2 else None
        dl, dl2 = dx.narrow(dim, n - 2, 1), dx.narrow(dim, n - 3, 1) if n > 2 else None
        if edge_order == 1:
            first = (part(1, 1) - part(0, 1)) / d0
            last = (part(n - 1, 1) - part(n - 2, 1)) / dl
        else:
            first = (-(2 * d0 + d1) / (d0 * (d0 + d1)) * part(0, 1) + (d0 + d1) / (d0 * d1) * part(1, 1)
                     - d0 / (d1 * (d0 + d1)) * part(2, 1))
            last = (dl / (dl2 * (dl2 + dl)) * part(n - 3, 1) - (dl + dl2) / (dl2 * dl) * part(n - 2, 1)
                    + (2 * dl + dl2) / (dl * (dl2 + dl)) * part(n - 1, 1))
    else:
        h = float(spacing.item() if isinstance(spacing, _t.Tensor) else spacing)
        interior = (part(2, n - 2) - part(0, n - 2)) / (2 * h)
        if edge_order == 1:
            first = (part(1, 1) - part(0, 1)) / h
            last = (part(n - 1, 1) - part(n - 2, 1)) / h
        else:
            first = (-3 * part(0, 1) + 4 * part(1, 1) - part(2, 1)) / (2 * h)
            last = (3 * part(n - 1, 1) - 4 * part(n - 2, 1) + part(n - 3, 1)) / (2 * h)
    return _t.cat([first, interior, last], dim)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    dims = _dims_of(input, dim)
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                               f"arguments to have the same length, but got a spacing argument of length "
                               f"{len(spacing)} and a dim argument of length {len(dims)}.")
        spacings = list(spacing)
    else:
        spacings = [spacing] * len(dims)
    f = input if input.is_floating_point() else input.to(_t.get_default_dtype())
    return tuple(_gradient_along(f, d, s, edge_order) for d, s in zip(dims, spacings))


def histogram(input, bins, *, range=None, weight=None, density=False, out=None):
    if not input.is_floating_point():
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{str(input.dtype).split('.')[-1]}'")
    values = input.detach().reshape(-1).numpy()
    edges = bins.detach().numpy() if isinstance(bins, _t.Tensor) else bins
    weights = None if weight is None else weight.detach().reshape(-1).numpy()
    hist, bin_edges = np.histogram(values, bins=edges, range=range, weights=weights, density=density)
    return _return_types.histogram(_t.tensor(hist, dtype=input.dtype), _t.tensor(bin_edges, dtype=input.dtype))


def histogramdd(input, bins, *, range=None, weight=None, density=False):
    values = input.detach().reshape(-1, input.shape[-1]).numpy()
    edges = [b.detach().numpy() for b in bins] if isinstance(bins, (list, tuple)) and bins and \
        isinstance(bins[0], _t.Tensor) else bins
    ranges = None if range is None else [(range[2 * i], range[2 * i + 1]) for i in builtins.range(len(range) // 2)]
    weights = None if weight is None else weight.detach().reshape(-1).numpy()
    hist, bin_edges = np.histogramdd(values, bins=edges, range=ranges, weights=weights, density=density)
    return _return_types.histogramdd(_t.tensor(hist, dtype=input.dtype),
                                     [_t.tensor(e, dtype=input.dtype) for e in bin_edges])


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """input with source's slices reduced into the rows `index` names along `dim` (prod, mean,
    amax, amin): scatter_reduce with the index spread over the other dims."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    dim = dim % max(input.dim(), 1)
    shape = [1] * source.dim()
    shape[dim] = -1
    spread = index.reshape(shape).expand(tuple(source.shape))
    return input.scatter_reduce(dim, spread, source, reduce, include_self=include_self)


def binomial(count, prob, generator=None):
    if generator is not None:
        raise NotImplementedError("binomial(): an explicit generator is not supported yet; use manual_seed")
    return _t.distributions.Binomial(count, probs=prob).sample()


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return F.rms_norm(input, normalized_shape, weight, eps)


def range(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The deprecated inclusive range: start, start + step, ..., up to end."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    if end is None:
        start, end = 0, start
    count = int(np.floor((end - start) / step)) + 1
    values = start + step * _t.arange(max(count, 0), dtype=_t.float64)
    return values.to(_t.get_default_dtype() if dtype is None else dtype).requires_grad_(requires_grad)


def nonzero_static(input, *, size, fill_value=-1):
    found = _t.nonzero(input)
    if found.shape[0] >= size:
        return found[:size]
    pad = _t.full((size - found.shape[0], max(input.dim(), 1) if input.dim() else 0), fill_value, dtype=_t.int64)
    return _t.cat([found, pad], 0)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    h, c = hx
    gates = F.linear(input, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    c_next = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_next.tanh(), c_next


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    x_r, x_z, x_n = F.linear(input, w_ih, b_ih).chunk(3, -1)
    h_r, h_z, h_n = F.linear(hx, w_hh, b_hh).chunk(3, -1)
    reset, update = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
    candidate = (x_n + reset * h_n).tanh()
    return (1 - update) * candidate + update * hx


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return (F.linear(input, w_ih, b_ih) + F.linear(hx, w_hh, b_hh)).tanh()


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return (F.linear(input, w_ih, b_ih) + F.linear(hx, w_hh, b_hh)).relu()


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    spatial = weight.dim() - 2
    if transposed:
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[spatial - 1]
        return fn(input, weight, bias, stride, padding, output_padding, groups, dilation)
    fn = (F.conv1d, F.conv2d, F.conv3d)[spatial - 1]
    return fn(input, weight, bias, stride, padding, dilation, groups)


def constant_pad_nd(input, pad, value=0):
    return F.pad(input, tuple(pad), "constant", value)


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    dims = [0] + list(builtins.range(2, input.dim()))
    if training:
        mean = input.mean(dims)
        invstd = (input.var(dims, unbiased=False) + eps).rsqrt()
    else:
        mean = invstd = _t.empty(0, dtype=input.dtype)
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    return out, mean, invstd


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    grouped = input.reshape(N, group, -1)
    mean = grouped.mean(-1)
    rstd = (grouped.var(-1, unbiased=False) + eps).rsqrt()
    return F.group_norm(input, group, weight, bias, eps), mean, rstd


def native_dropout(input, p, train):
    if not train:
        return input.clone(), _t.ones_like(input, dtype=_t.bool)
    keep = _t.rand_like(input.to(_t.float32)) >= p
    scale = 0.0 if p == 1 else 1.0 / (1 - p)
    return input * keep.to(input.dtype) * scale, keep


def nuclear_norm(input, dim=None, keepdim=False):
    return _t.linalg.matrix_norm(input, "nuc", dim=(-2, -1) if dim is None else dim, keepdim=keepdim)


def frobenius_norm(input, dim=(-2, -1), keepdim=False):
    return _t.linalg.vector_norm(input, 2, dim=dim, keepdim=keepdim)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0, zero_infinity=False):
    # called without one, torch.ctc_loss does not reduce (as the other torch.<loss> forms)
    names = {0: "none", 1: "mean", 2: "sum"}
    reduction = names.get(reduction, reduction)
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)


def typename(obj):
    if isinstance(obj, _t.Tensor):
        return obj.type()
    cls = obj if isinstance(obj, type) else type(obj)
    module = cls.__module__
    module = "torch" + module[len("rustdl"):] if module.startswith("rustdl") else module
    return cls.__qualname__ if module in ("builtins", "__builtin__") else f"{module}.{cls.__qualname__}"


def is_signed(input):
    return input.is_signed()


def get_device(input):
    return -1


def is_distributed(input):
    return False


def compiled_with_cxx11_abi():
    return True


def init_num_threads():
    return None


def cond(pred, true_fn, false_fn, operands=()):
    """Eager control flow: the branch the predicate picks, called on the operands."""
    taken = bool(pred.item() if isinstance(pred, _t.Tensor) else pred)
    return (true_fn if taken else false_fn)(*operands)


def while_loop(cond_fn, body_fn, carried_inputs):
    carried = tuple(carried_inputs)
    while bool(cond_fn(*carried)):
        result = body_fn(*carried)
        carried = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    return carried


def _removed(name, replacement):
    def function(*args, **kwargs):
        raise RuntimeError(f"This function was deprecated since version 1.9 and is now removed. `torch.{name}` is "
                           f"replaced by {replacement}.")

    function.__name__ = name
    return function


lstsq = _removed("lstsq", "torch.linalg.lstsq")
solve = _removed("solve", "torch.linalg.solve")
symeig = _removed("symeig", "torch.linalg.eigh")
matrix_rank = _removed("matrix_rank", "torch.linalg.matrix_rank")
eig = _removed("eig", "torch.linalg.eig")

# `range` is served by rustdl.__getattr__, never made a module global: it would shadow the builtin
# for every function defined in rustdl/__init__.py
FUNCTIONS = ["binomial", "compiled_with_cxx11_abi", "cond", "constant_pad_nd", "convolution", "ctc_loss", "eig",
             "frobenius_norm", "get_device", "gradient", "gru_cell", "histogram", "histogramdd", "index_reduce",
             "init_num_threads", "is_distributed", "is_inference_mode_enabled", "is_signed", "lstm_cell", "lstsq",
             "matrix_rank", "native_batch_norm", "native_dropout", "native_group_norm", "nonzero_static",
             "nuclear_norm", "rms_norm", "rnn_relu_cell", "rnn_tanh_cell", "solve", "symeig", "typename",
             "while_loop"]
