"""``torch.distributed.distributed_c10d``: the module PyTorch defines the process-group API in;
some programs import names from it directly."""

from . import *  # the public API
from .process_group import _default_group as _get_default_group  # noqa: F401
from .process_group import _rank_not_in_group, _world  # noqa: F401
