"""Convolutions against a direct NumPy reference, finite-difference gradient
checks in float64, thread-count independence and bad-input errors."""

import itertools

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl.autograd import gradcheck

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _tup(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def ref_conv(x, w, b, stride, padding, dilation, groups):
    """Direct definition: sum over kernel offsets of strided input slices."""
    nd = w.ndim - 2
    s, p, d = _tup(stride, nd), _tup(padding, nd), _tup(dilation, nd)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(q, q) for q in p])
    k = w.shape[2:]
    out = [(xp.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(nd)]
    n = x.shape[0]
    cout, cgi = w.shape[:2]
    cgo = cout // groups
    y = np.zeros((n, cout, *out))
    for off in itertools.product(*[range(kk) for kk in k]):
        sl = tuple(slice(off[i] * d[i], off[i] * d[i] + (out[i] - 1) * s[i] + 1, s[i]) for i in range(nd))
        patch = xp[(slice(None), slice(None)) + sl]
        for g in range(groups):
            wg = w[(slice(g * cgo, (g + 1) * cgo), slice(None)) + off]
            y[:, g * cgo : (g + 1) * cgo] += np.einsum(
                "oc,nc...->no...", wg, patch[:, g * cgi : (g + 1) * cgi]
            )
    if b is not None:
        y += b.reshape((1, -1) + (1,) * nd)
    return y


def ref_conv_transpose(x, w, b, stride, padding, output_padding, groups, dilation):
    """Scatter each input position's contribution, then crop the padding."""
    nd = w.ndim - 2
    s, p, op, d = (_tup(v, nd) for v in (stride, padding, output_padding, dilation))
    n, cin = x.shape[:2]
    cgo = w.shape[1]
    cgi = cin // groups
    k = w.shape[2:]
    full = [(x.shape[2 + i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 + op[i] for i in range(nd)]
    y = np.zeros((n, cgo * groups, *full))
    for off in itertools.product(*[range(kk) for kk in k]):
        sl = tuple(
            slice(off[i] * d[i], off[i] * d[i] + (x.shape[2 + i] - 1) * s[i] + 1, s[i]) for i in range(nd)
        )
        for g in range(groups):
            wg = w[(slice(g * cgi, (g + 1) * cgi), slice(None)) + off]
            y[(slice(None), slice(g * cgo, (g + 1) * cgo)) + sl] += np.einsum(
                "co,nc...->no...", wg, x[:, g * cgi : (g + 1) * cgi]
            )
    y = y[(slice(None), slice(None)) + tuple(slice(p[i], full[i] - p[i]) for i in range(nd))]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y


def tensor(a, requires_grad=False):
    return rustdl.tensor(np.ascontiguousarray(a), requires_grad=requires_grad)


# (nd, batch, c_in, c_out, spatial, kernel, stride, padding, dilation, groups)
CONV_CASES = [
    (1, 2, 3, 4, (11,), (3,), 2, 1, 1, 1),
    (1, 3, 4, 6, (9,), (2,), 1, 0, 3, 2),
    (1, 1, 4, 4, (7,), (3,), 1, 2, 1, 4),
    (2, 2, 3, 5, (7, 9), (3, 2), (2, 1), (1, 0), 1, 1),
    (2, 3, 4, 8, (6, 5), (3, 3), 1, 1, (1, 2), 4),
    (2, 2, 6, 4, (5, 7), (1, 1), 1, 0, 1, 2),
    (2, 1, 2, 3, (4, 4), (1, 1), 2, 1, 1, 1),
    (2, 2, 2, 2, (5, 5), (5, 5), 1, 0, 1, 1),
    (3, 2, 2, 4, (5, 4, 6), (2, 3, 1), (1, 2, 1), (1, 0, 1), 1, 2),
    (3, 1, 3, 3, (4, 5, 5), (3, 3, 3), 2, 1, 2, 3),
    # 3x3, stride 1, >= 16 channels: the Winograd kernels (odd/even sizes, padding 0-2)
    (2, 2, 16, 17, (7, 9), (3, 3), 1, 1, 1, 1),
    (2, 3, 17, 16, (6, 6), (3, 3), 1, 0, 1, 1),
    (2, 1, 16, 20, (5, 19), (3, 3), 1, 2, 1, 1),
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_matches_reference(case, bias):
    nd, n, cin, cout, sp, k, s, p, d, g = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, cin, *sp))
    w = rng.standard_normal((cout, cin // g, *k))
    b = rng.standard_normal(cout) if bias else None
    out = CONV[nd](
        tensor(x), tensor(w), tensor(b) if bias else None, stride=s, padding=p, dilation=d, groups=g
    )
    np.testing.assert_allclose(out.numpy(), ref_conv(x, w, b, s, p, d, g), rtol=1e-10, atol=1e-10)
    out32 = CONV[nd](
        tensor(x.astype(np.float32)), tensor(w.astype(np.float32)), stride=s, padding=p, dilation=d, groups=g
    )
    assert out32.dtype == rustdl.float32
    np.testing.assert_allclose(out32.numpy(), ref_conv(x, w, None, s, p, d, g), rtol=1e-4, atol=1e-4)


def random_geometry(rng, groups, channels, kernel, extra):
    """A random 1-3 dim convolution: (nd, groups, c_in, c_out, kernel, stride,
    dilation, padding, input size), strides 1-3, dilations 1-2, paddings
    0-2, an input at least one kernel extent plus up to `extra - 1`."""
    nd = int(rng.integers(1, 4))
    g = int(rng.choice(groups))
    cin, cout = g * int(rng.integers(1, channels)), g * int(rng.integers(1, channels))
    k = tuple(int(v) for v in rng.integers(1, kernel, nd))
    s = tuple(int(v) for v in rng.integers(1, 4, nd))
    d = tuple(int(v) for v in rng.integers(1, 3, nd))
    p = tuple(int(v) for v in rng.integers(0, 3, nd))
    sp = tuple(int(max(d[i] * (k[i] - 1) + 1 - 2 * p[i], 1) + rng.integers(0, extra)) for i in range(nd))
    return nd, g, cin, cout, k, s, d, p, sp


@pytest.mark.parametrize("seed", range(12))
def test_conv_random_shapes(seed):
    rng = np.random.default_rng(100 + seed)
    nd, g, cin, cout, k, s, d, p, sp = random_geometry(rng, [1, 2, 3], 4, 4, 6)
    n = int(rng.integers(1, 5))
    x = rng.standard_normal((n, cin, *sp))
    w = rng.standard_normal((cout, cin // g, *k))
    b = rng.standard_normal(cout)
    out = CONV[nd](tensor(x), tensor(w), tensor(b), s, p, d, g)
    np.testing.assert_allclose(out.numpy(), ref_conv(x, w, b, s, p, d, g), rtol=1e-10, atol=1e-10)


# (nd, batch, c_in, c_out_per_group, spatial, kernel, stride, padding, output_padding, groups, dilation)
TRANSPOSE_CASES = [
    (1, 2, 3, 4, (6,), (3,), 2, 1, 1, 1, 1),
    (1, 2, 4, 2, (5,), (4,), 3, 0, 2, 2, 1),
    (2, 2, 4, 3, (5, 4), (3, 3), 2, 1, 1, 1, 1),
    (2, 1, 4, 2, (3, 4), (3, 2), (2, 1), (1, 0), 0, 2, (1, 2)),
    (2, 2, 2, 3, (4, 4), (3, 3), 1, 0, 1, 1, 2),
    (3, 2, 2, 2, (3, 2, 3), (2, 3, 2), 2, (0, 1, 0), (1, 0, 1), 2, 1),
    (2, 2, 16, 16, (5, 6), (3, 3), 1, 1, 0, 1, 1),  # Winograd (input gradient of a conv)
    (2, 1, 16, 17, (4, 7), (3, 3), 1, 0, 0, 1, 1),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose_matches_reference(case):
    nd, n, cin, cgo, sp, k, s, p, op, g, d = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, cin, *sp))
    w = rng.standard_normal((cin, cgo, *k))
    b = rng.standard_normal(cgo * g)
    out = CONV_T[nd](tensor(x), tensor(w), tensor(b), s, p, op, g, d)
    np.testing.assert_allclose(
        out.numpy(), ref_conv_transpose(x, w, b, s, p, op, g, d), rtol=1e-10, atol=1e-10
    )


def test_conv_transpose_is_conv_input_gradient():
    rng = np.random.default_rng(2)
    x = tensor(rng.standard_normal((2, 4, 9, 8)), requires_grad=True)
    w = tensor(rng.standard_normal((6, 2, 3, 3)))
    y = F.conv2d(x, w, stride=2, padding=1, groups=2)
    gy = tensor(rng.standard_normal(tuple(y.shape)))
    (gx,) = rustdl.autograd.grad(y, x, gy)
    # output_padding recovers the size lost to the stride (9 = 2*4 + 1, 8 = 2*3 + 2)
    t = F.conv_transpose2d(gy, w, stride=2, padding=1, output_padding=(0, 1), groups=2)
    np.testing.assert_allclose(t.numpy(), gx.numpy(), rtol=1e-12, atol=1e-12)


GRAD_CASES = [
    (F.conv1d, (2, 4, 7), (4, 2, 3), {"stride": 2, "padding": 1, "groups": 2}),
    (F.conv2d, (2, 2, 5, 4), (3, 2, 3, 2), {"stride": (1, 2), "padding": (1, 0), "dilation": (2, 1)}),
    (F.conv2d, (1, 3, 4, 4), (3, 1, 3, 3), {"padding": 1, "groups": 3}),
    (F.conv2d, (2, 3, 3, 3), (2, 3, 1, 1), {}),
    (F.conv2d, (1, 2, 5, 5), (2, 2, 4, 4), {"padding": "same"}),
    (F.conv2d, (2, 16, 3, 5), (16, 16, 3, 3), {"padding": 1}),  # Winograd
    (F.conv2d, (1, 16, 5, 4), (17, 16, 3, 3), {"padding": 2}),
    (F.conv3d, (1, 2, 3, 4, 3), (2, 1, 2, 2, 2), {"padding": 1, "stride": 2, "groups": 2}),
    (F.conv_transpose1d, (2, 2, 4), (2, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    (F.conv_transpose2d, (1, 4, 3, 3), (4, 1, 3, 2), {"stride": 2, "groups": 2, "dilation": (1, 2)}),
    (F.conv_transpose3d, (1, 2, 2, 3, 2), (2, 2, 2, 2, 2), {"stride": (2, 1, 2), "padding": (1, 0, 0)}),
]


@pytest.mark.parametrize("fn,xs,ws,kw", GRAD_CASES)
def test_gradcheck(fn, xs, ws, kw):
    rng = np.random.default_rng(3)
    x = tensor(rng.standard_normal(xs), requires_grad=True)
    w = tensor(rng.standard_normal(ws), requires_grad=True)
    cout = ws[0] if fn in CONV.values() else ws[1] * kw.get("groups", 1)
    b = tensor(rng.standard_normal(cout), requires_grad=True)
    assert gradcheck(lambda x, w, b: fn(x, w, b, **kw), (x, w, b))


@pytest.mark.parametrize(
    "xs,ws,kw",
    [
        ((2, 3, 9, 37), (4, 3, 3, 3), {"stride": 2, "padding": 1}),  # strided lines of 19
        ((1, 4, 16, 16), (5, 4, 3, 3), {"stride": 2, "padding": 1}),
        ((2, 2, 7, 18), (3, 2, 3, 2), {"stride": 2}),
        ((2, 16, 11, 21), (17, 16, 3, 3), {"padding": 1}),  # Winograd
        ((3, 16, 8, 8), (16, 16, 3, 3), {"padding": 2}),
        ((1, 16, 45, 47), (16, 16, 3, 3), {"padding": 1}),  # Winograd in bands of tile rows
        # implicit GEMM (stride 1, f32 only): 1-d, 3-d, 5x5, dilation + groups,
        # depth over one kernel call, several bands, a batch below the threads
        ((3, 16, 50), (32, 16, 5), {}),
        ((2, 4, 6, 7, 5), (8, 4, 3, 3, 3), {"padding": 1}),
        ((2, 6, 14, 14), (16, 6, 5, 5), {}),
        ((2, 4, 10, 9), (6, 2, 3, 2), {"padding": (2, 1), "dilation": (1, 2), "groups": 2}),
        ((1, 12, 12, 13), (13, 12, 5, 5), {"padding": 2}),
        ((1, 2, 70, 90), (8, 2, 3, 3), {"padding": 1}),
    ],
)
def test_float32_kernels_match_float64(xs, ws, kw):
    # f32 runs kernels f64 does not (AVX2 shuffles in strided im2col/col2im
    # and the Winograd transforms; the implicit GEMM); the f64 path is checked
    # against direct loops elsewhere.
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    results = []
    for dtype in (np.float64, np.float32):
        xt, wt = tensor(x.astype(dtype), requires_grad=True), tensor(w.astype(dtype), requires_grad=True)
        y = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[len(xs)](xt, wt, **kw)
        gy = tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)).astype(dtype))
        y.backward(gy)
        results.append([t.detach().numpy().astype(np.float64) for t in (y, xt.grad, wt.grad)])
    for a64, a32 in zip(*results):
        scale = np.abs(a64).max()
        np.testing.assert_allclose(a32, a64, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("seed", range(16))
def test_float32_random_geometries_match_float64(seed):
    """Random strides, dilations, paddings, groups and 1-3 dims in float32 (the
    implicit GEMM: polyphase forward, one plan per phase of the input
    gradient) against float64 (im2col + col2im), forward and both gradients."""
    rng = np.random.default_rng(300 + seed)
    nd, g, cin, cout, k, s, d, p, sp = random_geometry(rng, [1, 2], 5, 5, 9)
    x, w = rng.standard_normal((int(rng.integers(1, 4)), cin, *sp)), rng.standard_normal((cout, cin // g, *k))
    results = []
    for dtype in (np.float64, np.float32):
        xt, wt = tensor(x.astype(dtype), requires_grad=True), tensor(w.astype(dtype), requires_grad=True)
        y = CONV[nd](xt, wt, None, s, p, d, g)
        y.backward(tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)).astype(dtype)))
        results.append([t.detach().numpy().astype(np.float64) for t in (y, xt.grad, wt.grad)])
    for a64, a32 in zip(*results):
        np.testing.assert_allclose(a32, a64, rtol=0, atol=1e-5 * max(np.abs(a64).max(), 1e-3))


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_counts_agree(threads):
    # Large enough that the batch is split across threads (and small batch: GEMM threads).
    rng = np.random.default_rng(4)
    w = tensor(rng.standard_normal((16, 8, 3, 3)).astype(np.float32), requires_grad=True)
    before = rustdl.get_num_threads()
    try:
        rustdl.set_num_threads(threads)
        for n in (1, 5):
            x = rng.standard_normal((n, 8, 20, 20)).astype(np.float32)
            xt = tensor(x, requires_grad=True)
            y = F.conv2d(xt, w, padding=1)
            gy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
            y.backward(tensor(gy))
            ref = ref_conv(x.astype(np.float64), w.detach().numpy().astype(np.float64), None, 1, 1, 1, 1)
            np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-4, atol=1e-4)
            gx_ref = ref_conv_transpose(
                gy.astype(np.float64), w.detach().numpy().astype(np.float64), None, 1, 1, 0, 1, 1
            )
            np.testing.assert_allclose(xt.grad.numpy(), gx_ref, rtol=1e-4, atol=1e-4)
            w.grad = None
    finally:
        rustdl.set_num_threads(before)


def test_unbatched_and_noncontiguous_inputs():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 6, 5))
    w = rng.standard_normal((2, 3, 2, 2))
    out = F.conv2d(tensor(x), tensor(w), padding=1)
    assert tuple(out.shape) == (2, 7, 6)
    np.testing.assert_allclose(out.numpy(), ref_conv(x[None], w, None, 1, 1, 1, 1)[0], rtol=1e-12)
    xt = tensor(x.transpose(0, 2, 1).copy()).transpose(1, 2)  # a strided view of the same values
    np.testing.assert_allclose(F.conv2d(xt, tensor(w), padding=1).numpy(), out.numpy(), rtol=1e-12)


def test_same_and_valid_padding():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 2, 7))
    w = rng.standard_normal((3, 2, 4))
    out = F.conv1d(tensor(x), tensor(w), padding="same")
    # PyTorch pads an even kernel 1 before and 2 after.
    ref = ref_conv(np.pad(x, [(0, 0), (0, 0), (1, 2)]), w, None, 1, 0, 1, 1)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    assert tuple(F.conv1d(tensor(x), tensor(w), padding="valid").shape) == (1, 3, 4)


def test_empty_batch():
    x = rustdl.zeros(0, 2, 5, 5, requires_grad=True)
    w = rustdl.ones(3, 2, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert tuple(y.shape) == (0, 3, 5, 5)
    # (y.sum() on an empty tensor panics in ops::reduce today: pass the gradient.)
    y.backward(rustdl.zeros(0, 3, 5, 5))
    assert tuple(x.grad.shape) == (0, 2, 5, 5)
    assert float(w.grad.abs().sum()) == 0.0


BAD = [
    (lambda: F.conv2d(rustdl.zeros(1, 3, 5, 5), rustdl.zeros(4, 2, 3, 3)), "expected input"),
    (lambda: F.conv2d(rustdl.zeros(5, 5), rustdl.zeros(4, 2, 3, 3)), "Expected 3D"),
    (lambda: F.conv2d(rustdl.zeros(1, 2, 2, 2), rustdl.zeros(4, 2, 3, 3)), "Kernel size can't be greater"),
    (lambda: F.conv2d(rustdl.zeros(1, 2, 5, 5), rustdl.zeros(4, 2, 3, 3), padding=-1), "negative padding"),
    (lambda: F.conv2d(rustdl.zeros(1, 2, 5, 5), rustdl.zeros(4, 2, 3, 3), stride=0), "non-positive stride"),
    (lambda: F.conv2d(rustdl.zeros(1, 4, 5, 5), rustdl.zeros(3, 2, 3, 3), groups=2), "divisible by 2"),
    (lambda: F.conv2d(rustdl.zeros(1, 2, 5, 5), rustdl.zeros(4, 2, 3, 3), rustdl.zeros(3)), "bias"),
    (
        lambda: F.conv2d(rustdl.zeros(1, 2, 5, 5), rustdl.zeros(4, 2, 3, 3), stride=2, padding="same"),
        "strided",
    ),
    (lambda: F.conv2d(rustdl.zeros(1, 2, 5, 5), rustdl.zeros(4, 2, 3, 3), padding="full"), "Invalid padding"),
    (lambda: F.conv2d(rustdl.zeros(1, 2, 5, 5), rustdl.zeros(4, 2, 3)), "weight"),
    (lambda: F.conv2d(rustdl.zeros(1, 2, 5, 5), rustdl.zeros(4, 2, 3, 3), stride=(1, 1, 1)), "stride"),
    (
        lambda: F.conv2d(rustdl.zeros(1, 2, 5, 5, dtype=rustdl.float64), rustdl.zeros(4, 2, 3, 3)),
        "expected scalar type Double but found Float",
    ),
    (lambda: F.conv_transpose2d(rustdl.zeros(1, 3, 5, 5), rustdl.zeros(4, 2, 3, 3)), "expected input"),
    (
        lambda: F.conv_transpose2d(
            rustdl.zeros(1, 4, 5, 5), rustdl.zeros(4, 2, 3, 3), stride=2, output_padding=2
        ),
        "output padding",
    ),
    (lambda: F.conv_transpose1d(rustdl.zeros(1, 4, 1), rustdl.zeros(4, 2, 1), padding=1), "too small"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_input_raises(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()
