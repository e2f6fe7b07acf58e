"""Data-loading benchmarks (pytest-benchmark).

Run: PYTHONPATH=python python3 -m pytest benches/bench_data.py --benchmark-only -p no:cacheprovider

* a full shuffled epoch of a 60,000 x 1 x 28 x 28 TensorDataset at batch 128
  (the one-gather-per-batch fast path; must be well under a second);
* the same through a Subset (what random_split / k_fold_subsets give);
* a full epoch of FashionMNIST + Compose([ToTensor(), Normalize()]) per sample
  (Python __getitem__ + transforms + default_collate), with 0 and 2 workers.
"""

import os

import numpy as np
import pytest
import rustdl as torch
from rustdl.utils.data import DataLoader, Subset, TensorDataset

N = 60000
HAVE_FMNIST = os.path.isfile("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def epoch(loader):
    n = 0
    for x, _ in loader:
        n += x.shape[0]
    return n


@pytest.fixture(scope="module")
def tensor_ds():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((N, 1, 28, 28), dtype=np.float32))
    y = torch.from_numpy(rng.integers(0, 10, N))
    return TensorDataset(x, y)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_tensordataset_epoch(benchmark, tensor_ds, num_workers):
    loader = DataLoader(tensor_ds, batch_size=128, shuffle=True, num_workers=num_workers)
    n = benchmark.pedantic(epoch, args=(loader,), rounds=5, iterations=1, warmup_rounds=1)
    assert n == N
    assert benchmark.stats.stats.median < 1.0


def test_subset_of_tensordataset_epoch(benchmark, tensor_ds):
    sub = Subset(tensor_ds, list(range(0, N, 2)))
    loader = DataLoader(sub, batch_size=128, shuffle=True)
    assert benchmark.pedantic(epoch, args=(loader,), rounds=5, iterations=1, warmup_rounds=1) == N // 2


@pytest.mark.skipif(not HAVE_FMNIST, reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
@pytest.mark.parametrize("num_workers", [0, 2])
def test_fashion_mnist_per_sample_epoch(benchmark, num_workers):
    from rustdl.vision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    ds = datasets.FashionMNIST("data", train=True, transform=tf)
    loader = DataLoader(ds, batch_size=128, shuffle=True, num_workers=num_workers)
    assert benchmark.pedantic(epoch, args=(loader,), rounds=2, iterations=1) == N


@pytest.mark.skipif(not HAVE_FMNIST, reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_construct(benchmark):
    """Constructing the dataset again in-process (decoded arrays + verification cached)."""
    from rustdl.vision import datasets

    datasets.FashionMNIST("data", train=True)
    ds = benchmark(datasets.FashionMNIST, "data", train=True)
    assert len(ds) == N
