"""Record PyTorch's F.interpolate outputs and gradients for tests/interpolate_cases.py into
tests/golden/interpolate.json. Run with an interpreter that has PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_interpolate.py
"""

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import interpolate_cases as cases


def main():
    out = {"recorded_with": f"torch {torch.__version__}",
           "cases": {name: cases.run(torch, name) for name in cases.CASES}}
    errors = []
    for shape, kwargs, cls, fragment in cases.ERRORS:
        try:
            torch.nn.functional.interpolate(torch.zeros(*shape), **kwargs)
            errors.append(None)
        except Exception as e:  # noqa: BLE001 - recording whatever PyTorch raises
            assert type(e).__name__ == cls and fragment in str(e), (type(e).__name__, str(e))
            errors.append([type(e).__name__, str(e)])
    out["errors"] = errors
    path = ROOT / "tests" / "golden" / "interpolate.json"
    path.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {len(out['cases'])} cases to {path}")


if __name__ == "__main__":
    main()
