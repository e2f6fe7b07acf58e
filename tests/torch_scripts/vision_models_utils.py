"""Plain PyTorch + torchvision: FakeData through transforms and a DataLoader,
a few training steps of torchvision's resnet18, other model builders, and a
batch saved as an image grid with torchvision.utils.

Usage: python vision_models_utils.py OUTPUT_DIR
"""

import os
import sys

import torch
import torch.nn as nn  # noqa: PLR0402  (the PyTorch idiom these scripts keep)
import torchvision
import torchvision.transforms as transforms  # noqa: PLR0402
import torchvision.utils as vutils
from torch.utils.data import DataLoader
from torchvision import datasets, models
from torchvision.models import ResNet18_Weights


def main():
    out_dir = sys.argv[1]
    torch.manual_seed(0)
    transform = transforms.Compose(
        [
            transforms.Resize(40),
            transforms.CenterCrop(32),
            transforms.RandomHorizontalFlip(),
            transforms.ColorJitter(brightness=0.2, contrast=0.2),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )
    dataset = datasets.FakeData(size=32, image_size=(3, 48, 48), num_classes=10, transform=transform)
    loader = DataLoader(dataset, batch_size=8, shuffle=True)

    model = models.resnet18(num_classes=10)
    print("resnet18 parameters:", sum(p.numel() for p in model.parameters()))
    print("state_dict keys:", len(model.state_dict()), next(iter(model.state_dict())))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    model.train()
    for step, (images, labels) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
        print(f"step {step} loss {loss.item():.4f} batch {tuple(images.shape)}")

    model.eval()
    with torch.no_grad():
        for name in ("squeezenet1_1", "mobilenet_v2", "vgg11_bn", "alexnet"):
            net = getattr(models, name)(num_classes=5).eval()
            print(name, tuple(net(torch.randn(1, 3, 64, 64)).shape))

    try:
        models.resnet18(weights=ResNet18_Weights.DEFAULT)
    except Exception as e:  # noqa: BLE001  (torchvision: no network -> URLError; rustdl: RuntimeError)
        print("pretrained refused:", str(e).split(":")[0])

    images, _ = next(iter(loader))
    grid = vutils.make_grid(images, nrow=4, normalize=True, padding=2)
    print("grid shape:", tuple(grid.shape))
    path = os.path.join(out_dir, "grid.png")
    vutils.save_image(images, path, nrow=4, normalize=True)
    print("saved:", os.path.getsize(path) > 0, torchvision.__name__)


if __name__ == "__main__":
    main()
