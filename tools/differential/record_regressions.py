"""Record what PyTorch returns or raises for every case in
tests/regression_cases.py into tests/golden/regressions.json.

Run with an interpreter that has PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_regressions.py
"""

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import regression_cases


def main():
    out = {
        "recorded_with": f"torch {torch.__version__}",
        "cases": {name: regression_cases.encode(regression_cases.run(code, torch, F))
                  for name, code in regression_cases.CASES},
    }
    path = ROOT / "tests" / "golden" / "regressions.json"
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(out['cases'])} cases to {path}")


if __name__ == "__main__":
    main()
