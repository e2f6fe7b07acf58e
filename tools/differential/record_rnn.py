"""Record PyTorch's outputs, gradients and Hessian-vector products for the
recurrent-layer cases in tests/rnn_cases.py into tests/golden/rnn.json.

Run with an interpreter that has PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_rnn.py
"""

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import rnn_cases as cases


def main():
    torch.manual_seed(0)
    out = {
        "recorded_with": f"torch {torch.__version__}",
        "modules": {name: cases.run_module(torch, name) for name in cases.MODULES},
        "cells": {name: cases.run_cell(torch, name) for name in cases.CELLS},
        "hvp": {name: cases.hvp(torch, name) for name in cases.HVP},
    }
    path = ROOT / "tests" / "golden" / "rnn.json"
    path.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {len(out['modules'])} module, {len(out['cells'])} cell and {len(out['hvp'])} HVP cases to {path}")


if __name__ == "__main__":
    main()
