"""Record PyTorch on tests/torch_surface_cases.py into tests/golden/torch_surface.json.
Run with PyTorch (never CI):  /work/torchenv/bin/python tools/differential/record_torch_surface.py
"""

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import torch_surface_cases as cases


def main():
    torch.manual_seed(0)
    recorded = {name: fn(torch) for name, fn in cases.CASES.items()}
    out = {"recorded_with": f"torch {torch.__version__}", "cases": recorded}
    path = ROOT / "tests" / "golden" / "torch_surface.json"
    path.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {len(recorded)} cases to {path}")


if __name__ == "__main__":
    main()
