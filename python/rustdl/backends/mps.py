"""``rustdl.backends.mps``: Apple-GPU probing stubs (always unavailable)."""


def is_available():
    return False


def is_built():
    return False
