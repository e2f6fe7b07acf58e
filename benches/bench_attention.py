"""Attention side by side with PyTorch (each library in fresh processes,
rounds alternating): causal scaled_dot_product_attention forward+backward at
(16, 8, 256, 64), and a TransformerEncoderLayer(256, 4, 1024, dropout=0,
batch_first=True) AdamW training step on (16, 128, 256).

    PYTHONPATH=python /work/torchenv/bin/python benches/bench_attention.py [--threads 2] [--rounds 3]

Prints ms per call and rustdl's speed relative to PyTorch (> 1: rustdl faster).
"""

import argparse
import importlib
import importlib.util
import statistics
import subprocess
import sys


def sdpa_causal_fb(lib):
    lib.manual_seed(0)
    q, k, v = (lib.randn(16, 8, 256, 64, requires_grad=True) for _ in range(3))
    g = lib.randn(16, 8, 256, 64)

    def fn():
        out = lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        out.backward(g)

    return fn


def encoder_layer_adamw_step(lib):
    lib.manual_seed(0)
    layer = lib.nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True)
    opt = lib.optim.AdamW(layer.parameters(), lr=1e-4)
    x = lib.randn(16, 128, 256)

    def fn():
        opt.zero_grad()
        layer(x).square().mean().backward()
        opt.step()

    return fn


WORKLOADS = [sdpa_causal_fb, encoder_layer_adamw_step]


def worker(lib_name, workload, threads, reps):
    """Median ms per call of one workload in this (fresh) process."""
    import statistics
    import time

    lib = importlib.import_module(lib_name)
    lib.set_num_threads(threads)
    fn = {w.__name__: w for w in WORKLOADS}[workload](lib)
    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    print(statistics.median(times) * 1e3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], int(args.worker[2]), int(args.worker[3]))
        return
    libs = ["rustdl"]
    if importlib.util.find_spec("torch") is not None:
        libs.append("torch")
    else:
        print("(PyTorch not importable: rustdl only)", file=sys.stderr)
    print(f"| workload | threads | {' | '.join(n + ' ms' for n in libs)} | rustdl speed / torch |")
    print("|---|---|" + "---|" * len(libs) + "---|")
    for make in WORKLOADS:
        # each library in its own process (one process's idle threads slow
        # the other library), rounds alternating so load hits both alike
        runs = {n: [] for n in libs}
        for _ in range(args.rounds):
            for n in libs:
                out = subprocess.run([sys.executable, __file__, "--worker", n, make.__name__, str(args.threads),
                                      str(args.reps)], capture_output=True, text=True, check=True)
                runs[n].append(float(out.stdout.split()[-1]))
        ms = [statistics.median(runs[n]) for n in libs]
        ratio = f"{ms[1] / ms[0]:.2f}x" if len(ms) > 1 else ""
        cells = " | ".join(f"{m:.1f}" for m in ms)
        print(f"| {make.__name__} | {args.threads} | {cells} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
