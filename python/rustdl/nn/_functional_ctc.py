"""Connectionist Temporal Classification loss (`F.ctc_loss`, `nn.CTCLoss`).

The forward runs the alpha recursion over the blank-extended target in log space (float64, one
sample at a time, vectorised over target positions); the backward runs the beta recursion and
returns PyTorch's gradient for log_probs: exp(log_probs) - occupancy / exp(log_probs) * p^-1 in
log space, which is the gradient with respect to the logits that log_softmax produced them from
(the softmax Jacobian folds into it), and zero for time steps past each input's length. As in
PyTorch, that gradient has no derivative of its own."""

import numpy as np

import rustdl as _t

from ..autograd.function import Function

_NEG_INF = -np.inf


def _lengths(value, name, batch):
    if isinstance(value, _t.Tensor):
        if value.is_floating_point():
            raise RuntimeError(f"ctc_loss(): {name} must be integers (got {value.dtype})")
        value = value.tolist()
    values = [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    if len(values) != batch:
        raise RuntimeError(f"{name} must be of size batch_size ({batch}), got {len(values)}")
    return values


def _extended(target, blank):
    ext = np.full(2 * len(target) + 1, blank, dtype=np.int64)
    ext[1::2] = target
    return ext


def _skip_allowed(ext, blank):
    """s may be reached from s - 2 when l'(s) is a label different from l'(s - 2)."""
    allowed = np.zeros(len(ext), dtype=bool)
    allowed[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    return allowed


def _later(v, k):
    """v moved k places towards higher positions (what position s sees at s - k), -inf filled."""
    out = np.full(len(v), _NEG_INF)
    if k < len(v):
        out[k:] = v[: len(v) - k]
    return out


def _earlier(v, k):
    """v moved k places towards lower positions (what position s sees at s + k), -inf filled."""
    out = np.full(len(v), _NEG_INF)
    if k < len(v):
        out[: len(v) - k] = v[k:]
    return out


def _alpha(lp, ext, skip, length):
    S = len(ext)
    alpha = np.full((length, S), _NEG_INF)
    if length == 0:
        return alpha
    alpha[0, :min(S, 2)] = lp[0, ext[:2]]
    for t in range(1, length):
        prev = alpha[t - 1]
        jump = np.where(skip, _later(prev, 2), _NEG_INF)
        alpha[t] = np.logaddexp(np.logaddexp(prev, _later(prev, 1)), jump) + lp[t, ext]
    return alpha


def _beta(lp, ext, skip, length):
    S = len(ext)
    beta = np.full((length, S), _NEG_INF)
    if length == 0:
        return beta
    beta[length - 1, max(S - 2, 0):] = lp[length - 1, ext[max(S - 2, 0):]]
    from_skip = _earlier(skip.astype(float), 2) > 0  # s + 2 may be reached from s
    for t in range(length - 2, -1, -1):
        nxt = beta[t + 1]
        jump = np.where(from_skip, _earlier(nxt, 2), _NEG_INF)
        beta[t] = np.logaddexp(np.logaddexp(nxt, _earlier(nxt, 1)), jump) + lp[t, ext]
    return beta


def _nll(alpha, S):
    if alpha.shape[0] == 0:
        return np.inf if S > 1 else 0.0
    last = alpha[-1, S - 1] if S == 1 else np.logaddexp(alpha[-1, S - 1], alpha[-1, S - 2])
    return -last


class _CTCLoss(Function):
    @staticmethod
    def forward(ctx, log_probs, targets_list, input_lengths, blank, zero_infinity):
        lp_all = log_probs.detach().to(_t.float64).numpy()
        losses, saved = [], []
        with np.errstate(invalid="ignore", over="ignore"):
            for n, (target, length) in enumerate(zip(targets_list, input_lengths)):
                lp = lp_all[:length, n, :]
                ext = _extended(target, blank)
                skip = _skip_allowed(ext, blank)
                alpha = _alpha(lp, ext, skip, length)
                nll = _nll(alpha, len(ext))
                losses.append(nll)
                saved.append((ext, skip, alpha, nll))
        losses = np.array(losses, dtype=np.float64)
        ctx.saved = saved
        ctx.input_lengths = input_lengths
        ctx.zero_infinity = zero_infinity
        ctx.save_for_backward(log_probs)
        if zero_infinity:
            losses = np.where(np.isinf(losses), 0.0, losses)
        return _t.tensor(losses, dtype=log_probs.dtype)

    @staticmethod
    def backward(ctx, grad):
        (log_probs,) = ctx.saved_tensors
        lp_all = log_probs.detach().to(_t.float64).numpy()
        scale = grad.detach().to(_t.float64).numpy()
        result = np.zeros_like(lp_all)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            for n, ((ext, skip, alpha, nll), length) in enumerate(zip(ctx.saved, ctx.input_lengths)):
                if length == 0 or (ctx.zero_infinity and np.isinf(nll)):
                    continue
                lp = lp_all[:length, n, :]
                beta = _beta(lp, ext, skip, length)
                occupancy = np.full_like(lp, _NEG_INF)  # log sum over s with l'(s) = k of alpha * beta
                for s, k in enumerate(ext):
                    occupancy[:, k] = np.logaddexp(occupancy[:, k], alpha[:, s] + beta[:, s])
                result[:length, n, :] = (np.exp(lp) - np.exp(occupancy + nll - lp)) * scale[n]
        value = _t.tensor(result, dtype=log_probs.dtype)
        if _t.is_grad_enabled():
            from .._elementwise_composites import _without_derivative

            value = _without_derivative(value, "_ctc_loss_backward", log_probs, grad)
        return value, None, None, None, None


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    if not isinstance(log_probs, _t.Tensor) or not log_probs.is_floating_point():
        raise RuntimeError("ctc_loss(): log_probs must be a floating point tensor")
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0) if targets.dim() == 1 else targets
    if log_probs.dim() != 3:
        raise RuntimeError(f"ctc_loss(): log_probs must be 3-D (T, N, C) or 2-D (T, C), got {log_probs.dim()}-D")
    T, N, C = log_probs.shape
    input_lengths = _lengths(input_lengths, "input_lengths", N)
    target_lengths = _lengths(target_lengths, "target_lengths", N)
    if not 0 <= blank < C:
        raise RuntimeError(f"blank must be in label range (blank {blank}, {C} classes)")
    flat = targets.detach().to(_t.int64)
    targets_list, offset = [], 0
    for n, (length, input_length) in enumerate(zip(target_lengths, input_lengths)):
        if input_length < 0 or input_length > T:
            raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {input_length} "
                               f"(while checking arguments for ctc_loss_cpu)")
        if length < 0:
            raise RuntimeError(f"Expected target_lengths to be non-negative, but got {length}")
        if flat.dim() == 1:
            target = flat[offset:offset + length].numpy()
            offset += length
        else:
            if length > flat.shape[1]:
                raise RuntimeError(f"Expected tensor to have size at least {length} at dimension 1, but got size "
                                   f"{flat.shape[1]} for argument #2 'targets' (while checking arguments for "
                                   f"ctc_loss_cpu)")
            target = flat[n, :length].numpy()
        if ((target < 0) | (target >= C)).any() if len(target) else False:
            raise RuntimeError(f"ctc_loss(): target labels must be in [0, {C}), got {target.tolist()}")
        targets_list.append(np.asarray(target, dtype=np.int64))
    losses = _CTCLoss.apply(log_probs, targets_list, input_lengths, blank, zero_infinity)
    if reduction == "none":
        return losses.squeeze(0) if unbatched else losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        divisor = _t.tensor([max(n, 1) for n in target_lengths], dtype=losses.dtype)
        return (losses / divisor).mean()
    raise ValueError(f"{reduction} is not a valid value for reduction")
