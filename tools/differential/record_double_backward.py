"""Record PyTorch's gradients and Hessian-vector products (and a few full
Hessians) for the cases in tests/double_backward_cases.py into
tests/golden/double_backward_elementwise.json.

Run with an interpreter that has PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_double_backward.py
"""

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import double_backward_cases as cases


def main():
    hvp = {}
    for name, (expr, data) in cases.CASES.items():
        g, h = cases.grad_and_hvp(torch, expr, data)
        hvp[name] = {"grad": g, "hvp": h}
    hessians = {name: cases.hessian(torch, expr, data) for name, (expr, data) in cases.HESSIANS.items()}
    out = {"recorded_with": f"torch {torch.__version__}", "hvp": hvp, "hessians": hessians}
    path = ROOT / "tests" / "golden" / "double_backward_elementwise.json"
    path.write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")
    print(f"wrote {len(hvp)} Hessian-vector products and {len(hessians)} Hessians to {path}")


if __name__ == "__main__":
    main()
