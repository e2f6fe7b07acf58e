"""rustdl.save / rustdl.load: safetensors checkpoints, structure fidelity, atomic writes, errors."""

import io
import json
import math
import os
import stat
import struct
from collections import OrderedDict

import numpy as np
import pytest
import rustdl as torch
import safetensors.numpy as stnp
from rustdl import nn


def roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, **load_kwargs)


def roundtrip_safetensors(obj, tmp_path):
    path = tmp_path / "obj.safetensors"
    torch.save(obj, path)
    return torch.load(path)


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def assert_same_tensor(a, b):
    assert type(a) is type(b), (type(a), type(b))
    assert a.dtype == b.dtype
    assert tuple(a.shape) == tuple(b.shape)
    assert a.requires_grad == b.requires_grad
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


# ---------------------------------------------------------------- tensors and dtypes
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "bool"])
def test_tensor_dtypes_roundtrip(dtype):
    x = torch.arange(6).reshape(2, 3)
    x = (x % 2 == 0) if dtype == "bool" else x.to(getattr(torch, dtype))
    y = roundtrip(x)
    assert_same_tensor(x, y)


def test_zero_dim_and_empty_tensors():
    for t in [torch.tensor(3.5), torch.tensor(7), torch.tensor(True), torch.zeros(0), torch.zeros(2, 0, 3)]:
        y = roundtrip(t)
        assert_same_tensor(t, y)
    assert roundtrip(torch.tensor(3.5)).shape == torch.Size([])


def test_int64_large_values_exact():
    big = torch.tensor([2**62 + 1, -(2**62) - 3], dtype=torch.int64)
    assert roundtrip(big).tolist() == [2**62 + 1, -(2**62) - 3]


def test_parameter_and_requires_grad_preserved():
    p = nn.Parameter(torch.randn(3))
    frozen = nn.Parameter(torch.randn(2), requires_grad=False)
    t = torch.randn(2).requires_grad_()
    plain = torch.randn(2)
    out = roundtrip({"p": p, "frozen": frozen, "t": t, "plain": plain})
    assert isinstance(out["p"], nn.Parameter) and out["p"].requires_grad
    assert isinstance(out["frozen"], nn.Parameter) and not out["frozen"].requires_grad
    assert not isinstance(out["t"], nn.Parameter) and out["t"].requires_grad
    assert not out["plain"].requires_grad
    assert_same_tensor(p, out["p"])


def test_non_contiguous_tensor():
    x = torch.arange(12.0).reshape(3, 4).t()
    y = roundtrip(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy())


def test_shared_tensor_stored_once_and_shared_after_load():
    w = torch.randn(5)
    out = roundtrip({"a": w, "b": [w, w]})
    assert out["a"] is out["b"][0] is out["b"][1]


def test_loaded_tensor_is_independent_copy():
    x = torch.zeros(3)
    y = roundtrip(x)
    y.add_(1)
    assert x.tolist() == [0, 0, 0]


# ---------------------------------------------------------------- python structure
@pytest.mark.parametrize("fmt", ["torch_zip", "safetensors"])
def test_plain_python_structure_exact(fmt, tmp_path):
    obj = {
        "int": 3,
        "neg_big": -(2**70),
        "float": 0.1,
        "nan": float("nan"),
        "inf": float("inf"),
        "ninf": float("-inf"),
        "bool": True,
        "none": None,
        "str": "héllo ✓",
        "bytes": b"\x00\xff",
        "tuple": (1, (2, 3), []),
        "list": [1, [2, (3,)]],
        "set": {1, 2},
        "frozen": frozenset({"a"}),
        1: "int key",
        "1": "str key",
        (1, 2): "tuple key",
        2.5: "float key",
        None: "none key",
        "cplx": 1 + 2j,
        "size": torch.Size([2, 3]),
        "dtype": torch.int64,
        "np": np.arange(3, dtype=np.int16),
        "npscalar": np.float32(1.5),
    }
    # numpy arrays/scalars and frozensets need weights_only=False in PyTorch's format (as in
    # PyTorch); the safetensors format describes them without pickling
    out = roundtrip(obj, weights_only=False) if fmt == "torch_zip" else roundtrip_safetensors(obj, tmp_path)
    assert list(out.keys()) == list(obj.keys())
    for k in obj:  # noqa: PLC0206
        if k in ("nan", "np"):
            continue
        assert out[k] == obj[k], k
        assert type(out[k]) is type(obj[k]) or k == "npscalar", k
    assert math.isnan(out["nan"])
    assert isinstance(out[1], str) and out[1] == "int key" and out["1"] == "str key"
    assert type(out["tuple"]) is tuple and type(out["tuple"][1]) is tuple and type(out["tuple"][2]) is list
    assert type(out["list"][1][1]) is tuple
    assert isinstance(out["size"], torch.Size)
    assert out["dtype"] is torch.int64
    assert isinstance(out["np"], np.ndarray) and out["np"].dtype == np.int16
    assert out["npscalar"] == 1.5
    assert type(out["npscalar"]) is (np.float32 if fmt == "torch_zip" else float)


def test_weights_only_refuses_numpy_and_frozenset_as_pytorch():
    import pickle

    for obj, name in [(np.arange(3), "_reconstruct"), (frozenset({1}), "frozenset")]:
        buf = io.BytesIO()
        torch.save({"x": obj}, buf)
        buf.seek(0)
        with pytest.raises(pickle.UnpicklingError, match=name):
            torch.load(buf)
    # what PyTorch's weights_only allows by default still loads
    allowed = {"set": {1, 2}, "bytes": b"\x00\xff", "cplx": 1 + 2j, "size": torch.Size([2]), "dtype": torch.int64,
               "od": OrderedDict(a=1), "tuple": (1, [2.5, None], "s"), "big": -(2**70)}
    assert roundtrip(allowed) == allowed


def test_ordered_dict_type_and_order():
    od = OrderedDict([("z", 1), ("a", 2)])
    out = roundtrip(od)
    assert type(out) is OrderedDict and list(out) == ["z", "a"]
    assert type(roundtrip({"b": 1, "a": 2})) is dict


def test_top_level_non_dicts():
    assert roundtrip([torch.ones(2), 3])[1] == 3
    assert roundtrip(5) == 5
    assert roundtrip(None) is None
    t = roundtrip((torch.ones(1),))
    assert type(t) is tuple


def test_key_collisions_resolved():
    # 'a' -> {'b': t1} and 'a.b' -> t2 both map to the path "a.b"
    t1, t2 = torch.ones(1), torch.zeros(1)
    out = roundtrip({"a": {"b": t1}, "a.b": t2})
    assert out["a"]["b"].tolist() == [1.0] and out["a.b"].tolist() == [0.0]


def test_unpicklable_objects_raise(tmp_path):
    import pickle

    # PyTorch's format pickles: a lambda cannot be pickled (PyTorch raises the same error)
    with pytest.raises(pickle.PicklingError):
        torch.save({"f": lambda x: x}, io.BytesIO())
    # the safetensors format holds tensors and plain data only
    with pytest.raises(TypeError, match="state_dict"):
        torch.save(small_model(), tmp_path / "m.safetensors")
    with pytest.raises(TypeError):
        torch.save({"f": lambda x: x}, tmp_path / "f.safetensors")


# ---------------------------------------------------------------- state dicts / checkpoints
def test_model_state_dict_roundtrip_and_load(tmp_path):
    m = small_model()
    path = tmp_path / "model.pt"
    torch.save(m.state_dict(), path)
    sd = torch.load(path)
    assert type(sd) is OrderedDict and list(sd) == list(m.state_dict())
    m2 = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    m2.load_state_dict(sd)
    x = torch.randn(5, 4)
    np.testing.assert_array_equal(m(x).detach().numpy(), m2(x).detach().numpy())


def test_str_path_and_file_object(tmp_path):
    x = torch.randn(3)
    torch.save(x, str(tmp_path / "a.pt"))
    assert_same_tensor(x, torch.load(str(tmp_path / "a.pt")))
    with open(tmp_path / "b.pt", "wb") as fh:
        torch.save(x, fh)
    with open(tmp_path / "b.pt", "rb") as fh:
        assert_same_tensor(x, torch.load(fh))


def test_file_is_single_safetensors_file_with_metadata(tmp_path):
    m = small_model()
    ck = {"epoch": 3, "model": m.state_dict()}
    torch.save(ck, tmp_path / "ck.safetensors")
    raw = (tmp_path / "ck.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    meta = header["__metadata__"]
    assert meta["rustdl.format"] == "rustdl"
    json.loads(meta["rustdl.structure"])  # valid JSON description
    assert {k for k in header if k != "__metadata__"} == {f"model.{k}" for k in m.state_dict()}


def test_pytorch_interop_rustdl_file_readable_by_safetensors(tmp_path):
    m = small_model()
    torch.save(m.state_dict(), tmp_path / "sd.safetensors")
    arrays = stnp.load_file(str(tmp_path / "sd.safetensors"))
    assert set(arrays) == set(m.state_dict())
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(arrays[k], v.numpy())
        assert arrays[k].dtype == np.float32


def test_pytorch_interop_foreign_safetensors_file_loads_as_state_dict(tmp_path):
    # what safetensors.torch.save_file(model.state_dict()) would produce for PyTorch's
    # nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)): no rustdl metadata.
    rng = np.random.default_rng(0)
    arrays = {
        "0.weight": rng.standard_normal((8, 4)).astype(np.float32),
        "0.bias": rng.standard_normal(8).astype(np.float32),
        "2.weight": rng.standard_normal((3, 8)).astype(np.float32),
        "2.bias": rng.standard_normal(3).astype(np.float32),
    }
    stnp.save_file(arrays, str(tmp_path / "torch.safetensors"), metadata={"format": "pt"})
    sd = torch.load(tmp_path / "torch.safetensors")
    assert set(sd) == set(arrays)
    m = small_model()
    m.load_state_dict(sd)
    np.testing.assert_array_equal(m[0].weight.detach().numpy(), arrays["0.weight"])
    # float16 / int16 tensors of foreign files keep their dtypes (issue 20); uint16 widens
    stnp.save_file(
        {"h": np.ones(2, np.float16), "s": np.ones(2, np.int16), "u": np.ones(2, np.uint16)},
        str(tmp_path / "h.safetensors"),
    )
    out = torch.load(tmp_path / "h.safetensors")
    assert (out["h"].dtype, out["s"].dtype, out["u"].dtype) == (torch.float16, torch.int16, torch.int64)


def _optim_works():
    """True when rustdl.optim is importable AND its (Rust) step kernels are built."""
    try:
        from rustdl import optim

        p = nn.Parameter(torch.ones(2))
        opt = optim.Adam([p], lr=0.1)
        p.sum().backward()
        opt.step()
        return hasattr(optim, "lr_scheduler")
    except (ImportError, AttributeError, NotImplementedError, RuntimeError):
        return False


def _sgd_momentum_step(params, bufs, lr, momentum):
    for p, b in zip(params, bufs):
        b.mul_(momentum).add_(p.grad)
        with torch.no_grad():
            p.sub_(lr * b)


def test_checkpoint_resume_continues_training_identically(tmp_path):
    """model + optimizer + scheduler state: resume from a checkpoint == never stopping."""
    if _optim_works():
        pytest.skip("covered by test_checkpoint_resume_with_rustdl_optim")
    torch.manual_seed(0)
    X, Y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    loss_fn = nn.CrossEntropyLoss()

    def make():
        m = small_model()
        bufs = [torch.zeros_like(p) for p in m.parameters()]
        return m, bufs

    def train(m, bufs, sched, steps):
        for _ in range(steps):
            m.zero_grad()
            loss_fn(m(X), Y).backward()
            _sgd_momentum_step(list(m.parameters()), bufs, sched["lr"], 0.9)
            sched["last_epoch"] += 1
            sched["lr"] = 0.1 * 0.5 ** (sched["last_epoch"] // 2)

    m, bufs = make()
    sched = {"lr": 0.1, "last_epoch": 0, "step_size": 2, "gamma": 0.5, "base_lrs": [0.1]}
    train(m, bufs, sched, 3)
    osd = {
        "state": {i: {"momentum_buffer": b} for i, b in enumerate(bufs)},
        "param_groups": [{"lr": sched["lr"], "momentum": 0.9, "dampening": 0, "nesterov": False,
                          "weight_decay": 0, "maximize": False, "foreach": None, "params": [0, 1, 2, 3]}],
    }
    torch.save({"epoch": 3, "model": m.state_dict(), "optimizer": osd, "scheduler": sched}, tmp_path / "ck.pt")
    train(m, bufs, sched, 3)

    ck = torch.load(tmp_path / "ck.pt")
    assert ck["epoch"] == 3 and isinstance(ck["optimizer"]["state"][0]["momentum_buffer"], torch.Tensor)
    m2, _ = make()
    m2.load_state_dict(ck["model"])
    bufs2 = [ck["optimizer"]["state"][i]["momentum_buffer"] for i in range(4)]
    train(m2, bufs2, ck["scheduler"], 3)
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_checkpoint_resume_with_rustdl_optim(tmp_path):
    if not _optim_works():
        pytest.skip("rustdl.optim not usable yet (step kernels not built)")
    from rustdl import optim

    torch.manual_seed(0)
    X, Y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    loss_fn = nn.CrossEntropyLoss()

    def make():
        m = small_model()
        opt = optim.Adam(m.parameters(), lr=0.01, betas=(0.9, 0.99))
        sch = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        return m, opt, sch

    def train(m, opt, sch, steps):
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(m(X), Y).backward()
            opt.step()
            sch.step()

    m, opt, sch = make()
    train(m, opt, sch, 3)
    torch.save({"epoch": 3, "model": m.state_dict(), "optimizer": opt.state_dict(), "scheduler": sch.state_dict()},
               tmp_path / "ck.pt")
    osd = opt.state_dict()
    train(m, opt, sch, 3)

    ck = torch.load(tmp_path / "ck.pt")
    assert list(ck["optimizer"]["state"]) == list(osd["state"])  # int keys survive
    assert ck["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.99)
    m2, opt2, sch2 = make()
    m2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optimizer"])
    sch2.load_state_dict(ck["scheduler"])
    train(m2, opt2, sch2, 3)
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=0, atol=0)
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


# ---------------------------------------------------------------- map_location / weights_only
def test_map_location_variants():
    x = torch.randn(2)
    for ml in [None, "cpu", torch.device("cpu"), {"cuda:0": "cpu"}, lambda storage, loc: storage]:
        buf = io.BytesIO()
        torch.save(x, buf)
        buf.seek(0)
        assert_same_tensor(x, torch.load(buf, map_location=ml))
    buf = io.BytesIO()
    torch.save(x, buf)
    buf.seek(0)
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(buf, map_location="cuda")


def test_weights_only_flag_accepted():
    from rustdl import serialization

    buf = io.BytesIO()
    torch.save({"a": torch.ones(1)}, buf)
    for wo in (True, False):
        buf.seek(0)
        assert serialization.load(buf, weights_only=wo)["a"].tolist() == [1.0]


# ---------------------------------------------------------------- errors and atomicity
def test_load_garbage_raises_runtimeerror_naming_file(tmp_path):
    p = tmp_path / "garbage.pt"
    p.write_bytes(b"\x80\x02}q\x00.this is a pickle, not safetensors")
    with pytest.raises(RuntimeError, match="garbage.pt"):
        torch.load(p)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(RuntimeError, match="empty.pt"):
        torch.load(tmp_path / "empty.pt")


def test_load_truncated_raises_runtimeerror(tmp_path):
    torch.save(small_model().state_dict(), tmp_path / "full.pt")
    raw = (tmp_path / "full.pt").read_bytes()
    for cut in (4, 20, len(raw) // 2, len(raw) - 1):
        (tmp_path / "cut.pt").write_bytes(raw[:cut])
        with pytest.raises(RuntimeError, match="cut.pt"):
            torch.load(tmp_path / "cut.pt")


def test_load_corrupt_structure_raises_runtimeerror(tmp_path):
    meta = {"rustdl.structure": '{"T": "tensor", "key": "missing"}'}
    stnp.save_file({"x": np.ones(1, np.float32)}, str(tmp_path / "bad.pt"), metadata=meta)
    with pytest.raises(RuntimeError, match="bad.pt"):
        torch.load(tmp_path / "bad.pt")


def test_load_missing_file():
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        torch.load("/nonexistent_dir_rustdl/nope.pt")


def test_save_missing_parent_dir_raises():
    with pytest.raises(RuntimeError, match="does not exist"):
        torch.save(torch.ones(1), "/nonexistent_dir_rustdl/x.pt")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_save_non_writable_dir_raises_naming_path(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises((PermissionError, RuntimeError), match="ro"):
            torch.save(torch.ones(1), d / "x.pt")
    finally:
        d.chmod(stat.S_IRWXU)


@pytest.mark.parametrize("name", ["ck.pt", "ck.safetensors"])
def test_save_atomic_on_error_keeps_old_file_and_no_temp(tmp_path, name):
    import pickle

    p = tmp_path / name
    torch.save({"v": torch.ones(2)}, p)
    before = p.read_bytes()
    with pytest.raises((TypeError, pickle.PicklingError)):
        torch.save({"v": torch.zeros(2), "bad": lambda: 0}, p)
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == [name]


def test_save_atomic_when_write_fails_midway(tmp_path, monkeypatch):
    p = tmp_path / "ck.pt"
    torch.save({"v": torch.ones(2)}, p)
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="No space"):
        torch.save({"v": torch.zeros(2)}, p)
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.pt"]
    assert torch.load(p)["v"].tolist() == [1.0, 1.0]


def test_overwrite_replaces_file(tmp_path):
    p = tmp_path / "ck.pt"
    torch.save(torch.ones(2), p)
    torch.save(torch.zeros(3), p)
    assert torch.load(p).tolist() == [0.0, 0.0, 0.0]
    assert os.listdir(tmp_path) == ["ck.pt"]


@pytest.mark.parametrize("use_o_tmpfile", [True, False])
def test_save_permission_error_names_path(tmp_path, monkeypatch, use_o_tmpfile):
    # works as root too: simulate the OS refusing to create the file (the unnamed O_TMPFILE
    # in the directory, or the named temp of the fallback)
    from rustdl import serialization

    monkeypatch.setattr(serialization, "_USE_O_TMPFILE", use_o_tmpfile and serialization._USE_O_TMPFILE)
    real_open = os.open

    def deny(path, *a, **k):
        if os.fspath(path).startswith(str(tmp_path)):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(PermissionError, match="locked.pt"):
        torch.save(torch.ones(1), tmp_path / "locked.pt")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []
