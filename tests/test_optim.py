"""rustdl.optim end to end: training reduces the loss, state_dict round trips
continue bit for bit, parameter-group handling and PyTorch's validation errors."""

import copy
import warnings

import numpy as np
import pytest
import rustdl as torch
import rustdl.optim
from rustdl import nn
from rustdl.optim import lr_scheduler

OPTIMIZERS = {
    "SGD": lambda ps: torch.optim.SGD(ps, lr=0.05),
    "SGD_momentum": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-4),
    "SGD_nesterov": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "Adagrad": lambda ps: torch.optim.Adagrad(ps, lr=0.1, lr_decay=1e-3, weight_decay=1e-4),
    "RMSprop": lambda ps: torch.optim.RMSprop(ps, lr=0.01),
    "RMSprop_centered": lambda ps: torch.optim.RMSprop(ps, lr=0.005, momentum=0.5, centered=True),
    "Adam": lambda ps: torch.optim.Adam(ps, lr=0.01),
    "Adam_amsgrad": lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=1e-3),
    "AdamW": lambda ps: torch.optim.AdamW(ps, lr=0.01),
    "Adadelta": lambda ps: torch.optim.Adadelta(ps, lr=1.0),
    "Adamax": lambda ps: torch.optim.Adamax(ps, lr=0.02),
    "NAdam": lambda ps: torch.optim.NAdam(ps, lr=0.01),
    "NAdam_decoupled": lambda ps: torch.optim.NAdam(ps, lr=0.01, weight_decay=0.01, decoupled_weight_decay=True),
    "RAdam": lambda ps: torch.optim.RAdam(ps, lr=0.01),
    "RAdam_decoupled": lambda ps: torch.optim.RAdam(ps, lr=0.01, weight_decay=0.01, decoupled_weight_decay=True),
}


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.3]], dtype=np.float32) + 0.1).astype(np.float32)
    return torch.tensor(x), torch.tensor(y)


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))


def _train_step(model, opt, x, y):
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    return loss.item()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_training_reduces_loss(name):
    x, y = _data()
    model = _model()
    opt = OPTIMIZERS[name](model.parameters())
    losses = [_train_step(model, opt, x, y) for _ in range(50)]
    with torch.no_grad():
        final = ((model(x) - y) ** 2).mean().item()
    assert np.isfinite(final)
    assert final < losses[0] * 0.9, (losses[0], final)


def _params_np(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_state_dict_resume_bit_for_bit(name):
    x, y = _data()
    model = _model()
    opt = OPTIMIZERS[name](model.parameters())
    sched = lr_scheduler.StepLR(opt, step_size=7, gamma=0.7)
    for _ in range(10):
        _train_step(model, opt, x, y)
        sched.step()
    saved = copy.deepcopy((model.state_dict(), opt.state_dict(), sched.state_dict()))
    # Reference: continue the original objects.
    for _ in range(10):
        _train_step(model, opt, x, y)
        sched.step()
    expected = _params_np(model)
    expected_lr = opt.param_groups[0]["lr"]
    # Fresh objects loaded from the copies.
    model2 = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    opt2 = OPTIMIZERS[name](model2.parameters())
    sched2 = lr_scheduler.StepLR(opt2, step_size=7, gamma=0.7)
    model2.load_state_dict(saved[0])
    opt2.load_state_dict(saved[1])
    sched2.load_state_dict(saved[2])
    for _ in range(10):
        _train_step(model2, opt2, x, y)
        sched2.step()
    for a, b in zip(_params_np(model2), expected):
        np.testing.assert_array_equal(a, b)
    assert opt2.param_groups[0]["lr"] == expected_lr


def test_state_dict_structure():
    a = torch.zeros(3, requires_grad=True)
    b = torch.zeros(2, 2, requires_grad=True)
    c = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    for p in (a, b):
        p.grad = torch.ones_like(p)
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert sorted(sd["state"]) == [0, 1]  # c had no grad: no state
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert sd["state"][0]["step"].item() == 1.0
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][1]["params"] == [2]
    assert sd["param_groups"][1]["lr"] == 0.5
    g = sd["param_groups"][0]
    for k in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable",
              "differentiable", "fused"):
        assert k in g
    # Loading a wrong-sized state dict fails like PyTorch.
    opt_small = torch.optim.Adam([a], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt_small.load_state_dict(sd)
    opt_bad = torch.optim.Adam([{"params": [a]}, {"params": [c]}], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt_bad.load_state_dict(sd)


def test_param_groups_defaults_and_lr_change():
    a = torch.ones(3, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    opt = torch.optim.SGD([{"params": [a]}, {"params": b, "lr": 1.0}], lr=0.1, momentum=0.0)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 1.0
    assert opt.param_groups[1]["params"] == [b] or opt.param_groups[1]["params"][0] is b
    assert opt.param_groups[0]["momentum"] == 0.0 and opt.param_groups[0]["nesterov"] is False
    a.grad = torch.ones(3)
    b.grad = torch.ones(3)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), 0.9)
    np.testing.assert_allclose(b.detach().numpy(), 0.0)
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), 0.4, rtol=1e-6)


def test_add_param_group_and_errors():
    a = torch.ones(3, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    opt = torch.optim.SGD([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.2})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["momentum"] == 0
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        torch.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="params argument given to the optimizer should be an iterable"):
        torch.optim.SGD(a, lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is int"):
        torch.optim.SGD([1], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        torch.optim.SGD([a * 2], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        torch.optim.SGD([{"params": {a}}], lr=0.1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        torch.optim.SGD([a, a], lr=0.1)
    assert any("duplicate parameters" in str(x.message) for x in w)


def test_zero_grad_and_closure():
    a = torch.ones(3, requires_grad=True)
    opt = torch.optim.SGD([a], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(3.0)
    np.testing.assert_allclose(a.detach().numpy(), 0.8, rtol=1e-6)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), 0.0)
    opt.zero_grad()
    assert a.grad is None
    # step without grads is a no-op
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), 0.8, rtol=1e-6)


def test_step_does_not_record_graph_and_bumps_in_place():
    a = torch.ones(4, requires_grad=True)
    ref = a
    opt = torch.optim.Adam([a], lr=0.1)
    (a * 3).sum().backward()
    opt.step()
    assert ref is a and a.is_leaf and a.grad_fn is None and a.requires_grad
    np.testing.assert_allclose(a.detach().numpy(), 0.9, rtol=1e-5)


def test_mixed_dtype_group_and_float64():
    a = torch.ones(3, dtype=torch.float64, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    opt = torch.optim.Adam([a, b], lr=0.1)
    a.grad = torch.ones(3, dtype=torch.float64)
    b.grad = torch.ones(3)
    opt.step()
    assert a.dtype == torch.float64 and opt.state[a]["exp_avg"].dtype == torch.float64
    np.testing.assert_allclose(a.detach().numpy(), 1 - 0.1 / (1 + 1e-8), rtol=1e-14)
    np.testing.assert_allclose(b.detach().numpy(), 0.9, rtol=1e-6)


def test_large_group_matches_small_chunks():
    # A group big enough to be split across threads gives the same result as
    # the same update done one small tensor at a time.
    rng = np.random.default_rng(1)
    vals = rng.standard_normal(300_000).astype(np.float32)
    grads = rng.standard_normal(300_000).astype(np.float32)
    big = torch.tensor(vals, requires_grad=True)
    small = [torch.tensor(v, requires_grad=True) for v in np.split(vals, 100)]
    o1 = torch.optim.Adam([big], lr=0.01)
    o2 = torch.optim.Adam(small, lr=0.01)
    for _ in range(3):
        big.grad = torch.tensor(grads)
        for s, g in zip(small, np.split(grads, 100)):
            s.grad = torch.tensor(g)
        o1.step()
        o2.step()
    np.testing.assert_array_equal(big.detach().numpy(), np.concatenate([s.detach().numpy() for s in small]))


def test_non_contiguous_param():
    base = torch.ones(4, 6)
    p = base.t().detach().requires_grad_(True)  # non-contiguous leaf
    opt = torch.optim.SGD([p], lr=0.5, momentum=0.9)
    p.grad = torch.arange(24, dtype=torch.float32).reshape(6, 4)
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), 1 - 0.5 * np.arange(24).reshape(6, 4), rtol=1e-6)


@pytest.mark.parametrize(
    "ctor, exc, msg",
    [
        (lambda ps: torch.optim.SGD(ps, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=-0.5), ValueError, "Invalid momentum value: -0.5"),
        (lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
        (lambda ps: torch.optim.SGD(ps, lr=0.1, nesterov=True), ValueError,
         "Nesterov momentum requires a momentum and zero dampening"),
        (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
         "Nesterov momentum requires a momentum and zero dampening"),
        (lambda ps: torch.optim.Adam(ps, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda ps: torch.optim.Adam(ps, betas=(1.0, 0.999)), ValueError, "Invalid beta parameter at index 0: 1.0"),
        (lambda ps: torch.optim.Adam(ps, betas=(-0.1, 0.999)), ValueError,
         "Invalid beta parameter at index 0: -0.1"),
        (lambda ps: torch.optim.Adam(ps, betas=(0.9, 1.5)), ValueError, "Invalid beta parameter at index 1: 1.5"),
        (lambda ps: torch.optim.Adam(ps, eps=-1e-8), ValueError, "Invalid epsilon value: -1e-08"),
        (lambda ps: torch.optim.Adam(ps, weight_decay=-0.1), ValueError, "Invalid weight_decay value: -0.1"),
        (lambda ps: torch.optim.AdamW(ps, lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
        (lambda ps: torch.optim.AdamW(ps, betas=(0.9, 1.0)), ValueError, "Invalid beta parameter at index 1: 1.0"),
        (lambda ps: torch.optim.Adagrad(ps, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda ps: torch.optim.Adagrad(ps, lr_decay=-1), ValueError, "Invalid lr_decay value: -1"),
        (lambda ps: torch.optim.Adagrad(ps, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
        (lambda ps: torch.optim.Adagrad(ps, initial_accumulator_value=-1), ValueError,
         "Invalid initial_accumulator_value value: -1"),
        (lambda ps: torch.optim.Adagrad(ps, eps=-1), ValueError, "Invalid epsilon value: -1"),
        (lambda ps: torch.optim.RMSprop(ps, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda ps: torch.optim.RMSprop(ps, eps=-1), ValueError, "Invalid epsilon value: -1"),
        (lambda ps: torch.optim.RMSprop(ps, momentum=-1), ValueError, "Invalid momentum value: -1"),
        (lambda ps: torch.optim.RMSprop(ps, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
        (lambda ps: torch.optim.RMSprop(ps, alpha=-1), ValueError, "Invalid alpha value: -1"),
        (lambda ps: torch.optim.Adadelta(ps, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda ps: torch.optim.Adadelta(ps, rho=1.5), ValueError, "Invalid rho value: 1.5"),
        (lambda ps: torch.optim.Adadelta(ps, eps=-1), ValueError, "Invalid epsilon value: -1"),
        (lambda ps: torch.optim.Adadelta(ps, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
        (lambda ps: torch.optim.Adamax(ps, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda ps: torch.optim.Adamax(ps, betas=(0.9, 1.0)), ValueError, "Invalid beta parameter at index 1: 1.0"),
        (lambda ps: torch.optim.NAdam(ps, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda ps: torch.optim.NAdam(ps, momentum_decay=-1), ValueError, "Invalid momentum_decay value: -1"),
        (lambda ps: torch.optim.NAdam(ps, betas=(2.0, 0.9)), ValueError, "Invalid beta parameter at index 0: 2.0"),
        (lambda ps: torch.optim.RAdam(ps, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda ps: torch.optim.RAdam(ps, eps=-1), ValueError, "Invalid epsilon value: -1"),
        (lambda ps: torch.optim.RAdam(ps, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
    ],
)
def test_validation_errors(ctor, exc, msg):
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(exc) as ei:
        ctor([p])
    assert str(ei.value) == msg


def test_missing_required_in_group_and_repr():
    a = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([a], lr=0.1)
    r = repr(opt)
    assert r.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in r


def test_hooks():
    a = torch.ones(2, requires_grad=True)
    opt = torch.optim.SGD([a], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    h2 = opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    a.grad = torch.ones(2)
    opt.step()
    assert calls == ["pre", "post"]
    h1.remove()
    h2.remove()
    opt.step()
    assert calls == ["pre", "post"]


def test_rmsprop_centered_state_and_adagrad_eager_state():
    a = torch.ones(2, requires_grad=True)
    opt = torch.optim.RMSprop([a], lr=0.01, momentum=0.9, centered=True)
    a.grad = torch.ones(2)
    opt.step()
    assert sorted(opt.state[a]) == ["grad_avg", "momentum_buffer", "square_avg", "step"]
    b = torch.ones(2, requires_grad=True)
    opt2 = torch.optim.Adagrad([b], initial_accumulator_value=0.5)
    assert sorted(opt2.state[b]) == ["step", "sum"]
    np.testing.assert_array_equal(opt2.state[b]["sum"].numpy(), 0.5)


def test_lbfgs_quadratic():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 6))
    a = (a @ a.T + 6 * np.eye(6)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    A, B = torch.tensor(a), torch.tensor(b)
    x = torch.zeros(6, requires_grad=True)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=50, history_size=10)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x * (A @ x)).sum() - (B * x).sum()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), np.linalg.solve(a, b), rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        torch.optim.LBFGS([{"params": [x]}, {"params": [torch.zeros(1, requires_grad=True)]}])
