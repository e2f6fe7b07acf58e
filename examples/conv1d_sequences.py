"""1-D CNN classifying synthetic waveforms: sine vs square vs sawtooth.

Each example is a length-128 sequence of one of three wave shapes with a random
frequency (1.5-6 cycles per window), random phase, random amplitude and additive
Gaussian noise, so the shape -- not the frequency or phase -- decides the class.
The model stacks Conv1d + BatchNorm1d + ReLU + MaxPool1d blocks, then global
average pooling (nn.AdaptiveAvgPool1d) and a linear classifier. Trained with
Adam on a TensorDataset split by random_split; prints per-epoch train loss and
validation accuracy, then the test accuracy and a per-class breakdown.
Written exactly as a PyTorch script with only the imports swapped.

Run: python examples/conv1d_sequences.py [--epochs 5] [--n-train 3000] [--noise 0.3]

measured: default args, 2 shared cores under CI load: val accuracy 91.8% (epoch 1) ->
99.8% (epoch 5), test accuracy 99.9%; 11 s of training, 13 s wall.
"""

import argparse
import math
import time

import rustdl as torch
from rustdl import nn
from rustdl.utils.data import DataLoader, TensorDataset, random_split

CLASSES = ("sine", "square", "sawtooth")
NUM_CLASSES = len(CLASSES)


def make_waves(n, length, noise, generator):
    """Return (x, y): x of shape (n, 1, length), y of shape (n,) with labels 0..2."""
    y = torch.randint(0, NUM_CLASSES, (n,), generator=generator)
    t = torch.linspace(0, 1, length).unsqueeze(0)                      # (1, L)
    freq = 1.5 + 4.5 * torch.rand(n, 1, generator=generator)           # cycles per window
    phase = torch.rand(n, 1, generator=generator)                      # fraction of a cycle
    amp = 0.5 + torch.rand(n, 1, generator=generator)
    cycles = freq * t + phase                                          # (n, L)
    sine = torch.sin(2 * math.pi * cycles)
    square = torch.sign(sine)
    sawtooth = 2 * (cycles - torch.floor(cycles)) - 1
    waves = torch.stack([sine, square, sawtooth], dim=1)               # (n, 3, L)
    x = waves[torch.arange(n), y]                                      # pick each row's class
    x = amp * x + noise * torch.randn(n, length, generator=generator)
    return x.unsqueeze(1), y


class WaveNet1d(nn.Module):
    def __init__(self, num_classes=NUM_CLASSES, channels=(16, 32, 64)):
        super().__init__()
        layers, in_ch = [], 1
        for out_ch in channels:
            layers += [
                nn.Conv1d(in_ch, out_ch, kernel_size=5, padding=2, bias=False),
                nn.BatchNorm1d(out_ch),
                nn.ReLU(),
                nn.MaxPool1d(2),
            ]
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.classifier = nn.Linear(in_ch, num_classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


@torch.no_grad()
def evaluate(model, loader, num_classes=NUM_CLASSES):
    model.eval()
    correct = torch.zeros(num_classes)
    total = torch.zeros(num_classes)
    for x, y in loader:
        pred = model(x).argmax(dim=1)
        for c in range(num_classes):
            mask = y == c
            total[c] += mask.sum()
            correct[c] += (pred[mask] == c).sum()
    return (correct.sum() / total.sum()).item(), (correct / total).tolist()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=3000, help="train + validation examples")
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    x, y = make_waves(args.n_train, args.length, args.noise, g)
    x_test, y_test = make_waves(args.n_test, args.length, args.noise, g)
    n_val = args.n_train // 5
    train_set, val_set = random_split(TensorDataset(x, y), [args.n_train - n_val, n_val], generator=g)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=256)
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=256)
    print(f"train {len(train_set)}  val {len(val_set)}  test {len(x_test)}  sequence shape {tuple(x.shape[1:])}")

    model = WaveNet1d()
    print(model)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    start = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        total_loss, seen = 0.0, 0
        for xb, yb in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * yb.size(0)
            seen += yb.size(0)
        val_acc, _ = evaluate(model, val_loader)
        print(f"epoch {epoch}: train loss {total_loss / seen:.4f}  val accuracy {100 * val_acc:.2f}%  "
              f"({time.time() - start:.1f} s)")

    test_acc, per_class = evaluate(model, test_loader)
    print(f"test accuracy {100 * test_acc:.2f}%  after {args.epochs} epochs in {time.time() - start:.1f} s")
    for name, acc in zip(CLASSES, per_class):
        print(f"  {name:>8s}: {100 * acc:.2f}%")


if __name__ == "__main__":
    main()
