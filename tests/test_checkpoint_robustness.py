"""rustdl.save under kill -9 (no temp files left behind) and rustdl.load on hostile files
(every size checked against the file's length before allocating)."""

import errno
import json
import os
import random
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest
import rustdl as torch
from rustdl import serialization

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux (/proc, O_TMPFILE)")
posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX")


def o_tmpfile_works(directory):
    if not serialization._USE_O_TMPFILE:
        return False
    try:
        os.close(os.open(directory, os.O_TMPFILE | os.O_WRONLY, 0o600))
    except OSError:
        return False
    return True


@pytest.fixture(params=["o_tmpfile", "named_temp"])
def write_mode(request, tmp_path, monkeypatch):
    """Run a test with the O_TMPFILE writer and with the named-temp fallback."""
    if request.param == "o_tmpfile":
        if not o_tmpfile_works(tmp_path):
            pytest.skip("O_TMPFILE not supported here")
    else:
        monkeypatch.setattr(serialization, "_USE_O_TMPFILE", False)
    return request.param


def dead_pid():
    """The pid of a process that has exited and been reaped."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def temp_name(target, pid):
    return f".{target}.rustdl-{pid}-{os.urandom(6).hex()}.tmp"


# ---------------------------------------------------------------- save: nothing left behind
CHILD = textwrap.dedent(
    """
    import sys
    import rustdl
    from rustdl import serialization

    serialization._USE_O_TMPFILE = sys.argv[2] == "1"
    x = rustdl.full((16 * 1024 * 1024,), 2.0)  # 64 MB
    print("ready", flush=True)
    while True:
        rustdl.save({"x": x, "step": 1}, sys.argv[1])
    """
)


def child_env():
    pkg_parent = os.path.dirname(os.path.dirname(torch.__file__))
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=pkg_parent + (os.pathsep + path if path else ""))


def wait_until_writing(pid, directory, timeout=20.0):
    """Poll /proc until process ``pid`` has a file of ``directory`` open (it is mid-save)."""
    deadline = time.monotonic() + timeout
    fd_dir = f"/proc/{pid}/fd"
    while time.monotonic() < deadline:
        try:
            for fd in os.listdir(fd_dir):
                try:
                    if os.readlink(os.path.join(fd_dir, fd)).startswith(str(directory) + os.sep):
                        return True
                except OSError:
                    pass
        except OSError:
            return False
        time.sleep(0.0005)
    return False


def kill_mid_save(target, use_o_tmpfile, kills):
    """Start a child saving 64 MB to ``target`` in a loop; kill -9 it mid-write ``kills`` times."""
    rng = random.Random(0)
    pids = []
    for _ in range(kills):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(target), "1" if use_o_tmpfile else "0"],
            stdout=subprocess.PIPE, env=child_env(),
        )
        try:
            assert child.stdout.readline() == b"ready\n"
            assert wait_until_writing(child.pid, target.parent), "child never started writing"
            time.sleep(rng.uniform(0, 0.05))  # land anywhere in the write / fsync
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
        pids.append(child.pid)
        # whenever it was killed, the target is the old or a complete new checkpoint
        ck = torch.load(target)
        assert ck["step"] in (0, 1)
    return pids


@linux_only
def test_kill_9_during_save_leaves_only_the_target(tmp_path):
    if not o_tmpfile_works(tmp_path):
        pytest.skip("O_TMPFILE not supported here")
    target = tmp_path / "ck.pt"
    torch.save({"x": torch.zeros(2), "step": 0}, target)
    pids = kill_mid_save(target, use_o_tmpfile=True, kills=5)
    left = sorted(set(os.listdir(tmp_path)) - {"ck.pt"})
    # The writer's file has no name until the instant before its rename onto the target; a kill
    # inside that instant (microseconds) leaves a temp named with the dead pid, which the next
    # save removes. Anything else left behind is a failure.
    for name in left:
        m = serialization._TEMP_NAME.fullmatch(name)
        assert m is not None and int(m.group(1)) in pids, left
    if left:
        torch.save({"x": torch.zeros(2), "step": 0}, target)
    assert os.listdir(tmp_path) == ["ck.pt"]


@linux_only
def test_kill_9_during_fallback_save_temps_removed_by_next_save(tmp_path):
    target = tmp_path / "ck.pt"
    torch.save({"x": torch.zeros(2), "step": 0}, target)
    pids = kill_mid_save(target, use_o_tmpfile=False, kills=3)
    left = sorted(set(os.listdir(tmp_path)) - {"ck.pt"})
    # each child's first save removed the temp of the child killed before it: only the last is left
    assert len(left) == 1 and int(serialization._TEMP_NAME.fullmatch(left[0]).group(1)) == pids[-1]
    torch.save({"x": torch.ones(2), "step": 2}, target)
    assert os.listdir(tmp_path) == ["ck.pt"]
    assert torch.load(target)["step"] == 2


@linux_only
def test_o_tmpfile_save_has_no_name_until_the_rename(tmp_path, monkeypatch):
    """A kill at any point before the final rename leaves no file: checked at the fsync."""
    if not o_tmpfile_works(tmp_path):
        pytest.skip("O_TMPFILE not supported here")
    target = tmp_path / "ck.pt"
    torch.save(torch.zeros(2), target)
    seen = {}
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        seen["at_fsync"] = sorted(os.listdir(tmp_path))
        return real_fsync(fd)

    def replace(src, dst, **kw):
        seen["at_replace"] = sorted(os.listdir(tmp_path))
        return real_replace(src, dst, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    torch.save(torch.ones(3), target)
    monkeypatch.undo()
    assert seen["at_fsync"] == ["ck.pt"]
    # named only for the rename, with this process's pid
    (tmp,) = set(seen["at_replace"]) - {"ck.pt"}
    assert int(serialization._TEMP_NAME.fullmatch(tmp).group(1)) == os.getpid()
    assert os.listdir(tmp_path) == ["ck.pt"]
    assert torch.load(target).tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------- save: fallback path
def test_fallback_save_named_temp_carries_pid(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "_USE_O_TMPFILE", False)
    target = tmp_path / "ck.pt"
    seen = []
    real_fsync = os.fsync

    def fsync(fd):
        seen.extend(set(os.listdir(tmp_path)) - {"ck.pt"})
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    torch.save(torch.ones(2), target)
    monkeypatch.undo()
    assert len(seen) == 1
    assert int(serialization._TEMP_NAME.fullmatch(seen[0]).group(1)) == os.getpid()
    assert seen[0].startswith(".ck.pt.rustdl-")
    assert os.listdir(tmp_path) == ["ck.pt"]
    assert torch.load(target).tolist() == [1.0, 1.0]


@pytest.mark.skipif(not hasattr(os, "O_TMPFILE"), reason="no O_TMPFILE")
@pytest.mark.parametrize("err", [errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL])
def test_o_tmpfile_unsupported_falls_back(tmp_path, monkeypatch, err):
    monkeypatch.setattr(serialization, "_USE_O_TMPFILE", True)
    real_open = os.open
    tried = []

    def fake_open(path, flags, *a, **kw):
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            tried.append(path)
            raise OSError(err, os.strerror(err))
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", fake_open)
    torch.save({"a": torch.arange(3)}, tmp_path / "ck.pt")
    monkeypatch.undo()
    assert tried
    assert os.listdir(tmp_path) == ["ck.pt"]
    assert torch.load(tmp_path / "ck.pt")["a"].tolist() == [0, 1, 2]


@linux_only
def test_unlinkable_o_tmpfile_falls_back(tmp_path, monkeypatch):
    """No /proc (the unnamed file cannot be linked): the save is redone with a named temp."""
    if not o_tmpfile_works(tmp_path):
        pytest.skip("O_TMPFILE not supported here")

    def no_proc(fd, name):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", f"/proc/self/fd/{fd}")

    monkeypatch.setattr(serialization, "_link_unnamed", no_proc)
    torch.save(torch.ones(2), tmp_path / "ck.pt")
    assert os.listdir(tmp_path) == ["ck.pt"]
    assert torch.load(tmp_path / "ck.pt").tolist() == [1.0, 1.0]


@posix_only
def test_save_removes_only_stale_rustdl_temps(tmp_path, write_mode):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [temp_name("ck.pt", dead_pid()), temp_name("other.pt", dead_pid())]
        keep = [
            temp_name("ck.pt", sleeper.pid),  # a live writer's temp
            temp_name("ck.pt", os.getpid()),  # e.g. another thread of this process
            ".ck.pt.abc123.tmp",  # not rustdl's naming
            ".hidden",
            "notes.txt",
            f".ck.pt.rustdl-{dead_pid()}-xyz.tmp",  # almost the naming
            f"ck.pt.rustdl-{dead_pid()}-{os.urandom(6).hex()}.tmp",  # not hidden
        ]
        for name in stale + keep:
            (tmp_path / name).write_bytes(b"x" * 10)
        locked = tmp_path / temp_name("ck.pt", dead_pid())  # pid unknown here but writer alive
        locked.write_bytes(b"x")
        lock_fd = os.open(locked, os.O_RDWR)
        import fcntl

        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        as_dir = tmp_path / temp_name("ck.pt", dead_pid())
        as_dir.mkdir()
        try:
            torch.save(torch.ones(1), tmp_path / "ck.pt")
        finally:
            os.close(lock_fd)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert set(os.listdir(tmp_path)) == {"ck.pt", locked.name, as_dir.name, *keep}
    assert torch.load(tmp_path / "ck.pt").tolist() == [1.0]


def test_save_when_write_fails_leaves_nothing(tmp_path, monkeypatch, write_mode):
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


def test_save_when_rename_fails_leaves_nothing(tmp_path, monkeypatch, write_mode):
    p = tmp_path / "ck.pt"
    torch.save({"v": torch.ones(2)}, p)

    def deny(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", deny)
    with pytest.raises(PermissionError, match="ck.pt"):
        torch.save({"v": torch.zeros(2)}, p)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ck.pt"]
    assert torch.load(p)["v"].tolist() == [1.0, 1.0]


@posix_only
def test_permissions_fresh_and_overwritten(tmp_path, write_mode):
    umask = os.umask(0o027)
    try:
        torch.save(torch.ones(1), tmp_path / "new.pt")
        assert os.stat(tmp_path / "new.pt").st_mode & 0o777 == 0o640
        os.umask(0o022)
        torch.save(torch.ones(1), tmp_path / "new2.pt")
        assert os.stat(tmp_path / "new2.pt").st_mode & 0o777 == 0o644
        for mode in (0o600, 0o664):
            os.chmod(tmp_path / "new.pt", mode)
            torch.save(torch.zeros(1), tmp_path / "new.pt")
            assert os.stat(tmp_path / "new.pt").st_mode & 0o777 == mode
    finally:
        os.umask(umask)
    assert sorted(os.listdir(tmp_path)) == ["new.pt", "new2.pt"]


def test_long_file_name(tmp_path, write_mode):
    name = "m" * 250 + ".pt"
    torch.save(torch.ones(1), tmp_path / name)
    assert os.listdir(tmp_path) == [name]


# ---------------------------------------------------------------- load: hostile files
def st_file(header, body=b"", metadata=None):
    """A safetensors file built by hand: 8-byte length, JSON header, data."""
    if metadata is not None:
        header = {"__metadata__": metadata, **header}
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def raw_file(header, body=b""):
    """A file whose header is the raw bytes ``header``."""
    return struct.pack("<Q", len(header)) + header + body


def rustdl_file(structure, header=None, body=b""):
    """A file with a hand-written rustdl structure description in its metadata."""
    if header is None:
        header = {"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}
        body = b"\x01"
    meta = {"format": "pt", "rustdl.format": "rustdl", "rustdl.version": "1"}
    meta["rustdl.structure"] = structure if isinstance(structure, str) else json.dumps(structure)
    return st_file(header, body, meta)


F32x2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}

HOSTILE = {
    # the file: a numpy dtype string from the metadata that allocates 1 GB per element
    "void_dtype_ndarray": (rustdl_file({"T": "ndarray", "key": "x", "dtype": "V1000000000"}), "V1000000000"),
    "void_dtype_tensor": (rustdl_file({"T": "tensor", "key": "x", "dtype": "V1000000000"}), "V1000000000"),
    "object_dtype": (rustdl_file({"T": "ndarray", "key": "x", "dtype": "O"}), "dtype 'O'"),
    "structured_dtype": (rustdl_file({"T": "ndarray", "key": "x", "dtype": [["a", "<i4"]]}), "dtype"),
    "str_dtype": (rustdl_file({"T": "ndarray", "key": "x", "dtype": "U1000000000"}), "U1000000000"),
    "dtype_mismatch": (rustdl_file({"T": "ndarray", "key": "x", "dtype": "float64"}), "stored as uint8"),
    "header_void_dtype": (st_file({"x": {"dtype": "V1000000000", "shape": [1], "data_offsets": [0, 1]}}, b"\0"),
                          "unsupported dtype"),
    "huge_shape": (st_file({"x": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, b"\0" * 8),
                   "too large"),
    "huge_shape_fits_int64": (st_file({"x": {"dtype": "F32", "shape": [2**30, 2**20], "data_offsets": [0, 8]}},
                                      b"\0" * 8), "needs 4503599627370496 bytes"),
    "empty_but_huge_dim": (st_file({"x": {"dtype": "F32", "shape": [0, 2**62], "data_offsets": [0, 0]}}),
                           "too large"),
    "too_many_dims": (st_file({"x": {"dtype": "U8", "shape": [1] * 1_000, "data_offsets": [0, 1]}}, b"\0"),
                      "at most 64"),
    "offsets_past_end": (st_file({"x": {"dtype": "F32", "shape": [2**30], "data_offsets": [0, 2**32]}}, b"\0" * 8),
                         "do not lie within"),
    "negative_offset": (st_file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}, b"\0" * 8),
                        "integers >= 0"),
    "reversed_offsets": (st_file({"x": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}, b"\0" * 8),
                         "do not lie within"),
    "float_offsets": (st_file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0.0, 8.0]}}, b"\0" * 8),
                      "integers"),
    "overlap": (st_file({"a": F32x2, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),
                "overlaps"),
    "same_bytes_twice": (st_file({"a": F32x2, "b": F32x2}, b"\0" * 8), "overlaps"),
    "gap": (st_file({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8), "belong to no"),
    "trailing_bytes": (st_file({"a": F32x2}, b"\0" * 100), "after the last tensor"),
    "size_mismatch": (st_file({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
                      "needs 12 bytes"),
    "header_longer_than_file": (struct.pack("<Q", 2**63) + b'{"a": 1}', "larger than the file"),
    "header_len_just_over": (struct.pack("<Q", 9) + b'{"a": 1}', "larger than the file"),
    "header_not_object": (st_file([1, 2, 3]), "not a JSON object"),
    "header_not_utf8": (raw_file(b'"\xff"'), "utf-8"),
    "entry_not_object": (st_file({"a": 5}), "not an object"),
    "metadata_not_strings": (st_file({}, metadata={"a": [1]}), "strings"),
    "deep_header": (raw_file(b"[" * 100_000 + b"0" + b"]" * 100_000), "nested too deeply"),
    "deep_metadata": (raw_file(b'{"__metadata__": ' + b'{"a": ' * 50_000 + b'"x"' + b"}" * 50_001),
                      "nested too deeply"),
    "deep_structure_json": (rustdl_file("[" * 200_000 + "]" * 200_000), "nested too deeply"),
    "deep_structure_nodes": (rustdl_file('{"T": "list", "v": [' * 5_000 + '{"T": "none"}' + "]}" * 5_000),
                             "nested too deeply"),
    "dtype_node_not_a_dtype": (rustdl_file({"T": "dtype", "v": "from_numpy"}), "unknown dtype"),
    "size_node_not_ints": (rustdl_file({"T": "size", "v": ["a"]}), "bad Size"),
    "int_node_infinite": (rustdl_file('{"T": "int", "v": Infinity}'), "OverflowError"),
    "missing_tensor": (rustdl_file({"T": "tensor", "key": "nope"}), "nope"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_fails_fast_without_allocating(tmp_path, case):
    data, what = HOSTILE[case]
    path = tmp_path / f"{case}.pt"
    path.write_bytes(data)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(RuntimeError) as info:
            torch.load(path)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = str(info.value)
    assert f"{case}.pt" in msg and what in msg, msg
    assert elapsed < 0.5, elapsed
    assert peak < 16 * len(data) + 4_000_000, peak  # a few copies of the file at most


@linux_only
def test_hostile_files_peak_memory_in_fresh_process(tmp_path):
    """ru_maxrss also sees allocations tracemalloc cannot (the Rust engine's)."""
    for case, (data, _) in HOSTILE.items():
        (tmp_path / f"{case}.pt").write_bytes(data)
    script = textwrap.dedent(
        """
        import os, resource, sys, rustdl
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for name in sorted(os.listdir(sys.argv[1])):
            try:
                rustdl.load(os.path.join(sys.argv[1], name))
                print("LOADED", name)
            except RuntimeError:
                pass
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=child_env(),
                         capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert "LOADED" not in out, out
    assert int(out[-1]) < 64, f"peak RSS grew by {out[-1]} MB"


# ---------------------------------------------------------------- load: odd but valid files
def test_valid_edge_cases_still_load(tmp_path):
    # empty tensor with a large dimension, a zero-size tensor at the very end, bool bytes
    data = st_file({
        "e": {"dtype": "F32", "shape": [0, 10**6], "data_offsets": [0, 0]},
        "b": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]},
        "z": {"dtype": "I64", "shape": [0], "data_offsets": [3, 3]},
    }, b"\x00\x01\x02")
    (tmp_path / "ok.safetensors").write_bytes(data)
    out = torch.load(tmp_path / "ok.safetensors")
    assert list(out) == ["e", "b", "z"]
    assert tuple(out["e"].shape) == (0, 10**6)
    assert out["b"].dtype == torch.bool and out["b"].tolist() == [False, True, True]
    assert out["z"].dtype == torch.int64 and tuple(out["z"].shape) == (0,)


def test_foreign_unsigned_dtypes_widen(tmp_path):
    import safetensors.numpy as stnp

    arrays = {"a": np.array([1, 65535], np.uint16), "b": np.array([7, 2**32 - 1], np.uint32)}
    stnp.save_file(arrays, str(tmp_path / "u.safetensors"))
    out = torch.load(tmp_path / "u.safetensors")
    assert out["a"].dtype == torch.int64 and out["a"].tolist() == [1, 65535]
    assert out["b"].tolist() == [7, 2**32 - 1]


def test_numpy_arrays_of_every_saved_dtype_roundtrip(tmp_path):
    arrays = {name: np.arange(4).astype(name) for name in sorted(serialization._NUMPY_OK)}
    for fname in ("np.safetensors", "np.pt"):
        torch.save(arrays, tmp_path / fname)
        # numpy arrays in PyTorch's (pickle) format need weights_only=False, as in PyTorch
        out = torch.load(tmp_path / fname, weights_only=fname.endswith(".safetensors"))
        for name, arr in arrays.items():
            assert out[name].dtype == arr.dtype
            np.testing.assert_array_equal(out[name], arr)
