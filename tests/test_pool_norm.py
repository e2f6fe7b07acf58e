"""Pooling and normalization: numpy references, gradchecks, edge cases, errors."""

import math

import numpy as np
import pytest
import rustdl as torch
from rustdl.autograd import gradcheck

F = torch.nn.functional
RNG = np.random.default_rng(0)


def t(a, requires_grad=False):
    return torch.tensor(np.ascontiguousarray(a), requires_grad=requires_grad)


def distinct(*shape, dtype=np.float64):
    """Random values without ties (so max pooling is differentiable)."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) / n + RNG.normal(0, 1e-3, n)).reshape(shape).astype(dtype)


# ----------------------------------------------------------------- references


def out_len(i, k, s, p, d, ceil):
    num = i + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)
    o = num // s + 1
    if ceil and (o - 1) * s >= i + p:
        o -= 1
    return o


def ref_pool2d(x, k, s, p, d=(1, 1), ceil=False, mode="max", include_pad=True):
    n, c, h, w = x.shape
    oh, ow = (out_len(sz, k[i], s[i], p[i], d[i], ceil) for i, sz in enumerate((h, w)))
    out = np.zeros((n, c, oh, ow), x.dtype)
    idx = np.zeros((n, c, oh, ow), np.int64)
    for a in range(oh):
        for b in range(ow):
            hs, ws = a * s[0] - p[0], b * s[1] - p[1]
            rows = [r for r in range(hs, hs + d[0] * k[0], d[0]) if 0 <= r < h]
            cols = [q for q in range(ws, ws + d[1] * k[1], d[1]) if 0 <= q < w]
            win = x[:, :, rows][:, :, :, cols].reshape(n, c, -1)
            flat = np.array([r * w + q for r in rows for q in cols])
            if mode == "max":
                arg = win.argmax(-1)  # first occurrence, like PyTorch
                out[:, :, a, b] = np.take_along_axis(win, arg[..., None], -1)[..., 0]
                idx[:, :, a, b] = flat[arg]
            else:
                if include_pad:
                    div = (min(hs + k[0], h + p[0]) - hs) * (min(ws + k[1], w + p[1]) - ws)
                else:
                    div = len(rows) * len(cols)
                out[:, :, a, b] = win.sum(-1) / div
    return out, idx


def ref_adaptive_avg(x, osz):
    h, w = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + tuple(osz), x.dtype)
    for a in range(osz[0]):
        for b in range(osz[1]):
            h0, h1 = a * h // osz[0], math.ceil((a + 1) * h / osz[0])
            w0, w1 = b * w // osz[1], math.ceil((b + 1) * w / osz[1])
            out[..., a, b] = x[..., h0:h1, w0:w1].mean((-1, -2))
    return out


def ref_norm(x, axes, eps):
    m = x.mean(axes, keepdims=True)
    v = x.var(axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps)


# ------------------------------------------------------------- pooling forward


@pytest.mark.parametrize(
    "shape,k,s,p,d,ceil",
    [
        ((2, 3, 9, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
        ((2, 3, 9, 8), (3, 3), (2, 2), (1, 1), (1, 1), False),
        ((2, 3, 9, 8), (3, 2), (2, 1), (1, 0), (1, 1), True),
        ((1, 2, 10, 11), (3, 3), (1, 2), (1, 1), (2, 1), False),
        ((1, 2, 7, 7), (2, 2), (2, 2), (1, 1), (1, 1), True),
        ((3, 4, 5, 6), (3, 3), (3, 3), (0, 0), (1, 1), True),
        ((2, 2, 33, 17), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ],
)
def test_max_pool2d_matches_reference(shape, k, s, p, d, ceil):
    x = RNG.standard_normal(shape).astype(np.float32)
    out, idx = F.max_pool2d(t(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
    ref, ref_idx = ref_pool2d(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(out.numpy(), ref)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)


@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize(
    "shape,k,s,p,ceil",
    [
        ((2, 3, 9, 8), (3, 3), (2, 2), (1, 1), False),
        ((2, 3, 9, 8), (3, 3), (2, 2), (1, 1), True),
        ((1, 2, 7, 5), (2, 3), (2, 2), (1, 1), True),
        ((1, 1, 6, 6), (2, 2), (2, 2), (0, 0), True),
    ],
)
def test_avg_pool2d_matches_reference(shape, k, s, p, ceil, include_pad):
    x = RNG.standard_normal(shape)
    out = F.avg_pool2d(t(x), k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
    ref, _ = ref_pool2d(x, k, s, p, ceil=ceil, mode="avg", include_pad=include_pad)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_avg_pool_divisor_override_and_1d_3d_agree_with_2d():
    x = RNG.standard_normal((2, 3, 11))
    a = F.avg_pool1d(t(x), 3, 2, 1)
    b = F.avg_pool2d(t(x[:, :, None, :]), (1, 3), (1, 2), (0, 1))
    np.testing.assert_allclose(a.numpy(), b.numpy()[:, :, 0], rtol=1e-12)
    x3 = RNG.standard_normal((1, 2, 1, 6, 7))
    m3 = F.max_pool3d(t(x3), (1, 2, 2))
    m2 = F.max_pool2d(t(x3[:, :, 0]), 2)
    np.testing.assert_array_equal(m3.numpy()[:, :, 0], m2.numpy())
    s = F.avg_pool2d(t(x[:, :, None, :]), (1, 3), divisor_override=1)
    np.testing.assert_allclose(s.numpy()[0, 0, 0, 0], x[0, 0, :3].sum(), rtol=1e-12)


@pytest.mark.parametrize("osz", [(1, 1), (3, 2), (4, 5), (9, 8), (5, 3)])
def test_adaptive_avg_pool2d_matches_reference(osz):
    x = RNG.standard_normal((2, 3, 9, 8))
    out = F.adaptive_avg_pool2d(t(x), osz)
    np.testing.assert_allclose(out.numpy(), ref_adaptive_avg(x, osz), rtol=1e-12)


def test_unbatched_input_and_noncontiguous_input():
    x = RNG.standard_normal((3, 8, 6)).astype(np.float32)
    out = F.max_pool2d(t(x), 2)
    assert tuple(out.shape) == (3, 4, 3)
    np.testing.assert_array_equal(out.numpy(), ref_pool2d(x[None], (2, 2), (2, 2), (0, 0))[0][0])
    xt = t(x).transpose(1, 2)  # (3, 6, 8) view
    ref = ref_pool2d(np.ascontiguousarray(x.transpose(0, 2, 1))[None], (2, 2), (2, 2), (0, 0))[0][0]
    np.testing.assert_array_equal(F.max_pool2d(xt, 2).numpy(), ref)


def test_max_pool_ties_pick_first_and_route_gradient_there():
    x = t(np.ones((1, 1, 4, 4)), requires_grad=True)
    out, idx = F.max_pool2d(x, 3, 1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 1], [4, 5]])
    out.sum().backward()
    g = np.zeros((4, 4))
    for i in (0, 1, 4, 5):
        g.flat[i] = 1
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], g)


def test_max_pool_propagates_nan():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    out = F.max_pool2d(t(x), 2).numpy()
    assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 1, 1] == 15


# ----------------------------------------------------------------- gradchecks


def test_gradcheck_pooling():
    x = t(distinct(2, 2, 7, 6), requires_grad=True)
    assert gradcheck(lambda a: F.max_pool2d(a, 3, 2, 1, ceil_mode=True), (x,))
    assert gradcheck(lambda a: F.max_pool2d(a, 2, 1, 0, 2), (x,))
    assert gradcheck(lambda a: F.avg_pool2d(a, 3, 2, 1, ceil_mode=True, count_include_pad=False), (x,))
    assert gradcheck(lambda a: F.avg_pool2d(a, (2, 3), 2, 1, divisor_override=5), (x,))
    assert gradcheck(lambda a: F.adaptive_avg_pool2d(a, (3, 4)), (x,))
    assert gradcheck(lambda a: F.adaptive_max_pool2d(a, (3, 4)), (x,))
    x1 = t(distinct(2, 3, 9), requires_grad=True)
    assert gradcheck(lambda a: F.max_pool1d(a, 3, 2, 1), (x1,))
    assert gradcheck(lambda a: F.avg_pool1d(a, 3, 2, 1), (x1,))
    assert gradcheck(lambda a: F.adaptive_max_pool1d(a, 4), (x1,))
    x3 = t(distinct(1, 2, 4, 5, 4), requires_grad=True)
    assert gradcheck(lambda a: F.max_pool3d(a, 2, 2, 1), (x3,))
    assert gradcheck(lambda a: F.avg_pool3d(a, 3, 2, 1, count_include_pad=False), (x3,))
    assert gradcheck(lambda a: F.adaptive_avg_pool3d(a, (2, 3, 2)), (x3,))


def test_global_average_pooling():
    # One window over the whole plane takes a summed-in-lanes path.
    x = RNG.standard_normal((3, 5, 7, 9)).astype(np.float32)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(t(x), 1).numpy(), x.mean((2, 3), keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(F.avg_pool2d(t(x), (7, 9)).numpy(), x.mean((2, 3), keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(
        F.avg_pool2d(t(x), (7, 9), divisor_override=2).numpy(), x.sum((2, 3), keepdims=True) / 2, rtol=1e-5)
    xd = t(distinct(2, 2, 7, 6), requires_grad=True)
    assert gradcheck(lambda a: F.adaptive_avg_pool2d(a, 1), (xd,))
    assert gradcheck(lambda a: F.avg_pool2d(a, (7, 6), divisor_override=3), (xd,))
    assert gradcheck(lambda a: F.adaptive_avg_pool1d(a, 1), (t(distinct(2, 3, 9), requires_grad=True),))
    assert gradcheck(lambda a: F.adaptive_avg_pool3d(a, 1), (t(distinct(1, 2, 4, 5, 4), requires_grad=True),))


def test_max_unpool2d_roundtrip_and_grad():
    x = t(distinct(2, 2, 6, 4))
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    up = F.max_unpool2d(out, idx, 2)
    assert tuple(up.shape) == (2, 2, 6, 4)
    ref = np.zeros((2, 2, 24))
    np.put_along_axis(ref, idx.numpy().reshape(2, 2, -1), out.numpy().reshape(2, 2, -1), -1)
    np.testing.assert_array_equal(up.numpy(), ref.reshape(2, 2, 6, 4))
    v = t(out.numpy(), requires_grad=True)
    assert gradcheck(lambda a: F.max_unpool2d(a, idx, 2, output_size=(6, 4)), (v,))


def test_gradcheck_norms():
    x = t(RNG.standard_normal((3, 4, 5)), requires_grad=True)
    w = t(RNG.standard_normal(4), requires_grad=True)
    b = t(RNG.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda a, ww, bb: F.batch_norm(a, None, None, ww, bb, True), (x, w, b))
    rm, rv = t(RNG.standard_normal(4)), t(RNG.random(4) + 0.5)
    assert gradcheck(lambda a, ww, bb: F.batch_norm(a, rm, rv, ww, bb, False), (x, w, b))
    assert gradcheck(lambda a: F.batch_norm(a, None, None, None, None, True), (x,))
    x2 = t(RNG.standard_normal((6, 4)), requires_grad=True)
    assert gradcheck(lambda a, ww, bb: F.batch_norm(a, None, None, ww, bb, True), (x2, w, b))
    lw = t(RNG.standard_normal((4, 5)), requires_grad=True)
    lb = t(RNG.standard_normal((4, 5)), requires_grad=True)
    assert gradcheck(lambda a, ww, bb: F.layer_norm(a, (4, 5), ww, bb), (x, lw, lb))
    w5 = t(RNG.standard_normal(5), requires_grad=True)
    assert gradcheck(lambda a, ww: F.layer_norm(a, (5,), ww, eps=1e-3), (x, w5))
    xg = t(RNG.standard_normal((2, 6, 3, 2)), requires_grad=True)
    wg = t(RNG.standard_normal(6), requires_grad=True)
    bg = t(RNG.standard_normal(6), requires_grad=True)
    for g in (1, 2, 3, 6):
        assert gradcheck(lambda a, ww, bb, g=g: F.group_norm(a, g, ww, bb), (xg, wg, bg))
    assert gradcheck(lambda a, ww, bb: F.instance_norm(a, weight=ww, bias=bb), (xg, wg, bg))


# ------------------------------------------------------------- norm semantics


def test_batch_norm_training_updates_running_stats_in_place():
    x = RNG.standard_normal((4, 3, 5, 2)) * 3 + 7
    rm, rv = t(np.zeros(3)), t(np.ones(3))
    rm_obj = rm
    out = F.batch_norm(t(x), rm, rv, training=True, momentum=0.3, eps=1e-3)
    np.testing.assert_allclose(out.numpy(), ref_norm(x, (0, 2, 3), 1e-3), rtol=1e-10, atol=1e-10)
    assert rm is rm_obj
    np.testing.assert_allclose(rm.numpy(), 0.3 * x.mean((0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.7 + 0.3 * x.var((0, 2, 3), ddof=1), rtol=1e-12)
    # eval mode uses them and leaves them alone
    before = rm.numpy().copy()
    ev = F.batch_norm(t(x), rm, rv, training=False)
    ref = (x - rm.numpy()[None, :, None, None]) / np.sqrt(rv.numpy()[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(ev.numpy(), ref, rtol=1e-10)
    np.testing.assert_array_equal(rm.numpy(), before)


def test_batch_norm_large_mean_is_accurate_float32():
    x = (RNG.standard_normal((8, 2, 64)) * 0.01 + 1000).astype(np.float32)
    out = F.batch_norm(t(x), None, None, training=True).numpy()
    ref = ref_norm(x.astype(np.float64), (0, 2), 1e-5)
    np.testing.assert_allclose(out, ref, atol=2e-2)  # float32 can resolve ~1e-4 relative of 1000


def test_layer_group_instance_norm_match_reference():
    x = RNG.standard_normal((2, 6, 4, 3))
    np.testing.assert_allclose(F.layer_norm(t(x), (4, 3)).numpy(), ref_norm(x, (2, 3), 1e-5), rtol=1e-10, atol=1e-12)
    ref = ref_norm(x.reshape(2, 3, -1), (2,), 1e-5).reshape(x.shape)
    np.testing.assert_allclose(F.group_norm(t(x), 3).numpy(), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.instance_norm(t(x)).numpy(), ref_norm(x, (2, 3), 1e-5), rtol=1e-10, atol=1e-12)


def test_instance_norm_running_stats():
    x = RNG.standard_normal((3, 2, 5))
    rm, rv = t(np.zeros(2)), t(np.ones(2))
    F.instance_norm(t(x), rm, rv, use_input_stats=True, momentum=0.5)
    np.testing.assert_allclose(rm.numpy(), 0.5 * x.mean(2).mean(0), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.5 + 0.5 * x.var(2, ddof=1).mean(0), rtol=1e-12)
    out = F.instance_norm(t(x), rm, rv, use_input_stats=False)
    ref = (x - rm.numpy()[None, :, None]) / np.sqrt(rv.numpy()[None, :, None] + 1e-5)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)


def test_local_response_norm_matches_reference():
    x = RNG.standard_normal((2, 5, 3, 2))
    size, alpha, beta, k = 3, 1e-2, 0.75, 1.0
    sq = np.pad(x**2, ((0, 0), (size // 2, (size - 1) // 2), (0, 0), (0, 0)))
    div = np.stack([sq[:, c : c + size].sum(1) / size for c in range(5)], 1)
    ref = x / (k + alpha * div) ** beta
    np.testing.assert_allclose(F.local_response_norm(t(x), size, alpha, beta, k).numpy(), ref, rtol=1e-10)


def test_results_do_not_depend_on_thread_count():
    x = t(RNG.standard_normal((16, 8, 32, 32)).astype(np.float32), requires_grad=True)
    w = t(RNG.standard_normal(8).astype(np.float32), requires_grad=True)
    results = []
    old = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            x.grad = None
            w.grad = None
            y = F.batch_norm(x, None, None, w, None, True) + F.max_pool2d(F.layer_norm(x, (32,)), 1)
            y.pow(2).sum().backward()
            results.append((y.detach().numpy(), x.grad.numpy(), w.grad.numpy()))
    finally:
        torch.set_num_threads(old)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call",
    [
        lambda: F.max_pool2d(torch.randn(1, 1, 2, 2), 3),  # kernel larger than input
        lambda: F.avg_pool2d(torch.randn(1, 1, 2, 2), 3),
        lambda: F.max_pool2d(torch.randn(1, 1, 8, 8), 3, padding=2),  # pad > kernel/2
        lambda: F.avg_pool1d(torch.randn(1, 1, 8), 2, padding=2),
        lambda: F.max_pool2d(torch.randn(4, 4), 2),  # wrong ndim
        lambda: F.max_pool1d(torch.randn(1, 1, 1, 4), 2),
        lambda: F.max_pool2d(torch.randn(1, 1, 4, 4), 0),
        lambda: F.max_pool2d(torch.randn(1, 1, 4, 4), 2, stride=0),
        lambda: F.max_pool2d(torch.randn(1, 1, 4, 4), (2, 2, 2)),
        lambda: F.avg_pool2d(torch.randn(1, 1, 4, 4), 2, divisor_override=0),
        lambda: F.adaptive_avg_pool2d(torch.randn(1, 1, 0, 4), 2),
        lambda: F.batch_norm(torch.randn(2, 3), torch.zeros(4), torch.ones(4)),
        lambda: F.batch_norm(torch.randn(2, 3), None, None, training=False),
        lambda: F.layer_norm(torch.randn(2, 5), (4,)),
        lambda: F.layer_norm(torch.randn(2, 4), (4,), torch.randn(5)),
        lambda: F.group_norm(torch.randn(2, 6, 3), 4),
        lambda: F.group_norm(torch.randn(2, 6, 3), 3, torch.randn(5)),
        lambda: F.max_unpool2d(torch.randn(1, 1, 2, 2), torch.tensor([[[[0, 1], [2, 99]]]]), 2),
    ],
)
def test_bad_input_raises_runtime_error(call):
    with pytest.raises(RuntimeError):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: F.batch_norm(torch.randn(1, 3), None, None, training=True),
        lambda: F.batch_norm(torch.randn(1, 3, 1, 1), None, None, training=True),
        lambda: F.instance_norm(torch.randn(2, 3, 1)),
        lambda: F.local_response_norm(torch.randn(2, 3), 2),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_error_messages_name_the_shapes():
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(torch.randn(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(torch.randn(1, 1, 8, 8), 3, padding=2)
    with pytest.raises(RuntimeError, match=r"divisible by num_groups.*\[2, 6, 3\]"):
        F.group_norm(torch.randn(2, 6, 3), 4)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        F.batch_norm(torch.randn(2, 3), torch.zeros(4), torch.ones(4))


# ------------------------------------- reused (uninitialized) buffers, SIMD paths


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_backward_is_exact_with_reused_buffers(dtype):
    # Outputs come from the caching allocator without zeroing; run twice with
    # buffers freed in between, holding garbage, and compare exactly.
    x = distinct(3, 5, 10, 14, dtype=dtype)
    for _ in range(3):
        junk = torch.full((3, 5, 10, 14), 7.0, dtype=torch.float32 if dtype == np.float32 else torch.float64)
        del junk
        xt = t(x, requires_grad=True)
        y, idx = F.max_pool2d(xt, 2, return_indices=True)
        gy = RNG.standard_normal(y.shape).astype(dtype)
        y.backward(t(gy))
        want = np.zeros_like(x).reshape(15, -1)
        np.put_along_axis(want, idx.numpy().reshape(15, -1), gy.reshape(15, -1), axis=1)
        np.testing.assert_array_equal(xt.grad.numpy(), want.reshape(x.shape))
        xa = t(x, requires_grad=True)
        F.avg_pool2d(xa, 3, 2, 1).sum().backward()
        g = np.zeros_like(x)
        for oh in range(5):
            for ow in range(7):
                g[:, :, max(0, 2 * oh - 1):2 * oh + 2, max(0, 2 * ow - 1):2 * ow + 2] += 1 / 9
        np.testing.assert_allclose(xa.grad.numpy(), g, rtol=1e-6)


@pytest.mark.parametrize("shape", [(3, 37), (5, 7, 129), (2, 3, 1000)])
def test_layer_norm_odd_sizes_float32_match_reference(shape):
    x = RNG.standard_normal(shape)
    c = shape[-1]
    w, b, gy = RNG.standard_normal(c), RNG.standard_normal(c), RNG.standard_normal(shape)
    xt = t(x.astype(np.float32), requires_grad=True)
    wt, bt = t(w.astype(np.float32), requires_grad=True), t(b.astype(np.float32), requires_grad=True)
    y = F.layer_norm(xt, (c,), wt, bt)
    xh = ref_norm(x, (-1,), 1e-5)
    np.testing.assert_allclose(y.detach().numpy(), xh * w + b, rtol=1e-4, atol=1e-4)
    y.backward(t(gy.astype(np.float32)))
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(wt.grad.numpy(), (gy * xh).sum(axes), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(bt.grad.numpy(), gy.sum(axes), rtol=1e-4, atol=1e-4)
    d = gy * w
    rstd = 1 / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    gx = rstd * (d - d.mean(-1, keepdims=True) - xh * (d * xh).mean(-1, keepdims=True))
    np.testing.assert_allclose(xt.grad.numpy(), gx, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (3, 2, 33), (2, 5)])
def test_batch_norm_train_float32_odd_sizes_match_reference(shape):
    x = RNG.standard_normal(shape) + 3.0
    c = shape[1]
    w, b, gy = RNG.standard_normal(c), RNG.standard_normal(c), RNG.standard_normal(shape)
    xt = t(x.astype(np.float32), requires_grad=True)
    wt, bt = t(w.astype(np.float32), requires_grad=True), t(b.astype(np.float32), requires_grad=True)
    y = F.batch_norm(xt, None, None, wt, bt, training=True)
    axes = (0,) + tuple(range(2, len(shape)))
    bc = (1, c) + (1,) * (len(shape) - 2)
    xh = ref_norm(x, axes, 1e-5)
    np.testing.assert_allclose(y.detach().numpy(), xh * w.reshape(bc) + b.reshape(bc), rtol=1e-4, atol=1e-4)
    y.backward(t(gy.astype(np.float32)))
    d = gy * w.reshape(bc)
    rstd = 1 / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    gx = rstd * (d - d.mean(axes, keepdims=True) - xh * (d * xh).mean(axes, keepdims=True))
    np.testing.assert_allclose(xt.grad.numpy(), gx, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(wt.grad.numpy(), (gy * xh).sum(axes), rtol=1e-3, atol=1e-3)


def test_relu_backward_fused_and_double_backward():
    x = t(np.array([-1.0, 0.0, 2.0, 3.0], dtype=np.float32), requires_grad=True)
    F.relu(x).backward(t(np.array([np.nan, 5.0, 1.0, np.inf], dtype=np.float32)))
    # As PyTorch's threshold_backward: 0 (not NaN) where the output is <= 0.
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0, np.inf])
    x = t(np.array([-1.0, 2.0, 3.0]), requires_grad=True)
    g = t(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (gx,) = torch.autograd.grad(F.relu(x), x, g, create_graph=True)
    gx.sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), [0.0, 1.0, 1.0])


def test_batch_norm_1d_input_without_stats_raises_index_error():
    # PyTorch reads the channel count as size(1) first: IndexError
    with pytest.raises(IndexError):
        F.batch_norm(torch.randn(3), None, None, training=True)
