"""rustdl.amp.GradScaler: PyTorch's loss scaling (values checked against
PyTorch by hand: scale 4 -> grads x4, unscale_ -> /4, inf skips the step and
halves the scale, growth after growth_interval clean steps), float16
training under autocast, and a pass-through for bf16 / enabled=False."""

import pickle

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F


def _param():
    p = rustdl.nn.Parameter(rustdl.ones(3))
    return p, rustdl.optim.SGD([p], lr=0.1)


def test_scale_unscale_step_update_as_pytorch():
    s = rustdl.amp.GradScaler("cpu", init_scale=4.0)
    assert s.get_scale() == 4.0 and s.is_enabled()
    p, opt = _param()
    scaled = s.scale((p * 2).sum())
    assert scaled.item() == 24.0
    scaled.backward()
    assert p.grad.tolist() == [8.0, 8.0, 8.0]
    s.unscale_(opt)
    assert p.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        s.unscale_(opt)
    assert s.step(opt) is None
    np.testing.assert_allclose(p.detach().numpy(), [0.8] * 3, rtol=1e-6)
    s.update()
    assert s.get_scale() == 4.0
    assert s.state_dict() == {"scale": 4.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                              "growth_interval": 2000, "_growth_tracker": 1}


def test_inf_skips_the_step_and_backs_off():
    s = rustdl.amp.GradScaler("cpu", init_scale=4.0)
    p, opt = _param()
    s.scale(p.sum()).backward()
    p.grad = rustdl.tensor([float("inf"), 1.0, 1.0])
    s.step(opt)
    assert p.tolist() == [1.0, 1.0, 1.0]
    s.update()
    assert s.get_scale() == 2.0
    assert s.state_dict()["_growth_tracker"] == 0
    p.grad = None
    s.scale(p.sum()).backward()
    p.grad[1] = float("nan")
    s.step(opt)
    s.update()
    assert s.get_scale() == 1.0 and p.tolist() == [1.0, 1.0, 1.0]


def test_growth_after_interval():
    s = rustdl.amp.GradScaler("cpu", init_scale=2.0, growth_interval=3)
    p, opt = _param()
    for _ in range(3):
        opt.zero_grad()
        s.scale(p.sum()).backward()
        s.step(opt)
        s.update()
    assert s.get_scale() == 4.0
    s.update(new_scale=8.0)
    assert s.get_scale() == 8.0


def test_state_dict_round_trip_and_pickle():
    s = rustdl.amp.GradScaler("cpu", init_scale=16.0, growth_factor=3.0)
    p, opt = _param()
    s.scale(p.sum()).backward()
    s.step(opt)
    s.update()
    t = rustdl.amp.GradScaler("cpu")
    t.load_state_dict(s.state_dict())
    assert t.state_dict() == s.state_dict()
    assert pickle.loads(pickle.dumps(s)).get_scale() == 16.0
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        t.load_state_dict({})


def test_disabled_is_a_pass_through():
    s = rustdl.amp.GradScaler("cpu", enabled=False)
    p, opt = _param()
    loss = p.sum()
    assert s.scale(loss) is loss
    assert s.get_scale() == 1.0 and s.state_dict() == {}
    loss.backward()
    s.unscale_(opt)
    s.step(opt)
    s.update()
    np.testing.assert_allclose(p.detach().numpy(), [0.9] * 3, rtol=1e-6)


def test_errors_as_pytorch():
    s = rustdl.amp.GradScaler("cpu")
    _, opt = _param()
    with pytest.raises(AssertionError, match="Attempted step but _scale is None"):
        s.step(opt)
    with pytest.raises(AssertionError, match="growth factor must be > 1.0"):
        rustdl.amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.warns(FutureWarning, match="torch.cpu.amp.GradScaler"):
        rustdl.cpu.amp.GradScaler()


@pytest.mark.parametrize("dtype", [rustdl.float16, rustdl.bfloat16])
def test_mixed_precision_training_with_scaler(dtype):
    rustdl.manual_seed(0)
    model = rustdl.nn.Sequential(rustdl.nn.Linear(10, 20), rustdl.nn.Tanh(), rustdl.nn.Linear(20, 1))
    opt = rustdl.optim.SGD(model.parameters(), lr=0.05)
    scaler = rustdl.amp.GradScaler("cpu", init_scale=2.0**10)
    gen = np.random.default_rng(0)
    x = rustdl.tensor(gen.standard_normal((32, 10)).astype(np.float32))
    y = x.sum(1, keepdim=True) * 0.1
    losses = []
    for _ in range(30):
        opt.zero_grad()
        with rustdl.autocast("cpu", dtype=dtype):
            loss = F.mse_loss(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(p.grad.dtype == rustdl.float32 for p in model.parameters())
