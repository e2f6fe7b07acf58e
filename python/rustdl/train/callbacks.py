"""Trainer callbacks: EarlyStopping, ModelCheckpoint, LearningRateMonitor, TensorBoardLogger."""

from __future__ import annotations

import copy
import math
import os

from .history import _resolve_mode

__all__ = ["Callback", "EarlyStopping", "LearningRateMonitor", "ModelCheckpoint", "TensorBoardLogger"]


class Callback:
    """Override any of the hooks; ``trainer.stop_training = True`` ends ``fit`` after the epoch."""

    def on_fit_start(self, trainer):
        pass

    def on_epoch_start(self, trainer, epoch):
        pass

    def on_batch_end(self, trainer, step, logs):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_fit_end(self, trainer):
        pass


def _monitored(logs, monitor):
    if monitor in logs:
        return logs[monitor]
    if "train_" + monitor in logs:
        return logs["train_" + monitor]
    raise KeyError(f"monitor '{monitor}' not in the epoch logs (have: {', '.join(sorted(logs))}); "
                   "pass a val_loader to fit() to monitor validation values")


class _Monitor:
    def __init__(self, monitor, mode, min_delta):
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, value):
        if not math.isfinite(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback, _Monitor):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", patience=3, mode="auto", min_delta=0.0, restore_best_weights=False,
                 verbose=False):
        _Monitor.__init__(self, monitor, mode, min_delta)
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose
        self.wait = 0
        self.best_epoch = None
        self.stopped_epoch = None
        self._best_state = None

    def on_fit_start(self, trainer):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait, self.best_epoch, self.stopped_epoch, self._best_state = 0, None, None, None

    def on_epoch_end(self, trainer, epoch, logs):
        value = _monitored(logs, self.monitor)
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_state = copy.deepcopy(trainer.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience or not math.isfinite(value):
            self.stopped_epoch = epoch
            trainer.stop_training = True
            if self.verbose:
                print(f"EarlyStopping: {self.monitor} did not improve for {self.wait} epochs "
                      f"(best {self.best:.4f} at epoch {self.best_epoch}); stopping at epoch {epoch}")

    def on_fit_end(self, trainer):
        if self.restore_best_weights and self._best_state is not None:
            trainer.model.load_state_dict(self._best_state)


class ModelCheckpoint(Callback, _Monitor):
    """Save ``{'epoch', 'model', 'optimizer', 'scheduler', 'logs'}`` with ``rustdl.save`` (atomic).

    ``path`` may contain format fields, e.g. ``"ckpt/epoch{epoch:02d}-{val_loss:.3f}.pt"``.
    With ``save_best_only`` only improvements of ``monitor`` are written; ``best_path`` and
    ``best_score`` tell where the best one is.
    """

    def __init__(self, path, monitor="val_loss", mode="auto", save_best_only=True, save_weights_only=False,
                 min_delta=0.0):
        _Monitor.__init__(self, monitor, mode, min_delta)
        self.path = os.fspath(path)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.best_path = None
        self.best_score = None
        self.best_epoch = None
        self.saved = []

    def on_fit_start(self, trainer):
        parent = os.path.dirname(os.path.abspath(self.path.split("{", 1)[0] + "x"))
        os.makedirs(parent, exist_ok=True)

    def on_epoch_end(self, trainer, epoch, logs):
        from .. import save

        value = _monitored(logs, self.monitor) if (self.save_best_only or self.monitor in logs) else math.nan
        better = self.improved(value)
        if self.save_best_only and not better:
            return
        path = self.path.format(epoch=epoch, **logs)
        if self.save_weights_only:
            obj = trainer.model.state_dict()
        else:
            obj = {"epoch": epoch, "model": trainer.model.state_dict(), "logs": dict(logs)}
            if trainer.optimizer is not None and hasattr(trainer.optimizer, "state_dict"):
                obj["optimizer"] = trainer.optimizer.state_dict()
            if trainer.scheduler is not None and hasattr(trainer.scheduler, "state_dict"):
                obj["scheduler"] = trainer.scheduler.state_dict()
        save(obj, path)
        self.saved.append(path)
        if better:
            self.best = value
            self.best_path, self.best_score, self.best_epoch = path, value, epoch


class LearningRateMonitor(Callback):
    """Record the learning rate of every param group: ``history['lr']`` / ``history['lr-group1']``,
    ``lrs`` (per epoch or step) and, with a logger, the ``lr`` scalars."""

    def __init__(self, logging_interval="epoch"):
        if logging_interval not in ("epoch", "step"):
            raise ValueError("logging_interval must be 'epoch' or 'step'")
        self.logging_interval = logging_interval
        self.lrs = []

    @staticmethod
    def _lrs(trainer):
        return [float(g["lr"]) for g in trainer.optimizer.param_groups]

    def _log(self, trainer, step, lrs):
        self.lrs.append(lrs if len(lrs) > 1 else lrs[0])
        if trainer.logger is not None:
            for i, lr in enumerate(lrs):
                trainer.logger.add_scalar("lr" if i == 0 else f"lr-group{i}", lr, step)

    def on_batch_end(self, trainer, step, logs):
        if self.logging_interval == "step":
            self._log(trainer, step, self._lrs(trainer))

    def on_epoch_end(self, trainer, epoch, logs):
        lrs = self._lrs(trainer)
        for i, lr in enumerate(lrs[1:], 1):
            logs[f"lr-group{i}"] = lr
        if self.logging_interval == "epoch":
            self._log(trainer, epoch, lrs)


class TensorBoardLogger(Callback):
    """Write epoch losses / metrics / lr, per-step train loss, and weight / gradient histograms
    to a ``SummaryWriter`` (``Trainer(logger=writer)`` adds one automatically)."""

    def __init__(self, writer, log_histograms=True, histogram_every=1, log_steps=True):
        self.writer = writer
        self.log_histograms = log_histograms
        self.histogram_every = max(1, int(histogram_every))
        self.log_steps = log_steps

    def on_batch_end(self, trainer, step, logs):
        if self.log_steps and "loss" in logs and math.isfinite(logs["loss"]):
            self.writer.add_scalar("batch/train_loss", logs["loss"], step)

    def on_epoch_end(self, trainer, epoch, logs):
        w = self.writer
        for key, value in logs.items():
            if not math.isfinite(value):
                continue
            if key.startswith("train_"):
                w.add_scalar(f"{key[6:]}/train", value, epoch)
            elif key.startswith("val_"):
                w.add_scalar(f"{key[4:]}/val", value, epoch)
            else:
                w.add_scalar(key, value, epoch)
        if self.log_histograms and epoch % self.histogram_every == 0:
            for name, p in trainer.model.named_parameters():
                data = p.detach().numpy()
                if data.size and _finite(data):
                    w.add_histogram(f"weights/{name}", data, epoch)
                if p.grad is not None:
                    g = p.grad.detach().numpy()
                    if g.size and _finite(g):
                        w.add_histogram(f"grads/{name}", g, epoch)
        w.flush()


def _finite(arr):
    import numpy as np

    return bool(np.isfinite(arr).all())
