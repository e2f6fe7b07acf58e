"""Pooling / normalization benchmarks (pytest-benchmark).

Run: PYTHONPATH=python RUSTDL_NUM_THREADS=2 python -m pytest benches/bench_pool_norm.py
Each test reports GB/s in ``extra_info``: the logical traffic of the call
(every float32 tensor read or written once: inputs, outputs, incoming and
outgoing gradients; pooling indices not counted) over the mean time.
"""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F

F32 = 4
RNG = np.random.default_rng(0)


def tensor(*shape, requires_grad=False):
    return rustdl.tensor(RNG.standard_normal(shape, dtype=np.float32), requires_grad=requires_grad)


def report(benchmark, nbytes):
    benchmark.extra_info["GB/s"] = round(nbytes / benchmark.stats["mean"] / 1e9, 2)
    benchmark.extra_info["threads"] = rustdl.get_num_threads()


def test_max_pool2d_k2s2_fwd(benchmark):
    x = tensor(64, 64, 32, 32)
    benchmark(lambda: F.max_pool2d(x, 2))
    report(benchmark, x.numel() * F32 * 5 // 4)


def test_max_pool2d_k2s2_fwd_bwd(benchmark):
    x = tensor(64, 64, 32, 32, requires_grad=True)
    gy = tensor(64, 64, 16, 16)

    def step():
        x.grad = None
        F.max_pool2d(x, 2).backward(gy)

    benchmark(step)
    report(benchmark, x.numel() * F32 * (5 + 5) // 4)


def test_avg_pool2d_k3s2p1_fwd(benchmark):
    x = tensor(64, 64, 32, 32)
    benchmark(lambda: F.avg_pool2d(x, 3, 2, 1))
    report(benchmark, x.numel() * F32 * 5 // 4)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_fwd_bwd(benchmark, training):
    x = tensor(64, 64, 32, 32, requires_grad=True)
    w = tensor(64, requires_grad=True)
    b = tensor(64, requires_grad=True)
    rm, rv = rustdl.zeros(64), rustdl.ones(64)
    gy = tensor(64, 64, 32, 32)

    def step():
        x.grad = w.grad = b.grad = None
        F.batch_norm(x, rm, rv, w, b, training=training).backward(gy)

    benchmark(step)
    report(benchmark, x.numel() * F32 * 4)  # x, y, gy, gx


def test_batch_norm_train_fwd(benchmark):
    x = tensor(64, 64, 32, 32)
    rm, rv = rustdl.zeros(64), rustdl.ones(64)
    benchmark(lambda: F.batch_norm(x, rm, rv, training=True))
    report(benchmark, x.numel() * F32 * 2)


def test_layer_norm_fwd(benchmark):
    x = tensor(64, 128, 512)
    w, b = tensor(512), tensor(512)
    benchmark(lambda: F.layer_norm(x, (512,), w, b))
    report(benchmark, x.numel() * F32 * 2)


def test_layer_norm_fwd_bwd(benchmark):
    x = tensor(64, 128, 512, requires_grad=True)
    w, b = tensor(512, requires_grad=True), tensor(512, requires_grad=True)
    gy = tensor(64, 128, 512)

    def step():
        x.grad = w.grad = b.grad = None
        F.layer_norm(x, (512,), w, b).backward(gy)

    benchmark(step)
    report(benchmark, x.numel() * F32 * 4)


def test_group_norm_fwd_bwd(benchmark):
    x = tensor(32, 64, 32, 32, requires_grad=True)
    w, b = tensor(64, requires_grad=True), tensor(64, requires_grad=True)
    gy = tensor(32, 64, 32, 32)

    def step():
        x.grad = w.grad = b.grad = None
        F.group_norm(x, 8, w, b).backward(gy)

    benchmark(step)
    report(benchmark, x.numel() * F32 * 4)
