"""Record PyTorch's packed-sequence utilities, recurrent layers on packed input and LSTM proj_size
(tests/packed_sequence_cases.py) into tests/golden/packed_sequence.json. Run with PyTorch (never CI):
    /work/torchenv/bin/python tools/differential/record_packed_sequence.py
"""

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import packed_sequence_cases as cases


def main():
    out = {"recorded_with": f"torch {torch.__version__}", "utils": cases.run_utils(torch),
           "rnn": {name: cases.run_rnn(torch, name) for name in cases.RNN_CASES},
           "proj": {name: cases.run_proj(torch, name) for name in cases.PROJ_CASES}}
    path = ROOT / "tests" / "golden" / "packed_sequence.json"
    path.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {len(out['rnn'])} layer cases to {path}")


if __name__ == "__main__":
    main()
