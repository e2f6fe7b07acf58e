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


def _alpha_first_signatures(name, function):
    if function:
        return (f"{name}(Tensor input, Number alpha, Tensor other, *, Tensor out = None)",
                f"{name}(Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None)")
    return f"{name}(Number alpha, Tensor other)", f"{name}(Tensor other, *, Number alpha = 1)"


def warn_alpha_first(name):
    """Called by the Rust ``add``/``sub``/``add_``/``sub_`` bindings when they
    see ``(Number alpha, Tensor other)`` (the binding itself reorders them,
    so the common call pays nothing)."""
    _warn_once(*_alpha_first_signatures(name, False), 2)


def alpha_first_function(name, alpha_value, rest, alpha):
    """``torch.add(input, Number alpha, Tensor other)`` -> ``(other, alpha)``."""
    if len(rest) != 1 or alpha is not None or not _is_number(alpha_value):
        raise TypeError(f"{name}() received an invalid combination of arguments")
    _warn_once(*_alpha_first_signatures(name, True), 3)
    return rest[0], _scalar(alpha_value)


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
    """Wrap the addcmul/addcdiv tensor methods and module-level functions in
    ``namespace`` (``rustdl``'s globals); add/sub take the old form in their
    bindings (``alpha_first_overload`` in rust/python/py_math.rs)."""
    for name in ("addcmul", "addcmul_", "addcdiv", "addcdiv_"):
        setattr(Tensor, name, _value_first(name, getattr(Tensor, name)))
    for name in ("addcmul", "addcdiv"):
        namespace[name] = _value_first(name, namespace[name], function=True)
