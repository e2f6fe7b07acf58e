"""rustdl.vision.io (torchvision.io's image functions through Pillow)."""

import numpy as np
import pytest
import rustdl
from PIL import Image
from rustdl.vision import io as vio


def test_png_round_trip_and_modes(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (7, 9, 3)).astype(np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(rgb).save(path)
    x = vio.read_image(str(path))
    assert x.dtype == rustdl.uint8 and x.shape == (3, 7, 9)
    np.testing.assert_array_equal(x.numpy(), rgb.transpose(2, 0, 1))
    gray = vio.read_image(str(path), vio.ImageReadMode.GRAY)
    np.testing.assert_array_equal(gray.numpy()[0], np.array(Image.fromarray(rgb).convert("L")))
    assert vio.read_image(str(path), vio.ImageReadMode.RGB_ALPHA).shape == (4, 7, 9)
    assert vio.decode_image(vio.read_file(str(path)), mode="GRAY").shape == (1, 7, 9)
    vio.write_png(x, str(tmp_path / "b.png"))
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "b.png")), rgb)
    data = vio.encode_png(x[:1])
    assert data.dtype == rustdl.uint8 and data.dim() == 1
    np.testing.assert_array_equal(vio.decode_png(data).numpy(), x[:1].numpy())


def test_jpeg(tmp_path):
    img = rustdl.from_numpy(np.full((3, 16, 16), 120, np.uint8))
    vio.write_jpeg(img, str(tmp_path / "a.jpg"), quality=95)
    back = vio.read_image(str(tmp_path / "a.jpg"))
    assert back.shape == (3, 16, 16) and np.abs(back.numpy().astype(int) - 120).max() <= 2
    with pytest.raises(ValueError, match="between 1 and 100"):
        vio.encode_jpeg(img, quality=0)
    with pytest.raises(RuntimeError, match="uint8 tensor of shape"):
        vio.encode_png(rustdl.rand(3, 4, 4))
