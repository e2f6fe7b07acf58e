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
