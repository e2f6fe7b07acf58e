"""PyTorch's deprecated scalar-first overloads, still accepted by PyTorch 2.x.

Old code (the word-language-model example, optimizers written before 1.5)
calls ``p.data.add_(-lr, grad)``, ``x.sub(alpha, y)``,
``v.addcmul_(1 - beta, g, g)``: the number first, then the tensor(s).
PyTorch's argument parser still matches these signatures, computes
``add_(grad, alpha=-lr)`` and warns once per process (``TORCH_WARN_ONCE`` in
``python_arg_parser.cpp``: the first deprecated call anywhere warns, later
ones of any kind are silent). The wrappers below recognise exactly these
forms and forward everything else untouched to the real method.
"""

import numbers
import warnings

from ._C import Tensor

_warned = False


def _warn_once(signature, replacement, stacklevel):
    global _warned
    if _warned:
        return
    _warned = True
    name = signature.split("(", 1)[0]
    warnings.warn(
        f"This overload of {name} is deprecated:\n\t{signature}\n"
        f"Consider using one of the following signatures instead:\n\t{replacement}",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


def _is_number(value):
    # PyTorch's `Number` also takes a 0-dim tensor (`x.add(torch.tensor(2.), y)`).
    if isinstance(value, Tensor):
        return value.dim() == 0
    return isinstance(value, numbers.Number)


def _scalar(value):
    return value.item() if isinstance(value, Tensor) else value


def _alpha_first(name, original, function=False):
    """``add(Number alpha, Tensor other)`` -> ``add(other, alpha=alpha)``."""
    if function:
        old = f"{name}(Tensor input, Number alpha, Tensor other, *, Tensor out = None)"
        new = f"{name}(Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None)"
    else:
        old, new = f"{name}(Number alpha, Tensor other)", f"{name}(Tensor other, *, Number alpha = 1)"

    def wrapper(first, *args, **kwargs):
        # Cheap tests first: the current signature takes one positional.
        if (len(args) == 2 or (kwargs and len(args) == 1 and "other" in kwargs)) and _is_number(args[0]):
            if "alpha" in kwargs:  # the scalar-first form has no `alpha`
                raise TypeError(f"{name}() received an invalid combination of arguments - "
                                "got unrecognized keyword arguments: alpha")
            _warn_once(old, new, 2)
            other = args[1] if len(args) == 2 else kwargs.pop("other")
            if "other" not in kwargs:
                return original(first, other, alpha=_scalar(args[0]), **kwargs)
        return original(first, *args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = original.__doc__
    return wrapper


def _value_first(name, original, function=False):
    """``addcmul(Number value, Tensor tensor1, Tensor tensor2)`` ->
    ``addcmul(tensor1, tensor2, value=value)``."""
    if function:
        old = f"{name}(Tensor input, Number value, Tensor tensor1, Tensor tensor2, *, Tensor out = None)"
        new = f"{name}(Tensor input, Tensor tensor1, Tensor tensor2, *, Number value = 1, Tensor out = None)"
    else:
        old = f"{name}(Number value, Tensor tensor1, Tensor tensor2)"
        new = f"{name}(Tensor tensor1, Tensor tensor2, *, Number value = 1)"

    def wrapper(first, *args, **kwargs):
        if len(args) == 3 and "value" not in kwargs and _is_number(args[0]):
            _warn_once(old, new, 2)
            return original(first, args[1], args[2], value=_scalar(args[0]), **kwargs)
        return original(first, *args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = original.__doc__
    return wrapper


def install(namespace):
    """Wrap the tensor methods and the module-level functions in ``namespace``
    (``rustdl``'s globals)."""
    for name in ("add", "add_", "sub", "sub_"):  # not subtract: PyTorch refuses the old form there
        if hasattr(Tensor, name):
            setattr(Tensor, name, _alpha_first(name, getattr(Tensor, name)))
    for name in ("addcmul", "addcmul_", "addcdiv", "addcdiv_"):
        setattr(Tensor, name, _value_first(name, getattr(Tensor, name)))
    for name in ("add", "sub"):
        namespace[name] = _alpha_first(name, namespace[name], function=True)
    for name in ("addcmul", "addcdiv"):
        namespace[name] = _value_first(name, namespace[name], function=True)
