"""Record what PyTorch returns, differentiates to or raises for the
torch.linalg cases in tests/linalg_cases.py into tests/golden/linalg.json.

Run with an interpreter that has PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_linalg.py
"""

import json
import sys
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import linalg_cases as cases


def main():
    warnings.simplefilter("ignore")
    values = {}
    for expr in cases.VALUE_CASES:
        values[expr] = cases.flatten(eval(expr, cases.env(torch)))
    grads = {}
    for expr, names in cases.GRAD_CASES:
        names_env = cases.env(torch, requires_grad=names)
        loss = eval(expr, names_env)
        gs = torch.autograd.grad(loss, [names_env[n] for n in names])
        grads[expr] = cases.flatten(gs)
    errors = {}
    for expr in cases.ERROR_CASES:
        try:
            eval(expr, cases.env(torch))
        except Exception as e:  # noqa: BLE001
            errors[expr] = cases.error_of(e)
        else:
            raise SystemExit(f"expected an error from {expr}")
    out = {"recorded_with": f"torch {torch.__version__}", "values": values, "grads": grads, "errors": errors}
    path = ROOT / "tests" / "golden" / "linalg.json"
    path.write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")
    print(f"wrote {len(values)} value, {len(grads)} gradient and {len(errors)} error cases to {path}")


if __name__ == "__main__":
    main()
