"""The shrink activations: ``hardshrink``, ``softshrink``, ``tanhshrink``,
written with differentiable ops (so every order of gradient follows) and
PyTorch's values at the edges: NaN passes through with gradient 1, the
in-range values of softshrink are ``x * 0`` (signed zeros), and the
boundaries ``±lambd`` count as inside."""

import sys

from .. import _C
from ._arg_checks import check_float_input, scalar_name

__all__ = ["hardshrink", "softshrink", "tanhshrink"]

_FLOAT_MAX = {"Float": 3.40282e38, "Double": sys.float_info.max, "Half": 65504.0, "BFloat16": 3.38953e38}


def _inside(input, lambd):
    return (input >= -lambd) & (input <= lambd)


def hardshrink(input, lambd=0.5):
    check_float_input(input, "hardshrink_cpu")
    return _C.where(_inside(input, lambd), 0.0, input)


def softshrink(input, lambd=0.5):
    check_float_input(input, "softshrink_check")
    top = _FLOAT_MAX.get(scalar_name(input), 3.40282e38)
    if not 0 <= lambd <= top:
        raise RuntimeError(f"lambda must be in range [0, {top:g}] for input dtype {scalar_name(input)}, "
                           f"but found {lambd:g}")
    # outside: x - lambd * sign(x) (sign(NaN) is 0, so NaN keeps gradient 1)
    return _C.where(_inside(input, lambd), input * 0, input - lambd * input.sign())


def tanhshrink(input):
    return input - input.tanh()
