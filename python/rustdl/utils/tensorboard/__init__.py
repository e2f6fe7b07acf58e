"""``rustdl.utils.tensorboard``: ``SummaryWriter`` like ``torch.utils.tensorboard``.

Needs the ``tensorboard`` package (``pip install rustdl[tensorboard]``).
"""

try:
    import tensorboard  # noqa: F401
except ImportError as e:  # pragma: no cover
    raise ImportError(
        "rustdl.utils.tensorboard needs the 'tensorboard' package: pip install tensorboard"
    ) from e

from .writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "SummaryWriter"]
