"""The restricted unpickler behind ``rustdl.load(..., weights_only=True)`` (the default).

It follows PyTorch's ``torch._weights_only_unpickler`` opcode for opcode (the pickle
protocol-2 subset that ``torch.save`` writes) and raises its ``UnpicklingError`` messages:

* ``GLOBAL`` only resolves names of an allowlist (tensor rebuild functions, storage
  types, dtypes, ``torch.Size``/``device``/``Tensor``/``nn.Parameter``,
  ``collections.OrderedDict``/``Counter``, ``builtins`` ``set``/``bytearray``/``complex``,
  ``_codecs.encode``) or added by the user with ``add_safe_globals`` / ``safe_globals``;
  anything else, and everything from ``sys``/``os``/``posix``/``nt`` even when allowlisted,
  is refused before it is looked up. Nothing is ever imported by name.
* ``REDUCE`` calls, and ``NEWOBJ``/``BUILD`` construct, only what ``GLOBAL`` produced.
* ``APPEND(S)`` only to lists, ``SETITEM(S)`` only to dict/OrderedDict/Counter, persistent
  ids only ``('storage', ...)``; any other opcode is refused.
* Beyond PyTorch, the data opcodes of pickle protocols 3-5 (bytes, short strings, frames,
  ``MEMOIZE``, ``STACK_GLOBAL`` under the same allowlist) and Python 2's ``BINSTRING``
  are read, so files saved with ``pickle_protocol=4`` load too.

So loading a file can never run code from the file. The names a checkpoint uses are the
PyTorch names (``torch._utils._rebuild_tensor_v2``); they resolve to rustdl's objects.
"""

from __future__ import annotations

import warnings
from _codecs import encode
from collections import Counter, OrderedDict
from pickle import (
    ADDITEMS,
    APPEND,
    APPENDS,
    BINBYTES,
    BINBYTES8,
    BINFLOAT,
    BINGET,
    BININT,
    BININT1,
    BININT2,
    BINPERSID,
    BINPUT,
    BINSTRING,
    BINUNICODE,
    BINUNICODE8,
    BUILD,
    BYTEARRAY8,
    EMPTY_DICT,
    EMPTY_LIST,
    EMPTY_SET,
    EMPTY_TUPLE,
    FRAME,
    FROZENSET,
    GLOBAL,
    LONG1,
    LONG4,
    LONG_BINGET,
    LONG_BINPUT,
    MARK,
    MEMOIZE,
    NEWFALSE,
    NEWOBJ,
    NEWTRUE,
    NONE,
    PROTO,
    REDUCE,
    SETITEM,
    SETITEMS,
    SHORT_BINBYTES,
    SHORT_BINSTRING,
    SHORT_BINUNICODE,
    STACK_GLOBAL,
    STOP,
    TUPLE,
    TUPLE1,
    TUPLE2,
    TUPLE3,
    UnpicklingError,
    bytes_types,
    decode_long,
)
from struct import unpack
from sys import maxsize

from . import _C, _utils

# modules nothing may be loaded from, even when the user allowlists it
_blocklisted_modules = ["sys", "os", "posix", "nt"]

_marked_safe_globals_set: set = set()

# torch._utils' adaptation of _compat_pickle (names in protocol-2 pickles written by Python 2)
IMPORT_MAPPING = {
    "__builtin__": "builtins",
    "copy_reg": "copyreg",
    "Queue": "queue",
    "repr": "reprlib",
    "_abcoll": "collections.abc",
    "UserDict": "collections",
    "UserList": "collections",
    "UserString": "collections",
    "whichdb": "dbm",
    "StringIO": "io",
    "cStringIO": "io",
}
NAME_MAPPING = {
    ("__builtin__", "xrange"): ("builtins", "range"),
    ("__builtin__", "reduce"): ("functools", "reduce"),
    ("__builtin__", "intern"): ("sys", "intern"),
    ("__builtin__", "unichr"): ("builtins", "chr"),
    ("__builtin__", "unicode"): ("builtins", "str"),
    ("__builtin__", "long"): ("builtins", "int"),
    ("itertools", "izip"): ("builtins", "zip"),
    ("itertools", "imap"): ("builtins", "map"),
    ("itertools", "ifilter"): ("builtins", "filter"),
    ("itertools", "ifilterfalse"): ("itertools", "filterfalse"),
    ("itertools", "izip_longest"): ("itertools", "zip_longest"),
    ("UserDict", "IterableUserDict"): ("collections", "UserDict"),
    ("UserList", "UserList"): ("collections", "UserList"),
    ("UserString", "UserString"): ("collections", "UserString"),
    ("__builtin__", "basestring"): ("builtins", "str"),
    ("exceptions", "StandardError"): ("builtins", "Exception"),
    ("UserDict", "UserDict"): ("collections", "UserDict"),
}


# ------------------------------------------------------------------ the user's allowlist
def _add_safe_globals(safe_globals):
    global _marked_safe_globals_set
    _marked_safe_globals_set = _marked_safe_globals_set.union(set(safe_globals))


def _get_safe_globals():
    return list(_marked_safe_globals_set)


def _clear_safe_globals():
    global _marked_safe_globals_set
    _marked_safe_globals_set = set()


def _remove_safe_globals(globals_to_remove):
    global _marked_safe_globals_set
    _marked_safe_globals_set = _marked_safe_globals_set - set(globals_to_remove)


class _safe_globals:
    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        _add_safe_globals(self.safe_globals)

    def __exit__(self, type, value, tb):
        _remove_safe_globals(self.safe_globals)


def torch_path(module):
    """The PyTorch spelling of a rustdl module path: ``rustdl.nn.x`` -> ``torch.nn.x``,
    ``rustdl.vision.x`` -> ``torchvision.x`` (what ``python -m rustdl`` maps back)."""
    if module == "rustdl.vision" or module.startswith("rustdl.vision."):
        return "torchvision" + module[len("rustdl.vision"):]
    if module == "rustdl" or module.startswith("rustdl."):
        return "torch" + module[len("rustdl"):]
    return module


def _get_user_allowed_globals():
    rc = {}
    for f in _marked_safe_globals_set:
        if isinstance(f, tuple):
            if len(f) != 2:
                raise ValueError(
                    f"Expected tuple of length 2 (global, str of callable full path), but got tuple of length: {len(f)}"
                )
            if type(f[1]) is not str:
                raise TypeError(f"Expected second item in tuple to be str of callable full path, but got: {type(f[1])}")
            f, name = f
            rc[name] = f
        else:
            module, name = f.__module__, f.__qualname__
            rc[f"{module}.{name}"] = f
            # a checkpoint names rustdl's classes as PyTorch does (torch.nn.modules.linear.Linear)
            rc.setdefault(f"{torch_path(module)}.{name}", f)
    return rc


# ------------------------------------------------------------------ the default allowlist
_DTYPE_NAMES = (
    list(_utils.NUMPY_OF_DTYPE)
    + ["complex32", "bcomplex32", "bits16", "bits1x8", "bits2x4", "bits4x2", "bits8", "float4_e2m1fn_x2"]
    + ["float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu"]
    + ["qint32", "qint8", "quint2x4", "quint4x2", "quint8"]
    + [f"uint{x}" for x in range(1, 8)]
    + [f"int{x}" for x in range(1, 8)]
)
_LEGACY_TENSOR_TYPES = ["BFloat16", "Bool", "Byte", "Char", "Double", "Float", "Half", "Int", "Long", "Short"]
_QSTORAGES = ["QInt32Storage", "QInt8Storage", "QUInt2x4Storage", "QUInt4x2Storage", "QUInt8Storage"]


def _get_layout(name):
    """``torch.serialization._get_layout``: rustdl has the strided layout only."""
    layout = getattr(_C, name.rsplit(".", 1)[-1], None)
    return layout if layout is not None else name


class _QScheme(str):
    """What ``torch.per_tensor_affine`` & co. unpickle to (rustdl has no quantization)."""


def _bytearray(*args):
    """``bytearray`` as a pickle may call it: from data, never of a size (``bytearray(10**12)``
    would allocate whatever the file asks for)."""
    if args and isinstance(args[0], int):
        raise UnpicklingError("bytearray of a size is not allowed in a checkpoint")
    return bytearray(*args)


_bytearray.__module__, _bytearray.__qualname__ = "builtins", "bytearray"

_ALLOWED = None


def _get_allowed_globals():
    global _ALLOWED
    if _ALLOWED is not None:
        return _ALLOWED
    from ._size import Size
    from .nn.parameter import Parameter

    rc = {
        "collections.OrderedDict": OrderedDict,
        "collections.Counter": Counter,
        "torch.nn.parameter.Parameter": Parameter,
        "torch.serialization._get_layout": _get_layout,
        "torch.Size": Size,
        "torch.Tensor": _C.Tensor,
        "torch.device": _C.device,
        "_codecs.encode": encode,  # for bytes
        "builtins.bytearray": _bytearray,
        "builtins.set": set,
        "builtins.complex": complex,
    }
    for name in _DTYPE_NAMES:
        rc[f"torch.{name}"] = _utils.dtype_object(name)
    for kind in _LEGACY_TENSOR_TYPES:
        for module in ("torch", "torch.cuda"):
            rc[f"{module}.{kind}Tensor"] = _C.Tensor
    for name in _utils.STORAGE_DTYPES:
        if name != "UntypedStorage":
            rc[f"torch.{name}"] = _utils.StorageType(name)
            rc[f"torch.cuda.{name}"] = _utils.StorageType(name)
    rc["torch.storage.UntypedStorage"] = _utils.StorageType("UntypedStorage")
    for name in _QSTORAGES:
        rc[f"torch.{name}"] = _unsupported_storage(name)
    for q in ["per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric",
              "per_channel_affine_float_qparams"]:
        rc[f"torch.{q}"] = _QScheme(f"torch.{q}")
    for name, f in _utils.REBUILD_FUNCTIONS.items():
        rc[f"torch._utils.{name}"] = f
    rc["torch._tensor._rebuild_from_type_v2"] = _utils._rebuild_from_type_v2
    _ALLOWED = rc
    return rc


class _unsupported_storage:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


def storage_type_of(obj):
    """The StorageType an allowlisted storage global stands for, else None."""
    if isinstance(obj, _utils.StorageType):
        return obj
    if isinstance(obj, _unsupported_storage):
        raise RuntimeError(f"rustdl cannot load quantized storages ({obj!r})")  # noqa: TRY004  # unsupported, not a type error
    return None


def _read_global_instruction(readline):
    module = readline()[:-1].decode("utf-8")
    name = readline()[:-1].decode("utf-8")
    if (module, name) in NAME_MAPPING:
        module, name = NAME_MAPPING[(module, name)]
    elif module in IMPORT_MAPPING:
        module = IMPORT_MAPPING[module]
    return module, name


def _contains(values, obj):
    """``obj in values`` by identity first (dtypes and classes), then equality."""
    return any(v is obj for v in values) or any(
        type(v) is type(obj) and not isinstance(v, type) and v == obj for v in values
    )


# opcodes as ints (the loop below compares each byte against them)
_ADDITEMS = ADDITEMS[0]
_APPEND = APPEND[0]
_APPENDS = APPENDS[0]
_BINBYTES = BINBYTES[0]
_BINBYTES8 = BINBYTES8[0]
_BINFLOAT = BINFLOAT[0]
_BINGET = BINGET[0]
_BININT = BININT[0]
_BININT1 = BININT1[0]
_BININT2 = BININT2[0]
_BINPERSID = BINPERSID[0]
_BINPUT = BINPUT[0]
_BINSTRING = BINSTRING[0]
_BINUNICODE = BINUNICODE[0]
_BINUNICODE8 = BINUNICODE8[0]
_BUILD = BUILD[0]
_BYTEARRAY8 = BYTEARRAY8[0]
_EMPTY_DICT = EMPTY_DICT[0]
_EMPTY_LIST = EMPTY_LIST[0]
_EMPTY_SET = EMPTY_SET[0]
_EMPTY_TUPLE = EMPTY_TUPLE[0]
_FRAME = FRAME[0]
_FROZENSET = FROZENSET[0]
_GLOBAL = GLOBAL[0]
_LONG1 = LONG1[0]
_LONG4 = LONG4[0]
_LONG_BINGET = LONG_BINGET[0]
_LONG_BINPUT = LONG_BINPUT[0]
_MARK = MARK[0]
_MEMOIZE = MEMOIZE[0]
_NEWFALSE = NEWFALSE[0]
_NEWOBJ = NEWOBJ[0]
_NEWTRUE = NEWTRUE[0]
_NONE = NONE[0]
_PROTO = PROTO[0]
_REDUCE = REDUCE[0]
_SETITEM = SETITEM[0]
_SETITEMS = SETITEMS[0]
_SHORT_BINBYTES = SHORT_BINBYTES[0]
_SHORT_BINSTRING = SHORT_BINSTRING[0]
_SHORT_BINUNICODE = SHORT_BINUNICODE[0]
_STACK_GLOBAL = STACK_GLOBAL[0]
_STOP = STOP[0]
_TUPLE = TUPLE[0]
_TUPLE1 = TUPLE1[0]
_TUPLE2 = TUPLE2[0]
_TUPLE3 = TUPLE3[0]


class _PendingNewobj:
    def __init__(self, cls, args):
        self.cls = cls
        self.args = args


class Unpickler:
    def __init__(self, file, *, encoding="bytes"):
        self.encoding = encoding
        self.readline = file.readline
        self.read = file.read
        self.memo = {}
        self.proto = -1

    def load(self):
        """Read a pickled object representation from the open file."""
        self.metastack = []
        self.stack = []
        self.append = self.stack.append
        read = self.read
        allowed = _get_allowed_globals()
        user_allowed = _get_user_allowed_globals()
        known = list(allowed.values()) + list(user_allowed.values())
        while True:
            key = read(1)
            if not key:
                raise EOFError
            if not isinstance(key, bytes_types):
                raise AssertionError(f"Expected bytes, got {type(key).__name__}")  # noqa: TRY004  # PyTorch's
            op = key[0]
            if op in (_GLOBAL, _STACK_GLOBAL):
                if op == _GLOBAL:
                    module, name = _read_global_instruction(self.readline)
                else:
                    name, module = self.stack.pop(), self.stack.pop()
                    if type(name) is not str or type(module) is not str:
                        raise UnpicklingError("STACK_GLOBAL requires str")
                full_path = f"{module}.{name}"
                if module in _blocklisted_modules:
                    raise UnpicklingError(
                        f"Trying to load unsupported GLOBAL {full_path} whose module {module} is blocked."
                    )
                if full_path in allowed:
                    self.append(allowed[full_path])
                elif full_path in user_allowed:
                    self.append(user_allowed[full_path])
                else:
                    if full_path.startswith("builtins"):
                        full_path = full_path[len("builtins"):]
                        full_path = full_path[1:] if full_path.startswith(".") else "builtins" + full_path
                    raise UnpicklingError(
                        f"Unsupported global: GLOBAL {full_path} was not an allowed global by default. "
                        f"Please use `torch.serialization.add_safe_globals([{full_path}])` or the "
                        f"`torch.serialization.safe_globals([{full_path}])` context manager to allowlist this global "
                        "if you trust this class/function."
                    )
            elif op == _NEWOBJ:
                args = self.stack.pop()
                cls = self.stack.pop()
                from .nn.parameter import Parameter

                if not isinstance(args, tuple):
                    raise UnpicklingError(f"NEWOBJ arguments must be a tuple, got {type(args).__name__}")
                if cls is Parameter:
                    self.append(Parameter(*args))
                elif cls is _C.Tensor and args:  # Tensor(n) would allocate what the file says
                    raise UnpicklingError("Can only create an empty torch.Tensor with NEWOBJ")
                elif _contains(known, cls) and isinstance(cls, type):
                    self.append(cls.__new__(cls, *args))
                else:
                    raise UnpicklingError(
                        "Can only create new object for nn.Parameter or classes allowlisted "
                        f"via `add_safe_globals` but got {cls}"
                    )
            elif op == _REDUCE:
                args = self.stack.pop()
                func = self.stack[-1]
                if not _contains(known, func) or not callable(func):
                    error_msg = f"Trying to call reduce for unrecognized function {func}"
                    if hasattr(func, "__self__"):
                        error_msg += f" which belongs to {func.__self__}"
                    raise UnpicklingError(error_msg)
                if not isinstance(args, tuple):
                    raise UnpicklingError(  # a malformed pickle: UnpicklingError
                        f"REDUCE arguments must be a tuple, got {type(args).__name__}"
                    )
                self.stack[-1] = func(*args)
            elif op == _BUILD:
                state = self.stack.pop()
                inst = self.stack[-1]
                from .nn.parameter import Parameter

                if type(inst) is _C.Tensor:
                    raise UnpicklingError("rustdl cannot load tensors pickled with the legacy Tensor.set_ state")
                elif type(inst) is Parameter:
                    _utils._set_obj_state(inst, state)
                elif type(inst) is OrderedDict:
                    if not isinstance(state, dict):
                        raise UnpicklingError(f"Invalid OrderedDict state of type {type(state).__name__}")
                    inst.__dict__.update(state)
                elif _contains(known, type(inst)):
                    if hasattr(inst, "__setstate__"):
                        inst.__setstate__(state)
                    else:
                        slotstate = None
                        if isinstance(state, tuple) and len(state) == 2:
                            state, slotstate = state
                        if state:
                            inst.__dict__.update(state)
                        if slotstate:
                            for k, v in slotstate.items():
                                setattr(inst, k, v)
                else:
                    raise UnpicklingError(
                        "Can only build Tensor, Parameter, OrderedDict or types allowlisted "
                        f"via `add_safe_globals`, but got {type(inst)}"
                    )
            elif op == _APPEND:
                item = self.stack.pop()
                list_obj = self.stack[-1]
                if type(list_obj) is not list:
                    raise UnpicklingError(f"Can only append to lists, but got {type(list_obj)}")
                list_obj.append(item)
            elif op == _APPENDS:
                items = self.pop_mark()
                list_obj = self.stack[-1]
                if type(list_obj) is not list:
                    raise UnpicklingError(f"Can only extend lists, but got {type(list_obj)}")
                list_obj.extend(items)
            elif op == _SETITEM:
                (v, k) = (self.stack.pop(), self.stack.pop())
                self._check_set_item_target("SETITEM")
                self.stack[-1][k] = v
            elif op == _SETITEMS:
                items = self.pop_mark()
                self._check_set_item_target("SETITEMS")
                for i in range(0, len(items) - 1, 2):
                    self.stack[-1][items[i]] = items[i + 1]
            elif op == _MARK:
                self.metastack.append(self.stack)
                self.stack = []
                self.append = self.stack.append
            elif op == _TUPLE:
                items = self.pop_mark()
                self.append(tuple(items))
            elif op == _TUPLE1:
                self.stack[-1] = (self.stack[-1],)
            elif op == _TUPLE2:
                self.stack[-2:] = [(self.stack[-2], self.stack[-1])]
            elif op == _TUPLE3:
                self.stack[-3:] = [(self.stack[-3], self.stack[-2], self.stack[-1])]
            elif op == _NONE:
                self.append(None)
            elif op == _NEWFALSE:
                self.append(False)
            elif op == _NEWTRUE:
                self.append(True)
            elif op == _EMPTY_TUPLE:
                self.append(())
            elif op == _EMPTY_LIST:
                self.append([])
            elif op == _EMPTY_DICT:
                self.append({})
            elif op == _EMPTY_SET:
                self.append(set())
            elif op == _BININT:
                self.append(unpack("<i", self._read_exact(4))[0])
            elif op == _BININT1:
                self.append(self._read_exact(1)[0])
            elif op == _BININT2:
                self.append(unpack("<H", self._read_exact(2))[0])
            elif op == _BINFLOAT:
                self.append(unpack(">d", self._read_exact(8))[0])
            elif op == _BINUNICODE:
                strlen = unpack("<I", self._read_exact(4))[0]
                if strlen > maxsize:
                    raise UnpicklingError("String is too long")
                self.append(str(self._read_exact(strlen), "utf-8", "surrogatepass"))
            elif op == _SHORT_BINSTRING:
                strlen = self._read_exact(1)[0]
                strdata = self._read_exact(strlen)
                if self.encoding != "bytes":
                    strdata = strdata.decode(self.encoding, "strict")
                self.append(strdata)
            elif op == _BINPERSID:
                pid = self.stack.pop()
                if type(pid) is not tuple and type(pid) is not int:
                    raise UnpicklingError(f"persistent_load id must be tuple or int, but got {type(pid)}")
                if type(pid) is tuple and len(pid) > 0 and _maybe_decode_ascii(pid[0]) != "storage":
                    raise UnpicklingError(f"Only persistent_load of storage is allowed, but got {type(pid[0])}")
                self.append(self.persistent_load(pid))
            elif op in [_BINGET, _LONG_BINGET]:
                idx = (self._read_exact(1) if op == _BINGET else unpack("<I", self._read_exact(4)))[0]
                if idx not in self.memo:
                    raise UnpicklingError(f"Memo value not found at index {idx}")
                self.append(self.memo[idx])
            elif op in [_BINPUT, _LONG_BINPUT]:
                i = (self._read_exact(1) if op == _BINPUT else unpack("<I", self._read_exact(4)))[0]
                self.memo[i] = self.stack[-1]
            elif op == _LONG1:
                n = self._read_exact(1)[0]
                self.append(decode_long(self._read_exact(n)))
            # protocol 3-5 and Python 2 data opcodes (PyTorch's weights_only unpickler stops at
            # protocol 2; rustdl also reads files saved with a higher pickle_protocol)
            elif op == _SHORT_BINUNICODE:
                self.append(str(self._read_exact(self._read_exact(1)[0]), "utf-8", "surrogatepass"))
            elif op == _BINUNICODE8:
                self.append(str(self._read_exact(unpack("<Q", self._read_exact(8))[0]), "utf-8", "surrogatepass"))
            elif op == _SHORT_BINBYTES:
                self.append(self._read_exact(self._read_exact(1)[0]))
            elif op == _BINBYTES:
                self.append(self._read_exact(unpack("<I", self._read_exact(4))[0]))
            elif op in (_BINBYTES8, _BYTEARRAY8):
                data = self._read_exact(unpack("<Q", self._read_exact(8))[0])
                self.append(bytearray(data) if op == _BYTEARRAY8 else data)
            elif op == _BINSTRING:
                strlen = unpack("<i", self._read_exact(4))[0]
                if strlen < 0:
                    raise UnpicklingError("BINSTRING pickle has negative byte count")
                strdata = self._read_exact(strlen)
                self.append(strdata if self.encoding == "bytes" else strdata.decode(self.encoding, "strict"))
            elif op == _LONG4:
                n = unpack("<i", self._read_exact(4))[0]
                if n < 0:
                    raise UnpicklingError("LONG pickle has negative byte count")
                self.append(decode_long(self._read_exact(n)))
            elif op == _FRAME:
                self._read_exact(8)  # frame length: the data follows in the same stream
            elif op == _MEMOIZE:
                self.memo[len(self.memo)] = self.stack[-1]
            elif op == _ADDITEMS:
                items = self.pop_mark()
                if type(self.stack[-1]) is not set:
                    raise UnpicklingError(f"Can only add items to sets, but got {type(self.stack[-1])}")
                self.stack[-1].update(items)
            elif op == _FROZENSET:
                items = self.pop_mark()
                self.append(frozenset(items))
            elif op == _PROTO:
                self.proto = self._read_exact(1)[0]
                if self.proto != 2:
                    warnings.warn(
                        f"Detected pickle protocol {self.proto} in the checkpoint, which was "
                        "not the default pickle protocol used by `torch.load` (2). The weights_only "
                        "Unpickler might not support all instructions implemented by this protocol, "
                        "please file an issue for adding support if you encounter this.",
                        stacklevel=2,
                    )
            elif op == _STOP:
                return self.stack.pop()
            else:
                raise UnpicklingError(f"Unsupported operand {op}")

    def _read_exact(self, n):
        data = self.read(n)
        if len(data) != n:
            raise EOFError("pickle data was truncated")
        return data

    def pop_mark(self):
        """The items pushed on the stack since the last MARK."""
        if not self.metastack:
            raise UnpicklingError("could not find MARK")
        items = self.stack
        self.stack = self.metastack.pop()
        self.append = self.stack.append
        return items

    def _check_set_item_target(self, opcode):
        if not self.stack or type(self.stack[-1]) not in [dict, OrderedDict, Counter]:
            target = type(self.stack[-1]) if self.stack else None
            raise UnpicklingError(
                f"Can only {opcode} for dict, collections.OrderedDict, collections.Counter, but got {target}"
            )

    def persistent_load(self, pid):
        raise UnpicklingError("unsupported persistent id encountered")


def _maybe_decode_ascii(bytes_str):
    if isinstance(bytes_str, bytes):
        return bytes_str.decode("ascii")
    return bytes_str


def load(file, *, encoding="ASCII"):
    return Unpickler(file, encoding=encoding).load()
