"""An MLP (784-256-10) on Fashion-MNIST with rustdl's DataLoader.

Needs the Fashion-MNIST IDX files: Debian's ``apt-get install dataset-fashion-mnist``
(found automatically in /usr/share/datasets/fashion-mnist/) or torchvision's layout
under ``--root`` (``<root>/FashionMNIST/raw/train-images-idx3-ubyte.gz`` ...).

Run: python examples/fashion_mnist_mlp.py [--epochs 3] [--root data]

The script is written exactly as a PyTorch one (``import rustdl as torch``,
``rustdl.vision`` for torchvision). If ``rustdl.optim`` cannot step yet, it
falls back to a hand-written SGD-with-momentum update and says so.
"""

import argparse
import time

import rustdl as torch
import rustdl.nn.functional as F
from rustdl import nn
from rustdl.utils.data import DataLoader, TensorDataset
from rustdl.vision import datasets, transforms


class MLP(nn.Module):
    def __init__(self, hidden=256):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class ManualSGD:
    """SGD with momentum (PyTorch's update rule), used only if rustdl.optim is not usable."""

    def __init__(self, params, lr, momentum=0.9):
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.bufs = [None] * len(self.params)

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            b = self.bufs[i]
            self.bufs[i] = b = p.grad.clone() if b is None else b.mul_(self.momentum).add_(p.grad)
            p.sub_(b * self.lr)


def make_optimizer(model, lr, momentum):
    try:
        from rustdl import optim

        opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        probe = nn.Linear(2, 1)  # check the optimizer can step before training with it
        popt = optim.SGD(probe.parameters(), lr=0.1, momentum=momentum)
        probe(torch.ones(1, 2)).sum().backward()
        popt.step()
        return opt, "rustdl.optim.SGD"
    except Exception as e:  # noqa: BLE001
        print(f"note: rustdl.optim not usable ({type(e).__name__}: {e}); using a manual SGD loop")
        return ManualSGD(model.parameters(), lr, momentum), "manual SGD (momentum)"


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.shape[0]
    model.train()
    return correct / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="data")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--per-sample", action="store_true", help="use the dataset + transforms path, not tensors")
    args = ap.parse_args()

    torch.manual_seed(0)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    train_set = datasets.FashionMNIST(args.root, train=True, transform=tf)
    test_set = datasets.FashionMNIST(args.root, train=False, transform=tf)
    if not args.per_sample:
        # whole dataset as tensors once: the DataLoader then gathers each batch in one call
        def as_tensors(ds):
            x = (ds.data.float().div(255.0).sub(0.2860).div(0.3530)).unsqueeze(1)
            return TensorDataset(x, ds.targets)

        train_set, test_set = as_tensors(train_set), as_tensors(test_set)
    g = torch.Generator()
    g.manual_seed(0)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=g)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = MLP()
    opt, opt_name = make_optimizer(model, args.lr, 0.9)
    print(f"train {len(train_set)} / test {len(test_set)} samples, {len(train_loader)} batches/epoch, {opt_name}")
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        total, n = 0.0, 0
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * y.shape[0]
            n += y.shape[0]
        acc = evaluate(model, test_loader)
        print(f"epoch {epoch}: train loss {total / n:.4f}  test accuracy {acc:.2%}  ({time.perf_counter() - t0:.1f}s)")


if __name__ == "__main__":
    main()
