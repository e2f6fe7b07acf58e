"""Plain PyTorch: build a model on the meta device, materialise it, train it
wrapped in DataParallel under the profiler, and print the profile table.

Runs with `python meta_profile_parallel.py` on PyTorch and
`python -m rustdl meta_profile_parallel.py` on rustdl.
"""

import torch
import torch.nn as nn  # noqa: PLR0402  (the PyTorch idiom these scripts keep)
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile, record_function


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x):
        return self.fc(F.relu(self.conv(x)).flatten(1))


def main():
    torch.manual_seed(0)
    # shapes only: no memory is allocated on the meta device
    with torch.device("meta"):
        model = Net()
        probe = torch.zeros(2, 1, 8, 8)
    assert model.conv.weight.device.type == "meta" and model.conv.weight.is_meta
    print("meta output shape:", tuple(model(probe).shape))
    huge = torch.rand(2**10, 3, 2**16, 2**16, device="meta")
    print("huge meta sum shape:", tuple(huge.sum(dim=(2, 3)).shape))
    try:
        torch.empty(2, 3, device="meta").to("cpu")
    except NotImplementedError as e:
        print("copy out of meta:", e)

    # real storage, then initialise
    model.to_empty(device="cpu")
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.reset_parameters()
    print("materialised on:", model.fc.weight.device.type)

    model = nn.DataParallel(model)
    print("state_dict keys:", list(model.state_dict())[:2])
    x = torch.randn(32, 1, 8, 8)
    y = (x.mean(dim=(1, 2, 3)) > 0).long() + (x.std(dim=(1, 2, 3)) > 1).long()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(30):
            with record_function("train_step"):
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))
    keys = {e.key for e in prof.key_averages()}
    print("profiled train_step:", "train_step" in keys, "conv rows:", any("conv" in k for k in keys))
    print(f"final loss: {loss.item():.4f}")


if __name__ == "__main__":
    main()
