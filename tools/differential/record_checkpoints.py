"""Record the PyTorch checkpoint fixtures of tests/test_torch_checkpoints.py (needs PyTorch).

Run from the repository root with PyTorch's interpreter:

    /work/torchenv/bin/python tools/differential/record_checkpoints.py

1. PyTorch -> rustdl: writes small checkpoints with ``torch.save`` into
   tests/golden/checkpoints/ (zip and legacy formats, shared views, many dtypes and nested
   containers, a whole nn.Linear, pickles that would run code) and, in expected.json, a
   description of each object (tests/checkpoint_describe.py), the output of the saved
   model on a fixed input, and the exact error ``torch.load(weights_only=True)`` raises
   for each file it refuses (checking that nothing ran).
2. rustdl -> PyTorch: runs this script under rustdl's interpreter (``python3``,
   ``--rustdl-write``) to save objects with ``rustdl.save``, then loads every such file
   here with ``torch.load(weights_only=True)`` (and ``mmap=True`` for zip files) and
   compares PyTorch's view of it with rustdl's (values, dtypes, strides, which tensors
   share a storage). The result goes to pytorch_reads_rustdl.json, and one of the files
   to rustdl_written.pt: the tests check that rustdl still writes exactly those bytes
   (apart from the random serialization id), so what PyTorch verified here stays true
   offline. The script exits non-zero if PyTorch could not read a rustdl file.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "checkpoints"
MARKER = "rustdl_pwned_marker"
sys.path.insert(0, str(ROOT / "tests"))

from checkpoint_describe import describe_checkpoint


# ------------------------------------------------------------------ objects saved by both
def shared_views(torch):
    base = torch.arange(24.0).reshape(4, 6)
    return {
        "base": base,
        "row": base[1],
        "col": base[:, 2],
        "t": base.t(),
        "narrow": base[1:3, 2:5],
        "same": [base, base],
    }


def mixed(torch, with_narrow_dtypes):
    tensors = {
        "f32": torch.tensor([[1.5, -2.0], [float("nan"), float("inf")]]),
        "f64": torch.tensor([0.1, -1e300], dtype=torch.float64),
        "i64": torch.tensor([2**62 + 1, -(2**62) - 3], dtype=torch.int64),
        "i32": torch.tensor([7, -8], dtype=torch.int32),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.25),
        "iscalar": torch.tensor(5),
        "empty": torch.zeros(2, 0),
    }
    if with_narrow_dtypes:
        tensors.update({
            "f16": torch.tensor([1.5, -65504.0], dtype=torch.float16),
            "bf16": torch.tensor([1.5, 3.0e38], dtype=torch.bfloat16),
            "i16": torch.tensor([-300, 300], dtype=torch.int16),
            "i8": torch.tensor([-128, 127], dtype=torch.int8),
        })
    return {
        "tensors": tensors,
        "nested": {"a": [1, 2.5, "x", None, True], "b": (torch.ones(2, dtype=torch.int64), {"c": torch.zeros(1)})},
        "od": OrderedDict([("z", 1), ("a", torch.tensor([1.0]))]),
        "size": torch.Size([2, 3]),
        "dtype": torch.float64,
        "device": torch.device("cpu"),
        "cplx": 1 + 2j,
        "set": {1, 2},
        "bytes": b"\x00\xff",
        "epoch": 7,
        "lr": 1e-3,
        "name": "héllo ✓",
        "int_keys": {0: "a", 1: "b"},
    }


def small_model(torch):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))


def set_params(torch, model):
    """Deterministic weights (and BN statistics) that do not depend on either RNG."""
    with torch.no_grad():
        for i, (_, t) in enumerate(sorted(model.state_dict().items())):
            if t.dtype == torch.float32:
                n = t.numel()
                t.copy_((torch.arange(n, dtype=torch.float32).reshape(t.shape) * 0.37 + i).sin() * 0.5 + 0.6)
            else:
                t.fill_(3)
    return model


def model_input(torch):
    return (torch.arange(32, dtype=torch.float32).reshape(2, 1, 4, 4) * 0.21).cos()


# ------------------------------------------------------------------ malicious pickles
class _RunsCode:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


def malicious(torch, out):
    """Files whose loading with weights_only=False would create MARKER in the cwd."""
    files = {}
    files["malicious_os_system.pt"] = lambda p: torch.save({"w": torch.ones(1), "x": _RunsCode(os.system, f"touch {MARKER}")}, p)
    files["malicious_eval_legacy.pt"] = lambda p: torch.save(
        [_RunsCode(eval, f"open({MARKER!r}, 'w').close()")], p, _use_new_zipfile_serialization=False)
    # a bare pickle naming os.system directly (no torch.save framing)
    raw = (b"\x80\x02cos\nsystem\nq\x00X" + len(f"touch {MARKER}").to_bytes(4, "little") + f"touch {MARKER}".encode()
           + b"q\x01\x85q\x02Rq\x03.")
    files["malicious_raw_os_system.pkl"] = lambda p: Path(p).write_bytes(raw)
    # a zip checkpoint whose pickle calls builtins.exec after an allowed tensor
    files["malicious_exec_after_tensor.pt"] = lambda p: torch.save(
        OrderedDict([("w", torch.ones(2)), ("x", _RunsCode(exec, f"open({MARKER!r}, 'w').close()"))]), p)
    result = {}
    for name, write in files.items():
        write(out / name)
        cwd = os.getcwd()
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            try:
                try:
                    torch.load(out / name, weights_only=True)
                    raise AssertionError(f"PyTorch loaded {name}")
                except Exception as e:  # noqa: BLE001
                    result[name] = {"type": type(e).__name__, "message": str(e)}
                assert not os.path.exists(MARKER), f"PyTorch ran the code in {name}"
            finally:
                os.chdir(cwd)
    return result


# ------------------------------------------------------------------ 1. PyTorch -> rustdl
def record_pytorch_fixtures():
    import torch

    OUT.mkdir(parents=True, exist_ok=True)
    expected = {"torch_version": torch.__version__, "files": {}}
    torch.manual_seed(0)

    model = set_params(torch, small_model(torch)).eval()
    sd = model.state_dict()
    torch.save(sd, OUT / "small_model_zip.pt")
    torch.save(sd, OUT / "small_model_legacy.pt", _use_new_zipfile_serialization=False)
    x = model_input(torch)
    expected["model_output"] = model(x).tolist()

    views = shared_views(torch)
    views["param"] = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    views["frozen"] = torch.nn.Parameter(torch.tensor([3.0]), requires_grad=False)
    views["grad_tensor"] = torch.tensor([4.0, 5.0]).requires_grad_()
    torch.save(views, OUT / "shared_views.pt")
    torch.save(mixed(torch, True), OUT / "mixed_dtypes.pt")
    torch.save(mixed(torch, True), OUT / "mixed_dtypes_legacy.pt", _use_new_zipfile_serialization=False)

    lin = torch.nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]))
        lin.bias.copy_(torch.tensor([0.1, -0.2]))
    torch.save(lin, OUT / "whole_linear_module.pt")
    expected["linear_output"] = lin(torch.tensor([[1.0, 2.0, 3.0]])).tolist()

    for name in ["small_model_zip.pt", "small_model_legacy.pt", "shared_views.pt", "mixed_dtypes.pt",
                 "mixed_dtypes_legacy.pt"]:
        expected["files"][name] = describe_checkpoint(torch.load(OUT / name, weights_only=True))
    try:
        torch.load(OUT / "whole_linear_module.pt", weights_only=True)
    except Exception as e:  # noqa: BLE001
        expected["whole_module_refused"] = {"type": type(e).__name__, "message": str(e)}
    expected["refused"] = malicious(torch, OUT)
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------ 2. rustdl -> PyTorch
RUSTDL_FILES = ["state_dict.pt", "state_dict_legacy.pt", "shared_views.pt", "mixed.pt", "mixed_legacy.pt",
                "params.pt"]


def rustdl_objects(torch):
    model = set_params(torch, small_model(torch)).eval()
    params = {"param": torch.nn.Parameter(torch.tensor([1.0, 2.0])),
              "frozen": torch.nn.Parameter(torch.tensor([3.0]), requires_grad=False),
              "grad_tensor": torch.tensor([4.0, 5.0]).requires_grad_()}
    return {
        "state_dict.pt": (model.state_dict(), True),
        "state_dict_legacy.pt": (model.state_dict(), False),
        "shared_views.pt": (shared_views(torch), True),
        "mixed.pt": (mixed(torch, False), True),
        "mixed_legacy.pt": (mixed(torch, False), False),
        "params.pt": (params, True),
    }


def rustdl_write(directory):
    """Under rustdl: save the objects and describe them (what PyTorch must read back)."""
    import rustdl as torch

    described = {}
    for name, (obj, zip_format) in rustdl_objects(torch).items():
        torch.save(obj, os.path.join(directory, name), _use_new_zipfile_serialization=zip_format)
        described[name] = describe_checkpoint(obj)
    with open(os.path.join(directory, "described.json"), "w") as fh:
        json.dump(described, fh)


def verify_pytorch_reads_rustdl():
    import torch

    report = {"torch_version": torch.__version__, "files": {}}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
        subprocess.run(["python3", __file__, "--rustdl-write", tmp], check=True, env=env, cwd=ROOT)
        described = json.loads(Path(tmp, "described.json").read_text())
        for name in RUSTDL_FILES:
            path = Path(tmp, name)
            entry = {}
            for mmap in (False, True) if zipfile.is_zipfile(path) else (False,):
                try:
                    got = describe_checkpoint(torch.load(path, weights_only=True, mmap=mmap))
                    same = got == described[name]
                    entry["mmap" if mmap else "load"] = "same" if same else {"pytorch": got, "rustdl": described[name]}
                    ok &= same
                except Exception as e:  # noqa: BLE001
                    entry["mmap" if mmap else "load"] = f"{type(e).__name__}: {e}"
                    ok = False
            report["files"][name] = entry
        (OUT / "rustdl_written.pt").write_bytes(Path(tmp, "state_dict.pt").read_bytes())
        report["rustdl_written.pt"] = described["state_dict.pt"]
    report["all_same"] = ok
    (OUT / "pytorch_reads_rustdl.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in report["files"].items()}, indent=1)[:3000])
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rustdl-write", metavar="DIR", help="(internal) save rustdl's objects into DIR")
    args = parser.parse_args()
    if args.rustdl_write:
        rustdl_write(args.rustdl_write)
        return
    record_pytorch_fixtures()
    if not verify_pytorch_reads_rustdl():
        sys.exit("PyTorch did not read every rustdl-written checkpoint back identically")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"fixtures in {OUT}: {total} bytes")


if __name__ == "__main__":
    main()
