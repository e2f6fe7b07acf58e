"""``History``: per-epoch curves of a :class:`~rustdl.train.Trainer` run, and their diagnosis."""

from __future__ import annotations

import math

__all__ = ["History"]


class History:
    """Per-epoch records: ``history['train_loss']``, ``history['val_accuracy']``, ``history['lr']`` ...

    ``epochs`` holds the 1-based epoch numbers. ``'loss'`` / ``'accuracy'`` are accepted as
    aliases of ``'train_loss'`` / ``'train_accuracy'``.
    """

    def __init__(self, history=None, epochs=None):
        self.history = {k: list(v) for k, v in (history or {}).items()}
        n = max((len(v) for v in self.history.values()), default=0)
        self.epochs = list(epochs) if epochs is not None else list(range(1, n + 1))
        # summaries of Trainer(analyze_plateaus=True)'s Hessian analyses (plateau_analysis.summarize)
        self.critical_points = []

    @classmethod
    def from_dict(cls, **curves):
        """``History.from_dict(train_loss=[...], val_loss=[...])`` (synthetic histories)."""
        return cls(curves)

    def _key(self, key):
        if key in self.history:
            return key
        if "train_" + key in self.history:
            return "train_" + key
        raise KeyError(f"no '{key}' in history (have: {', '.join(self.history)})")

    def __getitem__(self, key):
        return self.history[self._key(key)]

    def __contains__(self, key):
        try:
            self._key(key)
        except KeyError:
            return False
        return True

    def keys(self):
        return self.history.keys()

    def __len__(self):
        return len(self.epochs)

    def log(self, epoch, logs):
        """Append one epoch of ``logs`` (missing keys are padded with ``nan``)."""
        self.epochs.append(epoch)
        n = len(self.epochs)
        for k, v in logs.items():
            col = self.history.setdefault(k, [])
            col.extend([math.nan] * (n - 1 - len(col)))
            col.append(float(v))
        for col in self.history.values():
            col.extend([math.nan] * (n - len(col)))

    def best_epoch(self, monitor="val_loss", mode="auto"):
        """(epoch, value) of the best finite value of ``monitor``."""
        vals = self[monitor]
        mode = _resolve_mode(monitor, mode)
        finite = [(v, e) for e, v in zip(self.epochs, vals) if math.isfinite(v)]
        if not finite:
            return None, math.nan
        v, e = (min if mode == "min" else max)(finite, key=lambda t: t[0])
        return e, v

    def as_dict(self):
        return {"epoch": list(self.epochs), **{k: list(v) for k, v in self.history.items()}}

    def diagnose(self, **thresholds):
        """Read the curves like a practitioner; returns a :class:`~rustdl.train.diagnosis.Diagnosis`."""
        from .diagnosis import diagnose

        return diagnose(self, **thresholds)

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epochs)}, last={last})"


def _resolve_mode(monitor, mode):
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return "min" if ("loss" in monitor or "error" in monitor) else "max"
