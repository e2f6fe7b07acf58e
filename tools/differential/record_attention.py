"""Record PyTorch's outputs and gradients for the attention cases in
tests/attention_cases.py into tests/golden/attention.json (inputs, module
parameters and output gradients included, so the test needs no PyTorch).

Run with an interpreter that has PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_attention.py
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import attention_cases as cases


def encode(a):
    """JSON-safe nested lists (inf/nan as strings)."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype == bool:
        return {"dtype": "bool", "shape": list(a.shape), "data": a.ravel().tolist()}
    digits = 9 if a.dtype == np.float32 else 17
    data = [float(f"{x:.{digits}g}") if np.isfinite(x) else repr(float(x)) for x in a.astype(np.float64).ravel().tolist()]
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": data}


def main():
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    rng = np.random.default_rng(2121)
    out = []
    for case in cases.CASES:
        arrays = cases.make_arrays(case, rng)
        state = None
        module = None
        if case["kind"] == "module":
            torch.manual_seed(len(out))
            module = cases.build_module(torch, case)
            # random (non-zero) biases too, so their gradients are checked
            with torch.no_grad():
                for p in module.parameters():
                    p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)) * 0.3, dtype=p.dtype))
            state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
        outs = _outputs(case, arrays, module)
        gouts = [rng.standard_normal(o.shape).astype(case["dtype"]) for o in outs]
        outs, grads = cases.run(torch, case, arrays, gouts, module)
        out.append({
            "name": case["name"],
            "arrays": {k: encode(v) for k, v in arrays.items()},
            "state": None if state is None else {k: encode(v) for k, v in state.items()},
            "grad_outputs": [encode(g) for g in gouts],
            "outputs": [encode(o) for o in outs],
            "grads": {k: encode(v) for k, v in grads.items()},
        })
    path = ROOT / "tests" / "golden" / "attention.json"
    path.write_text(json.dumps({"recorded_with": f"torch {torch.__version__}", "cases": out}))
    print(f"wrote {len(out)} cases to {path}")


def _outputs(case, arrays, module):
    """Output shapes: one forward whose loss is never used."""
    zeros = [np.zeros((), dtype=case["dtype"])] * 2
    outs, _ = cases.run(torch, case, arrays, zeros, module)
    return outs


if __name__ == "__main__":
    main()
