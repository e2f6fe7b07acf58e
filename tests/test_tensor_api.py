"""Tensor API against PyTorch's documented behaviour (numpy as the reference)."""

import numpy as np
import pytest
import rustdl as torch

# ---------------------------------------------------------------- dtypes and promotion


@pytest.mark.parametrize(
    "a,b,expected",
    [
        (torch.tensor([1, 2]), torch.tensor([1.0, 2.0]), torch.float32),
        (torch.tensor([1, 2]), torch.tensor([1, 2], dtype=torch.int32), torch.int64),
        (torch.tensor([True]), torch.tensor([1, 2]), torch.int64),
        (torch.tensor([True]), torch.tensor([1.5]), torch.float32),
        (torch.tensor([1.0]), torch.tensor([1.0], dtype=torch.float64), torch.float64),
        (torch.tensor([1], dtype=torch.uint8), torch.tensor([1], dtype=torch.int32), torch.int32),
        # a 0-d tensor of a higher category wins, of the same category it does not
        (torch.tensor([1.0]), torch.tensor(1.0, dtype=torch.float64), torch.float32),
        # ... of a higher category: its dtype is used (float64 here)
        (torch.tensor([1, 2]), torch.tensor(1.5, dtype=torch.float64), torch.float64),
        (torch.tensor([1], dtype=torch.int32), torch.tensor(7), torch.int32),
    ],
)
def test_binary_promotion(a, b, expected):
    assert (a + b).dtype == expected
    assert (b * a).dtype == expected
    assert torch.result_type(a, b) == expected


def test_python_scalar_promotion():
    i = torch.tensor([1, 2])
    f = torch.tensor([1.0, 2.0])
    d = torch.tensor([1.0], dtype=torch.float64)
    assert (i + 1).dtype == torch.int64
    assert (i + 1.5).dtype == torch.float32
    assert (i * True).dtype == torch.int64
    assert (f + 2).dtype == torch.float32
    assert (d * 2.5).dtype == torch.float64
    assert (torch.tensor([True]) + 1).dtype == torch.int64
    assert (torch.tensor([1], dtype=torch.int32) + 5).dtype == torch.int32
    assert torch.promote_types(torch.int32, torch.float32) == torch.float32


def test_true_division_of_ints_is_float32():
    r = torch.tensor([1, 2, 3]) / torch.tensor([2, 2, 2])
    assert r.dtype == torch.float32
    np.testing.assert_allclose(r.numpy(), [0.5, 1.0, 1.5])
    assert (torch.tensor([3]) / 2).dtype == torch.float32
    assert (torch.tensor([7]) // 2).dtype == torch.int64
    assert (torch.tensor([7]) // 2).item() == 3
    assert (torch.tensor([-7]) // 2).item() == -4  # floor division
    assert (torch.tensor([-7]) % 3).item() == 2  # Python-style remainder
    assert torch.fmod(torch.tensor([-7]), 3).item() == -1


def test_comparison_dtype_and_values():
    a = torch.tensor([1, 2, 3])
    r = a > 1.5
    assert r.dtype == torch.bool
    assert r.tolist() == [False, True, True]
    assert (a == torch.tensor([1, 0, 3])).tolist() == [True, False, True]


def test_conversions():
    t = torch.tensor([1.7, -2.2])
    assert t.long().dtype == torch.int64 and t.long().tolist() == [1, -2]
    assert t.int().dtype == torch.int32
    assert t.double().dtype == torch.float64
    assert t.bool().tolist() == [True, True]
    assert torch.tensor([0, 3]).float().dtype == torch.float32
    assert t.to(torch.float64).dtype == torch.float64
    assert t.to(dtype=torch.int64).tolist() == [1, -2]
    assert t.to("cpu") is t or t.to("cpu").dtype == torch.float32
    assert t.to(torch.float32) is t  # no-op conversion returns self
    assert t.type(torch.float64).dtype == torch.float64
    assert t.type_as(torch.tensor([1])).dtype == torch.int64
    assert t.to(torch.tensor([1.0], dtype=torch.float64)).dtype == torch.float64


def test_device():
    t = torch.ones(2)
    assert t.device == torch.device("cpu")
    assert str(t.device) == "cpu"
    assert t.device.type == "cpu"
    assert t.cpu().device.type == "cpu"
    assert t.is_cuda is False
    assert torch.zeros(2, device="cpu").device.type == "cpu"
    assert torch.device("cpu", 0).index == 0 if hasattr(torch.device("cpu"), "index") else True


def test_dtype_objects():
    assert torch.float32 is torch.float
    assert torch.float64 is torch.double
    assert torch.int64 is torch.long
    assert str(torch.float32) == "rustdl.float32"
    assert torch.float32.is_floating_point and not torch.int64.is_floating_point
    assert torch.tensor([1.0]).element_size() == 4
    assert torch.tensor([1]).element_size() == 8


# ---------------------------------------------------------------- creation


def test_creation_shapes_and_dtypes():
    assert torch.zeros(2, 3).shape == (2, 3)
    assert torch.zeros((2, 3)).shape == torch.Size([2, 3])
    assert torch.ones([4]).dtype == torch.float32
    assert torch.zeros(2, dtype=torch.int64).tolist() == [0, 0]
    f = torch.full((2, 2), 7)
    assert f.dtype == torch.int64 and f.tolist() == [[7, 7], [7, 7]]
    assert torch.full((2,), 1.5).dtype == torch.float32
    assert torch.full((2,), True).dtype == torch.bool
    assert torch.empty(3, 2).shape == (3, 2)
    x = torch.tensor([[1, 2]], dtype=torch.int32)
    for fn in (torch.zeros_like, torch.ones_like, torch.empty_like):
        y = fn(x)
        assert y.shape == (1, 2) and y.dtype == torch.int32
    assert torch.full_like(x, 5).tolist() == [[5, 5]]
    assert torch.zeros_like(x, dtype=torch.float64).dtype == torch.float64
    assert torch.zeros(0).shape == (0,)
    assert torch.tensor(3.5).shape == () and torch.tensor(3.5).dim() == 0


def test_arange_linspace_eye():
    a = torch.arange(5)
    assert a.dtype == torch.int64 and a.tolist() == [0, 1, 2, 3, 4]
    b = torch.arange(0, 1, 0.25)
    assert b.dtype == torch.float32
    np.testing.assert_allclose(b.numpy(), [0, 0.25, 0.5, 0.75])
    assert torch.arange(1, 10, 3).tolist() == [1, 4, 7]
    assert torch.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert torch.arange(3, dtype=torch.float64).dtype == torch.float64
    assert torch.arange(0.0, 3).dtype == torch.float32
    ls = torch.linspace(0, 1, 5)
    assert ls.dtype == torch.float32
    np.testing.assert_allclose(ls.numpy(), np.linspace(0, 1, 5), rtol=1e-6)
    assert torch.linspace(-1, 1, 1).tolist() == [-1.0]
    np.testing.assert_array_equal(torch.eye(3).numpy(), np.eye(3))
    np.testing.assert_array_equal(torch.eye(2, 3).numpy(), np.eye(2, 3))


def test_random_shapes_ranges_dtypes():
    torch.manual_seed(0)
    r = torch.rand(1000)
    assert r.dtype == torch.float32 and r.shape == (1000,)
    assert 0 <= r.min().item() and r.max().item() < 1
    assert abs(r.mean().item() - 0.5) < 0.05
    n = torch.randn(2000, dtype=torch.float64)
    assert n.dtype == torch.float64
    assert abs(n.mean().item()) < 0.1 and abs(n.std().item() - 1) < 0.1
    ri = torch.randint(3, 7, (500,))
    assert ri.dtype == torch.int64
    assert set(ri.tolist()) == {3, 4, 5, 6}
    assert torch.randint(5, (2, 3)).shape == (2, 3)
    p = torch.randperm(10)
    assert p.dtype == torch.int64 and sorted(p.tolist()) == list(range(10))
    nm = torch.normal(2.0, 3.0, size=(4000,))
    assert abs(nm.mean().item() - 2) < 0.3 and abs(nm.std().item() - 3) < 0.3
    nt = torch.normal(torch.zeros(3), torch.ones(3))
    assert nt.shape == (3,)
    assert torch.rand(2, 3, dtype=torch.float64).dtype == torch.float64
    assert torch.rand_like(torch.ones(2, 2)).shape == (2, 2)
    assert torch.randn_like(torch.ones(3)).shape == (3,)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_randn_and_rand_distributions(dtype):
    # Box-Muller in blocks of 16 (vector polynomials for float32): the
    # empirical CDF within the Kolmogorov-Smirnov bound of the normal one
    # (p = 0.001), moments, and sizes that end in a partial block.
    from math import erf, sqrt
    torch.manual_seed(5)
    n = 200_003
    z = np.sort(torch.randn(n, dtype=dtype).numpy().astype(np.float64))
    cdf = np.array([0.5 * (1 + erf(v / sqrt(2))) for v in z])
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert ks < 1.95 / sqrt(n), ks
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(((z / z.std()) ** 4).mean() - 3) < 0.05
    assert np.all(np.isfinite(z))
    m = torch.normal(3.0, 2.0, size=(4099,), dtype=dtype)
    assert m.dtype == dtype and abs(m.mean().item() - 3) < 0.15 and abs(m.std().item() - 2) < 0.1
    u = np.sort(torch.rand(n, dtype=dtype).numpy().astype(np.float64))
    ks_u = max(np.max(np.arange(1, n + 1) / n - u), np.max(u - np.arange(n) / n))
    assert ks_u < 1.95 / sqrt(n) and u.min() >= 0 and u.max() < 1
    for size in (1, 15, 16, 17, 33):
        assert torch.randn(size, dtype=dtype).shape == (size,)
    # Same stream whatever the thread count (uniforms are drawn in order).
    old = torch.get_num_threads()
    try:
        outs = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            torch.manual_seed(11)
            outs.append(torch.randn(300_001, dtype=dtype).numpy())
        np.testing.assert_array_equal(*outs)
    finally:
        torch.set_num_threads(old)


def test_manual_seed_reproducibility():
    torch.manual_seed(123)
    a = torch.randn(5)
    b = torch.rand(3)
    torch.manual_seed(123)
    np.testing.assert_array_equal(torch.randn(5).numpy(), a.numpy())
    np.testing.assert_array_equal(torch.rand(3).numpy(), b.numpy())
    assert not np.array_equal(torch.randn(5).numpy(), a.numpy())


def test_generator_reproducibility_independent_of_global():
    g = torch.Generator()
    g.manual_seed(7)
    a = torch.randn(4, generator=g)
    torch.manual_seed(0)
    torch.randn(10)  # global stream must not affect g
    g2 = torch.Generator().manual_seed(7)
    np.testing.assert_array_equal(torch.randn(4, generator=g2).numpy(), a.numpy())
    g.manual_seed(7)
    np.testing.assert_array_equal(torch.randn(4, generator=g).numpy(), a.numpy())
    g.manual_seed(3)
    x = torch.randint(0, 100, (5,), generator=g)
    g.manual_seed(3)
    assert torch.randint(0, 100, (5,), generator=g).tolist() == x.tolist()
    g.manual_seed(3)
    p = torch.randperm(8, generator=g)
    g.manual_seed(3)
    assert torch.randperm(8, generator=g).tolist() == p.tolist()


def test_rng_state_roundtrip():
    torch.manual_seed(5)
    s = torch.get_rng_state()
    a = torch.rand(3)
    torch.set_rng_state(s)
    np.testing.assert_array_equal(torch.rand(3).numpy(), a.numpy())


# ---------------------------------------------------------------- memory sharing


def test_views_share_memory():
    base = torch.zeros(3, 4)
    v = base[1]
    v[2] = 5.0
    assert base[1, 2].item() == 5.0
    base.view(12)[0] = 1.0
    assert base[0, 0].item() == 1.0
    t = base.t()
    t[3, 2] = 9.0
    assert base[2, 3].item() == 9.0
    base.narrow(1, 1, 2).fill_(-1)
    assert base[:, 1:3].eq(-1).all().item()
    base[:, 0].mul_(0)
    assert base[:, 0].tolist() == [0.0, 0.0, 0.0]


def test_numpy_shares_memory():
    t = torch.zeros(3)
    a = t.numpy()
    a[0] = 5
    assert t[0].item() == 5.0
    t[1] = 7
    assert a[1] == 7


def test_from_numpy_shares_memory():
    n = np.arange(4.0)
    f = torch.from_numpy(n)
    assert f.dtype == torch.float64
    n[0] = 10
    assert f[0].item() == 10.0


def test_numpy_scalars_keep_dtype():
    assert torch.tensor(np.float64(1.5)).dtype == torch.float64
    assert torch.tensor(np.float32(1.5)).dtype == torch.float32
    assert torch.tensor(np.int32(3)).dtype == torch.int32
    assert torch.tensor(np.float64(1.5)).item() == 1.5


def test_as_tensor_and_tensor_copy_semantics():
    n = np.ones(3, dtype=np.float32)
    t = torch.tensor(n)
    n[0] = 4
    assert t[0].item() == 1.0  # torch.tensor always copies


def test_strides_and_contiguity():
    x = torch.zeros(2, 3, 4)
    assert x.stride() == (12, 4, 1)
    assert x.stride(1) == 4 and x.stride(-1) == 1
    assert x.is_contiguous()
    y = x.transpose(0, 2)
    assert y.stride() == (1, 4, 12) and y.shape == (4, 3, 2)
    assert not y.is_contiguous()
    c = y.contiguous()
    assert c.is_contiguous() and c.stride() == (6, 2, 1)
    np.testing.assert_array_equal(c.numpy(), y.numpy())
    assert x.contiguous() is x
    s = x[:, ::2]
    assert s.stride() == (12, 8, 1) and not s.is_contiguous()
    assert x[1].storage_offset() == 12
    assert x.expand(5, 2, 3, 4).stride() == (0, 12, 4, 1)


def test_T_mT_unflatten_narrow_select():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = torch.tensor(a)
    m = torch.tensor(a[0])
    np.testing.assert_array_equal(m.T.numpy(), a[0].T)
    np.testing.assert_array_equal(t.mT.numpy(), np.swapaxes(a, -1, -2))
    assert t.unflatten(2, (2, 2)).shape == (2, 3, 2, 2)
    assert t.unflatten(-1, (-1, 2)).shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(t.narrow(1, 1, 2).numpy(), a[:, 1:3])
    np.testing.assert_array_equal(t.narrow(2, -2, 2).numpy(), a[:, :, 2:])
    np.testing.assert_array_equal(t.select(1, -1).numpy(), a[:, -1])
    np.testing.assert_array_equal(t.flatten(1).numpy(), a.reshape(2, 12))
    np.testing.assert_array_equal(t.movedim(0, -1).numpy(), np.moveaxis(a, 0, -1))


def test_python_conversions():
    t = torch.tensor([[1, 2], [3, 4]])
    assert t.tolist() == [[1, 2], [3, 4]]
    assert isinstance(t.tolist()[0][0], int)
    assert torch.tensor([1.5]).tolist() == [1.5]
    assert torch.tensor(2.5).item() == 2.5 and isinstance(torch.tensor(2.5).item(), float)
    assert torch.tensor([7]).item() == 7 and isinstance(torch.tensor([7]).item(), int)
    assert torch.tensor(True).item() is True
    assert float(torch.tensor([2.5])) == 2.5
    assert int(torch.tensor(3.9)) == 3
    assert int(torch.tensor(2**62 + 1)) == 2**62 + 1
    assert len(t) == 2
    rows = [r.tolist() for r in t]
    assert rows == [[1, 2], [3, 4]]
    assert bool(torch.tensor([0.0])) is False
    assert [1, 2, 3][torch.tensor(1)] == 2  # __index__
    arr = np.asarray(t)
    assert arr.dtype == np.int64 and arr.tolist() == [[1, 2], [3, 4]]
    assert np.asarray(torch.ones(2), dtype=np.float64).dtype == np.float64
    assert t.numel() == 4 and t.dim() == 2 and t.ndim == 2 and t.size() == (2, 2) and t.size(1) == 2
    assert isinstance(t.shape, torch.Size) and t.shape.numel() == 4


# ---------------------------------------------------------------- repr


def test_repr_formats():
    assert repr(torch.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(torch.tensor([1, 2, 3])) == "tensor([1, 2, 3])"
    assert repr(torch.tensor([True, False])) == "tensor([ True, False])"
    assert repr(torch.tensor([1.5, 2.25])) == "tensor([1.5000, 2.2500])"
    assert repr(torch.tensor(3.0)) == "tensor(3.)"
    assert repr(torch.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(x.sum()) == "tensor(3., grad_fn=<SumBackward0>)"
    assert repr(torch.tensor([[1.0, 2.5], [10.0, -3.0]])) == "tensor([[ 1.0000,  2.5000],\n        [10.0000, -3.0000]])"
    assert repr(torch.tensor([1.0, 2.0], dtype=torch.float64)) == "tensor([1., 2.], dtype=rustdl.float64)"
    assert repr(torch.tensor([1, 2], dtype=torch.int32)) == "tensor([1, 2], dtype=rustdl.int32)"
    assert repr(torch.zeros(0)) == "tensor([])"
    assert repr(torch.zeros(2, 0)) == "tensor([], size=(2, 0))"
    assert repr(torch.tensor([[1, 2], [3, 4]])) == "tensor([[1, 2],\n        [3, 4]])"
    assert repr(torch.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"
    assert repr(torch.tensor([float("nan"), 1.0, float("inf")])) == "tensor([nan, 1., inf])"
    assert str(torch.tensor([1.0])) == "tensor([1.])"


def test_repr_summarizes_large_tensor():
    r = repr(torch.arange(2000))
    assert r == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"


# ---------------------------------------------------------------- __setitem__


def test_setitem_int_slice_mask_list():
    a = np.zeros((3, 4))
    t = torch.zeros(3, 4, dtype=torch.float64)

    def both(idx, v, tv=None):
        a[idx] = v
        t[idx] = v if tv is None else tv
        np.testing.assert_array_equal(t.numpy(), a)

    both(0, 1.0)
    both((1, 2), 5.0)
    both((slice(None), 1), np.array([7.0, 8.0, 9.0]), torch.tensor([7.0, 8.0, 9.0], dtype=torch.float64))
    both((slice(1, None), slice(2, None)), np.array([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64))
    mask = a > 4
    both(mask, -1.0, None) if False else None
    t[torch.tensor(mask)] = -1.0
    a[mask] = -1.0
    np.testing.assert_array_equal(t.numpy(), a)
    t[[0, 2]] = 3.0
    a[[0, 2]] = 3.0
    np.testing.assert_array_equal(t.numpy(), a)
    t[torch.tensor([0, 1]), torch.tensor([3, 0])] = torch.tensor([11.0, 12.0], dtype=torch.float64)
    a[[0, 1], [3, 0]] = [11.0, 12.0]
    np.testing.assert_array_equal(t.numpy(), a)
    t[..., -1] = 0.5
    a[..., -1] = 0.5
    np.testing.assert_array_equal(t.numpy(), a)
    t[1] = torch.tensor([1, 2, 3, 4])  # int values into a float tensor
    a[1] = [1, 2, 3, 4]
    np.testing.assert_array_equal(t.numpy(), a)


def test_setitem_broadcasting_and_dtype_cast():
    t = torch.zeros(2, 3, dtype=torch.int64)
    t[:] = torch.tensor([1, 2, 3])
    assert t.tolist() == [[1, 2, 3], [1, 2, 3]]
    t[:, 1:] = 9.7  # float value truncated into an int tensor
    assert t.tolist() == [[1, 9, 9], [1, 9, 9]]
    b = torch.zeros(3, dtype=torch.bool)
    b[1] = True
    assert b.tolist() == [False, True, False]


# ---------------------------------------------------------------- index ops


def test_scatter_scatter_add_index_add_take():
    x = torch.zeros(3, 4)
    idx = torch.tensor([[0, 1, 2, 0], [2, 0, 0, 1]])
    src = torch.arange(1.0, 9.0).reshape(2, 4)
    s = x.scatter(0, idx, src)
    expected = np.zeros((3, 4))
    for i in range(2):
        for j in range(4):
            expected[idx[i, j].item(), j] = src[i, j].item()
    np.testing.assert_array_equal(s.numpy(), expected)
    sa = torch.zeros(3).scatter_add(0, torch.tensor([0, 0, 2, 0]), torch.ones(4))
    assert sa.tolist() == [3.0, 0.0, 1.0]
    sv = torch.zeros(2, 2).scatter(1, torch.tensor([[1], [0]]), 5.0)
    assert sv.tolist() == [[0.0, 5.0], [5.0, 0.0]]
    ia = torch.ones(3, 2).index_add(0, torch.tensor([0, 2, 0]), torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    assert ia.tolist() == [[7.0, 9.0], [1.0, 1.0], [4.0, 5.0]]
    ia2 = torch.zeros(2).index_add(0, torch.tensor([1]), torch.tensor([2.0]), alpha=3)
    assert ia2.tolist() == [0.0, 6.0]
    tk = torch.tensor([[4, 3], [2, 1]]).take(torch.tensor([[0, 3], [-1, 1]]))
    assert tk.tolist() == [[4, 1], [1, 3]]
    y = torch.zeros(3)
    y.scatter_(0, torch.tensor([1]), torch.tensor([2.0]))
    y.index_fill_(0, torch.tensor([2]), -1.0) if hasattr(y, "index_fill_") else y.__setitem__(2, -1.0)
    assert y.tolist() == [0.0, 2.0, -1.0]


def test_gather_index_select_masked_select():
    a = np.arange(12.0).reshape(3, 4)
    t = torch.tensor(a)
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    np.testing.assert_array_equal(t.gather(1, torch.tensor(idx)).numpy(), np.take_along_axis(a, idx, 1))
    np.testing.assert_array_equal(t.index_select(1, torch.tensor([3, 0])).numpy(), a[:, [3, 0]])
    np.testing.assert_array_equal(t.masked_select(t > 6).numpy(), a[a > 6])
    np.testing.assert_array_equal(torch.nonzero(t > 9).numpy(), np.argwhere(a > 9))


def test_sort_topk_argsort():
    a = np.array([[3.0, 1.0, 2.0, 5.0], [0.0, -1.0, 4.0, 4.5]])
    t = torch.tensor(a)
    v, i = t.sort(dim=1)
    np.testing.assert_array_equal(v.numpy(), np.sort(a, 1))
    np.testing.assert_array_equal(i.numpy(), np.argsort(a, 1))
    v, i = torch.sort(t, dim=0, descending=True)
    np.testing.assert_array_equal(v.numpy(), -np.sort(-a, 0))
    r = t.sort(1)
    assert r.values is r[0] or np.array_equal(r.values.numpy(), r[0].numpy())
    tv, ti = t.topk(2, dim=1)
    np.testing.assert_array_equal(tv.numpy(), [[5.0, 3.0], [4.5, 4.0]])
    np.testing.assert_array_equal(ti.numpy(), [[3, 0], [3, 2]])
    tv, ti = t.topk(1, dim=1, largest=False)
    np.testing.assert_array_equal(tv.numpy(), [[1.0], [-1.0]])
    np.testing.assert_array_equal(t.argsort(dim=1, descending=True).numpy(), np.argsort(-a, 1))
    assert ti.dtype == torch.int64


def test_all_any_count_nonzero():
    t = torch.tensor([[0, 1, 2], [3, 0, 0]])
    assert t.all().item() is False
    assert t.any().item() is True
    assert t.all().dtype == torch.bool
    assert t.any(dim=1).tolist() == [True, True]
    assert t.all(dim=0).tolist() == [False, False, False]
    assert torch.ones(2, 2).all(1, keepdim=True).shape == (2, 1)
    assert t.count_nonzero().item() == 3
    assert t.count_nonzero(dim=0).tolist() == [1, 1, 1]
    assert torch.count_nonzero(t, dim=1).tolist() == [2, 1]
    assert torch.tensor([]).all().item() is True
    assert torch.tensor([]).any().item() is False


def test_out_argument_writes_into_the_given_tensor():
    a, b = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    c = torch.zeros(2, 2)
    assert torch.matmul(a, b, out=c) is c
    assert c.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert torch.add(a, b, alpha=2, out=c) is c
    assert c.tolist() == [[3.0, 2.0], [3.0, 6.0]]
    torch.pow(a, 2, out=c)
    assert c.tolist() == [[1.0, 4.0], [9.0, 16.0]]
    torch.exp(torch.zeros(2, 2), out=c)
    assert c.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    values, indices = torch.zeros(2), torch.zeros(2, dtype=torch.int64)
    torch.max(a, 1, out=(values, indices))
    assert values.tolist() == [2.0, 4.0] and indices.tolist() == [1, 1]


def test_out_argument_errors_like_pytorch():
    a = torch.ones(2, 2)
    with pytest.raises(RuntimeError, match=r"shape \[3\].*\[2, 2\]"):
        torch.add(a, a, out=torch.zeros(3))
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        torch.mul(a.requires_grad_(), 2.0, out=torch.zeros(2, 2))
    with pytest.raises(TypeError, match="out= must be a Tensor"):
        torch.add(a, a, out=[1, 2])


# ---------------------------------------------------------------- in-place writes


@pytest.mark.parametrize("n", [7, 1 << 20])  # serial and parallel chunks
def test_inplace_writes_into_contiguous_targets(n):
    """In-place results land in a contiguous target (offset, broadcast,
    transposed and dtype-converting sources), the rest untouched."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, n)).astype(np.float32)
    t = torch.tensor(base)
    row = rng.standard_normal(n).astype(np.float32)
    t[1:3].add_(torch.tensor(row))  # offset target, broadcast source
    expect = base.copy()
    expect[1:3] += row
    np.testing.assert_allclose(t.numpy(), expect, rtol=1e-6)
    col = torch.tensor(rng.standard_normal((n, 2)).astype(np.float64))
    t[2:4].copy_(col.t())  # strided float64 source into a float32 view
    expect[2:4] = col.numpy().T.astype(np.float32)
    np.testing.assert_allclose(t.numpy(), expect, rtol=1e-6)
    t[0].mul_(2.0)
    expect[0] *= 2.0
    np.testing.assert_allclose(t.numpy(), expect, rtol=1e-6)
    t[3].copy_(torch.tensor(0.5))  # 0-d source broadcast
    expect[3] = 0.5
    np.testing.assert_allclose(t.numpy(), expect, rtol=1e-6)


def test_parallel_kernels_from_several_python_threads():
    """Threads whose ops use the worker team at once (the GIL is released in
    heavy kernels) all get correct results."""
    import threading

    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 260)).astype(np.float32)
    x = rng.standard_normal(1 << 20).astype(np.float32)
    want_mm, want_sum = a @ b, float(x.astype(np.float64).sum())
    ta, tb, tx = torch.tensor(a), torch.tensor(b), torch.tensor(x)
    errors = []

    def work():
        try:
            for _ in range(20):
                np.testing.assert_allclose((ta @ tb).numpy(), want_mm, rtol=1e-4, atol=1e-4)
                assert abs((tx * 2.0).sum().item() - 2 * want_sum) < 1e-2 * abs(want_sum) + 1.0
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_addcmul_addcdiv_and_inplace_variants():
    """What custom optimizers use (exp_avg_sq.addcmul_, p.addcdiv_), and the
    in-place variants of elementwise methods, against numpy."""
    rng = np.random.default_rng(2)
    a, b, c = (rng.random(5).astype(np.float32) + 0.5 for _ in range(3))
    ta, tb, tc = torch.tensor(a), torch.tensor(b), torch.tensor(c)
    np.testing.assert_allclose(torch.addcmul(ta, tb, tc, value=0.5).numpy(), a + 0.5 * b * c, rtol=1e-6)
    np.testing.assert_allclose(ta.addcdiv(tb, tc, value=-2).numpy(), a - 2 * b / c, rtol=1e-6)
    t = ta.clone()
    assert t.addcmul_(tb, tc, value=3) is t
    np.testing.assert_allclose(t.numpy(), a + 3 * b * c, rtol=1e-6)
    t.addcdiv_(tb, tc)
    np.testing.assert_allclose(t.numpy(), a + 3 * b * c + b / c, rtol=1e-6)
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        torch.tensor([1]).addcdiv(torch.tensor([1]), torch.tensor([2]))
    for name, ref in [("log", np.log), ("sin", np.sin), ("square", np.square), ("reciprocal", np.reciprocal),
                      ("rsqrt", lambda v: 1 / np.sqrt(v)), ("expm1", np.expm1), ("ceil", np.ceil)]:
        t = ta.clone()
        assert getattr(t, name + "_")() is t
        np.testing.assert_allclose(t.numpy(), ref(a), rtol=1e-5, err_msg=name)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        torch.tensor([1, 2]).sin_()


def test_inplace_variant_gradient_and_leaf_check():
    a = torch.tensor([0.5, 1.0], requires_grad=True)
    h = a * 1.0
    h.sin_()  # sin's backward reads the old value: computed from a copy
    h.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.cos([0.5, 1.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a.log_()


def test_compile_wraps_the_model():
    model = torch.nn.Linear(3, 2)
    assert torch.compile(model)._orig_mod is model
    assert torch.compile(mode="max-autotune")(model)._orig_mod is model
    assert torch.compile(model, disable=True) is model

    @torch.compile
    def f(x):
        return x * 2

    assert f(torch.tensor([1.0])).item() == 2.0


def test_forked_child_runs_parallel_kernels():
    """A child forked while another thread runs parallel kernels has none of
    the parent's worker threads (and the team's locks may be held): it must
    compute with a team of its own, not hang."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import os, threading, numpy as np, rustdl as torch
        torch.set_num_threads(2)
        a, b = torch.randn(300, 300), torch.randn(300, 300)
        want = a.numpy() @ b.numpy()
        # the busy thread works on tensors of its own: a tensor's autograd record is behind a
        # lock, and a child forked while another thread holds it would wait forever (the
        # fork-with-threads hazard of any lock; here the team is what is tested)
        a_busy, w = a.clone(), torch.randn(300, 300, requires_grad=True)
        stop = threading.Event()
        def busy():  # backward releases the GIL: its kernels run during fork
            while not stop.is_set():
                (a_busy @ w).sum().backward()
        t = threading.Thread(target=busy)
        t.start()
        codes = []
        for _ in range(30):
            pid = os.fork()
            if pid == 0:
                ok = np.allclose((a @ b).numpy(), want, rtol=1e-4, atol=1e-3)
                os._exit(0 if ok else 3)
            codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        stop.set()
        t.join()
        print(codes)
        assert codes == [0] * 30, codes
        """
    )
    if not hasattr(__import__("os"), "fork"):
        pytest.skip("no fork on this platform")
    try:
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("a forked child hung on the parent's worker team")
    assert r.returncode == 0, r.stdout + r.stderr


def test_float32_tanh_is_accurate_everywhere():
    """The vectorisable f32 tanh (series below 0.5, exp formula above) within
    ~2 ulp of float64 tanh, exact at 0 and the infinities, NaN kept."""
    x = np.concatenate([
        np.linspace(-12, 12, 200_001), np.logspace(-30, 1.2, 5000), -np.logspace(-30, 1.2, 5000),
        [0.49999997, 0.5, 0.50000006, 9.5, 10.0, 20.0, 1e30],
    ]).astype(np.float32)
    got = torch.tensor(x).tanh().numpy().astype(np.float64)
    want = np.tanh(x.astype(np.float64))
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-38)
    assert rel.max() < 2.5e-7, (rel.max(), x[rel.argmax()])
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan")]).tanh().numpy()
    assert special[0] == 0 and np.signbit(special[1]) and special[2] == 1 and special[3] == -1
    assert np.isnan(special[4])


@pytest.mark.parametrize("log", [False, True])
def test_large_softmax_rows_split_over_threads(log):
    """Rows spread over the threads (above the parallel grain) match numpy."""
    x = np.random.default_rng(4).standard_normal((300, 1001)).astype(np.float32) * 5
    got = (torch.log_softmax if log else torch.softmax)(torch.tensor(x), 1).numpy()
    z = x.astype(np.float64) - x.max(1, keepdims=True)
    ls = z - np.log(np.exp(z).sum(1, keepdims=True))
    np.testing.assert_allclose(got, ls if log else np.exp(ls), rtol=2e-5, atol=1e-6)


def test_float32_log_is_accurate_everywhere():
    """The vectorisable f32 log within 2 ulp of float64 log from the smallest
    subnormal to the largest float; PyTorch's values at 0, -0, negatives,
    inf and NaN."""
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.logspace(-45, 38.5, 400_000), rng.random(100_000) * 3, 1 + np.linspace(-1e-3, 1e-3, 10_001),
        [1.0, 2.0, 0.5, np.sqrt(2), np.sqrt(0.5), 3.4e38, 1e-45, 1.1754944e-38],
    ]).astype(np.float32)
    x = x[x > 0]
    got = torch.tensor(x).log().numpy().astype(np.float64)
    want = np.log(x.astype(np.float64))
    ulps = np.abs(got - want) / np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    assert ulps.max() < 2.0, (ulps.max(), x[ulps.argmax()])
    special = torch.tensor([0.0, -0.0, -1.0, float("inf"), float("nan")]).log().numpy()
    assert special[0] == -np.inf and special[1] == -np.inf and np.isnan(special[2])
    assert special[3] == np.inf and np.isnan(special[4])


def test_float32_erf_is_accurate_everywhere():
    """The vectorisable f32 erf (series below 1, erfc form above) within ~1.5
    ulp of float64 erf, odd, exact at 0 and the infinities, NaN kept; its
    gradient is 2/sqrt(pi) e^(-x^2); `torch.erf`, `Tensor.erf` and `erf_`."""
    import math

    x = np.concatenate([
        np.linspace(-6, 6, 200_001), np.logspace(-40, 0.7, 5000), -np.logspace(-40, 0.7, 5000),
        [0.99999994, 1.0, 1.0000001, 3.9, 4.0, 4.5, 1e30],
    ]).astype(np.float32)
    got = torch.erf(torch.tensor(x)).numpy().astype(np.float64)
    want = np.array([math.erf(v) for v in x.astype(np.float64)])
    ulps = np.abs(got - want) / np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    assert ulps.max() < 2.0, (ulps.max(), x[ulps.argmax()])
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan")]).erf().numpy()
    assert special[0] == 0 and np.signbit(special[1]) and special[2] == 1 and special[3] == -1
    assert np.isnan(special[4])
    t = torch.tensor([-2.0, -0.3, 0.0, 0.7, 1.5], dtype=torch.float64, requires_grad=True)
    t.erf().sum().backward()
    want_grad = 2 / np.sqrt(np.pi) * np.exp(-t.detach().numpy() ** 2)
    np.testing.assert_allclose(t.grad.numpy(), want_grad, rtol=1e-12)
    assert torch.autograd.gradcheck(torch.erf, (torch.tensor([-1.2, 0.1, 2.0], dtype=torch.float64, requires_grad=True),))
    y = torch.tensor([0.5, -1.5])
    y.erf_()
    np.testing.assert_allclose(y.numpy(), [math.erf(0.5), math.erf(-1.5)], rtol=1e-6)


def test_float32_log1p_is_accurate_everywhere():
    """The vectorisable f32 log1p (Goldberg's identity over the f32 log)
    within ~3 ulp of float64 log1p, tiny values kept; PyTorch's values at
    -1, below -1, inf and NaN. Softplus, Mish and logsigmoid use it."""
    x = np.concatenate([
        np.logspace(-40, 38, 200_000), -np.logspace(-40, -1e-7, 100_000), np.linspace(-0.999, 3, 100_001),
        [1e-8, -1e-8, 5.9604645e-08, -0.5, 0.5, 1.0],
    ]).astype(np.float32)
    x = x[x > -1]
    got = torch.tensor(x).log1p().numpy().astype(np.float64)
    want = np.log1p(x.astype(np.float64))
    ulps = np.abs(got - want) / np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    assert ulps.max() < 3.5, (ulps.max(), x[ulps.argmax()])
    special = torch.tensor([-1.0, -2.0, float("inf"), float("nan"), -0.0]).log1p().numpy()
    assert special[0] == -np.inf and np.isnan(special[1]) and special[2] == np.inf
    assert np.isnan(special[3]) and special[4] == 0 and np.signbit(special[4])


def test_float32_gelu_is_accurate_on_both_sides():
    """Exact GELU in float32 from erfc of |x|/sqrt 2: relative accuracy also
    for negative x, where 0.5 x (1 + erf(x/sqrt 2)) loses the digits to
    cancellation; the gradient Phi(x) + x phi(x) likewise; PyTorch's values
    at +-inf and NaN."""
    import math

    import rustdl.nn.functional as F

    x = np.concatenate([np.linspace(-13, 9, 100_001), np.logspace(-30, 0.9, 3000), -np.logspace(-30, 0.9, 3000)])
    x = x.astype(np.float32)
    xd = x.astype(np.float64)
    want = np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in xd])
    t = torch.tensor(x, requires_grad=True)
    y = F.gelu(t)
    y.sum().backward()
    got = y.detach().numpy().astype(np.float64)
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-37)
    # ~4e-7 down to -9, where 1 + erf would have no correct digit left (x^2/2
    # is split exactly, so the exponential's argument keeps its accuracy);
    # below that the results are subnormal (GELU(-13) = -2e-37).
    normal = x > -9
    assert rel[normal].max() < 5e-7, (rel[normal].max(), x[normal][rel[normal].argmax()])
    assert rel.max() < 3e-6, (rel.max(), x[rel.argmax()])
    far = F.gelu(torch.tensor([-13.3, -20.0, -1e30])).numpy()
    assert (far == 0).all() and np.signbit(far).all()  # -0.0, as PyTorch
    grad_want = np.array([0.5 * math.erfc(-v / math.sqrt(2)) + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi) for v in xd])
    # Phi(x) + x phi(x) cancels for negative x (as in PyTorch's formula):
    # measured against the size of the terms.
    terms = np.array([0.5 * math.erfc(-v / math.sqrt(2)) + abs(v) * math.exp(-v * v / 2) for v in xd])
    grad_err = np.abs(t.grad.numpy().astype(np.float64) - grad_want) / np.maximum(terms, 1e-30)
    assert grad_err.max() < 6e-6, (grad_err.max(), x[grad_err.argmax()])
    special = F.gelu(torch.tensor([float("inf"), -float("inf"), float("nan"), 0.0])).numpy()
    assert special[0] == np.inf and np.isnan(special[1]) and np.isnan(special[2]) and special[3] == 0


def test_exp_family_at_the_ends_of_the_float32_range():
    """The vectorised exp overflows to inf past ln(f32::MAX), reaches the
    subnormals and 0 (so masked softmax entries are exactly zero), as
    PyTorch's does, and the activations built on it give PyTorch's values at
    +-inf."""
    import rustdl.nn.functional as F

    inf, nan = float("inf"), float("nan")
    x = torch.tensor([88.0, 89.0, inf, -87.0, -100.0, -104.0, -inf, nan])
    got = torch.exp(x).numpy()
    want = np.exp(x.numpy().astype(np.float64))
    finite = [0, 3, 4]
    np.testing.assert_allclose(got[finite], want[finite], rtol=2e-6, atol=1.5e-45)
    assert got[1] == inf and got[2] == inf and got[5] == 0 and got[6] == 0 and np.isnan(got[7])
    assert got[4] > 0  # subnormal, not flushed
    p = torch.softmax(torch.tensor([[0.0, -inf, 1.0], [-inf, 2.0, -inf]]), dim=1).numpy()
    assert p[0, 1] == 0 and p[1, 0] == 0 and p[1, 2] == 0 and p[1, 1] == 1
    np.testing.assert_array_equal(torch.sigmoid(torch.tensor([-inf, inf])).numpy(), [0.0, 1.0])
    assert np.isnan(F.silu(torch.tensor([-inf])).item()) and F.silu(torch.tensor([inf])).item() == inf
    assert np.isnan(F.mish(torch.tensor([-inf])).item()) and F.mish(torch.tensor([inf])).item() == inf
    assert F.softplus(torch.tensor([95.0]), threshold=100).item() == inf  # log1p(exp(95)), as PyTorch
    np.testing.assert_array_equal(F.logsigmoid(torch.tensor([-inf, inf, -200.0])).numpy(), [-inf, 0.0, -200.0])


def test_expm1_is_accurate_for_small_inputs():
    """expm1 keeps its relative accuracy near 0 (exp(x) - 1 keeps no digit
    below |x| ~ 1e-7 in float32), with gradient e^x and the in-place form."""
    x = np.concatenate([np.logspace(-30, 1.5, 2000), -np.logspace(-30, 1.5, 2000), [0.0, 88.0]]).astype(np.float32)
    got = torch.expm1(torch.tensor(x)).numpy().astype(np.float64)
    want = np.expm1(x.astype(np.float64))
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-38)
    assert rel.max() < 2.5e-7, (rel.max(), x[rel.argmax()])
    t = torch.tensor([1e-9, -0.5, 2.0], dtype=torch.float64, requires_grad=True)
    t.expm1().sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), np.exp(t.detach().numpy()), rtol=1e-14)
    y = torch.tensor([1e-8, -1e-9])
    y.expm1_()
    np.testing.assert_allclose(y.numpy(), [1e-8, -1e-9], rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_python_number_operands_match_tensor_operands(dtype):
    """`x op number` (a fast path that builds no 0-dim tensor) gives the same
    values, dtype, gradients and graph as `x op tensor(number)`, both ways
    round, on contiguous, strided and 0-dim inputs. With the number on the
    left, PyTorch's reflected operators compute `x + n`, `x * n`, `rsub(x, n)`
    and `x.reciprocal() * n`: the tensor is the node's first edge, and `n / x`
    rounds twice."""
    import operator

    base = torch.tensor(np.linspace(-3, 3, 24).reshape(4, 6), dtype=dtype)
    inputs = [base, base.t(), base[1:, ::2], base[2, 3]]
    ops = [operator.add, operator.sub, operator.mul, operator.truediv]
    for x0 in inputs:
        for number in (2.5, -3, 0.1, 7):
            for op in ops:
                for reverse in (False, True):
                    results = []
                    reflected = {operator.add: lambda n, x: x + n, operator.mul: lambda n, x: x * n,
                                 operator.sub: lambda n, x: -x + n, operator.truediv: lambda n, x: x.reciprocal() * n}
                    for wrap in (lambda v: v, lambda v: torch.tensor(v, dtype=dtype)):
                        x = x0.detach().clone().requires_grad_(True)
                        n = wrap(number)
                        if reverse and isinstance(n, torch.Tensor):
                            y = reflected[op](n, x)  # what the number's reflected operator means
                        else:
                            y = op(n, x) if reverse else op(x, n)
                        y.backward(torch.ones_like(y))
                        nexts = [f if f is None else f.name() for f, _ in y.grad_fn.next_functions]
                        results.append((y.detach().numpy(), y.dtype, x.grad.numpy(), y.grad_fn.name(), nexts))
                    (a, da, ga, na, ea), (b, db, gb, nb, eb) = results
                    np.testing.assert_array_equal(a, b)
                    np.testing.assert_array_equal(ga, gb)
                    if reverse and op is operator.sub:
                        # PyTorch's rsub: one edge, the tensor's
                        assert na == "RsubBackward1" and ea == ["AccumulateGrad"], (na, ea)
                    else:
                        assert na == nb and ea == eb, (op, reverse, na, nb, ea, eb)
                    assert da == db == dtype
    # Integer tensors and bools keep the general promotion rules.
    assert (torch.tensor([1, 2]) * 2).dtype == torch.int64
    assert (torch.tensor([1, 2]) * 2.5).dtype == torch.float32
    assert (torch.tensor([True]) + 1.5).dtype == torch.float32
    # create_graph: the gradient of x * 3 stays differentiable.
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (g,) = torch.autograd.grad((x * x * 3.0).sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), [6.0, 6.0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pow_with_common_exponents(dtype):
    """x ** e for e in (1, 2, 3, 0.5, -0.5, -1, -2) computed without pow (as
    PyTorch does: x * x, sqrt, reciprocal ...): values against numpy,
    gradients; a 0-dim tensor exponent agrees within rounding."""
    npd = np.float32 if dtype == torch.float32 else np.float64
    x = np.concatenate([np.linspace(0.1, 5, 50), -np.linspace(0.1, 5, 50)]).astype(npd)
    for e in (1, 2, 3, 0.5, -0.5, -1, -2):
        got = (torch.tensor(x) ** e).numpy()
        with np.errstate(invalid="ignore"):
            want = np.power(x.astype(np.float64), e)
        np.testing.assert_allclose(got, want, rtol=3e-7 if npd == np.float32 else 1e-15, equal_nan=True)
        assert got.dtype == npd
        # A tensor exponent goes through pow itself, as in PyTorch (where
        # (-inf) ** tensor(0.5) is inf, not sqrt's NaN): equal within rounding.
        by_pow = (torch.tensor(x) ** torch.tensor(e, dtype=dtype)).numpy()
        np.testing.assert_allclose(by_pow, want, rtol=3e-7 if npd == np.float32 else 1e-15, equal_nan=True)
    np.testing.assert_array_equal((torch.tensor(x) ** 2).numpy(), x * x)
    t = torch.tensor(x[:50], requires_grad=True)
    (t ** 3).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 3 * x[:50].astype(np.float64) ** 2, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32])
def test_topk_equals_the_head_of_a_stable_sort(dtype):
    """topk selects before sorting; its values and indices equal the first k
    of a stable sort (NaN largest, ties in index order, -0.0 equal to 0.0),
    along any dim."""
    rng = np.random.default_rng(11)
    x = (rng.integers(0, 6, (5, 40)) - 2).astype(dtype)  # many ties
    if x.dtype.kind == "f":
        x[1, 7] = x[3, 0] = np.nan
        x[2, ::3] = -0.0
        x[2, 1::3] = 0.0
    for dim in (1, 0, -1):
        for largest in (True, False):
            for k in (0, 1, 3, x.shape[dim] - 1, x.shape[dim]):
                v, i = torch.tensor(x).topk(k, dim=dim, largest=largest)
                key = np.where(np.isnan(x), np.inf, x)
                order = np.argsort(-key if largest else key, axis=dim, kind="stable")
                want_i = np.take(order, np.arange(k), axis=dim)
                np.testing.assert_array_equal(i.numpy(), want_i)
                np.testing.assert_array_equal(v.numpy(), np.take_along_axis(x, want_i, axis=dim))
    with pytest.raises(RuntimeError, match="out of range"):
        torch.tensor(x).topk(41)
    for descending in (False, True):
        key = np.where(np.isnan(x), np.inf, x) if x.dtype.kind == "f" else x
        want = np.argsort(-key if descending else key, axis=1, kind="stable")
        v, i = torch.tensor(x).sort(1, descending=descending)
        np.testing.assert_array_equal(i.numpy(), want)
        np.testing.assert_array_equal(v.numpy(), np.take_along_axis(x, want, axis=1))


def test_sort_and_topk_of_many_rows_on_two_threads():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 700)).astype(np.float32)
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            v, i = torch.tensor(x).topk(5, 1)
            np.testing.assert_array_equal(i.numpy(), np.argsort(-x, axis=1, kind="stable")[:, :5])
            np.testing.assert_array_equal(v.numpy(), np.take_along_axis(x, i.numpy(), axis=1))
            np.testing.assert_array_equal(torch.tensor(x).argsort(0).numpy(), np.argsort(x, axis=0, kind="stable"))
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize("m,k", [(1, 1), (3, 5), (37, 100), (600, 500), (5, 33)])
def test_matrix_vector_products_match_float64(m, k):
    """matrix @ vector (and Linear with one output) take a dot-product path
    in float32: against float64, odd sizes, one and two threads' worth."""
    rng = np.random.default_rng(m * 1000 + k)
    a, v = rng.standard_normal((m, k)), rng.standard_normal(k)
    got = (torch.tensor(a.astype(np.float32)) @ torch.tensor(v.astype(np.float32))).numpy()
    np.testing.assert_allclose(got, a @ v, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    w = rng.standard_normal((1, k))
    x32 = torch.tensor(a.astype(np.float32), requires_grad=True)
    y = torch.nn.functional.linear(x32, torch.tensor(w.astype(np.float32)))
    np.testing.assert_allclose(y.detach().numpy()[:, 0], a @ w[0], rtol=1e-5, atol=1e-5 * np.sqrt(k))
    y.sum().backward()
    np.testing.assert_allclose(x32.grad.numpy(), np.repeat(w, m, axis=0), rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inplace_ops_with_a_number(dtype):
    """x += 2 and friends update the elements where they are (when no graph
    is involved): the values of the out-of-place op, views updated through
    their base, the version counter bumped, and autograd's rules kept."""
    import operator

    base = np.linspace(-2, 2, 12).reshape(3, 4)
    for iop, op in [(operator.iadd, operator.add), (operator.isub, operator.sub),
                    (operator.imul, operator.mul), (operator.itruediv, operator.truediv)]:
        for number in (3, 0.5):
            x = torch.tensor(base, dtype=dtype)
            want = op(x, number).numpy()
            row = x[1]
            y = iop(x, number)
            assert y is x
            np.testing.assert_array_equal(x.numpy(), want)
            np.testing.assert_array_equal(row.numpy(), want[1])  # a view sees it
            col = torch.tensor(base, dtype=dtype).t()  # not contiguous: general path
            np.testing.assert_array_equal(iop(col, number).numpy(), op(torch.tensor(base, dtype=dtype).t(), number).numpy())
    x = torch.tensor(base, dtype=dtype)
    x.mul_(2.0).add_(1)
    np.testing.assert_array_equal(x.numpy(), (torch.tensor(base, dtype=dtype) * 2.0 + 1).numpy())
    # Saved for a backward, then modified in place: backward refuses.
    w = torch.ones(3, 4, dtype=dtype, requires_grad=True)
    x = torch.tensor(base, dtype=dtype)
    z = (w * x).sum()
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
    # A leaf that requires grad: allowed under no_grad (an optimizer step), an error otherwise.
    p = torch.tensor(base, dtype=dtype, requires_grad=True)
    with torch.no_grad():
        p.mul_(0.5)
        p -= 1
    np.testing.assert_allclose(p.detach().numpy(), base * 0.5 - 1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        p.mul_(2.0)


def test_where_and_masked_fill_with_one_value():
    # A single-value side takes a two-operand map; same values, dtypes and
    # gradients as the general three-operand path.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((37, 41)).astype(np.float32)
    m = x > 0.3
    t, tm = torch.tensor(x), torch.tensor(m)
    np.testing.assert_array_equal(t.masked_fill(tm, -2.5).numpy(), np.where(m, np.float32(-2.5), x))
    np.testing.assert_array_equal(torch.where(tm, t, 0.0).numpy(), np.where(m, x, np.float32(0)))
    np.testing.assert_array_equal(torch.where(tm, 7, t).numpy(), np.where(m, np.float32(7), x))
    # a strided x and a 0-dim value tensor, with gradients to both sides
    xt = torch.tensor(x.T.copy(), requires_grad=True)
    v = torch.tensor(2.0, requires_grad=True)
    out = torch.where(tm, v, xt.t())
    np.testing.assert_array_equal(out.detach().numpy(), np.where(m, np.float32(2.0), x))
    (out * torch.tensor(np.arange(37 * 41, dtype=np.float32).reshape(37, 41))).sum().backward()
    w = np.arange(37 * 41, dtype=np.float32).reshape(37, 41)
    np.testing.assert_allclose(v.grad.item(), w[m].sum(), rtol=1e-6)
    np.testing.assert_array_equal(xt.grad.numpy(), np.where(m, 0, w).T)
    y = torch.tensor(x, requires_grad=True)
    y.masked_fill(tm, 0.0).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.where(m, 0.0, 1.0))
    assert torch.where(tm, 1, 0).dtype == torch.int64


@pytest.mark.parametrize("threads", [1, 2])
def test_large_arange_chunks(threads):
    # Filled in parallel chunks, each starting its count where it begins.
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        np.testing.assert_array_equal(torch.arange(1_000_003).numpy(), np.arange(1_000_003))
        np.testing.assert_array_equal(torch.arange(5, -3_000_000, -3).numpy(), np.arange(5, -3_000_000, -3))
        np.testing.assert_array_equal(
            torch.arange(0.25, 700_000.0, 0.5, dtype=torch.float64).numpy(), np.arange(0.25, 700_000.0, 0.5))
        f = torch.arange(-1.5, 600_000.0).numpy()
        np.testing.assert_array_equal(f, (-1.5 + np.arange(f.size, dtype=np.float64)).astype(np.float32))
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inplace_ops_with_tensor_operands_match_out_of_place(dtype):
    """x += y, add_(y, alpha=...), mul_, div_ with a tensor update x where it
    is when no graph is involved; the values equal the out-of-place ops bit
    for bit, for same-shape, broadcast, 0-dim and strided operands and for x
    itself as the operand."""
    rng = np.random.default_rng(8)
    base = rng.standard_normal((33, 70))
    others = {
        "same": rng.standard_normal((33, 70)),
        "row": rng.standard_normal(70),
        "column": rng.standard_normal((33, 1)),
        "scalar": np.array(1.7),
    }
    for name, o in others.items():
        for op, ref in [
            (lambda x, y: x.add_(y), lambda x, y: x + y),
            (lambda x, y: x.add_(y, alpha=-0.3), lambda x, y: x.add(y, alpha=-0.3)),
            (lambda x, y: x.sub_(y, alpha=2.5), lambda x, y: x.sub(y, alpha=2.5)),
            (lambda x, y: x.sub_(y), lambda x, y: x - y),
            (lambda x, y: x.mul_(y), lambda x, y: x * y),
            (lambda x, y: x.div_(y), lambda x, y: x / y),
            (lambda x, y: x.__iadd__(y), lambda x, y: x + y),
            (lambda x, y: x.__itruediv__(y), lambda x, y: x / y),
        ]:
            x, y = torch.tensor(base, dtype=dtype), torch.tensor(o, dtype=dtype)
            want = ref(x, y).numpy()
            ptr, version = x.data_ptr(), x._version
            op(x, y)
            np.testing.assert_array_equal(x.numpy(), want, err_msg=name)
            assert x.data_ptr() == ptr and x._version > version
    # a transposed operand, and x itself
    x = torch.tensor(base, dtype=dtype)
    y = torch.tensor(rng.standard_normal((70, 33)), dtype=dtype)
    want = (x + y.t()).numpy()
    x += y.t()
    np.testing.assert_array_equal(x.numpy(), want)
    for op, ref in [("__iadd__", 2 * base), ("__imul__", base * base), ("__isub__", 0 * base)]:
        x = torch.tensor(base, dtype=dtype)
        getattr(x, op)(x)
        np.testing.assert_allclose(x.numpy(), ref.astype(x.numpy().dtype), rtol=1e-6)
    # overlapping views, other dtypes and strided targets take the general path
    x = torch.tensor(base, dtype=dtype)
    b = x.numpy().copy()
    x[1:] += x[:-1]
    np.testing.assert_array_equal(x.numpy()[1:], b[1:] + b[:-1])
    x = torch.tensor(base, dtype=dtype)
    x.t().add_(torch.ones(70, 33, dtype=dtype))
    np.testing.assert_array_equal(x.numpy(), b + 1)
    i = torch.arange(6)
    i += torch.arange(6)
    assert i.tolist() == [0, 2, 4, 6, 8, 10]


def test_inplace_tensor_operand_keeps_the_graph_when_one_is_needed():
    w = torch.ones(3, requires_grad=True)
    with torch.no_grad():
        w.add_(torch.ones(3), alpha=-0.5)  # a leaf updated under no_grad
    np.testing.assert_array_equal(w.detach().numpy(), [0.5, 0.5, 0.5])
    g = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = torch.zeros(3)
    x += g * 2  # x joins the graph through the operand
    x.sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.add_(torch.ones(3))
    y = g * 1
    z = y.exp()  # saves its output; the in-place add invalidates it
    z.mul_(torch.ones(3))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_negative_indices_where_pytorch_refuses_them():
    # index_select, index_add and embedding raise on negative indices;
    # advanced indexing and take wrap them; gather/scatter raise RuntimeError.
    x = torch.arange(5.0)
    for f in (
        lambda: x.index_select(0, torch.tensor([-1])),
        lambda: torch.nn.functional.embedding(torch.tensor([-1]), torch.randn(5, 2)),
        lambda: x.index_add(0, torch.tensor([-1]), torch.ones(1)),
    ):
        with pytest.raises(IndexError, match="index out of range in self"):
            f()
    assert x[torch.tensor([-1])].tolist() == [4.0]
    assert x.take(torch.tensor([-2])).tolist() == [3.0]
    with pytest.raises(RuntimeError, match="out of bounds"):
        torch.zeros(5).scatter_add(0, torch.tensor([-1]), torch.ones(1))


def test_factories_write_into_out_in_its_dtype():
    # PyTorch: the result takes out's dtype; out is resized when its shape differs
    o = torch.empty(3, dtype=torch.int32)
    with pytest.warns(UserWarning, match="resized"):
        r = torch.arange(4, out=o)
    assert r is o and o.dtype == torch.int32 and o.tolist() == [0, 1, 2, 3]
    o = torch.empty(0)
    torch.linspace(0, 1, 3, out=o)
    assert o.tolist() == [0.0, 0.5, 1.0]
    o = torch.empty(2, dtype=torch.int64)
    assert torch.full((2,), 3, out=o).tolist() == [3, 3]
    o = torch.empty(4, dtype=torch.int32)
    assert sorted(torch.randperm(4, out=o).tolist()) == [0, 1, 2, 3] and o.dtype == torch.int32
    assert torch.eye(2, out=torch.empty(2, 2, dtype=torch.float64)).dtype == torch.float64
    assert torch.randint(5, (3,), out=torch.empty(3)).dtype == torch.float32
    with pytest.raises(RuntimeError, match="dtype Long does not match dtype of out parameter"):
        torch.arange(3, out=torch.empty(3), dtype=torch.int64)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        torch.arange(3, out=torch.empty(3, requires_grad=True))


def test_logspace_matches_pytorch():
    # values recorded from PyTorch 2.15
    assert torch.logspace(0, 2, 3).tolist() == [1.0, 10.0, 100.0]
    assert torch.logspace(0, 3, 4, base=2, dtype=torch.int64).tolist() == [1, 2, 4, 8]
    r = torch.logspace(-1, 1, 3, dtype=torch.float64)
    assert r.dtype == torch.float64 and np.allclose(r.numpy(), [0.1, 1.0, 10.0], rtol=0, atol=1e-15)
    assert torch.logspace(0, 1, 0).shape == (0,)


def test_diagonal_is_a_view_as_pytorch():
    # values recorded from PyTorch 2.15
    x = torch.arange(24.).view(2, 3, 4)
    assert x.diagonal().tolist() == [[0.0, 16.0], [1.0, 17.0], [2.0, 18.0], [3.0, 19.0]]
    assert x.diagonal(1, 1, 2).tolist() == [[1.0, 6.0, 11.0], [13.0, 18.0, 23.0]]
    assert x.diagonal(-1, -1, 0).tolist() == [[1.0, 14.0], [5.0, 18.0], [9.0, 22.0]]
    assert x.diagonal(5).shape == (4, 0)
    y = torch.arange(12.).view(3, 4)[:, 1:]
    assert y.diagonal(-1).tolist() == [5.0, 10.0] and torch.diagonal(y.t(), 1).tolist() == [5.0, 10.0]
    a = torch.randn(3, 3, requires_grad=True)
    (a.diagonal(1) * torch.tensor([2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [[0.0, 2.0, 0.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]]
    v = torch.zeros(3, 3)
    v.diagonal().fill_(1)
    assert v.tolist() == torch.eye(3).tolist()
    with pytest.raises(IndexError, match=r"range of \[-1, 0\], but got 1"):
        torch.ones(3).diagonal()
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical 1, 1"):
        torch.ones(2, 2).diagonal(0, 1, 1)


def test_diagonal_of_a_strided_tensor_that_requires_grad():
    # a permuted (non-contiguous) non-leaf: still a view, gradients land on the right elements,
    # and the gradient is itself differentiable
    x = torch.arange(24.0).view(2, 3, 4).requires_grad_()
    y = (x * 1).permute(2, 0, 1)
    d = y.diagonal(0, 1, 2)
    assert d.tolist() == np.diagonal(np.arange(24.0).reshape(2, 3, 4).transpose(2, 0, 1), 0, 1, 2).tolist()
    assert y.diagonal(1, -1, -2).tolist() == [[12.0], [13.0], [14.0], [15.0]]
    (d * torch.arange(8.0).view(4, 2)).sum().backward()
    want = np.zeros((2, 3, 4))
    want[0, 0], want[1, 1] = [0, 2, 4, 6], [1, 3, 5, 7]
    assert x.grad.tolist() == want.tolist()
    g = torch.ones(3, 3, requires_grad=True)
    (gx,) = torch.autograd.grad(g.mT.diagonal().pow(2).sum(), g, create_graph=True)
    assert gx.tolist() == (2 * torch.eye(3)).tolist()
    (ggx,) = torch.autograd.grad(gx.sum(), g)
    assert ggx.tolist() == (2 * torch.eye(3)).tolist()
    e = torch.zeros(3, 3).t()
    e.diagonal(1).fill_(2)
    assert e.tolist() == [[0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]]


def test_trace():
    t = torch.trace(torch.arange(9, dtype=torch.int32).view(3, 3))
    assert t.item() == 12 and t.dtype == torch.int64
    assert torch.trace(torch.ones(2, 3)).item() == 2.0 and torch.trace(torch.ones(0, 0)).item() == 0.0
    with pytest.raises(RuntimeError, match="trace: expected a matrix, but got tensor with dim 1"):
        torch.trace(torch.ones(3))


def test_setitem_uint8_mask_with_full_value_acts_as_bool_mask():
    # PyTorch 2.15: x[uint8_mask] = tensor_of_len_nnz works (deprecated uint8 indexing), as a bool mask
    x = torch.arange(6.0).view(2, 3)
    x[torch.tensor([[1, 0, 1], [0, 1, 0]], dtype=torch.uint8)] = torch.tensor([7.0, 8.0, 9.0])
    assert x.tolist() == [[7.0, 1.0, 8.0], [3.0, 9.0, 5.0]]
