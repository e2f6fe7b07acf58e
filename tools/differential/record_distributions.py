"""Record PyTorch's torch.distributions on tests/distributions_cases.py into
tests/golden/distributions.json. Run with PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_distributions.py
"""

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import distributions_cases as cases


def main():
    torch.manual_seed(0)
    out = {"recorded_with": f"torch {torch.__version__}",
           "cases": {name: cases.run(torch, name) for name in cases.CASES},
           "kl": {f"{p}|{q}": cases.run_kl(torch, p, q) for p, q in cases.KL_PAIRS},
           "transforms": {name: cases.run_transform(torch, name) for name in cases.TRANSFORMS},
           "reprs": cases.run_reprs(torch),
           "expand": {name: cases.run_expand(torch, name) for name in cases.EXPANDS}}
    path = ROOT / "tests" / "golden" / "distributions.json"
    path.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {len(out['cases'])} cases and {len(out['kl'])} KL pairs to {path}")


if __name__ == "__main__":
    main()
