"""``out=`` for the factory functions bound without it (``arange``,
``linspace``, ``logspace``, ``eye``, ``full``, ``randint``, ``randperm``):
the result is made in ``out``'s dtype and written into it, resized when its
shape differs, as PyTorch does."""

import functools
import warnings


def with_out(factory):
    name = factory.__name__

    @functools.wraps(factory)
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return factory(*args, **kwargs)
        from . import Tensor, is_grad_enabled, no_grad

        if not isinstance(out, Tensor):
            raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
        dtype = kwargs.get("dtype")
        if dtype is not None and dtype != out.dtype:
            raise RuntimeError(f"dtype {_scalar_name(dtype)} does not match dtype of out parameter "
                               f"({_scalar_name(out.dtype)})")
        if kwargs.get("requires_grad") or (out.requires_grad and is_grad_enabled()):
            raise RuntimeError(f"aten::{name}(): functions with out=... arguments don't support automatic "
                               "differentiation, but one of the arguments requires grad.")
        kwargs["dtype"] = out.dtype
        result = factory(*args, **kwargs)
        if tuple(out.shape) != tuple(result.shape):
            if out.numel() != 0:
                warnings.warn(f"An output with one or more elements was resized since it had shape "
                              f"{list(out.shape)}, which does not match the required output shape "
                              f"{list(result.shape)}.", UserWarning, stacklevel=2)
            out.resize_(tuple(result.shape))
        with no_grad():
            out.copy_(result)
        return out

    return wrapper


def _scalar_name(dtype):
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
             "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
             "bool": "Bool"}
    short = str(dtype).rsplit(".", 1)[-1]
    return names.get(short, short)
