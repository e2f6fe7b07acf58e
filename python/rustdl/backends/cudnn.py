"""``rustdl.backends.cudnn``: cuDNN flags. Setting them is allowed and has no
effect (rustdl is CPU-only; its CPU kernels are deterministic)."""

deterministic = False
benchmark = False
enabled = True
allow_tf32 = True


def is_available():
    return False


def version():
    return None
