"""``rustdl.nn``: neural-network building blocks, shaped like ``torch.nn``."""

from . import (  # noqa: F401
    functional,
    init,
    parallel,
    utils,
)
from . import parameter as _parameter_module
from .modules import *
from .modules.lazy import UninitializedBuffer, UninitializedParameter
from .modules.module import Module  # noqa: F401
from .parallel import DataParallel  # noqa: F401
from .parameter import Buffer, Parameter  # noqa: F401

_parameter_module.UninitializedParameter = UninitializedParameter
_parameter_module.UninitializedBuffer = UninitializedBuffer
