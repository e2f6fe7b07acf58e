"""lgamma, digamma, polygamma, erfc and torch.special against values, gradients and second
derivatives recorded from PyTorch (tools/differential/record_special.py), edges included."""

import json
from pathlib import Path

import numpy as np
import pytest
import rustdl
import special_cases as cases

GOLDEN = json.loads((Path(__file__).parent / "golden" / "special.json").read_text())


def _close(got, want, rtol, key):
    g = np.array([np.nan if v is None else v for v in got], dtype=np.float64)
    w = np.array([np.nan if v is None else v for v in want], dtype=np.float64)
    np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, equal_nan=True, err_msg=key)


@pytest.mark.parametrize("name", sorted(cases.UNARY))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_matches_pytorch(name, dtype):
    got = cases.run_unary(rustdl, name, getattr(np, dtype))
    want = GOLDEN["unary"][f"{name}_{dtype}"]
    assert got["dtype"] == want["dtype"]
    rtol = 2e-5 if dtype == "float32" else 1e-10
    for key in ("y", "grad", "grad2"):
        if key in want:
            # sinc's second derivative near 0 is cancellation in float32 (-pi^2/3 = -3.29 at 0;
            # PyTorch's own float32 value at -1e-3 is -3.25): compared loosely there
            loose = name == "sinc" and key == "grad2" and dtype == "float32"
            _close(got[key], want[key], 3e-2 if loose else rtol, f"{name} {dtype} {key}")


@pytest.mark.parametrize("name", sorted(cases.BINARY))
def test_xlogy_family_matches_pytorch(name):
    got, want = cases.run_binary(rustdl, name), GOLDEN["binary"][name]
    for key in want:
        _close(got[key], want[key], 1e-12, f"{name} {key}")


def test_errors_and_in_place_forms():
    with pytest.raises(RuntimeError, match="All elements must be greater than"):
        rustdl.special.multigammaln(rustdl.tensor([0.5]), 3)
    with pytest.raises(RuntimeError, match="does not support negative n"):
        rustdl.polygamma(-1, rustdl.ones(2))
    x = rustdl.tensor([1.5, 2.5])
    x.lgamma_()
    assert x.tolist() == pytest.approx([-0.12078223763524522, 0.2846828704729192], rel=1e-6)
