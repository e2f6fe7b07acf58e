"""Full sums of permuted (transposed) dense tensors (rust/ops/reduce.rs,
`dense_in_memory`): added in memory order by the contiguous sum, so they equal
the sum of the tensor they were permuted from, bit for bit; tensors that do
not fill their memory exactly keep the strided path."""

import numpy as np
import pytest
import rustdl as torch
from rustdl.backends import cpu as cpu_backend


@pytest.fixture(params=cpu_backend._supported_isas())
def isa(request):
    before = cpu_backend._isa()
    cpu_backend._set_isa(request.param)
    yield request.param
    cpu_backend._set_isa(before)


def bits(t):
    return np.ascontiguousarray(t.numpy()).view(np.uint8)


# (shape, permutation): a batch_first RNN output (the LSTM benchmark's), a
# matrix transpose above the parallel threshold, size-1 dims, a 4-D permutation.
CASES = [((28, 64, 128), (1, 0, 2)), ((700, 300), (1, 0)), ((5, 1, 7, 1), (3, 2, 1, 0)),
         ((6, 5, 4, 3), (2, 0, 3, 1))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[0])))
@pytest.mark.parametrize("threads", [1, 2])
def test_permuted_sum_is_the_sum_of_its_memory(case, dtype, threads, isa):
    shape, perm = case
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        v = np.random.default_rng(len(shape)).standard_normal(shape).astype(dtype)
        x = torch.tensor(v)
        p = x.permute(*perm)
        assert not p.is_contiguous() or len([n for n in shape if n > 1]) < 2
        got = p.sum()
        np.testing.assert_array_equal(bits(got), bits(x.sum()))
        np.testing.assert_allclose(got.item(), v.astype(np.float64).sum(), rtol=1e-5, atol=1e-5)
        assert got.shape == ()
        kept = p.sum(dim=tuple(range(p.dim())), keepdim=True)
        assert kept.shape == (1,) * p.dim()
        np.testing.assert_array_equal(bits(kept.reshape(())), bits(got))
        # at an offset inside a larger storage
        big = torch.tensor(np.concatenate([np.ones(3, dtype), v.ravel()])[None])
        inner = big[0, 3:].reshape(shape).permute(*perm)
        np.testing.assert_array_equal(bits(inner.sum()), bits(x.sum()))
    finally:
        torch.set_num_threads(old)


def test_views_that_do_not_fill_their_memory():
    v = np.random.default_rng(3).standard_normal((40, 30)).astype(np.float32)
    x = torch.tensor(v)
    for view, ref in [(x[:, ::2].t(), v[:, ::2].T), (x[1:, :].t(), v[1:, :].T),
                      (torch.tensor(v[0]).expand(40, 30).t(), np.broadcast_to(v[0], (40, 30)).T)]:
        np.testing.assert_allclose(view.sum().item(), ref.astype(np.float64).sum(), rtol=1e-5, atol=1e-4)


def test_gradient_of_a_permuted_sum():
    x = torch.randn(4, 3, 5, requires_grad=True)
    x.permute(2, 0, 1).sum().backward()
    assert x.grad.shape == (4, 3, 5)
    assert (x.grad == 1).all()
