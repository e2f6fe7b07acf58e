"""Record nn.utils parametrizations, functional_call and torch.func results in PyTorch (tests/nn_utils_cases.py) into
tests/golden/nn_utils.json. Run with PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_nn_utils.py
"""

import json
import sys
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import nn_utils_cases as cases


def main():
    warnings.simplefilter("ignore")
    out = {"recorded_with": f"torch {torch.__version__}",
           "scenarios": {name: fn(torch) for name, fn in cases.SCENARIOS.items()}}
    path = ROOT / "tests" / "golden" / "nn_utils.json"
    path.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {len(out['scenarios'])} scenarios to {path}")


if __name__ == "__main__":
    main()
