"""rustdl.testing.assert_close gives PyTorch's verdicts and messages (tests/golden/assert_close.json)."""

import json
from pathlib import Path

import assert_close_cases as cases
import pytest
import rustdl

GOLDEN = json.loads((Path(__file__).parent / "golden" / "assert_close.json").read_text())["outcomes"]


@pytest.mark.parametrize("i", range(len(GOLDEN)))
def test_outcome_and_message_match_pytorch(i):
    assert cases.run(rustdl)[i] == GOLDEN[i]


def test_tolerances_must_come_together():
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol' must be either specified or omitted"):
        rustdl.testing.assert_close(rustdl.ones(1), rustdl.ones(1), rtol=0.1)
