"""Composed torch functions, functional forms and layers against PyTorch-recorded values, dtypes,
shapes and gradients (tools/differential/record_more_ops.py)."""

import json
from pathlib import Path

import more_ops_cases as cases
import numpy as np
import pytest
import rustdl

GOLDEN = json.loads((Path(__file__).parent / "golden" / "more_ops.json").read_text())


def _compare(got, want, where):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _compare(g, w, f"{where}[{i}]")
        return
    if want is None:
        assert got is None, where
        return
    if "values" not in want:
        assert sorted(got) == sorted(want), where
        for k in want:
            _compare(got[k], want[k], f"{where}.{k}")
        return
    assert got["shape"] == want["shape"], f"{where}: shape {got['shape']} vs {want['shape']}"
    assert got["dtype"] == want["dtype"], f"{where}: dtype {got['dtype']} vs {want['dtype']}"
    g = np.array([np.nan if v is None else float(v) for v in got["values"]])
    w = np.array([np.nan if v is None else float(v) for v in want["values"]])
    np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-9, equal_nan=True, err_msg=where)


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_matches_pytorch(name):
    _compare(cases.CASES[name](rustdl), GOLDEN["cases"][name], name)
