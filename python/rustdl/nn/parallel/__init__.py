"""``torch.nn.parallel`` on a machine without GPUs: ``DataParallel`` wraps a
module and runs it as is, as PyTorch does when no CUDA device is present.
(``DistributedDataParallel`` is not provided.)"""

from .data_parallel import DataParallel, data_parallel

__all__ = ["DataParallel", "data_parallel"]
