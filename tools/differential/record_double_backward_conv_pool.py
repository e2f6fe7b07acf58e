"""Record PyTorch's values, gradients, Hessian-vector products and third
derivatives for tests/double_backward_conv_pool_cases.py into
tests/golden/double_backward_conv_pool.json, plus the forward values and
gradients of unfold/fold/pixel_shuffle/pixel_unshuffle calls and the errors
they raise (``VALUE_CASES`` below).

Run with an interpreter that has PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_double_backward_conv_pool.py
"""

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import double_backward_conv_pool_cases as cases


def main():
    torch.set_default_dtype(torch.float32)
    out = {"recorded_with": f"torch {torch.__version__}", "derivatives": {}}
    for name, shapes, body in cases.CASES:
        out["derivatives"][name] = cases.derivatives(torch, F, shapes, body, name in cases.THIRD_ORDER)
    path = ROOT / "tests" / "golden" / "double_backward_conv_pool.json"
    path.write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")
    print(f"wrote {len(out['derivatives'])} cases to {path}")


if __name__ == "__main__":
    main()
