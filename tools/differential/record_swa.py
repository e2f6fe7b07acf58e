"""Record PyTorch's torch.optim.swa_utils on tests/swa_cases.py into tests/golden/swa.json.
Run with PyTorch (never CI):  /work/torchenv/bin/python tools/differential/record_swa.py
"""

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import swa_cases as cases


def main():
    out = {"recorded_with": f"torch {torch.__version__}",
           "averaged": {k: cases.averaged(torch, k) for k in ("swa", "ema", "ema_single", "swa_buffers")},
           "swalr": {f"{s}_{n}": cases.swalr(torch, s, n) for s in ("cos", "linear") for n in (0, 1, 3)},
           "update_bn": cases.update_bn(torch)}
    path = ROOT / "tests" / "golden" / "swa.json"
    path.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
