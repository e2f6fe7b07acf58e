"""Device flags of ``Tensor`` that PyTorch programs probe (``t.is_cuda``,
``t.is_xpu``, ``t.is_mps``, ``t.is_cpu``), attached to the Rust ``Tensor``
class at import time. rustdl has no CUDA, XPU or MPS tensors, so those are
False; ``is_cpu`` is True for CPU tensors (False on wgpu and meta).

A flag the Rust class already defines (``is_cuda``, ``is_meta``) is left alone.
"""

from ._C import Tensor


def _false(name):
    def flag(self):
        return False

    flag.__name__ = name
    flag.__doc__ = f"False: rustdl has no {name[3:].upper()} tensors."
    return property(flag)


def _is_cpu(self):
    """True for tensors in CPU memory (False for ``wgpu`` tensors)."""
    return self.device.type == "cpu"


_FLAGS = {
    "is_cuda": _false("is_cuda"),
    "is_xpu": _false("is_xpu"),
    "is_mps": _false("is_mps"),
    "is_cpu": property(_is_cpu),
}

for _name, _prop in _FLAGS.items():
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _prop)
