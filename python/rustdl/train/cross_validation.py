"""``cross_validate``: k-fold cross-validation with the :class:`Trainer`."""

from __future__ import annotations

import math

import numpy as np

from .. import _C

__all__ = ["TensorBatches", "cross_validate", "kfold_indices"]


def kfold_indices(n, k=5, shuffle=True, seed=0):
    """``[(train_idx, val_idx), ...]`` for ``k`` folds of ``n`` samples (sizes differ by at most 1)."""
    if k < 2 or k > n:
        raise ValueError(f"k must be between 2 and the number of samples ({n}), got {k}")
    idx = np.arange(n)
    if shuffle:
        np.random.default_rng(seed).shuffle(idx)
    folds = np.array_split(idx, k)
    return [(np.concatenate(folds[:i] + folds[i + 1 :]), folds[i]) for i in range(k)]


def _as_arrays(dataset):
    """(X, Y) tensors for a (X, Y) pair / TensorDataset, else None."""
    if isinstance(dataset, (tuple, list)) and len(dataset) == 2 and all(isinstance(t, _C.Tensor) for t in dataset):
        return dataset
    tensors = getattr(dataset, "tensors", None)
    if isinstance(tensors, (tuple, list)) and len(tensors) == 2:
        return tuple(tensors)
    return None


class TensorBatches:
    """Minimal loader: batches of ``dataset`` restricted to ``indices`` (reshuffled each epoch)."""

    def __init__(self, dataset, indices=None, batch_size=32, shuffle=False, seed=0, drop_last=False):
        self.arrays = _as_arrays(dataset)
        self.dataset = dataset
        n = len(self.arrays[0]) if self.arrays is not None else len(dataset)
        self.indices = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        idx = self.indices.copy()
        if self.shuffle:
            self._rng.shuffle(idx)
        for i in range(len(self)):
            chunk = idx[i * self.batch_size : (i + 1) * self.batch_size]
            if self.arrays is not None:
                sel = _C.tensor(chunk.tolist(), dtype=_C.int64)
                yield self.arrays[0].index_select(0, sel), self.arrays[1].index_select(0, sel)
            else:
                items = [self.dataset[int(j)] for j in chunk]
                xs, ys = zip(*items)
                yield _stack(xs), _stack(ys)


def _stack(items):
    if isinstance(items[0], _C.Tensor):
        return _C.stack(list(items))
    return _C.tensor(np.asarray(items))


def cross_validate(model_fn, dataset, k=5, optimizer_fn=None, loss_fn=None, epochs=5, batch_size=32,
                   metrics=("accuracy",), scheduler_fn=None, callbacks_fn=None, shuffle=True, seed=0,
                   progress=False, grad_clip=None, verbose=False):
    """Train a fresh ``model_fn()`` on each of ``k`` folds and evaluate it on the held-out fold.

    ``dataset``: a ``(X, Y)`` tensor pair, a ``TensorDataset`` or any map-style dataset of
    ``(x, y)`` items. ``optimizer_fn(params)`` builds the optimizer (default ``optim.Adam(lr=1e-3)``),
    ``scheduler_fn(optimizer)`` an optional scheduler, ``callbacks_fn()`` a list of callbacks.

    Returns ``{'folds': [{'fold': i, 'val_loss': ..., 'val_accuracy': ..., 'history': History}, ...],
    'mean': {...}, 'std': {...}}``.
    """
    from ..nn import CrossEntropyLoss
    from .trainer import Trainer

    if loss_fn is None:
        loss_fn = CrossEntropyLoss()
    if optimizer_fn is None:
        from .. import optim

        def optimizer_fn(params):
            return optim.Adam(params, lr=1e-3)

    arrays = _as_arrays(dataset)
    n = len(arrays[0]) if arrays is not None else len(dataset)
    folds = []
    for i, (tr, va) in enumerate(kfold_indices(n, k, shuffle, seed)):
        model = model_fn()
        opt = optimizer_fn(model.parameters())
        sched = scheduler_fn(opt) if scheduler_fn is not None else None
        trainer = Trainer(model, opt, loss_fn, metrics=metrics, scheduler=sched, grad_clip=grad_clip,
                          callbacks=callbacks_fn() if callbacks_fn else (), progress=progress)
        train_loader = TensorBatches(dataset, tr, batch_size, shuffle=True, seed=seed + i)
        val_loader = TensorBatches(dataset, va, batch_size)
        hist = trainer.fit(train_loader, val_loader, epochs=epochs)
        res = trainer.evaluate(val_loader, prefix="val_")
        res.update({"fold": i, "train_loss": hist["train_loss"][-1], "history": hist,
                    "n_train": len(tr), "n_val": len(va)})
        folds.append(res)
        if verbose:
            print(f"fold {i + 1}/{k}: " + ", ".join(f"{k_}={v:.4f}" for k_, v in res.items()
                                                     if isinstance(v, float)))
    keys = [key for key, v in folds[0].items() if isinstance(v, float)]
    mean = {key: float(np.mean([f[key] for f in folds])) for key in keys}
    std = {key: float(np.std([f[key] for f in folds])) for key in keys}
    return {"folds": folds, "mean": mean, "std": std}
