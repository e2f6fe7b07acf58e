"""Memory shared with numpy (from_numpy, as_tensor) and between processes
(share_memory_, rustdl.multiprocessing, Hogwild training).

Expected messages and behaviours are PyTorch 2.x's (recorded by hand from
torch.from_numpy / torch.multiprocessing)."""

import gc
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import rustdl as torch
import rustdl.multiprocessing as mp
from rustdl import nn

NEG_STRIDES = (
    "At least one stride in the given numpy array is negative, and tensors with negative strides are not "
    "currently supported. (You can probably work around this by making a copy of your array  with array.copy().)"
)
BAD_DTYPE = (
    "can't convert np.ndarray of type numpy.object_. The only supported types are: float64, float32, "
    "float16, complex64, complex128, int64, int32, int16, int8, uint64, uint32, uint16, uint8, and bool."
)
NOT_WRITABLE = "The given NumPy array is not writable, and PyTorch does not support non-writable tensors."


# ---------------------------------------------------------------- from_numpy


@pytest.mark.parametrize(
    "dtype,tdtype",
    [
        (np.float32, torch.float32),
        (np.float64, torch.float64),
        (np.int64, torch.int64),
        (np.int32, torch.int32),
        (np.uint8, torch.uint8),
    ],
)
def test_from_numpy_shares_both_ways(dtype, tdtype):
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    t = torch.from_numpy(a)
    assert t.dtype == tdtype and t.shape == (2, 3) and t.stride() == (3, 1)
    assert t.data_ptr() == a.ctypes.data
    a[0, 1] = 9
    assert t[0, 1].item() == 9
    t[1, 2] = 7
    assert a[1, 2] == 7
    t.add_(1)  # an in-place op through the tensor
    assert a.tolist() == [[1, 10, 3], [4, 5, 8]]
    assert not t.is_shared()


def test_from_numpy_bool_shares():
    b = np.array([True, False, False])
    t = torch.from_numpy(b)
    assert t.dtype == torch.bool
    b[1] = True
    assert t.tolist() == [True, True, False]
    t[2] = True
    assert b.tolist() == [True, True, True]


def test_from_numpy_strided_arrays_share():
    base = np.arange(24.0).reshape(4, 6)
    s = base[1:, ::2]  # offset and a step
    t = torch.from_numpy(s)
    assert t.shape == (3, 3) and t.stride() == (6, 2) and not t.is_contiguous()
    assert t.tolist() == s.tolist()
    base[2, 2] = -1
    assert t[1, 1].item() == -1
    t.mul_(2)
    assert base[1].tolist() == [12.0, 7.0, 16.0, 9.0, 20.0, 11.0]

    f = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    tf = torch.from_numpy(f)
    assert tf.stride() == (1, 2)
    f[1, 2] = 50
    assert tf[1, 2].item() == 50

    tr = torch.from_numpy(np.arange(6.0).reshape(2, 3).T)
    assert tr.stride() == (1, 3) and tr.tolist() == [[0, 3], [1, 4], [2, 5]]

    src = np.arange(3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # broadcast_to's result is read-only
        bc = torch.from_numpy(np.broadcast_to(src, (2, 3)))
    assert bc.stride() == (0, 1) and bc.tolist() == [[0, 1, 2], [0, 1, 2]]
    src[0] = 5
    assert bc[1, 0].item() == 5
    # the tensor's ops read strided external memory correctly
    assert torch.from_numpy(s).sum().item() == pytest.approx(float(s.sum()))


def test_from_numpy_zero_size_and_zero_dim():
    for shape in [(0,), (0, 3), (3, 0), (2, 0, 3)]:
        a = np.zeros(shape, np.float32)
        t = torch.from_numpy(a)
        assert t.shape == shape and t.numel() == 0
        assert t.stride() == tuple(s // 4 for s in a.strides)
    a = np.array(3.5)
    t = torch.from_numpy(a)
    assert t.shape == () and t.item() == 3.5
    a[()] = 4.5
    assert t.item() == 4.5


def test_from_numpy_keeps_array_alive():
    a = np.arange(100000, dtype=np.float64)
    t = torch.from_numpy(a)
    del a
    gc.collect()
    filler = [np.ones(100000) for _ in range(5)]  # would reuse freed memory
    assert t[99999].item() == 99999.0 and t.sum().item() == 99999 * 100000 / 2
    del filler
    v = t[10:20]
    del t
    gc.collect()
    assert v[0].item() == 10.0


def test_from_numpy_errors():
    a = np.arange(4.0)
    with pytest.raises(ValueError, match="negative") as e:
        torch.from_numpy(a[::-1])
    assert str(e.value) == NEG_STRIDES
    with pytest.raises(TypeError) as e:
        torch.from_numpy(np.array([1, None], dtype=object))
    assert str(e.value) == BAD_DTYPE
    with pytest.raises(TypeError, match=r"numpy\.str_"):
        torch.from_numpy(np.array(["a"]))
    raw = np.zeros(40, np.uint8)
    odd = np.ndarray(shape=(3,), dtype=np.float32, buffer=raw, strides=(6,))
    with pytest.raises(ValueError, match="given numpy array strides not a multiple of the element byte size"):
        torch.from_numpy(odd)
    with pytest.raises(ValueError, match="byte order"):
        torch.from_numpy(np.arange(3, dtype=">f4"))
    with pytest.raises(TypeError, match=r"expected np.ndarray \(got list\)"):
        torch.from_numpy([1.0, 2.0])


def test_from_numpy_misaligned_array_is_read_correctly():
    raw = np.zeros(20, np.uint8)
    u = np.ndarray(shape=(3,), dtype=np.float32, buffer=raw, offset=1)
    u[:] = [1.5, 2.5, 3.5]
    assert not u.flags.aligned
    assert torch.from_numpy(u).tolist() == [1.5, 2.5, 3.5]  # a copy (PyTorch shares)


def test_from_numpy_read_only_warns_once_and_shares():
    code = (
        "import warnings, numpy as np, rustdl as torch\n"
        "a = np.arange(3.0); a.flags.writeable = False\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    t = torch.from_numpy(a); torch.from_numpy(a); torch.as_tensor(a)\n"
        "assert len(w) == 1 and w[0].category is UserWarning, w\n"
        "print(str(w[0].message))\n"
        "assert t.data_ptr() == a.ctypes.data\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(NOT_WRITABLE)


def test_as_tensor_shares_tensor_copies():
    a = np.ones(3, dtype=np.float32)
    t = torch.as_tensor(a)
    assert t.data_ptr() == a.ctypes.data
    a[0] = 4
    assert t[0].item() == 4
    c = torch.as_tensor(a, dtype=torch.float64)  # another dtype: a copy
    a[1] = 5
    assert c.tolist() == [4, 1, 1]
    assert torch.tensor(a).data_ptr() != a.ctypes.data
    with pytest.raises(ValueError, match="negative"):
        torch.as_tensor(np.arange(3.0)[::-1])


def test_numpy_round_trip_keeps_sharing():
    a = np.arange(5, dtype=np.float32)
    t = torch.from_numpy(a)
    n = t.numpy()
    assert n.ctypes.data == a.ctypes.data
    n[0] = 42
    assert a[0] == 42 and t[0].item() == 42
    s = np.arange(12.0).reshape(3, 4)[:, ::2]
    ts = torch.from_numpy(s)
    ns = ts.numpy()  # a strided view stays a view
    assert ns.ctypes.data == s.ctypes.data and ns.strides == s.strides
    x = torch.arange(12.0).reshape(3, 4)
    xt = x.t().numpy()
    assert xt.strides == (4, 16) and xt.tolist() == x.t().tolist()
    xt[0, 1] = 100
    assert x[1, 0].item() == 100
    t2 = torch.from_numpy(torch.zeros(4).numpy())
    t2[0] = 1
    assert t2.tolist() == [1, 0, 0, 0]


def test_from_numpy_large_chain_sees_numpy_writes():
    # A fused (deferred) chain must not read a numpy-owned storage lazily.
    a = np.ones(1 << 17, dtype=np.float32)
    t = torch.from_numpy(a)
    y = t * 2 + 1
    a[:] = 10
    assert y[0].item() == 3.0


def test_external_memory_is_never_recycled():
    # A dropped storage over numpy's (or a shared segment's) memory must not
    # reach the buffer pool: a later tensor of the same size would write there.
    n = 1 << 18
    a = np.ones(n, dtype=np.float32)
    t = torch.from_numpy(a)
    del t
    s = torch.ones(n).share_memory_()
    del s
    gc.collect()
    outs = [torch.zeros(n) + 5 for _ in range(4)]
    assert a.min() == 1 and a.max() == 1
    assert all(o[0].item() == 5 for o in outs)


# ---------------------------------------------------------------- share_memory_


def test_share_memory_in_place_views_and_data():
    t = torch.arange(12.0).reshape(3, 4)
    v = t[1:, ::2]
    assert not t.is_shared() and not v.is_shared()
    assert t.share_memory_() is t
    assert t.is_shared() and v.is_shared()
    assert t.tolist() == torch.arange(12.0).reshape(3, 4).tolist()
    ptr = t.data_ptr()
    v.fill_(-1)
    assert t[2, 2].item() == -1
    t.share_memory_()  # idempotent: stays where it is
    assert t.data_ptr() == ptr
    for dtype in [torch.float64, torch.int64, torch.int32, torch.uint8, torch.bool]:
        x = torch.ones(5, dtype=dtype)
        x.share_memory_()
        assert x.is_shared() and x.dtype == dtype and x.tolist() == torch.ones(5, dtype=dtype).tolist()
    e = torch.zeros(0, 3).share_memory_()
    assert e.is_shared() and e.shape == (0, 3)


def test_share_memory_grads_still_work():
    w = torch.randn(4, 3, requires_grad=True)
    x = torch.randn(2, 4)
    y = (x @ w).tanh()  # saves w for backward
    w.share_memory_()
    y.sum().backward()
    expected = x.t() @ (1 - y.detach() ** 2)
    assert torch.allclose(w.grad, expected)
    w.grad.share_memory_()
    with torch.no_grad():
        w -= 0.1 * w.grad
    assert w.is_shared() and w.grad.is_shared()


def test_share_memory_with_numpy_array_alive_and_pending_chain():
    t = torch.arange(1 << 17, dtype=torch.float32)
    n = t.numpy()
    y = t * 3  # may be deferred: must see the values from before
    t.share_memory_()
    assert n[5] == 5.0  # the old memory stays valid while numpy uses it
    t[5] = 0
    assert y[5].item() == 15.0
    z = (torch.ones(1 << 17) * 2 + 1).share_memory_()  # a deferred result moved
    assert z.is_shared() and z[7].item() == 3.0


def test_module_share_memory():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m[0].weight.grad = torch.zeros(4, 3)
    assert m.share_memory() is m
    assert all(p.is_shared() for p in m.parameters())
    assert all(b.is_shared() for b in m.buffers())
    assert m[0].weight.grad.is_shared()
    assert isinstance(m[0].weight, nn.Parameter)


def test_plain_pickle_still_copies():
    t = torch.arange(4.0).share_memory_()
    u = pickle.loads(pickle.dumps(t))
    assert u.tolist() == t.tolist() and not u.is_shared()


# ---------------------------------------------------------------- multiprocessing


def test_multiprocessing_api():
    import multiprocessing

    for name in ["Process", "Queue", "Pool", "get_context", "set_start_method", "cpu_count", "Pipe"]:
        assert hasattr(mp, name) and name in mp.__all__
    assert mp.cpu_count() == multiprocessing.cpu_count()
    assert mp.get_all_sharing_strategies() == {"file_descriptor", "file_system"}
    assert mp.get_sharing_strategy() == "file_descriptor"
    mp.set_sharing_strategy("file_system")
    assert mp.get_sharing_strategy() == "file_system"
    mp.set_sharing_strategy("file_descriptor")
    with pytest.raises(AssertionError):
        mp.set_sharing_strategy("nope")
    assert torch.multiprocessing is mp


def _echo_worker(q_in, q_out):
    """Adds 1 in place to each tensor received and describes it; sends back
    a tensor of its own."""
    while True:
        t = q_in.get()
        if t is None:
            break
        with torch.no_grad():
            t.add_(1)
        q_out.put((type(t).__name__, t.is_shared(), tuple(t.shape), t.stride(), str(t.dtype), t.requires_grad, t))
    own = torch.full((2, 2), 7.0)
    q_out.put(own)
    q_out.put(own)  # the same storage twice
    q_in.get()  # the parent has looked at them


def test_queue_round_trip_with_spawn():
    ctx = mp.get_context("spawn")
    q_in, q_out = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_echo_worker, args=(q_in, q_out))
    p.start()
    try:
        base = torch.zeros(4, 6)
        view = base[1:, 1::2]
        q_in.put(view)
        *desc, back = q_out.get(timeout=60)
        assert desc == ["Tensor", True, (3, 3), (6, 2), "rustdl.float32", False]
        assert back.data_ptr() == view.data_ptr()  # came home: the same storage
        assert base.is_shared()
        assert base.sum().item() == 9 and base[0].sum().item() == 0 and base[1, 1].item() == 1

        prm = nn.Parameter(torch.ones(3, dtype=torch.float64))
        q_in.put(prm)
        *desc, back = q_out.get(timeout=60)
        assert desc == ["Parameter", True, (3,), (1,), "rustdl.float64", True]
        assert isinstance(back, nn.Parameter) and back.requires_grad
        assert prm.tolist() == [2, 2, 2]

        mp.set_sharing_strategy("file_system")
        try:
            ints = torch.arange(5)
            q_in.put(ints)
            assert q_out.get(timeout=60)[1:-1] == (True, (5,), (1,), "rustdl.int64", False)
        finally:
            mp.set_sharing_strategy("file_descriptor")
        assert ints.tolist() == [1, 2, 3, 4, 5]

        q_in.put(None)
        a, b = q_out.get(timeout=60), q_out.get(timeout=60)
        assert a.is_shared() and a.tolist() == [[7, 7], [7, 7]]
        a[0, 0] = 1
        assert b[0, 0].item() == 1  # both map the child's one storage
        assert a.data_ptr() == b.data_ptr()  # received as one storage
        q_in.put("done")
    finally:
        p.join(60)
    assert p.exitcode == 0


def test_non_leaf_requiring_grad_refuses_to_travel():
    x = torch.ones(2, requires_grad=True) * 2
    from multiprocessing.reduction import ForkingPickler

    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor which requires_grad"):
        ForkingPickler.dumps(x)


def _fail_in_one(i, what):
    if i == 1:
        if what == "raise":
            raise ValueError("child 1 failed on purpose")
        os._exit(3)


def _fill(i, t):
    t[i] = i + 1


def test_spawn_runs_and_forwards_child_failures():
    t = torch.zeros(2)
    mp.spawn(_fill, args=(t,), nprocs=2)
    assert t.tolist() == [1, 2]  # the children wrote the shared tensor
    with pytest.raises(mp.ProcessRaisedException) as e:
        mp.spawn(_fail_in_one, args=("raise",), nprocs=2)
    assert e.value.error_index == 1
    assert "ValueError: child 1 failed on purpose" in str(e.value)
    assert "-- Process 1 terminated with the following error:" in str(e.value)
    with pytest.raises(mp.ProcessExitedException, match="process 1 terminated with exit code 3") as e:
        mp.start_processes(_fail_in_one, args=("exit",), nprocs=2, start_method="fork")
    assert e.value.exit_code == 3


# ---------------------------------------------------------------- Hogwild


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.25
    return x, y


def _loss(model):
    x, y = _data()
    with torch.no_grad():
        return nn.functional.mse_loss(model(x), y).item()


def _hogwild_train(model, steps):
    x, y = _data()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_hogwild_training(start_method):
    torch.manual_seed(1)
    model = nn.Linear(4, 1)
    model.share_memory()
    before = [p.detach().clone() for p in model.parameters()]
    loss0 = _loss(model)
    ctx = mp.get_context(start_method)
    procs = [ctx.Process(target=_hogwild_train, args=(model, 20)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert all(not torch.equal(b, p.detach()) for b, p in zip(before, model.parameters()))
    assert _loss(model) < 0.2 * loss0
