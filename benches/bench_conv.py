"""Convolution benchmarks (pytest-benchmark): forward + backward of conv layers.

Run: PYTHONPATH=python RUSTDL_NUM_THREADS=2 python -m pytest benches/bench_conv.py
Each test reports GFLOP/s in ``extra_info``: 2*N*Cout*(Cin/g)*prod(k)*prod(out)
per direction, three directions (forward, input grad, weight grad).
"""

import math

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F

CASES = {
    # name: (conv fn, input shape, weight shape, kwargs)
    "conv2d_n64_32to64_16x16_k3": (F.conv2d, (64, 32, 16, 16), (64, 32, 3, 3), {"padding": 1}),
    "conv2d_n32_64to128_8x8_k3": (F.conv2d, (32, 64, 8, 8), (128, 64, 3, 3), {"padding": 1}),
    "conv2d_first_n64_3to32_32x32_k3": (F.conv2d, (64, 3, 32, 32), (32, 3, 3, 3), {"padding": 1}),
    "conv1d_n32_16to32_l256_k5": (F.conv1d, (32, 16, 256), (32, 16, 5), {}),
    "conv3d_n8_4to8_16c_k3": (F.conv3d, (8, 4, 16, 16, 16), (8, 4, 3, 3, 3), {"padding": 1}),
}


def flops(out_shape, weight_shape, groups=1):
    n, cout = out_shape[:2]
    return 2 * n * cout * (weight_shape[1]) * math.prod(weight_shape[2:]) * math.prod(out_shape[2:])


@pytest.mark.parametrize("name", list(CASES))
def test_conv_fwd_bwd(benchmark, name):
    fn, xs, ws, kw = CASES[name]
    rng = np.random.default_rng(0)
    x = rustdl.tensor(rng.standard_normal(xs, dtype=np.float32), requires_grad=True)
    w = rustdl.tensor(rng.standard_normal(ws, dtype=np.float32) * 0.1, requires_grad=True)
    b = rustdl.tensor(rng.standard_normal(ws[0], dtype=np.float32), requires_grad=True)
    gy = rustdl.ones(*tuple(fn(x, w, b, **kw).shape))

    def step():
        x.grad = w.grad = b.grad = None
        fn(x, w, b, **kw).backward(gy)

    benchmark(step)
    total = 3 * flops(tuple(gy.shape), ws)
    benchmark.extra_info["gflops"] = total / benchmark.stats["mean"] / 1e9
    benchmark.extra_info["threads"] = rustdl.get_num_threads()


@pytest.mark.parametrize("name", list(CASES))
def test_conv_fwd(benchmark, name):
    fn, xs, ws, kw = CASES[name]
    rng = np.random.default_rng(0)
    x = rustdl.tensor(rng.standard_normal(xs, dtype=np.float32))
    w = rustdl.tensor(rng.standard_normal(ws, dtype=np.float32) * 0.1)
    b = rustdl.tensor(rng.standard_normal(ws[0], dtype=np.float32))
    out = benchmark(lambda: fn(x, w, b, **kw))
    benchmark.extra_info["gflops"] = flops(tuple(out.shape), ws) / benchmark.stats["mean"] / 1e9
    benchmark.extra_info["threads"] = rustdl.get_num_threads()
