"""Run by tests/test_distributed.py under mpirun: every collective on every rank, checked against
the values computed locally. Exits 0 when all agree."""

import datetime
import warnings

import rustdl
import rustdl.distributed as dist
from rustdl.distributed import ReduceOp

dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
rank, n = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == "gloo"


def same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape, (a, b)
    assert rustdl.equal(a, b), (rank, a, b)


def mine(r, shape=(2, 3), dtype=rustdl.float32):
    return (rustdl.arange(6, dtype=rustdl.float64).reshape(2, 3) + 10 * r + 1).to(dtype).reshape(shape)


# all_reduce, every op, several dtypes, in place in the tensor's storage
for dtype in (rustdl.float32, rustdl.float64, rustdl.int64, rustdl.int32):
    for op, fold in [(ReduceOp.SUM, lambda a, b: a + b), (ReduceOp.PRODUCT, lambda a, b: a * b),
                     (ReduceOp.MIN, rustdl.minimum), (ReduceOp.MAX, rustdl.maximum)]:
        t = mine(rank, dtype=dtype)
        before = t.data_ptr()
        dist.all_reduce(t, op=op)
        want = mine(0, dtype=dtype)
        for r in range(1, n):
            want = fold(want, mine(r, dtype=dtype))
        same(t, want)
        assert t.data_ptr() == before
t = mine(rank)
dist.all_reduce(t, op=ReduceOp.AVG)
same(t, sum(mine(r) for r in range(n)) / n)
for op, fold in [(ReduceOp.BAND, lambda a, b: a & b), (ReduceOp.BOR, lambda a, b: a | b),
                 (ReduceOp.BXOR, lambda a, b: a ^ b)]:
    t = rustdl.tensor([rank + 3, 7 * rank + 1], dtype=rustdl.int64)
    dist.all_reduce(t, op=op)
    want = rustdl.tensor([3, 1], dtype=rustdl.int64)
    for r in range(1, n):
        want = fold(want, rustdl.tensor([r + 3, 7 * r + 1], dtype=rustdl.int64))
    same(t, want)

# a non-contiguous view and a half tensor go through a copy written back
base = rustdl.zeros(3, 2)
view = base.t()
view.copy_(mine(rank))
dist.all_reduce(view)
same(base.t(), sum(mine(r) for r in range(n)))
h = mine(rank, dtype=rustdl.float16)
dist.all_reduce(h)
same(h, sum(mine(r) for r in range(n)).to(rustdl.float16))
b = rustdl.tensor([rank == 0, False])
dist.all_reduce(b, op=ReduceOp.MAX)
same(b, rustdl.tensor([True, False]))

# async handles
t = mine(rank)
w = dist.all_reduce(t, async_op=True)
assert w.wait() is True and w.is_completed()
same(t, sum(mine(r) for r in range(n)))
same(w.result()[0], t)

# broadcast (global src)
for src in range(n):
    t = mine(rank)
    dist.broadcast(t, src=src)
    same(t, mine(src))
t = mine(rank)
dist.broadcast(t, src=n - 1, async_op=True).wait()
same(t, mine(n - 1))

# reduce
t = mine(rank)
dist.reduce(t, dst=n - 1, op=ReduceOp.SUM)
same(t, sum(mine(r) for r in range(n)) if rank == n - 1 else mine(rank))

# all_gather / all_gather_into_tensor
out = [rustdl.zeros(2, 3) for _ in range(n)]
dist.all_gather(out, mine(rank))
for r in range(n):
    same(out[r], mine(r))
flat = rustdl.zeros(n * 2, 3)
dist.all_gather_into_tensor(flat, mine(rank))
same(flat, rustdl.cat([mine(r) for r in range(n)]))
stacked = rustdl.zeros(n, 2, 3)
dist.all_gather_into_tensor(stacked, mine(rank), async_op=True).wait()
same(stacked, rustdl.stack([mine(r) for r in range(n)]))

# reduce_scatter_tensor: rank r gets block r of the sum
inp = rustdl.cat([mine(rank + 100 * j) for j in range(n)])
out = rustdl.zeros(2, 3)
dist.reduce_scatter_tensor(out, inp)
same(out, sum(mine(r + 100 * rank) for r in range(n)))
out = rustdl.zeros(2, 3)
dist.reduce_scatter_tensor(out, inp, op=ReduceOp.AVG, async_op=True).wait()
same(out, sum(mine(r + 100 * rank) for r in range(n)) / n)
out = rustdl.zeros(2, 3)
dist.reduce_scatter(out, [mine(rank + 100 * j) for j in range(n)])
same(out, sum(mine(r + 100 * rank) for r in range(n)))

# gather / scatter
dst = n - 1
gl = [rustdl.zeros(2, 3) for _ in range(n)] if rank == dst else None
dist.gather(mine(rank), gl, dst=dst)
if rank == dst:
    for r in range(n):
        same(gl[r], mine(r))
t = rustdl.zeros(2, 3)
dist.scatter(t, [mine(100 + r) for r in range(n)] if rank == 0 else None, src=0)
same(t, mine(100 + rank))

# all_to_all_single: block j of rank i goes to rank j's block i
inp = rustdl.stack([mine(10 * rank + j) for j in range(n)])
out = rustdl.zeros(n, 2, 3)
dist.all_to_all_single(out, inp)
same(out, rustdl.stack([mine(10 * i + rank) for i in range(n)]))

# send / recv around a ring, blocking and async
right, left = (rank + 1) % n, (rank - 1) % n
t = rustdl.zeros(2, 3)
if rank % 2 == 0:
    dist.send(mine(rank), dst=right)
    assert dist.recv(t, src=left) == left
else:
    assert dist.recv(t) == left  # any source
    dist.send(mine(rank), dst=right)
same(t, mine(left))
t = rustdl.zeros(2, 3)
works = dist.batch_isend_irecv([dist.P2POp(dist.isend, mine(rank), right), dist.P2POp(dist.irecv, t, left)])
for w in works:
    w.wait()
same(t, mine(left))

# objects
objs = [None] * n
dist.all_gather_object(objs, {"rank": rank})
assert objs == [{"rank": r} for r in range(n)]
lst = [rank, "x"] if rank == 0 else [None, None]
dist.broadcast_object_list(lst, src=0)
assert lst == [0, "x"]

# groups: the even ranks; global ranks in src/dst
evens = dist.new_group([r for r in range(n) if r % 2 == 0])
if rank % 2 == 0:
    assert dist.get_world_size(evens) == (n + 1) // 2 and dist.get_rank(evens) == rank // 2
    t = mine(rank)
    dist.all_reduce(t, group=evens)
    same(t, sum(mine(r) for r in range(0, n, 2)))
    t = mine(rank)
    last_even = 2 * ((n - 1) // 2)
    dist.broadcast(t, src=last_even, group=evens)
    same(t, mine(last_even))
    assert dist.get_process_group_ranks(evens) == list(range(0, n, 2))
else:
    assert evens is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(evens) == -1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = mine(rank)
        assert dist.all_reduce(t, group=evens) is None
    same(t, mine(rank))
    assert "does not belong to the given group" in str(caught[0].message)

dist.barrier()
dist.barrier(async_op=True).wait()
dist.destroy_process_group()
assert not dist.is_initialized()
print(f"rank {rank}: ok", flush=True)
