"""Record PyTorch's special functions (tests/special_cases.py) into tests/golden/special.json.
Run with PyTorch (never CI):  /work/torchenv/bin/python tools/differential/record_special.py
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import special_cases as cases


def main():
    out = {"recorded_with": f"torch {torch.__version__}",
           "unary": {f"{name}_{dt}": cases.run_unary(torch, name, getattr(np, dt))
                     for name in cases.UNARY for dt in ("float32", "float64")},
           "binary": {name: cases.run_binary(torch, name) for name in cases.BINARY}}
    path = ROOT / "tests" / "golden" / "special.json"
    path.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {len(out['unary'])} unary and {len(out['binary'])} binary cases to {path}")


if __name__ == "__main__":
    main()
