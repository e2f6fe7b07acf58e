"""Attention side by side with PyTorch (same process, turns interleaved by
compare.timeit): causal scaled_dot_product_attention forward+backward at
(16, 8, 256, 64), and a TransformerEncoderLayer(256, 4, 1024, dropout=0,
batch_first=True) AdamW training step on (16, 128, 256).

    PYTHONPATH=python /work/torchenv/bin/python benches/bench_attention.py [--threads 2] [--quick]

Prints ms per call and rustdl's speed relative to PyTorch (> 1: rustdl faster).
"""

import argparse
import gc
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from compare import timeit  # noqa: E402

import rustdl  # noqa: E402


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    libs = [("rustdl", rustdl)]
    try:
        libs.append(("torch", importlib.import_module("torch")))
    except ImportError:
        print("(PyTorch not importable: rustdl only)", file=sys.stderr)
    for _, lib in libs:
        lib.set_num_threads(args.threads)
    print(f"| workload | threads | {' | '.join(n + ' ms' for n, _ in libs)} | rustdl speed / torch |")
    print("|---|---|" + "---|" * len(libs) + "---|")
    for make in WORKLOADS:
        fns = []
        for _, lib in libs:
            gc.collect()
            fns.append(make(lib))
        secs = timeit(fns, 3 if args.quick else 7, block_seconds=0.2)
        ratio = f"{secs[1] / secs[0]:.2f}x" if len(secs) > 1 else ""
        cells = " | ".join(f"{s * 1e3:.1f}" for s in secs)
        print(f"| {make.__name__} | {args.threads} | {cells} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
