"""``rustdl.save`` / ``rustdl.load`` (``torch.save`` / ``torch.load``; ``python -m rustdl``
makes this module ``torch.serialization``).

Formats, told apart on load by their first bytes:

* **PyTorch's zip format** — what ``rustdl.save`` writes by default (any path not ending in
  ``.safetensors``, and file objects), so ``torch.load(f, weights_only=True)`` in PyTorch
  reads a rustdl state_dict; ``_use_new_zipfile_serialization=False`` writes PyTorch's
  legacy format instead. Both are read (``_torch_checkpoint.py``).
* **safetensors** — written for a path ending in ``.safetensors``: every tensor (and numpy
  array) is a safetensors tensor keyed by its path in the structure (``"0.weight"``,
  ``"model.0.weight"``, ...), readable by ``safetensors.numpy.load_file``; the file's
  ``__metadata__`` holds a JSON description of everything else (containers, numbers,
  strings, dtypes, Parameter / requires_grad flags). Loading parses JSON and bytes only.
  Any safetensors file loads (a foreign one as a flat dict of tensors), and so do the
  rustdl checkpoints of earlier versions, which were all of this kind.

Safety: a pickle-based checkpoint is read by default (``weights_only=None`` -> True, as
PyTorch >= 2.6) through the restricted unpickler of ``_weights_only_unpickler.py``, which
constructs only an allowlist of globals (tensors, storages, dtypes, ``torch.Size``,
``OrderedDict``, primitive containers) and refuses everything else with PyTorch's
``UnpicklingError`` message; :func:`add_safe_globals` / :class:`safe_globals` extend the
allowlist. ``weights_only=False`` uses a full unpickler (``torch.*`` names resolve to
rustdl's): like ``pickle.load`` it CAN RUN ARBITRARY CODE from the file, so pass it only
for files you trust. No default path executes code from a file.

Writes to a path are atomic: the data goes to a new file in the same directory which
then replaces the target with ``os.replace``; on any error, or a kill at any point, the
previous file is left intact. On Linux that new file has no name until the rename
(``O_TMPFILE``), so a killed save leaves nothing behind; elsewhere it is a named temp that
the next save into the same directory removes once its writer is dead.

Loading checks every size the file states (safetensors header and offsets, zip records
against the storage sizes the pickle gives, tensor sizes/strides/offsets against their
storage) before allocating or viewing: a corrupt or hostile file raises quickly.
"""

from __future__ import annotations

import base64
import errno
import io
import json
import math
import os
import pickle
import re
import struct
import sys
import warnings
import zipfile
import zlib
from collections import OrderedDict

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import numpy as np

from . import _C, _utils
from . import _torch_checkpoint as _tc
from . import _weights_only_unpickler as _wo

__all__ = [
    "DEFAULT_PROTOCOL",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "add_safe_globals",
    "clear_safe_globals",
    "get_default_mmap_options",
    "get_safe_globals",
    "get_unsafe_globals_in_checkpoint",
    "load",
    "safe_globals",
    "save",
    "set_default_mmap_options",
]

FORMAT_NAME = "rustdl"
FORMAT_VERSION = 1
_META_KEY = "rustdl.structure"

# dtypes safetensors (and rustdl) can hold
_NUMPY_OK = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"}
_RUSTDL_DTYPES = {
    "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
}


class _BF16Array(np.ndarray):
    """bfloat16 values read from a file, held as (exact) float32: NumPy has no bfloat16."""


def _bf16_bits(t):
    """A bfloat16 tensor's raw 16-bit patterns (the top half of its exact float32 values)."""
    wide = np.ascontiguousarray(t.detach().float().numpy())
    return (wide.view("<u4") >> 16).astype("<u2")


def _bf16_from_bits(bits):
    return (bits.astype("<u4") << 16).view("<f4").view(_BF16Array)


def _stored_dtype(arr):
    return "bfloat16" if isinstance(arr, _BF16Array) else arr.dtype.name


def _is_path(f):
    return isinstance(f, (str, bytes, os.PathLike))


def _name_of(f):
    if _is_path(f):
        return os.fsdecode(os.fspath(f))
    return getattr(f, "name", None) or repr(f)


def _dtype_name(t):
    return str(t.dtype).rsplit(".", 1)[-1]


# --------------------------------------------------------------------------- encoding
class _Encoder:
    def __init__(self):
        self.tensors = {}  # safetensors key -> numpy array
        self.bf16_keys = set()  # keys whose uint16 array holds bfloat16 bits
        self.by_id = {}  # id(tensor) -> key (a tensor saved twice is stored once)
        self._keep = []  # keep objects alive so ids stay unique

    def _unique_key(self, path):
        key = path if path else "tensor"
        if key not in self.tensors:
            return key
        i = 1
        while f"{key}#{i}" in self.tensors:
            i += 1
        return f"{key}#{i}"

    def _store(self, obj, arr, path):
        if id(obj) in self.by_id:
            return self.by_id[id(obj)]
        key = self._unique_key(path)
        self.tensors[key] = np.array(arr, order="C", copy=True)
        self.by_id[id(obj)] = key
        self._keep.append(obj)
        return key

    @staticmethod
    def _join(path, k):
        k = str(k)
        return f"{path}.{k}" if path else k

    def encode(self, obj, path=""):
        if obj is None:
            return {"T": "none"}
        if isinstance(obj, _C.Tensor):
            from .nn.parameter import Parameter

            bf16 = obj.dtype == _C.bfloat16
            arr = _bf16_bits(obj) if bf16 else obj.detach().numpy()
            key = self._store(obj, arr, path)
            if bf16:
                self.bf16_keys.add(key)
            node = {"T": "tensor", "key": key, "dtype": _dtype_name(obj)}
            if isinstance(obj, Parameter):
                node["param"] = True
            if obj.requires_grad:
                node["requires_grad"] = True
            return node
        if isinstance(obj, np.ndarray):
            if obj.dtype.name not in _NUMPY_OK:
                raise TypeError(f"rustdl.save: numpy arrays of dtype {obj.dtype} are not supported (at '{path}')")
            key = self._store(obj, obj, path)
            return {"T": "ndarray", "key": key, "dtype": obj.dtype.name}
        if isinstance(obj, np.generic):
            obj = obj.item()
        if isinstance(obj, bool):
            return {"T": "bool", "v": obj}
        if isinstance(obj, int):
            return {"T": "int", "v": int(obj)}
        if isinstance(obj, float):
            if math.isfinite(obj):
                return {"T": "float", "v": float(obj)}
            return {"T": "float", "v": repr(float(obj))}  # 'nan', 'inf', '-inf'
        if isinstance(obj, complex):
            return {"T": "complex", "v": [obj.real, obj.imag] if math.isfinite(abs(obj)) else [repr(obj.real), repr(obj.imag)]}
        if isinstance(obj, str):
            return {"T": "str", "v": obj}
        if isinstance(obj, (bytes, bytearray)):
            return {"T": "bytes", "v": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, _C.dtype):
            return {"T": "dtype", "v": str(obj)}
        if isinstance(obj, _C.device):
            return {"T": "device", "v": str(obj)}
        if isinstance(obj, dict):
            tag = "odict" if isinstance(obj, OrderedDict) else "dict"
            if type(obj) not in (dict, OrderedDict):
                # e.g. defaultdict: saved as its plain mapping
                tag = "dict"
            items = []
            for k, v in obj.items():
                if isinstance(k, (_C.Tensor, np.ndarray, list, dict)):
                    raise TypeError(f"rustdl.save: unsupported dict key of type {type(k).__name__} at '{path}'")
                items.append([self.encode(k, path + ".<key>"), self.encode(v, self._join(path, k))])
            return {"T": tag, "v": items}
        from ._size import Size

        if isinstance(obj, Size):
            return {"T": "size", "v": [int(d) for d in obj]}
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            raise TypeError(
                f"rustdl.save: namedtuple {type(obj).__name__} at '{path or '<root>'}' is not supported; "
                "convert it to a tuple or dict"
            )
        if isinstance(obj, (list, tuple)):
            tag = "list" if isinstance(obj, list) else "tuple"
            return {"T": tag, "v": [self.encode(v, self._join(path, i)) for i, v in enumerate(obj)]}
        if isinstance(obj, (set, frozenset)):
            tag = "set" if isinstance(obj, set) else "frozenset"
            return {"T": tag, "v": [self.encode(v, self._join(path, i)) for i, v in enumerate(obj)]}
        raise TypeError(
            f"rustdl.save: cannot save object of type {type(obj).__module__}.{type(obj).__qualname__} "
            f"at '{path or '<root>'}'. Supported: tensors, numpy arrays, dict/list/tuple/set, "
            "numbers, strings, bytes, None (save a module's state_dict(), not the module)."
        )


def _serialize(obj):
    import safetensors.numpy as stnp

    enc = _Encoder()
    structure = enc.encode(obj)
    meta = {
        "format": "pt",  # Hugging Face convention; the tensors are plain PyTorch-layout tensors
        "rustdl.format": FORMAT_NAME,
        "rustdl.version": str(FORMAT_VERSION),
        _META_KEY: json.dumps(structure, separators=(",", ":"), allow_nan=False),
    }
    data = stnp.save(enc.tensors, metadata=meta)
    return _mark_bf16(data, enc.bf16_keys) if enc.bf16_keys else data


def _mark_bf16(data, keys):
    """Relabel the U16 entries that hold bfloat16 bits as BF16 in a safetensors header."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    for k in keys:
        header[k]["dtype"] = "BF16"
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads the header to 8 bytes
    return len(text).to_bytes(8, "little") + text + data[8 + n :]


# --------------------------------------------------------------------------- save
DEFAULT_PROTOCOL = _tc.DEFAULT_PROTOCOL
MAGIC_NUMBER = _tc.MAGIC_NUMBER
PROTOCOL_VERSION = _tc.PROTOCOL_VERSION
UNSAFE_MESSAGE = _tc.UNSAFE_MESSAGE


def _archive_name(path):
    """The folder PyTorch puts a zip checkpoint's records in: the file's stem."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem if stem and stem.isprintable() and "/" not in stem and "\\" not in stem else "archive"


def save(obj, f, pickle_module=None, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save ``obj`` to ``f`` (a path or a writable binary file object), as ``torch.save``.

    The format is PyTorch's zip format (``torch.load`` in PyTorch reads it), or PyTorch's
    legacy format with ``_use_new_zipfile_serialization=False``, or safetensors for a
    path ending in ``.safetensors``. Tensors sharing a storage are saved once, as views
    of it. Anything picklable can be saved, a whole ``nn.Module`` included; loading
    objects other than tensors, containers and numbers needs ``weights_only=False`` or
    :func:`add_safe_globals`, as in PyTorch. ``pickle_module`` is accepted and ignored
    (the pickler is rustdl's own, which writes rustdl's objects under PyTorch's names).
    """
    safetensors = _is_path(f) and os.fsdecode(os.fspath(f)).endswith(".safetensors")
    if safetensors:
        data = _serialize(obj)
    else:
        protocol = DEFAULT_PROTOCOL if pickle_protocol is None else pickle_protocol
        if _use_new_zipfile_serialization:
            name = _archive_name(os.fsdecode(os.fspath(f))) if _is_path(f) else "archive"

            def data(fh):
                _tc.write_zip(fh, obj, name, protocol)
        else:

            def data(fh):
                _tc.write_legacy(fh, obj, protocol)

    if not _is_path(f):
        if not hasattr(f, "write"):
            raise TypeError(f"rustdl.save: f must be a path or a writable binary file object, got {type(f).__name__}")
        if callable(data):
            data(f)
        else:
            f.write(data)
        if hasattr(f, "flush"):
            f.flush()
        return

    path = os.fsdecode(os.fspath(f))
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {directory} does not exist (while saving to '{path}').")
    if os.path.isdir(path):
        raise IsADirectoryError(f"rustdl.save: '{path}' is a directory")
    _write_atomic(path, directory, data)


# Atomic writes. The data goes to a new file in the target's directory which, once complete
# and fsync'ed, replaces the target with os.replace: a crash or kill -9 at any moment leaves
# the old or the new checkpoint, never a torn one. On Linux the new file is unnamed
# (O_TMPFILE) until the very end, so a killed save leaves nothing behind; it gets a temp
# name only to be renamed onto the target. Where O_TMPFILE is unavailable the file is a
# named temp from the start. Temp names carry the writer's pid, so that every save removes
# the temps of writers that died (a kill during a fallback save, or in the instant between
# the link and the rename).
_USE_O_TMPFILE = sys.platform.startswith("linux") and hasattr(os, "O_TMPFILE")
# what os.open(dir, O_TMPFILE) fails with where the kernel or the filesystem lacks it
_NO_O_TMPFILE = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EISDIR, errno.EINVAL, errno.ENOSYS}
_TEMP_NAME = re.compile(r"\..*\.rustdl-([0-9]{1,10})-[0-9a-f]{12}\.tmp")


def _temp_name(path):
    stem = os.path.basename(path)
    while len(os.fsencode(stem)) > 180:  # keep the temp name within NAME_MAX (255 bytes)
        stem = stem[:-1]
    return f".{stem}.rustdl-{os.getpid()}-{os.urandom(6).hex()}.tmp"


def _write_atomic(path, directory, data):
    """Write ``data`` (bytes, or a function writing into a binary file) to ``path`` atomically."""
    try:
        mode = os.stat(path).st_mode & 0o7777  # an overwritten file keeps its permissions
    except OSError:
        mode = None  # a new file gets what open() gives: 0o666 & ~umask
    # created private when it will be chmod-ed to an existing file's (maybe stricter) mode
    create_mode = 0o666 if mode is None else 0o600
    _remove_stale_temps(directory)
    if _USE_O_TMPFILE:
        try:
            fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, create_mode)
        except OSError as e:
            if e.errno not in _NO_O_TMPFILE:
                raise _cannot_create(e, path) from e
        else:
            if _commit(fd, data, mode, path, directory, tmp=None):
                return
            # the unnamed file could not be linked (e.g. no /proc): write a named temp instead
    tmp = os.path.join(directory, _temp_name(path))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, create_mode)
    except OSError as e:
        raise _cannot_create(e, path) from e
    _commit(fd, data, mode, path, directory, tmp)


def _cannot_create(e, path):
    if isinstance(e, PermissionError):
        return PermissionError(e.errno, f"rustdl.save: cannot write to '{path}' (directory not writable)", path)
    return RuntimeError(f"rustdl.save: cannot write to '{path}': {e}")


def _commit(fd, data, mode, path, directory, tmp):
    """Write ``data`` to the new file ``fd``, fsync it, rename it onto ``path``; close ``fd``.

    ``tmp`` is the file's name, or None for an unnamed O_TMPFILE, which is linked to a temp
    name just before the rename. Returns False, with nothing left on disk, when that link
    is impossible. On any error the target is untouched and no temp file remains.
    """
    named = tmp is not None  # whether a temp name exists on disk that must not outlive us
    try:
        try:
            if fcntl is not None:
                try:  # tells _remove_stale_temps of other processes that this writer is alive
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    pass
            if callable(data):  # a writer streaming into the file (zipfile needs seek/tell)
                with open(fd, "wb", closefd=False) as fh:
                    data(fh)
            else:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            if mode is not None:
                try:
                    os.fchmod(fd, mode)
                except OSError:
                    pass
            os.fsync(fd)
            if tmp is None:
                tmp = os.path.join(directory, _temp_name(path))
                try:
                    _link_unnamed(fd, tmp)
                except OSError:
                    return False
                named = True
            os.replace(tmp, path)
            named = False
        finally:
            os.close(fd)
    except BaseException as e:
        if named:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(e, PermissionError):
            raise PermissionError(e.errno, f"rustdl.save: cannot write to '{path}'", path) from e
        raise
    return True


def _link_unnamed(fd, name):
    """Give the O_TMPFILE ``fd`` the path ``name`` (in the directory it was made in)."""
    dir_fd = os.open(os.path.dirname(name), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # With a dir_fd CPython calls linkat(..., AT_SYMLINK_FOLLOW); without one it may call
        # link(2), which would try to link the /proc symlink itself (EXDEV) instead of the file.
        os.link(f"/proc/self/fd/{fd}", os.path.basename(name), dst_dir_fd=dir_fd, follow_symlinks=True)
    finally:
        os.close(dir_fd)


def _remove_stale_temps(directory):
    """Delete the temp files that killed ``rustdl.save`` calls left in ``directory``.

    Only names of rustdl's own temp pattern are considered, and one is removed only when
    the pid in its name is not a live process and no process holds the writer's lock on it.
    """
    if os.name != "posix":
        return  # no harmless liveness test (os.kill(pid, 0) terminates the process on Windows)
    try:
        with os.scandir(directory) as it:
            entries = list(it)
    except OSError:
        return
    for entry in entries:
        m = _TEMP_NAME.fullmatch(entry.name)
        if m is None:
            continue
        try:
            if entry.is_file(follow_symlinks=False) and not _writer_alive(entry.path, int(m.group(1))):
                os.unlink(entry.path)
        except OSError:
            pass


def _writer_alive(path, pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        pass
    except (OSError, OverflowError):  # EPERM: alive, another user's process
        return True
    # No such pid here, but the writer may live in another pid namespace (a container) or on
    # another host sharing the folder: a live writer holds an exclusive lock on its file.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return True  # cannot tell: leave it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- load
# The safetensors dtypes rustdl reads, as numpy dtypes (the format is little-endian).
_ST_DTYPES = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype([("bf16", "<u2")]),  # a marker: read as bits, converted in _read_safetensors
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_MAX_HEADER = 100_000_000  # bytes; the safetensors library's own limit
_MAX_NDIM = 64


class _BadFile(ValueError):
    """What is wrong with a file that is not a valid safetensors file (load makes it a RuntimeError)."""


def _short(x, limit=80):
    """repr(x) cut to ``limit`` characters: values from a hostile file can be huge."""
    r = repr(x)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _read_safetensors(data):
    """Parse the safetensors file held in ``data`` (bytes).

    Returns ``(metadata, arrays)``: the ``__metadata__`` dict and ``{name: numpy array}`` in
    the file's order, the arrays being read-only views of ``data``. Every size taken from
    the file is checked against the file's length before anything is allocated: a bad file
    raises _BadFile naming what is wrong.
    """
    if len(data) < 8:
        raise _BadFile(f"file is too short ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise _BadFile(f"header length {n} is larger than the file ({len(data)} bytes)")
    if n > _MAX_HEADER:
        raise _BadFile(f"header length {n} is over the {_MAX_HEADER}-byte limit")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except RecursionError:
        raise _BadFile("header JSON is nested too deeply") from None
    if not isinstance(header, dict):
        raise _BadFile("header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise _BadFile("__metadata__ is not a mapping of strings to strings")

    body_start, body_len = 8 + n, len(data) - 8 - n
    entries = {name: _check_entry(name, info, body_len) for name, info in header.items()}
    # the tensors' byte ranges must tile the data section exactly (as safetensors requires)
    pos = 0
    for begin, end, name in sorted((b, e, name) for name, (_, _, b, e) in entries.items()):
        if begin < pos:
            raise _BadFile(f"tensor {_short(name)} (bytes {begin}..{end}) overlaps another tensor")
        if begin > pos:
            raise _BadFile(f"data bytes {pos}..{begin} belong to no tensor")
        pos = end
    if pos != body_len:
        raise _BadFile(f"{body_len - pos} bytes after the last tensor belong to no tensor")

    arrays = {}
    for name, (dtype, shape, begin, end) in entries.items():
        if dtype == np.bool_:  # any nonzero byte is True (a raw bool byte of 2 is invalid)
            arr = np.frombuffer(data, np.uint8, end - begin, body_start + begin) != 0
        elif dtype == _ST_DTYPES["BF16"]:
            arr = _bf16_from_bits(np.frombuffer(data, "<u2", (end - begin) // 2, body_start + begin))
        else:
            arr = np.frombuffer(data, dtype, (end - begin) // dtype.itemsize, body_start + begin)
        arrays[name] = arr.reshape(shape)
    return meta, arrays


def _check_entry(name, info, body_len):
    """Validate one tensor entry of a safetensors header: (dtype, shape, begin, end)."""
    if not isinstance(info, dict):
        raise _BadFile(f"tensor {_short(name)}: header entry is not an object")
    code, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    dtype = _ST_DTYPES.get(code) if isinstance(code, str) else None
    if dtype is None:
        raise _BadFile(f"tensor {_short(name)}: unsupported dtype {_short(code)}")
    shape_ok = isinstance(shape, list) and len(shape) <= _MAX_NDIM and all(_is_int(d) and d >= 0 for d in shape)
    if not shape_ok:
        raise _BadFile(
            f"tensor {_short(name)}: shape {_short(shape)} is not a list of at most {_MAX_NDIM} sizes >= 0"
        )
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) and o >= 0 for o in offsets)):
        raise _BadFile(f"tensor {_short(name)}: data_offsets {_short(offsets)} are not two integers >= 0")
    begin, end = offsets
    if begin > end or end > body_len:
        raise _BadFile(
            f"tensor {_short(name)}: data_offsets {_short(offsets)} do not lie within the "
            f"{body_len}-byte data section"
        )
    # element strides must fit in 64 bits, also for empty tensors (whose size is 0)
    if math.prod(d for d in shape if d) * dtype.itemsize >= 2**63:
        raise _BadFile(f"tensor {_short(name)}: shape {_short(shape)} is too large")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != end - begin:
        raise _BadFile(
            f"tensor {_short(name)}: shape {list(shape)} of {code} needs {nbytes} bytes, "
            f"data_offsets give {end - begin}"
        )
    return dtype, tuple(shape), begin, end


def _resolve_map_location(map_location):
    """Return a function tensor -> tensor; only the CPU exists in rustdl."""
    if map_location is None:
        return lambda t: t
    if callable(map_location) and not isinstance(map_location, (str, _C.device)):
        def fn(t):
            r = map_location(t, "cpu")
            return t if r is None else r

        return fn
    if isinstance(map_location, dict):
        targets = {str(v) for v in map_location.values()}
    else:
        targets = {str(map_location)}
    for tgt in targets:
        if not tgt.startswith("cpu"):
            if tgt.startswith("cuda"):
                raise RuntimeError(
                    "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. "
                    "If you are running on a CPU-only machine, please use torch.load with "
                    "map_location=torch.device('cpu') to map your storages to the CPU."
                )
            raise RuntimeError(f"rustdl.load: unsupported map_location {map_location!r} (only 'cpu' exists)")
    return lambda t: t


class _Decoder:
    def __init__(self, arrays, fix):
        self.arrays = arrays
        self.fix = fix
        self.cache = {}

    def tensor(self, node):
        key = node["key"]
        if key in self.cache:
            return self.cache[key]
        arr = self.arrays[key]
        stored = _stored_dtype(arr)
        want = node.get("dtype", stored)
        # only the dtypes rustdl writes, and the one the tensor is stored as: a dtype string
        # from the file never reaches numpy otherwise (e.g. 'V1000000000': 1 GB per element)
        allowed = _NUMPY_OK if node["T"] == "ndarray" else _RUSTDL_DTYPES
        if not isinstance(want, str) or want not in allowed:
            raise ValueError(f"tensor {_short(key)} has dtype {_short(want)}, which rustdl does not support")
        if want != stored:
            raise ValueError(f"tensor {_short(key)} is described as {want} but stored as {stored}")
        if node["T"] == "ndarray":
            out = np.array(arr, dtype=want, copy=True)
        else:
            arr = np.array(arr, dtype="float32" if want == "bfloat16" else want, order="C", copy=True)
            t = _C.from_numpy(arr)
            if str(t.dtype).rsplit(".", 1)[-1] != want:
                t = t.to(getattr(_C, want))
            t = self.fix(t)
            if node.get("param"):
                from .nn.parameter import Parameter

                t = Parameter(t, requires_grad=bool(node.get("requires_grad", False)))
            elif node.get("requires_grad"):
                t.requires_grad_(True)
            out = t
        self.cache[key] = out
        return out

    def decode(self, node):
        T = node["T"]
        v = node.get("v")
        if T == "none":
            return None
        if T in ("tensor", "ndarray"):
            return self.tensor(node)
        if T == "bool":
            return bool(v)
        if T == "int":
            return int(v)
        if T == "float":
            return float(v)
        if T == "complex":
            return complex(float(v[0]), float(v[1]))
        if T == "str":
            return str(v)
        if T == "bytes":
            return base64.b64decode(v)
        if T == "dtype":
            dtype = getattr(_C, v.rsplit(".", 1)[-1], None)
            if not isinstance(dtype, _C.dtype):
                raise ValueError(f"unknown dtype {_short(v)}")
            return dtype
        if T == "device":
            return _C.device(v)
        if T == "dict":
            return {self.decode(k): self.decode(x) for k, x in v}
        if T == "odict":
            return OrderedDict((self.decode(k), self.decode(x)) for k, x in v)
        if T == "list":
            return [self.decode(x) for x in v]
        if T == "tuple":
            return tuple(self.decode(x) for x in v)
        if T == "set":
            return {self.decode(x) for x in v}
        if T == "frozenset":
            return frozenset(self.decode(x) for x in v)
        if T == "size":
            from ._size import Size

            if not all(_is_int(d) for d in v):
                raise ValueError(f"bad Size {_short(v)}")
            return Size(v)
        raise ValueError(f"unknown node type {T!r}")


def _load_safetensors(data, name, map_location):
    fix = _resolve_map_location(map_location)
    try:
        meta, arrays = _read_safetensors(data)
    except Exception as e:  # noqa: BLE001  # our checks, JSON / UTF-8 errors
        raise RuntimeError(
            f"rustdl.load: '{name}' is not a valid checkpoint: neither PyTorch's zip or legacy format nor "
            f"rustdl/safetensors (corrupt or truncated?): {e}"
        ) from None

    structure = meta.get(_META_KEY)
    if structure is None:
        # A plain safetensors file (e.g. written by safetensors.torch.save_file):
        # a flat dict of tensors, in the file's key order.
        dec = _Decoder(arrays, fix)
        out = OrderedDict()
        for k in list(arrays):
            arr = arrays[k]
            if _stored_dtype(arr) not in _RUSTDL_DTYPES:
                # uint16 / uint32 / uint64: widen to a dtype rustdl has
                arr = arr.astype(np.int64)
                arrays[k] = arr
            out[k] = dec.tensor({"T": "tensor", "key": k, "dtype": _stored_dtype(arr)})
        return out
    try:
        tree = json.loads(structure)
        return _Decoder(arrays, fix).decode(tree)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OverflowError, RecursionError) as e:
        what = "nested too deeply" if isinstance(e, RecursionError) else _short(e, 300)
        raise RuntimeError(f"rustdl.load: '{name}' has a corrupt rustdl structure description: {what}") from None


# ------------------------------------------------------------------ the weights_only allowlist
def add_safe_globals(safe_globals):
    """Mark the given globals as safe for ``weights_only`` load, as
    ``torch.serialization.add_safe_globals``: classes/functions, or ``(obj, "full.name")``
    pairs. rustdl's classes are also matched under their PyTorch names
    (``rustdl.nn.Linear`` allows ``torch.nn.modules.linear.Linear``)."""
    _wo._add_safe_globals(safe_globals)


def clear_safe_globals():
    """Clear the list of globals that are safe for ``weights_only`` load."""
    _wo._clear_safe_globals()


def get_safe_globals():
    """The list of user-added globals that are safe for ``weights_only`` load."""
    return _wo._get_safe_globals()


class safe_globals(_wo._safe_globals):
    """Context manager that adds certain globals as safe for ``weights_only`` load.

    >>> with torch.serialization.safe_globals([MyClass]):
    ...     torch.load("f.pt", weights_only=True)
    """


def _get_wo_message(message):
    """PyTorch's wording of a weights_only refusal (``torch.load``'s ``_get_wo_message``)."""
    docs_message = (
        "\n\nCheck the documentation of torch.load to learn more about types accepted by default with "
        "weights_only https://pytorch.org/docs/stable/generated/torch.load.html."
    )
    has_unsafe_global = re.search(r"GLOBAL (\S+) was not an allowed global by default.", message) is not None
    has_blocklist = re.search(r"whose module (\S+) is blocked", message) is not None
    has_import = re.search(r"(\S+) must be (\S+) to load", message) is not None
    if has_unsafe_global:
        updated_message = (
            "Weights only load failed. This file can still be loaded, to do so you have two options, "
            "\033[1mdo those steps only if you trust the source of the checkpoint\033[0m. "
            f"\n\t(1) {UNSAFE_MESSAGE}\n\t(2) Alternatively, to load with `weights_only=True` please check "
            "the recommended steps in the following error message.\n\tWeightsUnpickler error: " + message
        )
    else:
        if has_import:
            return f"Weights only load failed. {message}\n {UNSAFE_MESSAGE}\n"
        updated_message = f"Weights only load failed. {UNSAFE_MESSAGE}\n"
        if not has_blocklist:
            updated_message += (
                "Please file an issue with the following so that we can make "
                "`weights_only=True` compatible with your use case: WeightsUnpickler error: "
            )
        updated_message += "\n\n" + message
    return updated_message + docs_message


# ------------------------------------------------------------------ mmap options
try:
    from mmap import MAP_PRIVATE as _MAP_PRIVATE
    from mmap import MAP_SHARED as _MAP_SHARED
except ImportError:  # Windows
    _MAP_PRIVATE = _MAP_SHARED = None
_mmap_flags = _MAP_PRIVATE


def get_default_mmap_options():
    """The mmap flags ``load(..., mmap=True)`` maps files with (default ``mmap.MAP_PRIVATE``)."""
    return _mmap_flags


class set_default_mmap_options:
    """Context manager or function setting the flags ``load(..., mmap=True)`` maps files with:
    ``mmap.MAP_PRIVATE`` (copy-on-write: writes to the tensors stay in memory) or
    ``mmap.MAP_SHARED`` (writes to the tensors go to the file)."""

    def __init__(self, flags):
        global _mmap_flags
        if _MAP_SHARED is None:
            raise RuntimeError("Changing the default mmap options is currently not supported for Windows")
        if flags != _MAP_PRIVATE and flags != _MAP_SHARED:
            raise ValueError(
                "Invalid argument in function set_default_mmap_options, "
                f"expected mmap.MAP_PRIVATE or mmap.MAP_SHARED, but got {flags}"
            )
        self.prev = _mmap_flags
        _mmap_flags = flags

    def __enter__(self):
        pass

    def __exit__(self, exc_type, exc_value, traceback):
        global _mmap_flags
        _mmap_flags = self.prev


default_restore_location = _tc.default_restore_location
StorageType = _utils.StorageType


# ------------------------------------------------------------------ unpicklers
_LOAD_MODULE_MAPPING = {"torch.tensor": "torch._tensor"}


def _full_unpickler_class(pickle_module):
    """PyTorch's ``UnpicklerWrapper`` for ``weights_only=False``: ``torch.*`` names resolve
    to rustdl's objects. It is ``pickle_module.Unpickler``: it CAN RUN CODE from the file."""
    import importlib

    from ._import_hook import _rustdl_name

    class UnpicklerWrapper(pickle_module.Unpickler):
        def find_class(self, mod_name, name):
            if type(name) is str and "Storage" in name:
                try:
                    return _utils.StorageType(name)
                except KeyError:
                    pass
            mod_name = _LOAD_MODULE_MAPPING.get(mod_name, mod_name)
            real = _rustdl_name(mod_name)
            allowed = _wo._get_allowed_globals()
            if real is not None and f"{mod_name}.{name}" in allowed:  # rebuild functions, dtypes, ...
                return allowed[f"{mod_name}.{name}"]
            if real is not None:
                try:
                    obj = importlib.import_module(real)
                    for part in name.split("."):
                        obj = getattr(obj, part)
                    return obj
                except (ImportError, AttributeError):
                    raise AttributeError(
                        f"rustdl.load: the checkpoint needs {mod_name}.{name}, which rustdl does not have "
                        f"(looked for {real}.{name})"
                    ) from None
            return super().find_class(mod_name, name)

    return UnpicklerWrapper


def _unpickler_factory(weights_only, pickle_module):
    if weights_only:
        def make(file, args):
            return _wo.Unpickler(file, **args)
    else:
        cls = _full_unpickler_class(pickle_module)

        def make(file, args):
            return cls(file, **args)

    return make


def get_unsafe_globals_in_checkpoint(f):
    """The globals of a checkpoint's pickle that ``weights_only`` would refuse (read
    without unpickling anything), as ``torch.serialization.get_unsafe_globals_in_checkpoint``."""
    import pickletools

    with _open_for_reading(f) as (fh, _name):
        kind = _tc.sniff(_peek(fh, 16))
        if kind != "zip":
            raise ValueError("Expected input to be a checkpoint returned by torch.save")
        archive = _tc.ZipCheckpoint(zipfile.ZipFile(fh))
        data = archive.get_record("data.pkl")
    allowed = set(_wo._get_allowed_globals()) | set(_wo._get_user_allowed_globals())
    found = set()
    for op, arg, _pos in pickletools.genops(data):
        if op.name == "GLOBAL":
            module, name = arg.split(" ", 1)
            module, name = _wo.NAME_MAPPING.get((module, name), (_wo.IMPORT_MAPPING.get(module, module), name))
            found.add(f"{module}.{name}")
    return sorted(found - allowed)


# ------------------------------------------------------------------ load
class _open_for_reading:
    """(binary file object, name) for a path or a file object; a non-seekable one is read
    into memory first."""

    def __init__(self, f):
        self.f = f
        self.owned = None

    def __enter__(self):
        f = self.f
        if _is_path(f):
            self.owned = open(os.fsdecode(os.fspath(f)), "rb")  # FileNotFoundError names the path
            return self.owned, _name_of(f)
        if not hasattr(f, "read"):
            raise TypeError(f"rustdl.load: f must be a path or a readable binary file object, got {type(f).__name__}")
        seekable = getattr(f, "seekable", None)
        if seekable is None or not seekable():
            data = f.read()
            if isinstance(data, str):
                raise TypeError("rustdl.load: the file object must be opened in binary mode")
            return io.BytesIO(bytes(data)), _name_of(f)
        return f, _name_of(f)

    def __exit__(self, *exc):
        if self.owned is not None:
            self.owned.close()


def _peek(fh, n):
    pos = fh.tell()
    head = fh.read(n)
    if isinstance(head, str):
        raise TypeError("rustdl.load: the file object must be opened in binary mode")
    fh.seek(pos)
    return bytes(head)


def _resolve_weights_only(weights_only, pickle_module):
    true_values = ["1", "y", "yes", "true"]
    not_set = weights_only is None
    if not_set:
        weights_only = pickle_module is None
    force = os.getenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in true_values
    force_no = os.getenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0").lower() in true_values
    if force and force_no:
        raise RuntimeError(
            "Only one of `TORCH_FORCE_WEIGHTS_ONLY_LOAD` or `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD` "
            "should be set, but both were set."
        )
    if force:
        weights_only = True
    elif force_no and not_set:
        warnings.warn(
            "Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD detected, since the"
            "`weights_only` argument was not explicitly passed to `torch.load`, forcing weights_only=False.",
            UserWarning,
            stacklevel=3,
        )
        weights_only = False
    return bool(weights_only)


# what a malformed pickle-based checkpoint raises inside the loaders (made a RuntimeError
# naming the file); with weights_only=False the file's own code may raise anything, kept as is
_MALFORMED = (_tc.CheckpointError, zipfile.BadZipFile, EOFError, struct.error, zlib.error, UnicodeDecodeError)
_MALFORMED_WEIGHTS_ONLY = _MALFORMED + (IndexError, KeyError, TypeError, ValueError, AttributeError, OverflowError,
                                        RecursionError, LookupError, NotImplementedError)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved with ``torch.save`` / ``rustdl.save`` from ``f`` (a path or a
    binary file object, ``io.BytesIO`` included), as ``torch.load``.

    Reads PyTorch's zip and legacy formats, safetensors and rustdl's own safetensors
    checkpoints (the format is told by the file's first bytes).

    ``weights_only`` (default: True unless ``pickle_module`` is given, as PyTorch >= 2.6)
    restricts unpickling to tensors, containers, numbers and the globals allowed with
    :func:`add_safe_globals`; anything else raises ``pickle.UnpicklingError``.
    ``weights_only=False`` unpickles everything and CAN RUN ARBITRARY CODE from the file:
    only use it for files you trust.

    ``map_location``: ``None``, a device or string, a dict ``{saved: target}``, or a
    callable ``(storage, location) -> storage``; rustdl's storages live on the CPU, so a
    CUDA target raises PyTorch's "torch.cuda.is_available() is False" error.
    ``mmap=True`` (zip format, ``f`` a path): tensors are backed by the file, mapped
    copy-on-write, instead of read into memory.
    """
    weights_only = _resolve_weights_only(weights_only, pickle_module)
    if weights_only:
        if pickle_module is not None:
            raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    elif pickle_module is None:
        pickle_module = pickle
    if pickle_load_args and weights_only:
        warnings.warn("pickle_load_args only works if `weights_only=False`.", stacklevel=2)
        pickle_load_args = {}
    pickle_load_args.setdefault("encoding", "utf-8")

    with _open_for_reading(f) as (fh, name):
        kind = _tc.sniff(_peek(fh, 16))
        if kind is None:
            data = fh.read()
            if isinstance(data, str):
                raise TypeError("rustdl.load: the file object must be opened in binary mode")
            return _load_safetensors(bytes(data), name, map_location)
        make_unpickler = _unpickler_factory(weights_only, pickle_module)
        if mmap and kind == "zip" and not _is_path(f):
            raise ValueError("f must be a file path in order to use the mmap argument")
        malformed = _MALFORMED_WEIGHTS_ONLY if weights_only else _MALFORMED
        if mmap and kind == "legacy":
            f_name = "" if not isinstance(f, str) else f"{f}, "
            raise RuntimeError(
                "mmap can only be used with files saved with "
                f"`torch.save({f_name}_use_new_zipfile_serialization=True), "
                "please torch.save your checkpoint with this option in order to use mmap."
            )
        try:
            if kind == "zip":
                return _load_zip(f, fh, mmap, weights_only, map_location, make_unpickler, pickle_load_args)
            size = _file_size(fh)
            return _tc.load_legacy(fh, map_location, make_unpickler, pickle_load_args, size)
        except pickle.UnpicklingError as e:
            if weights_only:
                raise pickle.UnpicklingError(_get_wo_message(str(e))) from None
            raise
        except malformed as e:
            raise RuntimeError(f"rustdl.load: '{name}' is not a valid PyTorch checkpoint: {_short(e, 500)}") from None


def _file_size(fh):
    pos = fh.tell()
    end = fh.seek(0, 2)
    fh.seek(pos)
    return end - pos


def _load_zip(f, fh, mmap, weights_only, map_location, make_unpickler, pickle_load_args):
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, NotImplementedError, ValueError, EOFError) as e:
        raise _tc.CheckpointError(f"PytorchStreamReader failed reading zip archive: {e}") from None
    mapped = None
    if mmap:
        # MAP_PRIVATE (the default) is copy-on-write: writes to the tensors stay in memory
        shared = _MAP_SHARED is not None and _mmap_flags == _MAP_SHARED
        mapped = np.memmap(os.fspath(f), dtype=np.uint8, mode="r+" if shared else "c")
    archive = _tc.ZipCheckpoint(zf, mapped)
    if archive.has_record("constants.pkl"):
        if weights_only:
            raise RuntimeError(
                "Cannot use ``weights_only=True`` with TorchScript archives passed to ``torch.load``. "
                + UNSAFE_MESSAGE
            )
        raise RuntimeError("rustdl.load: this is a TorchScript archive (torch.jit.save); rustdl cannot load those")
    return _tc.load_zip(archive, map_location, make_unpickler, pickle_load_args)


def _roundtrip(obj):
    """save + load through memory (used by tests and deepcopy-like helpers)."""
    buf = io.BytesIO()
    save(obj, buf)
    buf.seek(0)
    return load(buf)
