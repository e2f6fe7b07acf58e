"""``torch.utils.data.distributed.DistributedSampler``: each rank reads its
own ``1/num_replicas`` of the dataset.

The shuffled order is PyTorch's exactly: ``torch.randperm(n, generator=g)``
with ``g.manual_seed(seed + epoch)`` is a Fisher-Yates shuffle driven by the
32-bit outputs of an MT19937 seeded with ``(seed + epoch) mod 2**32`` (the
standard ``init_genrand``), swapping element i with element ``i + r % (n - i)``.
rustdl's own ``randperm`` uses another generator, so the sampler reproduces
PyTorch's here (numpy's MT19937 supplies the outputs): a PyTorch job and a
rustdl job with the same seed read the same samples on the same ranks.
(PyTorch switches to 64-bit draws for n >= 2**32 / 20; so does this.)
"""

import math

import numpy as np

from .sampler import Sampler

__all__ = ["DistributedSampler"]

_SMALL_N = (2**32 - 1) // 20  # PyTorch's randperm_cpu: 32-bit draws below this size


def _mt19937(seed):
    """numpy's MT19937 in the state ``std::mt19937(seed)`` / PyTorch's ``manual_seed(seed)`` gives."""
    key = np.empty(624, dtype=np.uint32)
    s = seed & 0xFFFFFFFF
    key[0] = s
    for j in range(1, 624):
        s = (1812433253 * (s ^ (s >> 30)) + j) & 0xFFFFFFFF
        key[j] = s
    bits = np.random.MT19937()
    bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": 624}}
    return bits


def torch_randperm(n, seed):
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()``."""
    bits = _mt19937(seed)
    perm = list(range(n))
    if n < 2:
        return perm
    if n < _SMALL_N:
        draws = bits.random_raw(n - 1) % np.arange(n, 1, -1, dtype=np.uint64)
        for i, z in enumerate(draws.tolist()):
            j = i + z
            perm[i], perm[j] = perm[j], perm[i]
        return perm
    raw = bits.random_raw(2 * n).reshape(n, 2)
    words = (raw[:, 0] << np.uint64(32)) | raw[:, 1]  # make64BitsFrom32Bits(hi, lo)
    draws = (words % np.arange(1, n + 1, dtype=np.uint64)).tolist()
    for i, z in enumerate(draws):
        perm[i] = perm[z]
        perm[z] = i
    return perm


class DistributedSampler(Sampler):
    """Restricts sampling to ``rank``'s share of ``dataset`` (PyTorch's semantics:
    padding by repeating the first indices unless ``drop_last``, shuffling
    seeded by ``seed + epoch``; call ``set_epoch`` every epoch)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist

            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            self.num_samples = math.ceil((len(self.dataset) - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        indices = torch_randperm(n, self.seed + self.epoch) if self.shuffle else list(range(n))
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[: self.total_size]
        if len(indices) != self.total_size:
            raise AssertionError(f"Number of indices ({len(indices)}) does not match total_size ({self.total_size})")
        indices = indices[self.rank : self.total_size : self.num_replicas]
        if len(indices) != self.num_samples:
            raise AssertionError(
                f"Number of subsampled indices ({len(indices)}) does not match num_samples ({self.num_samples})")
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Set the epoch, so each epoch shuffles differently (same order on every rank)."""
        self.epoch = epoch
