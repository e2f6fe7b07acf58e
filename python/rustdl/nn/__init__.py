"""``rustdl.nn``: neural-network building blocks, shaped like ``torch.nn``."""

from . import (  # noqa: F401
    functional,
    init,
    utils,
)
from .modules import *
from .modules.module import Module  # noqa: F401
from .parameter import Buffer, Parameter  # noqa: F401
