"""Core tensor benchmarks (pytest-benchmark): per-op overhead, elementwise
throughput on 16M floats, sgemm, the autograd chain, cross-entropy.

    python -m pytest benches/bench_core.py --benchmark-only
Thread count: RUSTDL_NUM_THREADS=1|2. Results and commands: benches/RESULTS.md.
"""

import pytest
import rustdl as torch
from computed import computed


def test_add_16_elements(benchmark):
    x, y = torch.randn(16), torch.randn(16)
    benchmark(lambda: x + y)


def test_autograd_chain_100(benchmark):
    w = torch.randn(16, requires_grad=True)

    def run():
        z = w
        for _ in range(100):
            z = z * 1.0001
        z.sum().backward()

    benchmark(run)


def test_add_16m(benchmark):
    x, y = torch.randn(4096, 4096), torch.randn(4096, 4096)
    benchmark(lambda: computed(x + y))


def test_add_inplace_16m(benchmark):
    x, y = torch.randn(4096, 4096), torch.randn(4096, 4096)
    benchmark(lambda: x.add_(y))


def test_relu_affine_16m(benchmark):
    x = torch.randn(4096, 4096)
    benchmark(lambda: computed(torch.relu(x * 1.5 + 0.5)))


def test_sum_16m(benchmark):
    x = torch.randn(4096, 4096)
    benchmark(lambda: x.sum())


@pytest.mark.parametrize("n", [256, 512, 1024, 2048])
def test_sgemm(benchmark, n):
    a, b = torch.randn(n, n), torch.randn(n, n)
    benchmark(lambda: a @ b)


def test_cross_entropy_4096x1000_fwd_bwd(benchmark):
    x = torch.randn(4096, 1000, requires_grad=True)
    y = torch.randint(0, 1000, (4096,))
    benchmark(lambda: torch.nn.functional.cross_entropy(x, y).backward())
