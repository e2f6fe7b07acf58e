"""Forward + backward time of 3x3 convolutions over a range of plane sizes and channel
counts (the Winograd/im2col choice depends on both). Prints ms per call, best of 7 loops of
10 calls. Compare two builds by running it with each on PYTHONPATH.

Run: PYTHONPATH=python python benches/conv_shapes.py [--threads 1] [--stride 1]
"""

import argparse
import time

import rustdl as torch

F = torch.nn.functional

# (batch, c_in, c_out, plane)
SHAPES = [
    (64, 32, 64, 16),
    (32, 64, 128, 8),
    (128, 8, 16, 28),
    (128, 16, 32, 14),
    (8, 64, 64, 56),
    (4, 32, 32, 112),
    (2, 16, 32, 224),
    (2, 32, 32, 224),
]


def time_shape(n, ci, co, hw, stride):
    x = torch.randn(n, ci, hw, hw, requires_grad=True)
    w = torch.randn(co, ci, 3, 3, requires_grad=True)
    gy = torch.randn(*F.conv2d(x, w, None, stride, 1).shape)

    def step():
        F.conv2d(x, w, None, stride, 1).backward(gy)

    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(10):
            step()
        best = min(best, (time.perf_counter() - start) / 10)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stride", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for n, ci, co, hw in SHAPES:
        ms = time_shape(n, ci, co, hw, args.stride) * 1e3
        print(f"N{n} {ci}->{co} {hw}x{hw} k3 s{args.stride}: {ms:.2f} ms")


if __name__ == "__main__":
    main()
