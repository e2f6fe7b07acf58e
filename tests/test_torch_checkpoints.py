"""PyTorch's checkpoint formats in rustdl.save / rustdl.load (issue 22).

The fixtures under tests/golden/checkpoints/ were written by PyTorch
(tools/differential/record_checkpoints.py, run with PyTorch's interpreter): state_dicts in
the zip and legacy formats, shared views, many dtypes and nested containers, a whole
nn.Linear, and pickles that would run code. expected.json holds what PyTorch loads from
each (tests/checkpoint_describe.py) and the exact errors it raises for the refused ones.
The same script had PyTorch load files written by rustdl.save (pytorch_reads_rustdl.json);
here we check that rustdl still writes those exact bytes. No test imports torch.
"""

import importlib.util
import io
import json
import os
import pickle
import shutil
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import rustdl as torch
from checkpoint_describe import WIDENED, describe_checkpoint
from checkpoint_describe import as_rustdl_would_load as _as_loaded
from rustdl import _torch_checkpoint, _utils, nn, serialization

GOLDEN = Path(__file__).parent / "golden" / "checkpoints"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text())
MARKER = "rustdl_pwned_marker"
PYTORCH_FILES = ["small_model_zip.pt", "small_model_legacy.pt", "shared_views.pt", "mixed_dtypes.pt",
                 "mixed_dtypes_legacy.pt"]


# the dtypes this rustdl build has no tensors of, which it widens on load
RUSTDL_WIDENS = {k: v for k, v in WIDENED.items() if not _utils.rustdl_has_dtype(k)}


def as_rustdl_would_load(description):
    return _as_loaded(description, RUSTDL_WIDENS)


def _recorder():
    path = Path(__file__).parents[1] / "tools" / "differential" / "record_checkpoints.py"
    spec = importlib.util.spec_from_file_location("record_checkpoints", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECORDER = _recorder()


def test_fixtures_are_small():
    assert sum(p.stat().st_size for p in GOLDEN.iterdir()) < 200_000


# ---------------------------------------------------------------- PyTorch -> rustdl
@pytest.mark.parametrize("name", PYTORCH_FILES)
@pytest.mark.parametrize("source", ["path", "str", "file", "bytesio", "mmap"])
def test_pytorch_files_load_as_pytorch_loads_them(name, source):
    path = GOLDEN / name
    if source == "mmap" and "legacy" in name:
        with pytest.raises(RuntimeError, match="mmap can only be used with files saved with"):
            torch.load(path, mmap=True)
        return
    if source == "path":
        obj = torch.load(path)
    elif source == "str":
        obj = torch.load(str(path), weights_only=True)
    elif source == "mmap":
        obj = torch.load(path, mmap=True)
    elif source == "file":
        with open(path, "rb") as fh:
            obj = torch.load(fh)
    else:
        obj = torch.load(io.BytesIO(path.read_bytes()))
    assert describe_checkpoint(obj) == as_rustdl_would_load(EXPECTED["files"][name])


@pytest.mark.parametrize("name", ["small_model_zip.pt", "small_model_legacy.pt"])
def test_pytorch_state_dict_runs_the_same_model(name):
    model = RECORDER.small_model(torch).eval()
    sd = torch.load(GOLDEN / name)
    assert type(sd) is OrderedDict and list(sd) == list(model.state_dict())
    model.load_state_dict(sd)
    out = model(RECORDER.model_input(torch))
    np.testing.assert_allclose(out.detach().numpy(), np.array(EXPECTED["model_output"]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mmap", [False, True])
def test_pytorch_shared_views_stay_views(mmap):
    ck = torch.load(GOLDEN / "shared_views.pt", mmap=mmap)
    assert ck["same"][0] is ck["same"][1] is ck["base"]
    ck["base"].mul_(0).add_(-1)
    for k in ["row", "col", "t", "narrow"]:
        assert (ck[k] == -1).all().item(), k
    assert isinstance(ck["param"], nn.Parameter) and ck["param"].requires_grad
    assert isinstance(ck["frozen"], nn.Parameter) and not ck["frozen"].requires_grad
    assert not isinstance(ck["grad_tensor"], nn.Parameter) and ck["grad_tensor"].requires_grad


def test_mixed_dtypes_widened_where_rustdl_lacks_them():
    t = torch.load(GOLDEN / "mixed_dtypes.pt")["tensors"]
    for key, name in [("f16", "float16"), ("bf16", "bfloat16"), ("i8", "int8"), ("i16", "int16")]:
        want = RUSTDL_WIDENS.get(name, name)
        assert str(t[key].dtype) == f"rustdl.{want}", (key, t[key].dtype)
    assert t["f16"].tolist() == [1.5, -65504.0]
    assert t["bf16"].tolist()[0] == 1.5
    assert t["i8"].tolist() == [-128, 127]
    assert t["i64"].tolist() == [2**62 + 1, -(2**62) - 3]


def test_mmap_tensors_are_backed_by_the_file(tmp_path):
    path = tmp_path / "sd.pt"
    shutil.copy(GOLDEN / "small_model_zip.pt", path)
    sd = torch.load(path, mmap=True)
    bias = sd["4.bias"]
    before = bias.tolist()
    # rewrite that storage's bytes in the file: the mapped tensor sees the file's new bytes
    with zipfile.ZipFile(path) as zf:
        pkl = zf.read("small_model_zip/data.pkl")
    key = _storage_key_of(pkl, "4.bias")
    offset = _record_data_offset(path, f"small_model_zip/data/{key}")
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(np.full(3, 42.0, np.float32).tobytes())
    if sys.platform.startswith("linux"):
        assert bias.tolist() == [42.0] * 3
    # writes to a tensor stay in memory (copy-on-write), the file is untouched
    bias.add_(1)
    assert torch.load(path, mmap=True)["4.bias"].tolist() == [42.0] * 3
    assert before != [42.0] * 3
    # a plain load checks the records' CRC: the edited record is refused
    with pytest.raises(RuntimeError, match="sd.pt.*CRC"):
        torch.load(path)


def _storage_key_of(pkl, name):
    """The storage key of state_dict entry ``name`` in a data.pkl (read with pickletools)."""
    import pickletools

    strings = [arg for op, arg, _ in pickletools.genops(pkl) if op.name == "BINUNICODE"]
    # after the entry's name comes its persistent id: 'storage' (first time only), the key, 'cpu'
    return next(s for s in strings[strings.index(name) + 1 :] if s.isdigit())


def _record_data_offset(path, record):
    import struct

    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(record)
    raw = Path(path).read_bytes()
    n, e = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    return info.header_offset + 30 + n + e


def test_mmap_needs_a_path():
    with pytest.raises(ValueError, match="f must be a file path in order to use the mmap argument"):
        torch.load(io.BytesIO((GOLDEN / "small_model_zip.pt").read_bytes()), mmap=True)


def test_non_seekable_stream():
    class Stream:
        def __init__(self, data):
            self.buf = io.BytesIO(data)

        def read(self, n=-1):
            return self.buf.read(n)

    sd = torch.load(Stream((GOLDEN / "small_model_zip.pt").read_bytes()))
    assert list(sd) == list(RECORDER.small_model(torch).state_dict())


# ---------------------------------------------------------------- map_location
def _cuda_tagged(tmp_path):
    """small_model_zip.pt with every storage tagged 'cuda:0' (as saved from a GPU)."""
    src = GOLDEN / "small_model_zip.pt"
    dst = tmp_path / "gpu.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            zout.writestr(info.filename, data)
    return dst


def test_map_location_variants(tmp_path):
    gpu = _cuda_tagged(tmp_path)
    with pytest.raises(RuntimeError, match="torch.cuda.is_available\\(\\) is False"):
        torch.load(gpu)
    ref = torch.load(GOLDEN / "small_model_zip.pt")
    seen = []

    def keep(storage, location):
        seen.append(location)
        return storage

    for ml in ["cpu", torch.device("cpu"), {"cuda:0": "cpu"}, keep, lambda s, loc: None if loc == "cpu" else s]:
        sd = torch.load(gpu, map_location=ml)
        assert [v.tolist() for v in sd.values()] == [v.tolist() for v in ref.values()]
    assert seen and set(seen) == {"cuda:0"}
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(GOLDEN / "small_model_zip.pt", map_location="cuda:0")
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(gpu, map_location={"cuda:1": "cpu"})


# ---------------------------------------------------------------- refusing code
@pytest.mark.parametrize("name", sorted(EXPECTED["refused"]))
def test_pickle_that_would_run_code_is_refused_and_runs_nothing(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for kwargs in ({}, {"weights_only": True}):
        with pytest.raises(pickle.UnpicklingError) as info:
            torch.load(GOLDEN / name, **kwargs)
        assert str(info.value) == EXPECTED["refused"][name]["message"]
        assert not os.path.exists(MARKER)
    if "os_system" in name:  # sys/os/posix/nt are refused even when allowlisted
        with pytest.raises(pickle.UnpicklingError, match="is blocked"), torch.serialization.safe_globals([os.system]):
            torch.load(GOLDEN / name)
        assert not os.path.exists(MARKER)


def test_weights_only_false_is_a_full_unpickler(tmp_path, monkeypatch):
    # documented: weights_only=False runs what the file says (here: creates a file)
    monkeypatch.chdir(tmp_path)
    torch.load(GOLDEN / "malicious_eval_legacy.pt", weights_only=False)
    assert os.path.exists(MARKER)


def test_pickle_module_means_weights_only_false_unless_asked():
    with pytest.raises(RuntimeError, match="Can not safely load weights when explicit pickle_module is specified"):
        torch.load(GOLDEN / "small_model_zip.pt", pickle_module=pickle, weights_only=True)
    sd = torch.load(GOLDEN / "small_model_zip.pt", pickle_module=pickle)
    assert "0.weight" in sd


def test_env_var_forces_weights_only(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(GOLDEN / "malicious_eval_legacy.pt", weights_only=False)
    assert not os.path.exists(MARKER)


# ---------------------------------------------------------------- whole modules
def test_pytorch_whole_module_needs_safe_globals_or_weights_only_false():
    path = GOLDEN / "whole_linear_module.pt"
    with pytest.raises(pickle.UnpicklingError) as info:
        torch.load(path)
    assert str(info.value) == EXPECTED["whole_module_refused"]["message"]
    x = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == ["torch.nn.modules.linear.Linear"]
    with torch.serialization.safe_globals([nn.Linear]):
        assert nn.Linear in torch.serialization.get_safe_globals()
        lin = torch.load(path)
    assert nn.Linear not in torch.serialization.get_safe_globals()
    for m in (lin, torch.load(path, weights_only=False)):
        assert isinstance(m, nn.Linear)
        np.testing.assert_allclose(m(x).detach().numpy(), EXPECTED["linear_output"], rtol=1e-6)


def test_add_and_clear_safe_globals():
    try:
        torch.serialization.add_safe_globals([nn.Linear, (nn.ReLU, "my.ReLU")])
        assert set(torch.serialization.get_safe_globals()) == {nn.Linear, (nn.ReLU, "my.ReLU")}
        torch.load(GOLDEN / "whole_linear_module.pt")
    finally:
        torch.serialization.clear_safe_globals()
    assert torch.serialization.get_safe_globals() == []


def test_rustdl_whole_module_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    torch.save(model, tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.container.Sequential"):
        torch.load(tmp_path / "m.pt")
    m2 = torch.load(tmp_path / "m.pt", weights_only=False)
    with torch.serialization.safe_globals([nn.Sequential, nn.Linear, nn.ReLU]):
        m3 = torch.load(tmp_path / "m.pt")
    x = torch.randn(2, 4)
    for m in (m2, m3):
        assert type(m) is nn.Sequential
        np.testing.assert_array_equal(m(x).detach().numpy(), model(x).detach().numpy())


# ---------------------------------------------------------------- rustdl -> PyTorch
def test_pytorch_read_every_rustdl_file_identically():
    report = json.loads((GOLDEN / "pytorch_reads_rustdl.json").read_text())
    assert report["all_same"], report
    assert set(report["files"]) == set(RECORDER.RUSTDL_FILES)


def _records(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename.split("/", 1)[1]: zf.read(i) for i in zf.infolist()
                if not i.filename.endswith("serialization_id")}


def test_rustdl_still_writes_what_pytorch_read(tmp_path):
    # PyTorch loaded rustdl_written.pt when the fixtures were recorded; a file rustdl writes
    # now for the same state_dict must hold the same records (pickle and storage bytes).
    sd = RECORDER.rustdl_objects(torch)["state_dict.pt"][0]
    torch.save(sd, tmp_path / "state_dict.pt")
    assert _records(tmp_path / "state_dict.pt") == _records(GOLDEN / "rustdl_written.pt")
    report = json.loads((GOLDEN / "pytorch_reads_rustdl.json").read_text())
    assert describe_checkpoint(torch.load(GOLDEN / "rustdl_written.pt")) == report["rustdl_written.pt"]


def test_default_format_is_pytorch_zip_aligned(tmp_path):
    import struct

    x = torch.arange(10.0)
    torch.save({"x": x, "v": x[2:5]}, tmp_path / "model.pt")
    path = tmp_path / "model.pt"
    assert zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert all(n.startswith("model/") for n in names)
        assert {"model/data.pkl", "model/byteorder", "model/version", "model/data/0"} <= set(names)
        assert zf.read("model/byteorder") == b"little"
        assert len([n for n in names if "/data/" in n]) == 1  # one storage for the view and its base
    raw = path.read_bytes()
    for name in names:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(name)
        n, e = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
        assert (info.header_offset + 30 + n + e) % 64 == 0, name
    # a file object gets PyTorch's archive name
    buf = io.BytesIO()
    torch.save(x, buf)
    assert zipfile.ZipFile(buf).namelist()[0].startswith("archive/")


@pytest.mark.parametrize("zip_format", [True, False])
@pytest.mark.parametrize("mmap", [False, True])
def test_rustdl_roundtrip_keeps_sharing(tmp_path, zip_format, mmap):
    if mmap and not zip_format:
        return
    obj = RECORDER.shared_views(torch)
    obj["p"] = nn.Parameter(torch.ones(2))
    torch.save(obj, tmp_path / "v.pt", _use_new_zipfile_serialization=zip_format)
    out = torch.load(tmp_path / "v.pt", mmap=mmap)
    assert describe_checkpoint(out) == describe_checkpoint(obj)
    out["base"].zero_()
    assert out["narrow"].sum().item() == 0 and out["same"][1] is out["base"]


def test_old_rustdl_safetensors_checkpoints_still_load(tmp_path):
    obj = {"epoch": 3, "w": torch.arange(4.0), "nested": [torch.ones(2, dtype=torch.int64), "s"]}
    (tmp_path / "old.pt").write_bytes(serialization._serialize(obj))  # what rustdl.save wrote before
    out = torch.load(tmp_path / "old.pt")
    assert out["epoch"] == 3 and out["w"].tolist() == [0, 1, 2, 3] and out["nested"][1] == "s"
    torch.save(obj, tmp_path / "new.safetensors")
    assert not zipfile.is_zipfile(tmp_path / "new.safetensors")
    assert torch.load(tmp_path / "new.safetensors")["w"].tolist() == [0, 1, 2, 3]


# ---------------------------------------------------------------- hostile zip checkpoints
def _zip_with(tmp_path, pkl, records):
    path = tmp_path / "bad.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bad/data.pkl", pkl)
        for name, data in records.items():
            zf.writestr(f"bad/{name}", data)
    return path


class _Tensor:
    """Pickles as PyTorch's tensor rebuild call with arbitrary (hostile) arguments."""

    def __init__(self, numel, offset, size, stride):
        self.args = (numel, offset, size, stride)

    def __reduce__(self):
        numel, offset, size, stride = self.args
        ref = _torch_checkpoint._StorageRef("0", "FloatStorage", numel, False)
        return (_torch_checkpoint._REBUILD_TENSOR, (ref, offset, size, stride, False, _torch_checkpoint._EmptyHooks()))


def _pkl(obj):
    buf = io.BytesIO()
    _torch_checkpoint.TorchPickler(buf, 2, None).dump(obj)
    return buf.getvalue()


@pytest.mark.parametrize("numel, offset, size, stride, record, match", [
    (2, 0, (1000,), (1,), 8, "reach element 999 of a storage of 2 elements"),
    (2, 5, (1,), (1,), 8, "reach element 5"),
    (2, 0, (2,), (-1,), 8, "negative"),
    (2, -1, (1,), (1,), 8, "negative"),
    (2**60, 0, (1,), (1,), 8, "holds 8 bytes but the pickle describes a storage of"),
    (4, 0, (4,), (1,), 8, "holds 8 bytes"),
    (2, 0, (2, 2), (1,), 8, "do not match"),
    (2, 0, ("a",), (1,), 8, "tuple of ints"),
])
def test_hostile_tensor_descriptions_raise(tmp_path, numel, offset, size, stride, record, match):
    path = _zip_with(tmp_path, _pkl({"x": _Tensor(numel, offset, size, stride)}), {"data/0": b"\0" * record})
    with pytest.raises(RuntimeError, match=match) as info:
        torch.load(path)
    assert "bad.pt" in str(info.value)


def test_corrupt_zip_checkpoints_raise_naming_the_file(tmp_path):
    raw = (GOLDEN / "small_model_zip.pt").read_bytes()
    for cut in (4, 30, len(raw) // 2, len(raw) - 1):
        (tmp_path / "cut.pt").write_bytes(raw[:cut])
        with pytest.raises(RuntimeError, match="cut.pt"):
            torch.load(tmp_path / "cut.pt")
    # a flipped storage byte fails zip's CRC check
    offset = _record_data_offset(GOLDEN / "small_model_zip.pt", "small_model_zip/data/0")
    flipped = bytearray(raw)
    flipped[offset] ^= 0xFF
    (tmp_path / "crc.pt").write_bytes(bytes(flipped))
    with pytest.raises(RuntimeError, match="crc.pt.*CRC"):
        torch.load(tmp_path / "crc.pt")
    missing = _zip_with(tmp_path, _pkl({"x": _Tensor(2, 0, (2,), (1,))}), {})
    with pytest.raises(RuntimeError, match="failed locating file data/0"):
        torch.load(missing)


def test_legacy_garbage_raises_pytorch_message(tmp_path):
    (tmp_path / "g.pt").write_bytes(pickle.dumps({"not": "a checkpoint"}, protocol=2))
    with pytest.raises(RuntimeError, match="Invalid magic number; corrupt file"):
        torch.load(tmp_path / "g.pt")


def test_torchscript_archive_refused(tmp_path):
    path = _zip_with(tmp_path, b"\x80\x02}q\x00.", {"constants.pkl": b"\x80\x02)."})
    with pytest.raises(RuntimeError, match="Cannot use ``weights_only=True`` with TorchScript archives"):
        torch.load(path)


# ---------------------------------------------------------------- module names
def test_torch_serialization_and_onnx_names():
    from rustdl._import_hook import _rustdl_name

    assert _rustdl_name("torch.serialization") == "rustdl.serialization"
    for name in ["add_safe_globals", "safe_globals", "get_safe_globals", "clear_safe_globals", "load", "save",
                 "get_unsafe_globals_in_checkpoint", "DEFAULT_PROTOCOL"]:
        assert hasattr(torch.serialization, name), name
    import rustdl.onnx

    assert callable(rustdl.onnx.export) and not rustdl.onnx.is_in_onnx_export()  # (exporting: test_onnx_export.py)


# ---------------------------------------------------------------- pickle protocols, numpy
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_higher_pickle_protocols_load_with_weights_only(protocol):
    # PyTorch's weights_only unpickler stops at protocol 2; rustdl also reads the data
    # opcodes of protocols 3-5 (under the same allowlist)
    obj = {"a": torch.arange(3.0), "b": b"xy" * 200, "s": "é", "big": 2**1000, "set": {1, 2}, "t": (1, [2.5])}
    buf = io.BytesIO()
    torch.save(obj, buf, pickle_protocol=protocol)
    buf.seek(0)
    with pytest.warns(UserWarning, match="pickle protocol") if protocol != 2 else _no_warning():
        out = torch.load(buf)
    assert out["a"].tolist() == [0, 1, 2] and {k: out[k] for k in obj if k != "a"} == {k: obj[k] for k in obj if k != "a"}


def _no_warning():
    import contextlib

    return contextlib.nullcontext()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_stack_global_goes_through_the_allowlist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = pickle.dumps(RECORDER._RunsCode(eval, f"open({MARKER!r}, 'w').close()"), protocol=4)
    assert b"\x93" in data  # STACK_GLOBAL
    path = _zip_with(tmp_path, data, {})
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL eval was not an allowed global"):
        torch.load(path)
    assert not os.path.exists(MARKER)


def test_numpy_arrays_load_with_pytorchs_recommended_safe_globals():
    buf = io.BytesIO()
    torch.save({"a": np.arange(3.0)}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="numpy._core.multiarray._reconstruct"):
        torch.load(buf)
    buf.seek(0)
    with torch.serialization.safe_globals([np._core.multiarray._reconstruct, np.ndarray, np.dtype,
                                           np.dtypes.Float64DType]):
        out = torch.load(buf)
    np.testing.assert_array_equal(out["a"], np.arange(3.0))


# ---------------------------------------------------------------- as `python -m rustdl` scripts use it
MODEL_PY = '''
import torch.nn as nn


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers):
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=0.5)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x):
        out, _ = self.rnn(self.drop(self.encoder(x)))
        return self.decoder(self.drop(out))
'''

MAIN_PY = '''
import torch
import torch.nn as nn
import torch.onnx  # noqa: F401  (imported at the top of the word-language-model example)

import model

torch.manual_seed(0)
m = model.RNNModel(10, 4, 4, 2).eval()
x = torch.tensor([[1, 2], [3, 4]])
with open("model.pt", "wb") as f:
    torch.save(m, f)
with open("model.pt", "rb") as f:
    try:
        torch.load(f)
        raise SystemExit("loaded a whole model with weights_only=True")
    except Exception as e:
        assert "model.RNNModel" in str(e), e
safe = [model.RNNModel, torch.nn.modules.dropout.Dropout, torch.nn.modules.linear.Linear,
        torch.nn.modules.rnn.LSTM, torch.nn.modules.sparse.Embedding]
with open("model.pt", "rb") as f, torch.serialization.safe_globals(safe):
    m2 = torch.load(f)
m2.rnn.flatten_parameters()
with open("model.pt", "rb") as f:
    m3 = torch.load(f, weights_only=False)
for other in (m2, m3):
    assert type(other) is model.RNNModel and other.training is False
    assert torch.equal(m(x), other(x))
print("ok")
'''


def test_whole_model_save_load_under_python_m_rustdl(tmp_path):
    import subprocess

    (tmp_path / "model.py").write_text(MODEL_PY)
    (tmp_path / "main.py").write_text(MAIN_PY)
    pkg_parent = os.path.dirname(os.path.dirname(torch.__file__))
    env = dict(os.environ, PYTHONPATH=pkg_parent + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "rustdl", "main.py"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr


def test_truncated_or_lying_legacy_files_raise(tmp_path):
    raw = (GOLDEN / "small_model_legacy.pt").read_bytes()
    for cut in (3, 40, len(raw) // 2, len(raw) - 1):
        (tmp_path / "cut.pt").write_bytes(raw[:cut])
        with pytest.raises(RuntimeError, match="cut.pt"):
            torch.load(tmp_path / "cut.pt")
    # a storage element count in the data section that disagrees with the pickle
    buf = io.BytesIO()
    torch.save({"x": torch.ones(3)}, buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    count = (3).to_bytes(8, "little") + np.ones(3, np.float32).tobytes()
    assert data.endswith(count)
    (tmp_path / "lie.pt").write_bytes(data[: -len(count)] + (2**40).to_bytes(8, "little") + count[8:])
    with pytest.raises(RuntimeError, match="lie.pt.*1099511627776 elements in the file, 3 in the pickle"):
        torch.load(tmp_path / "lie.pt")


@pytest.mark.filterwarnings("ignore")
def test_fuzzed_checkpoints_raise_only_runtime_or_unpickling_errors(tmp_path, monkeypatch):
    import random

    monkeypatch.chdir(tmp_path)
    rng = random.Random(0)
    files = [p.read_bytes() for p in sorted(GOLDEN.iterdir()) if p.suffix in (".pt", ".pkl")]
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(800):
        raw = bytearray(rng.choice(files))
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        if rng.random() < 0.2:
            raw = raw[: rng.randrange(len(raw))]
        try:
            torch.load(io.BytesIO(bytes(raw)))
            outcomes["loaded"] += 1
        except (RuntimeError, pickle.UnpicklingError):
            outcomes["refused"] += 1
    assert outcomes["loaded"] and outcomes["refused"]
    assert os.listdir(tmp_path) == []  # nothing ran


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mmap flags are POSIX")
def test_mmap_shared_writes_go_to_the_file(tmp_path):
    import mmap

    path = tmp_path / "v.pt"
    torch.save({"x": torch.zeros(4)}, path)
    assert torch.serialization.get_default_mmap_options() == mmap.MAP_PRIVATE
    with torch.serialization.set_default_mmap_options(mmap.MAP_SHARED):
        x = torch.load(path, mmap=True)["x"]
        x.add_(7)
        del x
    assert torch.serialization.get_default_mmap_options() == mmap.MAP_PRIVATE
    # the file's bytes changed (so its CRC no longer matches for a plain load, as in PyTorch)
    assert torch.load(path, mmap=True)["x"].tolist() == [7.0] * 4
    with pytest.raises(ValueError, match="expected mmap.MAP_PRIVATE or mmap.MAP_SHARED"):
        torch.serialization.set_default_mmap_options(12345)


def test_zip64_records_stay_aligned(tmp_path, monkeypatch):
    import struct

    # records over zipfile's ZIP64_LIMIT (4 GiB) get a zip64 extra field in their header;
    # shrink the limit to exercise that layout with small tensors
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)
    obj = {"a": torch.arange(100.0), "b": torch.ones(3)}
    torch.save(obj, tmp_path / "z.pt")
    monkeypatch.undo()
    raw = (tmp_path / "z.pt").read_bytes()
    with zipfile.ZipFile(tmp_path / "z.pt") as zf:
        for info in zf.infolist():
            n, e = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
            assert (info.header_offset + 30 + n + e) % 64 == 0, info.filename
    for mmap in (False, True):
        out = torch.load(tmp_path / "z.pt", mmap=mmap)
        assert out["a"].tolist() == list(range(100)) and out["b"].tolist() == [1, 1, 1]
