"""Issue 19: no crash crosses into Python, no silently wrong answer.

The regression cases (tests/regression_cases.py) were found by differential
testing against PyTorch; what PyTorch returned or raised for each is recorded
in tests/golden/regressions.json, and every case must give the same here:
the same exception type, or the same dtype, shape and values."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import regression_cases
import rustdl
import rustdl.nn.functional as F
from rustdl import _C

RECORDED = json.loads((Path(__file__).parent / "golden" / "regressions.json").read_text())["cases"]


def same(got, want, path="r"):
    """Assert two `regression_cases.encode` results agree."""
    assert got.keys() == want.keys(), f"{path}: got {got}, PyTorch gave {want}"
    if "tensor" in want:
        assert (got["dtype"], got["shape"]) == (want["dtype"], want["shape"]), f"{path}: {got} vs {want}"
        close(got["tensor"], want["tensor"], want["dtype"], path)
    elif "seq" in want:
        assert len(got["seq"]) == len(want["seq"]), f"{path}: {got} vs {want}"
        for i, (g, w) in enumerate(zip(got["seq"], want["seq"])):
            same(g, w, f"{path}[{i}]")
    else:
        assert got == want, f"{path}: got {got}, PyTorch gave {want}"


def close(got, want, dtype, path):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {got} vs {want}"
        for g, w in zip(got, want):
            close(g, w, dtype, path)
        return
    if isinstance(want, str) or isinstance(got, str):  # nan / inf
        assert got == want, f"{path}: {got} vs {want}"
    elif dtype.startswith("float"):
        assert math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-6), f"{path}: {got} vs {want}"
    else:
        assert got == want, f"{path}: {got} vs {want}"


@pytest.mark.parametrize("name,code", regression_cases.CASES, ids=[c[0] for c in regression_cases.CASES])
def test_agrees_with_pytorch(name, code):
    got = regression_cases.encode(regression_cases.run(code, rustdl, F))
    same(got, RECORDED[name])


def test_every_case_is_recorded():
    assert {n for n, _ in regression_cases.CASES} == set(RECORDED)


def test_case_names_are_unique():
    # The recording is keyed by name: a repeated name keeps only one case.
    names = [n for n, _ in regression_cases.CASES]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


# ----------------------------------------------------------------- panics
def test_a_panic_is_a_runtime_error_naming_the_binding():
    with pytest.raises(RuntimeError, match=r"internal error in _panic_for_test: boom"):
        _C._panic_for_test("boom")
    # caught by `except Exception`, and the interpreter goes on
    try:
        _C._panic_for_test("again")
    except Exception as e:  # noqa: BLE001
        assert "again" in str(e)


def test_an_allocation_that_cannot_be_satisfied_raises():
    code = (
        "import rustdl as torch\n"
        "try:\n"
        "    torch.empty(2**10, 3, 2**16, 2**16)\n"
        "except RuntimeError as e:\n"
        "    print('raised', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "can't allocate memory: you tried to allocate 52776558133248 bytes" in out.stdout
