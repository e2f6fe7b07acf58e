"""rustdl.distributed across real processes: 2 and 4 ranks (oversubscribed) started by mpirun on
localhost, each test a job with a timeout. Skipped, saying why, where mpirun or mpi4py is missing."""

import importlib.util
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import rustdl

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_workers")
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(rustdl.__file__)))



def _mpi4py_loads():
    """mpi4py imports and finds an MPI library (checked in a child: importing it initialises MPI)."""
    if importlib.util.find_spec("mpi4py") is None:
        return False
    r = subprocess.run([sys.executable, "-c", "from mpi4py import MPI; MPI.Get_library_version()"],
                       check=False, capture_output=True, timeout=120)
    return r.returncode == 0


_missing = [what for what, ok in [("mpirun (apt-get install openmpi-bin libopenmpi-dev)", shutil.which("mpirun")),
                                  ("a working mpi4py (pip install mpi4py)", _mpi4py_loads())] if not ok]
pytestmark = pytest.mark.skipif(bool(_missing), reason="needs " + " and ".join(_missing))


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHON_DIR + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("RUSTDL_NUM_THREADS", "1")
    env.setdefault("RUST_BACKTRACE", "0")
    # Unbuffered ranks write each piece of a print separately, and mpirun
    # interleaves the ranks' pieces mid-line; buffered, a line is one write.
    env.pop("PYTHONUNBUFFERED", None)
    env.update(extra)
    return env


def mpirun(n, script, *args, timeout=300):
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", "--bind-to", "none", sys.executable,
           os.path.join(WORKERS, script), *map(str, args)]
    return subprocess.run(cmd, env=_env(), check=False, capture_output=True, text=True, timeout=timeout)


def _ok(r, n):
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    for rank in range(n):
        assert f"rank {rank}: ok" in r.stdout, out[-4000:]


@pytest.mark.parametrize("n", [2, 4])
def test_collectives(n):
    _ok(mpirun(n, "collectives.py"), n)


@pytest.mark.parametrize("n", [2, 4])
def test_ddp_features(n):
    _ok(mpirun(n, "ddp_features.py"), n)


def _train(tmp_path, n, *args, launcher=False):
    ref = tmp_path / f"ref{n}.npz"
    got = tmp_path / f"ddp{n}.npz"
    r = subprocess.run([sys.executable, os.path.join(WORKERS, "ddp_train.py"), "--reference", str(n), "--out",
                        str(ref), *map(str, args)], env=_env(), check=False, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    if launcher:
        r = subprocess.run([sys.executable, "-m", "rustdl.distributed.run", "--nproc-per-node", str(n),
                            os.path.join(WORKERS, "ddp_train.py"), "--out", str(got), *map(str, args)],
                           env=_env(), check=False, capture_output=True, text=True, timeout=300)
    else:
        r = mpirun(n, "ddp_train.py", "--out", got, *args)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    a, b = np.load(ref), np.load(got)
    assert sorted(a.files) == sorted(b.files)
    return {k: float(np.abs(a[k] - b[k]).max() / np.abs(a[k]).max()) for k in a.files}


@pytest.mark.parametrize("n", [2, 4])
def test_ddp_trains_like_one_process(tmp_path, n):
    # the criterion: same parameters as one process on the same global batches after 30 steps
    diffs = _train(tmp_path, n, "--steps", 30, "--batch", 16)
    assert max(diffs.values()) <= 1e-5, diffs


@pytest.mark.parametrize("n", [2, 4])
def test_sync_batchnorm_trains_like_batchnorm_on_the_global_batch(tmp_path, n):
    # SyncBatchNorm under DDP = BatchNorm in one process on the union of the ranks' samples
    # (parameters and running statistics)
    diffs = _train(tmp_path, n, "--steps", 12, "--batch", 16, "--batchnorm")
    assert max(diffs.values()) <= 1e-5, diffs


def test_ddp_through_launcher_trains_like_one_process(tmp_path):
    diffs = _train(tmp_path, 2, "--steps", 30, "--batch", 16, launcher=True)
    assert max(diffs.values()) <= 1e-5, diffs


def test_ddp_no_sync_accumulation_and_small_buckets(tmp_path):
    diffs = _train(tmp_path, 2, "--steps", 10, "--batch", 8, "--accumulate", 3, "--bucket-cap-mb", 0.005)
    assert max(diffs.values()) <= 1e-5, diffs


def test_launcher_sets_torchrun_environment(tmp_path):
    script = tmp_path / "show_env.py"
    script.write_text(
        "import os, sys\n"
        "import rustdl, rustdl.distributed as dist\n"
        "dist.init_process_group('gloo')\n"
        "keys = ['RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']\n"
        "assert int(os.environ['RANK']) == dist.get_rank() and __name__ == '__main__'\n"
        "line = ' '.join(map(str, ['env', dist.get_rank(), *[os.environ[k] for k in keys], rustdl.get_num_threads(),"
        " *sys.argv[1:]]))\n"
        # (one file per rank: mpirun may interleave the ranks' stdout mid-line)
        f"open(os.path.join({str(tmp_path)!r}, f'env{{dist.get_rank()}}.txt'), 'w').write(line)\n"
        "dist.destroy_process_group()\n")
    env = _env()
    env.pop("RUSTDL_NUM_THREADS")
    r = subprocess.run([sys.executable, "-m", "rustdl.distributed.run", "--nproc-per-node", "2", "--master_port",
                        "4321", str(script), "--flag", "x"], env=env, check=False, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    threads = str(max(1, len(os.sched_getaffinity(0)) // 2))
    lines = sorted((tmp_path / f"env{k}.txt").read_text() for k in range(2))
    assert lines == [f"env {k} {k} {k} 2 2 127.0.0.1 4321 {threads} --flag x" for k in range(2)], r.stdout


def test_launcher_reports_failure(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("import sys\nsys.exit(int(__import__('os').environ['RANK']) + 3)\n")
    r = subprocess.run([sys.executable, "-m", "rustdl.distributed.run", "--nproc-per-node", "2", str(script)],
                       env=_env(), check=False, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "the job failed" in r.stderr


@pytest.mark.parametrize("mode", ["crash", "exit", "hang", "raise"])
def test_dead_rank_ends_the_job(mode):
    # rank 1 is killed / leaves / stops / raises while rank 0 waits in all_reduce: the job must end with an
    # error within the 3 s timeout (plus start-up), never hang
    start = time.monotonic()
    r = mpirun(2, "failure.py", mode, 3, timeout=120)
    elapsed = time.monotonic() - start
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "passed the all_reduce" not in r.stdout
    assert elapsed < 60, elapsed
    if mode in ("exit", "hang"):
        assert "all_reduce (group default_pg, rank 0 of 2) did not complete within the timeout of 3 s" in out, out
    if mode == "raise":
        assert "rank 1 failed on purpose" in out and "aborting the other ranks" in out, out


def test_example_ddp_cnn_through_launcher(tmp_path):
    example = os.path.join(os.path.dirname(WORKERS), "..", "examples", "ddp_cnn.py")
    r = subprocess.run([sys.executable, "-m", "rustdl.distributed.run", "--nproc-per-node", "2", example,
                        "--fake-data", "512", "--epochs", "1"], env=_env(), cwd=tmp_path, check=False, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "test accuracy" in r.stdout and (tmp_path / "ddp_cnn.safetensors").exists()


def test_torchrun_alias_runs_a_pytorch_script(tmp_path):
    # `python -m rustdl -m torch.distributed.run` = torchrun on rustdl: the ranks' `import torch` is rustdl too
    script = tmp_path / "torch_ddp.py"
    script.write_text(
        "import torch, torch.distributed as dist\n"
        "from torch.distributed.elastic.multiprocessing.errors import record\n"
        "from torch.nn.parallel import DistributedDataParallel as DDP\n"
        "@record\n"
        "def main():\n"
        "    dist.init_process_group('gloo')\n"
        "    model = DDP(torch.nn.Linear(3, 1))\n"
        "    model(torch.full((2, 3), float(dist.get_rank()))).sum().backward()\n"
        "    print('rank', dist.get_rank(), torch.__name__, model.module.weight.grad.tolist(), flush=True)\n"
        "    dist.destroy_process_group()\n"
        "if __name__ == '__main__':\n"
        "    main()\n")
    r = subprocess.run([sys.executable, "-m", "rustdl", "-m", "torch.distributed.run", "--nproc_per_node=2",
                        str(script)], env=_env(), check=False, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # gradient of sum(w x + b) over 2 rows of value rank, averaged over ranks 0 and 1: 2 * 0.5
    assert sorted(line for line in r.stdout.splitlines() if line.startswith("rank")) == [
        "rank 0 rustdl [[1.0, 1.0, 1.0]]", "rank 1 rustdl [[1.0, 1.0, 1.0]]"], r.stdout
