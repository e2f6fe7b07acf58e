"""torch.autograd.functional against results recorded from PyTorch
(tests/golden/autograd_functional.json, recorded by
tools/differential/record_functional.py from tests/autograd_functional_cases.py):
result structure (tuple vs tensor), shapes, dtypes, values, requires_grad,
create_graph's graph (gradient of the result's sum), strict-mode errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import autograd_functional_cases as cases
import numpy as np
import pytest
import rustdl as torch
from rustdl.autograd import functional as AF

GOLDEN = json.loads((Path(__file__).parent / "golden" / "autograd_functional.json").read_text())["cases"]


def compare(got, want, what):
    if "tuple" in want:
        assert "tuple" in got, (what, "expected a tuple", got.keys())
        assert len(got["tuple"]) == len(want["tuple"]), what
        for g, w in zip(got["tuple"], want["tuple"]):
            compare(g, w, what)
        return
    assert "tuple" not in got, (what, "expected a single tensor")
    assert got["shape"] == want["shape"], (what, got["shape"], want["shape"])
    assert got["dtype"] == want["dtype"], (what, got["dtype"], want["dtype"])
    assert got["requires_grad"] == want["requires_grad"], (what, "requires_grad")
    np.testing.assert_allclose(got["values"], want["values"], rtol=1e-10, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("case", cases.CASES, ids=[c[0] for c in cases.CASES])
def test_matches_pytorch(case):
    want = GOLDEN[case[0]]
    got = cases.run(torch, case)
    if "error" in want:
        assert got.get("error") == want["error"], (got, want)
        assert got["message"].replace("rustdl.", "torch.") == want["message"]
        return
    assert "error" not in got, got
    compare(got["result"], want["result"], case[0])
    assert got.get("n_requiring_grad") == want.get("n_requiring_grad")
    if "grad_of_sum" in want:
        compare(got["grad_of_sum"], want["grad_of_sum"], case[0] + " (grad of sum)")


def test_every_case_recorded():
    assert sorted(GOLDEN) == sorted(c[0] for c in cases.CASES)


def test_functional_hessian_of_known_functions():
    x = torch.tensor([1.0, -2.0], dtype=torch.float64)
    h = AF.hessian(lambda x: x[0] ** 2 - x[1] ** 2 + 3 * x[0] * x[1], x)
    np.testing.assert_allclose(h.numpy(), [[2.0, 3.0], [3.0, -2.0]])
    w = (torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    (h11, h12), (h21, h22) = AF.hessian(lambda a, b: ((1 - a * b) ** 2).sum(), w)
    np.testing.assert_allclose([h11.item(), h12.item(), h21.item(), h22.item()], [0.0, -2.0, -2.0, 0.0])


def test_inputs_are_not_modified_and_user_graph_is_reached():
    x = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
    _, g = AF.vjp(lambda t: (t ** 3).sum(), x, create_graph=True)
    assert x.grad is None
    (g.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([0.5, 1.5]))


def test_torch_alias_exposes_functional(tmp_path):
    script = tmp_path / "use_functional.py"
    script.write_text(
        "import torch\n"
        "import torch.autograd.functional as AF\n"
        "from torch.autograd.functional import hessian\n"
        "assert AF is torch.autograd.functional and hessian is AF.hessian\n"
        "print(hessian(lambda x: (x ** 2).sum(), torch.ones(2)).tolist())\n"
    )
    # the rustdl this test imports (installed, or the source tree in development)
    env = {"PYTHONPATH": os.path.dirname(os.path.dirname(torch.__file__)), "RUST_BACKTRACE": "0", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "rustdl", str(script)], check=False, capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[[2.0, 0.0], [0.0, 2.0]]"
