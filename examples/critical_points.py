"""Saddle points or local minima? The Hessian test from the study notes, on real models.

When the loss stops falling the gradient is (nearly) zero: a critical point. Near it
L(θ) ≈ L(θ') + ½ (θ-θ')ᵀ H (θ-θ'), so the Hessian's eigenvalues decide: all positive,
a local minimum; mixed signs, a saddle point, and along an eigenvector u of a negative
eigenvalue λ the loss still falls by about |λ|/2·‖u‖². The "minimum ratio" is the share
of positive eigenvalues.

1. The notes' example: y = w1·w2·x fitted to y = 1 at x = 1. The origin is a saddle
   point (H = [[0, -2], [-2, 0]]); gradient descent started there never moves, one step
   along the escape direction gets it going.
2. A small tanh MLP on the bundled 8x8 digits, trained by full-batch gradient descent:
   the minimum ratio of the Hessian at the points it passes through (all 610
   eigenvalues, exact).

    PYTHONPATH=python python examples/critical_points.py [--steps 400] [--out critical_points.png]

The plot needs matplotlib (optional); without it the numbers are printed only.
"""

import argparse
import gzip
import importlib.util
import time
from pathlib import Path

import numpy as np
import rustdl as torch
from rustdl import nn
from rustdl.analysis import critical_point


# ---------------------------------------------------------------- 1. y = w1 * w2 * x
def two_weight_saddle():
    print("=== 1. y = w1*w2*x fitted to y = 1 at x = 1 ===")
    w1 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    w2 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    x, y = torch.tensor([1.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)

    def loss_fn():
        return ((y - w1 * w2 * x) ** 2).sum()

    report = critical_point(loss_fn, {"w1": w1, "w2": w2})
    print(report)

    def descend(steps, lr=0.1):
        path = []
        for _ in range(steps):
            loss = loss_fn()
            g1, g2 = torch.autograd.grad(loss, [w1, w2])
            with torch.no_grad():
                w1.sub_(lr * g1)
                w2.sub_(lr * g2)
            path.append(loss.item())
        return path

    stuck = descend(20)
    print(f"gradient descent from the saddle, 20 steps: loss {stuck[0]:.4f} -> {stuck[-1]:.4f} (stuck)")
    step = 0.5
    predicted = report.escape(step)
    after = loss_fn().item()
    print(f"escape(step={step}): w1 = {w1.item():.4f}, w2 = {w2.item():.4f}; loss 1 -> {after:.4f} "
          f"(second-order prediction {1 + predicted:.4f})")
    escaped = descend(40)
    print(f"gradient descent after the escape, 40 steps: loss {escaped[0]:.4f} -> {escaped[-1]:.2e}, "
          f"w1*w2 = {(w1 * w2).item():.4f}")
    end = critical_point(loss_fn, {"w1": w1, "w2": w2}, tol=1e-4)
    print(f"at the end: {end.kind}, eigenvalues {np.round(end.eigenvalues, 4).tolist()} "
          "(the minima w1*w2 = 1 form a curve: flat along it, so the second-order test is undecided)\n")
    return stuck + escaped


# ---------------------------------------------------------------- 2. an MLP on digits
def load_digits():
    path = Path(torch.__file__).parent / "data" / "digits.csv.gz"
    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",")
    return table[:, :64].astype(np.float32) / 16.0, table[:, 64].astype(np.int64)


def cross_entropy(logits, targets_one_hot):
    """Mean cross-entropy written with exp/log/sum, whose second derivatives are exact today.
    (F.cross_entropy gives the same values; its double backward is being made exact for issue 23.)
    Subtracting the detached row max changes nothing mathematically (log-softmax is shift
    invariant), so the derivatives stay exact and exp cannot overflow."""
    shifted = logits - logits.detach().amax(dim=1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -(log_probs * targets_one_hot).sum() / logits.shape[0]


def digits_minimum_ratio(steps, hidden, n_train, lr, checkpoints):
    print(f"=== 2. minimum ratio along training: 64-{hidden}-10 tanh MLP on {n_train} digits ===")
    X, Y = load_digits()
    one_hot = np.eye(10, dtype=np.float32)[Y]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, hidden), nn.Tanh(), nn.Linear(hidden, 10))
    n_params = sum(p.numel() for p in model.parameters())
    # full-batch training, so the loss analysed is the one being minimised and its gradient
    # really goes to zero
    xs, ys = torch.tensor(X[:n_train]), torch.tensor(one_hot[:n_train])
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rows = []
    print(f"{n_params} parameters; all Hessian eigenvalues (exact) at {len(checkpoints)} points")
    print(f"{'step':>5} {'loss':>8} {'|grad|':>9} {'min ratio':>9} {'negative':>8} {'smallest λ':>11} "
          f"{'largest λ':>10}  kind")
    for step in range(steps + 1):
        if step in checkpoints:
            report = critical_point(lambda: cross_entropy(model(xs), ys), model.named_parameters(), tol=1e-4)
            rows.append((step, report.loss, report.grad_norm, report.minimum_ratio, report.n_negative))
            print(f"{step:>5} {report.loss:8.4f} {report.grad_norm:9.2e} {report.minimum_ratio:9.3f} "
                  f"{report.n_negative:8d} {report.eigenvalues[0]:11.3e} {report.eigenvalues[-1]:10.3f}  "
                  f"{report.kind}")
        opt.zero_grad()
        cross_entropy(model(xs), ys).backward()
        opt.step()
    print(f"last analysis in full:\n{report}\n")
    return rows


def plot(w_path, rows, out):
    if importlib.util.find_spec("matplotlib") is None:
        print(f"matplotlib is not installed: skipping the plot ({out}); `pip install matplotlib` to get it")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(range(len(w_path)), w_path, marker=".")
    ax1.axvline(20, color="grey", linestyle="--", label="escape along the λ=-2 eigenvector")
    ax1.set(xlabel="step", ylabel="loss", title="y = w1·w2·x: stuck at the saddle, then escaped")
    ax1.legend()
    steps, losses, _, ratios, _ = zip(*rows)
    ax2.plot(steps, ratios, marker="o", color="tab:red", label="minimum ratio")
    ax2.set(xlabel="gradient descent step", ylabel="minimum ratio (share of positive eigenvalues)",
            title="digits MLP: Hessian along training")
    ax3 = ax2.twinx()
    ax3.plot(steps, losses, marker=".", color="tab:blue", label="training loss")
    ax3.set_ylabel("loss")
    handles = ax2.get_legend_handles_labels()[0] + ax3.get_legend_handles_labels()[0]
    ax2.legend(handles, [h.get_label() for h in handles], loc="center right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"plot saved to {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--hidden", type=int, default=8)
    ap.add_argument("--n-train", type=int, default=512)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--out", default="critical_points.png")
    args = ap.parse_args()
    t0 = time.time()
    w_path = two_weight_saddle()
    checkpoints = sorted({0, *(int(args.steps * f) for f in (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0))})
    rows = digits_minimum_ratio(args.steps, args.hidden, args.n_train, args.lr, checkpoints)
    plot(w_path, rows, args.out)
    print(f"done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
