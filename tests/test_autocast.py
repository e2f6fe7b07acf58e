"""rustdl.autocast on the CPU: PyTorch's result dtypes per op (recorded in
tests/golden/autocast.json by tools/differential/record_autocast.py), the
state API (nesting, enabled=False, decorator, the deprecated spellings), and
a training loop under autocast that follows float32 training."""

import json
import warnings
from pathlib import Path

import autocast_cases as cases
import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F

GOLDEN = json.loads((Path(__file__).parent / "golden" / "autocast.json").read_text())["dtypes"]
DTYPES = {"bf16": rustdl.bfloat16, "f16": rustdl.float16}


@pytest.mark.parametrize("name", sorted(GOLDEN))
@pytest.mark.parametrize("column", ["f32/bf16", "f32/f16", "bf16/bf16", "bf16/f16"])
def test_result_dtype_as_pytorch(name, column):
    want = GOLDEN[name][column]
    if want.startswith("error"):
        pytest.skip("PyTorch raises here")
    tag, target = column.split("/")
    env = cases.inputs(rustdl, tag)
    env["F"] = F
    with rustdl.autocast("cpu", dtype=DTYPES[target]):
        out = eval(cases.OPS[name], env)
    assert str(out.dtype).split(".")[-1] == want, f"{name} under {column}"


def test_values_are_those_of_the_cast_op():
    env = cases.inputs(rustdl, "f32")
    x, w, b = env["x"], env["w"], env["b"]
    with rustdl.autocast("cpu"):
        y = F.linear(x, w, b)
    want = F.linear(x.bfloat16(), w.bfloat16(), b.bfloat16())
    assert y.dtype == rustdl.bfloat16
    assert rustdl.equal(y, want)


def test_state_nests_and_restores():
    assert not rustdl.is_autocast_enabled("cpu")
    assert rustdl.get_autocast_dtype("cpu") == rustdl.bfloat16
    with rustdl.autocast("cpu"):
        assert rustdl.is_autocast_enabled("cpu")
        assert not rustdl.is_autocast_enabled()  # no argument: CUDA's state
        with rustdl.autocast("cpu", enabled=False):
            assert not rustdl.is_autocast_enabled("cpu")
            x = rustdl.ones(2, 2)
            assert (x @ x).dtype == rustdl.float32
        with rustdl.autocast("cpu", dtype=rustdl.float16):
            assert rustdl.get_autocast_dtype("cpu") == rustdl.float16
            assert (rustdl.ones(2, 2) @ rustdl.ones(2, 2)).dtype == rustdl.float16
        assert rustdl.get_autocast_dtype("cpu") == rustdl.bfloat16
        assert rustdl.is_autocast_enabled("cpu")
    assert not rustdl.is_autocast_enabled("cpu")


def test_state_restored_after_exception():
    with pytest.raises(ValueError), rustdl.autocast("cpu"):
        raise ValueError("boom")
    assert not rustdl.is_autocast_enabled("cpu")


def test_decorator_and_aliases():
    @rustdl.autocast("cpu")
    def f(a, b):
        return a @ b

    x = rustdl.ones(3, 3)
    assert f(x, x).dtype == rustdl.bfloat16
    assert (x @ x).dtype == rustdl.float32
    assert rustdl.amp.autocast is rustdl.autocast
    with pytest.warns(FutureWarning, match="torch.cpu.amp.autocast"):
        ctx = rustdl.cpu.amp.autocast()
    with ctx:
        assert (x @ x).dtype == rustdl.bfloat16
    with pytest.warns(DeprecationWarning):
        assert rustdl.get_autocast_cpu_dtype() == rustdl.bfloat16
    assert rustdl.amp.is_autocast_available("cpu")


def test_set_state_functions():
    rustdl.set_autocast_enabled("cpu", True)
    rustdl.set_autocast_dtype("cpu", rustdl.float16)
    try:
        x = rustdl.ones(2, 2)
        assert (x @ x).dtype == rustdl.float16
    finally:
        rustdl.set_autocast_enabled("cpu", False)
        rustdl.set_autocast_dtype("cpu", rustdl.bfloat16)
    assert (rustdl.ones(2, 2) @ rustdl.ones(2, 2)).dtype == rustdl.float32


def test_bad_arguments_as_pytorch():
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        rustdl.autocast(1)
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        rustdl.autocast("foo")
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        a = rustdl.autocast("cpu", dtype=rustdl.float64)
    with a:
        assert not rustdl.is_autocast_enabled("cpu")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        rustdl.autocast("cuda")


def test_float64_and_int_inputs_are_left_alone():
    d = rustdl.ones(2, 2, dtype=rustdl.float64)
    i = rustdl.ones(2, 2, dtype=rustdl.int64)
    with rustdl.autocast("cpu"):
        assert (d @ d).dtype == rustdl.float64
        assert (i @ i).dtype == rustdl.int64


def test_gradients_reach_float32_parameters():
    lin = rustdl.nn.Linear(8, 4)
    x = rustdl.ones(3, 8)
    with rustdl.autocast("cpu"):
        y = lin(x)
        assert y.dtype == rustdl.bfloat16
        loss = F.mse_loss(y, rustdl.zeros(3, 4))
        assert loss.dtype == rustdl.float32
    loss.backward()
    assert lin.weight.grad.dtype == rustdl.float32
    assert lin.bias.grad.dtype == rustdl.float32


def _train(autocast, steps=40, seed=0):
    rustdl.manual_seed(seed)
    model = rustdl.nn.Sequential(rustdl.nn.Linear(16, 32), rustdl.nn.ReLU(), rustdl.nn.Linear(32, 4))
    opt = rustdl.optim.SGD(model.parameters(), lr=0.5)
    gen = np.random.default_rng(1)
    x = rustdl.tensor(gen.standard_normal((64, 16)).astype(np.float32))
    target = rustdl.tensor(gen.integers(0, 4, 64))
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        with rustdl.autocast("cpu", enabled=autocast):
            loss = F.cross_entropy(model(x), target)
        assert loss.dtype == rustdl.float32
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses), model


def test_training_under_autocast_follows_float32():
    mixed, model = _train(True)
    full, _ = _train(False)
    assert mixed[-1] < 0.8 * mixed[0]
    assert all(p.dtype == rustdl.float32 for p in model.parameters())
    np.testing.assert_allclose(mixed, full, rtol=0.03, atol=0.02)


def test_conv_step_under_autocast():
    rustdl.manual_seed(0)
    conv = rustdl.nn.Conv2d(3, 4, 3, padding=1)
    x = rustdl.ones(2, 3, 8, 8)
    with rustdl.autocast("cpu"):
        y = conv(x)
        assert y.dtype == rustdl.bfloat16
        loss = y.float().pow(2).mean()
    loss.backward()
    assert conv.weight.grad.dtype == rustdl.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = conv(x)
    np.testing.assert_allclose(y.float().detach().numpy(), ref.detach().numpy(), rtol=0.02, atol=0.02)
