"""rustdl.distributed throughput.

    PYTHONPATH=python python3 benches/bench_distributed.py [--steps 30] [--rounds 3]

Starts mpirun jobs on localhost and prints:
- cnn: training samples/s of a compute-bound CNN (DDP, 1 thread per rank, the same per-rank batch)
  with 1 rank and with 2 ranks, and their ratio (weak scaling; ideal 2.0); beside it, 2 ranks that
  train without DDP (no communication at all): the most 2 processes get from this machine right now;
- all_reduce: seconds per in-place SUM all-reduce of 10M float32 on 2 ranks through
  ``rustdl.distributed.all_reduce`` and through raw ``mpi4py`` ``Allreduce`` on the same buffer (the
  tensor's storage), interleaved, best of the repetitions, and their ratio (ideal 1.0); also raw
  Allreduce on a numpy-allocated array (numpy asks the kernel for transparent huge pages on large
  arrays, rustdl's allocator does not, which shows in copy-bound transfers).
Each job prints one line; the figures depend on how many cores are free (``nproc``).
``--launcher`` starts the multi-rank jobs through ``python -m rustdl.distributed.run`` (torchrun's
flags; it sets the threads per rank), as a user would.
``--own-sessions`` starts each rank in its own session (``setsid``): where the kernel groups a
session's processes for CPU shares (``/proc/sys/kernel/sched_autogroup_enabled``), ranks started
from one shell otherwise share one share on a busy machine, and 2 ranks get what 1 gets."""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.abspath(__file__)


def cnn_worker(steps, batch, use_ddp=True):
    import rustdl
    import rustdl.distributed as dist
    from rustdl import nn

    rustdl.set_num_threads(1)
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    rustdl.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 8 * 8, 10))
    ddp = nn.parallel.DistributedDataParallel(model) if use_ddp else model
    opt = rustdl.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    x = rustdl.randn(batch, 3, 32, 32)
    y = rustdl.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(ddp(x), y).backward()
        opt.step()
    for _ in range(3):
        step()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dist.barrier()
    elapsed = time.perf_counter() - t0
    if rank == 0:
        print(f"RESULT cnn world={world} samples_per_s={world * batch * steps / elapsed:.1f}", flush=True)
    dist.destroy_process_group()


def allreduce_worker(rounds, numel):
    import numpy as np
    import rustdl
    import rustdl.distributed as dist
    from mpi4py import MPI

    rustdl.set_num_threads(1)
    dist.init_process_group("mpi")
    t = rustdl.ones(numel)
    same = t.numpy()  # the tensor's own storage
    arr = np.ones(numel, dtype=np.float32)
    comm = dist.group.WORLD._comm  # the same communicator rustdl uses
    calls = {"rustdl": lambda: dist.all_reduce(t),
             "mpi4py": lambda: comm.Allreduce(MPI.IN_PLACE, same, MPI.SUM),
             "numpy": lambda: comm.Allreduce(MPI.IN_PLACE, arr, MPI.SUM)}
    best = {name: float("inf") for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            comm.Barrier()
            t0 = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - t0)
    if dist.get_rank() == 0:
        print(f"RESULT all_reduce numel={numel} rustdl_s={best['rustdl']:.4f} mpi4py_s={best['mpi4py']:.4f} "
              f"numpy_s={best['numpy']:.4f}", flush=True)
    dist.destroy_process_group()


OWN_SESSIONS = False
LAUNCHER = False


def launch(n, *args):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", RUSTDL_NUM_THREADS="1")
    if LAUNCHER and n > 1:  # as a user starts a job: rustdl's torchrun, which picks the threads per rank
        env.pop("RUSTDL_NUM_THREADS")
        cmd = [sys.executable, "-m", "rustdl.distributed.run", "--nproc-per-node", str(n), HERE, "--worker",
               *map(str, args)]
    else:
        cmd = ["mpirun", "-n", str(n), "--oversubscribe", "--bind-to", "none",
               *(["setsid", "-w"] if OWN_SESSIONS else []), sys.executable, HERE, "--worker", *map(str, args)]
    out = subprocess.run(cmd, env=env, check=False, capture_output=True, text=True, timeout=1200)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"job failed: {' '.join(cmd)}\n{out.stdout}\n{out.stderr}")
    return dict(kv.split("=") for kv in lines[0].split()[2:])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--numel", type=int, default=10_000_000)
    p.add_argument("--own-sessions", action="store_true")
    p.add_argument("--launcher", action="store_true",
                   help="start the multi-rank jobs through `python -m rustdl.distributed.run` instead of mpirun")
    p.add_argument("--worker", nargs="*")
    a = p.parse_args()
    global OWN_SESSIONS, LAUNCHER
    OWN_SESSIONS, LAUNCHER = a.own_sessions, a.launcher
    if a.worker:
        kind, *rest = a.worker
        if kind in ("cnn", "cnn-independent"):
            cnn_worker(int(rest[0]), int(rest[1]), use_ddp=kind == "cnn")
        else:
            allreduce_worker(int(rest[0]), int(rest[1]))
        return
    print(f"cores available: {len(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.1f}")
    for r in range(a.rounds):
        one = float(launch(1, "cnn", a.steps, a.batch)["samples_per_s"])
        two = float(launch(2, "cnn", a.steps, a.batch)["samples_per_s"])
        free = float(launch(2, "cnn-independent", a.steps, a.batch)["samples_per_s"])
        print(f"cnn round {r}: 1 rank x 1 thread {one:.1f} samples/s, 2 ranks x 1 thread {two:.1f} samples/s, "
              f"ratio {two / one:.2f} (2 ranks without DDP: {free:.1f} samples/s, ratio {free / one:.2f})")
    res = launch(2, "allreduce", 10, a.numel)
    rd, mp, npy = float(res["rustdl_s"]), float(res["mpi4py_s"]), float(res["numpy_s"])
    print(f"all_reduce {a.numel} float32 on 2 ranks: rustdl {rd * 1e3:.1f} ms, raw mpi4py Allreduce on the same "
          f"buffer {mp * 1e3:.1f} ms, ratio {rd / mp:.2f}; raw Allreduce on a numpy array {npy * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
