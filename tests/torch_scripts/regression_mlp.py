"""Plain PyTorch: fit a small MLP to a noisy synthetic regression problem.

Runs with `python regression_mlp.py` on PyTorch and `python -m rustdl regression_mlp.py` on rustdl.
"""

import torch
import torch.nn as nn  # noqa: PLR0402  (the PyTorch idiom these scripts keep)
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class MLP(nn.Module):
    def __init__(self, n_in, n_hidden):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, 1)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def main():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    true_w = torch.tensor([[1.5], [-2.0], [0.5], [3.0]])
    y = x @ true_w + 0.1 * torch.randn(256, 1)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)

    model = MLP(4, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    with torch.no_grad():
        initial = F.mse_loss(model(x), y).item()
    for _epoch in range(20):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.mse_loss(model(xb), yb)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        final = F.mse_loss(model(x), y).item()
    print(f"initial loss: {initial:.4f}")
    print(f"final loss: {final:.4f}")


if __name__ == "__main__":
    main()
