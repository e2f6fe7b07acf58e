"""Fused elementwise chains (rust/ops/fusion.rs): results bit-identical to the
eager ops, and a pending chain never sees later writes to what it reads.

(One exception to bit-identity, not tested: when both operands of + or * are
NaN, which NaN's payload survives may differ, as it may between eager
kernels; the compiler treats those ops as commutative.)"""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import rustdl as torch
from rustdl import _C

N = 70_000  # above the default fusion threshold


@pytest.fixture
def fusion():
    """Fuse every eligible op (threshold 1) for the test, then restore."""
    old = _C._set_fusion_min_numel(1)
    yield
    _C._set_fusion_min_numel(old)


def eager(fn, *args):
    """`fn(*args)` with fusion off."""
    old = _C._set_fusion_min_numel(sys.maxsize)
    try:
        return fn(*args).numpy().copy()
    finally:
        _C._set_fusion_min_numel(old)


def values(seed, n=N, positive=False):
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(n).astype(np.float32) * 3
    v[:8] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 88.0]
    if positive:
        v = np.abs(v)
    return torch.tensor(v)


UNARY = {
    "relu": torch.relu,
    "neg": torch.neg,
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}

NUMBER = {
    "x+v": lambda x: x + 0.37,
    "v+x": lambda x: 0.37 + x,
    "x-v": lambda x: x - 0.37,
    "v-x": lambda x: 0.37 - x,
    "x*v": lambda x: x * 1.3,
    "v*x": lambda x: 1.3 * x,
    "x/v": lambda x: x / 0.7,
}

TENSOR = {
    "x+y": lambda x, y: x + y,
    "x-y": lambda x, y: x - y,
    "x*y": lambda x, y: x * y,
    "x/y": lambda x, y: x / y,
}


def assert_bits(actual, expected):
    a, e = actual.numpy(), expected
    assert a.dtype == e.dtype and a.shape == e.shape
    assert np.array_equal(a.view(np.uint32), e.view(np.uint32))


@pytest.mark.parametrize("name", UNARY)
def test_unary_steps_match_eager_bits(fusion, name):
    f = UNARY[name]
    x = values(0)
    # After a number step, so the function runs as a later step on a block.
    chain = lambda t: f(t * 1.0)
    for fn in (f, chain):
        out = fn(x)
        assert _C._is_deferred(out)
        assert_bits(out, eager(fn, x))


@pytest.mark.parametrize("name", NUMBER)
def test_number_steps_match_eager_bits(fusion, name):
    f = NUMBER[name]
    x = values(1)
    out = torch.tanh(f(torch.relu(x)))
    assert _C._is_deferred(out)
    assert_bits(out, eager(lambda t: torch.tanh(f(torch.relu(t))), x))


@pytest.mark.parametrize("name", TENSOR)
def test_tensor_steps_match_eager_bits(fusion, name):
    f = TENSOR[name]
    x, y = values(2), values(3)
    # Pending on the left, on the right (a reversed step), on both sides.
    cases = [
        lambda a, b: f(a * 2.0, b),
        lambda a, b: f(a, b * 2.0),
        lambda a, b: f(a * 2.0, b - 1.0),
        lambda a, b: f(a, b),
    ]
    for fn in cases:
        out = fn(x, y)
        assert _C._is_deferred(out)
        assert_bits(out, eager(fn, x, y))


def test_relu_affine_is_one_pending_chain(fusion):
    x = values(4)
    y = torch.relu(x * 1.5 + 0.5)
    assert _C._is_deferred(y)
    v = x.numpy() * np.float32(1.5) + np.float32(0.5)
    ref = np.where(v < 0, np.float32(0), v)  # relu(NaN) is NaN, as PyTorch
    assert_bits(y, ref)
    assert not _C._is_deferred(y)


def test_long_chains_and_many_operands(fusion):
    x = values(5)
    others = [values(10 + i) for i in range(12)]

    def chain(t, *ys):
        for i in range(45):  # longer than one program holds
            t = torch.tanh(t * 0.9 + 0.01 * i)
        for y in ys:  # more operands than one program reads
            t = t + y
        return t

    out = chain(x, *others)
    assert_bits(out, eager(chain, x, *others))


def test_self_operands(fusion):
    x = values(6)
    t = x * 2.0
    for fn in (lambda a: a * a, lambda a: (a * 2.0) - a):
        assert_bits(fn(t), eager(fn, t))
    assert_bits(x * x, eager(lambda a: a * a, x))


@pytest.mark.parametrize(
    "write",
    [
        lambda x: x.add_(1.0),
        lambda x: x.mul_(torch.full_like(x, 2.0)),
        lambda x: x.__setitem__(slice(0, 10), 5.0),
        lambda x: x.copy_(torch.zeros_like(x)),
        lambda x: x.zero_(),
        lambda x: x.fill_(3.0),
        lambda x: x.view(-1)[5:].clamp_(0, 1),
    ],
    ids=["add_", "mul_", "setitem", "copy_", "zero_", "fill_", "view_clamp_"],
)
def test_pending_chain_reads_values_before_a_later_write(fusion, write):
    x = values(7)
    before = x.numpy().copy()  # exported: x is not read by chains after this
    x = x.clone()
    y = torch.sigmoid(x * 2.0 + 1.0)
    z = x * 3.0 - x  # two reads of x's storage in one program
    assert _C._is_deferred(y) and _C._is_deferred(z)
    write(x)
    ref_y = eager(lambda t: torch.sigmoid(t * 2.0 + 1.0), torch.tensor(before))
    assert_bits(y, ref_y)
    assert_bits(z, eager(lambda t: t * 3.0 - t, torch.tensor(before)))


def test_numpy_view_writes_are_not_missed(fusion):
    x = values(8)
    y = x * 2.0
    arr = x.numpy()  # lends x out: y runs now
    arr[:] = 7.0
    assert np.all(np.isnan(y.numpy()[:8]) == np.isnan(values(8).numpy()[:8] * 2))
    assert_bits(y[8:], values(8).numpy()[8:] * np.float32(2))
    z = x * 2.0  # x is lent out: not deferred, computed from the current values
    assert not _C._is_deferred(z)
    arr[:] = 1.0
    assert np.all(z.numpy() == 14.0)
    view = arr[10:]  # keeps the lease
    del arr
    assert not _C._is_deferred(x * 2.0)
    del view  # the last array over x is gone: x is fused again
    assert _C._is_deferred(x * 2.0)
    repr(x)  # printing reads through a temporary array
    assert _C._is_deferred(x * 2.0)


def test_a_write_on_one_thread_while_another_runs_programs(fusion):
    """A write to x must run x's pending readers even while another thread
    (an optimizer step, with the GIL released) is running programs."""
    q = values(13, n=4_000_000)
    for _ in range(20):
        q = torch.tanh(q * 0.9)  # a slow pending program
    p = torch.nn.Parameter(torch.randn(1000))
    p.grad = torch.zeros(1000)
    opt = torch.optim.SGD([p], lr=0.1)
    with torch.no_grad():
        snapshot = p * 1.0  # a pending program reading p
    x = torch.ones(1000)
    y = x * 2.0  # a pending program reading x
    t = threading.Thread(target=opt.step)
    t.start()
    time.sleep(0.02)
    x.add_(1.0)
    assert float(y[0]) == 2.0
    t.join()
    assert snapshot.shape == p.shape and q.shape == (4_000_000,)


def test_a_small_view_of_a_large_storage_is_not_kept_alive(fusion):
    big = values(14, n=1_000_000)
    part = big[:1000] * 2.0  # would keep all of big alive: computed now
    assert not _C._is_deferred(part)


def test_views_of_pending_results(fusion):
    x = values(9).reshape(70, 1000)
    y = x * 2.0 + 1.0
    ref = eager(lambda t: t * 2.0 + 1.0, x)
    r = y.reshape(1000, 70) * 3.0  # the whole result, reshaped: still one chain
    assert _C._is_deferred(r)
    assert_bits(r, eager(lambda t: (t * 2.0 + 1.0).reshape(1000, 70) * 3.0, x))
    row = x[5:] * 2.0 + 1.0  # a leaf read from an offset
    assert_bits(row, ref[5:])
    part = y[10:] * 0.5  # part of a pending result: it runs, then is read
    assert_bits(part, ref[10:] * np.float32(0.5))


def test_pending_results_in_autograd(fusion):
    x = values(10, n=100_000)
    w = torch.randn(100_000, requires_grad=True)
    y = x * 2.0 + 1.0  # no grad needed: pending
    assert _C._is_deferred(y)
    loss = (torch.relu(y) * w).sum()
    loss.backward()
    ref = eager(lambda t: torch.relu(t * 2.0 + 1.0), x)
    assert np.array_equal(w.grad.numpy(), ref, equal_nan=True)
    with torch.no_grad():
        p = w * 0.5  # grad mode off: pending even though w requires grad
    assert _C._is_deferred(p) and not p.requires_grad
    q = w * 0.5  # records a graph: computed now
    assert not _C._is_deferred(q) and q.requires_grad


def test_pending_chain_reads_parameters_before_an_optimizer_step(fusion):
    model = torch.nn.Linear(300, 300)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with torch.no_grad():
        snapshot = model.weight * 1.0
    before = eager(lambda t: t * 1.0, model.weight.detach())
    model(torch.randn(4, 300)).sum().backward()
    opt.step()
    assert_bits(snapshot, before)
    assert not np.array_equal(model.weight.detach().numpy(), before)


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_counts_agree(fusion, threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = values(11, n=2_000_003)
        out = torch.exp(torch.tanh(x * 0.5) - 1.0) * x
        assert_bits(out, eager(lambda t: torch.exp(torch.tanh(t * 0.5) - 1.0) * t, x))
    finally:
        torch.set_num_threads(old)


def test_not_fused_where_it_does_not_apply(fusion):
    x = values(12)
    assert not _C._is_deferred(x.double() * 2.0)  # float64
    assert not _C._is_deferred(x.reshape(700, 100).t() * 2.0)  # not contiguous
    assert not _C._is_deferred(x * torch.tensor(2.0))  # broadcast operand
    assert not _C._is_deferred(x ** 2.0)  # not in the fused set
    old = _C._set_fusion_min_numel(N + 1)
    try:
        assert not _C._is_deferred(x * 2.0)  # below the threshold
    finally:
        _C._set_fusion_min_numel(old)


SUITES = [
    "test_autograd.py",
    "test_bad_input.py",
    "test_golden_core.py",
    "test_golden_nn.py",
    "test_golden_optim.py",
    "test_optim.py",
    "test_pool_norm.py",
    "test_properties.py",
    "test_pytorch_script.py",
    "test_tensor_api.py",
]


def test_suites_pass_with_every_op_fused():
    """The op-level suites again, with every eligible op of any size fused."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, RUSTDL_FUSION_MIN_NUMEL="1")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-o", "addopts="]
        + [os.path.join(here, s) for s in SUITES],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_transcendental_results_run_once_when_reused(fusion):
    x = values(15)
    y = torch.sigmoid(x)
    z = 1.0 - y  # y runs now (not copied into z's program): one sigmoid per element
    assert not _C._is_deferred(y) and _C._is_deferred(z)
    out = y * z
    assert_bits(out, eager(lambda t: torch.sigmoid(t) * (1.0 - torch.sigmoid(t)), x))
    t = x * 2.0
    u = t + 1.0  # arithmetic: copied, t stays pending
    assert _C._is_deferred(t) and _C._is_deferred(u)


@pytest.mark.parametrize("threads", [1, 2])
def test_sums_of_pending_chains_match_eager_bits(fusion, threads):
    """A sum over trailing dims of a pending chain adds the values as they are
    computed, never stored, in the same order as the sum over stored values."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for n in (70_001, 1_000_003):
            a, b = values(16, n=n), values(17, n=n)
            a, b = torch.nan_to_num(a), torch.nan_to_num(b)
            cases = [
                lambda x, y: (x * y).sum(),
                lambda x, y: (x * y + 1.0).mean(),
                lambda x, y: (x - y).reshape(1, -1).sum(1, keepdim=True),
                lambda x, y: (x * 2.0).norm(),
            ]
            for fn in cases:
                assert_bits(fn(a, b), eager(fn, a, b))
        x, y = values(18, n=512 * 1000).reshape(1000, 512), values(19, n=512 * 1000).reshape(1000, 512)
        pending = x * y
        row_sums = pending.sum(1)
        assert _C._is_deferred(pending)  # summed without being stored
        assert_bits(row_sums, eager(lambda p, q: (p * q).sum(1), x, y))
        assert_bits(pending.mean(-1), eager(lambda p, q: (p * q).mean(-1), x, y))
    finally:
        torch.set_num_threads(old)
