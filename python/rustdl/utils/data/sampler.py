"""Samplers (the semantics of ``torch.utils.data.sampler``)."""

import rustdl

__all__ = [
    "BatchSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]


class Sampler:
    """Base class: subclasses implement ``__iter__`` (indices) and usually ``__len__``."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError

    def __class_getitem__(cls, item):
        return cls


class SequentialSampler(Sampler):
    """Yields ``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _fresh_generator():
    """A Generator seeded from the global RNG (so ``rustdl.manual_seed`` makes it reproducible)."""
    seed = int(rustdl.randint(0, 2**62, (1,)).item())
    g = rustdl.Generator()
    g.manual_seed(seed)
    return g


def _randint(high, n, generator):
    if n == 0:
        return []
    return rustdl.randint(0, high, (n,), dtype=rustdl.int64, generator=generator).tolist()


class RandomSampler(Sampler):
    """Random order; without replacement every index appears once per pass.

    ``num_samples`` (default ``len(data_source)``) may exceed the length: then
    whole permutations are concatenated. ``generator`` defaults to a fresh one
    seeded from the global RNG each epoch.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={self.replacement}"
            )
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) or self.num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={self.num_samples}"
            )

    @property
    def num_samples(self):
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        generator = self.generator if self.generator is not None else _fresh_generator()
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from _randint(n, 32, generator)
            yield from _randint(n, self.num_samples % 32, generator)
        else:
            for _ in range(self.num_samples // n):
                yield from rustdl.randperm(n, generator=generator).tolist()
            rest = self.num_samples % n
            if rest:
                yield from rustdl.randperm(n, generator=generator).tolist()[:rest]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """Yields the given ``indices`` in a random order."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        if self.generator is None:
            perm = rustdl.randperm(len(self.indices))
        else:
            perm = rustdl.randperm(len(self.indices), generator=self.generator)
        for i in perm.tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Samples ``0..len(weights)-1`` with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={num_samples}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(  # noqa: TRY004 (as PyTorch)
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        if isinstance(weights, rustdl.Tensor):
            weights_tensor = weights.to(rustdl.float64)
        else:
            weights_tensor = rustdl.as_tensor(weights, dtype=rustdl.float64)
        if len(weights_tensor.shape) != 1:
            raise ValueError(
                "weights should be a 1d sequence but given weights have shape "
                f"{tuple(weights_tensor.shape)}"
            )
        self.weights = weights_tensor
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        if self.generator is None:
            rand_tensor = rustdl.multinomial(self.weights, self.num_samples, self.replacement)
        else:
            rand_tensor = rustdl.multinomial(
                self.weights, self.num_samples, self.replacement, generator=self.generator
            )
        yield from iter(rand_tensor.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")  # noqa: TRY004
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch_size = self.batch_size
        sampler_iter = iter(self.sampler)
        batch = []
        for idx in sampler_iter:
            batch.append(idx)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
