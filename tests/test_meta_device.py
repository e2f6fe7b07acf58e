"""The meta device (``device="meta"``): shapes and dtypes without memory, and
``with rustdl.device(...)`` / ``set_default_device`` for factories (issue 20).

Expected shapes, dtypes and messages are PyTorch 2.x's (checked by hand
against PyTorch; no torch import here).
"""

import time

import pytest
import rustdl as torch
import rustdl.nn.functional as F
from rustdl import nn


def meta(*size, **kw):
    return torch.empty(*size, device="meta", **kw)


def test_huge_factory_returns_at_once():
    t0 = time.perf_counter()
    x = torch.rand(2**10, 3, 2**16, 2**16, device="meta")
    assert time.perf_counter() - t0 < 0.5
    assert tuple(x.shape) == (1024, 3, 65536, 65536)
    assert x.dtype == torch.float32
    assert x.device == torch.device("meta")
    assert repr(x.device) == "device(type='meta')"
    assert x.is_meta and not x.is_cpu and not x.is_cuda
    # elementwise chains on it stay meta (no fused program over no memory)
    r = (x * 2 + 1).relu().sum(dim=-1)
    assert tuple(r.shape) == (1024, 3, 65536) and r.is_meta


def test_repr():
    assert repr(meta(2, 3)) == "tensor(..., device='meta', size=(2, 3))"
    assert str(meta(0)) == "tensor(..., device='meta', size=(0,))"
    assert repr(meta(())) == "tensor(..., device='meta', size=())"
    assert repr(meta(2, dtype=torch.int64)) == "tensor(..., device='meta', size=(2,), dtype=rustdl.int64)"
    p = nn.Linear(4, 3, device="meta").weight
    assert repr(p) == "Parameter containing:\ntensor(..., device='meta', size=(3, 4), requires_grad=True)"


@pytest.mark.parametrize("make, shape, dtype", [
    (lambda: torch.zeros(2, 3, device="meta"), (2, 3), torch.float32),
    (lambda: torch.ones(4, device="meta", dtype=torch.float64), (4,), torch.float64),
    (lambda: torch.full((2, 2), 7, device="meta"), (2, 2), torch.int64),
    (lambda: torch.randn(3, 5, device="meta"), (3, 5), torch.float32),
    (lambda: torch.arange(10, device="meta"), (10,), torch.int64),
    (lambda: torch.arange(0, 1, 0.25, device="meta"), (4,), torch.float32),
    (lambda: torch.linspace(0, 1, 5, device="meta"), (5,), torch.float32),
    (lambda: torch.eye(3, 4, device="meta"), (3, 4), torch.float32),
    (lambda: torch.randint(0, 5, (3,), device="meta"), (3,), torch.int64),
    (lambda: torch.randperm(6, device="meta"), (6,), torch.int64),
    (lambda: torch.tensor([1.0, 2.0], device="meta"), (2,), torch.float32),
    (lambda: torch.zeros_like(meta(2, 5)), (2, 5), torch.float32),
    (lambda: torch.ones_like(meta(2, 5), dtype=torch.int32), (2, 5), torch.int32),
    (lambda: torch.rand_like(meta(2, 5)), (2, 5), torch.float32),
    (lambda: torch.randn_like(meta(2, 5)), (2, 5), torch.float32),
    (lambda: torch.full_like(meta(2, 5), 3.0), (2, 5), torch.float32),
    (lambda: torch.empty_like(meta(2, 5)), (2, 5), torch.float32),
])
def test_factories(make, shape, dtype):
    t = make()
    assert t.is_meta and tuple(t.shape) == shape and t.dtype == dtype


A, B = (5, 1, 4), (3, 1)


@pytest.mark.parametrize("op, shape, dtype", [
    (lambda a, b: a + b, (5, 3, 4), torch.float32),
    (lambda a, b: a * 2, A, torch.float32),
    (lambda a, b: 1 - a, A, torch.float32),
    (lambda a, b: a / b, (5, 3, 4), torch.float32),
    (lambda a, b: -a.exp().tanh(), A, torch.float32),
    (lambda a, b: a > b, (5, 3, 4), torch.bool),
    (lambda a, b: torch.where(a > 0, a, b), (5, 3, 4), torch.float32),
    (lambda a, b: a.clamp(0, 1), A, torch.float32),
    (lambda a, b: F.gelu(a), A, torch.float32),
    (lambda a, b: a.softmax(-1), A, torch.float32),
    (lambda a, b: a.sum(), (), torch.float32),
    (lambda a, b: a.sum(dim=(0, 2)), (1,), torch.float32),
    (lambda a, b: a.mean(-1, keepdim=True), (5, 1, 1), torch.float32),
    (lambda a, b: a.max(dim=2)[0], (5, 1), torch.float32),
    (lambda a, b: a.max(dim=2)[1], (5, 1), torch.int64),
    (lambda a, b: a.argmax(-1), (5, 1), torch.int64),
    (lambda a, b: a.var(-1), (5, 1), torch.float32),
    (lambda a, b: a.norm(), (), torch.float32),
    (lambda a, b: (a > 0).any(), (), torch.bool),
    (lambda a, b: a.long().sum(0), (1, 4), torch.int64),
    (lambda a, b: a.cumsum(0), A, torch.float32),
    (lambda a, b: a.sort(-1)[1], A, torch.int64),
    (lambda a, b: a.topk(2)[0], (5, 1, 2), torch.float32),
    (lambda a, b: a @ meta(4, 6), (5, 1, 6), torch.float32),
    (lambda a, b: meta(2, 3, 4).bmm(meta(2, 4, 5)), (2, 3, 5), torch.float32),
    (lambda a, b: F.linear(meta(2, 4), meta(3, 4), meta(3)), (2, 3), torch.float32),
    (lambda a, b: F.conv2d(meta(2, 3, 32, 32), meta(8, 3, 3, 3), meta(8), stride=2, padding=1), (2, 8, 16, 16), torch.float32),
    (lambda a, b: F.conv1d(meta(2, 3, 10), meta(4, 3, 3)), (2, 4, 8), torch.float32),
    (lambda a, b: F.max_pool2d(meta(2, 3, 8, 8), 2), (2, 3, 4, 4), torch.float32),
    (lambda a, b: F.adaptive_avg_pool2d(meta(2, 3, 8, 8), 1), (2, 3, 1, 1), torch.float32),
    (lambda a, b: F.layer_norm(meta(2, 5), (5,)), (2, 5), torch.float32),
    (lambda a, b: F.batch_norm(meta(2, 3, 4), meta(3), meta(3), training=False), (2, 3, 4), torch.float32),
    (lambda a, b: F.cross_entropy(meta(4, 10), meta(4, dtype=torch.int64)), (), torch.float32),
    (lambda a, b: F.embedding(meta(3, dtype=torch.int64), meta(10, 4)), (3, 4), torch.float32),
    (lambda a, b: a.view(20), (20,), torch.float32),
    (lambda a, b: a.reshape(-1, 2), (10, 2), torch.float32),
    (lambda a, b: a.transpose(0, 2).contiguous(), (4, 1, 5), torch.float32),
    (lambda a, b: a.permute(2, 0, 1), (4, 5, 1), torch.float32),
    (lambda a, b: a.unsqueeze(0), (1, 5, 1, 4), torch.float32),
    (lambda a, b: a.expand(5, 3, 4), (5, 3, 4), torch.float32),
    (lambda a, b: a[1:3, :, ::2], (2, 1, 2), torch.float32),
    (lambda a, b: torch.cat([a, a], 0), (10, 1, 4), torch.float32),
    (lambda a, b: torch.stack([a, a]), (2, 5, 1, 4), torch.float32),
    (lambda a, b: a.repeat(2, 1, 1), (10, 1, 4), torch.float32),
    (lambda a, b: a.double(), A, torch.float64),
    (lambda a, b: torch.einsum("ij,jk->ik", meta(2, 3), meta(3, 4)), (2, 4), torch.float32),
])
def test_ops_give_meta_results(op, shape, dtype):
    out = op(meta(*A), meta(*B))
    assert out.is_meta and tuple(out.shape) == shape and out.dtype == dtype


def test_inplace_ops_are_noops():
    t = meta(2, 3)
    assert t.add_(1) is t and t.mul_(meta(3)) is t
    t.fill_(2)
    t.zero_()
    t.uniform_()
    t.normal_()
    t.copy_(torch.ones(2, 3))
    with pytest.raises(RuntimeError):
        t.copy_(torch.ones(4))


def test_no_data_raises_as_pytorch():
    t = meta(2, 3)
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor; no data!"):
        t.to("cpu")
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor; no data!"):
        t.cpu()
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor; no data!"):
        t.tolist()
    with pytest.raises(RuntimeError, match="a Tensor with 6 elements cannot be converted to Scalar"):
        t.item()
    with pytest.raises(RuntimeError, match=r"Tensor.item\(\) cannot be called on meta tensors"):
        meta(()).item()
    with pytest.raises(RuntimeError, match=r"Tensor.item\(\) cannot be called on meta tensors"):
        bool(meta(()))
    with pytest.raises(TypeError, match="can't convert meta device type tensor to numpy"):
        t.numpy()


def test_unsupported_op_names_the_op_and_the_meta_backend():
    with pytest.raises(NotImplementedError, match=r"Could not run 'aten::nonzero' with arguments from the 'Meta' backend"):
        meta(3).nonzero()
    # and the interpreter is fine afterwards
    assert tuple((meta(2) + 1).shape) == (2,)


def test_meta_autograd_gives_meta_gradients():
    x = meta(3, 4, requires_grad=True)
    s = x.sum()
    assert s.grad_fn is not None
    s.backward()
    assert x.grad.is_meta and tuple(x.grad.shape) == (3, 4)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, device="meta"), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10, device="meta"))
    out = net(meta(2, 3, 8, 8))
    assert tuple(out.shape) == (2, 10) and out.is_meta
    F.cross_entropy(out, meta(2, dtype=torch.int64)).backward()
    assert net[0].weight.grad.is_meta and tuple(net[0].weight.grad.shape) == (8, 3, 3, 3)


def test_modules_on_meta_and_to_empty():
    lin = nn.Linear(4, 3, device="meta")
    assert lin.weight.is_meta and lin.bias.is_meta and lin.weight.requires_grad
    conv = nn.Conv2d(3, 8, 3, device="meta")
    bn = nn.BatchNorm2d(8, device="meta")
    assert conv.weight.is_meta and bn.running_mean.is_meta and bn.num_batches_tracked.is_meta
    for init in (nn.init.kaiming_uniform_, nn.init.xavier_normal_, nn.init.trunc_normal_, nn.init.orthogonal_, nn.init.zeros_):
        assert init(lin.weight) is lin.weight and lin.weight.is_meta
    assert lin.to_empty(device="cpu") is lin
    assert lin.weight.device == torch.device("cpu") and isinstance(lin.weight, nn.Parameter)
    assert tuple(lin.weight.shape) == (3, 4) and lin.weight.requires_grad
    lin.reset_parameters()
    assert lin(torch.ones(2, 4)).shape == (2, 3)
    e = torch.empty_like(meta(2, 3), device="cpu")
    assert e.device == torch.device("cpu") and tuple(e.shape) == (2, 3)
    assert torch.ones(3).to("meta").is_meta


def test_device_context_manager_and_default_device():
    assert torch.get_default_device() == torch.device("cpu")
    with torch.device("meta"):
        assert torch.get_default_device() == torch.device("meta")
        assert torch.zeros(3).is_meta and torch.tensor([1.0]).is_meta and torch.arange(3).is_meta
        assert nn.Linear(2, 2).weight.is_meta
        assert torch.zeros(2, device="cpu").device == torch.device("cpu")
        # *_like keep their input's device
        assert not torch.zeros_like(torch.ones(1, device="cpu")).is_meta
        with torch.device("cpu"):
            assert not torch.zeros(2).is_meta
        assert torch.zeros(2).is_meta
    assert not torch.zeros(3).is_meta
    torch.set_default_device("meta")
    try:
        assert torch.ones(1).is_meta and torch.get_default_device() == torch.device("meta")
    finally:
        torch.set_default_device(None)
    assert torch.get_default_device() == torch.device("cpu") and not torch.ones(1).is_meta
    d = torch.device("meta")
    assert d.__enter__() is d
    assert d.__exit__(None, None, None) is False
    assert not torch.ones(1).is_meta


def test_no_full_size_helper_tensors_on_meta():
    # dropout masks, tril masks: built on the meta device too, so a huge meta
    # input costs nothing
    huge = torch.rand(2**10, 3, 2**16, 2**16, device="meta")
    t0 = time.perf_counter()
    for out in (F.dropout(huge, 0.5), F.dropout2d(huge, 0.3), huge.tril(), huge.triu(1), huge.flip(0)):
        assert out.is_meta and tuple(out.shape) == tuple(huge.shape)
    assert time.perf_counter() - t0 < 0.5


def test_new_tensors_follow_self_and_copy_out_raises():
    m = meta(2)
    assert m.new_zeros(3).is_meta and m.new_full((2,), 1.0).is_meta and m.new_tensor([1.0]).is_meta
    assert not torch.ones(2).new_ones(2).is_meta
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor; no data!"):
        torch.ones(2).copy_(m)


def test_load_state_dict_into_a_meta_model():
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    source = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    with pytest.warns(UserWarning, match="copying from a non-meta parameter in the checkpoint to a meta parameter"):
        model.load_state_dict(source.state_dict())
    assert model[0].weight.is_meta
    model.load_state_dict(source.state_dict(), assign=True)
    w = model[0].weight
    assert isinstance(w, nn.Parameter) and w.requires_grad and not w.is_meta
    assert w.tolist() == source[0].weight.tolist() and not model[1].running_mean.is_meta
    assert tuple(model(torch.ones(4, 3)).shape) == (4, 2)
    assert meta(2).data_ptr() == 0


@pytest.mark.parametrize("build, shape, out_shape", [
    (lambda: nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Dropout(0.1), nn.Linear(16, 2)), (4, 8), (4, 2)),
    (lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)), (2, 3, 16, 16), (2, 10)),
    (lambda: nn.LSTM(4, 8, batch_first=True), (2, 5, 4), (2, 5, 8)),
    (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2), (1, 3, 5, 5), (1, 2, 11, 11)),
    (lambda: nn.GroupNorm(2, 4), (2, 4, 3), (2, 4, 3)),
])
def test_models_forward_and_backward_on_meta(build, shape, out_shape):
    with torch.device("meta"):
        model = build()
        x = torch.randn(*shape)
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    assert out.is_meta and tuple(out.shape) == out_shape
    out.sum().backward()
    for p in model.parameters():
        assert p.grad is not None and p.grad.is_meta and p.grad.shape == p.shape


def test_embedding_and_index_ops_on_meta():
    emb = nn.Embedding(10, 4, device="meta")
    idx = torch.randint(0, 10, (3, 5), device="meta")
    emb(idx).sum().backward()
    assert emb.weight.grad.is_meta and tuple(emb.weight.grad.shape) == (10, 4)
    s = meta(4, 5)
    index = torch.zeros(4, 5, dtype=torch.int64)
    assert s.scatter_add(0, index, s).is_meta and s.index_add(0, torch.tensor([0]), torch.ones(1, 5)).is_meta


def test_advanced_indexing_on_meta():
    x = meta(5, 4, 3, requires_grad=True)
    assert tuple(x[torch.tensor([0, 2])].shape) == (2, 4, 3)
    assert tuple(x[:, torch.tensor([1, 1, 3])].shape) == (5, 3, 3)
    assert tuple(x[torch.tensor([0, 1]), torch.tensor([2, 3])].shape) == (2, 3)
    assert tuple(x[[0, 1]].shape) == (2, 4, 3)
    assert tuple(x[meta(2, dtype=torch.int64)].shape) == (2, 4, 3)
    x[:, torch.tensor([1, 3])].sum().backward()
    assert x.grad.is_meta and tuple(x.grad.shape) == (5, 4, 3)
    with pytest.raises(NotImplementedError, match="'Meta' backend"):
        x[meta(5, dtype=torch.bool)]  # data-dependent shape, as PyTorch
