"""Trains a small CNN with DistributedDataParallel (under mpirun), or the same global batches in one
process (``--reference WORLD``), and saves the final parameters to ``--out``.

Global batch of ``--batch`` samples per step: rank r reads its ``batch / world`` samples through a
DistributedSampler; the reference reads the union of every rank's samples for the step. With
``--accumulate k`` each step is k micro-batches, the first k-1 under ``no_sync()``."""

import argparse

import numpy as np
import rustdl
import rustdl.distributed as dist
from rustdl import nn
from rustdl.nn.parallel import DistributedDataParallel as DDP
from rustdl.utils.data import DistributedSampler

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--steps", type=int, default=30)
parser.add_argument("--batch", type=int, default=16)
parser.add_argument("--accumulate", type=int, default=1)
parser.add_argument("--reference", type=int, default=0, help="world size to imitate in one process")
parser.add_argument("--bucket-cap-mb", type=float, default=None)
parser.add_argument("--batchnorm", action="store_true",
                    help="BatchNorm after each conv: SyncBatchNorm under DDP, plain in the reference")
args = parser.parse_args()
rustdl.set_num_threads(1)


def make_model():
    norm = nn.BatchNorm2d if args.batchnorm else (lambda c: nn.Identity())
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), norm(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), norm(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 3 * 3, 32), nn.Tanh(), nn.Linear(32, 10),
    )


rng = np.random.default_rng(1234)
micro = args.batch * args.accumulate
n_samples = args.steps * micro
X = rustdl.from_numpy(rng.standard_normal((n_samples, 1, 12, 12)).astype(np.float32))
Y = rustdl.from_numpy(rng.integers(0, 10, n_samples).astype(np.int64))

if args.reference:
    world, rank = args.reference, 0
    rustdl.manual_seed(0)
    model = make_model()
    train = model
else:
    dist.init_process_group("mpi")
    world, rank = dist.get_world_size(), dist.get_rank()
    rustdl.manual_seed(rank)  # different initial weights: DDP must broadcast rank 0's
    if rank == 0:
        rustdl.manual_seed(0)
    model = make_model()
    if args.batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        assert isinstance(model[1], nn.SyncBatchNorm)
    train = DDP(model, bucket_cap_mb=args.bucket_cap_mb)

order = [list(DistributedSampler(range(n_samples), world, r, shuffle=True, seed=5)) for r in range(world)]
local = args.batch // world
opt = rustdl.optim.SGD(train.parameters(), lr=0.05, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
for step in range(args.steps):
    opt.zero_grad()
    for m in range(args.accumulate):
        start = (step * args.accumulate + m) * local
        ranks = range(world) if args.reference else [rank]
        idx = rustdl.tensor([i for r in ranks for i in order[r][start:start + local]])
        sync = m == args.accumulate - 1
        if args.reference or sync:
            loss = loss_fn(train(X[idx]), Y[idx])
            loss.backward()
        else:
            with train.no_sync():
                loss = loss_fn(train(X[idx]), Y[idx])
                loss.backward()
    opt.step()

state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
if not args.reference:
    assert all(k.startswith("module.") for k in train.state_dict())
    # every replica holds the same parameters, bit for bit
    for v in model.parameters():
        lo, hi = v.detach().clone(), v.detach().clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        assert rustdl.equal(lo, hi), "replicas diverged"
    dist.destroy_process_group()
if rank == 0:
    np.savez(args.out, **state)
