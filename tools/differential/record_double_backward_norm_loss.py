"""Record PyTorch's Hessian-vector products for the cases in
tests/double_backward_norm_loss_cases.py into tests/golden/double_backward_norm_loss.json.

Run with an interpreter that has PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_double_backward_norm_loss.py
"""

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import double_backward_norm_loss_cases as cases


def main():
    out = {"recorded_with": f"torch {torch.__version__}",
           "cases": {name: cases.hvp(torch, F, name) for name in cases.CASES}}
    path = ROOT / "tests" / "golden" / "double_backward_norm_loss.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(out['cases'])} cases to {path}")


if __name__ == "__main__":
    main()
