"""``python -m rustdl SCRIPT``: unchanged PyTorch scripts run on rustdl (issue 20).

The scripts in tests/torch_scripts/ are plain PyTorch (``import torch``,
``torch.nn``, ``torch.utils.data``, ``torchvision.transforms``); they run here
through ``python -m rustdl`` in a child interpreter that imports the same
rustdl as this test (a dev tree's python/ folder or the installed package).
Also here: the import alias itself, ``rustdl.accelerator`` (``torch.accelerator``
with no accelerator) and ``rustdl.functional`` (``torch.functional``).
"""

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import rustdl
import rustdl.functional as fn
from rustdl import accelerator

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "torch_scripts")
HAS_TRANSFORMS = importlib.util.find_spec("rustdl.vision.transforms") is not None


def child_env():
    pkg_parent = os.path.dirname(os.path.dirname(rustdl.__file__))
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=pkg_parent + (os.pathsep + path if path else ""))


def run_rustdl(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "rustdl", *args],
        env=child_env(), cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )


def write_script(tmp_path, source, name="script.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def final_loss(stdout):
    return float(re.search(r"final loss: ([0-9.]+)", stdout).group(1))


# ---------------------------------------------------------------- example scripts


def test_regression_script_trains():
    r = run_rustdl(os.path.join(SCRIPTS, "regression_mlp.py"))
    assert r.returncode == 0, r.stderr
    initial = float(re.search(r"initial loss: ([0-9.]+)", r.stdout).group(1))
    assert final_loss(r.stdout) < 0.2 < initial


def test_argparse_script_runs_with_its_arguments():
    r = run_rustdl(os.path.join(SCRIPTS, "classify_argparse.py"), "--epochs", "3", "--lr", "0.1")
    assert r.returncode == 0, r.stderr
    assert "device: cpu" in r.stdout  # torch.accelerator.is_available() is False
    assert "epoch 3:" in r.stdout and "epoch 4:" not in r.stdout
    assert float(re.search(r"accuracy: ([0-9.]+)", r.stdout).group(1)) > 0.8
    assert final_loss(r.stdout) < 0.5


def test_script_exit_status_propagates():
    r = run_rustdl(os.path.join(SCRIPTS, "classify_argparse.py"), "--epochs", "1", "--fail-after-training")
    assert r.returncode == 3, r.stderr
    assert "final loss:" in r.stdout


def test_argparse_sees_the_script_as_argv0():
    r = run_rustdl(os.path.join(SCRIPTS, "classify_argparse.py"), "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: classify_argparse.py")
    r = run_rustdl(os.path.join(SCRIPTS, "classify_argparse.py"), "--no-such-flag")
    assert r.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in r.stderr


@pytest.mark.skipif(not HAS_TRANSFORMS, reason="rustdl.vision.transforms is not there")
def test_torchvision_transforms_script_trains():
    r = run_rustdl(os.path.join(SCRIPTS, "vision_transforms.py"))
    assert r.returncode == 0, r.stderr
    assert "batch shape: (16, 1, 12, 12)" in r.stdout
    assert final_loss(r.stdout) < 0.69  # below chance (ln 2)


# ---------------------------------------------------------------- the alias


def test_torch_names_are_rustdl_modules(tmp_path):
    script = write_script(tmp_path, """
        import os
        import sys

        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        import torch.optim.lr_scheduler as lr_scheduler
        import torch.utils.data
        import torchvision
        from torch import nn as nn_from
        from torch.utils.data import DataLoader, TensorDataset

        import rustdl
        import rustdl.nn.functional
        import rustdl.optim.lr_scheduler

        assert torch is rustdl
        assert nn is rustdl.nn and nn_from is rustdl.nn
        assert F is rustdl.nn.functional
        assert lr_scheduler is rustdl.optim.lr_scheduler
        assert torch.utils.data is rustdl.utils.data
        assert DataLoader is rustdl.utils.data.DataLoader and TensorDataset is rustdl.utils.data.TensorDataset
        assert torchvision is rustdl.vision
        for name in ("torch", "torch.nn", "torch.nn.functional", "torch.utils.data", "torchvision"):
            assert name in sys.modules, name
        assert sys.modules["torch.nn"] is sys.modules["rustdl.nn"]
        # the rustdl modules keep their own identity
        assert rustdl.nn.__name__ == "rustdl.nn" and rustdl.nn.__spec__.name == "rustdl.nn"
        # attributes that PyTorch has right after `import torch`
        assert torch.accelerator.is_available() is False
        assert torch.functional.einsum is rustdl.functional.einsum
        assert torch.zeros(1).is_xpu is False and torch.zeros(1).is_mps is False
        # run as `python script.py` would run it
        assert __name__ == "__main__"
        assert sys.argv[1:] == ["a", "--b"], sys.argv
        assert os.path.basename(sys.argv[0]) == "script.py"
        assert sys.path[0] == os.path.dirname(os.path.abspath(__file__)), sys.path[:2]
        print("ok")
    """)
    r = run_rustdl(script, "a", "--b", cwd=str(tmp_path.parent))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"


@pytest.mark.skipif(not HAS_TRANSFORMS, reason="rustdl.vision.transforms is not there")
def test_torchvision_submodules(tmp_path):
    script = write_script(tmp_path, """
        import torchvision.transforms as T
        from torchvision import transforms

        import rustdl.vision.transforms

        assert T is transforms is rustdl.vision.transforms
        print("ok")
    """)
    r = run_rustdl(script)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


def test_missing_torch_module_names_the_rustdl_module(tmp_path):
    script = write_script(tmp_path, """
        import torch
        import torch.not_a_real_module
    """)
    r = run_rustdl(script)
    assert r.returncode == 1
    assert (
        "ModuleNotFoundError: No module named 'torch.not_a_real_module' (rustdl has no "
        "'rustdl.not_a_real_module' yet; python -m rustdl maps torch.* to rustdl.*)"
    ) in r.stderr
    assert "import torch.not_a_real_module" in r.stderr  # the script's line, in a normal traceback


def test_missing_torchvision_module(tmp_path):
    script = write_script(tmp_path, """
        try:
            import torchvision.not_a_real_module
        except ModuleNotFoundError as e:
            print(e.name)
            print(e)
    """)
    r = run_rustdl(script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "torchvision.not_a_real_module",
        (
            "No module named 'torchvision.not_a_real_module' (rustdl has no "
            "'rustdl.vision.not_a_real_module' yet; python -m rustdl maps torchvision.* to rustdl.vision.*)"
        ),
    ]


def test_uncaught_exception_shows_the_scripts_traceback(tmp_path):
    script = write_script(tmp_path, """
        def f():
            raise ValueError("boom")

        f()
    """)
    r = run_rustdl(script)
    assert r.returncode == 1
    assert r.stderr.startswith("Traceback (most recent call last):\n")
    assert 'raise ValueError("boom")' in r.stderr and r.stderr.endswith("ValueError: boom\n")
    assert "runpy" not in r.stderr and "__main__.py" not in r.stderr  # only the script's frames


def test_sys_exit_with_a_message(tmp_path):
    script = write_script(tmp_path, "import sys\nsys.exit('bad input')\n")
    r = run_rustdl(script)
    assert (r.returncode, r.stderr) == (1, "bad input\n")


def test_module_mode(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text(textwrap.dedent("""
        import sys

        import torch.nn as nn

        import rustdl

        assert nn is rustdl.nn and __name__ == "__main__"
        print(sys.argv[0].endswith("train.py"), sys.argv[1:])
        sys.exit(5)
    """))
    r = run_rustdl("-m", "mypkg.train", "x", "--y", cwd=str(tmp_path))
    assert r.returncode == 5, r.stderr
    assert r.stdout == "True ['x', '--y']\n"


def test_module_mode_missing_module(tmp_path):
    r = run_rustdl("-m", "no_such_module_here", cwd=str(tmp_path))
    assert r.returncode == 1
    assert "No module named no_such_module_here" in r.stderr
    r = run_rustdl("-m", "torch.not_a_real_module", cwd=str(tmp_path))
    assert r.returncode == 1
    assert "rustdl has no 'rustdl.not_a_real_module' yet" in r.stderr


def test_usage_errors():
    r = run_rustdl()
    assert r.returncode == 2
    assert "usage: python -m rustdl SCRIPT" in r.stderr
    r = run_rustdl("-m")
    assert r.returncode == 2
    r = run_rustdl("--help")
    assert r.returncode == 0 and r.stdout.startswith("usage:")
    r = run_rustdl("no_such_script.py")
    assert r.returncode == 2 and "can't open file" in r.stderr


def test_install_torch_alias_in_a_program():
    code = textwrap.dedent("""
        import sys
        import rustdl
        rustdl.install_torch_alias()
        rustdl.install_torch_alias()  # twice is fine
        import torch
        import torch.nn.functional as F
        assert torch is rustdl and F is rustdl.nn.functional
        assert sum(type(f).__name__ == "TorchAliasFinder" for f in sys.meta_path) == 1
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True,
                       timeout=120, check=False)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


def test_install_torch_alias_refuses_a_real_torch():
    code = textwrap.dedent("""
        import sys, types
        sys.modules["torch"] = types.ModuleType("torch")  # stands in for an imported PyTorch
        import rustdl
        try:
            rustdl.install_torch_alias()
        except RuntimeError as e:
            print("already imported" in str(e))
    """)
    r = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True,
                       timeout=120, check=False)
    assert (r.returncode, r.stdout) == (0, "True\n"), r.stderr


# ---------------------------------------------------------------- rustdl.accelerator


def test_accelerator_reports_none():
    assert accelerator.is_available() is False
    assert accelerator.current_accelerator() is None
    assert accelerator.current_accelerator(check_available=True) is None
    assert accelerator.device_count() == 0


def test_accelerator_device_index_without_an_accelerator():
    none_available = "Cannot access accelerator device when none is available"
    with pytest.raises(RuntimeError, match=none_available):
        accelerator.current_device_index()
    assert accelerator.set_device_index(-1) is None  # negative: a no-op
    with pytest.raises(RuntimeError, match=none_available):
        accelerator.set_device_index(0)
    with pytest.raises(ValueError, match="Expected a torch.device with a specified index or an integer"):
        accelerator.set_device_index(None)
    with pytest.raises(RuntimeError, match="Accelerator expected"):
        accelerator.set_device_index("cpu")
    with pytest.raises(RuntimeError, match=none_available):
        accelerator.synchronize()
    with pytest.raises(RuntimeError, match=none_available):
        accelerator.memory_allocated()
    with accelerator.device_index(None):
        pass
    with pytest.raises(RuntimeError, match=none_available), accelerator.device_index(0):
        pass
    with pytest.warns(FutureWarning, match="current_device_index"), pytest.raises(RuntimeError):
        accelerator.current_device_idx()


def test_tensor_device_flags():
    t = rustdl.zeros(2)
    assert (t.is_cuda, t.is_xpu, t.is_mps, t.is_meta, t.is_cpu) == (False, False, False, False, True)


# ---------------------------------------------------------------- rustdl.functional


def _np(t):
    return t.detach().numpy()


def _randn(*shape, seed=0):
    return rustdl.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def test_functional_exposes_torch_functional_names():
    for name in fn.__all__:
        assert callable(getattr(fn, name)), name
    assert fn.split is rustdl.split and fn.norm is rustdl.norm
    assert fn.broadcast_tensors is rustdl.broadcast_tensors


@pytest.mark.parametrize(
    ("equation", "shapes"),
    [
        ("ij,jk->ik", [(2, 3), (3, 4)]),
        ("ij,jk", [(2, 3), (3, 4)]),
        ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
        ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
        ("i,i->", [(3,), (3,)]),
        ("i,j->ij", [(3,), (2,)]),
        ("ii", [(3, 3)]),
        ("ii->i", [(3, 3)]),
        ("ij->ji", [(2, 3)]),
        ("...ij,...jk->...ik", [(5, 2, 3), (5, 3, 4)]),
        ("...ij,jk->...ik", [(5, 2, 3), (3, 4)]),
        ("bn,anm,bm->ba", [(4, 3), (5, 3, 2), (4, 2)]),
        ("Ba,aB", [(2, 3), (3, 2)]),
    ],
)
def test_einsum_matches_numpy(equation, shapes):
    xs = [_randn(*s, seed=i) for i, s in enumerate(shapes)]
    expected = np.einsum(equation, *map(_np, xs))
    np.testing.assert_allclose(_np(fn.einsum(equation, *xs)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(fn.einsum(equation, xs)), expected, rtol=1e-5, atol=1e-5)


def test_einsum_sublist_format_and_gradient():
    a = _randn(2, 3).requires_grad_()
    b = _randn(3, 4, seed=1).requires_grad_()
    out = fn.einsum(a, [0, 1], b, [1, 2], [0, 2])
    np.testing.assert_allclose(_np(out), _np(a) @ _np(b), rtol=1e-5)
    out.sum().backward()
    np.testing.assert_allclose(_np(a.grad), np.ones((2, 4)) @ _np(b).T, rtol=1e-5)
    np.testing.assert_allclose(_np(b.grad), _np(a).T @ np.ones((2, 4)), rtol=1e-5)


def test_einsum_errors():
    with pytest.raises(RuntimeError, match="output subscript k does not appear"):
        fn.einsum("i,j->k", rustdl.ones(2), rustdl.ones(3))
    with pytest.raises(RuntimeError, match="subscript i has size 4 for operand 1"):
        fn.einsum("i,i", rustdl.ones(3), rustdl.ones(4))
    with pytest.raises(RuntimeError, match="does not match the number of dimensions"):
        fn.einsum("ij->", rustdl.ones(2))


def test_tensordot_matches_numpy():
    a, b = _randn(2, 3, 4), _randn(3, 4, 5, seed=1)
    np.testing.assert_allclose(_np(fn.tensordot(a, b)), np.tensordot(_np(a), _np(b)), rtol=1e-5)
    c = _randn(4, 3, seed=2)
    np.testing.assert_allclose(
        _np(fn.tensordot(a, c, dims=([1, 2], [1, 0]))), np.tensordot(_np(a), _np(c), axes=([1, 2], [1, 0])),
        rtol=1e-5,
    )
    v = _randn(3, seed=3)
    assert fn.tensordot(v, v, dims=0).shape == (3, 3)
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        fn.tensordot(a, a, dims=([1], [0]))


def test_meshgrid_indexing():
    x, y = rustdl.tensor([1, 2, 3]), rustdl.tensor([4, 5])
    for indexing in ("ij", "xy"):
        got = fn.meshgrid(x, y, indexing=indexing)
        want = np.meshgrid(_np(x), _np(y), indexing=indexing)
        assert len(got) == 2
        for g, w in zip(got, want):
            np.testing.assert_array_equal(_np(g), w)
    with pytest.warns(UserWarning, match="indexing argument"):
        default = fn.meshgrid([x, y])
    assert default[0].shape == (3, 2)
    with pytest.raises(RuntimeError, match="indexing must be one of"):
        fn.meshgrid(x, indexing="yx")


def test_atleast_nd():
    s, v, m = rustdl.tensor(1.0), rustdl.ones(3), rustdl.ones(2, 3)
    assert fn.atleast_1d(s).shape == (1,)
    assert [t.shape for t in fn.atleast_2d(s, v, m)] == [(1, 1), (1, 3), (2, 3)]
    assert [t.shape for t in fn.atleast_3d([s, v, m])] == [(1, 1, 1), (1, 3, 1), (2, 3, 1)]
    for f, g in ((fn.atleast_1d, np.atleast_1d), (fn.atleast_2d, np.atleast_2d), (fn.atleast_3d, np.atleast_3d)):
        assert tuple(f(v).shape) == g(_np(v)).shape


def test_block_diag_and_cartesian_prod():
    out = fn.block_diag(rustdl.tensor(1), rustdl.tensor([2, 3]), rustdl.ones(2, 2), rustdl.empty(0, 2))
    want = np.zeros((4, 7), np.float32)
    want[0, 0], want[1, 1:3], want[2:4, 3:5] = 1, [2, 3], 1
    assert out.dtype is rustdl.float32
    np.testing.assert_array_equal(_np(out), want)
    assert fn.block_diag().shape == (1, 0)
    prod = fn.cartesian_prod(rustdl.tensor([1, 2]), rustdl.tensor([5, 6, 7]))
    assert prod.tolist() == [[1, 5], [1, 6], [1, 7], [2, 5], [2, 6], [2, 7]]


def test_chain_matmul_and_cdist():
    a, b, c = _randn(2, 3), _randn(3, 4, seed=1), _randn(4, 2, seed=2)
    with pytest.warns(UserWarning, match="deprecated"):
        out = fn.chain_matmul(a, b, c)
    np.testing.assert_allclose(_np(out), np.linalg.multi_dot([_np(a), _np(b), _np(c)]), rtol=1e-5)
    x, y = _randn(4, 3), _randn(5, 3, seed=1)
    want = np.sqrt(((_np(x)[:, None] - _np(y)[None]) ** 2).sum(-1))
    np.testing.assert_allclose(_np(fn.cdist(x, y)), want, rtol=1e-5)
    with pytest.raises(RuntimeError, match="same number of columns"):
        fn.cdist(x, _randn(5, 2))


def test_unique_matches_numpy():
    x = rustdl.tensor([[3, 1, 2], [1, 3, 3]])
    values, inverse, counts = fn.unique(x, return_inverse=True, return_counts=True)
    want_values, want_inverse, want_counts = np.unique(_np(x), return_inverse=True, return_counts=True)
    assert values.tolist() == want_values.tolist()
    assert inverse.tolist() == want_inverse.reshape(2, 3).tolist()
    assert counts.tolist() == want_counts.tolist()
    values, counts = fn.unique_consecutive(rustdl.tensor([1, 1, 2, 2, 3, 1, 1]), return_counts=True)
    assert (values.tolist(), counts.tolist()) == ([1, 2, 3, 1], [2, 2, 1, 2])
    with pytest.raises(NotImplementedError, match="dim="):
        fn.unique(x, dim=0)


def test_unravel_index_matches_numpy():
    idx = rustdl.tensor([4, 1, 5])
    got = fn.unravel_index(idx, (2, 3))
    want = np.unravel_index(_np(idx), (2, 3))
    assert [g.tolist() for g in got] == [w.tolist() for w in want]


@pytest.mark.parametrize("name", ["stft", "istft", "lu"])
def test_unsupported_functions_say_so(name):
    with pytest.raises(NotImplementedError, match=name), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(fn, name)(rustdl.ones(8), 4)


def test_api_tour_script_runs_unchanged():
    r = run_rustdl(os.path.join(SCRIPTS, "api_tour.py"))
    assert r.returncode == 0, r.stderr
    assert "api tour: ok" in r.stdout
