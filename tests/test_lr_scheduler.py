"""rustdl.optim.lr_scheduler: PyTorch's schedules (closed forms checked against the
chainable forms), state_dict round trips, composite schedulers and errors."""

import copy
import math
import warnings

import pytest
import rustdl as torch
import rustdl.optim
from rustdl.optim import lr_scheduler as S


def _opt(lr=0.1, momentum=0.9, cls=None):
    p = torch.zeros(2, requires_grad=True)
    if cls is not None:
        return cls([p], lr=lr)
    return torch.optim.SGD([p], lr=lr, momentum=momentum)


def _run(opt, sched, n, metric=None):
    lrs = []
    for e in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if metric is None:
            sched.step()
        else:
            sched.step(metric(e))
    return lrs


def test_initial_lr_and_last_epoch():
    opt = _opt()
    s = S.StepLR(opt, step_size=2, gamma=0.5)
    assert s.last_epoch == 0 and opt.param_groups[0]["initial_lr"] == 0.1 and s.base_lrs == [0.1]
    assert s.get_last_lr() == [0.1]
    opt.step()
    s.step()
    opt.step()
    s.step()
    assert s.last_epoch == 2 and s.get_last_lr() == [0.05]


def test_resume_requires_initial_lr():
    opt = _opt()
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups\\[0\\]"):
        S.StepLR(opt, step_size=2, last_epoch=3)


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        S.StepLR([], step_size=2)


@pytest.mark.parametrize(
    "make, closed",
    [
        (lambda o: S.StepLR(o, 3, 0.5), lambda e: 0.1 * 0.5 ** (e // 3)),
        (lambda o: S.MultiStepLR(o, [2, 5, 5], 0.1), lambda e: 0.1 * 0.1 ** ((e >= 2) + 2 * (e >= 5))),
        (lambda o: S.ExponentialLR(o, 0.9), lambda e: 0.1 * 0.9 ** e),
        (lambda o: S.ConstantLR(o, 0.5, 3), lambda e: 0.05 if e < 3 else 0.1),
        (lambda o: S.LinearLR(o, 0.2, 1.0, 4), lambda e: 0.1 * (0.2 + 0.8 * min(e, 4) / 4)),
        (lambda o: S.PolynomialLR(o, 8, 2.0), lambda e: 0.1 * (1 - min(e, 8) / 8) ** 2),
        (lambda o: S.CosineAnnealingLR(o, 6, 0.01), lambda e: 0.01 + 0.09 * (1 + math.cos(math.pi * e / 6)) / 2),
        (lambda o: S.LambdaLR(o, lambda e: 1 / (e + 1)), lambda e: 0.1 / (e + 1)),
        (lambda o: S.MultiplicativeLR(o, lambda e: 0.9), lambda e: 0.1 * 0.9 ** e),
    ],
)
def test_schedules_match_closed_form(make, closed):
    opt = _opt()
    lrs = _run(opt, make(opt), 15)
    for e, lr in enumerate(lrs):
        assert lr == pytest.approx(closed(e), rel=1e-9, abs=1e-12), e


def test_epoch_argument_uses_closed_form():
    opt = _opt()
    s = S.StepLR(opt, 3, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s.step(7)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.25)


def test_cosine_warm_restarts_and_fractional_epoch():
    opt = _opt()
    s = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.0)
    lrs = _run(opt, s, 10)
    assert lrs[0] == pytest.approx(0.1) and lrs[3] == pytest.approx(0.1) and lrs[9] == pytest.approx(0.1)
    s.step(4.5)
    assert s.T_i == 6 and s.T_cur == pytest.approx(1.5)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        S.CosineAnnealingWarmRestarts(_opt(), T_0=0)
    with pytest.raises(ValueError, match="Expected integer T_mult >= 1, but got 0"):
        S.CosineAnnealingWarmRestarts(_opt(), T_0=2, T_mult=0)


def test_onecycle_momentum_and_betas():
    opt = _opt()
    s = S.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0 / 25)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)
    _run(opt, s, 10)
    with pytest.raises(ValueError, match="Tried to step 11 times. The specified number of total steps is 10"):
        s.step()
    opt = _opt(cls=torch.optim.Adam)
    S.OneCycleLR(opt, max_lr=0.01, epochs=2, steps_per_epoch=5)
    assert opt.param_groups[0]["betas"][0] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        S.OneCycleLR(_opt(), max_lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got x"):
        S.OneCycleLR(_opt(), max_lr=1.0, total_steps=5, anneal_strategy="x")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.OneCycleLR(_opt(cls=torch.optim.Adagrad), max_lr=1.0, total_steps=5)


def test_cyclic_lr():
    opt = _opt(lr=0.1, momentum=0.9)
    s = S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4)
    lrs = _run(opt, s, 17)
    expected = [0.01 + 0.09 * (1 - abs((e % 8) - 4) / 4) for e in range(17)]
    assert lrs == pytest.approx(expected)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.9 - 0.1 * (1 - abs((17 % 8) - 4) / 4))
    opt = _opt()
    s = S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2, mode="triangular2")
    lrs = _run(opt, s, 9)
    assert lrs[2] == pytest.approx(0.1) and lrs[6] == pytest.approx(0.055)
    opt = _opt()
    s = S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2, mode="exp_range", gamma=0.9)
    lrs = _run(opt, s, 3)
    assert lrs[2] == pytest.approx(0.01 + 0.09 * 0.9 ** 2)
    sd = s.state_dict()
    s.load_state_dict(sd)
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        S.CyclicLR(_opt(), 0.01, 0.1, mode="bad")


def test_sequential_lr():
    opt = _opt()
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=3)
    decay = S.ExponentialLR(opt, gamma=0.5)
    s = S.SequentialLR(opt, [warm, decay], milestones=[3])
    lrs = _run(opt, s, 6)
    assert lrs == pytest.approx([0.01, 0.04, 0.07, 0.1, 0.05, 0.025])
    sd = copy.deepcopy(s.state_dict())
    opt2 = _opt()
    s2 = S.SequentialLR(opt2, [S.LinearLR(opt2, 0.1, total_iters=3), S.ExponentialLR(opt2, 0.5)], [3])
    s2.load_state_dict(sd)
    assert s2.last_epoch == s.last_epoch and s2._schedulers[1].last_epoch == decay.last_epoch
    with pytest.raises(ValueError, match="Sequential Schedulers expects number of schedulers provided"):
        S.SequentialLR(opt, [warm, decay], milestones=[1, 2])


def test_chained_scheduler():
    opt = _opt()
    s = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=2), S.ExponentialLR(opt, gamma=0.9)])
    lrs = _run(opt, s, 4)
    assert lrs == pytest.approx([0.05, 0.045, 0.081, 0.0729])
    assert s.get_last_lr() == pytest.approx([0.06561])


def test_reduce_on_plateau():
    opt = _opt()
    s = S.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1)
    for m in [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
        s.step(m)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)
    assert s.get_last_lr() == pytest.approx([0.025])
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["best"] == 2.0
    opt2 = _opt()
    s2 = S.ReduceLROnPlateau(opt2)
    s2.load_state_dict(sd)
    assert s2.mode == "max" and s2.best == 2.0
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(_opt(), factor=1.0)
    with pytest.raises(ValueError, match="mode bad is unknown!"):
        S.ReduceLROnPlateau(_opt(), mode="bad")
    with pytest.raises(ValueError, match="threshold mode bad is unknown!"):
        S.ReduceLROnPlateau(_opt(), threshold_mode="bad")


def test_state_dict_round_trip():
    opt = _opt()
    s = S.CosineAnnealingLR(opt, T_max=5)
    _run(opt, s, 3)
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3 and sd["_last_lr"] == s.get_last_lr()
    opt2 = _opt()
    opt2.load_state_dict(opt.state_dict())
    s2 = S.CosineAnnealingLR(opt2, T_max=5)
    s2.load_state_dict(sd)
    assert _run(opt2, s2, 5) == _run(opt, s, 5)


def test_lambda_state_dict_keeps_callable_objects():
    class Mult:
        def __init__(self):
            self.factor = 0.5

        def __call__(self, e):
            return self.factor ** e

    opt = _opt()
    f = Mult()
    s = S.LambdaLR(opt, f)
    f.factor = 0.7
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"factor": 0.7}]
    g = Mult()
    s2 = S.LambdaLR(_opt(), g)
    s2.load_state_dict(sd)
    assert g.factor == 0.7
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        S.LambdaLR(_opt(), [f, f])


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _opt()
    s = S.StepLR(opt, 2)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s.step()
    assert any("before `optimizer.step()`" in str(x.message) for x in w)


def test_validation_messages():
    with pytest.raises(ValueError, match="Constant multiplicative factor expected to be between 0 and 1."):
        S.ConstantLR(_opt(), factor=2.0)
    with pytest.raises(ValueError, match="Starting multiplicative factor expected to be greater than 0"):
        S.LinearLR(_opt(), start_factor=0.0)
    with pytest.raises(ValueError, match="Ending multiplicative factor expected to be between 0 and 1."):
        S.LinearLR(_opt(), end_factor=1.5)
