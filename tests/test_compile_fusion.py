"""rustdl.compile's fused CNN block, ``relu(max_pool2d(conv2d(x), 2))`` as one op
(``_C._conv2d_relu_max_pool2d``): the forward and the gradients within float32 rounding of
the three ops (direct kernels for few-channel layers: forward and weight/bias gradients
with output channels in the vector lanes, input gradient skipping the padded gradient's
zeros), at ties, NaN, negative windows and odd sizes; double
backward; the unfused fallback; and when the rewrite applies inside compiled graphs
(recompiles, shared results)."""

import numpy as np
import pytest
import rustdl as torch
from rustdl import _C, nn
from rustdl.nn import functional as F


def unfused(x, w, b, stride=1, padding=0, dilation=1, groups=1):
    return F.relu(F.max_pool2d(F.conv2d(x, w, b, stride, padding, dilation, groups), 2))


def fused(x, w, b, stride=1, padding=0, dilation=1, groups=1):
    pair = lambda v: [v, v] if isinstance(v, int) else list(v)
    return _C._conv2d_relu_max_pool2d(x, w, b, pair(stride), pair(padding), pair(dilation), groups)


def _leaves(*ts):
    return [t.detach().clone().requires_grad_(True) if t is not None else None for t in ts]


def _same(a, b):
    """Equal bits (NaN where NaN, the sign of zeros)."""
    a, b = a.detach(), b.detach()
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype == torch.bfloat16:
        a, b = a.float(), b.float()  # (exact)
    np.testing.assert_array_equal(a.numpy().view(np.uint8), b.numpy().view(np.uint8))


def _close(a, b, rtol=1e-5):
    """Equal within float32 rounding: elementwise, relative to the largest magnitude (the
    summation order differs); NaN where NaN."""
    a, b = a.detach(), b.detach()
    assert a.shape == b.shape and a.dtype == b.dtype
    if a.dtype == torch.bfloat16:
        a, b = a.float(), b.float()  # (exact)
    a, b = a.numpy(), b.numpy()
    finite = np.isfinite(a)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(a[~finite & ~np.isnan(a)], b[~finite & ~np.isnan(a)])
    scale = float(np.abs(a[finite]).max()) if finite.any() else 0.0
    np.testing.assert_allclose(a[finite], b[finite], rtol=rtol, atol=rtol * scale)


def _check(x, w, b, **conv):
    xa, wa, ba = _leaves(x, w, b)
    xb, wb, bb = _leaves(x, w, b)
    ya, yb = unfused(xa, wa, ba, **conv), fused(xb, wb, bb, **conv)
    assert ya.shape == yb.shape and yb.grad_fn is not None
    _close(ya, yb)
    if w.shape[1] * w.shape[2] * w.shape[3] == 1:
        _same(ya, yb)  # one tap per output: the same single product (and sign of zero)
    g = torch.randn(*ya.shape, generator=torch.Generator().manual_seed(3))
    ya.backward(g)
    yb.backward(g)
    _close(xa.grad, xb.grad)
    for a, c in [(wa, wb), (ba, bb)]:
        if a is not None:
            _close(a.grad, c.grad)


CASES = [
    ((4, 3, 12, 12), (5, 3, 3, 3), {}),
    ((2, 1, 28, 28), (6, 1, 5, 5), {"padding": 2}),  # LeNet's first block
    ((3, 4, 11, 9), (6, 2, 3, 2), {"groups": 2, "padding": (1, 0)}),  # odd pooled sizes
    ((2, 2, 17, 15), (3, 2, 3, 3), {"stride": 2, "dilation": (1, 2)}),
]


@pytest.mark.parametrize("xs, ws, conv", CASES)
def test_fused_block_is_the_three_ops(xs, ws, conv):
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(*xs, generator=g), torch.randn(*ws, generator=g), torch.randn(ws[0], generator=g)
    _check(x, w, b, **conv)
    _check(x, w, None, **conv)


GRAD_CASES = [
    ((64, 6, 14, 14), (16, 6, 5, 5), {}),  # LeNet's second block
    ((3, 1, 28, 28), (6, 1, 5, 5), {"padding": 2}),
    ((2, 7, 13, 11), (9, 7, 3, 3), {"padding": 1}),  # 7 channels: a 6-block and a 1-block
    ((3, 4, 11, 9), (6, 2, 3, 2), {"groups": 2, "padding": (1, 0)}),
    ((2, 2, 17, 15), (3, 2, 3, 3), {"stride": 2, "dilation": (1, 2)}),
    ((3, 5, 23, 37), (7, 5, 3, 4), {"stride": (2, 3), "padding": (1, 2), "dilation": (2, 1)}),
    ((2, 8, 20, 20), (8, 2, 3, 3), {"padding": 1, "groups": 4}),
    ((2, 3, 9, 40), (4, 3, 1, 5), {"padding": (0, 4), "dilation": (1, 3)}),  # rows of 3 segments
    ((1, 3, 8, 8), (2, 3, 8, 8), {"padding": 3}),  # kernel as large as the input
    ((5, 12, 19, 19), (16, 12, 5, 5), {"padding": 2, "stride": 1}),  # two channel blocks
    # weight gradient: 20 output channels (a 16-lane and a partial vector), 11 kernel rows of 3
    # (two passes of taps), 7x7 taps (4 + 3 rows) on 8 lanes, row dilation with strides
    ((2, 3, 16, 16), (20, 3, 11, 3), {"padding": (5, 1)}),
    ((2, 4, 15, 15), (6, 2, 7, 7), {"groups": 2, "padding": 3, "stride": (1, 2)}),
    ((2, 3, 18, 12), (4, 3, 5, 5), {"dilation": (2, 1), "stride": 2}),
]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("xs, ws, conv", GRAD_CASES)
def test_input_gradient_within_rounding_of_eager(xs, ws, conv, threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(5)
        x, w, b = torch.randn(*xs, generator=g), torch.randn(*ws, generator=g), torch.randn(ws[0], generator=g)
        _check(x, w, b, **conv)
    finally:
        torch.set_num_threads(old)


def test_non_finite_weight_gradients_are_the_eager_kernels():
    g = torch.Generator().manual_seed(8)
    x, w, b = torch.randn(2, 3, 12, 12, generator=g), torch.randn(4, 3, 5, 5, generator=g), torch.randn(4, generator=g)
    x[0, 1, 4, 5] = float("inf")
    x[1, 0, 0, 0] = float("nan")
    _check(x, w, b, padding=2)
    x[1, 0, 0, 0] = -float("inf")
    _check(x, w, None)


def test_rounding_tolerance_still_sees_a_wrong_gradient():
    a = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(6))
    wrong = a.clone()
    wrong[1, 2, 3, 4] += 1e-3 * a.abs().max()
    _close(a, a.clone())
    with pytest.raises(AssertionError):
        _close(a, wrong)


def test_ties_nan_zeros_and_negative_windows():
    # a 1x1 identity convolution: the pooled values are the input's own
    x = torch.tensor([[[[-1.0, -2.0, 3.0, 3.0, 0.5], [-0.5, -3.0, 1.0, 0.0, 9.0],
                        [0.0, -0.0, float("nan"), 1.0, 2.0], [-0.0, -1.0, 2.0, float("nan"), 4.0],
                        [7.0, 7.0, 7.0, 7.0, 7.0], [7.0, 7.0, -float("inf"), float("inf"), 1.0],
                        [1.0, 2.0, 3.0, 4.0, 5.0]]]])
    w, b = torch.ones(1, 1, 1, 1), torch.zeros(1)
    _check(x, w, b)
    _check(-x, w, None)


def test_gradient_of_nan_and_negative_zero_outputs():
    x = torch.tensor([[[[float("nan"), 1.0], [2.0, 3.0]], [[-0.0, -1.0], [-2.0, -0.0]]]]).reshape(1, 2, 2, 2)
    _check(x, torch.ones(2, 1, 1, 1), None, groups=2)


def test_double_backward_equals_unfused():
    g = torch.Generator().manual_seed(1)
    x, w, b = torch.randn(2, 2, 8, 8, generator=g), torch.randn(3, 2, 3, 3, generator=g), torch.randn(3, generator=g)
    results = []
    for f in (unfused, fused):
        xl, wl, bl = _leaves(x, w, b)
        y = f(xl, wl, bl, padding=1)
        gx, gw = torch.autograd.grad(y.pow(2).sum(), [xl, wl], create_graph=True)
        (gx.sum() + gw.pow(2).sum()).backward()
        results.append([t.detach().clone() for t in (y, gx, gw, xl.grad, wl.grad, bl.grad)])
    for a, c in zip(*results):
        _close(a, c)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_other_dtypes_run_the_three_ops(dtype):
    g = torch.Generator().manual_seed(2)
    x, w, b = (torch.randn(*s, generator=g).to(dtype) for s in [(2, 2, 6, 6), (3, 2, 3, 3), (3,)])
    _check(x, w, b)


def test_unbatched_input_and_errors_are_the_ops():
    g = torch.Generator().manual_seed(2)
    x, w = torch.randn(2, 6, 6, generator=g), torch.randn(3, 2, 3, 3, generator=g)
    _same(unfused(x, w, None), fused(x, w, None))
    with pytest.raises(RuntimeError, match="expected input"):
        fused(torch.randn(1, 3, 6, 6), w, None)
    with pytest.raises(RuntimeError):  # a pooled size of zero: max_pool2d's error
        fused(torch.randn(1, 2, 3, 3), w, None)
    # shapes the direct kernels never see: conv2d's own errors
    for args in [(torch.randn(1, 2, 6, 6), w, torch.zeros(4)), (torch.randn(1, 2, 2, 2), w, None)]:
        with pytest.raises(RuntimeError) as want:
            unfused(*args)
        with pytest.raises(RuntimeError) as got:
            fused(*args)
        assert str(got.value) == str(want.value)


class TwoBlocks(nn.Module):
    def __init__(self, share=False):
        super().__init__()
        self.share = share
        self.c1, self.c2 = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 5, 3)
        self.fc = nn.Linear(5 * 2 * 2, 2)

    def forward(self, x):
        y = self.c1(x)
        x = F.max_pool2d(F.relu(y), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), kernel_size=(2, 2), stride=2)
        out = self.fc(torch.flatten(x, 1))
        return out + y.mean() if self.share else out


@pytest.mark.parametrize("share", [False, True])
def test_compiled_steps_equal_eager_with_recompiles(share):
    def train(compiled):
        torch.manual_seed(0)
        model = TwoBlocks(share)
        run = torch.compile(model) if compiled else model
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        g = torch.Generator().manual_seed(5)
        losses = []
        for batch in [8, 8, 8, 3, 3, 8]:  # a new batch size recompiles; the old graph replays
            x, t = torch.randn(batch, 3, 14, 14, generator=g), torch.randint(0, 2, (batch,), generator=g)
            opt.zero_grad()
            loss = F.cross_entropy(run(x), t)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.detach().clone() for p in model.parameters()], run

    eager, p_eager, _ = train(False)
    comp, p_comp, run = train(True)
    np.testing.assert_allclose(comp, eager, rtol=1e-5)  # the input gradients sum in another order
    for a, c in zip(p_eager, p_comp):
        _close(a, c)
    entries = [e for es in run._compiled_forward.entries.values() for e in es]
    assert len(entries) == 2 and all(e.fn is not None for e in entries)
    ops = [n.op for n in entries[0].graph.nodes]
    # a conv result read by something else too is not fused (its full resolution is needed)
    assert ops.count("conv2d_relu_max_pool2d") == (1 if share else 2), ops


def test_inplace_relu_and_graph_break_still_work():
    class Net(nn.Module):
        def __init__(self, breaks):
            super().__init__()
            self.breaks = breaks
            self.c = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.c(x), inplace=True), 2)
            if self.breaks:
                x = x * float(x.sum().item() > -1e9)  # a value read in Python: runs eagerly
            return x.sum()

    x = torch.randn(2, 1, 10, 10)
    for breaks in (False, True):
        torch.manual_seed(0)
        net = Net(breaks)
        cnet = torch.compile(net)
        for _ in range(2):
            assert cnet(x).item() == net(x).item()
        (entry,) = [e for es in cnet._compiled_forward.entries.values() for e in es]
        assert (entry.fn is None) == breaks
        if not breaks:
            assert entry.graph.nodes[0].op == "conv2d_relu_max_pool2d"
