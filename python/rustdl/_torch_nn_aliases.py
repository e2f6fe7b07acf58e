"""The neural-network functions PyTorch also exposes as `torch.<name>` with ATen's positional
signatures (`torch.conv2d`, `torch.batch_norm(input, weight, bias, running_mean, ...)`,
`torch.embedding(weight, indices)`, losses with an integer `reduction`, `torch.dropout(input, p,
train)`), and the missing in-place forms of `nn.functional` (`F.relu_`, `F.elu_`, ...). Each
forwards to the one `nn.functional` implementation; only the argument conventions differ."""

import rustdl as _t

from .nn import functional as F

# ATen's reduction enum, used where torch.* takes `reduction` as an int
_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(value):
    if isinstance(value, str):
        return value
    if value not in _REDUCTIONS:
        raise RuntimeError(f"{value} is not a valid value for reduction")
    return _REDUCTIONS[value]


def _reduce(loss, reduction):
    reduction = _reduction(reduction)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _stride(stride):
    # ATen's default `stride=[]` means "the kernel size", as `None` does in nn.functional
    return None if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else stride


# convolution and pooling: nn.functional's signatures already are ATen's
conv1d, conv2d, conv3d = F.conv1d, F.conv2d, F.conv3d
conv_transpose1d, conv_transpose2d, conv_transpose3d = F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d
avg_pool1d, adaptive_avg_pool1d = F.avg_pool1d, F.adaptive_avg_pool1d
pixel_shuffle, pixel_unshuffle, channel_shuffle, native_channel_shuffle = (
    F.pixel_shuffle, F.pixel_unshuffle, F.channel_shuffle, F.channel_shuffle)
cosine_similarity, pairwise_distance, pdist, bilinear = F.cosine_similarity, F.pairwise_distance, F.pdist, F.bilinear
prelu, hardshrink, selu, celu, threshold, rrelu = F.prelu, F.hardshrink, F.selu, F.celu, F.threshold, F.rrelu


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode, return_indices=True)


def adaptive_max_pool1d(input, output_size):
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def conv_tbc(input, weight, bias, pad=0):
    """Convolution over (time, batch, channels) with a (kernel, in, out) weight."""
    if input.dim() != 3 or weight.dim() != 3:
        raise RuntimeError(f"conv_tbc: input and weight must be 3-D, got {input.dim()}-D and {weight.dim()}-D")
    out = F.conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1)


# normalisation, in ATen's argument order


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=True):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps,
                  cudnn_enabled=True):
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(output, mean, rstd) with mean and rstd shaped as the input with the normalised dims 1."""
    dims = tuple(range(input.dim() - len(normalized_shape), input.dim()))
    mean = input.mean(dims, keepdim=True)
    rstd = (input.var(dims, unbiased=False, keepdim=True) + eps).rsqrt()
    return F.layer_norm(input, normalized_shape, weight, bias, eps), mean, rstd


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    # ATen marks "no padding index" with -1
    return F.embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


# losses with ATen's integer reduction; called without one, torch.<loss> does not reduce (observed
# in PyTorch 2.15, unlike nn.functional's 'mean')


def kl_div(input, target, reduction=0, *, log_target=False):
    return _reduce(F.kl_div(input, target, reduction="none", log_target=log_target), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return F.binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction),
                                              pos_weight=pos_weight)


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction=0):
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction=_reduction(reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_reduction(reduction))


# dropout: ATen requires `train` positionally


def dropout(input, p, train):
    return F.dropout(input, p, train)


def alpha_dropout(input, p, train):
    return F.alpha_dropout(input, p, train)


def feature_dropout(input, p, train):
    return F.dropout2d(input, p, train) if input.dim() == 4 else F.dropout1d(input, p, train) \
        if input.dim() in (2, 3) else F.dropout3d(input, p, train)


def feature_alpha_dropout(input, p, train):
    return F.feature_alpha_dropout(input, p, train)


def dropout_(input, p, train):
    return F.dropout(input, p, train, inplace=True)


def alpha_dropout_(input, p, train):
    return F.alpha_dropout(input, p, train, inplace=True)


def feature_dropout_(input, p, train):
    return input.copy_(feature_dropout(input, p, train))


def feature_alpha_dropout_(input, p, train):
    return F.feature_alpha_dropout(input, p, train, inplace=True)


def affine_grid_generator(theta, size, align_corners):
    return F.affine_grid(theta, size, align_corners)


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    modes = ("bilinear", "nearest", "bicubic")
    paddings = ("zeros", "border", "reflection")
    return F.grid_sample(input, grid, modes[interpolation_mode], paddings[padding_mode], align_corners)


# in-place activations (torch.relu_ and F.relu_ alike)


def relu_(input):
    return F.relu(input, inplace=True)


def elu_(input, alpha=1.0):
    return F.elu(input, alpha, inplace=True)


def selu_(input):
    return F.selu(input, inplace=True)


def celu_(input, alpha=1.0):
    return F.celu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return F.leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return F.hardtanh(input, min_val, max_val, inplace=True)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return F.rrelu(input, lower, upper, training, inplace=True)


def threshold_(input, threshold, value):
    return F.threshold(input, threshold, value, inplace=True)


def clamp_(input, min=None, max=None):
    return input.clamp_(min, max)


TORCH_FUNCTIONS = [
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "affine_grid_generator", "alpha_dropout", "alpha_dropout_",
    "avg_pool1d", "batch_norm", "bilinear", "binary_cross_entropy_with_logits", "celu", "celu_", "channel_shuffle",
    "clamp_", "conv1d", "conv2d", "conv3d", "conv_tbc", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "cosine_embedding_loss", "cosine_similarity", "dropout", "dropout_", "embedding", "feature_alpha_dropout",
    "feature_alpha_dropout_", "feature_dropout", "feature_dropout_", "grid_sampler", "group_norm", "hardshrink",
    "hinge_embedding_loss", "instance_norm", "kl_div", "layer_norm", "margin_ranking_loss", "max_pool1d",
    "max_pool1d_with_indices", "max_pool2d", "max_pool3d", "native_channel_shuffle", "native_layer_norm",
    "pairwise_distance", "pdist", "pixel_shuffle", "pixel_unshuffle", "poisson_nll_loss", "prelu", "relu_", "rrelu",
    "rrelu_", "selu", "selu_", "threshold", "threshold_", "triplet_margin_loss"]
FUNCTIONAL_IN_PLACE = ["celu_", "elu_", "hardtanh_", "leaky_relu_", "relu_", "rrelu_", "selu_", "threshold_"]


def _with_indices(pool):
    def function(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True):
        return pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)

    return function


def _adaptive_with_indices(pool):
    def function(input, output_size, return_indices=True):
        return pool(input, output_size, return_indices=True)

    return function


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated form of interpolate(mode='nearest')."""
    return F.interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated form of interpolate(mode='bilinear', align_corners=True)."""
    return F.interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


_FUNCTIONAL_EXTRA = {
    "max_pool1d_with_indices": _with_indices(F.max_pool1d), "max_pool2d_with_indices": _with_indices(F.max_pool2d),
    "max_pool3d_with_indices": _with_indices(F.max_pool3d),
    "adaptive_max_pool1d_with_indices": _adaptive_with_indices(F.adaptive_max_pool1d),
    "adaptive_max_pool2d_with_indices": _adaptive_with_indices(F.adaptive_max_pool2d),
    "adaptive_max_pool3d_with_indices": _adaptive_with_indices(F.adaptive_max_pool3d),
    "upsample_nearest": upsample_nearest, "upsample_bilinear": upsample_bilinear, "conv_tbc": conv_tbc,
    "native_channel_shuffle": F.channel_shuffle,
}


def install(torch_namespace):
    for name, function in _FUNCTIONAL_EXTRA.items():
        if not hasattr(F, name):
            setattr(F, name, function)
    for name in TORCH_FUNCTIONS:
        torch_namespace.setdefault(name, globals()[name])
    for name in FUNCTIONAL_IN_PLACE:
        if not hasattr(F, name):
            setattr(F, name, globals()[name])
    if not hasattr(F, "feature_alpha_dropout"):
        F.feature_alpha_dropout = _feature_alpha_dropout


def _feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout that drops whole channels (every value of a (batch, channel) pair at once)
    to SELU's negative saturation, then restores zero mean and unit variance."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input.mul_(0) if inplace else input * 0
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    alpha_prime = -1.7580993408473766  # -selu_scale * selu_alpha
    keep = 1.0 - p
    mask_shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    kept = _t.bernoulli(_t.full(mask_shape, keep, dtype=input.dtype))
    a = (keep + alpha_prime * alpha_prime * keep * p) ** -0.5
    b = -a * alpha_prime * p
    out = (input * kept + alpha_prime * (1 - kept)) * a + b
    return input.copy_(out) if inplace else out
