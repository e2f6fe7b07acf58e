"""Collectives and point-to-point ops on rustdl tensors, through MPI.

A tensor goes to MPI as a numpy view of its own storage (``Tensor.numpy()``
is zero-copy), so MPI reads and writes the tensor's memory directly and
in-place results need no copy back. Only a non-contiguous tensor, or a dtype
MPI has no type for (float16/bfloat16 reduce in float32, bool as uint8), goes
through a contiguous copy that is written back. Blocking calls run in MPI
with the GIL released (mpi4py releases it) and under the watchdog's timeout;
``async_op=True`` posts MPI's non-blocking operation and returns a
:class:`Work` whose ``wait()`` completes it.
"""

import numpy as np

import rustdl

from . import _mpi
from .process_group import _rank_not_in_group, _resolve, _warn_not_in_group, _watch
from .reduce_op import ReduceOp, mpi_op

_WIDENED = {rustdl.float16: rustdl.float32, rustdl.bfloat16: rustdl.float32, rustdl.bool: rustdl.uint8}


class _Buffer:
    """A tensor's elements as a contiguous numpy array MPI can use in place."""

    __slots__ = ("array", "copied", "tensor", "work")

    def __init__(self, tensor):
        if not isinstance(tensor, rustdl.Tensor):
            raise TypeError(f"Invalid function argument. Expected parameter `tensor` of type torch.Tensor\n"
                            f"             but got {type(tensor)} instead.")
        if tensor.device.type != "cpu":
            raise RuntimeError(f"rustdl.distributed works on CPU tensors; got a tensor on {tensor.device}")
        self.tensor = tensor
        t = tensor.detach()
        wider = _WIDENED.get(t.dtype)
        self.copied = wider is not None or not t.is_contiguous()
        self.work = t.to(wider).contiguous() if wider is not None else t.contiguous()
        self.array = self.work.numpy().reshape(-1)

    def write_back(self):
        if self.copied:
            with rustdl.no_grad():
                self.tensor.detach().copy_(self.work)


class Work:
    """The handle of an ``async_op=True`` call."""

    def __init__(self, pg, requests, finish, description, result=None):
        self._pg = pg
        self._requests = requests
        self._finish = finish
        self._description = description
        self._result = result if result is not None else []
        self._done = False
        self._value = None
        self._statuses = None

    def _complete(self):
        if not self._done:
            self._done = True
            if self._finish is not None:
                self._value = self._finish()

    def wait(self, timeout=None):
        """Block until the operation completed (and its result is in the tensors)."""
        if not self._done:
            if self._requests:
                MPI = _mpi.mpi()
                self._statuses = [MPI.Status() for _ in self._requests]
                with _watch(self._pg, self._description):
                    MPI.Request.Waitall(self._requests, self._statuses)
            self._complete()
        return True

    def is_completed(self):
        if not self._done:
            if self._requests:
                MPI = _mpi.mpi()
                statuses = [MPI.Status() for _ in self._requests]
                if not MPI.Request.Testall(self._requests, statuses):
                    return False
                self._statuses = statuses
            self._complete()
        return self._done

    def is_success(self):
        return self.is_completed()

    def exception(self):
        return None

    def result(self):
        self.wait()
        return self._result

    def source_rank(self):
        """The global rank a completed ``irecv`` received from."""
        self.wait()
        if self._value is None:
            raise RuntimeError("source_rank is only available for a completed recv")
        return self._value

    def _source_rank(self):
        return self.source_rank()

    def get_future(self):
        return _Future(self)


class _Future:
    """A minimal ``torch.futures.Future`` over a Work: ``wait()``/``value()``/``done()``/``then()``."""

    def __init__(self, work):
        self._work = work

    def wait(self):
        self._work.wait()
        return self._work._result

    def value(self):
        return self.wait()

    def done(self):
        return self._work.is_completed()

    def then(self, callback):
        return _Done(callback(self))


class _Done:
    def __init__(self, value):
        self._value = value

    def wait(self):
        return self._value

    value = wait

    def done(self):
        return True


def _run(pg, description, blocking, post, finish, async_op, result=None):
    """Run one operation: blocking now, or posted and handed back as a Work."""
    if async_op:
        request = post()
        requests = request if isinstance(request, list) else [request]
        return Work(pg, requests, finish, description, result)
    with _watch(pg, description):
        blocking()
    if finish is not None:
        finish()
    return None


def _group_rank(pg, global_rank, what):
    try:
        return pg._global_ranks.index(global_rank)
    except ValueError:
        raise ValueError(f"{what} rank {global_rank} is not part of group {pg.group_name} "
                         f"(ranks {pg._global_ranks})") from None


def _check_op(op):
    if not isinstance(op, ReduceOp.RedOpType):
        raise TypeError(f"op must be a ReduceOp, got {op!r}")


def _averager(op, buf, n):
    def finish():
        if op is ReduceOp.AVG:
            if buf.array.dtype.kind == "f":
                buf.array /= n
            else:
                buf.array //= n
        buf.write_back()
    return finish


def _op_group(group, name):
    if _rank_not_in_group(group):
        _warn_not_in_group(name)
        return None
    return _resolve(group)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across ranks in place (SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR)."""
    _check_op(op)
    pg = _op_group(group, "all_reduce")
    if pg is None:
        return None
    MPI = _mpi.mpi()
    buf = _Buffer(tensor)
    mop, comm = mpi_op(MPI, op), pg._comm
    return _run(pg, "all_reduce",
                lambda: comm.Allreduce(MPI.IN_PLACE, buf.array, mop),
                lambda: comm.Iallreduce(MPI.IN_PLACE, buf.array, mop),
                _averager(op, buf, pg.size()), async_op, [tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce into ``tensor`` on rank ``dst`` (the other ranks' tensors are left as they are)."""
    _check_op(op)
    pg = _op_group(group, "reduce")
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, "dst")
    MPI = _mpi.mpi()
    buf = _Buffer(tensor)
    mop, comm = mpi_op(MPI, op), pg._comm
    mine = pg.rank() == root
    send = MPI.IN_PLACE if mine else buf.array
    recv = buf.array if mine else None
    finish = _averager(op, buf, pg.size()) if mine else None
    return _run(pg, "reduce",
                lambda: comm.Reduce(send, recv, mop, root),
                lambda: comm.Ireduce(send, recv, mop, root),
                finish, async_op, [tensor])


def _root(pg, global_rank, group_rank, what):
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError(f"Can not specify both {what} and group_{what}")
        return group_rank
    return _group_rank(pg, 0 if global_rank is None else global_rank, what)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` of rank ``src`` into every rank's ``tensor``."""
    pg = _op_group(group, "broadcast")
    if pg is None:
        return None
    root = _root(pg, src, group_src, "src")
    buf = _Buffer(tensor)
    comm = pg._comm
    return _run(pg, "broadcast",
                lambda: comm.Bcast(buf.array, root),
                lambda: comm.Ibcast(buf.array, root),
                buf.write_back if buf.copied else None, async_op, [tensor])


def _like(tensor, count):
    """A contiguous buffer for ``count`` copies of ``tensor``'s elements (MPI's dtype)."""
    dtype = _WIDENED.get(tensor.dtype, tensor.dtype)
    return rustdl.empty(count, *tensor.shape, dtype=dtype)


def _copy_out(flat, tensors):
    with rustdl.no_grad():
        for i, t in enumerate(tensors):
            t.detach().copy_(flat[i].reshape(t.shape))


def _check_list(tensors, n, name, ref):
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[torch.Tensor]")
    if len(tensors) != n:
        raise ValueError(f"{name} must have {n} tensors (the group size), got {len(tensors)}")
    for t in tensors:
        if not isinstance(t, rustdl.Tensor):
            raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[torch.Tensor]")
        if t.numel() != ref.numel():
            raise ValueError(f"{name}: every tensor must have {ref.numel()} elements like the input, "
                             f"got shape {tuple(t.shape)}")


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Gather every rank's ``tensor`` into ``tensor_list`` on every rank."""
    pg = _op_group(group, "all_gather")
    if pg is None:
        return None
    _check_list(tensor_list, pg.size(), "tensor_list", tensor)
    src = _Buffer(tensor)
    flat = _like(tensor, pg.size())
    out = flat.numpy().reshape(-1)
    comm = pg._comm
    return _run(pg, "all_gather",
                lambda: comm.Allgather(src.array, out),
                lambda: comm.Iallgather(src.array, out),
                lambda: _copy_out(flat, tensor_list), async_op, tensor_list)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's ``input_tensor`` concatenated (or stacked) into ``output_tensor``."""
    pg = _op_group(group, "all_gather_into_tensor")
    if pg is None:
        return None
    if output_tensor.numel() != input_tensor.numel() * pg.size() or output_tensor.dtype != input_tensor.dtype:
        raise ValueError(
            f"output tensor must have {pg.size()} times the input's {input_tensor.numel()} elements and its "
            f"dtype; got {tuple(output_tensor.shape)} {output_tensor.dtype} for input "
            f"{tuple(input_tensor.shape)} {input_tensor.dtype}")
    src, dst = _Buffer(input_tensor), _Buffer(output_tensor)
    comm = pg._comm
    return _run(pg, "all_gather_into_tensor",
                lambda: comm.Allgather(src.array, dst.array),
                lambda: comm.Iallgather(src.array, dst.array),
                dst.write_back if dst.copied else None, async_op, [output_tensor])


def _all_gather_base(output_tensor, input_tensor, group=None, async_op=False):
    return all_gather_into_tensor(output_tensor, input_tensor, group, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` across ranks and give rank i the i-th block of the result."""
    _check_op(op)
    pg = _op_group(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    if input.numel() != output.numel() * pg.size() or output.dtype != input.dtype:
        raise ValueError(
            f"input tensor must have {pg.size()} times the output's {output.numel()} elements and its dtype; "
            f"got input {tuple(input.shape)} {input.dtype}, output {tuple(output.shape)} {output.dtype}")
    MPI = _mpi.mpi()
    src, dst = _Buffer(input), _Buffer(output)
    mop, comm = mpi_op(MPI, op), pg._comm
    return _run(pg, "reduce_scatter_tensor",
                lambda: comm.Reduce_scatter_block(src.array, dst.array, mop),
                lambda: comm.Ireduce_scatter_block(src.array, dst.array, mop),
                _averager(op, dst, pg.size()), async_op, [output])


def _reduce_scatter_base(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    return reduce_scatter_tensor(output, input, op, group, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce the lists across ranks; rank i gets the reduced ``input_list[i]``."""
    pg = _op_group(group, "reduce_scatter")
    if pg is None:
        return None
    _check_list(input_list, pg.size(), "input_list", output)
    stacked = rustdl.stack([t.detach().reshape(output.shape) for t in input_list])
    return reduce_scatter_tensor(output, stacked, op, group, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Collect every rank's ``tensor`` into ``gather_list`` on rank ``dst``."""
    pg = _op_group(group, "gather")
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, "dst")
    mine = pg.rank() == root
    if mine:
        if gather_list is None:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        _check_list(gather_list, pg.size(), "gather_list", tensor)
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    src = _Buffer(tensor)
    flat = _like(tensor, pg.size()) if mine else None
    out = flat.numpy().reshape(-1) if mine else None
    comm = pg._comm
    finish = (lambda: _copy_out(flat, gather_list)) if mine else None
    return _run(pg, "gather",
                lambda: comm.Gather(src.array, out, root),
                lambda: comm.Igather(src.array, out, root),
                finish, async_op, gather_list if mine else [])


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Give rank i ``scatter_list[i]`` of rank ``src`` (in ``tensor``)."""
    pg = _op_group(group, "scatter")
    if pg is None:
        return None
    root = _root(pg, src, group_src, "src")
    mine = pg.rank() == root
    if mine:
        if scatter_list is None:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        _check_list(scatter_list, pg.size(), "scatter_list", tensor)
        stacked = rustdl.stack([t.detach().reshape(tensor.shape).to(_WIDENED.get(tensor.dtype, tensor.dtype))
                                for t in scatter_list]).contiguous()
        send = stacked.numpy().reshape(-1)
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    else:
        send = None
    dst = _Buffer(tensor)
    comm = pg._comm
    return _run(pg, "scatter",
                lambda: comm.Scatter(send, dst.array, root),
                lambda: comm.Iscatter(send, dst.array, root),
                dst.write_back if dst.copied else None, async_op, [tensor])


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """Rank i sends its j-th block of ``input`` to rank j, which stores it as its i-th block of ``output``
    (blocks along dim 0: equal, or of the given split sizes)."""
    pg = _op_group(group, "all_to_all_single")
    if pg is None:
        return None
    n = pg.size()
    src, dst = _Buffer(input), _Buffer(output)
    row_in = input.numel() // input.shape[0] if input.dim() and input.shape[0] else 1
    row_out = output.numel() // output.shape[0] if output.dim() and output.shape[0] else 1
    comm = pg._comm
    if output_split_sizes is None and input_split_sizes is None:
        if input.numel() % n or output.numel() != input.numel():
            raise ValueError(f"all_to_all_single: input and output must hold the same number of elements, "
                             f"divisible by the group size {n}")
        blocking = lambda: comm.Alltoall(src.array, dst.array)
        post = lambda: comm.Ialltoall(src.array, dst.array)
    else:
        ins = [int(s) * row_in for s in (input_split_sizes or [input.shape[0] // n] * n)]
        outs = [int(s) * row_out for s in (output_split_sizes or [output.shape[0] // n] * n)]
        sspec = [src.array, (ins, list(np.cumsum([0] + ins[:-1]).tolist()))]
        rspec = [dst.array, (outs, list(np.cumsum([0] + outs[:-1]).tolist()))]
        blocking = lambda: comm.Alltoallv(sspec, rspec)
        post = lambda: comm.Ialltoallv(sspec, rspec)
    return _run(pg, "all_to_all_single", blocking, post, dst.write_back if dst.copied else None, async_op,
                [output])


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Rank i's ``input_tensor_list[j]`` becomes rank j's ``output_tensor_list[i]`` (equal sizes)."""
    pg = _op_group(group, "all_to_all")
    if pg is None:
        return None
    _check_list(input_tensor_list, pg.size(), "input_tensor_list", input_tensor_list[0])
    _check_list(output_tensor_list, pg.size(), "output_tensor_list", input_tensor_list[0])
    ref = input_tensor_list[0]
    stacked = rustdl.stack([t.detach().reshape(ref.shape) for t in input_tensor_list])
    flat = _like(ref, pg.size())
    work = all_to_all_single(flat, stacked, group=group, async_op=async_op)

    def finish():
        _copy_out(flat, output_tensor_list)
    if async_op:
        inner = work._finish
        work._finish = lambda: (inner and inner(), finish())
        work._result = output_tensor_list
        return work
    finish()
    return None


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of ``group`` reached the barrier."""
    pg = _op_group(group, "barrier")
    if pg is None:
        return None
    comm = pg._comm
    return _run(pg, "barrier", comm.Barrier, comm.Ibarrier, None, async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier; past ``timeout`` (the group's by default) the job is aborted naming it."""
    pg = _op_group(group, "monitored_barrier")
    if pg is None:
        return
    from .process_group import _seconds, _world

    seconds = pg._timeout if timeout is None else _seconds(timeout)
    with _world.watchdog.watch(f"monitored_barrier (rank {pg.rank()} of {pg.size()})", seconds):
        pg._comm.Barrier()


# point to point -------------------------------------------------------------

def _p2p_group(group, name):
    pg = _op_group(group, name)
    return pg


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to global rank ``dst`` (returns when the buffer may be reused)."""
    pg = _p2p_group(group, "send")
    if pg is None:
        return
    peer = _root(pg, dst, group_dst, "dst")
    if peer == pg.rank():
        raise ValueError("Invalid destination rank: destination rank should not be the same as the rank of "
                         "the current process.")
    buf = _Buffer(tensor)
    with _watch(pg, f"send to rank {dst}"):
        pg._comm.Send(buf.array, peer, tag)
    return


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from global rank ``src`` (any rank if None); returns the sender's rank."""
    pg = _p2p_group(group, "recv")
    if pg is None:
        return -1
    MPI = _mpi.mpi()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _root(pg, src, group_src, "src")
    buf = _Buffer(tensor)
    status = MPI.Status()
    with _watch(pg, f"recv from rank {src if src is not None else 'any'}"):
        pg._comm.Recv(buf.array, peer, tag, status)
    buf.write_back()
    return pg._global_ranks[status.Get_source()]


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Post a send; returns a Work."""
    pg = _p2p_group(group, "isend")
    if pg is None:
        return None
    peer = _root(pg, dst, group_dst, "dst")
    buf = _Buffer(tensor)
    return Work(pg, [pg._comm.Isend(buf.array, peer, tag)], None, f"isend to rank {dst}", [tensor])


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Post a receive; returns a Work (``wait()`` fills ``tensor``)."""
    pg = _p2p_group(group, "irecv")
    if pg is None:
        return None
    MPI = _mpi.mpi()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _root(pg, src, group_src, "src")
    buf = _Buffer(tensor)
    request = pg._comm.Irecv(buf.array, peer, tag)

    def finish():
        buf.write_back()
        return pg._global_ranks[work._statuses[0].Get_source()]
    work = Work(pg, [request], finish, f"irecv from rank {src}", [tensor])
    return work


class P2POp:
    """One send or receive of :func:`batch_isend_irecv`."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv, send, recv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                             "``torch.distributed.irecv``.")
        self.op = isend if op in (isend, send) else irecv
        self.tensor = tensor
        self.peer = peer
        self.group = group
        self.tag = tag
        self.group_peer = group_peer


def batch_isend_irecv(p2p_op_list):
    """Post every op of the list; returns their Works."""
    if not p2p_op_list or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type "
                         "``torch.distributed.P2POp``.")
    works = []
    for p in p2p_op_list:
        if p.op is isend:
            works.append(isend(p.tensor, p.peer, p.group, p.tag, p.group_peer))
        else:
            works.append(irecv(p.tensor, p.peer, p.group, p.tag, p.group_peer))
    return works


# objects (pickled, as PyTorch does) ----------------------------------------

def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replace ``object_list``'s entries by rank ``src``'s (pickled)."""
    pg = _op_group(group, "broadcast_object_list")
    if pg is None:
        return
    root = _root(pg, src, group_src, "src")
    with _watch(pg, "broadcast_object_list"):
        objs = pg._comm.bcast(list(object_list) if pg.rank() == root else None, root)
    object_list[:] = objs


def all_gather_object(object_list, obj, group=None):
    """``object_list[i]`` becomes rank i's ``obj`` (pickled)."""
    pg = _op_group(group, "all_gather_object")
    if pg is None:
        return
    if len(object_list) != pg.size():
        raise ValueError(f"object_list must have {pg.size()} entries, got {len(object_list)}")
    with _watch(pg, "all_gather_object"):
        object_list[:] = pg._comm.allgather(obj)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    pg = _op_group(group, "gather_object")
    if pg is None:
        return
    root = _root(pg, dst, group_dst, "dst")
    with _watch(pg, "gather_object"):
        objs = pg._comm.gather(obj, root)
    if pg.rank() == root:
        if object_gather_list is None:
            raise ValueError("Argument ``object_gather_list`` must be specified on destination rank.")
        object_gather_list[:] = objs


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    pg = _op_group(group, "scatter_object_list")
    if pg is None:
        return
    root = _root(pg, src, group_src, "src")
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    with _watch(pg, "scatter_object_list"):
        obj = pg._comm.scatter(list(scatter_object_input_list) if pg.rank() == root else None, root)
    scatter_object_output_list[0] = obj
