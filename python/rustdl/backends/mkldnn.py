"""`torch.backends.mkldnn`: rustdl's CPU kernels are its own, not oneDNN's, so `is_available()`
is False; `enabled` is a plain flag scripts may set (it changes nothing)."""

import contextlib

enabled = True
deterministic = False


def is_available():
    return False


@contextlib.contextmanager
def flags(enabled=False, deterministic=False):
    module = globals()
    saved = module["enabled"], module["deterministic"]
    module["enabled"], module["deterministic"] = enabled, deterministic
    try:
        yield
    finally:
        module["enabled"], module["deterministic"] = saved
