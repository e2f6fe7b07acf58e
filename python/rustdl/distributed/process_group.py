"""Process groups over MPI communicators: ``init_process_group``, ``new_group``,
ranks and sizes, ``destroy_process_group``.

The default group is a duplicate of ``MPI_COMM_WORLD`` (so a program's own
mpi4py traffic on COMM_WORLD never matches rustdl's collectives); ``new_group``
splits it. Ranks passed to collectives (``src``, ``dst``) are global ranks, as
in PyTorch, and are translated to the group's own ranks here.
"""

import atexit
import datetime
import logging
import os
import sys
import warnings

from . import _mpi
from ._watchdog import Watchdog, report

_log = logging.getLogger("rustdl.distributed")

default_pg_timeout = datetime.timedelta(minutes=30)


class Backend(str):
    """``torch.distributed.Backend``: a backend's lower-case name. ``"mpi"`` is
    the transport; ``"gloo"`` (the CPU backend PyTorch scripts ask for) is
    accepted and served by the same MPI transport."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(  # noqa: TRY004 (PyTorch raises ValueError)
                f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        value = name.lower()
        if ":" in value:  # "cpu:gloo,cuda:nccl": the CPU entry decides here
            parts = dict(p.split(":", 1) for p in value.split(",") if ":" in p)
            value = parts.get("cpu", value)
        return super().__new__(cls, value)


_SERVED = {Backend.MPI, Backend.GLOO}


class ProcessGroup:
    """A group of ranks and its MPI communicator."""

    def __init__(self, comm, global_ranks, backend, timeout, name):
        self._comm = comm
        self._global_ranks = list(global_ranks)
        self._backend = backend
        self._timeout = timeout
        self.group_name = name

    def rank(self):
        return self._comm.Get_rank()

    def size(self):
        return self._comm.Get_size()

    def name(self):
        return self._backend

    def __repr__(self):
        return f"<rustdl.distributed.ProcessGroup {self.group_name!r} ranks={self._global_ranks}>"


class GroupMember:
    """``GroupMember.WORLD`` (the default group once initialised) and the
    ``NON_GROUP_MEMBER`` marker that ``new_group`` gives ranks outside it."""

    WORLD = None
    NON_GROUP_MEMBER = object()


class group:
    WORLD = None


class _World:
    def __init__(self):
        self.default = None
        self.groups = []
        self.watchdog = None
        self.previous_excepthook = None
        self.logged_backend = False
        self.group_count = 0


_world = _World()


def is_available():
    """Whether the distributed package can run: mpi4py is importable."""
    return _mpi.available()


def is_mpi_available():
    return _mpi.available()


def is_gloo_available():
    """True when MPI is: "gloo" is served by the MPI transport."""
    return _mpi.available()


def is_nccl_available():
    return False


def is_ucc_available():
    return False


def is_xccl_available():
    return False


def is_backend_available(backend):
    return Backend(backend) in _SERVED and _mpi.available()


def is_initialized():
    return _world.default is not None


def is_torchelastic_launched():
    """True under ``python -m rustdl.distributed.run`` (it sets TORCHELASTIC_RUN_ID, as torchrun)."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def _seconds(timeout):
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return float(timeout)
    raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {type(timeout).__name__}")


def _default_group():
    if _world.default is None:
        raise ValueError(
            "Default process group has not been initialized, please make sure to call init_process_group."
        )
    return _world.default


def _rank_not_in_group(g):
    return g is GroupMember.NON_GROUP_MEMBER


def _warn_not_in_group(op_name):
    global_rank = -1 if _world.default is None else _world.default.rank()
    warnings.warn(
        f"Running {op_name} on global rank {global_rank} which does not belong to the given group.",
        stacklevel=3,
    )


def _resolve(g):
    """The ProcessGroup an op runs on (None for the default)."""
    if g is None:
        return _default_group()
    if not isinstance(g, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup, got {type(g).__name__}")
    return g


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _local_size():
    for name in ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"):
        v = os.environ.get(name)
        if v and v.isdigit():
            return int(v)
    return 1


def _share_cores():
    """Give each of this node's ranks its share of the cores, as the launcher
    does, when the program was started by ``mpirun`` directly and nobody set
    the thread count."""
    if os.environ.get("RUSTDL_NUM_THREADS"):
        return
    local = _local_size()
    if local > 1:
        import rustdl

        rustdl.set_num_threads(max(1, _cpu_count() // local))


def _abort(message):
    rank = _world.default.rank() if _world.default is not None else "?"
    report(f"[rank {rank}] rustdl.distributed: {message}")
    try:
        _mpi.mpi().COMM_WORLD.Abort(1)
    finally:
        os._exit(1)


def _excepthook(kind, value, tb):
    """An uncaught exception on one rank ends the whole job at once (the others
    would otherwise wait in their next collective until the timeout)."""
    previous = _world.previous_excepthook or sys.__excepthook__
    previous(kind, value, tb)
    if _world.default is not None and _world.default.size() > 1 and not issubclass(kind, KeyboardInterrupt):
        _abort(f"uncaught {kind.__name__} on this rank; aborting the other ranks")


def init_process_group(
    backend=None,
    init_method=None,
    timeout=None,
    world_size=-1,
    rank=-1,
    store=None,
    group_name="",
    pg_options=None,
    device_id=None,
):
    """Join the job's default process group.

    The ranks are MPI's: start the processes with ``python -m
    rustdl.distributed.run --nproc-per-node N script.py`` or ``mpirun -n N
    python script.py``. ``backend`` may be ``"mpi"`` or ``"gloo"`` (served by
    MPI; logged once); ``init_method`` and ``store`` are accepted and unused
    (MPI does the rendezvous); ``rank``/``world_size``, when given, must agree
    with MPI's. ``timeout`` bounds every blocking wait: past it the job is
    aborted with a message naming the operation."""
    if _world.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend(backend if backend is not None else Backend.GLOO)
    if name == Backend.NCCL:
        raise RuntimeError("Distributed package doesn't have NCCL built in")
    if name not in _SERVED:
        raise RuntimeError(f"Invalid backend: '{backend}' (rustdl.distributed serves 'mpi' and 'gloo' over MPI)")
    seconds = _seconds(timeout)
    if seconds <= 0:
        raise ValueError(f"timeout must be positive, got {seconds} s")
    MPI = _mpi.mpi()
    world = MPI.COMM_WORLD
    mpi_size, mpi_rank = world.Get_size(), world.Get_rank()
    env_size = os.environ.get("WORLD_SIZE")
    expected_size = world_size if world_size not in (None, -1) else (int(env_size) if env_size else mpi_size)
    if expected_size != mpi_size:
        raise RuntimeError(
            f"init_process_group: world_size is {expected_size} but MPI started {mpi_size} process(es). "
            "rustdl.distributed takes its ranks from MPI: start the program with "
            f"`python -m rustdl.distributed.run --nproc-per-node {expected_size} SCRIPT` or "
            f"`mpirun -n {expected_size} python SCRIPT`."
        )
    env_rank = os.environ.get("RANK")
    expected_rank = rank if rank not in (None, -1) else (int(env_rank) if env_rank else mpi_rank)
    if expected_rank != mpi_rank:
        raise RuntimeError(
            f"init_process_group: rank is {expected_rank} but this process is MPI rank {mpi_rank}; "
            "rustdl.distributed takes its ranks from MPI."
        )
    if name == Backend.GLOO and not _world.logged_backend and mpi_rank == 0:
        _log.warning(
            "rustdl.distributed: backend 'gloo' is served by MPI (%s)", MPI.Get_library_version().split(",")[0]
        )
        _world.logged_backend = True
    comm = world.Dup()
    pg = ProcessGroup(comm, range(mpi_size), name, seconds, group_name or "default_pg")
    _world.default = pg
    _world.groups = [pg]
    GroupMember.WORLD = pg
    group.WORLD = pg
    if _world.watchdog is None:
        _world.watchdog = Watchdog(_abort)
    if mpi_size > 1 and _world.previous_excepthook is None:
        _world.previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook
    _share_cores()


def destroy_process_group(group=None):
    """Free ``group``'s communicator; with no argument every group's, after which
    ``is_initialized()`` is False (MPI itself is finalised at exit)."""
    if group is None or group is _world.default:
        for g in _world.groups:
            _free(g)
        _world.groups = []
        _world.default = None
        GroupMember.WORLD = None
        globals()["group"].WORLD = None
        if _world.previous_excepthook is not None:
            sys.excepthook = _world.previous_excepthook
            _world.previous_excepthook = None
        return
    if _rank_not_in_group(group):
        return
    _free(group)
    _world.groups = [g for g in _world.groups if g is not group]


def _free(g):
    comm = g._comm
    if comm is not None:
        try:
            comm.Free()
        except Exception:  # noqa: BLE001, S110 (MPI may already be finalised at exit)
            pass
        g._comm = None


@atexit.register
def _destroy_at_exit():
    if _world.default is not None:
        destroy_process_group()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A group of the given global ``ranks`` (all ranks by default). Every rank
    of the default group must call it, as in PyTorch; ranks outside get
    ``GroupMember.NON_GROUP_MEMBER``."""
    world = _default_group()
    size = world.size()
    members = sorted(set(range(size) if ranks is None else ranks))
    for r in members:
        if not 0 <= r < size:
            raise ValueError(f"Invalid rank {r} for new_group: the world size is {size}")
    MPI = _mpi.mpi()
    me = world.rank()
    color = 0 if me in members else MPI.UNDEFINED
    comm = world._comm.Split(color, members.index(me) if me in members else 0)
    _world.group_count += 1
    if comm == MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    seconds = world._timeout if timeout is None else _seconds(timeout)
    name = Backend(backend) if backend is not None else world._backend
    pg = ProcessGroup(comm, members, name, seconds, group_desc or str(_world.group_count))
    _world.groups.append(pg)
    return pg


def get_rank(group=None):
    """This process's rank in ``group`` (-1 if it is not a member)."""
    if _rank_not_in_group(group):
        return -1
    return _resolve(group).rank()


def get_world_size(group=None):
    """The number of ranks in ``group`` (-1 if this process is not a member)."""
    if _rank_not_in_group(group):
        return -1
    return _resolve(group).size()


def get_backend(group=None):
    """The backend name the group was created with (``"mpi"`` or ``"gloo"``)."""
    if _rank_not_in_group(group):
        raise ValueError("Invalid process group specified")
    return _resolve(group)._backend


def get_process_group_ranks(group):
    return list(_resolve(group)._global_ranks)


def get_global_rank(group, group_rank):
    g = _resolve(group)
    if not 0 <= group_rank < len(g._global_ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {g.group_name}")
    return g._global_ranks[group_rank]


def get_group_rank(group, global_rank):
    g = _resolve(group)
    try:
        return g._global_ranks.index(global_rank)
    except ValueError:
        raise ValueError(f"Global rank {global_rank} is not part of group {g.group_name}") from None


def get_node_local_rank(fallback_rank=None):
    v = os.environ.get("LOCAL_RANK") or os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK")
    if v is not None:
        return int(v)
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
                       "`get_node_local_rank` to work, assuming you are not running in a multi-device context "
                       "and want the code to run locally instead.")


def _watch(pg, description):
    return _world.watchdog.watch(f"{description} (group {pg.group_name}, rank {pg.rank()} of {pg.size()})",
                                 pg._timeout)
