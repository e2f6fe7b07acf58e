"""Started by ``python -m rustdl.distributed.run`` (through mpirun) in every rank, as a file so that
rustdl is not imported before the environment is set: maps MPI's rank variables to torchrun's,
then runs the training script as ``__main__``."""

import os
import runpy
import sys


def _set_environment():
    env = os.environ
    rank = env.get("OMPI_COMM_WORLD_RANK", env.get("PMIX_RANK", "0"))
    size = env.get("OMPI_COMM_WORLD_SIZE", "1")
    local_rank = env.get("OMPI_COMM_WORLD_LOCAL_RANK", "0")
    local_size = env.get("OMPI_COMM_WORLD_LOCAL_SIZE", env.get("RUSTDL_DISTRIBUTED_NPROC_PER_NODE", "1"))
    per_node = int(env.get("RUSTDL_DISTRIBUTED_NPROC_PER_NODE", local_size))
    env["RANK"] = rank
    env["WORLD_SIZE"] = size
    env["LOCAL_RANK"] = local_rank
    env["LOCAL_WORLD_SIZE"] = local_size
    env["GROUP_RANK"] = str(int(rank) // max(1, per_node))
    env["ROLE_RANK"] = rank
    env["ROLE_WORLD_SIZE"] = size
    env["ROLE_NAME"] = "default"


def main():
    mode, target, *args = sys.argv[1:]
    _set_environment()
    if mode == "--no-python":
        os.execvp(target, [target, *args])
    if mode == "--as-torch":
        os.execv(sys.executable, [sys.executable, "-m", "rustdl", target, *args])
    if mode == "--module":
        sys.argv = [target, *args]
        sys.path[0] = os.getcwd()
        runpy.run_module(target, run_name="__main__", alter_sys=True)
        return
    sys.argv = [target, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(target))
    runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
    main()
