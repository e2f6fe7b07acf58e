"""torch-namespace functions composed in Python against PyTorch-recorded values, dtypes, shapes,
gradients (first and second order) and exception types (tools/differential/record_torch_surface.py)."""

import json
from pathlib import Path

import numpy as np
import pytest
import rustdl
import torch_surface_cases as cases

GOLDEN = json.loads((Path(__file__).parent / "golden" / "torch_surface.json").read_text())


def _compare(got, want, where):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {got!r} vs {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            _compare(g, w, f"{where}[{i}]")
        return
    if want is None or not isinstance(want, dict):
        assert got == want, f"{where}: {got!r} vs {want!r}"
        return
    if "values" not in want:
        assert isinstance(got, dict) and sorted(got) == sorted(want), f"{where}: {got!r} vs {want!r}"
        for k in want:
            _compare(got[k], want[k], f"{where}.{k}")
        return
    assert got["shape"] == want["shape"], f"{where}: shape {got['shape']} vs {want['shape']}"
    assert got["dtype"] == want["dtype"], f"{where}: dtype {got['dtype']} vs {want['dtype']}"
    g = np.array([np.nan if v is None else float(v) for v in got["values"]])
    w = np.array([np.nan if v is None else float(v) for v in want["values"]])
    rtol = 2e-6 if want["dtype"] in ("float32", "bfloat16") else 1e-9
    atol = 1e-7 if want["dtype"] in ("float32", "bfloat16") else 1e-12  # float32 rounding of values near 0
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True, err_msg=where)


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_matches_pytorch(name):
    _compare(cases.CASES[name](rustdl), GOLDEN["cases"][name], name)


def test_every_case_is_recorded():
    assert sorted(GOLDEN["cases"]) == sorted(cases.CASES)


def test_cross_map_lrn2d_gradient_is_the_derivative_of_its_forward():
    x = rustdl.tensor(np.random.default_rng(124).standard_normal((1, 5, 2, 2)), requires_grad=True)
    assert rustdl.autograd.gradcheck(rustdl.nn.CrossMapLRN2d(3, 1e-2, 0.75, 1.0), (x,))


def test_anomaly_mode_names_the_function_that_produced_nan():
    x = rustdl.tensor([0.0, 1.0], requires_grad=True)
    with rustdl.autograd.set_detect_anomaly(True):
        y = (x.sqrt() * 0).sum()  # sqrt'(0) = inf, times the incoming 0: NaN
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output"):
            y.backward()
    assert not rustdl.is_anomaly_enabled()
    (x.sqrt() * 0).sum().backward()  # off again: the NaN reaches .grad silently, as in PyTorch
    assert np.isnan(x.grad.numpy()[0])


def test_detect_anomaly_scope_and_decorator():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        scope = rustdl.autograd.detect_anomaly()
    with scope:
        assert rustdl.is_anomaly_enabled() and rustdl.is_anomaly_check_nan_enabled()
    assert not rustdl.is_anomaly_enabled()
    with pytest.warns(UserWarning):
        decorated = rustdl.autograd.detect_anomaly(check_nan=False)(lambda: (rustdl.is_anomaly_enabled(),
                                                                              rustdl.is_anomaly_check_nan_enabled()))
    assert decorated() == (True, False)
    assert not rustdl.is_anomaly_enabled()
    rustdl.autograd.set_detect_anomaly(True)
    assert rustdl.is_anomaly_enabled()
    rustdl.autograd.set_detect_anomaly(False)
    assert not rustdl.is_anomaly_enabled()


def test_lazy_parameters_keep_their_identity_for_an_optimizer_made_before_the_first_forward():
    model = rustdl.nn.Sequential(rustdl.nn.LazyLinear(3), rustdl.nn.ReLU(), rustdl.nn.LazyLinear(2))
    optimizer = rustdl.optim.SGD(model.parameters(), lr=0.1)
    model(rustdl.randn(4, 5)).sum().backward()
    held = optimizer.param_groups[0]["params"]
    assert [tuple(p.shape) for p in held] == [(3, 5), (3,), (2, 3), (2,)]
    before = held[0].detach().clone()
    optimizer.step()
    assert not np.allclose(before.numpy(), held[0].detach().numpy())
    assert all(type(p) is rustdl.nn.Parameter for p in model.parameters())


def test_jit_script_runs_eagerly_and_shares_parameters():
    model = rustdl.nn.Sequential(rustdl.nn.Linear(3, 2), rustdl.nn.ReLU())
    scripted = rustdl.jit.script(model)
    assert isinstance(scripted, rustdl.jit.ScriptModule) and isinstance(scripted, rustdl.nn.Sequential)
    assert not isinstance(model, rustdl.jit.ScriptModule)
    x = rustdl.randn(4, 3)
    np.testing.assert_array_equal(scripted(x).detach().numpy(), model(x).detach().numpy())
    assert scripted[0].weight is model[0].weight
    with pytest.raises(NotImplementedError, match="state_dict"):
        scripted.save("/nonexistent/model.pt")

    @rustdl.jit.script
    def gelu_approx(t):
        return t * rustdl.sigmoid(1.702 * t)

    np.testing.assert_allclose(gelu_approx(x).numpy(), (x * rustdl.sigmoid(1.702 * x)).numpy())


def test_complex_linalg_says_what_is_missing():
    with pytest.raises(NotImplementedError, match="complex"):
        rustdl.linalg.eigvals(rustdl.eye(2))


def test_dlpack_shares_memory_both_ways():
    array = np.arange(6.0).reshape(2, 3)
    tensor = rustdl.from_dlpack(array)
    array[0, 0] = 9.0
    assert tensor[0, 0].item() == 9.0 and tensor.dtype == rustdl.float64
    transposed = rustdl.arange(6.0).reshape(2, 3).t()
    view = np.from_dlpack(transposed)
    np.testing.assert_array_equal(view, transposed.numpy())
    view[0, 1] = -1.0
    assert transposed[0, 1].item() == -1.0
    source = rustdl.ones(2)
    shared = rustdl.utils.dlpack.from_dlpack(rustdl.utils.dlpack.to_dlpack(source))
    shared[0] = 5.0
    assert source.tolist() == [5.0, 1.0]
    with pytest.raises(RuntimeError, match="require gradient"):
        np.from_dlpack(rustdl.ones(2, requires_grad=True))


def test_out_arguments_of_the_composed_functions():
    target = rustdl.empty(2, dtype=rustdl.int64)  # rustdl's out= is not resized (_out.write_out)
    assert rustdl.gcd(rustdl.tensor([12, 9]), rustdl.tensor([18, 6]), out=target) is target
    assert target.tolist() == [6, 3]
    exponent = rustdl.empty(1, dtype=rustdl.int32)
    mantissa = rustdl.empty(1)
    rustdl.frexp(rustdl.tensor([8.0]), out=(mantissa, exponent))
    assert mantissa.tolist() == [0.5] and exponent.tolist() == [4]
    inverse = rustdl.empty(2, 2, dtype=rustdl.float64)
    rustdl.linalg.pinv(rustdl.tensor([[2.0, 0.0], [0.0, 4.0]], dtype=rustdl.float64), out=inverse)
    np.testing.assert_allclose(inverse.numpy(), [[0.5, 0.0], [0.0, 0.25]])
    flags = rustdl.empty(2, dtype=rustdl.bool)
    rustdl.isposinf(rustdl.tensor([1.0, float("inf")]), out=flags)
    assert flags.tolist() == [False, True]
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        rustdl.special.i0(rustdl.ones(2), out=rustdl.zeros(2, requires_grad=True))
