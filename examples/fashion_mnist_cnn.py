"""A small CNN on Fashion-MNIST, written as a PyTorch script with only the
imports swapped. Trains with progress bars and reports test accuracy.

Data: Debian's package `dataset-fashion-mnist` (apt-get install -y dataset-fashion-mnist),
or the four IDX files under ./data/FashionMNIST/raw/.

Run: python examples/fashion_mnist_cnn.py [--epochs 4] [--batch-size 128]
"""

import argparse
import time

import rustdl as torch
import rustdl.nn.functional as F
from rustdl import nn
from rustdl.train import Trainer
from rustdl.utils.data import DataLoader
from rustdl.vision import datasets, transforms


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = self.dropout(torch.flatten(x, 1))
        return self.fc2(F.relu(self.fc1(x)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    train_set = datasets.FashionMNIST("data", train=True, download=True, transform=transform)
    test_set = datasets.FashionMNIST("data", train=False, download=True, transform=transform)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = Net().to(device)
    print(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler=scheduler)

    start = time.time()
    trainer.fit(train_loader, val_loader=test_loader, epochs=args.epochs)
    elapsed = time.time() - start
    result = trainer.evaluate(test_loader)
    print(f"test accuracy {100 * result['accuracy']:.2f}%  (test loss {result['loss']:.4f}); "
          f"trained {args.epochs} epochs in {elapsed:.0f} s with {torch.get_num_threads()} threads")
    print(trainer.report())
    torch.save(model.state_dict(), "fashion_mnist_cnn.safetensors")
    print("saved model state_dict to fashion_mnist_cnn.safetensors")


if __name__ == "__main__":
    main()
