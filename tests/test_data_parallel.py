"""``nn.DataParallel`` / ``nn.parallel.DataParallel`` on a machine without
GPUs, as PyTorch: a wrapper whose forward calls the module (issue 20)."""

import numpy as np
import pytest
import rustdl as torch
from rustdl import nn


def test_wraps_and_forwards():
    torch.manual_seed(0)
    inner = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    dp = nn.DataParallel(inner)
    assert nn.DataParallel is nn.parallel.DataParallel
    assert dp.module is inner and dp.device_ids == []
    x = torch.randn(5, 4)
    np.testing.assert_array_equal(dp(x).detach().numpy(), inner(x).detach().numpy())
    assert repr(dp).startswith("DataParallel(\n  (module): Sequential(")


def test_state_dict_prefix_and_round_trip():
    dp = nn.DataParallel(nn.Linear(3, 2))
    sd = dp.state_dict()
    assert list(sd) == ["module.weight", "module.bias"]
    other = nn.DataParallel(nn.Linear(3, 2))
    other.load_state_dict(sd)
    np.testing.assert_array_equal(other.module.weight.detach().numpy(), dp.module.weight.detach().numpy())
    # the usual unwrap: the inner module's own keys
    plain = nn.Linear(3, 2)
    plain.load_state_dict(dp.module.state_dict())
    assert [n for n, _ in dp.named_parameters()] == ["module.weight", "module.bias"]


def test_training_step_through_the_wrapper():
    torch.manual_seed(0)
    dp = nn.DataParallel(nn.Linear(3, 1), device_ids=None, dim=0)
    opt = torch.optim.SGD(dp.parameters(), lr=0.1)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    before = nn.functional.mse_loss(dp(x), y).item()
    for _ in range(20):
        opt.zero_grad()
        loss = nn.functional.mse_loss(dp(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < before
    assert dp.module.weight.grad is not None


def test_kwargs_and_modes():
    class Scale(nn.Module):
        def forward(self, x, *, factor=1.0):
            return x * factor

    dp = nn.DataParallel(Scale())
    assert dp(torch.ones(2), factor=3.0).tolist() == [3.0, 3.0]
    dp.eval()
    assert not dp.module.training


def test_data_parallel_function_needs_a_device():
    with pytest.raises(RuntimeError, match="device type could not be determined"):
        nn.parallel.data_parallel(nn.Linear(2, 2), torch.ones(1, 2))


def test_device_flags_and_torch_functional():
    t = torch.ones(2)
    assert (t.is_cuda, t.is_xpu, t.is_mps, t.is_meta, t.is_cpu) == (False, False, False, False, True)
    import rustdl.functional as fn

    for name in ("einsum", "split", "norm", "broadcast_tensors", "meshgrid", "tensordot", "unique", "cdist"):
        assert callable(getattr(fn, name))


def test_plain_pytorch_script_with_meta_profiler_and_data_parallel():
    """tests/torch_scripts/meta_profile_parallel.py through ``python -m rustdl``."""
    import os
    import re
    import subprocess
    import sys

    import rustdl

    here = os.path.dirname(os.path.abspath(__file__))
    pkg_parent = os.path.dirname(os.path.dirname(rustdl.__file__))
    path = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=pkg_parent + (os.pathsep + path if path else ""))
    r = subprocess.run([sys.executable, "-m", "rustdl", os.path.join(here, "torch_scripts", "meta_profile_parallel.py")],
                       env=env, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "meta output shape: (2, 3)" in out and "huge meta sum shape: (1024, 3)" in out
    assert "copy out of meta: Cannot copy out of meta tensor; no data!" in out
    assert "materialised on: cpu" in out
    assert "state_dict keys: ['module.conv.weight', 'module.conv.bias']" in out
    assert "Self CPU time total:" in out and "profiled train_step: True conv rows: True" in out
    assert float(re.search(r"final loss: ([0-9.]+)", out).group(1)) < 0.5
