"""wgpu backend benchmarks (pytest-benchmark): the same matmul and conv
(forward + backward) on the wgpu device and on the CPU.

Run: PYTHONPATH=python python -m pytest benches/bench_wgpu.py
Without a GPU, the device is Mesa's lavapipe, which runs the WGSL kernels on
the CPU: the figures measure the backend's overhead and correctness there, not
GPU speed. Each result carries GFLOP/s in ``extra_info``.
"""

import math

import pytest
import rustdl
import rustdl.nn.functional as F

wgpu = rustdl.backends.wgpu
if not (wgpu.is_built() and wgpu.is_available()):
    pytest.skip("no wgpu device", allow_module_level=True)

DEVICES = ["cpu", "wgpu"]


def sync(device):
    if device == "wgpu":
        wgpu.synchronize()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [256, 512])
def test_matmul(benchmark, device, n):
    a = rustdl.randn(n, n).to(device)
    b = rustdl.randn(n, n).to(device)

    def run():
        c = a @ b
        sync(device)
        return c

    benchmark(run)
    benchmark.extra_info["gflops"] = 2 * n**3 / benchmark.stats["min"] / 1e9


@pytest.mark.parametrize("device", DEVICES)
def test_conv2d_fwd_bwd(benchmark, device):
    x = rustdl.randn(16, 16, 16, 16).to(device).requires_grad_(True)
    w = rustdl.randn(32, 16, 3, 3).to(device).requires_grad_(True)

    def run():
        y = F.conv2d(x, w, padding=1)
        y.sum().backward()
        sync(device)

    benchmark(run)
    fl = 3 * 2 * 16 * 32 * 16 * 9 * 16 * 16
    benchmark.extra_info["gflops"] = fl / benchmark.stats["min"] / 1e9
    assert math.isfinite(benchmark.stats["min"])
