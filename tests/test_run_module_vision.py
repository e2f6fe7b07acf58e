"""``python -m rustdl`` on a plain torchvision script (models, FakeData,
transforms, make_grid, save_image), as tests/test_run_module.py runs the others."""

import os
import subprocess
import sys

import rustdl
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "torch_scripts", "vision_models_utils.py")


def run_rustdl(*args):
    pkg_parent = os.path.dirname(os.path.dirname(rustdl.__file__))
    path = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=pkg_parent + (os.pathsep + path if path else ""))
    return subprocess.run(
        [sys.executable, "-m", "rustdl", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_torchvision_models_utils_script(tmp_path):
    r = run_rustdl(SCRIPT, str(tmp_path))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "resnet18 parameters: 11181642" in out
    assert "state_dict keys: 122 conv1.weight" in out
    assert "step 3 loss" in out and "batch (8, 3, 32, 32)" in out
    for line in ("squeezenet1_1 (1, 5)", "mobilenet_v2 (1, 5)", "vgg11_bn (1, 5)", "alexnet (1, 5)"):
        assert line in out
    assert "pretrained refused: resnet18(weights=ResNet18_Weights.IMAGENET1K_V1)" in out
    assert "grid shape: (3, 70, 138)" in out
    img = Image.open(tmp_path / "grid.png")
    assert img.size == (138, 70) and img.mode == "RGB"
