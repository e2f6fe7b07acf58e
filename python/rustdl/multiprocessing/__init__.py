"""``torch.multiprocessing``: Python's :mod:`multiprocessing`, plus tensors
that travel between processes through shared memory.

Everything of :mod:`multiprocessing` is here (``Process``, ``Queue``,
``Pool``, ``get_context``, ``set_start_method``, ...). Importing this module
(``import rustdl`` does) registers pickling reductions with
``multiprocessing.reduction.ForkingPickler``: a CPU tensor put on a queue or
passed to a process started with the spawn or forkserver method is moved to
shared memory first (``share_memory_``) and arrives as a tensor over the same
memory, with its shape, strides, dtype and ``requires_grad``
(``nn.Parameter`` stays a ``Parameter``). A child forked after
``share_memory_`` simply inherits the shared pages.
"""

import multiprocessing
from multiprocessing import *

from .reductions import (
    get_all_sharing_strategies,
    get_sharing_strategy,
    init_reductions,
    set_sharing_strategy,
)
from .spawn import (  # noqa: F401
    ProcessContext,
    ProcessException,
    ProcessExitedException,
    ProcessRaisedException,
    spawn,
    start_processes,
)

__all__ = ["get_all_sharing_strategies", "get_sharing_strategy", "set_sharing_strategy"]
__all__ += multiprocessing.__all__  # type: ignore[attr-defined]

init_reductions()
