"""``rustdl.cpu``: the CPU device module (``rustdl.cpu.amp``)."""

from . import amp  # noqa: F401


def is_available():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def synchronize(device=None):
    """CPU work is synchronous."""
