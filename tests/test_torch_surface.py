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
