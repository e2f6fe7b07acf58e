"""PyTorch's checkpoint formats: reading and writing what ``torch.save`` writes.

* The zip format (PyTorch >= 1.6, the default): a zip archive whose records all sit in one
  folder (``<name>/``): ``data.pkl`` (the pickled object; every tensor is a call of
  ``torch._utils._rebuild_tensor_v2`` on a storage named by a persistent id
  ``('storage', torch.FloatStorage, key, location, numel)``), ``data/<key>`` (each
  storage's raw little-endian bytes, stored uncompressed at a 64-byte aligned offset),
  ``byteorder`` and ``version``.
* The legacy format (``_use_new_zipfile_serialization=False``): five pickles in a row
  (magic number, protocol version, system info, the object, the list of storage keys),
  then each storage as an int64 element count followed by its bytes.

Reading checks every record's size against what the pickle says before using it, reads
storages into buffers of exactly that size (or maps them, ``mmap=True``), and builds
tensors as views of one tensor per storage so shared storages stay shared. Which
unpickler runs (the restricted one, or a full one for ``weights_only=False``) is the
caller's choice.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict

import numpy as np

from . import _C, _utils
from ._weights_only_unpickler import storage_type_of, torch_path

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
DEFAULT_PROTOCOL = 2
STORAGE_ALIGNMENT = 64
_LEGACY_MAGIC_PICKLES = (b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", b"L119547037146038801333356")
_DEFLATE_MAX_RATIO = 1100  # deflate cannot expand data more than ~1032 times

UNSAFE_MESSAGE = (
    "In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` "
    "from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely succeed, "
    "but it can result in arbitrary code execution. Do it only if you got the file from a "
    "trusted source."
)


CheckpointError = _utils.CheckpointError


def sniff(head):
    """'zip', 'legacy' or None (not a PyTorch checkpoint) from a file's first bytes."""
    # A safetensors file starts with an 8-byte header length, which can be any bytes, then
    # its JSON header's '{': that byte tells it apart from a zip or pickle with the same start.
    if head[8:9] == b"{":
        return None
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head and any(m.startswith(head) or head.startswith(m) for m in _LEGACY_MAGIC_PICKLES):
        return "legacy"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "legacy"  # a pickle, but not of torch.save's magic number: fails with PyTorch's message
    return None


# ------------------------------------------------------------------ map_location
def _cuda_unavailable():
    return RuntimeError(
        "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. "
        "If you are running on a CPU-only machine, please use torch.load with "
        "map_location=torch.device('cpu') to map your storages to the CPU."
    )


def default_restore_location(storage, location):
    location = str(location)
    if location == "cpu" or location.startswith("cpu:"):
        return storage
    if location.startswith("cuda"):
        raise _cuda_unavailable()
    raise RuntimeError(
        f"don't know how to restore data location of torch.storage.UntypedStorage (tagged with {location})"
    )


def get_restore_location(map_location):
    """PyTorch's ``_get_restore_location``: (storage, saved location) -> storage."""
    if map_location is None:
        return default_restore_location
    if isinstance(map_location, dict):
        return lambda storage, location: default_restore_location(storage, map_location.get(location, location))
    if isinstance(map_location, bytes):
        map_location = map_location.decode()
    if isinstance(map_location, (str, _C.device)):
        return lambda storage, location: default_restore_location(storage, str(map_location))

    def restore(storage, location):
        result = map_location(storage, location)
        if result is None:
            result = default_restore_location(storage, location)
        if not isinstance(result, _utils.CheckpointStorage):
            raise TypeError(
                f"map_location returned {type(result).__name__}; rustdl storages can only stay on the CPU "
                "(return the storage it was given)"
            )
        return result

    return restore


def _storage_type(storage_type):
    st = storage_type_of(storage_type)
    if st is None:
        raise CheckpointError(f"persistent id names {storage_type!r:.80} where a storage type belongs")
    return st


def _check_count(value, what):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointError(f"{what} {value!r:.80} is not an integer >= 0")
    return value


# ------------------------------------------------------------------ zip: reading
class ZipCheckpoint:
    """The records of a zip-format checkpoint, all under one folder."""

    def __init__(self, zf, mapped=None):
        self.zf = zf
        self.mapped = mapped  # numpy memmap of the whole file (mmap=True), else None
        names = zf.namelist()
        if not names:
            raise CheckpointError("PytorchStreamReader failed reading zip archive: the archive is empty")
        self.prefix = names[0].split("/", 1)[0] + "/"
        self.names = set(names)

    def has_record(self, name):
        return self.prefix + name in self.names

    def info(self, name):
        try:
            info = self.zf.getinfo(self.prefix + name)
        except KeyError:
            raise CheckpointError(f"PytorchStreamReader failed locating file {name}: file not found") from None
        if info.compress_type == zipfile.ZIP_DEFLATED:
            if info.file_size > _DEFLATE_MAX_RATIO * max(info.compress_size, 1):
                raise CheckpointError(f"record {name} claims {info.file_size} bytes from {info.compress_size}")
        elif info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"record {name} uses an unsupported compression ({info.compress_type})")
        return info

    def get_record(self, name, limit=None):
        info = self.info(name)
        if limit is not None and info.file_size > limit:
            raise CheckpointError(f"record {name} is {info.file_size} bytes, over the {limit}-byte limit")
        return self.zf.read(info)

    def _data_offset(self, info):
        """Where a stored record's bytes start in the file (None if compressed)."""
        if info.compress_type != zipfile.ZIP_STORED or self.mapped is None:
            return None
        h = info.header_offset
        header = bytes(self.mapped[h : h + 30])
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise CheckpointError(f"bad local header for record {info.filename}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = h + 30 + name_len + extra_len
        if start + info.file_size > self.mapped.size:
            raise CheckpointError(f"record {info.filename} runs past the end of the file")
        return start

    def storage_bytes(self, name, nbytes):
        """Record ``name`` as a uint8 numpy array of exactly ``nbytes`` bytes."""
        info = self.info(name)
        if info.file_size != nbytes:
            raise CheckpointError(
                f"record {name} holds {info.file_size} bytes but the pickle describes a storage of {nbytes} bytes"
            )
        start = self._data_offset(info)
        if start is not None:
            return self.mapped[start : start + nbytes]
        buf = np.empty(nbytes, np.uint8)
        with self.zf.open(info) as fh:
            view, pos = memoryview(buf), 0
            while pos < nbytes:
                n = fh.readinto(view[pos:])
                if not n:
                    raise CheckpointError(f"record {name} is truncated")
                pos += n
            fh.read(1)  # reaching the end makes zipfile check the CRC
        return buf


def load_zip(archive, map_location, make_unpickler, pickle_load_args):
    """Unpickle ``data.pkl`` of a :class:`ZipCheckpoint` with its storages."""
    if archive.has_record("byteorder"):
        byteorder = archive.get_record("byteorder", limit=16)
        if byteorder not in (b"little", b"big"):
            raise ValueError("Unknown endianness type: " + byteorder.decode(errors="replace"))
    else:
        byteorder = b"little"
    restore = get_restore_location(map_location)
    loaded = {}

    def persistent_load(saved_id):
        if not isinstance(saved_id, tuple) or len(saved_id) != 5:
            raise CheckpointError(f"unexpected persistent id {saved_id!r:.80}")
        typename, storage_type, key, location, numel = saved_id
        if _maybe_decode_ascii(typename) != "storage":
            raise CheckpointError(f"Unknown typename for persistent_load, expected 'storage' but got '{typename}'")
        dtype_name = _storage_type(storage_type).dtype_name
        key = _maybe_decode_ascii(key)
        if not isinstance(key, str) or "/" in key or key in ("", ".", ".."):
            raise CheckpointError(f"bad storage key {key!r:.80}")
        nbytes = _check_count(numel, "storage size") * _utils.NUMPY_OF_DTYPE[dtype_name].itemsize
        storage = loaded.get(key)
        if storage is None or (storage.dtype_name != dtype_name and storage.nbytes() != nbytes):
            data = archive.storage_bytes(f"data/{key}", nbytes)
            if byteorder == b"big" and dtype_name != "bool":
                data = data.view(_utils.NUMPY_OF_DTYPE[dtype_name].newbyteorder(">")).astype(
                    _utils.NUMPY_OF_DTYPE[dtype_name]).view(np.uint8)
            storage = restore(_utils.CheckpointStorage(data, dtype_name, _maybe_decode_ascii(location)),
                              _maybe_decode_ascii(location))
            loaded.setdefault(key, storage)
        elif storage.dtype_name != dtype_name:
            storage = _utils.CheckpointStorage(storage.data, dtype_name, storage.location)
        return storage

    data = archive.get_record("data.pkl")
    unpickler = make_unpickler(io.BytesIO(data), pickle_load_args)
    unpickler.persistent_load = persistent_load
    return unpickler.load()


def _maybe_decode_ascii(s):
    return s.decode("ascii") if isinstance(s, bytes) else s


# ------------------------------------------------------------------ legacy: reading
def load_legacy(fh, map_location, make_unpickler, pickle_load_args, file_size):
    """Read the legacy (non-zip) format from the binary file ``fh`` (at its start)."""
    magic_number = make_unpickler(fh, pickle_load_args).load()
    if magic_number != MAGIC_NUMBER:
        raise CheckpointError("Invalid magic number; corrupt file?")
    protocol_version = make_unpickler(fh, pickle_load_args).load()
    if protocol_version != PROTOCOL_VERSION:
        raise RuntimeError(f"Invalid protocol version: {protocol_version}")
    make_unpickler(fh, pickle_load_args).load()  # system info
    restore = get_restore_location(map_location)
    storages = {}  # root key -> CheckpointStorage over a buffer filled once the pickle is read

    def persistent_load(saved_id):
        if not isinstance(saved_id, tuple) or not saved_id:
            raise CheckpointError(f"unexpected persistent id {saved_id!r:.80}")
        typename = _maybe_decode_ascii(saved_id[0])
        if typename == "module":
            return saved_id[1]  # a module class saved with its source (weights_only=False only)
        if typename != "storage" or len(saved_id) != 6:
            raise RuntimeError(f"Unknown saved id type: {saved_id[0]}")
        _, storage_type, root_key, location, numel, view_metadata = saved_id
        dtype_name = _storage_type(storage_type).dtype_name
        itemsize = _utils.NUMPY_OF_DTYPE[dtype_name].itemsize
        nbytes = _check_count(numel, "storage size") * itemsize
        if nbytes > file_size:
            raise CheckpointError(f"a storage of {nbytes} bytes cannot fit in a {file_size}-byte file")
        location = _maybe_decode_ascii(location)
        root = storages.get(root_key)
        if root is None:
            root = restore(_utils.CheckpointStorage(np.zeros(nbytes, np.uint8), dtype_name, location), location)
            storages[root_key] = root
        elif root.dtype_name != dtype_name:
            raise CheckpointError(f"storage {root_key!r:.40} is read as two dtypes")
        if view_metadata is None:
            return root
        view_key, offset, view_size = view_metadata
        start = _check_count(offset, "view offset") * itemsize
        stop = start + _check_count(view_size, "view size") * itemsize
        if stop > root.nbytes():
            raise CheckpointError("a storage view reaches past its storage")
        if view_key not in storages:
            storages[view_key] = _utils.CheckpointStorage(root.data[start:stop], dtype_name, location)
        return storages[view_key]

    unpickler = make_unpickler(fh, pickle_load_args)
    unpickler.persistent_load = persistent_load
    result = unpickler.load()
    keys = make_unpickler(fh, pickle_load_args).load()
    if not isinstance(keys, list):
        raise CheckpointError("the list of storage keys is missing")
    filled = []
    for key in keys:
        storage = storages.get(key)
        if storage is None:
            raise CheckpointError(f"storage key {key!r:.80} not found in deserialized_objects")
        head = fh.read(8)
        if len(head) != 8:
            raise CheckpointError(f"the data of storage {key!r:.40} is missing (file truncated)")
        (numel,) = struct.unpack("<q", head)
        if numel * storage.itemsize != storage.nbytes():
            raise CheckpointError(
                f"storage {key!r:.40} has {numel} elements in the file, {storage.size()} in the pickle"
            )
        if _read_into(fh, memoryview(storage.data)) != storage.nbytes():
            raise CheckpointError(f"the data of storage {key!r:.40} is truncated")
        filled.append(storage)
    for storage in filled:
        if storage._tensor is not None and not _shares(storage):
            # its tensor was made before the bytes were read and holds a (widened) copy
            with _no_grad():
                storage._tensor.copy_(_C.from_numpy(_utils._widen(storage._values(), storage.dtype_name)))
    return result


def _read_into(fh, view):
    """Fill ``view`` from ``fh`` (any binary file object); the number of bytes read."""
    pos = 0
    while pos < len(view):
        if hasattr(fh, "readinto"):
            n = fh.readinto(view[pos:])
        else:
            chunk = fh.read(len(view) - pos)
            n = len(chunk)
            view[pos : pos + n] = chunk
        if not n:
            break
        pos += n
    return pos


def _shares(storage):
    return _utils.rustdl_has_dtype(storage.dtype_name) and storage._tensor.data_ptr() == storage.data.ctypes.data


def _no_grad():
    from ._grad_mode import no_grad

    return no_grad()


# ------------------------------------------------------------------ writing
class _Global:
    """Pickles as ``GLOBAL module name`` without importing anything (the names are PyTorch's)."""

    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module = module
        self.name = name

    def __call__(self, *args):  # pickle wants reduce functions callable; this one never runs
        raise TypeError(f"{self.module}.{self.name} is a name written into a pickle")


_REBUILD_TENSOR = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
_REBUILD_PARAMETER_WITH_STATE = _Global("torch._utils", "_rebuild_parameter_with_state")
_ORDERED_DICT = _Global("collections", "OrderedDict")


class _StorageRef:
    __slots__ = ("key", "legacy", "numel", "storage_class")

    def __init__(self, key, storage_class, numel, legacy):
        self.key, self.storage_class, self.numel, self.legacy = key, storage_class, numel, legacy


class _SavedStorages:
    """The storages of the tensors being pickled, one record per rustdl storage."""

    def __init__(self, legacy):
        self.legacy = legacy
        self.refs = {}  # storage id -> _StorageRef
        self.data = {}  # key -> uint8 numpy array
        self._keep = []  # the tensors whose storage ids are in use

    def ref(self, t):
        """(storage ref, offset, size, stride) describing tensor ``t``."""
        name = _utils.dtype_name(t.dtype)
        storage_class = _utils.STORAGE_OF_DTYPE.get(name)
        if storage_class is None:
            raise TypeError(f"rustdl.save: cannot save tensors of dtype {t.dtype}")
        t = t.detach()
        if t.device.type == "cpu":
            sid, numel = t._storage_id(), t._storage_numel()
            size, stride, offset = tuple(t.shape), tuple(t.stride()), t.storage_offset()
            base = None if sid in self.refs else t.as_strided((numel,), (1,), 0)
        else:  # a device tensor: its values as a storage of its own
            base = t.cpu().contiguous().reshape(-1)
            sid, numel = ("device", id(base)), base.numel()
            size, stride, offset = tuple(t.shape), _contiguous_strides(t.shape), 0
        if base is not None:
            key = str(len(self.refs))
            if name == "bfloat16":  # numpy has no bfloat16: its words are float32's upper halves
                words = np.ascontiguousarray(base.to(_C.float32).numpy()).view(np.uint32) >> 16
                arr = words.astype(np.uint16)
            else:
                arr = np.ascontiguousarray(base.numpy())
            if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big"):
                arr = arr.astype(arr.dtype.newbyteorder("<"))
            self.data[key] = arr.reshape(-1).view(np.uint8)
            self.refs[sid] = _StorageRef(key, storage_class, numel, self.legacy)
            self._keep.append(t)
        return self.refs[sid], offset, size, stride


def _contiguous_strides(shape):
    strides, acc = [], 1
    for n in reversed(tuple(shape)):
        strides.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(strides))


def _global_of(obj):
    """The PyTorch (module, name) of a rustdl global object, or None."""
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        return None
    if module.startswith("rustdl") and (module == "rustdl" or module[6] == "."):
        from ._size import Size

        if obj is Size:
            return "torch", "Size"
        return torch_path(module), name
    return None


_PLAIN = {int, float, bool, type(None), str, bytes}


class TorchPickler(pickle._Pickler):
    """A pickler that writes rustdl objects as PyTorch's pickles name them: tensors as
    ``torch._utils._rebuild_tensor_v2`` of a storage (persistent id), parameters as
    ``_rebuild_parameter``, dtypes as ``torch.float32``, classes of rustdl as ``torch.*``."""

    def __init__(self, file, protocol, storages):
        super().__init__(file, protocol)
        self.storages = storages

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            storage_type = _Global("torch", obj.storage_class)
            if obj.legacy:
                return ("storage", storage_type, obj.key, "cpu", obj.numel, None)
            return ("storage", storage_type, obj.key, "cpu", obj.numel)
        return None

    def save(self, obj, save_persistent_id=True):
        t = type(obj)
        if t in _PLAIN:  # the bulk of big pickles: no persistent id, no reduction to look for
            if t is str or t is bytes:
                memo = self.memo.get(id(obj))
                if memo is not None:
                    self.write(self.get(memo[0]))
                    return
            self.framer.commit_frame()
            self.dispatch[t](self, obj)
            return
        if isinstance(obj, _Global):
            return self._save_global_name(obj, obj.module, obj.name)
        if isinstance(obj, _C.dtype):
            return self._save_global_name(obj, "torch", _utils.dtype_name(obj))
        return super().save(obj, save_persistent_id)

    def _save_global_name(self, obj, module, name):
        memo = self.memo.get(id(obj))
        if memo is not None:
            self.write(self.get(memo[0]))
            return
        self.write(pickle.GLOBAL + module.encode("utf-8") + b"\n" + name.encode("utf-8") + b"\n")
        self.memoize(obj)

    def save_global(self, obj, name=None):
        torch_name = _global_of(obj) if name is None else None
        if torch_name is not None:
            return self._save_global_name(obj, *torch_name)
        return super().save_global(obj, name)

    def reducer_override(self, obj):
        from ._size import Size
        from .nn.parameter import Parameter

        if isinstance(obj, _C.Tensor):
            if isinstance(obj, Parameter):
                state = {k: v for k, v in getattr(obj, "__dict__", {}).items() if not k.startswith("_")}
                data = obj.detach()
                if state:
                    return (_REBUILD_PARAMETER_WITH_STATE, (data, obj.requires_grad, _EmptyHooks(), state))
                return (_REBUILD_PARAMETER, (data, obj.requires_grad, _EmptyHooks()))
            ref, offset, size, stride = self.storages.ref(obj)
            return (_REBUILD_TENSOR, (ref, offset, size, stride, obj.requires_grad, _EmptyHooks()))
        if isinstance(obj, Size):
            return (_Global("torch", "Size"), (tuple(int(d) for d in obj),))
        if isinstance(obj, _C.device):
            args = (obj.type,) if obj.index is None else (obj.type, obj.index)
            return (_Global("torch", "device"), args)
        from .nn.modules.module import Module

        if isinstance(obj, Module):
            return _module_reduction(obj, self.proto)
        return NotImplemented


def _module_reduction(module, protocol):
    """A module pickled with the attributes PyTorch's ``Module.__setstate__``
    does not fill in for old checkpoints: ``_backward_hooks`` (empty), and an
    RNN's ``_flat_weights`` (its parameters by ``_flat_weights_names``), so
    ``torch.load(f, weights_only=False)`` in PyTorch gives a working module."""
    reduction = module.__reduce_ex__(protocol)
    if len(reduction) < 3 or not isinstance(reduction[2], dict):
        return reduction
    state = dict(reduction[2])
    state.setdefault("_backward_hooks", _EmptyHooks())
    names = state.get("_flat_weights_names")
    if isinstance(names, list) and "_all_weights" in state:
        state.setdefault("_flat_weights", [state["_parameters"].get(n) for n in names])
    return (*reduction[:2], state, *reduction[3:])


# functions go through the dispatch table, which holds the base class's save_global
TorchPickler.dispatch = dict(pickle._Pickler.dispatch)
TorchPickler.dispatch[types.FunctionType] = TorchPickler.save_global


class _EmptyHooks(OrderedDict):
    """The empty backward-hooks OrderedDict of a pickled tensor."""

    def __reduce__(self):
        return (_ORDERED_DICT, ())


def pickle_object(obj, protocol, legacy):
    """(data.pkl bytes, {key: uint8 array}) for ``obj``."""
    storages = _SavedStorages(legacy)
    buf = io.BytesIO()
    TorchPickler(buf, protocol, storages).dump(obj)
    return buf.getvalue(), storages


def _aligned_extra(offset, name):
    """A zip extra field ('FB' padding, as PyTorch writes) aligning a record's data to 64 bytes."""
    start = offset + 30 + len(name.encode("utf-8")) + 4
    pad = -start % STORAGE_ALIGNMENT
    return b"FB" + struct.pack("<H", pad) + b"Z" * pad


def write_zip(fh, obj, archive_name, protocol):
    """Write ``obj`` in PyTorch's zip format to the binary file ``fh`` (seekable or not)."""
    data_pkl, storages = pickle_object(obj, protocol, legacy=False)
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:

        def record(name, payload):
            full = f"{archive_name}/{name}"
            info = zipfile.ZipInfo(full, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            size = len(payload) if not isinstance(payload, np.ndarray) else payload.nbytes
            zip64 = size * 1.05 > zipfile.ZIP64_LIMIT
            info.extra = _aligned_extra(zf.fp.tell() + (20 if zip64 else 0), full)
            info.file_size = size
            with zf.open(info, "w", force_zip64=zip64) as out:
                out.write(memoryview(payload).cast("B") if isinstance(payload, np.ndarray) else payload)

        record("data.pkl", data_pkl)
        record("byteorder", b"little")
        for key, arr in storages.data.items():
            record(f"data/{key}", arr)
        record("version", b"3\n")
        record(".data/serialization_id", os.urandom(20).hex().encode()[:40])


def write_legacy(fh, obj, protocol):
    """Write ``obj`` in PyTorch's legacy (non-zip) format to the binary file ``fh``."""
    sys_info = {
        "protocol_version": PROTOCOL_VERSION,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    data_pkl, storages = pickle_object(obj, protocol, legacy=True)
    pickle.dump(MAGIC_NUMBER, fh, protocol=protocol)
    pickle.dump(PROTOCOL_VERSION, fh, protocol=protocol)
    pickle.dump(sys_info, fh, protocol=protocol)
    fh.write(data_pkl)
    keys = sorted(storages.data)
    pickle.dump(keys, fh, protocol=protocol)
    for key in keys:
        arr = storages.data[key]
        ref = next(r for r in storages.refs.values() if r.key == key)
        fh.write(struct.pack("<q", ref.numel))
        fh.write(memoryview(arr).cast("B"))
