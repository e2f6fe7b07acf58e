"""Record PyTorch on tests/more_ops_cases.py into tests/golden/more_ops.json.
Run with PyTorch (never CI):  /work/torchenv/bin/python tools/differential/record_more_ops.py
"""

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import more_ops_cases as cases


def main():
    out = {"recorded_with": f"torch {torch.__version__}", "cases": {n: f(torch) for n, f in cases.CASES.items()}}
    path = ROOT / "tests" / "golden" / "more_ops.json"
    path.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {len(out['cases'])} cases to {path}")


if __name__ == "__main__":
    main()
