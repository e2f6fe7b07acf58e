"""rustdl's kernels at each CPU instruction-set level it can run, side by
side with PyTorch (when importable), in one process: the level is switched
with ``rustdl.backends.cpu._set_isa`` between turns, so the rows share the
machine's load (on this shared machine only same-run ratios mean anything).

    PYTHONPATH=python /work/torchenv/bin/python benches/bench_isa.py
    ... benches/bench_isa.py -k sgemm --threads 1,2 --reps 7

Prints a markdown table: one column per level (and torch), GFLOP/s or
GB/s, and each level's speed relative to PyTorch and to AVX2.
"""

import argparse
import importlib

import rustdl
from compare import timeit
from computed import computed
from rustdl.backends import cpu


def sgemm(n):
    def make(lib):
        a, b = lib.randn(n, n), lib.randn(n, n)
        return (lambda: a @ b), 2 * n**3 / 1e9, "GFLOP/s"

    make.__name__ = f"sgemm_{n}"
    return make


def linear_fb(lib):
    x = lib.randn(512, 1024, requires_grad=True)
    layer = lib.nn.Linear(1024, 1024)

    def fn():
        layer(x).sum().backward()

    # forward and two backward products
    return fn, 3 * 2 * 512 * 1024 * 1024 / 1e9, "GFLOP/s"


def exp_16m(lib):
    x = lib.randn(1 << 24)
    return (lambda: computed(x.exp())), 8 * x.numel() / 1e9, "GB/s"


def tanh_16m(lib):
    x = lib.randn(1 << 24)
    return (lambda: computed(x.tanh())), 8 * x.numel() / 1e9, "GB/s"


def sum_16m(lib):
    x = lib.randn(1 << 24)
    return (lambda: x.sum().item()), 4 * x.numel() / 1e9, "GB/s"


def softmax_4k(lib):
    x = lib.randn(4096, 1024)
    return (lambda: computed(lib.softmax(x, dim=1))), 8 * x.numel() / 1e9, "GB/s"


WORKLOADS = [sgemm(1024), sgemm(2048), linear_fb, exp_16m, tanh_16m, sum_16m, softmax_4k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="only workloads whose name contains this")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        torch = None
    levels = [lv for lv in cpu._supported_isas() if lv != "portable"]
    base = cpu._isa()
    cols = [f"rustdl {lv}" for lv in levels] + (["torch"] if torch else [])
    ratios = [f"{lv}/torch" for lv in levels] if torch else []
    if "avx2" in levels and len(levels) > 1:
        ratios += [f"{lv}/avx2" for lv in levels if lv != "avx2"]
    print(f"CPU levels: {levels}; torch: {torch.__version__ if torch else 'absent'}")
    print("| workload | threads | " + " | ".join(cols) + " | unit | " + " | ".join(ratios) + " |")
    print("|" + "---|" * (3 + len(cols) + len(ratios)))
    for make in WORKLOADS:
        if args.k not in make.__name__:
            continue
        for n in [int(t) for t in args.threads.split(",")]:
            rustdl.set_num_threads(n)
            fns, units = [], None
            for lv in levels:
                fn, work, units = make(rustdl)

                def at_level(fn=fn, lv=lv):
                    cpu._set_isa(lv)
                    fn()

                fns.append(at_level)
            if torch:
                torch.set_num_threads(n)
                tfn, work, units = make(torch)
                fns.append(tfn)
            times = timeit(fns, args.reps)
            rates = [work / t for t in times]
            rate = dict(zip(cols, rates))
            row = [f"{r:.1f}" for r in rates]
            if torch:
                row += [f"{rate[f'rustdl {lv}'] / rate['torch']:.2f}" for lv in levels]
            if "avx2" in levels and len(levels) > 1:
                row += [f"{rate[f'rustdl {lv}'] / rate['rustdl avx2']:.2f}" for lv in levels if lv != "avx2"]
            print(f"| {make.__name__} | {n} | " + " | ".join(row[: len(cols)]) + f" | {units} | " + " | ".join(row[len(cols):]) + " |", flush=True)
    cpu._set_isa(base)


if __name__ == "__main__":
    main()
