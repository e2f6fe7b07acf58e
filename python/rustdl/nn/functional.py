"""``rustdl.nn.functional``: stateless neural-network ops (each one Rust call)."""

from .. import _C
from ..amp.autocast_mode import _op as _autocast_op
from ..autograd.function import Function as _Function


def _inplace_source(input, inplace):
    """What an ``inplace=True`` activation computes from. Its result is then written
    into ``input`` (``copy_``); had the op's node saved ``input`` itself for backward,
    that write would make backward fail ("modified by an inplace operation") where
    PyTorch's in-place kernel keeps what its backward needs. So when a graph is
    recorded the op reads a copy of ``input`` (recorded too: gradients still reach it)."""
    if inplace and input.requires_grad and _C.is_grad_enabled():
        return input.clone()
    return input


def relu(input, inplace=False):
    return input.relu_() if inplace else input.relu()


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = _C.leaky_relu(_inplace_source(input, inplace), negative_slope)
    return input.copy_(out) if inplace else out


def gelu(input, approximate="none"):
    return _C.gelu(input, approximate)


def elu(input, alpha=1.0, inplace=False):
    out = _C.elu(_inplace_source(input, inplace), alpha)
    return input.copy_(out) if inplace else out


def selu(input, inplace=False):
    out = _C.elu(_inplace_source(input, inplace), 1.6732632423543772, 1.0507009873554805)
    return input.copy_(out) if inplace else out


def celu(input, alpha=1.0, inplace=False):
    out = _C.elu(_inplace_source(input, inplace), alpha, 1.0, 1.0 / alpha)
    return input.copy_(out) if inplace else out


def silu(input, inplace=False):
    out = _C.silu(_inplace_source(input, inplace))
    return input.copy_(out) if inplace else out


def mish(input, inplace=False):
    out = _C.mish(_inplace_source(input, inplace))
    return input.copy_(out) if inplace else out


def softplus(input, beta=1.0, threshold=20.0):
    return _C.softplus(input, beta, threshold)


def softsign(input):
    return _C.softsign(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    out = _C.hardtanh(_inplace_source(input, inplace), min_val, max_val)
    return input.copy_(out) if inplace else out


def hardsigmoid(input, inplace=False):
    out = _C.hardsigmoid(_inplace_source(input, inplace))
    return input.copy_(out) if inplace else out


def hardswish(input, inplace=False):
    out = _C.hardswish(_inplace_source(input, inplace))
    return input.copy_(out) if inplace else out


def logsigmoid(input):
    return _C.logsigmoid(input)


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def _softmax_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.dim())
    return _C.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.dim())
    return _C.log_softmax(input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.dim())
    return softmax(-input, dim, dtype=dtype)


@_autocast_op("lower")
def linear(input, weight, bias=None):
    if not (isinstance(input, _C.Tensor) and isinstance(weight, _C.Tensor)
            and (bias is None or isinstance(bias, _C.Tensor))):
        from .._checks import require_tensors

        require_tensors("linear", ("input", input), ("weight", weight), *([("bias", bias)] if bias is not None else []))
    from .. import _linear

    return _linear.linear(input, weight, bias)


def pad(input, pad, mode="constant", value=None):
    pad = list(pad)
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant" and value is not None:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if mode in ("reflect", "replicate") and isinstance(input, _C.Tensor) and input.dtype == _C.bool:
        kernel = "reflection" if mode == "reflect" else "replication"
        raise NotImplementedError(f'"{kernel}_pad{len(pad) // 2}d" not implemented for \'Bool\'')
    if mode != "constant" and isinstance(input, _C.Tensor) and len(pad) % 2 == 0 and len(pad) <= 2 * input.dim():
        n, nd = len(pad), input.dim()
        if not (n == 2 and nd in (2, 3) or n == 4 and nd in (3, 4) or n == 6 and nd in (4, 5)):
            raise NotImplementedError(
                f"Padding size {n} is not supported for {nd}D input tensor.\n"
                "Supported combinations for non-constant padding:\n"
                "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
                "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
                "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    return _C.pad(input, pad, mode, value)


def dropout(input, p=0.5, training=True, inplace=False):
    out = _C.dropout(input, p, training)
    return input.copy_(out) if inplace else out


def threshold(input, threshold, value, inplace=False):
    # (a NaN input keeps its value and passes the gradient, as PyTorch's x <= threshold test)
    src = _inplace_source(input, inplace)
    out = _C.where(src <= threshold, value, src)
    return input.copy_(out) if inplace else out


@_autocast_op("lower")
def prelu(input, weight):
    if weight.numel() != 1 and (input.dim() < 2 or weight.numel() != input.shape[1]):
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{weight.numel()} and channel size = {input.shape[1] if input.dim() > 1 else 1}.")
    w = weight
    if weight.numel() != 1 and input.dim() > 2:
        w = weight.reshape(-1, *([1] * (input.dim() - 2)))
    return _C.where(input > 0, input, w * input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    if training:
        a = _C.rand_like(input) * (upper - lower) + lower
        out = _C.where(input >= 0, input, input * a)
    else:
        out = leaky_relu(input, (lower + upper) / 2)
    return input.copy_(out) if inplace else out


def glu(input, dim=-1):
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def _feature_dropout(input, p, training, inplace, batched_dims):
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    unbatched = input.dim() == batched_dims - 1
    x = input.unsqueeze(0) if unbatched else input
    shape = tuple(x.shape[:2]) + (1,) * (x.dim() - 2)
    mask = (_C.bernoulli(_C.full(shape, 1 - p, dtype=x.dtype, device=x.device)) / (1 - p) if p < 1
            else _C.zeros(tuple(shape), dtype=x.dtype, device=x.device))
    mask = mask.to(x.device)
    out = x * mask
    out = out.squeeze(0) if unbatched else out
    return input.copy_(out) if inplace else out


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 4)


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 5)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    if not training or p == 0:
        return input
    alpha_p = -1.7580993408473766
    keep = _C.bernoulli(_C.full(tuple(input.shape), 1 - p, dtype=input.dtype, device=input.device))
    a = ((1 - p) * (1 + p * alpha_p**2)) ** -0.5
    b = -a * alpha_p * p
    out = (input * keep + alpha_p * (1 - keep)) * a + b
    return input.copy_(out) if inplace else out


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    from .._checks import require_tensors

    if padding_idx and not isinstance(weight, _C.Tensor):
        # PyTorch reads weight.size(0) first for a nonzero padding_idx.
        raise AttributeError(f"'{type(weight).__name__}' object has no attribute 'size'")
    require_tensors("embedding", ("weight", weight), ("indices", input))
    if input.is_floating_point():
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead")
    if max_norm is not None:
        with _no_grad():
            rows = weight[input.reshape(-1)]
            norms = rows.norm(p=norm_type, dim=-1, keepdim=True)
            scale = _C.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            weight.index_put_((input.reshape(-1),), rows * scale)
    if padding_idx is not None:
        if not -weight.shape[0] <= padding_idx < weight.shape[0]:
            raise AssertionError("Padding_idx must be within num_embeddings")  # as PyTorch
        padding_idx = padding_idx % weight.shape[0]
    # Whole rows copied (advanced indexing took 6x as long); rows looked up
    # at padding_idx get no gradient.
    rows = _C._embedding(input, weight, padding_idx)
    if scale_grad_by_freq and rows.requires_grad:
        # each looked-up row's gradient divided by how often its index occurs in this input
        flat = input.reshape(-1).long()
        counts = _C.zeros(weight.shape[0], dtype=rows.dtype).index_add_(0, flat, _C.ones(flat.numel(), dtype=rows.dtype))
        rows = _ScaleGradient.apply(rows, (1.0 / counts[input.long()]).unsqueeze(-1))
    return rows


class _ScaleGradient(_Function):
    """Identity forward; the gradient times `scale` (broadcast) in backward."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def one_hot(tensor, num_classes=-1):
    from .._checks import require_tensors

    require_tensors("one_hot", ("input", tensor))
    if tensor.dtype != _C.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.numel() == 0 and num_classes <= 0:
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1
    if tensor.numel() and (int(tensor.min().item()) < 0 or int(tensor.max().item()) >= num_classes):
        raise RuntimeError("Class values must be smaller than num_classes.")
    return (tensor.unsqueeze(-1) == _C.arange(num_classes, device=tensor.device)).long()


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = input.norm(p=p, dim=dim, keepdim=True).clamp(min=eps)
    if out is None:
        return input / denom
    from .._out import write_out

    return write_out(out, input / denom, "div")


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    dot = (x1 * x2).sum(dim)
    n1 = x1.norm(dim=dim).clamp(min=eps)
    n2 = x2.norm(dim=dim).clamp(min=eps)
    return dot / (n1 * n2)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return (x1 - x2 + eps).norm(p=p, dim=-1, keepdim=keepdim)


def bilinear(input1, input2, weight, bias=None):
    # y_k = x1 @ W_k @ x2
    tmp = input1.unsqueeze(-2).unsqueeze(-2) @ weight  # (..., out, 1, in2)
    y = (tmp.squeeze(-2) * input2.unsqueeze(-2)).sum(-1)
    return y + bias if bias is not None else y


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    from ._interpolate import interpolate as _interp

    return _interp(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def _no_grad():
    from .._grad_mode import no_grad

    return no_grad()


from ._functional_conv import *
from ._functional_ctc import ctc_loss  # noqa: F401
from ._functional_fold import *
from ._functional_fractional_pool import (  # noqa: F401
    fractional_max_pool2d,
    fractional_max_pool2d_with_indices,
    fractional_max_pool3d,
    fractional_max_pool3d_with_indices,
)
from ._functional_loss import *
from ._functional_more import *
from ._functional_pool_norm import *
from ._functional_shrink import *


def _tensor_input(fn, second=None):
    """PyTorch's generated bindings refuse a non-tensor ``input`` (and
    ``second``, the name of a second tensor argument such as a convolution's
    weight) with a TypeError before any work (a list would otherwise fail
    later with an AttributeError, or be taken as data)."""
    import functools

    @functools.wraps(fn)
    def checked(input, *args, **kwargs):
        other = args[0] if args else kwargs.get(second) if second else None
        if not isinstance(input, _C.Tensor) or second and not isinstance(other, _C.Tensor):
            from .._checks import require_tensors

            named = [("input", input)] + ([(second, other)] if second else [])
            require_tensors(fn.__name__, *named)
        return fn(input, *args, **kwargs)

    return checked


def _method_input(fn, method):
    """Where PyTorch's function is ``input.<method>(...)`` in Python, a
    non-tensor fails as that attribute lookup does (AttributeError)."""
    import functools

    @functools.wraps(fn)
    def checked(input, *args, **kwargs):
        if not isinstance(input, _C.Tensor):
            raise AttributeError(f"'{type(input).__name__}' object has no attribute '{method}'")  # noqa: TRY004 - PyTorch's type
        return fn(input, *args, **kwargs)

    return checked


for _name in ["adaptive_avg_pool1d", "adaptive_max_pool1d", "alpha_dropout", "avg_pool3d", "cosine_similarity",
              "embedding", "multi_margin_loss", "poisson_nll_loss", "prelu", "relu", "soft_margin_loss"]:
    globals()[_name] = _tensor_input(globals()[_name])
for _name in ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]:
    globals()[_name] = _tensor_input(globals()[_name], "weight")
for _name in ["softmax", "log_softmax"]:
    globals()[_name] = _method_input(globals()[_name], _name)
del _name
_softsign = softsign


def softsign(input):
    if not isinstance(input, _C.Tensor):
        raise AttributeError(f"'{type(input).__name__}' object has no attribute 'abs'")  # noqa: TRY004 - PyTorch's type
    if input.dtype == _C.bool:
        # PyTorch computes input / (1 + input.abs()).
        raise NotImplementedError('"abs_cpu" not implemented for \'Bool\'')
    if not input.is_floating_point():
        # PyTorch's input / (1 + input.abs()): abs and + stay in the integer
        # dtype (abs of int32's minimum is itself), the division is true.
        return input / (1 + input.abs())
    return _softsign(input)
from ._functional_attention import *
from ._functional_attention import (  # noqa: F401
    _canonical_mask,
    _in_projection,
    _in_projection_packed,
    _mha_shape_check,
    _packed_self_attention,
)
