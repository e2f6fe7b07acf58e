"""``rustdl.utils``: helpers shaped like ``torch.utils``.

``rustdl.utils.data`` is imported eagerly (pure Python, cheap). Other
subpackages (e.g. ``rustdl.utils.tensorboard``) are imported on first
attribute access, so ``import rustdl`` stays fast and a missing optional
subpackage never breaks ``import rustdl``.
"""

import importlib as _importlib

from . import data  # noqa: F401


def __getattr__(name):
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return _importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"{__name__}.{name}":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        raise
