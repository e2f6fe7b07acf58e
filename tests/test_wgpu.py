"""The wgpu backend: every op's device result and gradient equal the CPU's
(the CPU path is itself checked against PyTorch's golden outputs), training
matches, device errors are PyTorch's. Runs on any Vulkan/Metal/DX12 adapter;
in CI on Mesa's software Vulkan device (lavapipe)."""

import numpy as np
import pytest
import rustdl as torch
import rustdl.nn.functional as F
from rustdl import nn

wgpu = torch.backends.wgpu

if not wgpu.is_built():
    pytest.skip("rustdl was built without the wgpu feature", allow_module_level=True)
if not wgpu.is_available():
    pytest.skip("no wgpu adapter on this machine (install mesa-vulkan-drivers)", allow_module_level=True)

DEV = "wgpu"


def close(gpu, cpu, tol=1e-5):
    a = gpu.detach().cpu().numpy() if hasattr(gpu, "cpu") else np.asarray(gpu)
    b = cpu.detach().numpy() if hasattr(cpu, "numpy") else np.asarray(cpu)
    assert a.shape == b.shape
    assert a.dtype == b.dtype
    np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=tol, atol=tol)


def both(fn, *shapes, positive=False, seed=0):
    """Run fn on CPU leaves and on their device copies; compare outputs and
    the gradients of a weighted sum of the output."""
    g = torch.Generator().manual_seed(seed)
    cpu = [torch.randn(tuple(s), generator=g) for s in shapes]
    if positive:
        cpu = [c.abs() + 0.5 for c in cpu]
    for c in cpu:
        c.requires_grad_(True)
    dev = [c.detach().to(DEV).requires_grad_(True) for c in cpu]
    out_c, out_d = fn(*cpu), fn(*dev)
    assert out_d.device.type == "wgpu"
    close(out_d, out_c)
    if out_c.is_floating_point():
        w = torch.randn(tuple(out_c.shape), generator=g)
        (out_c * w).sum().backward()
        (out_d * w.to(DEV)).sum().backward()
        for c, d in zip(cpu, dev):
            assert d.grad.device.type == "wgpu"
            close(d.grad, c.grad, tol=1e-4)


def test_device_api():
    assert wgpu.device_count() >= 1
    assert isinstance(wgpu.get_device_name(), str)
    x = torch.arange(6.0).reshape(2, 3)
    d = x.to(DEV)
    assert d.device == torch.device("wgpu:0") and str(d.device) == "wgpu:0"
    assert x.device.type == "cpu"
    np.testing.assert_array_equal(d.cpu().numpy(), x.numpy())
    np.testing.assert_array_equal(d.numpy(), x.numpy())
    assert d.sum().item() == 15.0
    assert "device='wgpu:0'" in repr(d)
    assert d.to(DEV) is d
    assert torch.zeros(2, 2, device=DEV).device.type == "wgpu"
    assert torch.ones_like(d).device.type == "wgpu"
    assert torch.tensor([1, 2], device="wgpu").dtype == torch.int64


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.int32, torch.bool, torch.uint8])
def test_roundtrip_dtypes(dtype):
    x = (torch.arange(-3, 9) % 4).to(dtype)
    np.testing.assert_array_equal(x.to(DEV).cpu().numpy(), x.numpy())


BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / b,
    lambda a, b: torch.maximum(a, b),
    lambda a, b: torch.minimum(a, b),
    lambda a, b: a * 2.5 - b / 3,
    lambda a, b: torch.where(a > b, a, b * 2),
]


@pytest.mark.parametrize("i", range(len(BINARY)))
def test_binary_broadcast(i):
    both(BINARY[i], (4, 1, 5), (3, 1))


def test_pow_and_compare():
    both(lambda a: a**2, (5, 6))
    both(lambda a: a**0.5, (5, 6), positive=True)
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(4, 5, generator=g), torch.randn(5, generator=g)
    for op in ["__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"]:
        close(getattr(a.to(DEV), op)(b.to(DEV)), getattr(a, op)(b))


UNARY = ["exp", "tanh", "sigmoid", "relu", "neg", "abs", "sin", "cos", "floor", "ceil"]


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    both(lambda x: getattr(x, name)(), (3, 7))


@pytest.mark.parametrize("name", ["log", "sqrt", "rsqrt"])
def test_unary_positive(name):
    both(lambda x: getattr(x, name)(), (3, 7), positive=True)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.gelu(x),
        lambda x: F.silu(x),
        lambda x: F.leaky_relu(x, 0.1),
        lambda x: F.elu(x),
        lambda x: F.softplus(x),
        lambda x: F.hardtanh(x),
        lambda x: F.hardswish(x),
    ],
)
def test_activations(fn):
    both(fn, (4, 9))


def test_strided_views():
    both(lambda x: x.T * 2 + x.T.exp(), (5, 3))
    both(lambda x: x[1:, ::2].relu() * 3, (6, 8))
    both(lambda x: x.permute(2, 0, 1).reshape(4, -1), (2, 3, 4))
    both(lambda x: x.expand(3, 4, 5) + 1, (4, 5))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.sum(),
        lambda x: x.sum(0),
        lambda x: x.sum((0, 2), keepdim=True),
        lambda x: x.mean(1),
        lambda x: x.amax(2),
        lambda x: x.max(1).values,
        lambda x: x.min(),
        lambda x: x.var(1),
        lambda x: x.softmax(-1),
        lambda x: x.log_softmax(1),
    ],
)
def test_reductions(fn):
    both(fn, (3, 70, 5))


def test_long_rows_and_argmax():
    both(lambda x: x.sum(1), (4, 3000))
    x = torch.randn(6, 500)
    close(x.to(DEV).argmax(1), x.argmax(1))
    close(x.to(DEV).argmin(0), x.argmin(0))
    close((x > 0).to(DEV).sum(1), (x > 0).sum(1))


def test_matmul_family():
    both(lambda a, b: a @ b, (70, 33), (33, 65))
    both(lambda a, b: a @ b.T, (5, 130), (7, 130))
    both(lambda a, b: torch.bmm(a, b), (3, 17, 9), (3, 9, 20))
    both(lambda a, b: a @ b, (2, 3, 4, 5), (5, 6))
    both(lambda x, w, b: F.linear(x, w, b), (8, 20), (10, 20), (10,))


def test_gather_index_select():
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 6, (4, 3), generator=g)
    both(lambda x: x.gather(1, idx.to(DEV) if x.device.type == "wgpu" else idx), (4, 6))
    i1 = torch.tensor([2, 0, 2])
    both(lambda x: x.index_select(0, i1.to(x.device)), (4, 5))


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1}, {"ignore_index": 1}, {"reduction": "sum"}])
def test_cross_entropy(kw):
    t = torch.tensor([1, 0, 4, 1, 3, 2])
    both(lambda x: F.cross_entropy(x, t.to(x.device), **kw), (6, 5))


def test_cross_entropy_weight_and_mse():
    t = torch.tensor([1, 0, 4, 1])
    w = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])
    both(lambda x: F.cross_entropy(x, t.to(x.device), weight=w.to(x.device)), (4, 5))
    both(lambda a, b: F.mse_loss(a, b), (4, 5), (4, 5))


@pytest.mark.parametrize(
    "nd,kw",
    [
        (1, {"stride": 2, "padding": 1}),
        (2, {"stride": 1, "padding": 2}),
        (2, {"stride": 2, "padding": 1, "dilation": 2}),
        (2, {"groups": 2}),
        (3, {"stride": 1, "padding": 1}),
    ],
)
def test_conv(nd, kw):
    conv = [None, F.conv1d, F.conv2d, F.conv3d][nd]
    spatial = [9, 8, 5][:nd] if nd < 3 else [5, 4, 6]
    both(lambda x, w, b: conv(x, w, b, **kw), (2, 4, *spatial), (6, 4 // kw.get("groups", 1), *([3] * nd)), (6,))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.max_pool2d(x, 2),
        lambda x: F.max_pool2d(x, 3, stride=2),
        lambda x: F.avg_pool2d(x, 2),
        lambda x: F.avg_pool2d(x, 3, stride=1, padding=1),
        lambda x: F.max_pool1d(x.flatten(2), 4),
    ],
)
def test_pooling(fn):
    both(fn, (2, 3, 8, 9))


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_lenet_training_matches_cpu(opt):
    def run(device):
        torch.manual_seed(0)
        model = lenet().to(device)
        if opt == "sgd":
            o = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
        else:
            o = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(1)
        x = torch.randn(16, 1, 28, 28, generator=g).to(device)
        y = torch.randint(0, 10, (16,), generator=g).to(device)
        losses = []
        for _ in range(4):
            o.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            o.step()
            losses.append(loss.item())
        return np.array(losses), model

    cpu, m_cpu = run("cpu")
    dev, m_dev = run(DEV)
    np.testing.assert_allclose(dev, cpu, rtol=1e-4, atol=1e-5)
    assert cpu[-1] < cpu[0]
    for (k, a), (_, b) in zip(m_cpu.state_dict().items(), m_dev.state_dict().items()):
        assert b.device.type == "wgpu", k
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=1e-3, atol=1e-5)


def test_module_to_and_back():
    m = nn.Linear(3, 2).to(DEV)
    assert m.weight.device.type == "wgpu" and m.bias.device.type == "wgpu"
    m.cpu()
    assert m.weight.device.type == "cpu"


def test_device_mismatch_is_pytorch_error():
    a, b = torch.randn(3).to(DEV), torch.randn(3)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        a + b
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        torch.randn(2, 3).to(DEV) @ torch.randn(3, 2)
    # 0-dim CPU tensors (Python scalars) mix with device tensors, as in PyTorch
    close(a * torch.tensor(2.0), a.cpu() * 2)


def test_readback_after_long_queue():
    x = torch.zeros(1000).to(DEV)
    for _ in range(600):
        x = x + 1
    assert x.sum().item() == 600_000.0


def test_in_place_ops_on_device():
    x = torch.zeros(4, 4).to(DEV)
    x[1:3, ::2] = 5.0
    x.add_(1)
    ref = torch.zeros(4, 4)
    ref[1:3, ::2] = 5.0
    ref.add_(1)
    close(x, ref)


def test_bad_device_requests():
    with pytest.raises(TypeError, match="float64"):
        torch.randn(3, dtype=torch.float64).to(DEV)
    with pytest.raises(RuntimeError, match="index 1"):
        torch.randn(3).to("wgpu:1")
    with pytest.raises(RuntimeError, match="32 bits"):
        torch.tensor([2**40]).to(DEV)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, w, b: F.layer_norm(x, (5, 6), w.reshape(5, 6), b.reshape(5, 6)),
        lambda x, w, b: F.group_norm(x.reshape(3, 10, 3), 5, w[:10], b[:10]),
        lambda x, w, b: F.instance_norm(x, weight=w[:5], bias=b[:5]),
        lambda x, w, b: F.batch_norm(x, None, None, w[:5], b[:5], training=True),
    ],
)
def test_norms(fn):
    both(fn, (3, 5, 6), (30,), (30,))


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_module_running_stats(train):
    torch.manual_seed(0)
    bn_c = nn.BatchNorm2d(4)
    bn_d = nn.BatchNorm2d(4).to(DEV)
    bn_d.load_state_dict(bn_c.state_dict())
    bn_c.train(train)
    bn_d.train(train)
    x = torch.randn(6, 4, 5, 5) * 3 + 1
    for _ in range(2):
        close(bn_d(x.to(DEV)), bn_c(x), tol=1e-4)
    for k, v in bn_c.state_dict().items():
        np.testing.assert_allclose(bn_d.state_dict()[k].cpu().numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


def test_conv_bn_relu_block_trains_like_cpu():
    def run(device):
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(8 * 4 * 4, 10),
        ).to(device)
        o = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        g = torch.Generator().manual_seed(2)
        x = torch.randn(8, 3, 8, 8, generator=g).to(device)
        y = torch.randint(0, 10, (8,), generator=g).to(device)
        out = []
        for _ in range(3):
            o.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            o.step()
            out.append(loss.item())
        return np.array(out)

    np.testing.assert_allclose(run(DEV), run("cpu"), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.clamp(-0.5, 0.7),
        lambda x: x.clamp(min=0.1),
        lambda x: x.logsumexp(1),
        lambda x: F.normalize(x, dim=1),
        lambda x: F.cosine_similarity(x, x * x, dim=1),
        lambda x: F.binary_cross_entropy(x.sigmoid(), (x * 3).sigmoid()),
        lambda x: F.binary_cross_entropy_with_logits(x, (x * 3).sigmoid()),
        lambda x: F.nll_loss(x.log_softmax(1), torch.tensor([0, 2, 1, 4]).to(x.device)),
        lambda x: x[torch.tensor([2, 0, 2]).to(x.device)],
        lambda x: x[:, torch.tensor([1, 3])],
        lambda x: x[x.detach() > 0],
        lambda x: x.tril(),
        lambda x: F.pad(x[None], (1, 2), mode="reflect"),
        lambda x: F.pad(x, (1, 1, 2, 0), value=0.5),
    ],
)
def test_more_ops(fn):
    both(fn, (4, 5))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.adaptive_avg_pool2d(x, 1),
        lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
        lambda x: F.adaptive_max_pool2d(x, 2),
        lambda x: F.max_pool2d(x, 3, stride=1, padding=1),
        lambda x: F.max_pool2d(x, 2, ceil_mode=True),
        lambda x: F.interpolate(x, scale_factor=2),
        lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
    ],
)
def test_more_pooling(fn):
    both(fn, (2, 3, 4, 6))


@pytest.mark.parametrize("nd,kw", [(1, {"stride": 2}), (2, {"stride": 2, "padding": 1, "output_padding": 1}), (2, {"groups": 2})])
def test_conv_transpose(nd, kw):
    conv = [None, F.conv_transpose1d, F.conv_transpose2d][nd]
    both(lambda x, w, b: conv(x, w, b, **kw), (2, 4, *([5] * nd)), (4, 3, *([3] * nd)), (3 * kw.get("groups", 1),))


def test_embedding_lstm_dropout_match_cpu():
    def run(device):
        torch.manual_seed(0)
        emb = nn.Embedding(12, 6).to(device)
        lstm = nn.LSTM(6, 5, batch_first=True).to(device)
        head = nn.Linear(5, 3).to(device)
        params = list(emb.parameters()) + list(lstm.parameters()) + list(head.parameters())
        opt = torch.optim.Adam(params, lr=0.01)
        tok = torch.tensor([[1, 4, 4, 7], [0, 11, 3, 2]]).to(device)
        y = torch.tensor([2, 0]).to(device)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            h, _ = lstm(F.dropout(emb(tok), 0.3))
            loss = F.cross_entropy(head(h[:, -1]), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 0.5)
            opt.step()
            losses.append(loss.item())
        return np.array(losses)

    np.testing.assert_allclose(run(DEV), run("cpu"), rtol=1e-4, atol=1e-5)


def test_predicates_and_index_results_stay_on_device():
    x = torch.tensor([[1.0, float("nan")], [float("inf"), -2.0]])
    d = x.to(DEV)
    for name in ["isnan", "isinf", "isfinite"]:
        close(getattr(d, name)(), getattr(x, name)())
    close((d > 0).any(1), (x > 0).any(1))
    close((d > 0).all(), (x > 0).all())
    close(d.nonzero(), x.nonzero())
    close(F.one_hot(torch.tensor([0, 2]).to(DEV), 3), F.one_hot(torch.tensor([0, 2]), 3))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.cumsum(0),
        lambda x: x.cumprod(0),
        lambda x: x.prod(),
        lambda x: x.sort(1),
        lambda x: x.topk(2),
        lambda x: x.argsort(1),
    ],
)
def test_ops_without_device_kernel_raise_runtime_error(fn):
    with pytest.raises(RuntimeError, match="not implemented on the wgpu device"):
        fn(torch.randn(3, 4).to(DEV))


def test_nan_propagates_like_cpu():
    x = torch.tensor([[1.0, float("nan"), 3.0], [-1.0, -5.0, -2.0]])
    d = x.to(DEV)
    close(d.amax(1), x.amax(1))
    close(d.argmax(1), x.argmax(1))
    close(d.max(), x.max())
    close(d.clamp(0, 1), x.clamp(0, 1))
    close(d.bool(), x.bool())
