"""Activation benchmarks (pytest-benchmark): forward and forward+backward on
1M floats. These are compute-bound (the tensors fit in the L3 cache): what
they measure is the vectorised transcendental functions (exp, tanh, erf).

    python -m pytest benches/bench_activations.py --benchmark-only
Thread count: RUSTDL_NUM_THREADS=1|2. Results and commands: benches/RESULTS.md.
"""

import pytest
import rustdl as torch
import rustdl.nn.functional as F
from computed import computed

ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "elu": F.elu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "erf": torch.erf,
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_fwd_1m(benchmark, name):
    x = torch.randn(1024, 1024)
    benchmark(lambda: computed(ACTIVATIONS[name](x)))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_fwd_bwd_1m(benchmark, name):
    x = torch.randn(1024, 1024, requires_grad=True)
    g = torch.ones(1024, 1024)
    benchmark(lambda: ACTIVATIONS[name](x).backward(g))
