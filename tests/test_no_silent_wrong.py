"""Issue 19: no crash crosses into Python, no silently wrong answer.

Each case here was found by differential testing against PyTorch; the
expected values are PyTorch's (recorded with PyTorch 2.15)."""

import math
import subprocess
import sys

import pytest
import rustdl as torch
import rustdl.nn.functional as F
from rustdl import _C

nan = math.nan
inf = math.inf


def close(t, expected, atol=1e-6):
    got = t.tolist()
    assert len(got) == len(expected), (got, expected)
    for g, e in zip(got, expected):
        if math.isnan(e):
            assert math.isnan(g), (got, expected)
        else:
            assert g == pytest.approx(e, abs=atol), (got, expected)


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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "can't allocate memory: you tried to allocate 52776558133248 bytes" in out.stdout
