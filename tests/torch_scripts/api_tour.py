"""A tour of the PyTorch APIs real programs touch, as plain PyTorch with
assertions (runs the same under torch and `python -m rustdl`)."""

import numpy as np
import torch
from torch import nn

torch.manual_seed(0)
assert not torch.accelerator.is_available() and torch.accelerator.device_count() == 0

# meta tensors and modules: shape and dtype only
with torch.device("meta"):
    lin = nn.Linear(4, 3)
assert lin.weight.device.type == "meta"
assert torch.rand(2**10, 3, 2**16, 2**16, device="meta").shape == (2**10, 3, 2**16, 2**16)
assert lin.to_empty(device="cpu").weight.device.type == "cpu"

# narrow dtypes
for dt in (torch.int8, torch.int16, torch.float16, torch.bfloat16):
    t = torch.arange(5, dtype=dt)
    assert (t + 1).dtype == dt and t.tolist() == [0, 1, 2, 3, 4]

# from_numpy shares memory; out= on factories
a = np.ones(3)
t = torch.from_numpy(a)
a[0] = 5
assert t[0].item() == 5
c = torch.empty(2, 2)
torch.rand(2, 2, out=c)
assert ((c >= 0) & (c < 1)).all()
assert torch.arange(4, out=torch.empty(4)).tolist() == [0.0, 1.0, 2.0, 3.0]
assert torch.logspace(0, 2, 3).tolist() == [1.0, 10.0, 100.0]

# ops
x = torch.randn(3, 3)
for f in ("asin", "acos", "atan", "sinh", "cosh", "asinh", "atanh"):
    y = x.clamp(-0.5, 0.5)
    assert torch.allclose(getattr(y.clone(), f + "_")(), getattr(torch, f)(y))
values, inverse, counts = torch.unique(torch.tensor([3, 1, 3, 2]), sorted=True, return_inverse=True, return_counts=True)
assert values.tolist() == [1, 2, 3] and inverse.tolist() == [2, 0, 2, 1] and counts.tolist() == [1, 1, 2]
assert torch.allclose(torch.einsum("ij,jk->ik", x, x), x @ x, atol=1e-6)
assert torch.allclose(torch.addmm(x, x, x), x + x @ x, atol=1e-6)
assert torch.median(torch.tensor([3.0, 1.0, 2.0])).item() == 2.0
s = x @ x.T + 3 * torch.eye(3)
assert torch.allclose(torch.linalg.inv(s) @ s, torch.eye(3), atol=1e-4)
assert torch.allclose(torch.linalg.eigvalsh(s).sum(), torch.trace(s), atol=1e-4)

# advanced-index assignment
y = torch.zeros(5, 3)
y[range(5), torch.tensor([0, 1, 2, 0, 1])] = 1.0
assert y.sum().item() == 5
z = torch.zeros(2, 3, 4)
z[[0, 1], :, 1] = 5
assert z.sum().item() == 30

# the graph as PyTorch shows it
b = torch.ones(2, requires_grad=True)
assert type((b * 2).grad_fn).__name__ == "MulBackward0"
assert (2 * b).grad_fn.next_functions[1][0] is None
assert nn.Linear(3, 3)(x).grad_fn.name() == "AddmmBackward0"
assert torch.mm(x.requires_grad_(), x).grad_fn.name() == "MmBackward0"

# profiler, DataParallel, shared memory
with torch.autograd.profiler.profile() as prof:
    (x @ x).sum()
assert "aten::matmul" in prof.key_averages().table()
assert nn.DataParallel(nn.Linear(3, 2))(torch.randn(4, 3)).shape == (4, 2)
assert torch.randn(3).share_memory_().is_shared()
print("api tour: ok")
