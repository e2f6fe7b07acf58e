"""rustdl.compile against rustdl eager, side by side in one process (samples interleaved,
benches/compare.py's `timeit`): a training step (zero_grad, forward, cross-entropy,
backward, SGD with momentum) of
- LeNet-5 (conv 5x5 + relu + 2x2 max-pool twice, three linear layers), batch 64,
- an MLP 784-512-256-10, batch 128 (Adam),
each eager, with the model compiled (`rustdl.compile(model)`) and with the whole step
function compiled (`@rustdl.compile`), at 1 and 2 threads. Prints samples/s and
compiled/eager, and checks first that the 5 first losses equal eager's within float32
rounding (relative tolerance 1e-5: compiled graphs may sum in another order, as the fused
conv block's input gradient does; a real divergence is far larger).
At 1 thread it also prints the ratio of process CPU time per step (`time.process_time`),
which a loaded machine does not disturb as it does wall time (time spent descheduled is
not counted); with 2 threads CPU time also counts waiting workers, so only wall time.

    PYTHONPATH=python python3 benches/bench_compile.py [--quick] [--threads 1,2] [-k lenet]
"""

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rustdl
from compare import timeit

nn, F = rustdl.nn, rustdl.nn.functional


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def mlp():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))


LOSS_RTOL = 1e-5  # compiled losses equal eager's within float32 rounding

WORKLOADS = {
    "lenet_train_b64": (lenet, (1, 28, 28), 64, lambda p: rustdl.optim.SGD(p, lr=0.01, momentum=0.9)),
    "mlp_train_b128": (mlp, (784,), 128, lambda p: rustdl.optim.Adam(p, lr=1e-3)),
}


def make_step(name, how):
    make_model, shape, batch, make_opt = WORKLOADS[name]
    rustdl.manual_seed(0)
    model = make_model()
    opt = make_opt(model.parameters())
    x, y = rustdl.randn(batch, *shape), rustdl.randint(0, 10, (batch,))
    run = rustdl.compile(model) if how == "model" else model

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(run(x), y)
        loss.backward()
        opt.step()
        return loss

    return (rustdl.compile(step) if how == "step" else step), batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("-k", default="")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    reps = 5 if args.quick else 15
    hows = ["eager", "model", "step"]
    print("| workload | threads | eager samples/s | compile(model) | compile(step) | model/eager | step/eager "
          "| CPU time model/eager | CPU time step/eager |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in WORKLOADS:
        if args.k not in name:
            continue
        for threads in [int(t) for t in args.threads.split(",")]:
            rustdl.set_num_threads(threads)
            steps = {how: make_step(name, how) for how in hows}
            losses = {how: [steps[how][0]().item() for _ in range(5)] for how in hows}
            if not all(math.isclose(a, b, rel_tol=LOSS_RTOL) for h in hows[1:]
                       for a, b in zip(losses["eager"], losses[h])):
                raise SystemExit(f"{name}: losses differ from eager: {losses}")
            batch = steps["eager"][1]
            ratios = {h: [] for h in hows}
            rates = {h: [] for h in hows}
            for _ in range(args.rounds):  # several rounds: the machine is shared
                secs = timeit([steps[h][0] for h in hows], reps)
                for h, s in zip(hows, secs):
                    rates[h].append(batch / s)
                    ratios[h].append(secs[0] / s)
            r = {h: statistics.median(v) for h, v in rates.items()}
            q = {h: statistics.median(v) for h, v in ratios.items()}
            cpu = cpu_ratios([steps[h][0] for h in hows], reps) if threads == 1 else ["-", "-", "-"]
            print(f"| {name} | {threads} | {r['eager']:.4g} | {r['model']:.4g} | {r['step']:.4g} | "
                  f"{q['model']:.2f} | {q['step']:.2f} | {cpu[1]} | {cpu[2]} |", flush=True)


def cpu_ratios(fns, reps, calls=10):
    """Eager's median process CPU time per call over each function's (taking turns)."""
    times = [[] for _ in fns]
    for _ in range(reps):
        for fn, ts in zip(fns, times):
            fn()
            t = time.process_time()
            for _ in range(calls):
                fn()
            ts.append((time.process_time() - t) / calls)
    med = [statistics.median(ts) for ts in times]
    return [f"{med[0] / m:.3f}" for m in med]


if __name__ == "__main__":
    main()
