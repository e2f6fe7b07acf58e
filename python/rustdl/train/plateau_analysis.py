"""The Trainer's opt-in look at the Hessian when training stalls.

When the training loss plateaus (relative change below ``rel_change`` over the last
epoch) while the gradients are small (mean batch gradient norm below ``grad_norm``),
:func:`rustdl.analysis.critical_point` runs on one training batch (model in eval
mode) and its summary is kept in ``history.critical_points``; the diagnosis turns
it into "saddle point: N negative directions, escape along …" or "local minimum
(minimum ratio …)". Once per plateau: it runs again only after the loss moved.
"""

from __future__ import annotations

import math

__all__ = ["PLATEAU_DEFAULTS", "PlateauAnalyzer", "summarize"]

PLATEAU_DEFAULTS = {"rel_change": 0.01, "grad_norm": 1e-2, "tol": 1e-5, "exact_max": 2000, "k": 20}


def summarize(epoch, report):
    """The JSON-able part of a report that the diagnosis reads."""
    ev = report.eigenvalues
    return {
        "epoch": epoch,
        "kind": report.kind,
        "loss": report.loss,
        "grad_norm": report.grad_norm,
        "n_params": report.n_params,
        "exact": report.exact,
        "n_negative": report.n_negative,
        "n_zero": report.n_zero,
        "n_positive": report.n_positive,
        "minimum_ratio": report.minimum_ratio,
        "min_eigenvalue": float(ev[0]) if len(ev) else math.nan,
        "max_eigenvalue": float(ev[-1]) if len(ev) else math.nan,
        "escape_eigenvalue": report.escape_eigenvalue,
        "escape": report.describe_escape() if report.escape_direction is not None else None,
    }


class PlateauAnalyzer:
    def __init__(self, options):
        opts = dict(PLATEAU_DEFAULTS)
        if isinstance(options, dict):
            unknown = set(options) - set(PLATEAU_DEFAULTS)
            if unknown:
                raise ValueError(f"unknown analyze_plateaus option(s) {sorted(unknown)}; "
                                 f"known: {sorted(PLATEAU_DEFAULTS)}")
            opts.update(options)
        self.options = opts
        self.in_plateau = False

    def is_plateau(self, train_losses, mean_grad_norm):
        if len(train_losses) < 2 or not all(math.isfinite(v) for v in train_losses[-2:]):
            return False
        prev, last = train_losses[-2], train_losses[-1]
        change = abs(prev - last) / max(abs(prev), 1e-12)
        return change < self.options["rel_change"] and mean_grad_norm < self.options["grad_norm"]

    def after_epoch(self, trainer, epoch, mean_grad_norm, batch):
        """Run the analysis if this epoch starts a plateau; returns the report or None."""
        plateau = batch is not None and self.is_plateau(trainer.history["train_loss"], mean_grad_norm)
        starts = plateau and not self.in_plateau
        self.in_plateau = plateau
        if not starts:
            return None
        from ..analysis import critical_point

        x, y = batch
        model = trainer.model
        was_training = model.training
        model.eval()
        try:
            report = critical_point(
                lambda: trainer.loss_fn(trainer._forward(x), y),
                [(n, p) for n, p in model.named_parameters() if p.requires_grad],
                tol=self.options["tol"], exact_max=self.options["exact_max"], k=self.options["k"],
                grad_tol=self.options["grad_norm"],
            )
        finally:
            model.train(was_training)
        trainer.history.critical_points.append(summarize(epoch, report))
        return report
