"""Plain PyTorch: a command-line classifier in the shape of pytorch/examples'
scripts (argparse, accelerator probing, CrossEntropyLoss, SGD + StepLR,
an accuracy check), on two synthetic Gaussian blobs.

`--fail-after-training` makes it exit with status 3 once training is done.
"""

import argparse
import sys

import torch
import torch.nn as nn  # noqa: PLR0402  (the PyTorch idiom these scripts keep)
import torch.nn.functional as F  # noqa: F401  (imported as in most scripts)
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


def make_data(n):
    labels = torch.randint(0, 2, (n,))
    centers = torch.tensor([[-1.0, -1.0], [1.0, 1.0]])
    points = centers[labels] + 0.8 * torch.randn(n, 2)
    return points, labels


def main():
    parser = argparse.ArgumentParser(description="Tiny blob classifier")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-accel", action="store_true", help="disable the accelerator")
    parser.add_argument("--fail-after-training", action="store_true", help="exit with status 3 at the end")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    use_accel = not args.no_accel and torch.accelerator.is_available()
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
    print(f"device: {device}")

    x, y = make_data(200)
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5)

    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            loss = criterion(model(data), target)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(data)
        scheduler.step()
        print(f"epoch {epoch}: loss {total / len(loader.dataset):.4f}")

    model.eval()
    with torch.no_grad():
        pred = model(x.to(device)).argmax(dim=1)
        accuracy = pred.eq(y.to(device)).float().mean().item()
    print(f"accuracy: {accuracy:.3f}")
    print(f"final loss: {total / len(loader.dataset):.4f}")
    if args.fail_after_training:
        sys.exit(3)


if __name__ == "__main__":
    main()
