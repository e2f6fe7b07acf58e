"""bfloat16 elementwise paths that skip widening: the bulk float32 <-> bf16
casts (rust/cpu/bf16_cast.rs) and ReLU's backward on bf16 values."""

import numpy as np
import rustdl


def test_float_to_bf16_rounds_to_nearest_even_in_bulk():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, size=100_003, dtype=np.uint64).astype(np.uint32)
    bits[:6] = [0x3F808000, 0x3F818000, 0x7F7FFFFF, 0x00008000, 0x80018000, 0x7F800000]
    vals = bits.view(np.float32)
    got = rustdl.from_numpy(vals.copy()).to(rustdl.bfloat16).float().numpy()
    finite = ~np.isnan(vals)
    wide = bits[finite].astype(np.uint64)
    want = ((wide + 0x7FFF + ((wide >> 16) & 1)) >> 16 << 16).astype(np.uint32).view(np.float32)
    np.testing.assert_array_equal(got[finite].view(np.uint32), want.view(np.uint32))
    assert np.isnan(got[~finite]).all()
    # and back: widening is exact
    b = rustdl.from_numpy(vals.copy()).to(rustdl.bfloat16)
    np.testing.assert_array_equal(b.float().numpy()[finite], got[finite])


def test_relu_backward_bf16():
    vals = [float("nan"), -0.0, 0.0, float("-inf"), -1.5, 2.0, float("inf"), 1e-30]
    x = rustdl.tensor(vals, dtype=rustdl.bfloat16).requires_grad_()
    y = rustdl.relu(x * 1)
    gy = rustdl.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], dtype=rustdl.bfloat16)
    y.backward(gy)
    assert x.grad.dtype == rustdl.bfloat16
    # PyTorch's threshold_backward: gy where relu(x) > 0 or NaN, else 0
    assert x.grad.float().tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 6.0, 7.0, 8.0]


def test_relu_backward_bf16_noncontiguous():
    x = rustdl.randn(6, 8).to(rustdl.bfloat16).requires_grad_()
    y = rustdl.relu(x.t() * 1)
    gy = rustdl.randn(8, 6).to(rustdl.bfloat16).t().contiguous().t()
    y.backward(gy)
    want = np.where(x.detach().t().float().numpy() > 0, gy.float().numpy(), 0.0).T
    np.testing.assert_array_equal(x.grad.float().numpy(), want)


def _bf16_pair(shape, seed, scale=1.0, offset=0.0):
    """A bfloat16 tensor and its exact float32 widening."""
    rng = np.random.default_rng(seed)
    x = rustdl.tensor((rng.standard_normal(shape) * scale + offset).astype(np.float32)).to(rustdl.bfloat16)
    return x, x.float()


def _ulp_close(got, want, ulps=1, atol_frac=0.0):
    """bf16 results within `ulps` units of the last place (8 bits) of `want`
    (or within `atol_frac` of want's largest magnitude)."""
    got, want = got.detach().float().numpy(), want.detach().float().numpy()
    tol = np.maximum(ulps * np.maximum(np.abs(want), 1e-30) * 2.0**-7, atol_frac * np.abs(want).max(initial=0))
    assert np.all(np.abs(got - want) <= tol), np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-30))


def test_relu_bf16_forward_large_and_special_values():
    # more than one task's chunk (the bf16 ReLU splits large inputs over threads)
    x, _ = _bf16_pair((3, 700_001), 1)
    y = rustdl.relu(x)
    want = np.maximum(x.float().numpy(), 0.0)
    np.testing.assert_array_equal(y.float().numpy(), want)
    vals = [float("nan"), -0.0, 0.0, float("-inf"), -1.5, 2.0, float("inf"), -1e-39]
    y = rustdl.relu(rustdl.tensor(vals, dtype=rustdl.bfloat16)).float().numpy()
    assert np.isnan(y[0])
    assert np.signbit(y[1]) and y[1] == 0.0  # -0 stays -0, as clamp_min(0)
    assert y[2:].tolist() == [0.0, 0.0, 0.0, 2.0, float("inf"), 0.0]
    # non-contiguous input: the general path, same values
    xt = x[:, :1000].t()
    np.testing.assert_array_equal(rustdl.relu(xt).float().numpy(), np.maximum(xt.float().numpy(), 0.0))


def _bn_run(x, training, affine, threads, grad_seed=7):
    rustdl.manual_seed(0)
    bn = rustdl.nn.BatchNorm2d(x.shape[1], affine=affine)
    if affine:
        with rustdl.no_grad():
            # bf16-exact weights: the result does not depend on where they are rounded
            bn.weight.copy_(rustdl.tensor([0.5 + 0.25 * i for i in range(x.shape[1])]))
            bn.bias.copy_(rustdl.tensor([0.125 * i - 1.0 for i in range(x.shape[1])]))
    if not training:
        with rustdl.no_grad():
            bn.running_mean.copy_(rustdl.tensor([0.1 * i for i in range(x.shape[1])]))
            bn.running_var.copy_(rustdl.tensor([1.0 + 0.5 * i for i in range(x.shape[1])]))
        bn.eval()
    x = x.detach().requires_grad_()
    old = rustdl.get_num_threads()
    rustdl.set_num_threads(threads)
    try:
        y = bn(x)
        gy, _ = _bf16_pair(tuple(x.shape), grad_seed)
        y.backward(gy.to(x.dtype))
    finally:
        rustdl.set_num_threads(old)
    grads = [x.grad] + ([bn.weight.grad, bn.bias.grad] if affine else [])
    return y, grads, (bn.running_mean.clone(), bn.running_var.clone())


def test_batch_norm_bf16_equals_float32_on_widened_input():
    # The bf16 kernels widen block by block: the same float32 arithmetic as
    # running on the widened tensor, rounded once. Planes longer than a block
    # (1024) with a partial block, a mean far from 0, odd channel counts,
    # training and eval, with and without affine, 1 to 3 threads.
    for shape, offset in [((3, 5, 33, 41), 40.0), ((64, 32, 8, 8), 0.0), ((2, 3, 7), -3.0)]:
        xb, xf = _bf16_pair(shape, 3, scale=2.0, offset=offset)
        if len(shape) == 3:
            xb, xf = xb.unsqueeze(-1), xf.unsqueeze(-1)
        for training in (True, False):
            for affine in (True, False):
                for threads in (1, 2, 3):
                    yb, gb, sb = _bn_run(xb, training, affine, threads)
                    yf, gf, sf = _bn_run(xf, training, affine, threads)
                    assert yb.dtype == rustdl.bfloat16 and gb[0].dtype == rustdl.bfloat16
                    # (float32 applies the affine as PyTorch's fma(x, alpha, beta),
                    # the bf16 kernel as (x - mean) * alpha + b: near the mean
                    # they differ by float32 rounding of beta, not by bf16 ulps)
                    _ulp_close(yb, yf.to(rustdl.bfloat16), atol_frac=1e-5)
                    _ulp_close(gb[0], gf[0].to(rustdl.bfloat16), atol_frac=1e-5)
                    for a, b in zip(gb[1:], gf[1:]):
                        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2**-7, atol=1e-3 * np.abs(b.numpy()).max())
                    for a, b in zip(sb, sf):
                        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)


def test_batch_norm_bf16_matches_float64_formula():
    xb, xf = _bf16_pair((4, 3, 9, 10), 5, scale=3.0, offset=10.0)
    y, grads, _ = _bn_run(xb, True, True, 2)
    y = y.detach()
    x = xf.numpy().astype(np.float64)
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    w = np.array([0.5, 0.75, 1.0]).reshape(1, 3, 1, 1)
    b = np.array([-1.0, -0.875, -0.75]).reshape(1, 3, 1, 1)
    xhat = (x - mean) / np.sqrt(var + 1e-5)
    want = xhat * w + b
    np.testing.assert_allclose(y.float().numpy(), want, rtol=2**-7, atol=2**-7)
    gy = _bf16_pair((4, 3, 9, 10), 7)[0].float().numpy().astype(np.float64)
    m = x.size / 3
    gx = w / np.sqrt(var + 1e-5) * (gy - gy.sum(axis=(0, 2, 3), keepdims=True) / m
                                   - xhat * (gy * xhat).sum(axis=(0, 2, 3), keepdims=True) / m)
    scale = np.abs(gx).max()
    np.testing.assert_allclose(grads[0].float().numpy(), gx, rtol=2**-7, atol=2**-7 * scale)
