"""The optimizers. Each ``step`` makes one fused Rust call per parameter group."""

from .. import _C
from .optimizer import Optimizer, _fused, _zero_step

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop"]


def _check(cond, msg):
    if not cond:
        raise ValueError(msg)


def _check_lr(lr):
    _check(0.0 <= lr, f"Invalid learning rate: {lr}")


def _check_eps(eps):
    _check(0.0 <= eps, f"Invalid epsilon value: {eps}")


def _check_betas(betas):
    _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
    _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")


def _check_wd(weight_decay):
    _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")


def _check_unsupported(differentiable=False, fused=None, capturable=False):
    if differentiable:
        raise RuntimeError("rustdl: differentiable=True is not supported by rustdl.optim")
    # `fused` is accepted and ignored: rustdl's step is always one fused call per group.
    del fused, capturable


def _zeros(p):
    return _C.zeros_like(p)


def _state_columns(state, params, buffers, scalars=None):
    """The optimizer state of `params` as one list per key (the form the fused
    kernels take), created lazily as PyTorch does: on a parameter's first step
    ``step`` and the entries of `scalars` (key -> factory), then a zero tensor like
    the parameter for every key in `buffers` that the state lacks (a buffer
    switched on later, e.g. ``amsgrad``, starts at zero then). The keys keep
    PyTorch's order, so ``state_dict()`` lists them as PyTorch's does."""
    scalars = {"step": _zero_step, **(scalars or {})}
    columns = {key: [] for key in [*scalars, *buffers]}
    for p in params:
        st = state[p]
        if len(st) == 0:
            st.update((key, make()) for key, make in scalars.items())
        for key in buffers:
            if key not in st:
                st[key] = _zeros(p)
        for key, column in columns.items():
            column.append(st[key])
    return columns


class _GroupwiseOptimizer(Optimizer):
    """An optimizer whose ``step`` evaluates the closure, then steps each
    parameter group that has gradients with one fused call (``_step_group``)."""

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads = self._params_with_grad(group)
            if params:
                self._step_group(group, params, grads)
        return loss

    def _step_group(self, group, params, grads):
        raise NotImplementedError


def _betas(group):
    b1, b2 = group["betas"]
    return float(b1), float(b2)


class SGD(_GroupwiseOptimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check_lr(lr)
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check_unsupported(differentiable, fused)
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                        "nesterov": nesterov, "maximize": maximize, "foreach": foreach, "differentiable": differentiable,
                        "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def _step_group(self, group, params, grads):
        momentum = float(group["momentum"])
        bufs, first = None, []
        if momentum != 0:
            bufs = []
            for p in params:
                st = self.state[p]
                b = st.get("momentum_buffer")
                first.append(b is None)
                if b is None:
                    b = _zeros(p)
                    st["momentum_buffer"] = b
                bufs.append(b)
        _fused(_C._optim_sgd, [params, grads, bufs, first or [False] * len(params)],
               lr=float(group["lr"]), momentum=momentum, dampening=float(group["dampening"]),
               weight_decay=float(group["weight_decay"]), nesterov=bool(group["nesterov"]),
               maximize=bool(group["maximize"]))


class Adagrad(_GroupwiseOptimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        _check(0.0 <= lr_decay, f"Invalid lr_decay value: {lr_decay}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= initial_accumulator_value,
               f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check_eps(eps)
        _check_unsupported(differentiable, fused)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                        "initial_accumulator_value": initial_accumulator_value, "foreach": foreach, "maximize": maximize,
                        "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(group, p)

    def _init_state(self, group, p):
        st = self.state[p]
        if "sum" not in st:
            st["step"] = _zero_step()
            st["sum"] = _C.full_like(p, float(group["initial_accumulator_value"]))
        return st

    def share_memory(self):
        """Move the state sums to shared memory (``Tensor.share_memory_``)."""
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"].share_memory_()

    def _step_group(self, group, params, grads):
        sts = [self._init_state(group, p) for p in params]
        _fused(_C._optim_adagrad, [params, grads, [s["sum"] for s in sts], [s["step"] for s in sts]],
               lr=float(group["lr"]), lr_decay=float(group["lr_decay"]),
               weight_decay=float(group["weight_decay"]), eps=float(group["eps"]),
               maximize=bool(group["maximize"]))


class RMSprop(_GroupwiseOptimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        _check_eps(eps)
        _check(0.0 <= momentum, f"Invalid momentum value: {momentum}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= alpha, f"Invalid alpha value: {alpha}")
        _check_unsupported(differentiable)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                        "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach, "maximize": maximize,
                        "differentiable": differentiable}
        super().__init__(params, defaults)

    def _step_group(self, group, params, grads):
        momentum = float(group["momentum"])
        centered = bool(group["centered"])
        st = _state_columns(self.state, params, ["square_avg"] + ["momentum_buffer"] * (momentum > 0)
                            + ["grad_avg"] * centered)
        _fused(_C._optim_rmsprop, [params, grads, st["square_avg"], st.get("momentum_buffer"),
                                   st.get("grad_avg"), st["step"]],
               lr=float(group["lr"]), alpha=float(group["alpha"]), eps=float(group["eps"]),
               weight_decay=float(group["weight_decay"]), momentum=momentum, centered=centered,
               maximize=bool(group["maximize"]))


class Adam(_GroupwiseOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_lr(lr)
        _check_eps(eps)
        _check_betas(betas)
        _check_wd(weight_decay)
        _check_unsupported(differentiable, fused)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                        "maximize": maximize, "foreach": foreach, "capturable": capturable, "differentiable": differentiable,
                        "fused": fused, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("decoupled_weight_decay", False)

    def _step_group(self, group, params, grads):
        amsgrad = bool(group["amsgrad"])
        st = _state_columns(self.state, params, ["exp_avg", "exp_avg_sq"] + ["max_exp_avg_sq"] * amsgrad)
        b1, b2 = _betas(group)
        _fused(_C._optim_adam, [params, grads, st["exp_avg"], st["exp_avg_sq"], st.get("max_exp_avg_sq"),
                                st["step"]],
               lr=float(group["lr"]), beta1=b1, beta2=b2, eps=float(group["eps"]),
               weight_decay=float(group["weight_decay"]), amsgrad=amsgrad, maximize=bool(group["maximize"]),
               decoupled=bool(group.get("decoupled_weight_decay", False)))


class AdamW(Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


class Adadelta(_GroupwiseOptimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        _check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        _check_eps(eps)
        _check_wd(weight_decay)
        _check_unsupported(differentiable)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
                        "capturable": capturable, "foreach": foreach, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _step_group(self, group, params, grads):
        st = _state_columns(self.state, params, ["square_avg", "acc_delta"])
        _fused(_C._optim_adadelta, [params, grads, st["square_avg"], st["acc_delta"], st["step"]],
               lr=float(group["lr"]), rho=float(group["rho"]), eps=float(group["eps"]),
               weight_decay=float(group["weight_decay"]), maximize=bool(group["maximize"]))


class Adamax(_GroupwiseOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        _check_eps(eps)
        _check_betas(betas)
        _check_wd(weight_decay)
        _check_unsupported(differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "foreach": foreach,
                        "maximize": maximize, "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def _step_group(self, group, params, grads):
        st = _state_columns(self.state, params, ["exp_avg", "exp_inf"])
        b1, b2 = _betas(group)
        _fused(_C._optim_adamax, [params, grads, st["exp_avg"], st["exp_inf"], st["step"]],
               lr=float(group["lr"]), beta1=b1, beta2=b2, eps=float(group["eps"]),
               weight_decay=float(group["weight_decay"]), maximize=bool(group["maximize"]))


class NAdam(_GroupwiseOptimizer):
    _scalar_state_keys = ("step", "mu_product")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_lr(lr)
        _check_eps(eps)
        _check_betas(betas)
        _check_wd(weight_decay)
        _check(0.0 <= momentum_decay, f"Invalid momentum_decay value: {momentum_decay}")
        _check_unsupported(differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "momentum_decay": momentum_decay,
                        "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize, "foreach": foreach,
                        "capturable": capturable, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _step_group(self, group, params, grads):
        st = _state_columns(self.state, params, ["exp_avg", "exp_avg_sq"],
                            scalars={"mu_product": lambda: _C.tensor(1.0, dtype=_C.float32)})
        b1, b2 = _betas(group)
        _fused(_C._optim_nadam, [params, grads, st["exp_avg"], st["exp_avg_sq"], st["mu_product"], st["step"]],
               lr=float(group["lr"]), beta1=b1, beta2=b2, eps=float(group["eps"]),
               weight_decay=float(group["weight_decay"]), momentum_decay=float(group["momentum_decay"]),
               decoupled=bool(group["decoupled_weight_decay"]), maximize=bool(group["maximize"]))


class RAdam(_GroupwiseOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_lr(lr)
        _check_eps(eps)
        _check_betas(betas)
        _check_wd(weight_decay)
        _check_unsupported(differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
                        "foreach": foreach, "capturable": capturable, "decoupled_weight_decay": decoupled_weight_decay,
                        "differentiable": differentiable}
        super().__init__(params, defaults)

    def _step_group(self, group, params, grads):
        st = _state_columns(self.state, params, ["exp_avg", "exp_avg_sq"])
        b1, b2 = _betas(group)
        _fused(_C._optim_radam, [params, grads, st["exp_avg"], st["exp_avg_sq"], st["step"]],
               lr=float(group["lr"]), beta1=b1, beta2=b2, eps=float(group["eps"]),
               weight_decay=float(group["weight_decay"]), decoupled=bool(group["decoupled_weight_decay"]),
               maximize=bool(group["maximize"]))
