"""Fast write paths (issue 24): `out=` computes a pending result straight into
the destination, `clone` copies into a cached buffer (streaming stores for
large ones), softmax's fused row passes. Values must be those of the plain
paths, bit for bit."""

import sys

import numpy as np
import pytest
import rustdl as torch
from rustdl import _C
from rustdl.backends import cpu as cpu_backend

SMALL = 70_000  # above the fusion threshold
LARGE = (1 << 22) + 13  # above the streaming threshold (16 MiB of float32), odd length


def values(seed, n):
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(n).astype(np.float32)
    v[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40]
    return v


def bits(a):
    return np.ascontiguousarray(a).view(np.uint8)


@pytest.mark.parametrize("n", [SMALL, LARGE])
@pytest.mark.parametrize("threads", [1, 2])
def test_add_out_matches_the_plain_sum(n, threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        xv, yv = values(0, n), values(1, n)
        x, y = torch.tensor(xv), torch.tensor(yv)
        z = torch.empty(n)
        v0 = z._version
        r = torch.add(x, y, out=z)
        assert r is z
        assert z._version > v0
        np.testing.assert_array_equal(bits(z.numpy()), bits(xv + yv))
        # A chain of several steps into out=.
        w = torch.empty(n)
        torch.mul(x * 1.5 + y, 0.5, out=w)
        np.testing.assert_array_equal(bits(w.numpy()), bits(((xv * np.float32(1.5)) + yv) * np.float32(0.5)))
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize("n", [SMALL, LARGE])
def test_add_out_into_an_operand(n):
    xv, yv = values(2, n), values(3, n)
    x, y = torch.tensor(xv), torch.tensor(yv)
    torch.add(x, y, out=x)
    np.testing.assert_array_equal(bits(x.numpy()), bits(xv + yv))
    x = torch.tensor(xv)
    torch.add(x * 2, y, out=y)
    np.testing.assert_array_equal(bits(y.numpy()), bits(xv * np.float32(2) + yv))


def test_add_out_keeps_what_pending_chains_read():
    n = SMALL
    xv, yv, zv = values(4, n), values(5, n), values(6, n)
    x, y, z = torch.tensor(xv), torch.tensor(yv), torch.tensor(zv)
    pending = z * 3.0  # reads z's old values
    torch.add(x, y, out=z)
    np.testing.assert_array_equal(bits(pending.numpy()), bits(zv * np.float32(3)))
    np.testing.assert_array_equal(bits(z.numpy()), bits(xv + yv))


def test_add_out_into_views():
    n = SMALL
    xv, yv = values(7, n), values(8, n)
    x, y = torch.tensor(xv), torch.tensor(yv)
    big = torch.zeros(3, n)
    torch.add(x, y, out=big[1])  # contiguous, at an offset
    np.testing.assert_array_equal(bits(big[1].numpy()), bits(xv + yv))
    assert (big[0] == 0).all() and (big[2] == 0).all()
    a, b = torch.tensor(xv[:65536].reshape(256, 256)), torch.tensor(yv[:65536].reshape(256, 256))
    t = torch.zeros(256, 256)
    torch.add(a, b, out=t.t())  # strided destination
    np.testing.assert_array_equal(bits(t.t().numpy()), bits(xv[:65536].reshape(256, 256) + yv[:65536].reshape(256, 256)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "int8", "int16", "bool"])
@pytest.mark.parametrize("n", [SMALL, LARGE])
def test_clone_copies_every_bit(dtype, n):
    rng = np.random.default_rng(9)
    if dtype.startswith("float"):
        v = values(9, n).astype(dtype)
        v.view(np.uint8)[-8:] = 0xFF  # a NaN with a payload
    elif dtype == "bool":
        v = rng.integers(0, 2, n).astype(bool)
    else:
        v = rng.integers(-100, 100, n).astype(dtype)
    x = torch.tensor(v)
    for threads in (1, 2):
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            c = x.clone()
        finally:
            torch.set_num_threads(old)
        np.testing.assert_array_equal(bits(c.numpy()), bits(v))
        assert c.data_ptr() != x.data_ptr()
    c.zero_()
    np.testing.assert_array_equal(bits(x.numpy()), bits(v))


def test_clone_of_a_pending_result_and_of_views():
    xv = values(10, SMALL)
    x = torch.tensor(xv)
    np.testing.assert_array_equal(bits((x * 2).clone().numpy()), bits(xv * np.float32(2)))
    m = torch.tensor(xv[:65536].reshape(256, 256))
    np.testing.assert_array_equal(m.t().clone().numpy(), xv[:65536].reshape(256, 256).T)
    np.testing.assert_array_equal(m[1:, ::3].clone().numpy(), xv[:65536].reshape(256, 256)[1:, ::3])


@pytest.fixture(params=cpu_backend._supported_isas())
def isa(request):
    before = cpu_backend._isa()
    cpu_backend._set_isa(request.param)
    yield request.param
    cpu_backend._set_isa(before)


def eager_bits(fn, *args):
    """`fn(*args)` with fusion off (every op run at once, no streaming of a chain)."""
    old = _C._set_fusion_min_numel(sys.maxsize)
    try:
        return bits(fn(*args).numpy()).copy()
    finally:
        _C._set_fusion_min_numel(old)


# The last step of a chain streamed into memory: each kind of step (unary, with a number,
# with a tensor) as the last one, after none, one and two steps kept in L1.
STREAMED_CHAINS = {
    "x+y": lambda x, y: x + y,
    "relu(x*1.5)": lambda x, y: torch.relu(x * 1.5),
    "2/x": lambda x, y: 2.0 / x,
    "tanh(x*y+0.5)": lambda x, y: torch.tanh(x * y + 0.5),
    "abs(x-y)*y": lambda x, y: (x - y).abs() * y,
}


@pytest.mark.parametrize("chain", STREAMED_CHAINS)
@pytest.mark.parametrize("threads", [1, 2])
def test_streamed_chains_match_eager_bits(chain, threads, isa):
    """A chain whose result is past the streaming threshold computes its last step
    straight into memory with streaming stores (`cpu::stream::write_lines`): the
    same bits as the eager ops, into a new tensor, an `out=` tensor and an `out=` view
    whose start is not on a 64-byte line (plain stores for the head and tail)."""
    fn = STREAMED_CHAINS[chain]
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        xv, yv = values(20, LARGE), values(21, LARGE)
        x, y = torch.tensor(xv), torch.tensor(yv)
        want = eager_bits(fn, x, y)
        np.testing.assert_array_equal(bits(fn(x, y).numpy()), want)
        z = torch.empty(LARGE)
        torch.mul(fn(x, y), 1.0, out=z)
        np.testing.assert_array_equal(bits(z.numpy()), want)
        big = torch.zeros(LARGE * 2 + 3)
        view = big[1:LARGE + 1]  # 4 bytes past a line start
        torch.mul(fn(x, y), 1.0, out=view)  # (* 1.0 keeps every bit)
        got = big.numpy()
        np.testing.assert_array_equal(bits(got[1:LARGE + 1]), want)
        assert got[0] == 0 and (got[LARGE + 1:] == 0).all()
        torch.add(x, y, out=view)
        np.testing.assert_array_equal(bits(big.numpy()[1:LARGE + 1]), eager_bits(torch.add, x, y))
    finally:
        torch.set_num_threads(old)


def softmax_reference(x, log):
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        m = np.max(x, axis=1, keepdims=True)
        m = np.where(np.isneginf(m), 0.0, m)
        e = np.exp(x - m)
        s = e.sum(axis=1, keepdims=True)
        return (x - m - np.log(s)) if log else e / s


@pytest.mark.parametrize("width", [1, 7, 31, 32, 33, 64, 100, 1000])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_rows_of_every_width(width, log):
    rng = np.random.default_rng(width)
    v = (rng.standard_normal((300, width)) * 4).astype(np.float32)
    v[1, :] = -np.inf  # all -inf: exp gives 0s, 0/0 NaN as in PyTorch
    v[2, width // 2] = np.nan
    v[3, width - 1] = np.inf
    v[4, :] = 0.0
    v[5, width - 1] = 80.0  # the maximum in the last (remainder) lane
    x = torch.tensor(v)
    got = (torch.log_softmax if log else torch.softmax)(x, 1).numpy()
    ref = softmax_reference(v, log)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=2e-6, atol=1e-6)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    # NaN anywhere in a row makes the whole row NaN.
    assert np.isnan(got[2]).all()
