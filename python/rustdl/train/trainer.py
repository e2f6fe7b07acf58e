"""``Trainer``: the PyTorch training loop, with metrics, callbacks, progress bars and logging."""

from __future__ import annotations

import math
import sys

import numpy as np

from .. import _C
from .._grad_mode import no_grad
from .callbacks import Callback, TensorBoardLogger
from .history import History
from .plateau_analysis import PlateauAnalyzer

__all__ = ["Trainer", "accuracy", "resolve_metrics", "top_k_accuracy"]


# ------------------------------------------------------------------ metrics
def _np(x):
    return x.detach().numpy() if isinstance(x, _C.Tensor) else np.asarray(x)


def accuracy(outputs, targets):
    """Fraction of correct predictions. ``outputs``: logits ``(N, C)`` (argmax) or ``(N,)`` / ``(N, 1)``
    binary logits (``> 0``); ``targets``: class indices, or one-hot / probabilities ``(N, C)``."""
    out, tgt = _np(outputs), _np(targets)
    if out.ndim >= 2 and out.shape[1] > 1:
        pred = out.argmax(axis=1)
        if tgt.ndim == out.ndim and tgt.shape == out.shape:
            tgt = tgt.argmax(axis=1)
    else:
        pred = (out.reshape(out.shape[0], -1)[:, 0] > 0).astype(np.int64) if out.ndim else (out > 0)
        tgt = (tgt.reshape(tgt.shape[0], -1)[:, 0] > 0.5).astype(np.int64) if tgt.ndim else tgt
    return float((pred.reshape(-1) == tgt.reshape(-1)).mean()) if pred.size else math.nan


def top_k_accuracy(k):
    def top_k(outputs, targets):
        out, tgt = _np(outputs), _np(targets).reshape(-1)
        kk = min(k, out.shape[1])
        topk = np.argpartition(-out, kk - 1, axis=1)[:, :kk]
        return float((topk == tgt[:, None]).any(axis=1).mean())

    top_k.__name__ = f"top{k}"
    return top_k


_BUILTIN = {"accuracy": accuracy, "acc": accuracy}


def resolve_metrics(metrics):
    """``('accuracy', 'top5', my_fn)`` or ``{'name': fn}`` -> ordered ``{name: fn(outputs, targets)}``."""
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        return {str(k): next(iter(resolve_metrics([v]).values())) for k, v in metrics.items()}
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    out = {}
    for m in metrics:
        if isinstance(m, str):
            key = m.lower()
            if key in _BUILTIN:
                out["accuracy" if key == "acc" else key] = _BUILTIN[key]
            elif key.startswith("top") and key[3:].isdigit():
                out[key] = top_k_accuracy(int(key[3:]))
            else:
                raise ValueError(f"unknown metric '{m}' (use 'accuracy', 'topK' or a callable(outputs, targets))")
        elif callable(m):
            out[getattr(m, "__name__", type(m).__name__)] = m
        else:
            raise TypeError(f"a metric must be a name or a callable, got {type(m).__name__}")
    return out


def _split_batch(batch):
    if isinstance(batch, dict):
        keys = list(batch)
        return batch[keys[0]], batch[keys[1]] if len(keys) > 1 else None
    if isinstance(batch, (list, tuple)):
        if len(batch) == 2:
            return batch[0], batch[1]
        if len(batch) == 1:
            return batch[0], None
        return tuple(batch[:-1]), batch[-1]
    return batch, None


def _batch_size(x, y):
    for t in (y, x):
        if isinstance(t, _C.Tensor) and t.dim() > 0:
            return int(t.shape[0])
        if isinstance(t, (list, tuple)) and t:
            return _batch_size(t[0], None)
    return 1


def _len(loader):
    try:
        return len(loader)
    except TypeError:
        return None


class _Mean:
    def __init__(self):
        self.total = 0.0
        self.n = 0

    def add(self, value, n):
        self.total += float(value) * n
        self.n += n

    @property
    def value(self):
        return self.total / self.n if self.n else math.nan


# ------------------------------------------------------------------ trainer
class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn(outputs, targets)``.

    Loaders are any iterables of ``(inputs, targets)`` batches (e.g. ``DataLoader``).
    ``scheduler`` steps once per epoch (``ReduceLROnPlateau`` gets the val loss, else the
    train loss) or per batch with ``scheduler_interval='step'``. ``grad_clip`` clips the
    total gradient norm. ``logger`` is a ``SummaryWriter``. ``progress``: ``True`` shows tqdm
    bars only on a TTY, ``False`` never, ``'always'`` always.
    ``analyze_plateaus``: ``True`` (or a dict of options, see
    :data:`~rustdl.train.plateau_analysis.PLATEAU_DEFAULTS`) runs
    :func:`rustdl.analysis.critical_point` on a training batch when the loss plateaus with
    small gradients; the diagnosis then says whether it is a saddle point or a minimum, and
    ``trainer.plateau_reports`` keeps ``(epoch, report)`` (``report.escape(step)``).
    """

    def __init__(self, model, optimizer, loss_fn, metrics=("accuracy",), scheduler=None, grad_clip=None,
                 callbacks=(), logger=None, progress=True, scheduler_interval="epoch", stop_on_nan=True,
                 analyze_plateaus=False):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.metrics = resolve_metrics(metrics)
        self.scheduler = scheduler
        self.grad_clip = grad_clip
        self.callbacks = list(callbacks)
        self.logger = logger
        if logger is not None and not any(isinstance(c, TensorBoardLogger) for c in self.callbacks):
            self.callbacks.append(TensorBoardLogger(logger))
        for c in self.callbacks:
            if not isinstance(c, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(c).__name__}")
        self.progress = progress
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError("scheduler_interval must be 'epoch' or 'step'")
        self.scheduler_interval = scheduler_interval
        self.stop_on_nan = stop_on_nan
        self.plateau_analyzer = PlateauAnalyzer(analyze_plateaus) if analyze_plateaus else None
        self.plateau_reports = []
        self._last_batch = None
        self._mean_grad_norm = math.nan
        self.history = History()
        self.stop_training = False
        self.epoch = 0
        self.global_step = 0

    # ---------------------------------------------------------- helpers
    def _bar(self, iterable, total, desc, leave):
        from tqdm.auto import tqdm

        disable = {True: None, False: True, "always": False}.get(self.progress, None)
        return tqdm(iterable, total=total, desc=desc, leave=leave, disable=disable, dynamic_ncols=True,
                    file=sys.stderr)

    def _forward(self, x):
        return self.model(*x) if isinstance(x, tuple) else self.model(x)

    def _params(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def _grad_norm(self):
        sq = 0.0
        for p in self._params():
            if p.grad is not None:
                g = p.grad.detach().numpy().astype(np.float64)
                sq += float((g * g).sum())
        return math.sqrt(sq)

    def _lr(self):
        try:
            return float(self.optimizer.param_groups[0]["lr"])
        except (AttributeError, IndexError, KeyError, TypeError):
            return math.nan

    def _call(self, hook, *args):
        for c in self.callbacks:
            getattr(c, hook)(self, *args)

    def _step_scheduler(self, logs=None):
        s = self.scheduler
        if s is None:
            return
        if type(s).__name__ == "ReduceLROnPlateau":
            if logs is None:
                return
            value = logs.get("val_loss", logs.get("train_loss"))
            if value is not None and math.isfinite(value):
                s.step(value)
        else:
            s.step()

    # ---------------------------------------------------------- training
    def train_epoch(self, loader, epoch=None, epochs=None):
        """One pass over ``loader``; returns ``{'train_loss': ..., 'train_<metric>': ..., 'grad_norm': ...}``."""
        self.model.train()
        loss_m, metric_m = _Mean(), {k: _Mean() for k in self.metrics}
        gnorms = []
        desc = f"Epoch {epoch}/{epochs}" if epoch is not None else "train"
        bar = self._bar(loader, _len(loader), desc, leave=True)
        nonfinite = False
        try:
            for batch in bar:
                x, y = _split_batch(batch)
                n = _batch_size(x, y)
                self.optimizer.zero_grad()
                out = self._forward(x)
                loss = self.loss_fn(out, y)
                lv = float(loss.item())
                if not math.isfinite(lv):
                    loss_m.add(lv, n)
                    nonfinite = True
                    if self.stop_on_nan:
                        break
                    continue
                loss.backward()
                if self.grad_clip is not None:
                    from ..nn.utils import clip_grad_norm_

                    gn = float(clip_grad_norm_(self._params(), self.grad_clip))
                else:
                    gn = self._grad_norm()
                gnorms.append(gn)
                if self.plateau_analyzer is not None:
                    self._last_batch = (x, y)
                self.optimizer.step()
                if self.scheduler_interval == "step":
                    self._step_scheduler()
                loss_m.add(lv, n)
                with no_grad():
                    for k, fn in self.metrics.items():
                        metric_m[k].add(float(fn(out.detach(), y)), n)
                self.global_step += 1
                postfix = {"loss": f"{loss_m.value:.4f}"}
                postfix.update({k: f"{m.value:.4f}" for k, m in metric_m.items()})
                bar.set_postfix(postfix, refresh=False)
                self._call("on_batch_end", self.global_step, {"loss": lv})
        finally:
            bar.close()
        logs = {"train_loss": math.nan if nonfinite else loss_m.value}
        logs.update({f"train_{k}": m.value for k, m in metric_m.items()})
        finite_g = [g for g in gnorms if math.isfinite(g)]
        self._mean_grad_norm = sum(finite_g) / len(finite_g) if finite_g else math.nan
        if gnorms:
            logs["grad_norm"] = max(finite_g) if finite_g else math.nan
        return logs

    def evaluate(self, loader, prefix=""):
        """Mean loss and metrics over ``loader`` (model in eval mode, no grad)."""
        self.model.eval()
        loss_m, metric_m = _Mean(), {k: _Mean() for k in self.metrics}
        with no_grad():
            for batch in loader:
                x, y = _split_batch(batch)
                n = _batch_size(x, y)
                out = self._forward(x)
                if self.loss_fn is not None and y is not None:
                    loss_m.add(float(self.loss_fn(out, y).item()), n)
                for k, fn in self.metrics.items():
                    metric_m[k].add(float(fn(out, y)), n)
        res = {f"{prefix}loss": loss_m.value}
        res.update({f"{prefix}{k}": m.value for k, m in metric_m.items()})
        return res

    def predict(self, loader):
        """Concatenated model outputs over ``loader`` (batches may be ``(inputs, targets)`` or inputs)."""
        self.model.eval()
        outs = []
        with no_grad():
            for batch in loader:
                x = _split_batch(batch)[0] if isinstance(batch, (list, tuple, dict)) else batch
                outs.append(self._forward(x).detach())
        if not outs:
            return _C.zeros(0)
        return _C.cat(outs, 0)

    def fit(self, train_loader, val_loader=None, epochs=1):
        """Train for ``epochs`` epochs; returns the :class:`History` (also ``self.history``)."""
        self.stop_training = False
        self._call("on_fit_start")
        start = self.epoch
        try:
            for epoch in range(start + 1, start + epochs + 1):
                self.epoch = epoch
                self._call("on_epoch_start", epoch)
                logs = self.train_epoch(train_loader, epoch, start + epochs)
                if val_loader is not None and math.isfinite(logs["train_loss"]):
                    logs.update(self.evaluate(val_loader, prefix="val_"))
                elif val_loader is not None:
                    logs["val_loss"] = math.nan
                logs["lr"] = self._lr()
                if self.scheduler_interval == "epoch":
                    self._step_scheduler(logs)
                self._call("on_epoch_end", epoch, logs)
                self.history.log(epoch, logs)
                if self.plateau_analyzer is not None:
                    report = self.plateau_analyzer.after_epoch(self, epoch, self._mean_grad_norm, self._last_batch)
                    if report is not None:
                        self.plateau_reports.append((epoch, report))
                if not math.isfinite(logs["train_loss"]) and self.stop_on_nan:
                    self.stop_training = True
                if self.stop_training:
                    break
        finally:
            self._call("on_fit_end")
            if self.logger is not None:
                self.logger.flush()
        return self.history

    def report(self, **thresholds):
        """The practitioner's reading of the curves (see :meth:`History.diagnose`) as text."""
        return str(self.history.diagnose(**thresholds))
