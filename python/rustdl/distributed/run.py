"""``python -m rustdl.distributed.run``: torchrun's command line, starting the ranks through ``mpirun``.

    python -m rustdl.distributed.run --nproc-per-node 4 train.py --epochs 3
    python -m rustdl.distributed.run --nnodes 2 --nproc-per-node 8 --hosts node1,node2 train.py

One ``mpirun`` starts every rank (on every node: MPI's host list, ``--hosts``
or ``--hostfile``, replaces torchrun's per-node launchers; run it on the
first node). Each rank sees torchrun's environment: ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``GROUP_RANK``, ``ROLE_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``, ``TORCHELASTIC_RUN_ID``, and, unless set,
``RUSTDL_NUM_THREADS`` = cores / ranks per node. ``mpirun -n N python
train.py`` works too (``init_process_group`` then shares the cores itself).
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import uuid

_ENTRY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_rank_entry.py")


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def get_args_parser():
    p = argparse.ArgumentParser(prog="python -m rustdl.distributed.run",
                                description="Start a data-parallel rustdl program on several processes (torchrun's "
                                            "flags; the ranks are started by mpirun).")

    def flag(name, **kw):
        under = "--" + name[2:].replace("-", "_")
        names = [name] if under == name else [name, under]
        p.add_argument(*names, **kw)

    flag("--nnodes", default="1", help="number of nodes, or MIN:MAX (the MAX is used)")
    flag("--nproc-per-node", default="1", help="ranks per node: an integer, 'auto' or 'cpu' (one per core)")
    flag("--node-rank", type=int, default=0, help="this node's index; MPI starts every node from node 0")
    flag("--master-addr", default="127.0.0.1", help="exported as MASTER_ADDR (MPI does the rendezvous)")
    flag("--master-port", type=int, default=29500, help="exported as MASTER_PORT")
    flag("--hosts", default=None, help="comma-separated host names for a multi-node job (mpirun --host)")
    flag("--hostfile", default=None, help="an mpirun host file for a multi-node job")
    flag("--mpirun", default=None, help="the mpirun executable (default: mpirun on PATH)")
    flag("--mpirun-args", default="", help="extra arguments for mpirun, as one string")
    flag("--as-torch", action="store_true",
         help="run the script through `python -m rustdl`, so its `import torch` gives rustdl")
    flag("--standalone", action="store_true", help="accepted (single node)")
    for name in ("--rdzv-backend", "--rdzv-endpoint", "--rdzv-id", "--rdzv-conf", "--max-restarts",
                 "--monitor-interval", "--start-method", "--role", "--log-dir", "--redirects", "--tee",
                 "--local-ranks-filter", "--local-addr", "--rdzv-timeout"):
        flag(name, default=None, help="accepted for torchrun compatibility; unused")
    p.add_argument("-m", "--module", action="store_true", help="run training_script as a module (python -m)")
    flag("--no-python", action="store_true", help="run training_script as an executable, not with python")
    flag("--run-path", action="store_true", help="run training_script with runpy.run_path")
    p.add_argument("training_script")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def _nproc(value):
    if value in ("auto", "cpu"):
        return _cpu_count()
    if value == "gpu":
        raise SystemExit("python -m rustdl.distributed.run: --nproc-per-node gpu: rustdl runs on CPUs")
    try:
        n = int(value)
    except ValueError:
        raise SystemExit(f"python -m rustdl.distributed.run: invalid --nproc-per-node {value!r}") from None
    if n < 1:
        raise SystemExit("python -m rustdl.distributed.run: --nproc-per-node must be at least 1")
    return n


def build_command(args):
    """The mpirun command line and the environment for it."""
    nnodes = int(str(args.nnodes).split(":")[-1])
    nproc = _nproc(args.nproc_per_node)
    mpirun = args.mpirun or shutil.which("mpirun")
    if mpirun is None:
        raise SystemExit("python -m rustdl.distributed.run: mpirun not found. Install Open MPI "
                         "(apt-get install openmpi-bin libopenmpi-dev) and mpi4py (pip install 'rustdl[distributed]').")
    env = dict(os.environ)
    env["MASTER_ADDR"] = str(args.master_addr)
    env["MASTER_PORT"] = str(args.master_port)
    env.setdefault("TORCHELASTIC_RUN_ID", args.rdzv_id or uuid.uuid4().hex[:12])
    env["TORCHELASTIC_RESTART_COUNT"] = "0"
    env["TORCHELASTIC_MAX_RESTARTS"] = str(args.max_restarts or 0)
    env["GROUP_WORLD_SIZE"] = str(nnodes)
    env["RUSTDL_DISTRIBUTED_NPROC_PER_NODE"] = str(nproc)
    if "RUSTDL_NUM_THREADS" not in env:
        env["RUSTDL_NUM_THREADS"] = str(max(1, _cpu_count() // nproc))
    if os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    cmd = [mpirun, "-n", str(nproc * nnodes), "--bind-to", "none"]
    if nnodes == 1:
        cmd += ["--oversubscribe"]
    elif args.hosts:
        cmd += ["--host", ",".join(f"{h}:{nproc}" for h in args.hosts.split(",")), "--map-by", f"ppr:{nproc}:node"]
    elif args.hostfile:
        cmd += ["--hostfile", args.hostfile, "--map-by", f"ppr:{nproc}:node"]
    else:
        raise SystemExit("python -m rustdl.distributed.run: --nnodes > 1 needs the nodes' names (--hosts a,b or "
                         "--hostfile FILE): one mpirun on the first node starts the ranks of every node")
    for name in ("MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT",
                 "TORCHELASTIC_MAX_RESTARTS", "GROUP_WORLD_SIZE", "RUSTDL_DISTRIBUTED_NPROC_PER_NODE",
                 "RUSTDL_NUM_THREADS", "PYTHONPATH", "OMP_NUM_THREADS"):
        if name in env:
            cmd += ["-x", name]
    cmd += shlex.split(args.mpirun_args)
    if args.no_python:
        cmd += [sys.executable, _ENTRY, "--no-python"]
    elif args.module:
        cmd += [sys.executable, _ENTRY, "--module"]
    elif args.as_torch:
        cmd += [sys.executable, _ENTRY, "--as-torch"]
    else:
        cmd += [sys.executable, _ENTRY, "--script"]
    cmd += [args.training_script, *args.training_script_args]
    return cmd, env


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    nnodes = int(str(args.nnodes).split(":")[-1])
    if nnodes > 1 and args.node_rank != 0:
        print(f"python -m rustdl.distributed.run: node rank {args.node_rank}: with MPI the launcher on node 0 "
              "starts the ranks of every node (--hosts/--hostfile); nothing to do here.", file=sys.stderr)
        return 0
    if sys.modules.get("torch") is not None and sys.modules.get("torch") is sys.modules.get("rustdl"):
        args.as_torch = True  # started as `python -m rustdl -m torch.distributed.run`: the ranks alias too
    cmd, env = build_command(args)
    try:
        rc = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 130
    if rc != 0:
        print(f"python -m rustdl.distributed.run: the job failed (mpirun exit status {rc}); see the ranks' "
              "output above.", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
