"""Plain PyTorch + torchvision: a small CNN on synthetic 12x12 grayscale
images (bright top half vs bright bottom half), fed through a Dataset that
applies torchvision transforms to uint8 numpy images.
"""

import numpy as np
import torch
import torch.nn as nn  # noqa: PLR0402  (the PyTorch idiom these scripts keep)
import torch.nn.functional as F
import torchvision.transforms as transforms  # noqa: PLR0402
from torch.utils.data import DataLoader, Dataset


class HalvesDataset(Dataset):
    def __init__(self, n, transform=None, seed=0):
        rng = np.random.default_rng(seed)
        self.labels = rng.integers(0, 2, size=n)
        self.images = rng.integers(0, 120, size=(n, 12, 12)).astype(np.uint8)
        for image, label in zip(self.images, self.labels):
            rows = slice(0, 6) if label == 0 else slice(6, 12)
            image[rows] += 20
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = self.images[i]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[i])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 6 * 6, 2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return F.log_softmax(self.fc(torch.flatten(x, 1)), dim=1)


def main():
    torch.manual_seed(0)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    loader = DataLoader(HalvesDataset(96, transform), batch_size=16, shuffle=True)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _epoch in range(2):
        for data, target in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
    print(f"batch shape: {tuple(data.shape)}")
    print(f"final loss: {loss.item():.4f}")


if __name__ == "__main__":
    main()
