"""Rprop and ASGD, written with tensor ops under no_grad (one pass of a few ops per parameter;
not fused in Rust like the optimizers in _optimizers.py, as they are seldom on a hot path)."""

from .. import _C
from .._grad_mode import no_grad
from ._optimizers import _check, _check_lr, _check_unsupported, _check_wd
from .optimizer import Optimizer, _zero_step

__all__ = ["ASGD", "Rprop"]


class Rprop(Optimizer):
    """Resilient backpropagation: a per-element step size grows by etas[1] while the gradient keeps
    its sign and shrinks by etas[0] when it flips (that element then skips one update)."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        _check(0.0 < etas[0] < 1.0 < etas[1], f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_unsupported(differentiable)
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        with no_grad():
            for group in self.param_groups:
                eta_minus, eta_plus = group["etas"]
                size_min, size_max = group["step_sizes"]
                for p, grad in zip(*self._params_with_grad(group)):
                    grad = -grad if group["maximize"] else grad
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = _zero_step()
                        state["prev"] = _C.zeros_like(p)
                        state["step_size"] = _C.full_like(grad, float(group["lr"]))
                    state["step"] += 1
                    agreement = (grad * state["prev"]).sign()
                    factor = _C.where(agreement > 0, _C.full_like(grad, eta_plus),
                                      _C.where(agreement < 0, _C.full_like(grad, eta_minus), _C.ones_like(grad)))
                    state["step_size"].mul_(factor).clamp_(size_min, size_max)
                    grad = _C.where(agreement < 0, _C.zeros_like(grad), grad)  # a sign flip skips this update
                    p.addcmul_(grad.sign(), state["step_size"], value=-1)
                    state["prev"].copy_(grad)
        return loss


class ASGD(Optimizer):
    """Averaged SGD: SGD with a decaying step (eta = lr / (1 + lambd * lr * t)^alpha) and a running
    average `ax` of the iterates that starts after t0 steps."""

    _scalar_state_keys = ("step", "eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None, maximize=False,
                 differentiable=False, capturable=False):
        _check_lr(lr)
        _check_wd(weight_decay)
        _check_unsupported(differentiable)
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        with no_grad():
            for group in self.param_groups:
                lr, lambd, alpha, t0 = (float(group[k]) for k in ("lr", "lambd", "alpha", "t0"))
                for p, grad in zip(*self._params_with_grad(group)):
                    grad = -grad if group["maximize"] else grad
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = _zero_step()
                        state["eta"] = _C.tensor(lr, dtype=state["step"].dtype)
                        state["mu"] = _C.tensor(1.0, dtype=state["step"].dtype)
                        state["ax"] = _C.zeros_like(p)
                    state["step"] += 1
                    step = float(state["step"])
                    if group["weight_decay"] != 0:
                        grad = grad.add(p, alpha=group["weight_decay"])
                    eta, mu = float(state["eta"]), float(state["mu"])
                    p.mul_(1 - lambd * eta)
                    p.add_(grad, alpha=-eta)
                    if mu != 1:
                        state["ax"].add_(p.sub(state["ax"]).mul(mu))
                    else:
                        state["ax"].copy_(p)
                    state["eta"].fill_(lr / ((1 + lambd * lr * step) ** alpha))
                    state["mu"].fill_(1 / max(1.0, step - t0))
        return loss
