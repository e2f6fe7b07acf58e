"""Loss functions of ``nn.functional`` (class indices, weights, ignore_index,
label smoothing, probability targets and K-dimensional inputs as PyTorch)."""

from .. import _C
from .._checks import require_tensors
from ..amp.autocast_mode import _op as _autocast_op
from ..autograd.function import Function
from ._arg_checks import require_optional_tensors, scalar_name
from ._reduction import get_reduction

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
]


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _weighted_reduce(loss, weight, reduction, input, mean_over_weights):
    """The elementwise losses times PyTorch's per-element `weight` (same shape as the input),
    then reduced; l1/mse's weighted mean divides by the weights' sum, huber's by the count."""
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    weighted = loss * weight
    if reduction == "mean" and mean_over_weights:
        return weighted.sum() / weight.sum()
    return _reduce(weighted, reduction)


_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "uint8": "Byte",
                 "bool": "Bool"}


def _scalar_name(dtype):
    """The dtype as PyTorch's C++ messages name it ("Float", "Long", ...)."""
    return _SCALAR_NAMES.get(str(dtype).split(".")[-1], str(dtype))


def _check_bias_like(shape, out_shape):
    """A weight must broadcast to the loss without changing its shape."""
    if len(shape) > len(out_shape) or any(
        s != 1 and s != o for s, o in zip(reversed(tuple(shape)), reversed(tuple(out_shape)))
    ):
        raise RuntimeError(f"the weight of shape {list(shape)} does not broadcast to the loss of shape "
                           f"{list(out_shape)}")


def _check_same_size(input, target, name):
    if tuple(target.shape) != tuple(input.shape):
        import warnings

        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
            "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


@_autocast_op("fp32")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = get_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "l1_loss")
    return _weighted_reduce((input - target).abs(), weight, reduction, input, True)


def _promoted(input, target, kernel, input_must_be_float=False):
    """The pair in their promoted dtype, as PyTorch's elementwise loss kernels
    take them (a bool or integer target against a float input is fine; a
    result that is not floating point has no kernel)."""
    from .. import result_type

    dtype = result_type(input, target)
    if not dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{scalar_name(dtype)}'")
    if input_must_be_float and not input.dtype.is_floating_point:
        raise RuntimeError(f"result type {scalar_name(dtype)} can't be cast to the desired output type "
                           f"{scalar_name(input)}")
    return input.to(dtype), target.to(dtype)


@_autocast_op("fp32")
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = get_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "mse_loss")
    input, target = _promoted(input, target, "mse_cpu")
    d = input - target
    return _weighted_reduce(d * d, weight, reduction, input, True)


@_autocast_op("fp32")
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _check_same_size(input, target, "huber_loss")
    # PyTorch writes into a tensor like the input: computed in the promoted
    # dtype, the elementwise loss is rounded to the input's float dtype.
    out_dtype = input.dtype
    input, target = _promoted(input, target, "huber_cpu", input_must_be_float=True)
    d = input - target
    a = d.abs()
    # The quadratic side sees d limited to the region where it is chosen, so
    # its (discarded) gradient stays finite where d is +-inf; NaN passes
    # through, so its gradient is NaN as in PyTorch.
    dc = _C.where(a > delta, d.sign() * delta, d)
    loss = _C.where(a < delta, 0.5 * dc * dc, delta * (a - 0.5 * delta))
    return _weighted_reduce(loss.to(out_dtype), weight, reduction, input, False)


@_autocast_op("fp32")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = get_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _check_same_size(input, target, "smooth_l1_loss")
    if beta == 0 and (input.dtype == _C.bool) != (target.dtype == _C.bool):
        # PyTorch's beta=0 path is l1_loss: input - target, unpromoted
        raise NotImplementedError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                                  "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    input, target = _promoted(input, target, "smooth_l1_cpu")
    d = input - target
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction)
    dc = _C.where(a > beta, d.sign() * beta, d)  # as in huber_loss
    loss = _C.where(a < beta, 0.5 * dc * dc / beta, a - 0.5 * beta)
    return _reduce(loss, reduction)


def _class_last(input):
    """(N, C, d1, ...) -> (N*d1*..., C); (C,) -> (1, C); (N, C) unchanged."""
    if input.dim() == 1:
        return input.unsqueeze(0)
    if input.dim() == 2:
        return input
    perm = [0] + list(range(2, input.dim())) + [1]
    return input.permute(*perm).reshape(-1, input.shape[1])


def _not_differentiable(fname, *named):
    """PyTorch refuses gradients for the weights of its fused losses."""
    for arg, t in named:
        if t is not None and t.requires_grad and _C.is_grad_enabled():
            raise RuntimeError(f"The function '{fname}' is not differentiable with respect to argument '{arg}'. "
                               "This input cannot have requires_grad True.")


def _check_class_weight(input, weight):
    if weight is not None and weight.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {_scalar_name(input.dtype)} but found {_scalar_name(weight.dtype)}")
    _not_differentiable("nll_loss_forward", ("weight", weight))


def _check_class_weight_size(input, target, weight, reduction):
    """PyTorch's checks before its kernel reads the targets: the weight's
    size, then (spatial inputs: nll_loss2d's kernel reads int64 only) a uint8
    target's dtype (an empty one too with reduction='none', whose kernel
    still runs for the output's shape)."""
    C = input.shape[0] if input.dim() == 1 else input.shape[1]
    spatial = input.dim() >= 3
    if weight is not None and (weight.dim() != 1 or weight.shape[0] != C):
        if spatial:
            raise RuntimeError("weight tensor should be defined either for all or no classes")
        raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no classes but got "
                           f"weight tensor of shape: {list(weight.shape)}")
    if spatial and (target.numel() > 0 or reduction == "none") and str(target.dtype).split(".")[-1] == "uint8":
        raise RuntimeError("expected scalar type Long but found Byte")


def _check_class_target(input, target, weight=None):
    """PyTorch's nll_loss_nd / nll_loss(2d) checks of a class-index target,
    in its order: batch size and (3-D, 5-D+) target shape in the composite,
    then autograd's refusal of a weight that requires grad, then the
    kernel's target shape, dtype, and the 1-D input's target size."""
    if input.dim() != 1:
        target_batch = target.shape[0] if target.dim() >= 1 else 0
        if target_batch != input.shape[0]:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                             f"({target_batch}).")
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if input.dim() >= 3 and input.dim() != 4 and tuple(target.shape) != expected:
        raise RuntimeError(f"Expected target size {list(expected)}, got {list(target.shape)}")
    kernel = "nll_loss2d_forward" if input.dim() >= 3 else "nll_loss_forward"
    _not_differentiable(kernel, ("weight", weight))
    if input.dim() == 4 and target.dim() != 3:
        raise RuntimeError("only batches of spatial targets supported (3D tensors) but got targets of "
                           f"dimension: {target.dim()}")
    if input.dim() >= 3:
        if tuple(target.shape) != expected:
            raise RuntimeError(f"Expected target size {list(expected)}, got {list(target.shape)}")
    elif target.dim() > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if str(target.dtype).split(".")[-1] not in ("int64", "uint8"):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_scalar_name(target.dtype)}")
    if input.dim() == 2 and target.dim() == 0 and input.shape[0] == 0:
        # PyTorch reads the 0-dim target's size(0) here
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if input.dim() == 1 and target.dim() == 1 and target.shape[0] != 1:
        raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}")


@_autocast_op("fp32")
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    require_tensors("nll_loss_nd", ("input", input), ("target", target))
    require_optional_tensors("nll_loss_nd", (3, "weight", weight))
    reduction = get_reduction(size_average, reduce, reduction)
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if not input.is_floating_point():
        raise NotImplementedError(f"\"nll_loss_out_frame\" not implemented for '{_scalar_name(input.dtype)}'")
    _check_class_target(input, target, weight)
    _check_class_weight(input, weight)
    _check_class_weight_size(input, target, weight, reduction)
    C = input.shape[0] if input.dim() == 1 else input.shape[1]
    logp = _class_last(input)
    t = target.reshape(-1).long()
    valid = t != ignore_index
    bad = ((t < 0) | (t >= C)) & valid
    if bad.any():
        raise IndexError(f"Target {int(t[bad][0].item())} is out of bounds.")
    t_safe = _C.where(valid, t, 0)
    picked = logp[_C.arange(t.shape[0], device=t.device), t_safe]
    w = valid.to(input.dtype)
    if weight is not None:
        # (an ignored row's weight is 0, not 0 * an infinite class weight)
        w = _C.where(valid, weight[t_safe], 0.0).to(input.dtype)
    # An ignored row is 0 even where its (unused) input is inf or NaN.
    loss = _C.where(valid, -picked * w, 0.0)
    if reduction == "none":
        # (an unbatched (C,) input gives a 0-d loss, whatever the target's shape)
        return loss.reshape(() if input.dim() == 1 else tuple(target.shape))
    if reduction == "sum":
        return loss.sum()
    # Every target ignored: the mean is NaN, but the gradient stays 0 (as
    # PyTorch's), not 0 / 0.
    total = w.sum()
    nothing = total == 0
    return _C.where(nothing, float("nan"), loss.sum() / _C.where(nothing, 1.0, total))


@_autocast_op("fp32")
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    require_tensors("cross_entropy_loss", ("input", input), ("target", target))
    require_optional_tensors("cross_entropy_loss", (3, "weight", weight))
    reduction = get_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.dim() == 0:
        # PyTorch takes a 0-d input's shape (that of its target) as probabilities.
        if not target.is_floating_point():
            raise RuntimeError(f"Expected floating point type for target with class probabilities, "
                               f"got {scalar_name(target)}")
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    if tuple(target.shape) == tuple(input.shape) and not target.is_floating_point():
        # PyTorch takes a target of the input's shape as probabilities
        raise RuntimeError(f"Expected floating point type for target with class probabilities, "
                           f"got {scalar_name(target)}")
    class_dim = 0 if input.dim() == 1 else 1
    C = input.shape[class_dim]
    if target.is_floating_point():
        if tuple(target.shape) != tuple(input.shape):
            # not probabilities: PyTorch's nll_loss checks the shapes, then
            # refuses the float target
            _check_class_target(input, target, weight)
        logp = input.log_softmax(class_dim)
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / C
        prod = logp * target
        if weight is not None:
            shape = [1] * input.dim()
            shape[class_dim] = C
            prod = prod * weight.reshape(tuple(shape))
        loss = -prod.sum(class_dim)
        if reduction == "mean":
            n = input.numel() // C if input.dim() > 1 else 1
            return loss.sum() / n
        return _reduce(loss, reduction)
    if input.dim() >= 1 and not target.is_floating_point():
        # class indices: one fused Rust kernel (log-softmax + NLL + smoothing)
        if not input.is_floating_point():
            input.log_softmax(class_dim)  # PyTorch's log_softmax refuses integers before nll_loss's checks
        _check_class_target(input, target, weight)
        if not input.is_floating_point():
            # (an empty integer input passes log_softmax; nll_loss's kernel refuses it)
            raise NotImplementedError(f"\"nll_loss_out_frame\" not implemented for '{scalar_name(input)}'")
        _check_class_weight(input, weight)
        _check_class_weight_size(input, target, weight, reduction)
        loss = _C.cross_entropy_fused(_class_last(input), target.reshape(-1), weight, ignore_index,
                                      float(label_smoothing), reduction)
        if reduction != "none":
            return loss
        # (an unbatched (C,) input gives a 0-d loss, whatever the target's shape)
        return loss.reshape(() if input.dim() == 1 else tuple(target.shape))
    raise TypeError(f"cross_entropy: unsupported target dtype {target.dtype}")


class _BCE(Function):
    """BCE with PyTorch's backward: (x - t) / max(x (1 - x), 1e-12)."""

    @staticmethod
    def forward(ctx, input, target):
        ctx.save_for_backward(input, target)
        log_x = input.log().clamp(min=-100)
        log_1mx = (1 - input).log().clamp(min=-100)
        return -(target * log_x + (1 - target) * log_1mx)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = grad * (x - t) / ((1 - x) * x).clamp(min=1e-12)
        if ctx.needs_input_grad[1]:
            # PyTorch's -logit(x), unclamped: +-inf where x is 0 or 1
            gt = -grad * (x / (1 - x)).log()
        return gx, gt


@_autocast_op("fp32")
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = get_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {_scalar_name(target.dtype)} but expected {_scalar_name(input.dtype)}")
    if weight is not None and weight.requires_grad and _C.is_grad_enabled():
        raise RuntimeError("The function 'binary_cross_entropy' is not differentiable with respect to argument "
                           "'weight'. This input cannot have requires_grad True.")
    if not ((input >= 0) & (input <= 1)).all():  # NaN is outside too
        raise RuntimeError("all elements of input should be between 0 and 1")
    if not ((target >= 0) & (target <= 1)).all():
        raise RuntimeError("all elements of target should be between 0 and 1")
    loss = _BCE.apply(input, target)
    if weight is not None:
        _check_bias_like(weight.shape, loss.shape)
        # (PyTorch multiplies in place: the loss keeps the input's dtype)
        loss = (loss * weight).to(loss.dtype)
    return _reduce(loss, reduction)


def _log_sigmoid(z):
    """log(sigmoid(z)) = -softplus(-z), stable for large |z|."""
    return -((-z.abs()).exp().log1p() + (-z).clamp(min=0))


class _BCEWithLogits(Function):
    """Stable form: (1 - t) x + l * softplus(-x), l = 1 + (pos_weight - 1) t,
    times ``weight``, reduced: one node, PyTorch's
    BinaryCrossEntropyWithLogitsBackward0."""

    _node_name = "BinaryCrossEntropyWithLogitsBackward0"

    @staticmethod
    def forward(ctx, input, target, pos_weight, weight, reduction):
        ctx.save_for_backward(input, target, pos_weight)
        ctx.weight, ctx.reduction = weight, reduction
        sp_neg = (-input.abs()).exp().log1p() + (-input).clamp(min=0)
        if pos_weight is None:
            loss = (1 - target) * input + sp_neg
        else:
            loss = (1 - target) * input + ((pos_weight - 1) * target + 1) * sp_neg
        # PyTorch builds the loss in place on `1 - target`: it has the
        # target's dtype whatever the input's and the weights' are
        loss = loss.to(target.dtype)
        if weight is not None:
            loss = (loss * weight).to(target.dtype)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, pw = ctx.saved_tensors
        if ctx.reduction == "mean":
            grad = (grad / x.numel()).expand(x.shape)
        elif ctx.reduction == "sum":
            grad = grad.expand(x.shape)
        if ctx.weight is not None:
            grad = grad * ctx.weight
        sig = x.sigmoid()
        gx = gt = None
        if pw is None:
            if ctx.needs_input_grad[0]:
                gx = grad * (sig - t)
            if ctx.needs_input_grad[1]:
                gt = grad * -x
        else:
            if ctx.needs_input_grad[0]:
                gx = grad * (((pw - 1) * t + 1) * sig - pw * t)
            if ctx.needs_input_grad[1]:
                # PyTorch's log_sigmoid(-x) - pos_weight * log_sigmoid(x):
                # the same value, but inf (not inf - inf) at an infinite x
                gt = grad * (_log_sigmoid(-x) - pw * _log_sigmoid(x))
        return gx, gt, None, None, None


@_autocast_op("fp32")
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = get_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    require_optional_tensors("binary_cross_entropy_with_logits", (3, "weight", weight),
                             (4, "pos_weight", pos_weight))
    if not input.is_floating_point():
        raise NotImplementedError(f"\"log_sigmoid_cpu\" not implemented for '{_scalar_name(input.dtype)}'")
    if target.dtype == _C.bool:
        raise NotImplementedError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                                  "Use the `^` or `logical_xor()` operator instead.")
    if not target.is_floating_point():
        raise RuntimeError(f"result type {_scalar_name(input.dtype)} can't be cast to the desired output type "
                           f"{_scalar_name(target.dtype)}")
    _not_differentiable("binary_cross_entropy_with_logits", ("weight", weight), ("pos_weight", pos_weight))
    if weight is not None:
        _check_bias_like(weight.shape, input.shape)
    if pos_weight is not None:
        _check_in_place_broadcast(pos_weight.shape, input.shape)
    return _BCEWithLogits.apply(input, target, pos_weight, weight, reduction)


def _check_in_place_broadcast(shape, out_shape):
    """PyTorch folds pos_weight into the loss in place: it must broadcast to
    the loss's shape without enlarging it."""
    shape, out_shape = tuple(shape), tuple(out_shape)
    n = max(len(shape), len(out_shape))
    a, b = (1,) * (n - len(shape)) + shape, (1,) * (n - len(out_shape)) + out_shape
    joined = []
    for i, (s, o) in enumerate(zip(a, b)):
        if s != o and s != 1 and o != 1:
            raise RuntimeError(f"The size of tensor a ({o}) must match the size of tensor b ({s}) at non-singleton "
                               f"dimension {i}")
        joined.append(o if s == 1 else s)
    if tuple(joined) != out_shape:
        raise RuntimeError(f"output with shape {list(out_shape)} doesn't match the broadcast shape {joined}")


class _KLDiv(Function):
    """xlogy(target, target) - target * input, as PyTorch: target log target is
    0 where target == 0 and NaN where it is negative; gradients as PyTorch's
    xlogy (NaN for the target's gradient where target == 0), summed back to
    each operand's shape when they broadcast. The target's gradient is
    PyTorch's sum of its three terms: ``xlogy(grad, t)`` (0 where the
    incoming gradient is 0, even where log t is NaN, and where t == 0),
    ``grad * t / t`` and ``-grad * input``."""

    @staticmethod
    def forward(ctx, input, target):
        ctx.save_for_backward(input, target)
        t_log_t = _C.where(target == 0, 0.0, target * target.log())
        return t_log_t - target * input

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        gx = _sum_to(-t * grad, x.shape).to(x.dtype) if ctx.needs_input_grad[0] else None
        gt = None
        if ctx.needs_input_grad[1]:
            grad_t = _C.where(t == 0, 0.0, grad.xlogy(t)) + grad * t / t - grad * x
            gt = _sum_to(grad_t, t.shape).to(t.dtype)
        return gx, gt


def _sum_to(g, shape):
    """Sum a broadcast gradient back to ``shape``."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.dim() - len(shape)
    dims = list(range(lead)) + [lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1]
    return g.sum(dims, keepdim=True).reshape(shape) if dims else g.reshape(shape)


@_autocast_op("fp32")
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    require_tensors("kl_div", ("input", input), ("target", target))
    reduction = get_reduction(size_average, reduce, reduction)
    if not (input.is_floating_point() and target.is_floating_point()):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _KLDiv.apply(input, target)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.dim() > 0 else 1)
    if reduction == "mean":
        import warnings

        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition.",
                      stacklevel=2)
    return _reduce(loss, reduction)


@_autocast_op("fp32")
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = get_reduction(size_average, reduce, reduction)
    eps = 1e-12
    dot = (input1 * input2).sum(-1)
    n1 = (input1 * input1).sum(-1) + eps
    n2 = (input2 * input2).sum(-1) + eps
    cos = dot / (n1 * n2).sqrt()
    loss = _C.where(target == 1, 1 - cos, (cos - margin).clamp(min=0))
    return _reduce(loss, reduction)


@_autocast_op("fp32")
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = get_reduction(size_average, reduce, reduction)
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def _minimum(a, b):
    from .. import minimum

    return minimum(a, b)


@_autocast_op("fp32")
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    reduction = get_reduction(size_average, reduce, reduction)

    from .functional import pairwise_distance

    def dist(a, b):
        # PyTorch's distance: the norm of (a - b + eps), eps added before the magnitude is taken
        return pairwise_distance(a, b, p, eps)

    d_ap = dist(anchor, positive)
    d_an = dist(anchor, negative)
    if swap:
        d_an = _minimum(d_an, dist(positive, negative))
    return _reduce((d_ap - d_an + margin).clamp(min=0), reduction)


@_autocast_op("fp32")
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = get_reduction(size_average, reduce, reduction)
    return _reduce((-target * input).exp().log1p(), reduction)


@_autocast_op("fp32")
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    reduction = get_reduction(size_average, reduce, reduction)
    loss = _C.where(target == 1, input, (margin - input).clamp(min=0))
    return _reduce(loss, reduction)


@_autocast_op("fp32")
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    reduction = get_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        import math

        stirling = target * target.clamp(min=1).log() - target + 0.5 * (2 * math.pi * target.clamp(min=1)).log()
        loss = loss + _C.where(target > 1, stirling, 0.0 * target)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """PyTorch's Python algorithm: var checked and broadcast, then clamped
    without recording (so its gradient passes the clamp unchanged)."""
    import math

    from .. import ones_like

    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * ones_like(input)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape)[:-1] == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (input.dim() == var.dim()
                  and sum(y for x, y in zip(input.shape, var.shape) if x != y) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    # var.clone() then clamp_ under no_grad, as PyTorch: the value is clamped,
    # the gradient is the identity's.
    var = var + (var.detach().clamp(min=eps) - var.detach())
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


@_autocast_op("fp32")
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    reduction = get_reduction(size_average, reduce, reduction)
    C = input.shape[-1]
    x_y = input.gather(-1, target.unsqueeze(-1))
    m = (margin - x_y + input).clamp(min=0)
    if p == 2:
        m = m * m
    if weight is not None:
        m = m * weight[target].unsqueeze(-1)
    mask = _C.ones_like(input)
    mask = mask.scatter(-1, target.unsqueeze(-1), 0.0)
    loss = (m * mask).sum(-1) / C
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """PyTorch's Python formula, per sample averaged over the classes."""
    from .functional import logsigmoid

    reduction = get_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(input.dim() - 1) / input.shape[input.dim() - 1]
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


@_autocast_op("fp32")
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over target classes j (the row's indices up to the first -1) and
    non-target classes i of max(0, 1 - (x[j] - x[i])), divided by C: one
    masked pairwise difference, so autograd differentiates it."""
    reduction = get_reduction(size_average, reduce, reduction)
    if input.dim() > 2 or tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}")
    one = input.dim() < 2
    x = input.reshape(1, -1) if one else input
    C = x.shape[1] if x.dim() == 2 else 1
    rows = target.reshape(x.shape[0], C).tolist()
    if any(j < -1 or j >= C for row in rows for j in row):
        raise RuntimeError("argument #2 'target' is out of range")
    counts = [[0.0] * C for _ in rows]
    for n, row in enumerate(rows):
        for j in row:
            if j < 0:
                break
            counts[n][j] += 1.0
    from .. import tensor, zeros

    cnt = tensor(counts, dtype=input.dtype) if rows else zeros(0, C, dtype=input.dtype)
    others = (cnt == 0).to(input.dtype)
    pair = (1 - (x.unsqueeze(2) - x.unsqueeze(1))).clamp(min=0)  # [n, j, i]
    loss = (pair * cnt.unsqueeze(2) * others.unsqueeze(1)).sum((1, 2)) / C
    if one:
        loss = loss.reshape(())
    return _reduce(loss, reduction)
