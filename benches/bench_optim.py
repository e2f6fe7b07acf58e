"""Benchmarks of the fused optimizer steps (pytest-benchmark).

Adam and SGD-with-momentum steps over 10M float32 parameters split into 100
tensors. Run with one and two threads:

    RUSTDL_NUM_THREADS=1 PYTHONPATH=python python3 -m pytest benches/bench_optim.py -q
    RUSTDL_NUM_THREADS=2 PYTHONPATH=python python3 -m pytest benches/bench_optim.py -q

Each test prints ms per step and the memory traffic in GB/s: Adam reads
param, grad, exp_avg, exp_avg_sq and writes param, exp_avg, exp_avg_sq
(7 floats per element); SGD with momentum reads param, grad, buffer and
writes param, buffer (5 floats per element).
"""

import os

import numpy as np
import pytest
import rustdl as torch
import rustdl.optim

N_TENSORS = 100
PER_TENSOR = 100_000
N = N_TENSORS * PER_TENSOR


def _params():
    rng = np.random.default_rng(0)
    ps = []
    for _ in range(N_TENSORS):
        p = torch.tensor(rng.standard_normal(PER_TENSOR).astype(np.float32), requires_grad=True)
        p.grad = torch.tensor(rng.standard_normal(PER_TENSOR).astype(np.float32))
        ps.append(p)
    return ps


def _report(benchmark, name, floats_per_elem):
    mean = benchmark.stats.stats.mean
    best = benchmark.stats.stats.min
    gbs = N * floats_per_elem * 4 / mean / 1e9
    gbs_best = N * floats_per_elem * 4 / best / 1e9
    threads = os.environ.get("RUSTDL_NUM_THREADS", str(torch.get_num_threads()))
    benchmark.extra_info.update({"ms": mean * 1e3, "GB/s": gbs, "min_ms": best * 1e3, "min_GB/s": gbs_best,
                                 "threads": threads})
    print(f"\n{name}: {N / 1e6:.0f}M params in {N_TENSORS} tensors, threads={threads}: "
          f"mean {mean * 1e3:.2f} ms/step ({gbs:.1f} GB/s), min {best * 1e3:.2f} ms ({gbs_best:.1f} GB/s)")


@pytest.mark.parametrize("amsgrad", [False])
def test_adam_step_10m(benchmark, amsgrad):
    ps = _params()
    opt = torch.optim.Adam(ps, lr=1e-3, amsgrad=amsgrad)
    opt.step()  # allocate state
    benchmark.pedantic(opt.step, rounds=10, iterations=1, warmup_rounds=1)
    _report(benchmark, "Adam", 7)


def test_sgd_momentum_step_10m(benchmark):
    ps = _params()
    opt = torch.optim.SGD(ps, lr=1e-3, momentum=0.9)
    opt.step()
    benchmark.pedantic(opt.step, rounds=10, iterations=1, warmup_rounds=1)
    _report(benchmark, "SGD momentum", 5)
