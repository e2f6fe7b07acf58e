"""``torch.distributed`` for rustdl, on MPI.

Processes are started by MPI (``python -m rustdl.distributed.run
--nproc-per-node N script.py``, torchrun's flags, or ``mpirun -n N python
script.py``) and talk through mpi4py: every collective hands MPI a numpy view
of the tensor's own storage. ``backend="gloo"`` (what CPU PyTorch scripts
ask for) and ``"mpi"`` are both served by MPI. Importing this package does
not need MPI; ``init_process_group`` does (``pip install 'rustdl[distributed]'``).
"""

from .collectives import (  # noqa: F401 (_all_gather_base, _reduce_scatter_base: PyTorch's private names)
    P2POp,
    Work,
    _all_gather_base,
    _reduce_scatter_base,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    all_to_all,
    all_to_all_single,
    barrier,
    batch_isend_irecv,
    broadcast,
    broadcast_object_list,
    gather,
    gather_object,
    irecv,
    isend,
    monitored_barrier,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    scatter_object_list,
    send,
)
from .process_group import (
    Backend,
    GroupMember,
    ProcessGroup,
    default_pg_timeout,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_node_local_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_backend_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    is_torchelastic_launched,
    is_ucc_available,
    is_xccl_available,
    new_group,
)
from .reduce_op import ReduceOp, reduce_op

# PyTorch's default size of DDP's first gradient bucket.
_DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024

__all__ = [
    "Backend", "GroupMember", "P2POp", "ProcessGroup", "ReduceOp", "Work", "all_gather",
    "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all", "all_to_all_single", "barrier",
    "batch_isend_irecv", "broadcast", "broadcast_object_list", "default_pg_timeout", "destroy_process_group",
    "gather", "gather_object", "get_backend", "get_global_rank", "get_group_rank", "get_node_local_rank",
    "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group", "irecv",
    "is_available", "is_backend_available", "is_gloo_available", "is_initialized", "is_mpi_available",
    "is_nccl_available", "is_torchelastic_launched", "is_ucc_available", "is_xccl_available", "isend",
    "monitored_barrier", "new_group", "recv", "reduce", "reduce_op", "reduce_scatter", "reduce_scatter_tensor",
    "scatter", "scatter_object_list", "send",
]
