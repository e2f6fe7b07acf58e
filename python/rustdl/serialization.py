"""``rustdl.save`` / ``rustdl.load``: safe checkpoints in the safetensors format.

A saved object becomes ONE safetensors file:

* every tensor (and numpy array) in the object is a safetensors tensor, keyed by its
  path in the structure (``"0.weight"`` for a state_dict entry, ``"model.0.weight"`` for
  ``{"model": state_dict}``, ``"optimizer.state.0.exp_avg"``, ...), so a saved
  state_dict is readable by ``safetensors.numpy.load_file`` with its original key names;
* the file's ``__metadata__`` holds a JSON description of everything else: containers
  (dict / OrderedDict / list / tuple / set, with int vs str keys), numbers, strings,
  ``None``, and per tensor its dtype, whether it is an ``nn.Parameter`` and whether it
  requires grad.

Loading only parses JSON and tensor bytes: no code is ever executed (no pickle), so
``weights_only`` is always honoured. A safetensors file written by another program
(e.g. a PyTorch state_dict saved with ``safetensors.torch.save_file``) loads as a flat
dict of tensors that ``Module.load_state_dict`` accepts.

Writes to a path are atomic: the data goes to a temporary file in the same directory
which then replaces the target with ``os.replace``; on any error the previous file is
left intact and the temporary file is removed.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import struct
import tempfile
from collections import OrderedDict

import numpy as np

from . import _C

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "save"]

FORMAT_NAME = "rustdl"
FORMAT_VERSION = 1
_META_KEY = "rustdl.structure"

# dtypes safetensors (and rustdl) can hold
_NUMPY_OK = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"}
_RUSTDL_DTYPES = {"bool", "uint8", "int32", "int64", "float32", "float64"}


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

            arr = obj.detach().numpy()
            key = self._store(obj, arr, path)
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
    return stnp.save(enc.tensors, metadata=meta)


# --------------------------------------------------------------------------- save
def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Save ``obj`` (tensors, state_dicts, nested containers) to ``f`` (path or binary file).

    The extra PyTorch arguments (``pickle_module`` ...) are accepted and ignored: rustdl
    never pickles.
    """
    data = _serialize(obj)
    if not _is_path(f):
        if not hasattr(f, "write"):
            raise TypeError(f"rustdl.save: f must be a path or a writable binary file object, got {type(f).__name__}")
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
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    except PermissionError as e:
        raise PermissionError(e.errno, f"rustdl.save: cannot write to '{path}' (directory not writable)", path) from e
    except OSError as e:
        raise RuntimeError(f"rustdl.save: cannot write to '{path}': {e}") from e
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # keep the permissions a plain open() would give (mkstemp makes 0600)
        try:
            if os.path.exists(path):
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, PermissionError):
            raise PermissionError(e.errno, f"rustdl.save: cannot write to '{path}'", path) from e
        raise
    return


# --------------------------------------------------------------------------- load
def _read_bytes(f):
    if _is_path(f):
        path = os.fsdecode(os.fspath(f))
        with open(path, "rb") as fh:  # FileNotFoundError / PermissionError name the path
            return fh.read()
    if not hasattr(f, "read"):
        raise TypeError(f"rustdl.load: f must be a path or a readable binary file object, got {type(f).__name__}")
    data = f.read()
    if isinstance(data, str):
        raise TypeError("rustdl.load: the file object must be opened in binary mode")
    return bytes(data)


def _parse_header(data):
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    return header.get("__metadata__") or {}, [k for k in header if k != "__metadata__"], header


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
        if node["T"] == "ndarray":
            out = np.array(arr, dtype=node.get("dtype", arr.dtype.name), copy=True)
        else:
            want = node.get("dtype", arr.dtype.name)
            if want not in _RUSTDL_DTYPES:
                raise RuntimeError(f"rustdl.load: tensor '{key}' has dtype {want}, which rustdl does not support")
            arr = np.array(arr, dtype=want, order="C", copy=True)
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
            return getattr(_C, v.rsplit(".", 1)[-1])
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

            return Size(v)
        raise ValueError(f"unknown node type {T!r}")


def load(f, map_location=None, weights_only=True, mmap=None, **pickle_load_args):
    """Load an object saved with :func:`save` (or any safetensors file) from ``f``.

    Never executes code. ``map_location`` may be ``None``, ``'cpu'``, a ``device``, a
    dict or a callable ``(tensor, location) -> tensor``; rustdl only has the CPU.
    """
    import safetensors.numpy as stnp

    name = _name_of(f)
    fix = _resolve_map_location(map_location)
    data = _read_bytes(f)
    try:
        if len(data) < 8:
            raise ValueError(f"file is too short ({len(data)} bytes)")
        meta, keys, _ = _parse_header(data)
        arrays = stnp.load(data)
    except Exception as e:  # noqa: BLE001  # SafetensorError, JSON / UTF-8 / struct errors
        raise RuntimeError(
            f"rustdl.load: '{name}' is not a valid rustdl/safetensors checkpoint (corrupt, truncated or "
            f"another format such as a pickle-based torch.save file): {e}"
        ) from None

    structure = meta.get(_META_KEY)
    if structure is None:
        # A plain safetensors file (e.g. written by safetensors.torch.save_file):
        # a flat dict of tensors, in the file's key order.
        dec = _Decoder(arrays, fix)
        out = OrderedDict()
        for k in keys:
            arr = arrays[k]
            if arr.dtype.name not in _RUSTDL_DTYPES:
                # float16 / int16 / int8 / ...: widen to a dtype rustdl has
                arr = arr.astype(np.float32 if arr.dtype.kind == "f" else np.int64)
                arrays[k] = arr
            out[k] = dec.tensor({"T": "tensor", "key": k, "dtype": arr.dtype.name})
        return out
    try:
        tree = json.loads(structure)
        return _Decoder(arrays, fix).decode(tree)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as e:
        raise RuntimeError(f"rustdl.load: '{name}' has a corrupt rustdl structure description: {e!r}") from None


def _roundtrip(obj):
    """save + load through memory (used by tests and deepcopy-like helpers)."""
    buf = io.BytesIO()
    save(obj, buf)
    buf.seek(0)
    return load(buf)
