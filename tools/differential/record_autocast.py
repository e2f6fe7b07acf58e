"""Records what PyTorch returns under CPU autocast (result dtypes per op, for
float32 and bfloat16 inputs, autocast to bfloat16 and float16) and a few
bfloat16 matmul / linear / addmm values, into tests/golden/autocast.json.

Run with PyTorch: /work/torchenv/bin/python tools/differential/record_autocast.py
The cases are shared with tests/test_autocast.py (tests/autocast_cases.py)."""

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import autocast_cases


def main():
    dtypes = {}
    for name, expr in autocast_cases.OPS.items():
        row = {}
        for tag in ("f32", "bf16"):
            for target in ("bf16", "f16"):
                env = autocast_cases.inputs(torch, tag)
                env["F"] = F
                try:
                    with torch.autocast("cpu", dtype=torch.bfloat16 if target == "bf16" else torch.float16):
                        out = eval(expr, env)
                    row[f"{tag}/{target}"] = str(out.dtype).replace("torch.", "")
                except Exception as e:  # noqa: BLE001
                    row[f"{tag}/{target}"] = "error:" + type(e).__name__
        dtypes[name] = row
    values = {}
    for name, (expr, args) in autocast_cases.BF16_VALUES.items():
        env = {"torch": torch, "F": F}
        ts = [torch.tensor(a, dtype=torch.bfloat16) for a in autocast_cases.bf16_args(args)]
        out = eval(expr, env)(*ts)
        values[name] = {"out": out.float().tolist(), "dtype": str(out.dtype).replace("torch.", "")}
    path = ROOT / "tests" / "golden" / "autocast.json"
    path.write_text(json.dumps({"torch": torch.__version__, "dtypes": dtypes, "bf16_values": values}, indent=1))
    print("wrote", path, len(dtypes), "ops,", len(values), "value cases")


if __name__ == "__main__":
    main()
