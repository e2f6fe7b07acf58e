"""A typical published PyTorch training script (pytorch/examples' MNIST main.py
shape: Net with conv/dropout/log_softmax, Adadelta + StepLR, F.nll_loss,
`output.argmax(dim=1, keepdim=True)`, `pred.eq(target.view_as(pred)).sum().item()`,
`torch.save(model.state_dict(), ...)`, device probing) runs with only its imports
swapped. Fashion-MNIST stands in for MNIST (same format); a subset keeps it short."""

import os

import pytest
import rustdl as torch
import rustdl.nn.functional as F
from rustdl import nn, optim
from rustdl.optim.lr_scheduler import StepLR
from rustdl.vision import datasets, transforms

DEBIAN = "/usr/share/datasets/fashion-mnist"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(model, device, train_loader, optimizer, epoch):
    model.train()
    losses = []
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    return test_loss, correct / len(test_loader.dataset)


test.__test__ = False  # the script's own helper, not a pytest test


@pytest.mark.skipif(not os.path.isdir(DEBIAN), reason="needs `apt-get install dataset-fashion-mnist`")
def test_mnist_example_script_runs_unchanged(tmp_path):
    use_cuda = torch.cuda.is_available()
    use_mps = torch.backends.mps.is_available()
    assert not use_cuda and not use_mps
    torch.manual_seed(1)
    device = torch.device("cuda" if use_cuda else "cpu")
    train_kwargs = {"batch_size": 64}
    test_kwargs = {"batch_size": 1000}
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset1 = datasets.FashionMNIST(str(tmp_path), train=True, download=True, transform=transform)
    dataset2 = datasets.FashionMNIST(str(tmp_path), train=False, transform=transform)
    dataset1 = torch.utils.data.Subset(dataset1, range(640))
    dataset2 = torch.utils.data.Subset(dataset2, range(1000))
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs, shuffle=True)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    losses = []
    for epoch in range(1, 3):
        losses += train(model, device, train_loader, optimizer, epoch)
        _test_loss, acc = test(model, device, test_loader)
        scheduler.step()
    assert losses[-1] < losses[0]
    assert acc > 0.5, f"accuracy {acc} after 2 short epochs"
    path = tmp_path / "mnist_cnn.pt"
    torch.save(model.state_dict(), str(path))
    again = Net()
    again.load_state_dict(torch.load(str(path)))
    assert torch.equal(again.fc2.weight, model.fc2.weight)
