"""Record what torch.autograd.functional returns or raises for the cases in
tests/autograd_functional_cases.py into tests/golden/autograd_functional.json.

Run with an interpreter that has PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_functional.py
"""

import json
import sys
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import autograd_functional_cases as cases


def main():
    warnings.simplefilter("ignore")
    results = {case[0]: cases.run(torch, case) for case in cases.CASES}
    out = {"recorded_with": f"torch {torch.__version__}", "cases": results}
    path = ROOT / "tests" / "golden" / "autograd_functional.json"
    path.write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")
    errors = sum("error" in r for r in results.values())
    print(f"wrote {len(results)} cases ({errors} errors) to {path}")


if __name__ == "__main__":
    main()
