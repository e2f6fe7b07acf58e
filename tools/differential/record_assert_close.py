"""Record torch.testing.assert_close's outcomes and messages for tests/assert_close_cases.py into
tests/golden/assert_close.json. Run with PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_assert_close.py
"""

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import assert_close_cases as cases


def main():
    out = {"recorded_with": f"torch {torch.__version__}", "outcomes": cases.run(torch)}
    path = ROOT / "tests" / "golden" / "assert_close.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(out['outcomes'])} outcomes to {path}")


if __name__ == "__main__":
    main()
