"""``rustdl.accelerator``: ``torch.accelerator`` as it behaves in a PyTorch
built without any accelerator (CUDA, XPU, MPS, ...).

``is_available()`` is False, ``current_accelerator()`` is None and
``device_count()`` is 0, so the usual probe

    device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else "cpu"

picks the CPU. Calls that need a device (``current_device_index()``,
``set_device_index(0)``, ``synchronize()``, the memory statistics, ...) raise
the RuntimeError a CPU-only PyTorch raises; argument errors are checked first,
in PyTorch's order. rustdl's GPU backend (``wgpu``) is not one of PyTorch's
accelerator types and is reached through ``rustdl.backends.wgpu`` instead.
"""

import warnings

from . import _tensor_flags  # noqa: F401  (Tensor.is_xpu / is_mps / is_cpu, probed next to these)
from ._C import device as _device

__all__ = [
    "current_accelerator",
    "current_device_idx",  # deprecated
    "current_device_index",
    "current_stream",
    "device_count",
    "device_index",
    "empty_cache",
    "empty_host_cache",
    "get_device_capability",
    "get_memory_info",
    "is_available",
    "max_memory_allocated",
    "max_memory_reserved",
    "memory_allocated",
    "memory_reserved",
    "memory_stats",
    "reset_accumulated_memory_stats",
    "reset_peak_memory_stats",
    "set_device_idx",  # deprecated
    "set_device_index",
    "set_stream",
    "synchronize",
]

_NO_ACCELERATOR = "Cannot access accelerator device when none is available."


def _no_accelerator():
    raise RuntimeError(_NO_ACCELERATOR)


def _get_device_index(device, optional=False):
    """PyTorch's ``torch.accelerator._utils._get_device_index`` with no accelerator."""
    if isinstance(device, int):
        return device
    if isinstance(device, str):
        device = _device(device)
    if isinstance(device, _device):
        raise RuntimeError("Accelerator expected")  # noqa: TRY004 (PyTorch's type)
    if not optional:
        raise ValueError(f"Expected a torch.device with a specified index or an integer, but got:{device}")
    return current_device_index()


def is_available():
    """False: no accelerator is built in or visible."""
    return False


def current_accelerator(check_available=False):
    """The accelerator available at build time: None (rustdl has none)."""
    return None  # noqa: RET501 (the documented result)


def device_count():
    """0: no accelerator devices."""
    return 0


def current_device_index():
    """Raises RuntimeError, as PyTorch does when no accelerator exists."""
    _no_accelerator()


def set_device_index(device, /):
    """No-op for a negative index; otherwise raises as PyTorch does with no accelerator."""
    index = _get_device_index(device, optional=False)
    if index < 0:
        return
    _no_accelerator()


def current_device_idx():
    """Deprecated alias of :func:`current_device_index`."""
    warnings.warn("Use `current_device_index` instead.", FutureWarning, stacklevel=2)
    return current_device_index()


def set_device_idx(device, /):
    """Deprecated alias of :func:`set_device_index`."""
    warnings.warn("Use `set_device_index` instead.", FutureWarning, stacklevel=2)
    return set_device_index(device)


def current_stream(device=None, /):
    _get_device_index(device, optional=True)
    _no_accelerator()


def set_stream(stream):
    _no_accelerator()


def synchronize(device=None, /):
    _get_device_index(device, optional=True)
    _no_accelerator()


def get_device_capability(device=None, /):
    _get_device_index(device, optional=True)
    _no_accelerator()


class device_index:
    """Context manager selecting an accelerator device index; ``None`` does nothing."""

    def __init__(self, device, /):
        self.idx = device
        self.prev_idx = -1

    def __enter__(self):
        if self.idx is not None:
            _no_accelerator()

    def __exit__(self, *exc_info):
        return None


# Memory statistics: PyTorch first asks the accelerator's allocator whether it
# is initialized, which raises when there is no accelerator.


def empty_cache():
    _no_accelerator()


def empty_host_cache():
    _no_accelerator()


def memory_stats(device_index=None, /):
    _no_accelerator()


def memory_allocated(device_index=None, /):
    _no_accelerator()


def max_memory_allocated(device_index=None, /):
    _no_accelerator()


def memory_reserved(device_index=None, /):
    _no_accelerator()


def max_memory_reserved(device_index=None, /):
    _no_accelerator()


def reset_accumulated_memory_stats(device_index=None, /):
    _no_accelerator()


def reset_peak_memory_stats(device_index=None, /):
    _no_accelerator()


def get_memory_info(device_index=None, /):
    _get_device_index(device_index, optional=True)
    _no_accelerator()
