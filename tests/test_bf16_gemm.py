"""bfloat16 matmul on the bf16 GEMM (rust/cpu/bgemm): values as PyTorch's
(recorded in tests/golden/autocast.json) and as float64 math on the same
bf16 inputs rounded once, on every kernel level this CPU runs; gradients;
elementwise ops and reductions on bf16 tensors keep PyTorch's dtypes."""

import json
from pathlib import Path

import autocast_cases as cases
import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl.backends import cpu as cpu_backend

GOLDEN = json.loads((Path(__file__).parent / "golden" / "autocast.json").read_text())


def bf16_round(a):
    """float64 values rounded to bfloat16 (round to nearest even), as float64."""
    f = np.asarray(a, dtype=np.float32)
    bits = f.view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


def close_bf16(got, want, steps=1):
    """Within `steps` bf16 steps of the reference (a float32 sum may round
    to either neighbour where the exact value is near a tie)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    # plus a little absolute slack for results cancelled near zero, where the
    # float32 sum's own error exceeds a bf16 step of the small result
    tol = steps * 2.0 ** -7 * np.abs(want) + 1e-4 * (np.abs(want).max(initial=0.0) + 1e-30)
    bad = np.abs(got - want) > tol
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ: got {got[bad][:5]}, want {want[bad][:5]}"


@pytest.fixture(params=cpu_backend._supported_isas())
def isa(request):
    before = cpu_backend._isa()
    cpu_backend._set_isa(request.param)
    yield request.param
    cpu_backend._set_isa(before)


def rand_bf16(shape, seed):
    vals = bf16_round(np.random.default_rng(seed).uniform(-2, 2, size=shape))
    return rustdl.from_numpy(vals.astype(np.float32)).to(rustdl.bfloat16), vals


def test_path_follows_isa(isa):
    path = rustdl._C._bgemm_path()
    feats = dict(rustdl._C._cpu_features())
    if isa == "amx":
        assert path == "amx"
    elif isa == "avx512" and feats["avx512_bf16"]:
        assert path == "avx512_bf16"
    elif isa in ("portable", "avx2"):
        assert path == "f32"


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (5, 3, 15), (12, 256, 32), (13, 257, 33), (193, 513, 40),
                                   (150, 70, 290), (64, 1, 64), (7, 0, 5), (0, 4, 3)])
def test_mm_matches_float64_rounded_once(isa, m, k, n):
    a, an = rand_bf16((m, k), 1)
    b, bn = rand_bf16((k, n), 2)
    out = a @ b
    assert out.dtype == rustdl.bfloat16 and tuple(out.shape) == (m, n)
    close_bf16(out.float().numpy(), bf16_round(an @ bn))


def test_transposed_and_strided_operands(isa):
    a, an = rand_bf16((70, 33), 3)
    b, bn = rand_bf16((41, 70), 4)
    close_bf16(a.t().mm(b.t()).float().numpy(), bf16_round(an.T @ bn.T))
    close_bf16(a[::2, 1::3].mm(b[:11, ::2]).float().numpy(), bf16_round(an[::2, 1::3] @ bn[:11, ::2]))


def test_batched_broadcast(isa):
    a, an = rand_bf16((3, 1, 9, 20), 5)
    b, bn = rand_bf16((4, 20, 7), 6)
    close_bf16(rustdl.matmul(a, b).float().numpy(), bf16_round(np.matmul(an, bn)))
    x, xn = rand_bf16((2, 5, 20), 7)
    close_bf16(rustdl.bmm(x, b[:2].transpose(1, 2).contiguous().transpose(1, 2)).float().numpy(),
               bf16_round(np.matmul(xn, bn[:2])))


@pytest.mark.parametrize("name", sorted(GOLDEN["bf16_values"]))
def test_values_recorded_from_pytorch(isa, name):
    expr, spec = cases.BF16_VALUES[name]
    args = [rustdl.tensor(v, dtype=rustdl.bfloat16) for v in cases.bf16_args(spec)]
    out = eval(expr, {"torch": rustdl, "F": F})(*args)
    want = GOLDEN["bf16_values"][name]
    assert str(out.dtype).split(".")[-1] == want["dtype"]
    close_bf16(out.float().numpy(), np.array(want["out"]))


def test_linear_rounds_once_after_bias(isa):
    x, xn = rand_bf16((9, 40), 8)
    w, wn = rand_bf16((30, 40), 9)
    b, bn = rand_bf16((30,), 10)
    out = F.linear(x, w, b)
    assert out.dtype == rustdl.bfloat16
    close_bf16(out.float().numpy(), bf16_round(xn @ wn.T + bn))
    x3 = x.reshape(3, 3, 40)
    close_bf16(F.linear(x3, w).float().numpy(), bf16_round((xn @ wn.T).reshape(3, 3, 30)))


def test_gradients_in_bf16(isa):
    a, an = rand_bf16((17, 35), 11)
    b, bn = rand_bf16((35, 23), 12)
    a.requires_grad_(True)
    b.requires_grad_(True)
    g, gn = rand_bf16((17, 23), 13)
    (a @ b).backward(g)
    assert a.grad.dtype == rustdl.bfloat16 and b.grad.dtype == rustdl.bfloat16
    close_bf16(a.grad.float().numpy(), bf16_round(gn @ bn.T))
    close_bf16(b.grad.float().numpy(), bf16_round(an.T @ gn))


def test_linear_gradients(isa):
    lin = rustdl.nn.Linear(24, 10).to(rustdl.bfloat16)
    x, xn = rand_bf16((6, 24), 14)
    x.requires_grad_(True)
    lin(x).sum().backward()
    wn = lin.weight.detach().float().numpy().astype(np.float64)
    ones = np.ones((6, 10))
    assert lin.weight.grad.dtype == rustdl.bfloat16
    close_bf16(x.grad.float().numpy(), bf16_round(ones @ wn))
    close_bf16(lin.weight.grad.float().numpy(), bf16_round(ones.T @ xn))
    close_bf16(lin.bias.grad.float().numpy(), np.full(10, 6.0))


def test_addmm_family(isa):
    c, cn = rand_bf16((5, 6), 15)
    a, an = rand_bf16((5, 9), 16)
    b, bn = rand_bf16((9, 6), 17)
    close_bf16(rustdl.addmm(c, a, b).float().numpy(), bf16_round(cn + an @ bn))
    bb = rustdl.baddbmm(c[None], a[None], b[None])
    assert bb.dtype == rustdl.bfloat16
    close_bf16(bb.float().numpy()[0], bf16_round(cn + an @ bn))


def test_large_product_against_f32(isa):
    a, an = rand_bf16((300, 520), 18)
    b, bn = rand_bf16((520, 260), 19)
    close_bf16((a @ b).float().numpy(), bf16_round(an @ bn), steps=1)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,k,n", [(13, 70, 33), (30, 1100, 70), (64, 2051, 40), (1, 1030, 3)])
def test_matmul_rounds_as_the_float32_product_narrowed(isa, threads, m, k, n):
    """matmul's bf16 result (rounded in the kernel's last store on the vdpbf16ps path;
    with several depth slices past 1024, after summing them) is bit for bit the float32
    product of the same GEMM narrowed once, as linear's (which adds its bias first),
    NaN and infinities included; and within a bf16 step of float64 math."""
    before = rustdl.get_num_threads()
    rustdl.set_num_threads(threads)
    try:
        a, an = rand_bf16((m, k), 20)
        b, bn = rand_bf16((k, n), 21)
        out = a @ b
        close_bf16(out.float().numpy(), bf16_round(an @ bn))
        a[0, 0] = float("nan")
        if m > 1:
            a[-1, 1] = float("inf")
        out = (a @ b).float().numpy()
        ref = F.linear(a, b.t()).float().numpy()
        assert np.isnan(out).any() and (m == 1 or np.isinf(out).any())
        np.testing.assert_array_equal(out, ref)
    finally:
        rustdl.set_num_threads(before)


@pytest.mark.parametrize("name", ["relu", "gelu", "tanh", "mul_self", "sum", "mean", "softmax", "log_softmax",
                                  "layer_norm", "group_norm", "cumsum", "max_pool2d", "avg_pool2d"])
def test_elementwise_and_reductions_keep_bf16(name):
    env = cases.inputs(rustdl, "bf16")
    env["F"] = F
    out = eval(cases.OPS[name], env)
    assert str(out.dtype).split(".")[-1] == "bfloat16"
    ref_env = cases.inputs(rustdl, "f32")
    ref_env["x"] = env["x"].float()
    ref_env["F"] = F
    ref = eval(cases.OPS[name], ref_env)
    close_bf16(out.float().numpy(), bf16_round(ref.numpy()), steps=2)
