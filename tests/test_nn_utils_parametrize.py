"""nn.utils parametrizations (weight/spectral norm in both forms), functional_call, conv/bn fusion,
gradient-norm helpers and torch.func transforms against PyTorch (tests/golden/nn_utils.json)."""

import json
from pathlib import Path

import nn_utils_cases as cases
import numpy as np
import pytest
import rustdl

GOLDEN = json.loads((Path(__file__).parent / "golden" / "nn_utils.json").read_text())


def _same(got, want, path="result"):
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), path
        for k in want:
            _same(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list) and want and all(isinstance(w, (int, float)) and not isinstance(w, bool)
                                                 for w in np.ravel(np.array(want, dtype=object))):
        np.testing.assert_allclose(np.array(got, dtype=np.float64), np.array(want, dtype=np.float64), rtol=1e-5,
                                   atol=1e-5, err_msg=path)
    elif isinstance(want, list):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), (path, got, want)
        for i, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-5), path
    else:
        assert got == want, (path, got, want)


@pytest.mark.parametrize("name", sorted(cases.SCENARIOS))
def test_results_match_pytorch(name):
    got = json.loads(json.dumps(cases.SCENARIOS[name](rustdl)))
    _same(got, GOLDEN["scenarios"][name])


def test_parametrization_that_changes_the_shape_needs_unsafe():
    P = rustdl.nn.utils.parametrize

    class Flat(rustdl.nn.Module):
        def forward(self, x):
            return x.flatten()

    m = rustdl.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="may not change the shape of the tensor"):
        P.register_parametrization(m, "weight", Flat())
    assert not P.is_parametrized(m) and type(m) is rustdl.nn.Linear
    P.register_parametrization(m, "weight", Flat(), unsafe=True)
    assert tuple(m.weight.shape) == (6,)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        P.register_parametrization(m, "nothing", Flat())
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert type(m) is rustdl.nn.Linear and tuple(m.weight.shape) == (2, 3)


def test_skip_init_and_errors():
    m = rustdl.nn.utils.skip_init(rustdl.nn.Linear, 3, 4)
    assert tuple(m.weight.shape) == (4, 3) and m.weight.device.type == "cpu"
    with pytest.raises(RuntimeError, match="Module must support a 'device' arg"):
        rustdl.nn.utils.skip_init(lambda n: rustdl.nn.Linear(n, n), 3)
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        rustdl.nn.utils.spectral_norm(rustdl.nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(RuntimeError, match="Error\\(s\\) in reparametrizing"):
        rustdl.func.functional_call(rustdl.nn.Linear(2, 2), {"nope": rustdl.ones(1)}, (rustdl.ones(2),), strict=True)
