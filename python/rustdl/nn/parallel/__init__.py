"""``torch.nn.parallel``: ``DataParallel`` (CPU: the module runs as is) and
``DistributedDataParallel`` (over ``rustdl.distributed``, MPI)."""

from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
