"""rustdl.vision's v2 kernels for bounding boxes, keypoints and masks against
torchvision's (cases in tests/vision_tv_kernel_cases.py, recorded by
tools/differential/record_vision_tv_kernels.py)."""

import os

import numpy as np
import pytest
import rustdl
from rustdl.vision import tv_tensors
from rustdl.vision.transforms.v2 import functional as F
from vision_tv_kernel_cases import CASES, flatten_output

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "vision_tv_kernels.npz"))


def to_rustdl(v):
    if isinstance(v, np.ndarray):
        return rustdl.from_numpy(v.copy())
    if isinstance(v, tuple) and len(v) == 2 and v[0] == "FMT":
        return tv_tensors.BoundingBoxFormat[v[1]]
    return v


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_kernel_matches_torchvision(i):
    name, args, kwargs = CASES[i]
    res = getattr(F, name)(*[to_rustdl(a) for a in args], **{k: to_rustdl(v) for k, v in kwargs.items()})
    for j, r in enumerate(flatten_output(res)):
        expected = GOLDEN[f"case{i}_{j}"]
        got = r.numpy() if isinstance(r, rustdl.Tensor) else np.asarray(r)
        assert got.shape == expected.shape, (j, got.shape, expected.shape)
        assert got.dtype == expected.dtype, (j, got.dtype, expected.dtype)
        if np.issubdtype(expected.dtype, np.floating):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
        else:
            np.testing.assert_array_equal(got, expected)


def test_tv_tensor_inputs_carry_their_metadata():
    boxes = tv_tensors.BoundingBoxes([[1.0, 2.0, 5.0, 6.0]], format="XYXY", canvas_size=(10, 12))
    assert F.get_size_bounding_boxes(boxes) == [10, 12]
    out = F.convert_bounding_box_format(boxes, new_format="XYWH")
    assert isinstance(out, tv_tensors.BoundingBoxes) and out.format == tv_tensors.BoundingBoxFormat.XYWH
    np.testing.assert_array_equal(out.numpy(), [[1.0, 2.0, 4.0, 4.0]])
    kept, valid = F.sanitize_bounding_boxes(boxes)
    assert isinstance(kept, tv_tensors.BoundingBoxes) and valid.tolist() == [True]
    kp = tv_tensors.KeyPoints([[-1.0, 3.0], [20.0, 2.0]], canvas_size=(10, 12))
    assert F.get_size_keypoints(kp) == [10, 12]
    np.testing.assert_array_equal(F.clamp_keypoints(kp).numpy(), [[0.0, 3.0], [11.0, 2.0]])


def test_argument_errors_as_torchvision():
    boxes = rustdl.tensor([[1.0, 2.0, 5.0, 6.0]])
    with pytest.raises(ValueError, match="old_format"):
        F.convert_bounding_box_format(boxes, new_format="XYWH")
    with pytest.raises(TypeError, match="new_format"):
        F.convert_bounding_box_format(boxes, old_format="XYXY")
    with pytest.raises(ValueError, match="format`, `canvas_size`"):
        F.clamp_bounding_boxes(boxes)
    with pytest.raises(ValueError, match="rotated and unrotated"):
        F.convert_bounding_box_format(boxes, old_format="XYXY", new_format="XYWHR")
    with pytest.raises(ValueError, match="displacement shape"):
        F.elastic_keypoints(rustdl.zeros(1, 2), (4, 4), rustdl.zeros(1, 4, 5, 2))
    with pytest.raises(ValueError, match="not supported"):
        F.pad_bounding_boxes(boxes, "XYXY", (8, 8), [1], padding_mode="reflect")
    with pytest.raises(NotImplementedError, match="rotated"):
        F.clamp_bounding_boxes(rustdl.tensor([[5.0, 5.0, 2.0, 2.0, 10.0]]), "XYWHR", (8, 8), "soft")


def test_dispatchers_route_tv_tensors_to_their_kernels():
    raw = rustdl.tensor([[1.0, 2.0, 5.0, 6.0], [0.0, 0.0, 3.0, 9.0]])
    boxes = tv_tensors.BoundingBoxes(raw, format="XYXY", canvas_size=(8, 10))
    out = F.resize(boxes, [16, 20])
    expected, canvas = F.resize_bounding_boxes(raw, (8, 10), [16, 20], format="XYXY")
    assert isinstance(out, tv_tensors.BoundingBoxes) and out.canvas_size == canvas == (16, 20)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    out = F.rotate(boxes, 30.0, expand=True)
    expected, canvas = F.rotate_bounding_boxes(raw, "XYXY", (8, 10), 30.0, expand=True)
    assert out.canvas_size == canvas
    np.testing.assert_allclose(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(F.horizontal_flip(boxes).numpy(),
                                  F.horizontal_flip_bounding_boxes(raw, "XYXY", (8, 10)).numpy())
    points = tv_tensors.KeyPoints([[1.0, 2.0]], canvas_size=(8, 10))
    moved = F.pad(points, [1, 2, 3, 4])
    assert moved.canvas_size == (14, 14) and moved.numpy().tolist() == [[2.0, 4.0]]
    mask = tv_tensors.Mask(rustdl.from_numpy(np.arange(80, dtype=np.uint8).reshape(8, 10)))
    out = F.crop(mask, 1, 2, 3, 4)
    assert isinstance(out, tv_tensors.Mask)
    np.testing.assert_array_equal(out.numpy(), np.arange(80).reshape(8, 10)[1:4, 2:6])
    image = tv_tensors.Image(rustdl.rand(3, 8, 10))
    assert isinstance(F.vertical_flip(image), tv_tensors.Image)
    assert F.get_size(boxes) == [8, 10] and not F.is_pure_tensor(boxes) and F.is_pure_tensor(raw)
    plain = rustdl.rand(3, 8, 10)
    np.testing.assert_allclose(F.perspective(plain, None, None, coefficients=[1, 0, 0, 0, 1, 0, 0, 0]).numpy(),
                               plain.numpy(), atol=1e-6)
