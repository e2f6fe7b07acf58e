"""rustdl's box-moving v2 transforms on detection samples against torchvision's, with
the random draws scripted identically on both sides (cases in
tests/vision_detection_cases.py, recorded by
tools/differential/record_vision_detection_transforms.py)."""

import os

import numpy as np
import pytest
import rustdl
import vision_detection_cases as C
from rustdl.vision import tv_tensors
from rustdl.vision.transforms import v2 as T

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "vision_detection_transforms.npz"))


def _sample():
    return (tv_tensors.Image(rustdl.from_numpy(C.IMAGE.copy())),
            {"boxes": tv_tensors.BoundingBoxes(rustdl.from_numpy(C.BOXES.copy()), format="XYXY", canvas_size=(24, 32)),
             "masks": tv_tensors.Mask(rustdl.from_numpy(C.MASK.copy())),
             "labels": rustdl.from_numpy(C.LABELS.copy())})


@pytest.mark.parametrize("i", range(len(C.CASES)), ids=[f"{i}-{c[0]}" for i, c in enumerate(C.CASES)])
def test_detection_transform_matches_torchvision(monkeypatch, i):
    name, kwargs, start = C.CASES[i]
    script = C.Script(start)

    def rand(*args, **kw):
        shape = C.parse_size(args)
        return rustdl.from_numpy(script.rand_values(int(np.prod(shape))).reshape(shape))

    def randint(*args, **kw):
        low, high, size = C.parse_randint(args, kw)
        return rustdl.from_numpy(script.randint_values(low, high, int(np.prod(size))).reshape(size))

    monkeypatch.setattr(rustdl, "rand", rand)
    monkeypatch.setattr(rustdl, "randint", randint)
    img, target = getattr(T, name)(**kwargs)(_sample())
    monkeypatch.undo()
    assert isinstance(img, tv_tensors.Image)
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes) and isinstance(target["masks"], tv_tensors.Mask)
    # uint8 resampling agrees within one grey level (tests/test_vision_transforms_parity.py)
    np.testing.assert_allclose(img.numpy().astype(int), GOLDEN[f"case{i}_image"].astype(int), atol=1)
    np.testing.assert_allclose(target["boxes"].numpy(), GOLDEN[f"case{i}_boxes"], rtol=1e-6, atol=1e-5)
    assert tuple(target["boxes"].canvas_size) == tuple(GOLDEN[f"case{i}_canvas"])
    np.testing.assert_array_equal(target["masks"].numpy(), GOLDEN[f"case{i}_masks"])
    np.testing.assert_array_equal(target["labels"].numpy(), GOLDEN[f"case{i}_labels"])


def test_keypoint_transforms_and_metadata():
    kp = tv_tensors.KeyPoints([[1.0, 2.0], [-1.0, 3.0], [4.0, 50.0]], canvas_size=(20, 30))
    np.testing.assert_array_equal(T.ClampKeyPoints()(kp).numpy(), [[1, 2], [0, 3], [4, 19]])
    kept, labels = T.SanitizeKeyPoints(labels_getter=lambda s: s[1])((kp, rustdl.tensor([5, 6, 7])))
    np.testing.assert_array_equal(kept.numpy(), [[1, 2]])
    assert labels.tolist() == [5]
    boxes = tv_tensors.BoundingBoxes([[1.0, 2.0, 3.0, 4.0]], format="XYXY", canvas_size=(8, 8))
    assert T.SetClampingMode("hard")(boxes).clamping_mode == "hard"
    with pytest.raises(ValueError, match="clamping_mode"):
        T.SetClampingMode("auto")
    video = rustdl.rand(6, 3, 4, 4)
    np.testing.assert_array_equal(T.UniformTemporalSubsample(3)(video).numpy(), video.numpy()[[0, 2, 5]])


def test_photometric_distort_applies_colour_ops_only_to_images():
    rustdl.manual_seed(0)
    img, target = T.RandomPhotometricDistort(p=1.0)(_sample())
    assert isinstance(img, tv_tensors.Image) and img.shape == (3, 24, 32) and img.dtype == rustdl.uint8
    assert not np.array_equal(img.numpy(), C.IMAGE)
    np.testing.assert_array_equal(target["boxes"].numpy(), C.BOXES)
    np.testing.assert_array_equal(T.RandomPhotometricDistort(p=0.0)(_sample())[0].numpy(), C.IMAGE)


def test_iou_crop_requires_boxes():
    with pytest.raises(TypeError, match="requires input sample to contain"):
        T.RandomIoUCrop()(rustdl.rand(3, 8, 8))


def test_geometric_transforms_without_box_support_refuse_annotated_samples():
    with pytest.raises(TypeError, match="does not move BoundingBoxes"):
        T.FiveCrop(8)(_sample())
    # without tv_tensor annotations the v1 behaviour is unchanged
    img = rustdl.rand(3, 8, 8)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(img).numpy(), img.numpy()[..., ::-1])
