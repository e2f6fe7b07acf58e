"""K-fold cross-validation splits: :class:`KFold` (scikit-learn's ``KFold``
semantics) and :func:`k_fold_subsets`."""

import numbers

import numpy as np

import rustdl

from .dataset import Subset

__all__ = ["KFold", "k_fold_subsets"]


class KFold:
    """K-fold splitter with the semantics of ``sklearn.model_selection.KFold``.

    ``split(dataset_or_n)`` yields ``(train_indices, val_indices)`` as int64
    numpy arrays. The first ``n % n_splits`` folds have ``n // n_splits + 1``
    samples, the rest ``n // n_splits``; folds are contiguous blocks of
    ``0..n-1`` or, with ``shuffle=True``, of a permutation of it.

    ``random_state``: an int shuffles with ``numpy.random.RandomState(seed)``
    (the same folds as scikit-learn for the same seed); a ``rustdl.Generator``
    or ``numpy.random.RandomState`` is used as given; ``None`` draws the
    permutation from rustdl's global RNG (reproducible via ``rustdl.manual_seed``).
    """

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool):
            raise ValueError(  # noqa: TRY004 (as scikit-learn)
                "The number of folds must be of Integral type. "
                f"{n_splits!r} of type {type(n_splits)} was passed."
            )
        n_splits = int(n_splits)
        if n_splits <= 1:
            raise ValueError(
                "k-fold cross-validation requires at least one train/test split by setting "
                f"n_splits=2 or more, got n_splits={n_splits}."
            )
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be True or False; got {shuffle}")
        if not shuffle and random_state is not None:
            raise ValueError(
                "Setting a random_state has no effect since shuffle is False. You should leave "
                "random_state to its default (None), or set shuffle=True."
            )
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def _permutation(self, n):
        rs = self.random_state
        if isinstance(rs, rustdl.Generator):
            return np.asarray(rustdl.randperm(n, generator=rs).tolist(), dtype=np.int64)
        if rs is None:
            return np.asarray(rustdl.randperm(n).tolist(), dtype=np.int64)
        if isinstance(rs, np.random.RandomState):
            rng = rs
        elif isinstance(rs, numbers.Integral):
            rng = np.random.RandomState(int(rs))
        else:
            raise ValueError(f"{rs!r} cannot be used to seed a numpy.random.RandomState instance")  # noqa: TRY004
        indices = np.arange(n, dtype=np.int64)
        rng.shuffle(indices)
        return indices

    def split(self, X, y=None, groups=None):
        """Yield ``(train_indices, val_indices)``; ``X`` is a dataset (anything with
        ``len``) or the number of samples."""
        if isinstance(X, numbers.Integral) and not isinstance(X, bool):
            n_samples = int(X)
        else:
            n_samples = len(X)
        if self.n_splits > n_samples:
            raise ValueError(
                f"Cannot have number of splits n_splits={self.n_splits} greater than the number of "
                f"samples: n_samples={n_samples}."
            )
        indices = self._permutation(n_samples) if self.shuffle else np.arange(n_samples, dtype=np.int64)
        fold_sizes = np.full(self.n_splits, n_samples // self.n_splits, dtype=np.int64)
        fold_sizes[: n_samples % self.n_splits] += 1
        current = 0
        for fold_size in fold_sizes:
            start, stop = current, current + int(fold_size)
            val = indices[start:stop]
            train = np.concatenate([indices[:start], indices[stop:]])
            yield train, val
            current = stop

    def __repr__(self):
        return f"KFold(n_splits={self.n_splits}, random_state={self.random_state}, shuffle={self.shuffle})"


def k_fold_subsets(dataset, k=5, shuffle=False, random_state=None):
    """Yield ``(train_subset, val_subset)`` pairs of :class:`Subset` for each of the
    ``k`` folds of ``KFold(k, shuffle=shuffle, random_state=random_state)``.

    The subsets' ``indices`` are Python lists. ``DataLoader`` over a ``Subset``
    of a ``TensorDataset`` keeps the one-gather-per-batch fast path.
    """
    for train_idx, val_idx in KFold(k, shuffle=shuffle, random_state=random_state).split(dataset):
        yield Subset(dataset, train_idx.tolist()), Subset(dataset, val_idx.tolist())
