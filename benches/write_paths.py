"""rustdl against PyTorch on the write paths of issue 24: x.clone(), x + y,
torch.add(x, y, out=z) on 4096x4096 float32, softmax(4096x1000, dim=1);
samples interleaved (compare.timeit), median ms and the speed ratio.

    PYTHONPATH=python /work/torchenv/bin/python benches/write_paths.py THREADS [ROWS]

To compare with a PyTorch whose allocator reuses freed memory (no page faults
on fresh 64 MB buffers), run with MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=100000000000 MALLOC_TOP_PAD_=1000000000.
"""

import os
import sys

import rustdl as R
import torch as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import timeit


def rows(lib):
    x, y, z = lib.randn(4096, 4096), lib.randn(4096, 4096), lib.empty(4096, 4096)
    s = lib.randn(4096, 1000)
    return {
        "clone": lambda: x.clone().data_ptr(),
        "add": lambda: (x + y).data_ptr(),
        "add_out": lambda: lib.add(x, y, out=z),
        "softmax": lambda: lib.softmax(s, 1),
    }


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    R.set_num_threads(threads)
    T.set_num_threads(threads)
    r, t = rows(R), rows(T)
    for k in sys.argv[2].split(",") if len(sys.argv) > 2 else r:
        a, b = timeit([r[k], t[k]], 9)
        print(f"{k} threads={threads} rustdl {a * 1e3:.2f} ms torch {b * 1e3:.2f} ms ratio {b / a:.2f}", flush=True)


if __name__ == "__main__":
    main()
