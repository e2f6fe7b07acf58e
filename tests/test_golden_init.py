"""Golden `init` family: exact bounds/stds/fans/gains of nn.init and the default
initialisation of nn modules, checked against PyTorch's values.

Draws are random, so sample statistics are checked loosely, as the fixture README
says: a bound is never exceeded, and the std agrees to a few percent over enough
draws (we draw repeatedly until at least 40,000 values).
"""

import math

import golden_harness as gh
import numpy as np
import pytest
import rustdl as torch

MIN_SAMPLES = 40_000


def _out(case, arrays, name):
    key = next(o["key"] for o in case["outputs"] if o["name"] == name)
    return arrays[key]


def _draws(make, values_of):
    """Repeat `make()` until MIN_SAMPLES values were drawn; returns one flat array."""
    chunks, n = [], 0
    while n < MIN_SAMPLES:
        v = values_of(make())
        chunks.append(v)
        n += v.size
    return np.concatenate(chunks)


def _params(m):
    return np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])


@pytest.mark.parametrize("case_id", gh.golden_params("init"))
def test_init(case_id):
    case = gh.get_case("init", case_id)
    arrays = gh.load_arrays("init")
    names = {o["name"] for o in case["outputs"]}
    ns = {"torch": torch}
    call = case["call"]

    if "gain" in names:
        assert eval(call, ns) == pytest.approx(float(_out(case, arrays, "gain")), rel=1e-12)
        return

    if call.startswith("torch.nn.init."):
        t = eval(call, ns)
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(t)
        assert fan_in == int(_out(case, arrays, "fan_in"))
        assert fan_out == int(_out(case, arrays, "fan_out"))
        v = _draws(lambda: eval(call, ns), lambda t: t.numpy().ravel())
        if "bound" in names:
            bound = float(_out(case, arrays, "bound"))
            assert np.abs(v).max() <= bound * (1 + 1e-6)
            assert v.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
        else:
            std = float(_out(case, arrays, "std"))
            assert v.std() == pytest.approx(std, rel=0.03)
        assert abs(v.mean()) < 0.05 * (v.std() + 1e-12) + 3 * v.std() / math.sqrt(v.size)
        return

    # default initialisation of a module
    m = eval(call, ns)
    if "weight_value" in names:
        assert np.allclose(m.weight.detach().numpy(), float(_out(case, arrays, "weight_value")))
        assert np.allclose(m.bias.detach().numpy(), float(_out(case, arrays, "bias_value")))
        return
    if "weight_std" in names:
        v = _draws(lambda: eval(call, ns), _params)
        assert v.std() == pytest.approx(float(_out(case, arrays, "weight_std")), rel=0.03)
        return
    if "weight_bound" in names:
        assert tuple(m.weight.shape) == tuple(int(s) for s in _out(case, arrays, "weight_shape"))
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(m.weight)
        assert fan_in == int(_out(case, arrays, "fan_in"))
        wb, bb = float(_out(case, arrays, "weight_bound")), float(_out(case, arrays, "bias_bound"))
        w = _draws(lambda: eval(call, ns), lambda m: m.weight.detach().numpy().ravel())
        b = _draws(lambda: eval(call, ns), lambda m: m.bias.detach().numpy().ravel())
        assert np.abs(w).max() <= wb * (1 + 1e-6)
        assert np.abs(b).max() <= bb * (1 + 1e-6)
        assert w.std() == pytest.approx(wb / math.sqrt(3), rel=0.03)
        assert b.std() == pytest.approx(bb / math.sqrt(3), rel=0.05)
        return
    if "bound" in names:  # recurrent modules: every parameter U(-1/sqrt(hidden), 1/sqrt(hidden))
        bound = float(_out(case, arrays, "bound"))
        v = _draws(lambda: eval(call, ns), _params)
        assert np.abs(v).max() <= bound * (1 + 1e-6)
        assert v.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
        return
    pytest.fail(f"unhandled init case outputs {sorted(names)}")
