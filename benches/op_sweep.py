"""A sweep of common tensor ops, rustdl against PyTorch in one process.

    PYTHONPATH=python /work/torchenv/bin/python benches/op_sweep.py [--threads 1]

Each op runs on both libraries in turn (blocks of calls, best of 5), and the
table gives milliseconds and PyTorch/rustdl (above 1: rustdl faster). Without
PyTorch importable only rustdl's times are printed. This is where ops
outside compare.py's workloads show up when they fall behind (session 8:
cat, index_select, embedding, x ** 2 and topk were 6-47x slower, all from a
fresh allocation per call, powf per element or a full sort).
"""

import argparse
import importlib
import time

from computed import computed


def cases(lib):
    F = lib.nn.functional
    lib.manual_seed(0)
    a, b, v = lib.randn(1024, 1024), lib.randn(1024, 1024), lib.randn(1024)
    img, seq = lib.randn(32, 64, 32, 32), lib.randn(64, 128, 512)
    idx, emb = lib.randint(0, 1000, (4096,)), lib.randn(1000, 256)
    zeros_idx = lib.zeros(1024, 10, dtype=lib.int64)
    return {
        "sum": lambda: a.sum(),
        "sum(dim=1)": lambda: a.sum(1),
        "sum(dim=0)": lambda: a.sum(0),
        "mean(dim=-1)": lambda: seq.mean(-1),
        "max(dim=1)": lambda: a.max(1),
        "argmax(dim=1)": lambda: a.argmax(1),
        "softmax": lambda: F.softmax(seq, -1),
        "log_softmax": lambda: F.log_softmax(seq, -1),
        "t().contiguous()": lambda: a.t().contiguous(),
        "permute().contiguous()": lambda: img.permute(0, 2, 3, 1).contiguous(),
        "cat(dim=0)": lambda: lib.cat([a, b], 0),
        "cat(dim=1)": lambda: lib.cat([a, b], 1),
        "stack": lambda: lib.stack([a, b]),
        "x + row (broadcast)": lambda: a + v,
        "mul_(number)": lambda: a.mul_(1.0),
        "where": lambda: lib.where(a > 0, a, b),
        "clamp": lambda: a.clamp(-1, 1),
        "exp": lambda: a.exp(),
        "tanh": lambda: a.tanh(),
        "sigmoid": lambda: a.sigmoid(),
        "abs().sqrt()": lambda: a.abs().sqrt(),
        "x ** 2": lambda: a ** 2,
        "index_select": lambda: emb.index_select(0, idx),
        "embedding": lambda: F.embedding(idx, emb),
        "gather": lambda: a.gather(1, zeros_idx),
        "avg_pool2d 3/2/1": lambda: F.avg_pool2d(img, 3, 2, 1),
        "max_pool2d 2": lambda: F.max_pool2d(img, 2),
        "adaptive_avg_pool2d 1": lambda: F.adaptive_avg_pool2d(img, 1),
        "batch_norm (eval)": lambda: F.batch_norm(img, lib.zeros(64), lib.ones(64), None, None, False),
        "dropout": lambda: F.dropout(a, 0.5, True),
        "layer_norm": lambda: F.layer_norm(seq, (512,)),
        "bmm": lambda: lib.bmm(seq[:8], seq[:8].transpose(1, 2)),
        "matrix @ vector": lambda: a @ v,
        "norm": lambda: a.norm(),
        "cumsum": lambda: a.cumsum(1),
        "sort(dim=1)": lambda: a.sort(1),
        "topk(10)": lambda: a.topk(10, 1),
        "randn": lambda: lib.randn(1024, 1024),
        "zeros": lambda: lib.zeros(1024, 1024),
        "arange": lambda: lib.arange(1000000),
        "(x > 0).sum()": lambda: (a > 0).sum(),
        "masked_fill": lambda: a.masked_fill(a > 0, 0.0),
        "to(float64)": lambda: a.to(lib.float64),
        "flip": lambda: a.flip(0),
    }


def best_ms(fn, reps=5, calls=5):
    for _ in range(2):
        computed(fn())
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(calls):
            computed(fn())
        best = min(best, (time.perf_counter() - t) / calls)
    return best * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    libs = {"rustdl": importlib.import_module("rustdl")}
    try:
        libs["torch"] = importlib.import_module("torch")
    except ImportError:
        print("PyTorch is not importable here: rustdl's times only")
    for lib in libs.values():
        lib.set_num_threads(args.threads)
    ops = {name: cases(lib) for name, lib in libs.items()}
    print(f"threads: {args.threads}\n")
    print("| op | rustdl ms | torch ms | torch/rustdl |")
    print("|---|---|---|---|")
    for op in ops["rustdl"]:
        times = {name: best_ms(ops[name][op]) for name in libs}
        r, t = times["rustdl"], times.get("torch")
        tail = f"{t:.3f} | {t / r:.2f}" if t is not None else "- | -"
        print(f"| {op} | {r:.3f} | {tail} |")


if __name__ == "__main__":
    main()
