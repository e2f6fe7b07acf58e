"""Record what nn.Module hooks see in PyTorch (tests/module_hook_cases.py) into
tests/golden/module_hooks.json. Run with PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_module_hooks.py
"""

import json
import sys
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import module_hook_cases as cases


def main():
    warnings.simplefilter("ignore")
    out = {"recorded_with": f"torch {torch.__version__}",
           "scenarios": {name: fn(torch) for name, fn in cases.SCENARIOS.items()}}
    path = ROOT / "tests" / "golden" / "module_hooks.json"
    path.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {len(out['scenarios'])} scenarios to {path}")


if __name__ == "__main__":
    main()
