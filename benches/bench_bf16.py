"""bfloat16 side by side with PyTorch: bf16 matmul 2048 (and f32 for
reference), and MLP / VGG-ish training steps under CPU autocast(bfloat16).

    /work/torchenv/bin/python benches/bench_bf16.py [--threads 2] [--quick]

(run from the repository root with PYTHONPATH=python). Each library runs in
its own worker process and the two take turns (benches/compare.py's `Worker`
and `timeit`; `--same-process` runs both here); ratio = PyTorch time /
rustdl time (> 1: rustdl faster)."""

import argparse
import gc
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from compare import InWorker, Worker, timeit


def matmul(dtype_name, n):
    def make(lib):
        dtype = getattr(lib, dtype_name)
        lib.manual_seed(0)
        a, b = lib.randn(n, n).to(dtype), lib.randn(n, n).to(dtype)
        return (lambda: a @ b), 2 * n**3 / 1e9, "GFLOP/s"

    make.__name__ = f"matmul_{dtype_name}_{n}"
    return make


def _autocast_step(lib, model, opt, x, y):
    def fn():
        opt.zero_grad()
        with lib.autocast("cpu", dtype=lib.bfloat16):
            loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return fn


def mlp_autocast(lib):
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x, y = lib.randn(128, 784), lib.randint(0, 10, (128,))
    return _autocast_step(lib, model, opt, x, y), 128, "samples/s"


def wide_mlp_autocast(lib):
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(1024, 2048), nn.ReLU(), nn.Linear(2048, 2048), nn.ReLU(), nn.Linear(2048, 10))
    opt = lib.optim.SGD(model.parameters(), lr=1e-3)
    x, y = lib.randn(256, 1024), lib.randint(0, 10, (256,))
    return _autocast_step(lib, model, opt, x, y), 256, "samples/s"


def vgg_autocast(lib):
    nn = lib.nn
    lib.manual_seed(0)

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    model = nn.Sequential(*block(3, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 8 * 8, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = lib.randn(64, 3, 32, 32), lib.randint(0, 10, (64,))
    return _autocast_step(lib, model, opt, x, y), 64, "samples/s"


WORKLOADS = [matmul("bfloat16", 2048), matmul("float32", 2048), matmul("bfloat16", 1024),
             mlp_autocast, wide_mlp_autocast, vgg_autocast]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-k", default="")
    ap.add_argument("--same-process", action="store_true")
    args = ap.parse_args()
    import rustdl

    torch = importlib.import_module("torch")
    libs = [("rustdl", rustdl), ("torch", torch)]
    for _, lib in libs:
        lib.set_num_threads(args.threads)
    flags = dict(rustdl._C._cpu_features())
    print(f"rustdl isa {rustdl.backends.cpu._isa()}, bf16 GEMM path {rustdl._C._bgemm_path()}, "
          f"features {flags}; torch {torch.__version__} capability {torch.backends.cpu.get_cpu_capability()}; "
          f"{args.threads} threads; " + ("one process" if args.same_process else "a worker process per library"))
    print("| workload | rustdl | torch | unit | torch time / rustdl time |")
    print("|---|---|---|---|---|")
    workers = None if args.same_process else [Worker(name, __file__) for name, _ in libs]
    for make in WORKLOADS:
        if args.k and args.k not in make.__name__:
            continue
        gc.collect()
        if workers:
            runners = [InWorker(w, make.__name__, args.threads) for w in workers]
            work, unit = runners[0].work, runners[0].unit
        else:
            made = [make(lib) for _, lib in libs]
            runners = [fn for fn, _, _ in made]
            work, unit = made[0][1], made[0][2]
        secs = timeit(runners, 3 if args.quick else 7)
        rates = [work / t for t in secs]
        print(f"| {make.__name__} | {rates[0]:.4g} | {rates[1]:.4g} | {unit} | {secs[1] / secs[0]:.2f}x |",
              flush=True)
    for w in workers or []:
        w.close()


if __name__ == "__main__":
    main()
