"""One side of the differential test: reads cases on stdin, runs them with
one library (``--lib rustdl`` or ``--lib torch``), writes results on stdout.

Messages are length-prefixed pickles: ``(mode, case, grad_outputs)`` in (mode
``run``, or ``ref``: run with float32 inputs promoted to float64; ``jitter``: run
with huge inputs moved by a few ulps, see ``jitter_huge``; ``numgrad``: finite-
difference gradients, see ``execute.numerical_grads``), the dict of
``execute.run_case`` out. ``run.py`` starts one worker per library so that a
crash or hang on either side costs only that process (PyTorch has memory bugs
of its own). Anything the library prints goes to stderr (stdout is the channel).
"""

import argparse
import copy
import math
import os
import pickle
import struct
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from execute import numerical_grads, run_case

HEADROOM = 3 << 30  # address space the worker may add (bytes): huge requests fail instead of swapping


def limit_address_space(headroom=HEADROOM):
    """Cap this process's address space at its current size plus ``headroom``."""
    import resource
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + headroom, resource.getrlimit(resource.RLIMIT_AS)[1]))


def promote_float32(value):
    """A copy of an encoded value with float32 tensors made float64, holding
    the float32 values (rounded first: ``0.07`` is the float32 nearest it,
    as in the float32 run, not the float64 one, whose sign against a mean
    can differ)."""
    if isinstance(value, list):
        return [promote_float32(v) for v in value]
    if isinstance(value, dict):
        if "T" in value:
            spec = dict(value["T"])
            if spec["dtype"] == "float32":
                spec["dtype"] = "float64"
                spec["values"] = [float(np.float32(v)) if isinstance(v, float) else v for v in spec["values"]]
            return {"T": spec}
        return {k: promote_float32(v) for k, v in value.items()}
    return value


# cycled relative steps (in ulps) for `jitter_huge`
JITTER_ULPS = (3, -2, 1, -4, 2, -1, 4, -3)
EPS = {"float32": 2.0**-23, "float64": 2.0**-52}


def jitter_huge(value):
    """A copy of an encoded value whose finite float tensor elements with
    |x| >= 1e30 are moved by a few ulps (``run.py``'s ill-conditioning check:
    an answer that moves that much with them is not determined by them)."""
    if isinstance(value, list):
        return [jitter_huge(v) for v in value]
    if isinstance(value, dict):
        if "T" in value:
            spec = dict(value["T"])
            if spec["dtype"] in EPS:
                eps = EPS[spec["dtype"]]
                spec["values"] = [v * (1 + JITTER_ULPS[j % len(JITTER_ULPS)] * eps)
                                  if isinstance(v, float) and math.isfinite(v) and abs(v) >= 1e30 else v
                                  for j, v in enumerate(spec["values"])]
            return {"T": spec}
        return {k: jitter_huge(v) for k, v in value.items()}
    return value


def read_exact(f, n):
    data = b""
    while len(data) < n:
        chunk = f.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def load(lib_name):
    if lib_name == "torch":
        import torch
        import torch.nn.functional
        torch.set_num_threads(1)
        torch.manual_seed(0)
        return torch
    import rustdl
    import rustdl.nn.functional
    return rustdl


def serve(lib):
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to stderr
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    channel.write(b"READY\n")
    channel.flush()
    while True:
        header = read_exact(stdin, 8)
        if header is None:
            return
        (n,) = struct.unpack("<Q", header)
        mode, case, grad_outputs = pickle.loads(read_exact(stdin, n))
        if mode in ("ref", "jitter"):
            change = promote_float32 if mode == "ref" else jitter_huge
            case = copy.deepcopy(case)
            case["args"] = change(case["args"])
            case["kwargs"] = change(case["kwargs"])
        try:
            if mode == "numgrad":
                out = {"numgrad": numerical_grads(lib, case, grad_outputs)}
            else:
                out = run_case(lib, case, grad_outputs)
        except BaseException as e:  # noqa: BLE001 -- keep serving
            out = {"exception": {"type": type(e).__name__, "module": type(e).__module__, "bases": [],
                                 "message": f"(worker) {e}"}}
        try:
            payload = pickle.dumps(out)
        except Exception as e:  # noqa: BLE001
            payload = pickle.dumps({"exception": {"type": "PicklingError", "module": "worker", "bases": [],
                                                  "message": str(e)}})
        channel.write(struct.pack("<Q", len(payload)) + payload)
        channel.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", choices=["torch", "rustdl"], required=True)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    lib = load(args.lib)
    limit_address_space()
    serve(lib)


if __name__ == "__main__":
    main()
