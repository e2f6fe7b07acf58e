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
