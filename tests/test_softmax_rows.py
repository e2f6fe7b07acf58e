"""softmax / log_softmax over many rows (rust/ops/softmax.rs: rows in groups spread
over the threads): the same bits as the same rows computed in small pieces, and
float64 math, at every instruction-set level and at 1 and 2 threads; rows of all
-inf, with NaN or +inf (all NaN, as PyTorch's), and lengths that leave unaligned
heads and tails."""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl.backends import cpu as cpu_backend


@pytest.fixture(params=cpu_backend._supported_isas())
def isa(request):
    before = cpu_backend._isa()
    cpu_backend._set_isa(request.param)
    yield request.param
    cpu_backend._set_isa(before)


def reference(x, log):
    """float64 softmax of each row (rows with NaN or infinities are checked apart)."""
    x = np.asarray(x, np.float64)
    m = x.max(axis=1, keepdims=True)
    z = x - m
    ls = np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z - ls if log else np.exp(z - ls)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_large_rows_equal_small_pieces_and_float64(isa, threads, log):
    before = rustdl.get_num_threads()
    rustdl.set_num_threads(threads)
    try:
        rustdl.manual_seed(3)
        # rows of 1003 floats start at every alignment
        x = rustdl.randn(2100, 1003) * 3
        x[5] = float("-inf")
        x[6, 17] = float("nan")
        x[7, 1000] = float("inf")
        fn = F.log_softmax if log else F.softmax
        big = fn(x, dim=1).numpy()
        pieces = np.concatenate([fn(x[i:i + 100], dim=1).numpy() for i in range(0, 2100, 100)])
        np.testing.assert_array_equal(big, pieces)
        want = reference(x.numpy(), log)
        rows = [i for i in range(2100) if i not in (5, 6, 7)]
        np.testing.assert_allclose(big[rows], want[rows], rtol=1e-5, atol=1e-6)
        assert np.isnan(big[6]).all() and np.isnan(big[7]).all()
        # an all -inf row: NaN, as PyTorch's
        assert np.isnan(big[5]).all()
    finally:
        rustdl.set_num_threads(before)
