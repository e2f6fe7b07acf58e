"""PyTorch's legacy typed tensor classes (`torch.FloatTensor`, `torch.LongTensor`, ...), still
common in older scripts: calling one builds a CPU tensor of its dtype (`FloatTensor(2, 3)` an
uninitialised - here zero-filled - tensor of that size, `LongTensor([1, 2])` one holding the
data), `isinstance(x, torch.FloatTensor)` checks the dtype, and `x.type(torch.FloatTensor)`
converts."""

import rustdl as _t

_TYPES = {"FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16", "BFloat16Tensor": "bfloat16",
          "LongTensor": "int64", "IntTensor": "int32", "ShortTensor": "int16", "CharTensor": "int8",
          "ByteTensor": "uint8", "BoolTensor": "bool"}


class _LegacyTensorType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _t.Tensor) and obj.dtype == cls.dtype

    def __call__(cls, *args, device=None, **kwargs):
        if kwargs:
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument '{next(iter(kwargs))}'")
        if device is not None and _t.device(device).type != "cpu":
            raise RuntimeError(f"legacy constructor expects device type: cpu but device type: "
                               f"{_t.device(device).type} was passed")
        if not args:
            return _t.empty(0, dtype=cls.dtype)
        if len(args) == 1 and isinstance(args[0], _t.Tensor):
            if args[0].dtype != cls.dtype:
                raise TypeError(f"expected {cls.__name__.replace('Tensor', '')} (got {args[0].dtype})")
            return args[0]
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return _t.zeros(args, dtype=cls.dtype)
        if len(args) == 1 and isinstance(args[0], _t.Size):
            return _t.zeros(tuple(args[0]), dtype=cls.dtype)
        if len(args) == 1:
            return _t.tensor(args[0], dtype=cls.dtype)
        raise TypeError(f"{cls.__name__}(): new(): invalid combination of arguments")

    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}'>"


def _make(name, dtype_name):
    dtype = getattr(_t, dtype_name)
    return _LegacyTensorType(name, (), {"dtype": dtype, "_legacy_dtype": dtype, "is_cuda": False,
                                        "__module__": "torch"})


TYPES = {name: _make(name, dtype) for name, dtype in _TYPES.items()}
