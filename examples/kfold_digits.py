"""5-fold cross-validation of an MLP on the digits set with rustdl's Trainer.

    PYTHONPATH=python python examples/kfold_digits.py [--epochs 5] [--folds 5]
"""

import argparse
import time

import numpy as np
import rustdl as torch
from rustdl import nn
from rustdl.train import cross_validate


def load_digits():
    try:
        from rustdl.vision.datasets import Digits

        ds = Digits()  # all 1,797 images, pixel values 0..16
        X = np.stack([np.asarray(ds[i][0], np.float32).reshape(-1) for i in range(len(ds))])
        Y = np.array([int(ds[i][1]) for i in range(len(ds))], np.int64)
    except ImportError:
        import gzip
        from pathlib import Path

        with gzip.open(Path(torch.__file__).parent / "data" / "digits.csv.gz") as fh:
            d = np.loadtxt(fh, delimiter=",")
        X, Y = d[:, :64].astype(np.float32), d[:, 64].astype(np.int64)
    return torch.tensor(X / 16.0), torch.tensor(Y)


class _PySGD:
    """SGD with momentum in plain rustdl ops: a fallback while rustdl.optim's kernels are not built."""

    def __init__(self, params, lr=0.05, momentum=0.9):
        self.param_groups = [{"params": list(params), "lr": lr, "momentum": momentum}]
        self.bufs = {}

    def zero_grad(self, set_to_none=True):
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def step(self):
        g = self.param_groups[0]
        with torch.no_grad():
            for p in g["params"]:
                if p.grad is not None:
                    b = self.bufs.get(id(p))
                    b = p.grad.clone() if b is None else b.mul_(g["momentum"]).add_(p.grad)
                    self.bufs[id(p)] = b
                    p.sub_(g["lr"] * b)


def _optim_works():
    try:
        from rustdl import optim

        p = nn.Parameter(torch.ones(1))
        o = optim.SGD([p], lr=0.1, momentum=0.9)
        p.sum().backward()
        o.step()
        return True
    except (ImportError, AttributeError, NotImplementedError):
        return False


OPTIM_WORKS = _optim_works()


def make_optimizer(params):
    if OPTIM_WORKS:
        from rustdl import optim

        return optim.SGD(params, lr=0.05, momentum=0.9)
    return _PySGD(params, lr=0.05, momentum=0.9)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    X, Y = load_digits()
    if not OPTIM_WORKS:
        print("note: rustdl.optim.SGD is not usable in this build; using a pure-Python SGD fallback")
    print(f"digits: {len(X)} images, {args.folds}-fold CV, {args.epochs} epochs per fold")

    def model_fn():
        return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    t0 = time.time()
    res = cross_validate(model_fn, (X, Y), k=args.folds, optimizer_fn=make_optimizer, loss_fn=nn.CrossEntropyLoss(),
                         epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, progress=True)
    for f in res["folds"]:
        print(f"fold {f['fold'] + 1}: val accuracy {f['val_accuracy']:.4f}  val loss {f['val_loss']:.4f}  "
              f"(train {f['n_train']}, val {f['n_val']})")
    m, s = res["mean"], res["std"]
    print(f"mean val accuracy {m['val_accuracy']:.4f} +- {s['val_accuracy']:.4f}, "
          f"mean val loss {m['val_loss']:.4f}  ({time.time() - t0:.1f}s)")
    print(res["folds"][-1]["history"].diagnose())


if __name__ == "__main__":
    main()
