"""``rustdl.cuda``: device-probing stubs. rustdl runs on the CPU only, so
``is_available()`` is False and ``device_count()`` is 0; seeding functions are
no-ops (``rustdl.manual_seed`` seeds the CPU generator)."""

__all__ = [
    "current_device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "is_available",
    "is_initialized",
    "manual_seed",
    "manual_seed_all",
    "seed",
    "seed_all",
    "synchronize",
]


def is_available():
    """False: rustdl has no CUDA backend."""
    return False


def device_count():
    return 0


def is_initialized():
    return False


def _no_cuda(name):
    raise RuntimeError(f"rustdl.cuda.{name}: rustdl was built without CUDA support (CPU only)")


def current_device():
    _no_cuda("current_device")


def get_device_name(device=None):
    _no_cuda("get_device_name")


def set_device(device):
    _no_cuda("set_device")


def manual_seed(seed):
    """No-op (no CUDA devices); accepted so seeding boilerplate runs."""


def manual_seed_all(seed):
    """No-op (no CUDA devices)."""


def seed():
    """No-op (no CUDA devices)."""


def seed_all():
    """No-op (no CUDA devices)."""


def synchronize(device=None):
    """No-op (no CUDA devices)."""


def empty_cache():
    """No-op (no CUDA caching allocator)."""


def is_bf16_supported(including_emulation=True):
    return False
