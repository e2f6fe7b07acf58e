"""Diagnose training curves the way a practitioner reads them.

Each finding names the problem, the numbers that triggered it, and what to try:

* ``nonfinite``  - loss became NaN/inf: gradient explosion / numerical instability;
* ``underfitting`` - training loss still high: model bias or an optimisation problem;
* ``not_converged`` - training loss still falling fast at the last epoch: train longer;
* ``overfitting`` - training loss low but validation loss high;
* ``late_divergence`` - validation loss rose after its best epoch: stop earlier;
* ``saddle_point`` / ``local_minimum`` / ``degenerate_point`` / ``local_maximum`` /
  ``not_critical`` - what the Hessian said where the loss plateaued
  (``Trainer(analyze_plateaus=True)``; see ``plateau_analysis.py``);
* ``ok`` - nothing wrong found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Diagnosis", "Finding", "diagnose"]


@dataclass
class Finding:
    kind: str
    message: str
    evidence: dict = field(default_factory=dict)

    def __str__(self):
        return self.message


class Diagnosis:
    """A list of :class:`Finding`; ``str()`` is the human report."""

    def __init__(self, findings, summary=""):
        self.findings = list(findings)
        self.summary = summary

    @property
    def kinds(self):
        return [f.kind for f in self.findings]

    def __contains__(self, kind):
        return kind in self.kinds

    def __getitem__(self, kind):
        for f in self.findings:
            if f.kind == kind:
                return f
        raise KeyError(kind)

    def __iter__(self):
        return iter(self.findings)

    def __str__(self):
        lines = ["Training diagnosis:"]
        if self.summary:
            lines.append("  " + self.summary)
        lines += [f"  - {f.message}" for f in self.findings]
        return "\n".join(lines)

    __repr__ = __str__


def _fmt(x):
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    if a != 0 and (a < 1e-3 or a >= 1e4):
        return f"{x:.3g}"
    return f"{x:.3f}".rstrip("0").rstrip(".") if a < 10 else f"{x:.2f}"


def _pct(x):
    return f"{100 * x:.1f}%"


def diagnose(
    history,
    high_loss_ratio=0.5,
    low_train_accuracy=0.85,
    overfit_gap=0.1,
    overfit_ratio=1.5,
    overfit_acc_gap=0.05,
    divergence_rise=0.1,
    converging_rate=0.05,
):
    """Findings for a :class:`~rustdl.train.History` (or anything with ``history`` and ``epochs``).

    Thresholds: the training loss is "still high" when the last value is more than
    ``high_loss_ratio`` of the first epoch's, or train accuracy is below ``low_train_accuracy``;
    "overfitting" when val - train loss exceeds ``overfit_gap`` and val/train exceeds
    ``overfit_ratio`` (or train - val accuracy exceeds ``overfit_acc_gap``); "late divergence"
    when the last validation loss is more than ``divergence_rise`` (relative) above its best.
    """
    h = history.history
    epochs = list(history.epochs)
    train = h.get("train_loss", h.get("loss", []))
    val = h.get("val_loss", [])
    tacc = h.get("train_accuracy", [])
    vacc = h.get("val_accuracy", [])
    lr = h.get("lr", [])
    gnorm = h.get("grad_norm", [])
    findings = []
    if not train:
        return Diagnosis([Finding("empty", "no training epochs recorded")])

    # ---- 1. non-finite loss
    bad = [(e, name, v) for name, col in (("train", train), ("val", val)) for e, v in zip(epochs, col) if not math.isfinite(v)]
    if bad:
        e_bad, which, v_bad = min(bad, key=lambda t: t[0])
        finite_before = [(e, v) for e, v in zip(epochs, train) if math.isfinite(v) and e < e_bad]
        ev = {"epoch": e_bad, "which": which, "value": v_bad}
        msg = f"{which} loss became {v_bad} at epoch {e_bad}"
        if finite_before:
            e_last, v_last = finite_before[-1]
            msg += f" (last finite train loss {_fmt(v_last)} at epoch {e_last}"
            if len(finite_before) >= 2 and finite_before[-1][1] > finite_before[0][1]:
                msg += f", rising from {_fmt(finite_before[0][1])} at epoch {finite_before[0][0]}"
            msg += ")"
            ev["last_finite"] = v_last
        if gnorm:
            finite_g = [(e, g) for e, g in zip(epochs, gnorm) if math.isfinite(g)]
            if finite_g:
                eg, g = max(finite_g, key=lambda t: t[1])
                msg += f"; largest finite gradient norm {_fmt(g)} at epoch {eg}"
                ev["max_grad_norm"] = g
        if lr and math.isfinite(lr[0]):
            msg += f"; lr {_fmt(lr[min(epochs.index(e_bad), len(lr) - 1)])}"
        msg += (
            ". Likely gradient explosion / numerical instability: clip gradients (grad_clip=1.0), lower the "
            "learning rate (e.g. 10x), check the inputs for nan/inf and use numerically stable losses "
            "(CrossEntropyLoss on logits, BCEWithLogitsLoss)."
        )
        findings.append(Finding("nonfinite", msg, ev))
        return Diagnosis(findings)

    n = len(train)
    last_e = epochs[-1]
    first, last = train[0], train[-1]
    best_train = min(train)

    # ---- 2. training loss still high (bias / optimisation)
    ratio = last / first if first > 0 else 0.0
    acc_low = bool(tacc) and tacc[-1] < low_train_accuracy
    if (n >= 2 and ratio > high_loss_ratio) or acc_low:
        ev = {"first": first, "last": last, "ratio": ratio}
        parts = [f"train loss {_fmt(last)} at epoch {last_e} is {_pct(ratio)} of the epoch-{epochs[0]} value {_fmt(first)}"]
        if acc_low:
            parts.append(f"train accuracy only {_pct(tacc[-1])}")
            ev["train_accuracy"] = tacc[-1]
        if last > first * 1.05:
            advice = ("the loss went UP: the learning rate is probably too high (lower it), or the loss/targets "
                      "are mismatched")
        else:
            recent = (train[-2] - last) / abs(train[-2]) if n >= 2 and train[-2] != 0 else 0.0
            ev["recent_improvement"] = recent
            if recent > converging_rate:
                advice = (f"still improving {_pct(recent)} in the last epoch, so it is not converged: train longer "
                          "or raise the learning rate")
            else:
                advice = ("plateaued: model bias (try a bigger / deeper model, better features) or an optimisation "
                          "problem (check the learning rate, normalise inputs, try Adam)")
        if lr:
            advice += f"; lr at the end {_fmt(lr[-1])}"
        findings.append(Finding("underfitting", "Training loss still high: " + ", ".join(parts) + f" - {advice}.", ev))
    elif n >= 2:
        recent = (train[-2] - last) / abs(train[-2]) if train[-2] != 0 else 0.0
        if recent > 2 * converging_rate and not val:
            findings.append(Finding(
                "not_converged",
                f"Training loss still falling fast: {_fmt(train[-2])} -> {_fmt(last)} in the last epoch "
                f"({_pct(recent)}): more epochs would likely help.",
                {"recent_improvement": recent},
            ))

    if val:
        # ---- 3. overfitting: low train, high val at the last epoch
        v_last = val[-1]
        gap = v_last - last
        loss_overfit = gap > overfit_gap and (last <= 0 or v_last / max(last, 1e-12) > overfit_ratio)
        acc_gap = (tacc[-1] - vacc[-1]) if (tacc and vacc) else 0.0
        acc_overfit = acc_gap > overfit_acc_gap
        if (loss_overfit or acc_overfit) and "underfitting" not in [f.kind for f in findings]:
            msg = f"train loss {_fmt(last)} vs val loss {_fmt(v_last)} at epoch {last_e} (gap {_fmt(gap)})"
            if tacc and vacc:
                msg += f", train accuracy {_pct(tacc[-1])} vs val {_pct(vacc[-1])}"
            findings.append(Finding(
                "overfitting",
                "Overfitting: " + msg + " - the model memorises the training set: add data augmentation, "
                "regularisation (weight_decay), dropout, a smaller model or more data, and use early stopping.",
                {"train": last, "val": v_last, "gap": gap, "acc_gap": acc_gap, "epoch": last_e},
            ))

        # ---- 4. validation diverging late
        best_i = min(range(len(val)), key=lambda i: val[i])
        best_e, best_v = epochs[best_i], val[best_i]
        rise = (v_last - best_v) / abs(best_v) if best_v != 0 else math.inf
        if best_i < len(val) - 1 and rise > divergence_rise and v_last - best_v > 1e-3:
            msg = (f"val loss rose from {_fmt(best_v)} at epoch {best_e} (best) to {_fmt(v_last)} at epoch {last_e} "
                   f"(+{_pct(rise)})")
            if train[-1] < train[best_i]:
                msg += f" while train loss kept falling ({_fmt(train[best_i])} -> {_fmt(last)})"
            if vacc:
                bi = max(range(len(vacc)), key=lambda i: vacc[i])
                msg += f"; best val accuracy {_pct(vacc[bi])} at epoch {epochs[bi]}"
            findings.append(Finding(
                "late_divergence",
                f"Validation diverging late: {msg} - stop earlier: best epoch {best_e} "
                f"(EarlyStopping(monitor='val_loss', patience={max(1, min(3, len(val) - 1 - best_i - 1))}) "
                "and ModelCheckpoint(save_best_only=True) keep that model).",
                {"best_epoch": best_e, "best_val": best_v, "last_val": v_last, "rise": rise},
            ))

    # ---- 5. the Hessian at plateaus (Trainer(analyze_plateaus=True))
    for cp in getattr(history, "critical_points", None) or []:
        findings.append(_critical_point_finding(cp))

    summary = f"{n} epochs; final train loss {_fmt(last)} (best {_fmt(best_train)})"
    if val:
        summary += f", val loss {_fmt(val[-1])} (best {_fmt(min(val))})"
    if vacc:
        summary += f", val accuracy {_pct(vacc[-1])}"
    if not findings:
        findings.append(Finding(
            "ok",
            "No problem detected: training loss fell "
            f"{_fmt(first)} -> {_fmt(last)}"
            + (f" and validation loss {_fmt(val[-1])} tracks it (gap {_fmt(val[-1] - last)})" if val else "")
            + ".",
            {},
        ))
    return Diagnosis(findings, summary)


_CRITICAL_KINDS = {
    "saddle point": "saddle_point",
    "local minimum": "local_minimum",
    "degenerate": "degenerate_point",
    "local maximum": "local_maximum",
    "not critical": "not_critical",
}


def _critical_point_finding(cp):
    """A plateau's Hessian analysis (a ``plateau_analysis.summarize`` dict) as a finding."""
    approx = "" if cp["exact"] else "~"
    where = (f"Plateau at epoch {cp['epoch']} (batch loss {_fmt(cp['loss'])}, gradient norm {_fmt(cp['grad_norm'])}, "
             f"{cp['n_params']:,} parameters): ")
    ratio = f"minimum ratio {cp['minimum_ratio']:.3f}"
    kind = cp["kind"]
    if kind == "saddle point":
        msg = (f"saddle point: {approx}{cp['n_negative']:,} negative directions, escape along {cp['escape']}; "
               f"a step s along it lowers the loss by about {_fmt(abs(cp['escape_eigenvalue']) / 2)}*s^2 "
               f"({ratio}). More momentum, a larger learning rate or "
               "trainer.plateau_reports[-1][1].escape(step) gets out of it.")
    elif kind == "local minimum":
        msg = (f"local minimum ({ratio}, smallest eigenvalue {_fmt(cp['min_eigenvalue'])}): no direction lowers the "
               "loss to second order, so more epochs will not help; if the loss is too high, change the model, "
               "its initialisation or the learning-rate schedule.")
    elif kind == "degenerate":
        msg = (f"degenerate critical point ({ratio}; {approx}{cp['n_zero']:,} near-zero and "
               f"{approx}{cp['n_negative']:,} negative eigenvalues): flat directions leave the second-order test "
               "undecided - typically redundant parameters (an over-parameterised model).")
    elif kind == "local maximum":
        msg = (f"local maximum ({ratio}): every direction lowers the loss; escape along {cp['escape']}.")
    else:
        msg = (f"not a critical point on the analysed batch (gradient norm {_fmt(cp['grad_norm'])}; {ratio}); "
               "the plateau is a slow region rather than a stationary point: try a larger learning rate.")
    return Finding(_CRITICAL_KINDS.get(kind, "critical_point"), where + msg, dict(cp))
