"""rustdl.utils.data: datasets, samplers, collate, DataLoader, random_split, KFold."""

import collections
import math
import threading

import numpy as np
import pytest
import rustdl as torch
from rustdl.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    KFold,
    RandomSampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    k_fold_subsets,
    random_split,
)


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


class Squares(Dataset):
    """Pure-Python map-style dataset: sample i is {'x': [i, i*i] tensor, 'y': i, 'name': str}."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"x": torch.tensor([float(i), float(i * i)]), "y": i, "name": f"s{i}"}


def flat(lists):
    return [v for sub in lists for v in sub]


def ids(batches):
    return [b["y"].tolist() for b in batches]


# ---------------------------------------------------------------- datasets
def test_tensor_dataset():
    x, y = torch.arange(12.0).reshape(6, 2), torch.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    a, b = ds[2]
    assert a.tolist() == [4.0, 5.0] and b.item() == 2
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(x, torch.arange(5))


def test_subset_concat_add():
    a, b = Squares(3), Squares(5)
    c = a + b
    assert isinstance(c, ConcatDataset) and len(c) == 8
    assert [c[i]["y"] for i in range(8)] == [0, 1, 2, 0, 1, 2, 3, 4]
    assert c[-1]["y"] == 4 and c[-8]["y"] == 0
    with pytest.raises(ValueError, match="absolute value of index"):
        c[-9]
    with pytest.raises(IndexError):
        c[8]
    s = Subset(b, [4, 0, 2])
    assert len(s) == 3 and [s[i]["y"] for i in range(3)] == [4, 0, 2]
    assert [d["y"] for d in s.__getitems__([2, 0])] == [2, 4]
    with pytest.raises(AssertionError):
        ConcatDataset([])


def test_stack_and_chain_dataset():
    s = StackDataset(Squares(3), torch.arange(3))
    assert s[1][0]["y"] == 1 and s[1][1].item() == 1
    d = StackDataset(a=Squares(2), b=[10, 11])
    assert d[1]["b"] == 11
    with pytest.raises(ValueError, match="Size mismatch"):
        StackDataset(Squares(2), Squares(3))

    class It(IterableDataset):
        def __init__(self, lo, hi):
            self.lo, self.hi = lo, hi

        def __iter__(self):
            return iter(range(self.lo, self.hi))

    chain = It(0, 3) + It(10, 12)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 2, 10, 11]


# ---------------------------------------------------------------- collate
def test_default_collate_nested():
    Point = collections.namedtuple("Point", ["a", "b"])
    batch = [
        {
            "img": np.full((2, 3), i, dtype=np.float32),
            "label": i,
            "w": float(i) / 2,
            "meta": (i, f"s{i}", [np.int64(i), torch.tensor(i)]),
            "p": Point(torch.ones(2) * i, np.float32(i)),
            "flag": i % 2 == 0,
        }
        for i in range(4)
    ]
    out = default_collate(batch)
    assert set(out) == {"img", "label", "w", "meta", "p", "flag"}
    assert out["img"].shape == (4, 2, 3) and out["img"].dtype == torch.float32
    assert out["img"][3].tolist() == [[3.0] * 3] * 2
    assert out["label"].dtype == torch.int64 and out["label"].tolist() == [0, 1, 2, 3]
    assert out["w"].dtype == torch.float64 and out["w"].tolist() == [0.0, 0.5, 1.0, 1.5]
    assert out["flag"].dtype == torch.bool and out["flag"].tolist() == [True, False, True, False]
    meta = out["meta"]
    assert isinstance(meta, list) and len(meta) == 3  # tuples collate to lists (as PyTorch)
    assert meta[0].tolist() == [0, 1, 2, 3]
    assert meta[1] == ["s0", "s1", "s2", "s3"]  # strings kept as a list
    assert meta[2][0].dtype == torch.int64 and meta[2][1].tolist() == [0, 1, 2, 3]
    assert isinstance(out["p"], Point) and out["p"].a.shape == (4, 2)
    assert out["p"].b.dtype == torch.float32


def test_default_collate_tensor_dataset_tuples():
    ds = TensorDataset(torch.arange(10.0).reshape(5, 2), torch.arange(5))
    out = default_collate([ds[i] for i in range(3)])
    assert isinstance(out, list) and out[0].shape == (3, 2) and out[1].tolist() == [0, 1, 2]


def test_default_collate_errors_name_the_culprit():
    with pytest.raises(RuntimeError, match=r"batch\[0\] has shape \[2\] and batch\[2\] has shape \[3\]"):
        default_collate([torch.zeros(2), torch.zeros(2), torch.zeros(3)])
    with pytest.raises(RuntimeError, match=r"batch\[1\]\['img'\] has shape \[4, 4\]"):
        default_collate([{"img": np.zeros((3, 3))}, {"img": np.zeros((4, 4))}])
    with pytest.raises(TypeError, match=r"batch\[0\]\[1\] is an int but batch\[1\]\[1\] is str"):
        default_collate([(torch.zeros(1), 1), (torch.zeros(1), "one")])
    with pytest.raises(TypeError, match=r"batch\[2\] is list"):
        default_collate([torch.zeros(1), torch.zeros(1), [1]])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [1, 2, 3]])
    with pytest.raises(KeyError, match=r"batch\[1\] lacks \['b'\]"):
        default_collate([{"a": 1, "b": 2}, {"a": 1}])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found <U"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_collate_numbers_mixed_int_float_like_pytorch():
    out = default_collate([1, 2.5])  # torch.tensor([1, 2.5]) -> default float dtype
    assert out.dtype == torch.float32 and out.tolist() == [1.0, 2.5]


def test_default_convert():
    out = default_convert({"a": np.arange(3), "b": (np.float64(1.5), "x"), "c": torch.ones(2)})
    assert isinstance(out["a"], torch.Tensor) and out["a"].tolist() == [0, 1, 2]
    assert isinstance(out["b"], list) and out["b"][0].item() == 1.5 and out["b"][1] == "x"
    assert out["c"].tolist() == [1.0, 1.0]


# ---------------------------------------------------------------- samplers
def test_sequential_and_random_sampler():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    rs = RandomSampler(range(10), generator=gen(0))
    perm = list(rs)
    assert sorted(perm) == list(range(10)) and len(rs) == 10
    assert list(RandomSampler(range(10), generator=gen(0))) == perm
    over = list(RandomSampler(range(4), num_samples=10, generator=gen(1)))
    assert len(over) == 10 and sorted(over[:4]) == sorted(over[4:8]) == [0, 1, 2, 3]
    rep = list(RandomSampler(range(3), replacement=True, num_samples=100, generator=gen(2)))
    assert len(rep) == 100 and set(rep) <= {0, 1, 2}
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)


def test_subset_and_weighted_sampler():
    s = list(SubsetRandomSampler([10, 20, 30, 40], generator=gen(3)))
    assert sorted(s) == [10, 20, 30, 40]
    w = WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], num_samples=200, generator=gen(4))
    draws = list(w)
    assert len(draws) == 200 and set(draws) <= {1, 3} and draws.count(3) > draws.count(1)
    nr = list(WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False, generator=gen(5)))
    assert sorted(nr) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler([1.0], -1)


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 2, 0)


# -------------------------------------------------------------- DataLoader
@pytest.mark.parametrize("n,bs,drop_last,expected", [(10, 3, False, 4), (10, 3, True, 3), (9, 3, True, 3), (2, 5, False, 1), (2, 5, True, 0)])
def test_batch_counts(n, bs, drop_last, expected):
    dl = DataLoader(Squares(n), batch_size=bs, drop_last=drop_last)
    batches = list(dl)
    assert len(dl) == expected == len(batches)
    sizes = [len(b["y"]) for b in batches]
    if drop_last:
        assert all(s == bs for s in sizes)
    else:
        assert sum(sizes) == n


def test_sequential_order_and_collated_types():
    batches = list(DataLoader(Squares(5), batch_size=2))
    assert ids(batches) == [[0, 1], [2, 3], [4]]
    assert batches[1]["x"].tolist() == [[2.0, 4.0], [3.0, 9.0]]
    assert batches[1]["name"] == ["s2", "s3"]


def test_no_auto_batching():
    dl = DataLoader(Squares(3), batch_size=None)
    items = list(dl)
    assert len(dl) == 3 and [it["y"] for it in items] == [0, 1, 2]  # default_convert: ints stay ints
    assert next(iter(DataLoader([np.zeros(2)] * 2, batch_size=None))).dtype == torch.float64


@pytest.mark.parametrize("dataset", ["python", "tensor"])
def test_shuffle_visits_every_sample_once(dataset):
    n = 103
    if dataset == "python":
        ds = Squares(n)
        dl = DataLoader(ds, batch_size=10, shuffle=True)
        epochs = [flat(ids(dl)) for _ in range(3)]
    else:
        ds = TensorDataset(torch.arange(n), torch.arange(n) * 2)
        dl = DataLoader(ds, batch_size=10, shuffle=True)
        epochs = [flat(b[0].tolist() for b in dl) for _ in range(3)]
    for e in epochs:
        assert sorted(e) == list(range(n))
    assert epochs[0] != epochs[1]  # a new order each epoch


def test_seeded_runs_reproduce():
    def run(seed):
        dl = DataLoader(Squares(50), batch_size=7, shuffle=True, generator=gen(seed))
        return [ids(dl) for _ in range(2)]

    assert run(123) == run(123)
    assert run(123) != run(124)
    # the global seed also reproduces shuffling without an explicit generator
    torch.manual_seed(7)
    a = ids(DataLoader(Squares(30), batch_size=4, shuffle=True))
    torch.manual_seed(7)
    b = ids(DataLoader(Squares(30), batch_size=4, shuffle=True))
    assert a == b


def test_tensor_dataset_fast_path_matches_slow_path():
    x = torch.randn(37, 1, 4, 4)
    y = torch.randint(0, 10, (37,))
    ds = TensorDataset(x, y)
    fast = list(DataLoader(ds, batch_size=8, shuffle=True, generator=gen(9)))
    slow = list(DataLoader(ds, batch_size=8, shuffle=True, generator=gen(9), collate_fn=lambda b: default_collate(b)))
    assert len(fast) == len(slow) == 5
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert isinstance(fx, torch.Tensor) and fx.shape == sx.shape and fx.dtype == sx.dtype
        assert fx.tolist() == sx.tolist() and fy.tolist() == sy.tolist()
    # Subset of a TensorDataset (as produced by random_split / k_fold_subsets)
    sub = Subset(Subset(ds, list(range(36, -1, -1))), [0, 5, 6])
    (bx, by), = list(DataLoader(sub, batch_size=3))
    assert by.tolist() == [y[36].item(), y[31].item(), y[30].item()]
    assert bx.tolist() == [x[36].tolist(), x[31].tolist(), x[30].tolist()]


def test_custom_samplers_and_batch_sampler():
    dl = DataLoader(Squares(6), batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert ids(dl) == [[5, 4], [3, 2], [1, 0]]
    dl = DataLoader(Squares(6), batch_sampler=[[0, 5], [1], [2, 3, 4]])
    assert ids(dl) == [[0, 5], [1], [2, 3, 4]] and len(dl) == 3
    dl = DataLoader(Squares(10), batch_sampler=BatchSampler(SequentialSampler(range(10)), 4, True))
    assert ids(dl) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    dl = DataLoader(Squares(8), batch_size=4, sampler=SubsetRandomSampler([1, 3, 5, 7], generator=gen(0)))
    assert sorted(flat(ids(dl))) == [1, 3, 5, 7]


def test_incompatible_options_raise_like_pytorch():
    ds = Squares(4)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=SequentialSampler(ds))
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, shuffle=True, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, drop_last=True, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)
    dl = DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        dl.batch_size = 3
    dl.num_workers = 0  # other attributes may change


def test_pin_memory_accepted():
    with pytest.warns(UserWarning, match="pin_memory"):
        dl = DataLoader(Squares(3), batch_size=2, pin_memory=True)
    assert ids(dl) == [[0, 1], [2]]


# --------------------------------------------------------------- workers
def test_workers_same_batches_same_order():
    ds = Squares(57)
    ref = [ids(DataLoader(ds, batch_size=5, shuffle=True, generator=gen(11)))]
    for nw in (1, 2, 3):
        got = [ids(DataLoader(ds, batch_size=5, shuffle=True, generator=gen(11), num_workers=nw))]
        assert got == ref
    tds = TensorDataset(torch.arange(57.0), torch.arange(57))
    a = [b[1].tolist() for b in DataLoader(tds, batch_size=8, shuffle=True, generator=gen(2))]
    b = [b[1].tolist() for b in DataLoader(tds, batch_size=8, shuffle=True, generator=gen(2), num_workers=2)]
    assert a == b


def test_worker_init_fn_and_worker_info():
    seen = []
    lock = threading.Lock()

    class WhoLoads(Dataset):
        def __len__(self):
            return 12

        def __getitem__(self, i):
            info = get_worker_info()
            return {"i": i, "worker": -1 if info is None else info.id}

    def init(worker_id):
        info = get_worker_info()
        with lock:
            seen.append((worker_id, info.id, info.num_workers))

    dl = DataLoader(WhoLoads(), batch_size=2, num_workers=2, worker_init_fn=init)
    batches = list(dl)
    assert sorted(seen) == [(0, 0, 2), (1, 1, 2)]
    assert [b["i"].tolist() for b in batches] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]
    assert {w for b in batches for w in b["worker"].tolist()} == {0, 1}
    assert get_worker_info() is None
    assert [b["worker"].tolist() for b in DataLoader(WhoLoads(), batch_size=6)] == [[-1] * 6] * 2


def test_worker_exception_propagates():
    class Bad(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            if i == 4:
                raise ValueError("bad sample 4")
            return i

    dl = DataLoader(Bad(), batch_size=2, num_workers=2)
    it = iter(dl)
    assert next(it).tolist() == [0, 1]
    assert next(it).tolist() == [2, 3]
    with pytest.raises(ValueError, match="bad sample 4"):
        next(it)


def test_persistent_workers():
    calls = []
    dl = DataLoader(Squares(10), batch_size=3, num_workers=2, persistent_workers=True, worker_init_fn=calls.append)
    for _ in range(3):
        assert flat(ids(dl)) == list(range(10))
    assert sorted(calls) == [0, 1]  # workers (and worker_init_fn) once, not per epoch


def test_timeout():
    import time

    class Slow(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            time.sleep(0.5)
            return i

    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.05 seconds"):
        list(DataLoader(Slow(), num_workers=1, timeout=0.05))


# ---------------------------------------------------------- IterableDataset
class Range(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


def test_iterable_dataset():
    dl = DataLoader(Range(10), batch_size=4)
    assert [b.tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(dl) == 3
    assert [b.tolist() for b in DataLoader(Range(10), batch_size=4, drop_last=True)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [int(v) for v in DataLoader(Range(3), batch_size=None)] == [0, 1, 2]
    # two workers split the stream via get_worker_info; batches alternate between workers (as PyTorch)
    got = [b.tolist() for b in DataLoader(Range(10), batch_size=2, num_workers=2)]
    assert got == [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]
    # a second epoch restarts the streams
    dl2 = DataLoader(Range(5), batch_size=2, num_workers=2, persistent_workers=True)
    assert [b.tolist() for b in dl2] == [b.tolist() for b in dl2]


def test_iterable_dataset_rejects_shuffle_and_samplers():
    with pytest.raises(ValueError, match="expected unspecified shuffle option, but got shuffle=True"):
        DataLoader(Range(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Range(3), sampler=[0, 1])
    with pytest.raises(ValueError, match="expected unspecified batch_sampler option"):
        DataLoader(Range(3), batch_sampler=[[0]])


# ------------------------------------------------------------ random_split
def test_random_split_lengths_and_fractions():
    ds = Squares(10)
    a, b = random_split(ds, [7, 3], generator=gen(0))
    assert len(a) == 7 and len(b) == 3
    assert sorted(a.indices + b.indices) == list(range(10))
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=gen(0))
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = random_split(range(11), [0.5, 0.5], generator=gen(0))
    assert [len(p) for p in parts] == [6, 5]  # remainder handed out round-robin
    parts = random_split(range(10), [1 / 3, 1 / 3, 1 / 3], generator=gen(0))
    assert [len(p) for p in parts] == [4, 3, 3]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [5, 4])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(3), [1.0, 0.0])


def test_random_split_reproducible():
    a = [s.indices for s in random_split(range(20), [10, 10], generator=gen(5))]
    b = [s.indices for s in random_split(range(20), [10, 10], generator=gen(5))]
    c = [s.indices for s in random_split(range(20), [10, 10], generator=gen(6))]
    assert a == b and a != c
    torch.manual_seed(3)
    d = [s.indices for s in random_split(range(20), [10, 10])]
    torch.manual_seed(3)
    assert d == [s.indices for s in random_split(range(20), [10, 10])]


# ------------------------------------------------------------------ KFold
@pytest.mark.parametrize("n,k", [(10, 5), (11, 3), (7, 7), (100, 4)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_kfold_partitions(n, k, shuffle):
    kf = KFold(k, shuffle=shuffle, random_state=0 if shuffle else None)
    folds = list(kf.split(n))
    assert len(folds) == k == kf.get_n_splits()
    vals = np.concatenate([v for _, v in folds])
    assert sorted(vals.tolist()) == list(range(n))  # validation folds partition the data
    sizes = [len(v) for _, v in folds]
    assert sizes == [n // k + 1] * (n % k) + [n // k] * (k - n % k)
    for tr, va in folds:
        assert len(set(tr.tolist()) & set(va.tolist())) == 0 and len(tr) + len(va) == n
    if not shuffle:
        assert folds[0][1].tolist() == list(range(sizes[0]))


def test_kfold_matches_sklearn_semantics():
    # KFold(3) on 8 samples, no shuffle: folds [0,1,2], [3,4,5], [6,7]
    folds = list(KFold(3).split(np.zeros(8)))
    assert [v.tolist() for _, v in folds] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert folds[1][0].tolist() == [0, 1, 2, 6, 7]
    # shuffle with an int seed = numpy RandomState(seed).shuffle (scikit-learn's permutation)
    perm = np.arange(8)
    np.random.RandomState(42).shuffle(perm)
    got = np.concatenate([v for _, v in KFold(4, shuffle=True, random_state=42).split(8)])
    assert got.tolist() == perm.tolist()
    a = [v.tolist() for _, v in KFold(4, shuffle=True, random_state=gen(1)).split(20)]
    b = [v.tolist() for _, v in KFold(4, shuffle=True, random_state=gen(1)).split(20)]
    assert a == b
    with pytest.raises(ValueError, match="Cannot have number of splits n_splits=5 greater than the number of samples"):
        list(KFold(5).split(4))
    with pytest.raises(ValueError, match="at least one train/test split"):
        KFold(1)
    with pytest.raises(ValueError, match="Setting a random_state has no effect since shuffle is False"):
        KFold(3, random_state=0)


def test_k_fold_subsets():
    ds = TensorDataset(torch.arange(10.0), torch.arange(10))
    pairs = list(k_fold_subsets(ds, 5, shuffle=True, random_state=0))
    assert len(pairs) == 5
    seen = []
    for tr, va in pairs:
        assert isinstance(tr, Subset) and isinstance(va, Subset)
        assert len(tr) == 8 and len(va) == 2
        ((_, yb),) = list(DataLoader(va, batch_size=2))
        assert yb.tolist() == va.indices
        seen += yb.tolist()
    assert sorted(seen) == list(range(10))


def test_lengths_len_of_dataloader_random_sampler():
    dl = DataLoader(Squares(10), batch_size=4, sampler=RandomSampler(range(10), num_samples=25))
    assert len(dl) == math.ceil(25 / 4) == len(list(dl))
