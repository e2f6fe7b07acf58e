"""The Fashion-MNIST CNN trained data-parallel: DistributedDataParallel + DistributedSampler,
written exactly as a PyTorch DDP script (only the imports name rustdl).

Run on 2 processes of this machine (each gets cores / 2 threads):
    python -m rustdl.distributed.run --nproc-per-node 2 examples/ddp_cnn.py --epochs 2
or with mpirun directly:
    mpirun -n 2 python examples/ddp_cnn.py
or on two machines (run on the first; both need the same paths and Open MPI):
    python -m rustdl.distributed.run --nnodes 2 --nproc-per-node 1 --hosts node1,node2 examples/ddp_cnn.py

Data: Debian's `dataset-fashion-mnist` or the IDX files under ./data/FashionMNIST/raw/;
`--fake-data N` trains on N random images instead (a smoke test without the dataset).
The global batch is --batch-size; each of the W ranks reads batch-size / W samples per step.
"""

import argparse
import time

import rustdl as torch
import rustdl.distributed as dist
import rustdl.nn.functional as F
from rustdl import nn
from rustdl.nn.parallel import DistributedDataParallel as DDP
from rustdl.utils.data import DataLoader
from rustdl.utils.data.distributed import DistributedSampler
from rustdl.vision import datasets, transforms


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def datasets_for(args):
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    if args.fake_data:
        fake = {"image_size": (1, 28, 28), "num_classes": 10, "transform": transform}
        return (datasets.FakeData(args.fake_data, **fake),
                datasets.FakeData(max(100, args.fake_data // 6), random_offset=10**6, **fake))
    return (datasets.FashionMNIST("data", train=True, download=True, transform=transform),
            datasets.FashionMNIST("data", train=False, download=True, transform=transform))


def evaluate(model, loader):
    """Accuracy over this rank's share of the test set, summed over the ranks."""
    model.eval()
    counts = torch.zeros(2)
    with torch.no_grad():
        for x, y in loader:
            counts += torch.tensor([float((model(x).argmax(1) == y).sum()), float(len(y))])
    dist.all_reduce(counts)
    model.train()
    return float(counts[0] / counts[1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128, help="global batch (all ranks together)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fake-data", type=int, default=0)
    args = parser.parse_args()

    dist.init_process_group(backend="gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)
    train_set, test_set = datasets_for(args)
    sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size // world, sampler=sampler)
    test_loader = DataLoader(test_set, batch_size=500, sampler=DistributedSampler(test_set, shuffle=False))

    model = DDP(Net())  # rank 0's initial weights are broadcast to every rank
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    start = time.time()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a different shuffle each epoch, the same on every rank
        for step, (x, y) in enumerate(train_loader):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()  # gradients are averaged over the ranks here
            optimizer.step()
            if rank == 0 and step % 50 == 0:
                print(f"epoch {epoch} step {step}/{len(train_loader)} loss {loss.item():.4f}", flush=True)
        accuracy = evaluate(model, test_loader)
        if rank == 0:
            print(f"epoch {epoch}: test accuracy {100 * accuracy:.2f}% after {time.time() - start:.0f} s "
                  f"({world} ranks x {torch.get_num_threads()} threads)", flush=True)
    if rank == 0:
        torch.save(model.module.state_dict(), "ddp_cnn.safetensors")
        print("saved model.module's state_dict to ddp_cnn.safetensors")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
