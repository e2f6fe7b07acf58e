"""Run the same workloads on rustdl and (when importable) PyTorch, side by side.

Every workload is written once against the PyTorch API and run with `lib` bound
to either library, with 1 and 2 threads. Prints a markdown table with times,
rates, % of the machine's measured peak, and the rustdl/PyTorch speed ratio
(> 1 means rustdl is faster).

    python benches/compare.py            # all workloads
    python benches/compare.py --quick    # fewer repetitions
    python benches/compare.py -k sgemm   # only workloads whose name contains "sgemm"

Each library runs in its own worker process and the two take turns (see
`InWorker`); `--same-process` runs both here, as sessions up to 17 did.

PyTorch is optional (install it into a separate virtual environment for
benchmarking; rustdl never needs it).
"""

import argparse
import gc
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from computed import computed

MB = 1e6


class Calls:
    """Timed calls of a function in this process."""

    def __init__(self, fn):
        self.fn = fn

    def first_call(self, warmup):
        for _ in range(warmup):
            self.fn()
        t = time.perf_counter()
        self.fn()
        return time.perf_counter() - t

    def block(self, calls):
        """Seconds per call over `calls` back-to-back calls, after one untimed call."""
        self.fn()
        t = time.perf_counter()
        for _ in range(calls):
            self.fn()
        return (time.perf_counter() - t) / calls


class InProcess(Calls):
    """A workload made and called in this process (`--same-process`, and inside a worker)."""

    def __init__(self, lib, make, threads):
        set_threads(lib, threads)
        gc.collect()
        fn, self.work, self.unit = make(lib)
        super().__init__(fn)


class InWorker:
    """A workload run by a library's own worker process (the default). Each
    library then has the process to itself, as in a user's program: measured
    in one process, PyTorch's OpenMP threads and rustdl's workers shared the
    2 vCPUs, and the heavier 2-thread rustdl rows read up to 40% below what
    the same rows gave alone. Only one worker computes at a time; the other
    waits on its pipe."""

    def __init__(self, worker, name, threads, args=(), keep_others=False):
        """Makes the workload `name` (maker arguments `args`) in `worker`. The
        worker drops the workloads it made before unless `keep_others`."""
        self.worker = worker
        reply = worker.ask(op="make", name=name, threads=threads, args=list(args), keep_others=keep_others)
        self.id, self.work, self.unit = reply["id"], reply["work"], reply["unit"]

    def first_call(self, warmup):
        return self.worker.ask(op="first_call", id=self.id, warmup=warmup)["seconds"]

    def block(self, calls):
        return self.worker.ask(op="block", id=self.id, calls=calls)["seconds"]


class Worker:
    """A child process that imports one library and runs workloads on request
    (one JSON line per request and per reply over its stdin/stdout). The
    workloads are the `WORKLOADS` (a list of named makers, or a dict name ->
    maker) of the benchmark script `script`: this one by default."""

    def __init__(self, lib_name, script=__file__):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", lib_name, "--workloads-of",
             os.path.abspath(script)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def ask(self, **request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker exited (code {self.proc.wait()})")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def _workloads_of(script):
    """name -> maker for the benchmark script at `script`."""
    if os.path.abspath(script) == os.path.abspath(__file__):
        workloads = WORKLOADS
    else:
        spec = importlib.util.spec_from_file_location(Path(script).stem, script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        workloads = module.WORKLOADS
    if isinstance(workloads, dict):
        return workloads
    return {w.__name__: w for w in workloads}


def serve(lib_name, script):
    """Worker process main loop: keeps the current workload between requests.
    A maker returns (fn, work, unit), or just fn (then rates are calls/s)."""
    lib = importlib.import_module(lib_name)
    makers = _workloads_of(script)
    runners = {}
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "make":
            if not req["keep_others"]:
                runners.clear()
            set_threads(lib, req["threads"])
            gc.collect()
            made = makers[req["name"]](lib, *req["args"])
            fn, work, unit = made if isinstance(made, tuple) else (made, 1, "calls/s")
            runner_id = len(runners)
            runners[runner_id] = Calls(fn)
            reply = {"id": runner_id, "work": work, "unit": unit}
        elif req["op"] == "first_call":
            reply = {"seconds": runners[req["id"]].first_call(req["warmup"])}
        else:
            reply = {"seconds": runners[req["id"]].block(req["calls"])}
        print(json.dumps(reply), flush=True)


def timeit(runners, reps, warmup=2, block_seconds=0.05, gap_seconds=0.02):
    """Median seconds per call of each runner (a plain function, `Calls`, or an
    `InWorker`, which runs in its library's own process). The runners take
    turns (a, b, a, b, ...) so that load on this shared machine hits all
    alike; each turn is a block of back-to-back calls lasting about
    `block_seconds`, as in a training loop, after a pause of `gap_seconds`
    and one untimed call. Blocks matter here: PyTorch's OpenMP threads
    busy-wait after a parallel region, and an idle virtual CPU takes long to
    get back, so single calls in turn would measure the other library's
    leftovers. The pause lets that busy-waiting end before the other
    library's turn: without it rustdl's 2-thread 256^3 product measured 84
    GFLOP/s after PyTorch's turns and 124 with it (PyTorch 126 and 127);
    200 ms pauses let the virtual CPUs go cold (rustdl 70)."""
    runners = [r if hasattr(r, "block") else Calls(r) for r in runners]
    per_call = [r.first_call(warmup) for r in runners]
    calls = [max(1, int(block_seconds / max(t, 1e-9))) for t in per_call]
    times = [[] for _ in runners]
    for _ in range(reps):
        for r, n, ts in zip(runners, calls, times):
            time.sleep(gap_seconds)
            ts.append(r.block(n))
    return [statistics.median(ts) for ts in times]


# ---- workloads: each returns (fn, work, unit) where unit is "GFLOP/s", "GB/s", "samples/s" or "us/op" ----

def per_op_overhead(lib):
    x, y = lib.randn(16), lib.randn(16)
    n = 2000

    def fn():
        for _ in range(n):
            x + y

    return fn, n, "us/op"


def autograd_chain(lib):
    w = lib.randn(16, requires_grad=True)
    n = 100

    def fn():
        z = w
        for _ in range(n):
            z = z * 1.0001
        z.sum().backward()

    return fn, n, "us/op"


def add_16m(lib):
    x, y = lib.randn(4096, 4096), lib.randn(4096, 4096)
    return (lambda: computed(x + y)), 3 * 4 * x.numel(), "GB/s"


def add_out_16m(lib):
    x, y, z = lib.randn(4096, 4096), lib.randn(4096, 4096), lib.empty(4096, 4096)
    return (lambda: computed(lib.add(x, y, out=z))), 3 * 4 * x.numel(), "GB/s"


def clone_16m(lib):
    x = lib.randn(4096, 4096)
    return (lambda: computed(x.clone())), 2 * 4 * x.numel(), "GB/s"


def softmax_4096x1000(lib):
    x = lib.randn(4096, 1000)
    return (lambda: lib.softmax(x, 1)), 2 * 4 * x.numel(), "GB/s"


def relu_affine_16m(lib):
    x = lib.randn(4096, 4096)
    # ideal: one read, one write
    return (lambda: computed(lib.relu(x * 1.5 + 0.5))), 2 * 4 * x.numel(), "GB/s"


def sgemm(n):
    def make(lib):
        a, b = lib.randn(n, n), lib.randn(n, n)
        return (lambda: a @ b), 2 * n**3, "GFLOP/s"

    make.__name__ = f"sgemm_{n}"
    return make


def linear_fwd_bwd(lib):
    x = lib.randn(512, 1024, requires_grad=True)
    w = lib.randn(1024, 1024, requires_grad=True)

    def fn():
        lib.nn.functional.linear(x, w).sum().backward()

    return fn, 3 * 2 * 512 * 1024 * 1024, "GFLOP/s"


def conv2d(n, cin, cout, hw, k, pad, stride=1):
    def make(lib):
        x = lib.randn(n, cin, hw, hw, requires_grad=True)
        w = lib.randn(cout, cin, k, k, requires_grad=True)
        out = (hw + 2 * pad - k) // stride + 1

        def fn():
            lib.nn.functional.conv2d(x, w, None, stride, pad).sum().backward()

        return fn, 3 * 2 * n * cout * cin * k * k * out * out, "GFLOP/s"

    make.__name__ = f"conv2d_fb_N{n}_{cin}to{cout}_{hw}x{hw}_k{k}_s{stride}"
    return make


def conv2d_fwd(n, cin, cout, hw, k, pad, stride=1):
    def make(lib):
        x = lib.randn(n, cin, hw, hw)
        w = lib.randn(cout, cin, k, k)
        out = (hw + 2 * pad - k) // stride + 1
        return (lambda: lib.nn.functional.conv2d(x, w, None, stride, pad)), 2 * n * cout * cin * k * k * out * out, "GFLOP/s"

    make.__name__ = f"conv2d_fwd_N{n}_{cin}to{cout}_{hw}x{hw}_k{k}_s{stride}"
    return make


def conv1d_fb(lib):
    x = lib.randn(32, 16, 1024, requires_grad=True)
    w = lib.randn(32, 16, 5, requires_grad=True)

    def fn():
        lib.nn.functional.conv1d(x, w).sum().backward()

    return fn, 3 * 2 * 32 * 32 * 16 * 5 * 1020, "GFLOP/s"


def conv3d_fb(lib):
    x = lib.randn(8, 4, 16, 16, 16, requires_grad=True)
    w = lib.randn(8, 4, 3, 3, 3, requires_grad=True)

    def fn():
        lib.nn.functional.conv3d(x, w, None, 1, 1).sum().backward()

    return fn, 3 * 2 * 8 * 8 * 4 * 27 * 16**3, "GFLOP/s"


def _train_step(lib, model, opt, x, y):
    def fn():
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return fn


def mlp_train(lib):
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x, y = lib.randn(128, 784), lib.randint(0, 10, (128,))
    return _train_step(lib, model, opt, x, y), 128, "samples/s"


def lenet_train(lib):
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = lib.randn(64, 1, 28, 28), lib.randint(0, 10, (64,))
    return _train_step(lib, model, opt, x, y), 64, "samples/s"


def vgg_train(lib):
    nn = lib.nn
    lib.manual_seed(0)

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    model = nn.Sequential(*block(3, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 8 * 8, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = lib.randn(64, 3, 32, 32), lib.randint(0, 10, (64,))
    return _train_step(lib, model, opt, x, y), 64, "samples/s"


def activation_fb(name):
    def make(lib):
        x = lib.randn(1024, 1024, requires_grad=True)
        f, g = getattr(lib.nn.functional, name), lib.ones(1024, 1024)

        def fn():
            f(x).backward(g)

        # forward reads x and writes y; backward reads x and g, writes the gradient
        return fn, 5 * 4 * x.numel(), "GB/s"

    make.__name__ = f"{name}_fwd_bwd_1m"
    return make


def adam_10m(lib):
    params = [lib.randn(100_000, requires_grad=True) for _ in range(100)]
    for p in params:
        p.grad = lib.randn(100_000)
    opt = lib.optim.Adam(params, lr=1e-3)
    return opt.step, 7 * 4 * 10_000_000, "GB/s"


def cross_entropy_fb(lib):
    x = lib.randn(4096, 1000, requires_grad=True)
    y = lib.randint(0, 1000, (4096,))

    def fn():
        lib.nn.functional.cross_entropy(x, y).backward()

    return fn, 3 * 4 * x.numel(), "GB/s"


def linalg(op, *shape):
    """One torch.linalg factorization of a (batch of) well-conditioned matrices, in us per call."""
    def make(lib):
        a = lib.randn(*shape)
        a = a + a.mT + 2 * shape[-1] * lib.eye(shape[-1])  # symmetric, well-conditioned
        fn = getattr(lib.linalg, op)
        return (lambda: computed(fn(a))), 1, "us/op"

    make.__name__ = f"linalg_{op}_{'x'.join(map(str, shape))}"
    return make


WORKLOADS = [
    per_op_overhead, autograd_chain, add_16m, add_out_16m, clone_16m, softmax_4096x1000, relu_affine_16m,
    sgemm(256), sgemm(512), sgemm(1024), sgemm(2048), linear_fwd_bwd,
    conv2d(64, 3, 32, 32, 3, 1), conv2d(64, 32, 64, 16, 3, 1), conv2d(32, 64, 128, 8, 3, 0),
    conv2d(64, 64, 64, 16, 1, 0), conv2d(64, 32, 64, 16, 3, 1, stride=2),
    conv2d_fwd(64, 32, 64, 16, 3, 1, stride=2), conv2d_fwd(64, 32, 64, 32, 3, 1, stride=2), conv1d_fb, conv3d_fb,
    mlp_train, lenet_train, vgg_train, adam_10m, cross_entropy_fb,
    activation_fb("gelu"), activation_fb("silu"),
    linalg("inv", 64, 64), linalg("svd", 64, 64), linalg("eigh", 64, 64),
    linalg("inv", 128, 16, 16), linalg("svd", 128, 16, 16), linalg("eigh", 128, 16, 16),
]


MEMORY_WORKLOADS = [mlp_train, lenet_train, vgg_train]


def _status_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_worker(lib_name, workload, threads):
    """Child process: peak RSS (MiB) over five training steps, and how far it
    rose above the RSS after set-up (activations, gradients, optimizer
    state, allocator caches). Linux only: VmHWM, reset through clear_refs."""
    lib = importlib.import_module(lib_name)
    set_threads(lib, threads)
    make = {w.__name__: w for w in MEMORY_WORKLOADS}[workload]
    fn, _, _ = make(lib)
    gc.collect()
    base = _status_mib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the high-water mark to the current RSS
    for _ in range(5):
        fn()
    peak = _status_mib("VmHWM")
    print(f"{peak:.1f} {peak - base:.1f}")


def peak_memory(lib_name, workload, threads):
    """(peak RSS MiB, growth over the steps MiB), measured in a fresh process."""
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--memory-worker", lib_name, workload, str(threads)],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def print_table_header(columns):
    """A Markdown table's header and separator rows."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))


def print_memory(libs, threads, k):
    print()
    print("Peak memory of a training step (fresh process per library; MiB; the step")
    print("figure is the high-water growth over 5 steps after set-up; lower is better):")
    print()
    extra = ["torch/rustdl (step)"] if len(libs) > 1 else []
    print_table_header(["workload", "threads"] + [f"{name} peak / step" for name in libs] + extra)
    for make in MEMORY_WORKLOADS:
        if k and k not in make.__name__:
            continue
        for n in threads:
            res = {name: peak_memory(name, make.__name__, n) for name in libs}
            cells = " | ".join(f"{res[name][0]:.0f} / {res[name][1]:.1f}" for name in libs)
            line = f"| {make.__name__} | {n} | {cells} |"
            if "torch" in res:
                line += f" {res['torch'][1] / max(res['rustdl'][1], 0.1):.2f} |"
            print(line, flush=True)


def rate(unit, work, t):
    if unit == "us/op":
        return t / work * 1e6
    if unit == "GFLOP/s":
        return work / t / 1e9
    if unit == "GB/s":
        return work / t / 1e9
    return work / t


def set_threads(lib, n):
    lib.set_num_threads(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("-k", default="")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--same-process", action="store_true",
                    help="run both libraries in this process (the method of sessions <= 17)")
    ap.add_argument("--memory-worker", nargs=3, metavar=("LIB", "WORKLOAD", "THREADS"), help=argparse.SUPPRESS)
    ap.add_argument("--worker", metavar="LIB", help=argparse.SUPPRESS)
    ap.add_argument("--workloads-of", default=__file__, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_worker:
        lib_name, workload, n = args.memory_worker
        memory_worker(lib_name, workload, int(n))
        return
    if args.worker:
        serve(args.worker, args.workloads_of)
        return
    lib_names = ["rustdl"]
    if importlib.util.find_spec("torch") is not None:
        lib_names.append("torch")
    else:
        print("(PyTorch not importable: rustdl only)", file=sys.stderr)
    threads = [int(t) for t in args.threads.split(",")]
    import rustdl

    peaks = {n: rustdl._C._peak_gflops(n) for n in threads}
    triad = {n: rustdl._C._triad_gbs(1 << 25, n) for n in threads}
    print(f"machine: peak f32 FMA {', '.join(f'{n}T {peaks[n]:.0f} GFLOP/s' for n in threads)}; "
          f"triad {', '.join(f'{n}T {triad[n]:.1f} GB/s' for n in threads)}")
    print("method: " + ("both libraries in this process" if args.same_process
                        else "each library in its own worker process, taking turns"))
    print()
    if args.same_process:
        libs = {name: importlib.import_module(name) for name in lib_names}
    else:
        workers = {name: Worker(name) for name in lib_names}
    extra = ["rustdl/torch"] if len(lib_names) > 1 else []
    print_table_header(["workload", "threads"] + lib_names + ["unit", "% of peak"] + extra)
    for make in WORKLOADS:
        name = make.__name__
        if args.k and args.k not in name:
            continue
        for n in threads:
            if args.same_process:
                runners = [InProcess(libs[ln], make, n) for ln in lib_names]
            else:
                runners = [InWorker(workers[ln], name, n) for ln in lib_names]
            secs = timeit(runners, 3 if args.quick else 7)
            results = {ln: rate(r.unit, r.work, t) for ln, r, t in zip(lib_names, runners, secs)}
            r, unit = results["rustdl"], runners[0].unit
            if unit == "GFLOP/s":
                pct = f"{100 * r / peaks[n]:.0f}%"
            elif unit == "GB/s":
                pct = f"{100 * r / triad[n]:.0f}%"
            else:
                pct = ""
            cells = " | ".join(f"{results[ln]:.3g}" for ln in lib_names)
            line = f"| {name} | {n} | {cells} | {unit} | {pct} |"
            if "torch" in results:
                tr = results["torch"]
                ratio = (tr / r) if unit == "us/op" else (r / tr)
                line += f" {ratio:.2f} |"
            print(line, flush=True)
    if not args.same_process:
        for w in workers.values():
            w.close()
    print_memory(lib_names, threads, args.k)


if __name__ == "__main__":
    main()
