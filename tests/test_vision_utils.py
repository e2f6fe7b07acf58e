"""rustdl.vision.utils against torchvision.utils (recorded by
tools/differential/record_vision_utils.py into tests/golden/vision_utils.npz)."""

import io
import os

import numpy as np
import pytest
import rustdl
from PIL import Image
from rustdl.vision import utils as vu

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "vision_utils.npz"))

GRID_CASES = {
    "default": {},
    "nrow3_pad1": {"nrow": 3, "padding": 1},
    "pad0": {"padding": 0, "pad_value": 0.5},
    "normalize": {"normalize": True},
    "normalize_range": {"normalize": True, "value_range": (-1.0, 1.0)},
    "scale_each": {"normalize": True, "scale_each": True, "pad_value": 1.0},
    "nrow10": {"nrow": 10, "padding": 3, "pad_value": 0.25},
}


def inputs():
    """Must match ``inputs()`` in tools/differential/record_vision_utils.py."""
    rng = np.random.default_rng(7)
    return {
        "batch": rng.uniform(-1.5, 1.5, (5, 3, 6, 7)).astype(np.float32),
        "gray": rng.uniform(0, 1, (4, 1, 5, 5)).astype(np.float32),
        "single": rng.uniform(0, 1, (1, 8, 9)).astype(np.float32),
        "unit": rng.uniform(0, 1, (6, 3, 8, 8)).astype(np.float32),
        "img_u8": rng.integers(0, 256, (3, 40, 50)).astype(np.uint8),
        "img_f": rng.uniform(0, 1, (3, 40, 50)).astype(np.float32),
        "boxes": np.array([[2, 3, 20, 30], [10, 5, 45, 35], [0, 0, 49, 39]], dtype=np.float32),
        "masks": rng.uniform(0, 1, (2, 40, 50)) > 0.6,
    }


X = inputs()
T = {k: rustdl.from_numpy(v.copy()) for k, v in X.items()}


def check(name, got, atol=0):
    expected = GOLDEN[name]
    got = got.numpy() if isinstance(got, rustdl.Tensor) else got
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if atol:
        np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64), atol=atol, rtol=0)
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", sorted(GRID_CASES))
def test_make_grid(name):
    before = X["batch"].copy()
    check(f"grid_{name}", vu.make_grid(T["batch"], **GRID_CASES[name]), atol=1e-6)
    np.testing.assert_array_equal(T["batch"].numpy(), before)  # normalize works on a copy


def test_make_grid_gray_single_list():
    check("grid_gray", vu.make_grid(T["gray"], nrow=2))
    check("grid_single", vu.make_grid(T["single"]))
    check("grid_list", vu.make_grid(list(T["unit"][:3]), padding=1))


def test_make_grid_errors_and_grad():
    with pytest.raises(TypeError, match="tensor or list of tensors expected"):
        vu.make_grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        vu.make_grid(T["batch"], normalize=True, value_range=[0, 1])
    x = rustdl.rand(4, 3, 5, 5, requires_grad=True)
    vu.make_grid(x, nrow=2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((4, 3, 5, 5), np.float32))


def _decode(buf):
    return np.array(Image.open(io.BytesIO(buf.getvalue())))


def test_save_image_png_exact(tmp_path):
    buf = io.BytesIO()
    vu.save_image(T["unit"], buf, format="PNG")
    check("save_png", _decode(buf))
    buf = io.BytesIO()
    vu.save_image(T["batch"], buf, format="PNG", normalize=True, nrow=2)
    check("save_png_norm", _decode(buf))
    path = tmp_path / "grid.png"
    vu.save_image(T["unit"], path)
    np.testing.assert_array_equal(np.array(Image.open(path)), GOLDEN["save_png"])
    vu.save_image(T["unit"], str(tmp_path / "grid.jpg"))
    assert Image.open(tmp_path / "grid.jpg").format == "JPEG"


def test_save_image_jpeg():
    buf = io.BytesIO()
    vu.save_image(T["unit"], buf, format="JPEG")
    check("save_jpeg", _decode(buf), atol=1)


def test_draw_bounding_boxes():
    boxes = T["boxes"]
    check("boxes_plain", vu.draw_bounding_boxes(T["img_u8"], boxes))
    check(
        "boxes_styled",
        vu.draw_bounding_boxes(T["img_u8"], boxes, colors=["red", (0, 255, 0), "#0000ff"], width=2, fill=True),
    )
    check("boxes_labels", vu.draw_bounding_boxes(T["img_u8"], boxes, labels=["a", "bc", "dog"], colors="yellow"))
    check("boxes_float", vu.draw_bounding_boxes(T["img_f"], boxes[:2]), atol=1e-6)
    check("boxes_gray", vu.draw_bounding_boxes(T["img_u8"][:1], boxes[:1]))
    rotated = rustdl.tensor([[5.0, 5, 30, 8, 27, 30, 3, 27]])
    check("boxes_rotated", vu.draw_bounding_boxes(T["img_u8"], rotated, colors="white"))


def test_draw_keypoints():
    kpts = rustdl.tensor([[[3.0, 4.0], [20.5, 10.2], [40.0, 30.0]], [[45.0, 2.0], [10.0, 35.0], [25.0, 20.0]]])
    vis = rustdl.tensor([[True, True, False], [True, True, True]])
    check("keypoints_plain", vu.draw_keypoints(T["img_u8"], kpts))
    check("keypoints_styled", vu.draw_keypoints(T["img_u8"], kpts, connectivity=[(0, 1), (1, 2)], colors="red",
                                                radius=3, width=2, visibility=vis))
    check("keypoints_float", vu.draw_keypoints(T["img_f"], kpts, connectivity=[(0, 2)], colors=(0, 0, 255)),
          atol=1e-6)
    with pytest.raises(ValueError, match="num_instances, K, 2"):
        vu.draw_keypoints(T["img_u8"], kpts[0])
    with pytest.raises(ValueError, match="RGB"):
        vu.draw_keypoints(T["img_u8"][:1], kpts)


def test_draw_bounding_boxes_errors():
    with pytest.raises(ValueError, match="xmin, ymin, xmax, ymax"):
        vu.draw_bounding_boxes(T["img_u8"], rustdl.tensor([[10.0, 0, 5, 5]]))
    with pytest.raises(ValueError, match="not batches"):
        vu.draw_bounding_boxes(T["img_u8"][None], T["boxes"])
    with pytest.raises(ValueError, match="mismatch"):
        vu.draw_bounding_boxes(T["img_u8"], T["boxes"], labels=["a"])
    with pytest.raises(TypeError):
        vu.draw_bounding_boxes(X["img_u8"], T["boxes"])
    with pytest.warns(UserWarning, match="No box was drawn"):
        vu.draw_bounding_boxes(T["img_u8"], rustdl.zeros(0, 4))


def test_draw_segmentation_masks():
    check("masks_u8", vu.draw_segmentation_masks(T["img_u8"], T["masks"], alpha=0.6))
    check("masks_f", vu.draw_segmentation_masks(T["img_f"], T["masks"][0], colors="blue"), atol=1e-6)
