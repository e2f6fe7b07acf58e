"""Padding layers: ConstantPad/ZeroPad/ReflectionPad/ReplicationPad/CircularPad in 1, 2 and 3 spatial
dims, each a thin module over ``F.pad`` (an int pads every side; a tuple is (left, right, top,
bottom, front, back) as far as the layer's dims go)."""

from .. import functional as F
from .module import Module

__all__ = [f"{kind}Pad{d}d" for kind in ("Constant", "Zero", "Reflection", "Replication", "Circular")
           for d in (1, 2, 3)]


def _expand(padding, dims):
    return (padding,) * (2 * dims) if isinstance(padding, int) else tuple(padding)


class _PadNd(Module):
    dims = 1
    mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _expand(padding, self.dims)

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


def _family(base, mode, name):
    classes = {}
    for d in (1, 2, 3):
        classes[d] = type(f"{name}{d}d", (base,), {"dims": d, "mode": mode, "__module__": __name__,
                                                  "__doc__": f"Pads the last {d} dims ({mode})."})
    return classes


ConstantPad1d, ConstantPad2d, ConstantPad3d = _family(_ConstantPadNd, "constant", "ConstantPad").values()
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = _family(_PadNd, "reflect", "ReflectionPad").values()
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = _family(_PadNd, "replicate", "ReplicationPad").values()
CircularPad1d, CircularPad2d, CircularPad3d = _family(_PadNd, "circular", "CircularPad").values()
# ZeroPadNd is a ConstantPadNd of the same dims (isinstance holds, as in PyTorch)
ZeroPad1d = type("ZeroPad1d", (_ZeroPadNd, ConstantPad1d), {"__module__": __name__})
ZeroPad2d = type("ZeroPad2d", (_ZeroPadNd, ConstantPad2d), {"__module__": __name__})
ZeroPad3d = type("ZeroPad3d", (_ZeroPadNd, ConstantPad3d), {"__module__": __name__})
