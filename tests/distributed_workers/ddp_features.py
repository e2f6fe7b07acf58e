"""DDP details under mpirun: buffers broadcast, find_unused_parameters, the error for an unused
parameter without it, no_sync accumulation, state_dict keys, bucket order with several buckets."""

import rustdl
import rustdl.distributed as dist
from rustdl import nn
from rustdl.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("gloo")
rank, n = dist.get_rank(), dist.get_world_size()
rustdl.manual_seed(100 + rank)


def gathered(t):
    out = [rustdl.zeros_like(t) for _ in range(n)]
    dist.all_gather(out, t.detach().contiguous())
    return out


def avg(ts):
    return sum(ts) / len(ts)


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 3)  # used only by rank 0
        self.never = nn.Linear(4, 3)  # used by no rank
        self.bn = nn.BatchNorm1d(3)

    def forward(self, x, use_b):
        y = self.a(x)
        if use_b:
            y = y + self.b(x)
        return self.bn(y)


# construction broadcasts rank 0's parameters and buffers
m = Branchy()
m.bn.running_mean.fill_(float(rank))
ddp = DDP(m, find_unused_parameters=True)
for p in m.parameters():
    assert all(rustdl.equal(q, gathered(p)[0]) for q in gathered(p))
assert float(m.bn.running_mean[0]) == 0.0
assert next(iter(ddp.state_dict())).startswith("module.") and "module.bn.running_mean" in ddp.state_dict()

# find_unused_parameters: b gets the average of rank 0's gradient and zeros; never keeps grad None
x = rustdl.randn(5, 4)
m.never.weight.grad = None
out = ddp(x, use_b=(rank == 0))
out.pow(2).sum().backward()
# reference: each rank's local gradient of the same loss, averaged by hand
local = Branchy()
local.load_state_dict(m.state_dict())
local.bn.running_mean.copy_(rustdl.zeros(3))
local.bn.running_var.copy_(rustdl.ones(3))
local(x, use_b=(rank == 0)).pow(2).sum().backward()
for name, p in m.named_parameters():
    lp = dict(local.named_parameters())[name]
    if name.startswith("never"):
        assert p.grad is None, name
        continue
    mine = lp.grad if lp.grad is not None else rustdl.zeros_like(lp)
    want = avg(gathered(mine))
    assert rustdl.allclose(p.grad, want, rtol=1e-5, atol=1e-6), (name, p.grad, want)

# running stats of each rank differ after that forward; the next forward broadcasts rank 0's
# (in eval mode, so that forward does not update them again)
assert n == 1 or not rustdl.equal(*gathered(m.bn.running_mean)[:2])
m.eval()
with rustdl.no_grad():
    ddp(x, use_b=True)
assert all(rustdl.equal(s, gathered(m.bn.running_mean)[0]) for s in gathered(m.bn.running_mean))
m.train()

# a forward with grad enabled but no backward (a validation loss) is fine
ddp(x, use_b=True)
ddp(x, use_b=True).sum().backward()

# without find_unused_parameters, an unused parameter leaves the reduction unfinished: PyTorch's error
m2 = Branchy()
ddp2 = DDP(m2)
ddp2(x, use_b=False).sum().backward()
try:
    ddp2(x, use_b=False)
except RuntimeError as e:
    assert "Expected to have finished reduction in the prior iteration" in str(e)
else:
    raise AssertionError("no error for an unused parameter")

# no_sync: two local backward passes, then one synchronised: the average of the accumulated sums
rustdl.manual_seed(7)
m3 = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
ddp3 = DDP(m3, bucket_cap_mb=1e-5)  # one bucket per parameter: several all-reduces in order
assert len(ddp3._buckets) > 1
xs = [rustdl.randn(3, 6) for _ in range(3)]
with ddp3.no_sync():
    ddp3(xs[0]).sum().backward()
    ddp3(xs[1]).sum().backward()
local_sum = [p.grad.clone() for p in m3.parameters()]
ddp3(xs[2]).sum().backward()
ref = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
ref.load_state_dict(m3.state_dict())
for xi in xs:
    ref(xi).sum().backward()
for p, r, s in zip(m3.parameters(), ref.parameters(), local_sum):
    assert rustdl.allclose(p.grad, avg(gathered(r.grad)), rtol=1e-5, atol=1e-6)
    assert not rustdl.equal(s, p.grad) or n == 1
dist.destroy_process_group()
print(f"rank {rank}: ok", flush=True)
