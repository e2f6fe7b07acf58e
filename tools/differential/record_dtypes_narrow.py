"""Record what PyTorch returns or raises for every case in
tests/dtypes_narrow_cases.py into tests/golden/dtypes_narrow.json.

Run with an interpreter that has PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_dtypes_narrow.py
"""

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import dtypes_narrow_cases as cases


def main():
    out = {
        "recorded_with": f"torch {torch.__version__}",
        "cases": {name: cases.encode(cases.run(code, torch, F)) for name, code in cases.CASES},
    }
    path = ROOT / "tests" / "golden" / "dtypes_narrow.json"
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(out['cases'])} cases to {path}")


if __name__ == "__main__":
    main()
