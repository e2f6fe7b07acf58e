"""Record whole-module checkpoint fixtures (``torch.save(model)``) for
tests/test_run_word_lm_apis.py (needs PyTorch). Run from the repository root:

    /work/torchenv/bin/python tools/differential/record_whole_modules.py

1. PyTorch -> rustdl: saves an ``nn.TransformerEncoderLayer`` and a 2-layer
   ``nn.LSTM`` whole into tests/golden/checkpoints/ and records their outputs on
   a fixed input (eval mode) in whole_modules.json.
2. rustdl -> PyTorch: has rustdl (``python3``, this repository's python/) save
   the same modules whole with its own random weights and its own outputs,
   loads them here with ``torch.load(weights_only=False)``, runs them and
   records PyTorch's largest difference from rustdl's outputs.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "checkpoints"

RUSTDL_WRITER = """
import json, sys
import rustdl as torch
torch.manual_seed(1)
layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0).eval()
lstm = torch.nn.LSTM(4, 4, 2).eval()
x = torch.linspace(-1, 1, 5 * 3 * 8).view(5, 3, 8)
h = torch.linspace(-1, 1, 5 * 3 * 4).view(5, 3, 4)
torch.save(layer, sys.argv[1] + "/layer.pt")
torch.save(lstm, sys.argv[1] + "/lstm.pt")
with torch.no_grad():
    out = {"layer": layer(x).flatten().tolist(), "lstm": lstm(h)[0].flatten().tolist()}
json.dump(out, open(sys.argv[1] + "/out.json", "w"))
"""


def outputs(layer, lstm):
    x = torch.linspace(-1, 1, 5 * 3 * 8).view(5, 3, 8)
    h = torch.linspace(-1, 1, 5 * 3 * 4).view(5, 3, 4)
    with torch.no_grad():
        return {"layer": layer(x).flatten().tolist(), "lstm": lstm(h)[0].flatten().tolist()}


def main():
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0).eval()
    lstm = torch.nn.LSTM(4, 4, 2).eval()
    torch.save(layer, OUT / "whole_encoder_layer.pt")
    torch.save(lstm, OUT / "whole_lstm.pt")
    record = {"pytorch_outputs": outputs(layer, lstm)}

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
        subprocess.run(["python3", "-c", RUSTDL_WRITER, tmp], env=env, check=True)
        theirs = json.loads(Path(f"{tmp}/out.json").read_text())
        loaded_layer = torch.load(f"{tmp}/layer.pt", weights_only=False)
        loaded_lstm = torch.load(f"{tmp}/lstm.pt", weights_only=False)
        ours = outputs(loaded_layer, loaded_lstm)
        record["pytorch_reads_rustdl"] = {
            "classes": [type(loaded_layer).__name__, type(loaded_layer.self_attn).__name__,
                        type(loaded_layer.self_attn.out_proj).__name__, type(loaded_lstm).__name__],
            "max_abs_diff": {k: max(abs(a - b) for a, b in zip(ours[k], theirs[k])) for k in ours},
        }
    (OUT / "whole_modules.json").write_text(json.dumps(record, indent=1) + "\n")
    diffs = record["pytorch_reads_rustdl"]["max_abs_diff"]
    print(record["pytorch_reads_rustdl"])
    sys.exit(0 if max(diffs.values()) < 1e-5 else 1)


if __name__ == "__main__":
    main()
