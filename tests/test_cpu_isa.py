"""The CPU instruction-set levels (rust/cpu/isa.rs): what
``rustdl.backends.cpu`` reports, the RUSTDL_CPU_ISA variable, and equal
results (within float rounding) from every level's kernels."""

import os
import subprocess
import sys

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl.backends import cpu

LEVELS = ["portable", "avx2", "avx512", "amx"]
CAPABILITY = {"portable": "DEFAULT", "avx2": "AVX2", "avx512": "AVX512", "amx": "AVX512"}


@pytest.fixture
def restore_isa():
    before = cpu._isa()
    yield
    cpu._set_isa(before)


def run_python(code, isa):
    env = dict(os.environ)
    env["RUSTDL_CPU_ISA"] = isa
    # The package these tests imported (the source tree or an installed wheel).
    package_parent = os.path.dirname(os.path.dirname(rustdl.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_capability_names_match_pytorch_words():
    assert cpu.get_cpu_capability() in {"DEFAULT", "AVX2", "AVX512"}
    assert cpu.get_cpu_capability() == CAPABILITY[cpu._isa()]
    levels = cpu._supported_isas()
    assert levels[0] == "portable"
    assert levels == [lv for lv in LEVELS if lv in levels]  # lowest first, no gaps
    assert levels == LEVELS[: len(levels)]


def test_set_isa_switches_and_refuses(restore_isa):
    for level in cpu._supported_isas():
        cpu._set_isa(level)
        assert cpu._isa() == level
        assert cpu.get_cpu_capability() == CAPABILITY[level]
    unsupported = [lv for lv in LEVELS if lv not in cpu._supported_isas()]
    for level in unsupported:
        with pytest.raises(RuntimeError, match="does not support"):
            cpu._set_isa(level)
    with pytest.raises(ValueError, match="unknown CPU instruction set"):
        cpu._set_isa("sse9")


SHOW = "from rustdl.backends import cpu; print(cpu._isa(), cpu.get_cpu_capability())"


@pytest.mark.parametrize("level", ["portable", "avx2", "AVX512"])
def test_environment_variable_lowers_the_level(level):
    best = cpu._supported_isas()[-1]
    r = run_python(SHOW, level)
    assert r.returncode == 0, r.stderr
    want = min(LEVELS.index(level.lower()), LEVELS.index(best))
    assert r.stdout.split() == [LEVELS[want], CAPABILITY[LEVELS[want]]]
    assert r.stderr == ""


def test_invalid_environment_name_warns_and_uses_the_best():
    r = run_python(SHOW, "sse9")
    assert r.returncode == 0, r.stderr
    best = cpu._supported_isas()[-1]
    assert r.stdout.split() == [best, CAPABILITY[best]]
    assert "RUSTDL_CPU_ISA" in r.stderr and "sse9" in r.stderr


def at_every_level(fn):
    """`fn()` (numpy arrays) at each supported level; the first is portable."""
    out = {}
    before = cpu._isa()
    try:
        for level in cpu._supported_isas():
            cpu._set_isa(level)
            out[level] = fn()
    finally:
        cpu._set_isa(before)
    return out


def assert_all_close(results, rtol, atol):
    ref = results["portable"]
    for level, got in results.items():
        for g, r in zip(got, ref):
            np.testing.assert_allclose(g, r, rtol=rtol, atol=atol, err_msg=f"level {level}")


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 33, 5), (13, 50, 67), (64, 64, 64), (130, 97, 300), (300, 257, 129)])
def test_matmul_equal_across_levels(m, n, k):
    rustdl.manual_seed(m * 1000 + n + k)
    a, b = rustdl.randn(m, k), rustdl.randn(k, n)
    c0 = rustdl.randn(m, n)

    def run():
        return [
            (a @ b).numpy(),
            (a.t().contiguous().t() @ b).numpy(),  # column-major A
            (b.t() @ a.t()).numpy(),  # column-major operands and result
            rustdl.addmm(c0, a, b).numpy(),
        ]

    results = at_every_level(run)
    ref = a.numpy().astype(np.float64) @ b.numpy().astype(np.float64)
    for level, got in results.items():
        np.testing.assert_allclose(got[0], ref, rtol=1e-4, atol=1e-4 * np.sqrt(k), err_msg=level)
        np.testing.assert_allclose(got[2], ref.T, rtol=1e-4, atol=1e-4 * np.sqrt(k), err_msg=level)
    assert_all_close(results, rtol=1e-4, atol=1e-4 * np.sqrt(k))


def test_linear_forward_and_backward_equal_across_levels():
    rustdl.manual_seed(1)
    x = rustdl.randn(37, 3, 70)
    lin = rustdl.nn.Linear(70, 45)

    def run():
        xg = x.clone().requires_grad_(True)
        for p in lin.parameters():
            p.grad = None
        y = lin(xg)
        (y * y).sum().backward()
        return [y.detach().numpy(), xg.grad.numpy(), lin.weight.grad.numpy(), lin.bias.grad.numpy()]

    assert_all_close(at_every_level(run), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("stride,padding,cin,cout,k", [(1, 1, 3, 20, 3), (1, 1, 16, 24, 3), (2, 2, 5, 7, 5), (1, 0, 32, 17, 1)])
def test_conv2d_equal_across_levels(stride, padding, cin, cout, k):
    rustdl.manual_seed(cin + cout)
    x = rustdl.randn(2, cin, 19, 23)
    w = rustdl.randn(cout, cin, k, k) * 0.2
    b = rustdl.randn(cout)

    def run():
        xg, wg = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        y = F.conv2d(xg, wg, b, stride=stride, padding=padding)
        y.sum().backward()
        return [y.detach().numpy(), xg.grad.numpy(), wg.grad.numpy()]

    assert_all_close(at_every_level(run), rtol=1e-3, atol=1e-3)


def test_softmax_exp_tanh_sum_equal_across_levels():
    rustdl.manual_seed(2)
    x = rustdl.randn(33, 517) * 4

    def run():
        return [
            F.softmax(x, dim=1).numpy(),
            F.softmax(x, dim=0).numpy(),
            F.log_softmax(x, dim=1).numpy(),
            x.exp().numpy(),
            x.tanh().numpy(),
            np.array([x.sum().item(), (x * x).sum().item()]),
            x.sum(dim=1).numpy(),
        ]

    assert_all_close(at_every_level(run), rtol=1e-5, atol=1e-6)


def _ref_conv2d_with_grads(x, w, gy, stride, padding, dilation, groups):
    """float64 y = conv2d(x, w) and the gradients of sum(y * gy): x's (each
    output's patch scattered back) and w's (gy times the patches)."""
    n, _, h, wd = x.shape
    cout, cgi, kh, kw = w.shape
    cgo = cout // groups
    xp = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    oh = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    y = np.zeros((n, cout, oh, ow))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for a in range(kh):
        for e in range(kw):
            sl = (slice(None), slice(None),
                  slice(a * dilation, a * dilation + (oh - 1) * stride + 1, stride),
                  slice(e * dilation, e * dilation + (ow - 1) * stride + 1, stride))
            patch = xp[sl]
            for g in range(groups):
                o, c = slice(g * cgo, (g + 1) * cgo), slice(g * cgi, (g + 1) * cgi)
                y[:, o] += np.einsum("oc,nchw->nohw", w[o, :, a, e], patch[:, c])
                gw[o, :, a, e] += np.einsum("nohw,nchw->oc", gy[:, o], patch[:, c])
                gxp[sl][:, c] += np.einsum("oc,nohw->nchw", w[o, :, a, e], gy[:, o])
    gx = gxp[:, :, padding:padding + h, padding:padding + wd]
    return y, gx, gw


# Geometries of each convolution path: Winograd (3x3, stride 1, >= 16
# channels; 8x8 and odd planes, channel counts that fill 8- and 16-row
# panels or not), the implicit GEMM with stride 2 (rows of 8 outputs tiled
# two at a time, odd output heights; wider rows), groups and dilation.
PATH_CASES = [
    # (n, cin, cout, h, w, k, stride, padding, dilation, groups)
    (3, 16, 16, 8, 8, 3, 1, 0, 1, 1),
    (2, 32, 40, 8, 8, 3, 1, 1, 1, 1),
    (5, 17, 24, 7, 9, 3, 1, 1, 1, 1),
    (2, 24, 64, 16, 16, 3, 2, 1, 1, 1),
    (3, 8, 24, 15, 16, 3, 2, 1, 1, 1),
    (2, 5, 40, 16, 17, 3, 2, 1, 1, 1),
    (2, 6, 7, 13, 16, 3, 2, 0, 1, 1),
    (2, 16, 32, 32, 32, 3, 2, 1, 1, 1),
    (2, 8, 16, 16, 16, 3, 2, 1, 1, 2),
    (2, 4, 16, 20, 18, 3, 2, 2, 2, 1),
    (2, 8, 9, 16, 16, 1, 2, 0, 1, 1),
    # Padded rows longer than one 16-value run (AVX-512 pad_input): stride 2
    # with wide padding, and stride 1 with few channels (implicit GEMM).
    (2, 6, 20, 9, 45, 3, 2, 2, 1, 1),
    (2, 3, 8, 11, 37, 5, 1, 2, 1, 1),
    # Winograd on narrow planes (AVX-512 transforms of whole tile rows):
    # padding 0-2 (the input gradient's flipped padding 2-0), the widest rows
    # those transforms take (14 and 16 outputs) and one past, and a tall
    # plane cut into bands of tile rows.
    (3, 16, 20, 6, 6, 3, 1, 2, 1, 1),
    (2, 16, 16, 14, 14, 3, 1, 1, 1, 1),
    (2, 16, 24, 9, 16, 3, 1, 1, 1, 1),
    (2, 16, 16, 11, 19, 3, 1, 0, 1, 1),
    (1, 64, 64, 70, 8, 3, 1, 1, 1, 1),
    # AVX2 register transforms: rows of two blocks and a partial third
    # (17 tiles), a 16-wide plane (one whole block), 10-wide (partial).
    (2, 16, 16, 33, 34, 3, 1, 1, 1, 1),
    (2, 16, 24, 16, 16, 3, 1, 1, 1, 1),
    (3, 24, 16, 10, 10, 3, 1, 0, 1, 1),
]


@pytest.mark.parametrize("n,cin,cout,h,w,k,stride,padding,dilation,groups", PATH_CASES)
def test_conv2d_paths_match_float64_at_every_level(restore_isa, n, cin, cout, h, w, k, stride, padding, dilation, groups):
    rng = np.random.default_rng(n * 1000 + cin * 10 + cout + h)
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = (rng.standard_normal((cout, cin // groups, k, k)) * 0.2).astype(np.float32)
    kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    gy = rng.standard_normal(F.conv2d(rustdl.tensor(x), rustdl.tensor(wt), **kw).shape).astype(np.float32)
    y_ref, gx_ref, gw_ref = _ref_conv2d_with_grads(
        x.astype(np.float64), wt.astype(np.float64), gy.astype(np.float64), stride, padding, dilation, groups
    )
    bias = rng.standard_normal(cout).astype(np.float32)
    y_ref += bias.reshape(1, -1, 1, 1)
    depth = cin // groups * k * k
    for level in cpu._supported_isas():
        cpu._set_isa(level)
        xg, wg = rustdl.tensor(x, requires_grad=True), rustdl.tensor(wt, requires_grad=True)
        bg = rustdl.tensor(bias, requires_grad=True)
        y = F.conv2d(xg, wg, bg, **kw)
        y.backward(rustdl.tensor(gy))
        np.testing.assert_allclose(bg.grad.numpy(), gy.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-4, atol=1e-3)
        tol = 2e-5 * np.sqrt(depth) * 10
        np.testing.assert_allclose(y.detach().numpy(), y_ref, rtol=1e-4, atol=tol, err_msg=level)
        np.testing.assert_allclose(xg.grad.numpy(), gx_ref, rtol=1e-4, atol=tol * np.sqrt(cout), err_msg=level)
        np.testing.assert_allclose(wg.grad.numpy(), gw_ref, rtol=1e-4, atol=tol * np.sqrt(n * h * w), err_msg=level)


def test_bf16_batch_norm_and_relu_equal_across_levels():
    # The bf16 kernels (rust/cpu/norm_bf16.rs, bf16_relu.rs) do the float32
    # arithmetic of the portable path in the same order: equal bit for bit.
    # Planes of 1131 values: one block of 1024 and a partial one.
    rustdl.manual_seed(3)
    x = (rustdl.randn(4, 6, 13, 87) * 3 + 5).to(rustdl.bfloat16)
    gy = rustdl.randn(4, 6, 13, 87).to(rustdl.bfloat16)

    def run():
        rustdl.manual_seed(0)
        bn = rustdl.nn.BatchNorm2d(6)
        xg = x.clone().requires_grad_(True)
        y = F.relu(bn(xg))
        y.backward(gy)
        return [y.detach().float().numpy(), xg.grad.float().numpy(), bn.weight.grad.numpy(),
                bn.bias.grad.numpy(), bn.running_mean.numpy(), bn.running_var.numpy()]

    results = at_every_level(run)
    for level, got in results.items():
        for g, r in zip(got, results["portable"]):
            np.testing.assert_array_equal(g, r, err_msg=level)
