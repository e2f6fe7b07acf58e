"""``torch.nn.attention``: choosing the kernels behind ``F.scaled_dot_product_attention``.

rustdl has one fused CPU kernel (online softmax, tiles recomputed in backward: the FLASH_ATTENTION
family) and answers MATH requests with it too, since both compute the same function. A block
that enables neither raises PyTorch's CPU error when attention is called, as there is then no
kernel that may run."""

import contextlib
import contextvars
import enum

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_ALL = frozenset(b for b in SDPBackend if b is not SDPBackend.ERROR)
_enabled = contextvars.ContextVar("rustdl_sdpa_backends", default=_ALL)
_CPU_KERNELS = frozenset({SDPBackend.MATH, SDPBackend.FLASH_ATTENTION})


def _cur_sdpa_kernel_backends():
    return sorted(_enabled.get())


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """Within the block, only `backends` (one SDPBackend or a list) may run attention."""
    if isinstance(backends, SDPBackend):
        backends = [backends]
    token = _enabled.set(frozenset(b for b in backends if isinstance(b, SDPBackend)))
    try:
        yield {}
    finally:
        _enabled.reset(token)


def _check_cpu_kernel_enabled():
    if not (_enabled.get() & _CPU_KERNELS):
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This is likely due "
                           "to turning off both the math kernel and the fused kernels.")
