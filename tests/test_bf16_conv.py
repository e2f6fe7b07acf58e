"""bfloat16 convolutions (rust/cpu/conv_bf16.rs on the bf16 GEMM where the CPU
has one, float32 widening elsewhere): forward, input, weight and bias
gradients agree with a float32 convolution of the same bf16 values rounded to
bf16 once, on every kernel level this CPU runs."""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl.backends import cpu as cpu_backend
from test_bf16_gemm import bf16_round, close_bf16


@pytest.fixture(params=cpu_backend._supported_isas())
def isa(request):
    before = cpu_backend._isa()
    cpu_backend._set_isa(request.param)
    yield request.param
    cpu_backend._set_isa(before)


def rand_bf16(shape, seed):
    vals = bf16_round(np.random.default_rng(seed).uniform(-2, 2, size=shape))
    return rustdl.from_numpy(vals.astype(np.float32)).to(rustdl.bfloat16)


def as_np(t):
    return t.detach().float().numpy().astype(np.float64)


def check(conv, xshape, wshape, bias=True, seed=0, transpose_input=False, **kw):
    x = rand_bf16(xshape, seed)
    if transpose_input:  # a non-contiguous view of the same shape
        x = rand_bf16(xshape[:-2] + (xshape[-1], xshape[-2]), seed).transpose(-1, -2)
    w = rand_bf16(wshape, seed + 1)
    b = rand_bf16((wshape[0],), seed + 2) if bias else None
    # reference: float32 convolution of the same values
    xf, wf = x.float().requires_grad_(), w.float().requires_grad_()
    bf = b.float().requires_grad_() if bias else None
    yf = conv(xf, wf, bf, **kw)
    gy = rand_bf16(tuple(yf.shape), seed + 3)
    yf.backward(gy.float())

    xb, wb = x.detach().requires_grad_(), w.detach().requires_grad_()
    bb = b.detach().requires_grad_() if bias else None
    y = conv(xb, wb, bb, **kw)
    assert y.dtype == rustdl.bfloat16
    y.backward(gy)
    assert xb.grad.dtype == rustdl.bfloat16 and wb.grad.dtype == rustdl.bfloat16
    close_bf16(as_np(y), bf16_round(as_np(yf)), steps=2)
    close_bf16(as_np(xb.grad), bf16_round(as_np(xf.grad)), steps=2)
    close_bf16(as_np(wb.grad), bf16_round(as_np(wf.grad)), steps=2)
    if bias:
        assert bb.grad.dtype == rustdl.bfloat16
        close_bf16(as_np(bb.grad), bf16_round(as_np(bf.grad)), steps=2)


CASES_2D = [
    {"xshape": (2, 3, 9, 11), "wshape": (5, 3, 3, 3)},
    {"xshape": (2, 16, 8, 8), "wshape": (24, 16, 3, 3), "padding": 1},  # winograd-sized layer
    {"xshape": (3, 4, 10, 9), "wshape": (6, 4, 3, 2), "stride": 2, "padding": 1},
    {"xshape": (2, 4, 11, 11), "wshape": (4, 4, 3, 3), "dilation": 2, "padding": 2},
    {"xshape": (2, 6, 7, 7), "wshape": (9, 2, 3, 3), "groups": 3, "padding": 1},
    {"xshape": (2, 6, 7, 7), "wshape": (6, 1, 3, 3), "groups": 6},  # depthwise
    {"xshape": (1, 8, 6, 5), "wshape": (12, 8, 1, 1)},  # pointwise, batch 1
    {"xshape": (1, 5, 12, 12), "wshape": (7, 5, 5, 5), "stride": (2, 3), "padding": (2, 1)},
    {"xshape": (4, 40, 12, 12), "wshape": (48, 40, 3, 3), "padding": 1},  # many columns
    # >= 16 input channels per group: the bf16 input-gradient paths
    {"xshape": (2, 16, 9, 9), "wshape": (8, 16, 3, 3), "stride": 2, "padding": 1},
    {"xshape": (2, 16, 9, 9), "wshape": (8, 16, 3, 3), "dilation": 2, "padding": 1},
    {"xshape": (2, 32, 6, 6), "wshape": (8, 16, 3, 3), "groups": 2, "padding": 1},
    {"xshape": (1, 16, 5, 5), "wshape": (8, 16, 1, 1)},
    {"xshape": (2, 16, 7, 7), "wshape": (8, 16, 3, 3), "padding": 3},  # padding > d*(k-1)
]


@pytest.mark.parametrize("case", CASES_2D, ids=[str(i) for i in range(len(CASES_2D))])
def test_conv2d(isa, case):
    check(F.conv2d, **case)


def test_conv2d_no_bias_noncontiguous(isa):
    check(F.conv2d, (2, 3, 8, 10), (4, 3, 3, 3), bias=False, transpose_input=True, padding=1)


def test_conv1d_and_conv3d(isa):
    check(F.conv1d, (2, 4, 17), (6, 4, 5), stride=2, padding=2)
    check(F.conv3d, (1, 3, 5, 6, 7), (4, 3, 3, 3, 2), padding=1)
    check(F.conv1d, (2, 16, 20), (8, 16, 3), padding=1)
    check(F.conv3d, (1, 16, 4, 5, 6), (8, 16, 3, 3, 3), padding=1)


def test_autocast_conv_float32_params(isa):
    conv = rustdl.nn.Conv2d(3, 8, 3, padding=1)
    x = rustdl.randn(2, 3, 8, 8)
    with rustdl.autocast("cpu", dtype=rustdl.bfloat16):
        y = conv(x)
    assert y.dtype == rustdl.bfloat16
    y.float().sum().backward()
    assert conv.weight.grad.dtype == rustdl.float32 and conv.bias.grad.dtype == rustdl.float32
    # the float32 convolution of the inputs rounded to bf16, rounded once
    xr, wr, br = (t.detach().to(rustdl.bfloat16).float() for t in (x, conv.weight, conv.bias))
    close_bf16(as_np(y), bf16_round(as_np(F.conv2d(xr, wr, br, padding=1))), steps=2)


def test_empty_batch(isa):
    x = rand_bf16((0, 3, 5, 5), 0)
    w = rand_bf16((4, 3, 3, 3), 1)
    assert tuple(F.conv2d(x, w).shape) == (0, 4, 3, 3)


# Output lines of 12+ positions with unit stride along them: the direct
# kernels (rust/cpu/conv_bf16_direct.rs) where the CPU has AVX512_BF16 —
# partial 16-lane segments, odd segment counts, 8- and 12-channel tiles with
# idle rows, odd channel counts (half-empty channel pairs), odd widths (the
# weight gradient's position pairs), strides across lines, dilation, groups,
# padding beyond the kernel's reach, 1-d and 3-d.
CASES_DIRECT = [
    {"xshape": (2, 3, 16, 16), "wshape": (32, 3, 3, 3), "padding": 1},
    {"xshape": (2, 16, 16, 16), "wshape": (16, 16, 3, 3), "padding": 1},
    {"xshape": (2, 5, 13, 13), "wshape": (7, 5, 3, 3), "padding": 1},
    {"xshape": (1, 9, 6, 24), "wshape": (40, 9, 3, 3), "padding": 1},
    {"xshape": (2, 17, 7, 18), "wshape": (12, 17, 3, 3), "dilation": 2, "padding": 1},
    {"xshape": (2, 16, 9, 20), "wshape": (18, 16, 3, 3), "stride": (2, 1), "padding": (0, 2)},
    {"xshape": (2, 32, 5, 16), "wshape": (48, 8, 3, 3), "groups": 4, "padding": 1},
    {"xshape": (1, 16, 4, 16), "wshape": (20, 16, 1, 5), "padding": (0, 4)},
    {"xshape": (3, 20, 6, 30), "wshape": (33, 20, 2, 3)},
    {"xshape": (2, 16, 16, 16), "wshape": (32, 16, 3, 3), "stride": 2, "padding": 1},  # widths 8: column path
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES_DIRECT, ids=[str(i) for i in range(len(CASES_DIRECT))])
def test_conv2d_direct(isa, case, threads):
    before = rustdl.get_num_threads()
    rustdl.set_num_threads(threads)
    try:
        check(F.conv2d, **case)
    finally:
        rustdl.set_num_threads(before)


def test_conv1d_and_conv3d_direct(isa):
    check(F.conv1d, (2, 6, 40), (16, 6, 3), padding=1)
    check(F.conv1d, (3, 16, 33), (24, 16, 5), dilation=2, padding=3)
    check(F.conv3d, (2, 4, 3, 5, 16), (16, 4, 3, 3, 3), padding=1)
    check(F.conv3d, (1, 16, 5, 4, 14), (16, 16, 2, 3, 3), stride=(2, 1, 1), padding=(0, 1, 1))


def test_conv_direct_inf_stays_local(isa):
    # An inf input reaches only the outputs over it: zero padding, idle lanes
    # and half-empty channel pairs must not turn it into NaN elsewhere.
    x = rustdl.ones(2, 15, 6, 16, dtype=rustdl.bfloat16)
    x[0, 0, 0, -1] = float("inf")
    w = rustdl.full((16, 15, 3, 3), 0.5, dtype=rustdl.bfloat16)
    y = as_np(F.conv2d(x, w, padding=1))
    hit = np.zeros(y.shape, bool)
    hit[0, :, :2, -2:] = True
    assert np.all(y[hit] == np.inf)
    assert np.all(np.isfinite(y[~hit]))
