"""``torch._utils``: the functions PyTorch checkpoints call to rebuild tensors.

A pickle written by ``torch.save`` names ``torch._utils._rebuild_tensor_v2`` (and its
relatives) as the function that turns ``(storage, offset, size, stride, ...)`` back into
a tensor; ``python -m rustdl`` resolves ``torch._utils`` to this module, and the
checkpoint loaders (``rustdl.serialization``) hand these functions the storages they
read. A storage is a :class:`CheckpointStorage`: the record's bytes as a numpy array;
every tensor rebuilt from one storage is a view of the same rustdl tensor, so views
saved together stay views of each other.

Every size, stride and offset is checked against the storage before a view is made: a
hostile checkpoint raises RuntimeError instead of reading outside the record.
"""

from __future__ import annotations

import math

import numpy as np

from . import _C

__all__ = [
    "CheckpointStorage",
    "StorageType",
    "_rebuild_device_tensor_from_cpu_tensor",
    "_rebuild_device_tensor_from_numpy",
    "_rebuild_from_type_v2",
    "_rebuild_meta_tensor_no_storage",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_qtensor",
    "_rebuild_sparse_tensor",
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_wrapper_subclass",
]

class CheckpointError(RuntimeError):
    """A malformed checkpoint (``rustdl.load`` adds the file's name)."""


# PyTorch dtype name -> little-endian numpy dtype of its bytes (bfloat16: raw 16-bit words)
NUMPY_OF_DTYPE = {
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
    "float16": np.dtype("<f2"),
    "bfloat16": np.dtype("<u2"),
    "int64": np.dtype("<i8"),
    "int32": np.dtype("<i4"),
    "int16": np.dtype("<i2"),
    "int8": np.dtype("i1"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
    "uint32": np.dtype("<u4"),
    "uint64": np.dtype("<u8"),
    "bool": np.dtype("?"),
    "complex64": np.dtype("<c8"),
    "complex128": np.dtype("<c16"),
}

# legacy storage class name (``torch.FloatStorage``) -> dtype name
STORAGE_DTYPES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "UntypedStorage": "uint8",
}
STORAGE_OF_DTYPE = {d: s for s, d in STORAGE_DTYPES.items() if s != "UntypedStorage"}


def dtype_name(dtype):
    """'float32' for rustdl.float32, torch.float32 or a :class:`ForeignDtype`."""
    return str(dtype).rsplit(".", 1)[-1]


def rustdl_has_dtype(name):
    return isinstance(getattr(_C, name, None), _C.dtype) and str(getattr(_C, name)) == f"rustdl.{name}"


class ForeignDtype:
    """A PyTorch dtype rustdl has no tensors of (``torch.float16`` before rustdl has it):
    what ``torch.float16`` unpickles to, so that a checkpoint naming it still loads."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"

    def __eq__(self, other):
        return isinstance(other, ForeignDtype) and other.name == self.name

    def __hash__(self):
        return hash(("ForeignDtype", self.name))

    def __reduce__(self):
        return (ForeignDtype, (self.name,))


def dtype_object(name):
    """rustdl's dtype called ``name``, or a :class:`ForeignDtype` standing for it."""
    return getattr(_C, name) if rustdl_has_dtype(name) else ForeignDtype(name)


class StorageType:
    """What ``torch.FloatStorage`` & co. unpickle to: it only names a dtype."""

    def __init__(self, name):
        if name not in STORAGE_DTYPES:
            raise KeyError(name)
        self.name = name
        self.dtype_name = STORAGE_DTYPES[name]

    @property
    def dtype(self):
        return dtype_object(self.dtype_name)

    def __str__(self):
        return f"StorageType(dtype=torch.{self.dtype_name})"

    __repr__ = __str__

    def __eq__(self, other):
        return isinstance(other, StorageType) and other.name == self.name

    def __hash__(self):
        return hash(("StorageType", self.name))


def _widen(arr, name):
    """``arr`` (the raw values of dtype ``name``) as an array of a dtype rustdl has."""
    if name == "bfloat16":
        return (arr.astype(np.uint32) << 16).view(np.float32)
    if name.startswith("complex"):
        raise RuntimeError(f"rustdl has no complex tensors (the checkpoint holds a torch.{name} tensor)")
    if arr.dtype.kind == "f":
        return arr.astype(np.float32)
    if arr.dtype.kind == "b":
        return arr.astype(np.bool_)
    return arr.astype(np.int64)


class CheckpointStorage:
    """One storage of a checkpoint: ``data`` holds its bytes (a 1-D uint8 numpy array,
    possibly a window of a memory-mapped file), read as ``dtype_name`` elements.

    :meth:`tensor` is the 1-D rustdl tensor over those bytes (made once): of the same
    memory when rustdl has the dtype and the bytes are aligned, else of widened copies
    (float16/bfloat16 -> float32, int8/int16/uint16/uint32/uint64 -> int64)."""

    def __init__(self, data, dtype_name, location="cpu"):
        self.data = data
        self.dtype_name = dtype_name
        self.location = location
        self._tensor = None

    @property
    def itemsize(self):
        return NUMPY_OF_DTYPE[self.dtype_name].itemsize

    def size(self):
        return self.data.size // self.itemsize

    __len__ = size

    def nbytes(self):
        return int(self.data.size)

    @property
    def device(self):
        return _C.device("cpu")

    @property
    def dtype(self):
        return dtype_object(self.dtype_name)

    def cpu(self):
        return self

    def cuda(self, *args, **kwargs):  # what ``map_location=lambda s, loc: s.cuda()`` calls
        raise RuntimeError("Torch not compiled with CUDA enabled (rustdl has no CUDA; use map_location='cpu')")

    def __repr__(self):
        return f"CheckpointStorage(dtype=torch.{self.dtype_name}, size={self.size()})"

    def _values(self):
        """The bytes as a numpy array of this storage's element type."""
        np_dtype = NUMPY_OF_DTYPE[self.dtype_name]
        data = self.data
        if data.ctypes.data % np_dtype.itemsize:
            data = data.copy()  # unaligned record: rustdl tensors need aligned memory
        arr = data.view(np_dtype)
        if self.dtype_name == "bool" and arr.size and data.max() > 1:
            arr = data != 0  # bytes other than 0/1 are not valid numpy/rustdl bools
        return arr

    def tensor(self):
        if self._tensor is None:
            arr = self._values()
            # numpy has no bfloat16: its raw 16-bit words are widened to float32 (and cast
            # back when rustdl has bfloat16 tensors)
            native = rustdl_has_dtype(self.dtype_name) and self.dtype_name != "bfloat16"
            if not native or arr.dtype.newbyteorder("=") != arr.dtype:
                arr = _widen(arr, self.dtype_name)
            if not arr.flags.writeable:
                arr = arr.copy()
            t = _C.from_numpy(arr)
            if self.dtype_name == "bfloat16" and rustdl_has_dtype("bfloat16"):
                t = t.to(_C.bfloat16)  # exact: the float32 values came from bfloat16 words
            self._tensor = t
        return self._tensor


def _as_int_tuple(value, what):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise CheckpointError(f"rebuilding a tensor: {what} must be a tuple of ints, got {value!r:.80}")
    return tuple(value)


def _view(storage, storage_offset, size, stride):
    if not isinstance(storage, CheckpointStorage):
        raise CheckpointError(f"rebuilding a tensor: expected a storage, got {type(storage).__name__}")
    size = _as_int_tuple(size, "size")
    stride = _as_int_tuple(stride, "stride")
    if not isinstance(storage_offset, int) or isinstance(storage_offset, bool):
        raise CheckpointError(f"rebuilding a tensor: storage offset must be an int, got {storage_offset!r:.80}")
    if len(size) != len(stride) or len(size) > 64:
        raise CheckpointError(f"rebuilding a tensor: size {size} and stride {stride} do not match")
    if storage_offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise CheckpointError(
            f"rebuilding a tensor: negative size, stride or offset (size {size}, stride {stride}, "
            f"offset {storage_offset})"
        )
    numel = storage.size()
    if math.prod(size) != 0:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= numel:
            raise CheckpointError(
                f"rebuilding a tensor: size {list(size)}, stride {list(stride)} and offset {storage_offset} "
                f"reach element {last} of a storage of {numel} elements"
            )
    elif storage_offset > numel:
        raise CheckpointError(f"rebuilding a tensor: offset {storage_offset} is past a storage of {numel} elements")
    base = storage.tensor()
    if size == (numel,) and stride == (1,) and storage_offset == 0:
        return base.view(numel) if base.dim() == 1 else base
    return base.as_strided(size, stride, storage_offset)


def _set_requires_grad(t, requires_grad):
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _view(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    return _set_requires_grad(_view(storage, storage_offset, size, stride), requires_grad)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    if isinstance(storage, CheckpointStorage):
        name = dtype_name(dtype)
        if name not in NUMPY_OF_DTYPE:
            raise CheckpointError(f"rebuilding a tensor: unsupported dtype {dtype!r}")
        if storage.dtype_name != name:
            if storage.data.size % NUMPY_OF_DTYPE[name].itemsize:
                raise CheckpointError(f"rebuilding a tensor: a storage of {storage.data.size} bytes is no {name} array")
            storage = CheckpointStorage(storage.data, name, storage.location)
    return _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    from .nn.parameter import Parameter

    if not isinstance(data, _C.Tensor):
        raise CheckpointError(f"rebuilding a Parameter: expected a tensor, got {type(data).__name__}")
    return Parameter(data, bool(requires_grad))


def _set_obj_state(obj, state):
    if isinstance(state, tuple):
        if len(state) != 2:
            raise CheckpointError(f"Invalid serialized state: {state!r:.80}")
        dict_state, slots_state = state
    else:
        dict_state, slots_state = state, None
    for mapping in (dict_state, slots_state):
        if mapping:
            if not isinstance(mapping, dict):
                raise CheckpointError(f"Invalid serialized state: {mapping!r:.80}")
            for k, v in mapping.items():
                setattr(obj, k, v)
    return obj


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_obj_state(_rebuild_parameter(data, requires_grad, backward_hooks), state)


def _rebuild_from_type_v2(func, new_type, args, state):
    ret = func(*args)
    from .nn.parameter import Parameter

    if new_type is Parameter and not isinstance(ret, Parameter):
        ret = Parameter(ret, ret.requires_grad)
    if state:
        _set_obj_state(ret, state)
    return ret


def _rebuild_device_tensor_from_cpu_tensor(data, dtype, device, requires_grad):
    if isinstance(dtype, _C.dtype) and data.dtype != dtype:
        data = data.to(dtype)
    return _set_requires_grad(data, requires_grad)


def _rebuild_device_tensor_from_numpy(data, dtype, device, requires_grad):
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "biuf":
        raise CheckpointError("rebuilding a tensor from numpy: expected a numeric numpy array")
    t = _C.from_numpy(np.array(data, copy=True))
    return _rebuild_device_tensor_from_cpu_tensor(t, dtype, device, requires_grad)


def _unsupported(name, what):
    def rebuild(*args, **kwargs):
        raise RuntimeError(f"rustdl cannot load {what} from a checkpoint")

    rebuild.__name__ = rebuild.__qualname__ = name
    return rebuild


_rebuild_meta_tensor_no_storage = _unsupported("_rebuild_meta_tensor_no_storage", "meta tensors")
_rebuild_sparse_tensor = _unsupported("_rebuild_sparse_tensor", "sparse tensors")
_rebuild_qtensor = _unsupported("_rebuild_qtensor", "quantized tensors")
_rebuild_wrapper_subclass = _unsupported("_rebuild_wrapper_subclass", "tensor subclasses")

REBUILD_FUNCTIONS = {
    f.__name__: f
    for f in (
        _rebuild_parameter,
        _rebuild_parameter_with_state,
        _rebuild_qtensor,
        _rebuild_tensor,
        _rebuild_tensor_v2,
        _rebuild_tensor_v3,
        _rebuild_sparse_tensor,
        _rebuild_meta_tensor_no_storage,
        _rebuild_wrapper_subclass,
        _rebuild_device_tensor_from_numpy,
        _rebuild_device_tensor_from_cpu_tensor,
    )
}
