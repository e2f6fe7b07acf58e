"""Property tests: random shapes, broadcast pairs and strided inputs vs numpy."""

import numpy as np
import pytest
import rustdl as torch
from hypothesis import given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=50, deadline=None)

dims = st.integers(min_value=1, max_value=4)
shapes = st.lists(dims, min_size=0, max_size=4).map(tuple)


@st.composite
def arrays(draw, shape=None, dtype=np.float64, low=-3.0, high=3.0):
    if shape is None:
        shape = draw(shapes)
    elif isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape).astype(dtype)


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast together (numpy rules)."""
    out = draw(st.lists(dims, min_size=0, max_size=4))
    def sub(shape):
        k = draw(st.integers(0, len(shape)))
        tail = shape[len(shape) - k:] if k else []
        return tuple(1 if draw(st.booleans()) else d for d in tail)
    return sub(out), sub(out)


@st.composite
def strided(draw, dtype=np.float64):
    """An array and a rustdl tensor with the same values but a non-trivial
    layout: transposed, sliced with steps, or expanded."""
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple))
    a = draw(arrays(shape=shape, dtype=dtype))
    t = torch.tensor(a)
    kind = draw(st.sampled_from(["plain", "transpose", "step", "flip_perm", "expand"]))
    if kind == "transpose" and a.ndim >= 2:
        return a.swapaxes(0, -1), t.transpose(0, -1)
    if kind == "step":
        return a[..., ::2], t[..., ::2]
    if kind == "flip_perm" and a.ndim >= 2:
        perm = list(range(a.ndim))[::-1]
        return a.transpose(perm)[:, 1:], t.permute(*perm)[:, 1:]
    if kind == "expand":
        return np.broadcast_to(a[None], (2,) + a.shape), t.unsqueeze(0).expand(2, *a.shape)
    return a, t


BINARY = {
    "add": (lambda x, y: x + y, np.add),
    "sub": (lambda x, y: x - y, np.subtract),
    "mul": (lambda x, y: x * y, np.multiply),
    "div": (lambda x, y: x / y, np.divide),
    "maximum": (torch.maximum, np.maximum),
    "minimum": (torch.minimum, np.minimum),
    "pow": (lambda x, y: x.abs() ** y, lambda x, y: np.abs(x) ** y),
    "atan2": (torch.atan2, np.arctan2),
    "lt": (lambda x, y: x < y, np.less),
    "ge": (lambda x, y: x >= y, np.greater_equal),
}


@SETTINGS
@given(pair=broadcast_pair(), op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 10**6))
def test_binary_broadcast_vs_numpy(pair, op, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, size=pair[0]) * rng.choice([-1, 1], size=pair[0])
    b = rng.uniform(0.5, 2.0, size=pair[1]) * rng.choice([-1, 1], size=pair[1])
    f, ref = BINARY[op]
    r = f(torch.tensor(a), torch.tensor(b))
    expected = ref(a, b)
    assert tuple(r.shape) == np.shape(expected)
    np.testing.assert_allclose(r.numpy(), expected, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(x=strided(), y=strided(), op=st.sampled_from(["add", "mul", "sub", "maximum"]))
def test_binary_strided_inputs(x, y, op):
    (a, ta), (b, tb) = x, y
    f, ref = BINARY[op]
    try:
        expected = ref(a, b)
    except ValueError:
        return  # shapes that do not broadcast
    np.testing.assert_allclose(f(ta, tb).numpy(), expected, rtol=1e-12)


UNARY = {
    "exp": (torch.exp, np.exp),
    "tanh": (torch.tanh, np.tanh),
    "abs": (torch.abs, np.abs),
    "sigmoid": (torch.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "neg": (torch.neg, np.negative),
    "sin": (torch.sin, np.sin),
    "floor": (torch.floor, np.floor),
}


@SETTINGS
@given(x=strided(), op=st.sampled_from(sorted(UNARY)))
def test_unary_strided(x, op):
    a, t = x
    f, ref = UNARY[op]
    np.testing.assert_allclose(f(t).numpy(), ref(a), rtol=1e-12, atol=1e-300)


REDUCTIONS = {
    "sum": (lambda t, d, k: t.sum(d, keepdim=k), lambda a, d, k: a.sum(d, keepdims=k)),
    "mean": (lambda t, d, k: t.mean(d, keepdim=k), lambda a, d, k: a.mean(d, keepdims=k)),
    "amax": (lambda t, d, k: t.amax(d, keepdim=k), lambda a, d, k: a.max(d, keepdims=k)),
    "amin": (lambda t, d, k: t.amin(d, keepdim=k), lambda a, d, k: a.min(d, keepdims=k)),
    "prod": (lambda t, d, k: t.prod(d[0], keepdim=k), lambda a, d, k: a.prod(d[0], keepdims=k)),
    "var": (lambda t, d, k: t.var(d, keepdim=k), lambda a, d, k: a.var(d, ddof=1, keepdims=k)),
    "std": (lambda t, d, k: t.std(d, keepdim=k, unbiased=False), lambda a, d, k: a.std(d, keepdims=k)),
    "logsumexp": (lambda t, d, k: t.logsumexp(d, keepdim=k),
                  lambda a, d, k: np.log(np.exp(a).sum(d, keepdims=k))),
    # (p=2: PyTorch's default "fro" refuses more than two dims)
    "norm": (lambda t, d, k: t.norm(p=2, dim=d, keepdim=k), lambda a, d, k: np.sqrt((a * a).sum(d, keepdims=k))),
}


@SETTINGS
@given(x=strided(), op=st.sampled_from(sorted(REDUCTIONS)), keepdim=st.booleans(), data=st.data())
def test_reductions_over_random_dims(x, op, keepdim, data):
    a, t = x
    nd = a.ndim
    dims = data.draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd,
                              unique_by=lambda d: d % nd))
    if op in ("var",) and np.prod([a.shape[d] for d in dims]) < 2:
        return  # unbiased variance of one element is nan in both, skip
    f, ref = REDUCTIONS[op]
    dims_t = tuple(dims)
    if any(a.shape[d] == 0 for d in dims_t) and op in ("amax", "amin", "logsumexp"):
        if op != "logsumexp":  # max of nothing: both numpy and PyTorch refuse
            with pytest.raises(IndexError, match="to have non-zero size"):
                f(t, dims_t, keepdim)
        return  # logsumexp of nothing: see test_logsumexp_empty_dim
    r = f(t, dims_t, keepdim)
    expected = ref(a, dims_t, keepdim)
    assert tuple(r.shape) == np.shape(expected)
    np.testing.assert_allclose(r.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_logsumexp_empty_dim():
    r = torch.zeros(1, 0).logsumexp(dim=(0, 1))
    assert r.item() == float("-inf")


@SETTINGS
@given(x=strided(), data=st.data())
def test_argmax_cumsum_dims(x, data):
    a, t = x
    d = data.draw(st.integers(-a.ndim, a.ndim - 1))
    if a.shape[d] == 0:
        # both refuse: argmax over an empty dim
        assert t.cumsum(d).shape == a.shape
        return
    np.testing.assert_array_equal(t.argmax(d).numpy(), a.argmax(d))
    np.testing.assert_allclose(t.cumsum(d).numpy(), a.cumsum(d), rtol=1e-12)
    np.testing.assert_allclose(t.softmax(d).numpy(), np.exp(a) / np.exp(a).sum(d, keepdims=True), rtol=1e-10)


@SETTINGS
@given(a=arrays(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)), data=st.data())
def test_reshape_permute_roundtrip(a, data):
    t = torch.tensor(a)
    perm = data.draw(st.permutations(list(range(a.ndim))))
    p = t.permute(tuple(perm))
    np.testing.assert_array_equal(p.numpy(), a.transpose(perm))
    inv = list(np.argsort(perm))
    np.testing.assert_array_equal(p.permute(tuple(inv)).numpy(), a)
    flat = p.reshape(-1)
    np.testing.assert_array_equal(flat.numpy(), a.transpose(perm).reshape(-1))
    back = flat.reshape(tuple(p.shape)).permute(tuple(inv))
    np.testing.assert_array_equal(back.numpy(), a)
    assert back.shape == a.shape
    # a reshape of a contiguous tensor is a view sharing memory
    v = t.reshape(-1)
    assert v.data_ptr() == t.data_ptr()


@SETTINGS
@given(
    rows=st.integers(1, 6), length=st.integers(1, 100), dtype=st.sampled_from([np.float32, np.float64]),
    nans=st.integers(0, 3), threads=st.sampled_from([1, 2]), seed=st.integers(0, 10**6),
)
def test_extremes_over_rows_vs_numpy(rows, length, dtype, nans, threads, seed):
    # Few distinct values, so ties are common: the first occurrence wins;
    # a NaN wins over everything (numpy's rule too).
    rng = np.random.default_rng(seed)
    a = rng.integers(-5, 5, size=(rows, length)).astype(dtype)
    for _ in range(nans):
        a[rng.integers(rows), rng.integers(length)] = np.nan
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t = torch.tensor(a)
        np.testing.assert_array_equal(t.argmax(1).numpy(), a.argmax(1))
        np.testing.assert_array_equal(t.argmin(-1).numpy(), a.argmin(-1))
        np.testing.assert_array_equal(t.argmax().numpy(), a.argmax())
        values, index = t.max(1)
        np.testing.assert_array_equal(values.numpy(), a.max(1))
        np.testing.assert_array_equal(index.numpy(), a.argmax(1))
        np.testing.assert_array_equal(t.amin(1).numpy(), a.min(1))
        np.testing.assert_array_equal(t.amax().numpy(), a.max())
    finally:
        torch.set_num_threads(old)


def test_extremes_over_large_rows():
    a = np.random.default_rng(1).standard_normal((700, 1030)).astype(np.float32)
    a[5, 1029] = 50.0
    a[600, 3] = np.nan
    t, old = torch.tensor(a), torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            np.testing.assert_array_equal(t.argmax(1).numpy(), a.argmax(1))
            np.testing.assert_array_equal(t.amax(1).numpy(), a.max(1))
    finally:
        torch.set_num_threads(old)


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), data=st.data())
def test_gather_scatter_vs_numpy(shape, data):
    # The index may be smaller than x in every dim (gather/scatter allow it).
    rng = np.random.default_rng(data.draw(st.integers(0, 10**6)))
    d = data.draw(st.integers(0, len(shape) - 1))
    ishape = tuple(data.draw(st.integers(1, n)) if k != d else data.draw(st.integers(1, 6))
                   for k, n in enumerate(shape))
    pos = rng.integers(0, shape[d], size=ishape)
    a = rng.standard_normal(shape)
    t, it = torch.tensor(a), torch.tensor(pos)
    # numpy's take_along_axis needs the index's other dims to match x's
    sub = a[tuple(slice(0, n) if k != d else slice(None) for k, n in enumerate(ishape))]
    np.testing.assert_array_equal(t.gather(d, it).numpy(), np.take_along_axis(sub, pos, d))
    src = rng.standard_normal(ishape)
    want = a.copy()
    for i in np.ndindex(ishape):
        j = list(i)
        j[d] = pos[i]
        want[tuple(j)] += src[i]
    np.testing.assert_allclose(t.scatter_add(d, it, torch.tensor(src)).numpy(), want, rtol=1e-12)
    # Negative indices are out of bounds here, as in PyTorch (index_select wraps them).
    with pytest.raises(RuntimeError, match="out of bounds"):
        t.gather(d, -it - 1)


DTYPES = {
    np.float32: torch.float32, np.float64: torch.float64, np.int32: torch.int32,
    np.int64: torch.int64, np.uint8: torch.uint8, np.bool_: torch.bool,
}


@SETTINGS
@given(
    shape=st.lists(st.integers(1, 21), min_size=2, max_size=4).map(tuple),
    dtype=st.sampled_from(list(DTYPES)), sliced=st.booleans(), data=st.data(),
)
def test_contiguous_of_permuted_views(shape, dtype, sliced, data):
    # Views whose unit-stride dim is not the last are copied in 8x8 blocks
    # (4-byte types) or tiles; sizes around 8 exercise the edges.
    a = np.random.default_rng(0).integers(0, 200, size=shape).astype(dtype)
    t = torch.tensor(a, dtype=DTYPES[dtype])
    if sliced:
        a, t = a[..., 1:], t[..., 1:]
    perm = data.draw(st.permutations(list(range(a.ndim))))
    c = t.permute(*perm).contiguous()
    assert c.is_contiguous()
    np.testing.assert_array_equal(c.numpy(), a.transpose(perm))
    out = torch.zeros(tuple(c.shape), dtype=DTYPES[dtype])
    out.copy_(t.permute(*perm))
    np.testing.assert_array_equal(out.numpy(), a.transpose(perm))


@pytest.mark.parametrize("threads", [1, 2])
def test_contiguous_of_large_transposes(threads):
    # Above the parallel grain, and with power-of-two strides (cache-set
    # aliasing is what the blocked copy is for).
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a = np.arange(3 * 300 * 701, dtype=np.float32).reshape(3, 300, 701)
        t = torch.tensor(a)
        np.testing.assert_array_equal(t.transpose(1, 2).contiguous().numpy(), a.transpose(0, 2, 1))
        np.testing.assert_array_equal(t.permute(2, 0, 1).contiguous().numpy(), a.transpose(2, 0, 1))
        b = np.arange(1024 * 1024, dtype=np.int32).reshape(1024, 1024)
        np.testing.assert_array_equal(torch.tensor(b).t().contiguous().numpy(), b.T)
        d = np.arange(600 * 900, dtype=np.float64).reshape(600, 900)
        np.testing.assert_array_equal(torch.tensor(d).flip(1).t().contiguous().numpy(), d[:, ::-1].T)
    finally:
        torch.set_num_threads(old)


@SETTINGS
@given(
    b=st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple),
    n=st.integers(1, 5), k=st.integers(1, 5), m=st.integers(1, 5),
    transpose_a=st.booleans(), seed=st.integers(0, 10**6),
)
def test_matmul_vs_numpy(b, n, k, m, transpose_a, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(b + (n, k))
    c = rng.standard_normal((k, m))
    ta = torch.tensor(np.swapaxes(a, -1, -2).copy()).transpose(-1, -2) if transpose_a else torch.tensor(a)
    r = ta @ torch.tensor(c)
    np.testing.assert_allclose(r.numpy(), a @ c, rtol=1e-10, atol=1e-12)
    # vector cases
    v = rng.standard_normal(k)
    np.testing.assert_allclose(torch.matmul(torch.tensor(a), torch.tensor(v)).numpy(), a @ v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(torch.matmul(torch.tensor(v), torch.tensor(c)).numpy(), v @ c, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(pair=broadcast_pair(), op=st.sampled_from(["add", "mul", "sub", "div"]), seed=st.integers(0, 10**6))
def test_broadcast_gradients(pair, op, seed):
    """grad of sum(f(x, y) * w) wrt a broadcast input is the sum over its broadcast dims."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, size=pair[0])
    b = rng.uniform(0.5, 2.0, size=pair[1])
    out_shape = np.broadcast_shapes(a.shape, b.shape)
    w = rng.standard_normal(out_shape)
    x = torch.tensor(a, requires_grad=True)
    y = torch.tensor(b, requires_grad=True)
    f = BINARY[op][0]
    (f(x, y) * torch.tensor(w)).sum().backward()
    ab, bb = np.broadcast_to(a, out_shape), np.broadcast_to(b, out_shape)
    dfa, dfb = {
        "add": (np.ones(out_shape), np.ones(out_shape)),
        "sub": (np.ones(out_shape), -np.ones(out_shape)),
        "mul": (bb, ab),
        "div": (1 / bb, -ab / bb**2),
    }[op]

    def reduce_to(g, shape):
        lead = g.ndim - len(shape)
        g = g.sum(axis=tuple(range(lead)))
        axes = tuple(i for i, s in enumerate(shape) if s == 1)
        return g.sum(axis=axes, keepdims=True).reshape(shape)

    np.testing.assert_allclose(x.grad.numpy(), reduce_to(w * dfa, a.shape), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), reduce_to(w * dfb, b.shape), rtol=1e-10, atol=1e-12)
    assert x.grad.shape == a.shape and y.grad.shape == b.shape


@SETTINGS
@given(x=strided(), data=st.data())
def test_gradient_through_strided_views(x, data):
    """Gradients flowing into a tensor through transposes/slices/expands land in
    the right elements."""
    a0 = data.draw(arrays(shape=st.lists(st.integers(1, 4), min_size=2, max_size=3).map(tuple)))
    t = torch.tensor(a0, requires_grad=True)
    kind = data.draw(st.sampled_from(["T", "slice", "expand", "flip"]))
    if kind == "T":
        v, ref = t.transpose(0, 1), lambda g: g.swapaxes(0, 1)
    elif kind == "slice":
        v = t[:, ::2]
        def ref(g):
            out = np.zeros_like(a0)
            out[:, ::2] = g
            return out
    elif kind == "expand":
        v, ref = t.unsqueeze(0).expand(3, *a0.shape), lambda g: g.sum(0)
    else:
        v, ref = t.flip(0), lambda g: g[::-1]
    w = np.random.default_rng(0).standard_normal(tuple(v.shape))
    (v * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), ref(w), rtol=1e-12)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "shape,dim",
    [
        ((1_000_003,), None),  # one long run, split across threads
        ((700, 1031), 1),  # trailing dim: one run per output
        ((700, 1031), 0),  # leading dim: column sums
        ((3, 5, 70_001), (1, 2)),
        ((9, 4, 33), (0, 1)),
        ((600, 1000), 0),  # leading, large enough to split columns
        ((4, 6, 8), (0, 2)),  # neither: the generic fold
    ],
)
def test_float_sum_paths_match_float64(shape, dim, threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rng = np.random.default_rng(0)
        a = rng.standard_normal(shape).astype(np.float32) + 3.0
        got = torch.from_numpy(a).sum(dim=dim).numpy()
        want = a.astype(np.float64).sum(axis=dim)
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-3)
        got64 = torch.from_numpy(a.astype(np.float64)).sum(dim=dim).numpy()
        np.testing.assert_allclose(got64, want, rtol=1e-12)
    finally:
        torch.set_num_threads(old)


@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple), data=st.data())
def test_cat_vs_numpy(shape, data):
    """cat of contiguous parts (one pass over the output), of strided parts and
    of mixed dtypes (part by part), at 1 and 2 threads."""
    rng = np.random.default_rng(data.draw(st.integers(0, 10**6)))
    d = data.draw(st.integers(0, len(shape) - 1))
    dtype = data.draw(st.sampled_from([np.float32, np.int64, np.bool_]))
    arrays = []
    for _ in range(data.draw(st.integers(1, 4))):
        s = list(shape)
        s[d] = data.draw(st.integers(0, 5))
        arrays.append((rng.standard_normal(s) * 3).astype(dtype))
    if len(arrays) > 1 and data.draw(st.booleans()):  # promoted: the general path
        arrays[-1] = arrays[-1].astype(np.float64)
    parts = [torch.tensor(a) for a in arrays]
    if data.draw(st.booleans()):  # a strided part takes the general path
        parts[0] = torch.tensor(np.ascontiguousarray(np.swapaxes(arrays[0], 0, -1))).transpose(0, -1)
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            np.testing.assert_array_equal(torch.cat(parts, d).numpy(), np.concatenate(arrays, d))
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize("threads", [1, 2])
def test_large_cat_along_inner_dims(threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = np.random.rand(300, 700, 3).astype(np.float32), np.random.rand(300, 500, 3).astype(np.float32)
        for d, (x, y) in enumerate([(a, a), (a, b)]):
            np.testing.assert_array_equal(torch.cat([torch.tensor(x), torch.tensor(y)], d).numpy(),
                                          np.concatenate([x, y], d))
        ta = torch.tensor(a, requires_grad=True)
        torch.cat([ta, torch.tensor(b)], 1).sum().backward()
        np.testing.assert_array_equal(ta.grad.numpy(), np.ones_like(a))
    finally:
        torch.set_num_threads(old)
