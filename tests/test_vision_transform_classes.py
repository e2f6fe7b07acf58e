"""Transform classes on PIL images and tensors: PIL in -> PIL out, parameter
checks and reprs as torchvision, random draws inside the documented ranges."""

import numpy as np
import pytest
import rustdl
from PIL import Image
from rustdl.vision import transforms as T
from rustdl.vision.transforms import functional as F


def pil_rgb(h=20, w=24, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8))


def test_geometric_transforms_keep_pil_images():
    rustdl.manual_seed(0)
    img = pil_rgb()
    for t in (
        T.Resize(10),
        T.Resize((8, 9)),
        T.CenterCrop(12),
        T.RandomCrop(16, padding=2),
        T.RandomCrop(30, pad_if_needed=True, fill=(1, 2, 3)),
        T.RandomResizedCrop(8),
        T.RandomRotation(30),
        T.RandomRotation(30, fill=(255, 0, 0)),
        T.Pad((1, 2)),
        T.RandomHorizontalFlip(1.0),
        T.RandomVerticalFlip(1.0),
        T.ColorJitter(0.4, 0.4, 0.4, 0.1),
        T.Grayscale(),
        T.RandomGrayscale(1.0),
        T.GaussianBlur(3),
    ):
        out = t(img)
        assert isinstance(out, Image.Image), t
    assert T.Resize(10)(img).size == (12, 10)
    assert T.RandomResizedCrop((8, 9))(img).size == (9, 8)
    assert T.RandomCrop(30, pad_if_needed=True)(img).size == (30, 30)
    assert T.Grayscale()(img).mode == "L" and T.Grayscale(3)(img).mode == "RGB"
    assert T.RandomGrayscale(1.0)(img).mode == "RGB"


def test_pipeline_pil_to_normalized_tensor():
    rustdl.manual_seed(1)
    pipeline = T.Compose(
        [
            T.RandomResizedCrop(16),
            T.RandomHorizontalFlip(),
            T.ColorJitter(0.2, 0.2, 0.2, 0.05),
            T.ToTensor(),
            T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )
    x = pipeline(pil_rgb())
    assert x.shape == (3, 16, 16) and x.dtype == rustdl.float32
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0


def test_to_pil_image_and_back():
    x = rustdl.rand(3, 5, 7)
    img = T.ToPILImage()(x)
    assert img.mode == "RGB" and img.size == (7, 5)
    np.testing.assert_array_equal(np.array(img), (x.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    back = T.PILToTensor()(img)
    assert back.dtype == rustdl.uint8 and back.shape == (3, 5, 7)
    assert T.ToPILImage()(rustdl.rand(1, 4, 4)).mode == "L"
    assert T.ToPILImage(mode="F")(rustdl.rand(1, 4, 4)).mode == "F"
    assert T.ToPILImage()(np.zeros((4, 4, 4), np.uint8)).mode == "RGBA"
    with pytest.raises(TypeError, match="pic should be Tensor or ndarray"):
        T.ToPILImage()([1, 2])
    with pytest.raises(ValueError, match="pic should not have > 4 channels"):
        T.ToPILImage()(rustdl.rand(5, 4, 4))
    assert repr(T.ToPILImage()) == "ToPILImage()" and repr(T.ToPILImage("RGB")) == "ToPILImage(mode=RGB)"


def test_convert_image_dtype():
    x = rustdl.tensor([[[0, 128, 255]]], dtype=rustdl.uint8)
    f = T.ConvertImageDtype(rustdl.float32)(x)
    np.testing.assert_allclose(f.numpy(), [[[0.0, 128 / 255, 1.0]]], rtol=1e-6)
    np.testing.assert_array_equal(T.ConvertImageDtype(rustdl.uint8)(f).numpy(), x.numpy())


def test_color_jitter_params_and_repr():
    cj = T.ColorJitter(brightness=0.5, contrast=(0.2, 1.8), saturation=0, hue=0.1)
    assert cj.brightness == (0.5, 1.5) and cj.contrast == (0.2, 1.8) and cj.saturation is None
    assert cj.hue == (-0.1, 0.1)
    assert repr(cj) == "ColorJitter(brightness=(0.5, 1.5), contrast=(0.2, 1.8), saturation=None, hue=(-0.1, 0.1))"
    rustdl.manual_seed(0)
    for _ in range(20):
        order, b, c, s, h = T.ColorJitter.get_params(cj.brightness, cj.contrast, None, cj.hue)
        assert sorted(order.tolist()) == [0, 1, 2, 3]
        assert 0.5 <= b <= 1.5 and 0.2 <= c <= 1.8 and s is None and -0.1 <= h <= 0.1
    assert T.ColorJitter(brightness=2).brightness == (0.0, 3.0)
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="If brightness is a single number, it must be non negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(TypeError, match="contrast should be a single number or a list/tuple with length 2"):
        T.ColorJitter(contrast=[1, 2, 3])
    x = rustdl.rand(3, 8, 8)
    y = T.ColorJitter(0.3, 0.3, 0.3, 0.1)(x)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1


def test_gaussian_blur_class():
    gb = T.GaussianBlur(5, sigma=(0.5, 1.0))
    assert gb.kernel_size == (5, 5) and repr(gb) == "GaussianBlur(kernel_size=(5, 5), sigma=(0.5, 1.0))"
    rustdl.manual_seed(0)
    assert 0.5 <= T.GaussianBlur.get_params(0.5, 1.0) <= 1.0
    with pytest.raises(ValueError, match="odd and positive"):
        T.GaussianBlur(4)
    with pytest.raises(ValueError, match="sigma values should be positive and of the form"):
        T.GaussianBlur(3, sigma=(2.0, 1.0))
    x = rustdl.rand(2, 3, 10, 10)
    y = T.GaussianBlur(3, sigma=1.0)(x)
    np.testing.assert_allclose(y.numpy(), F.gaussian_blur(x, [3, 3], [1.0, 1.0]).numpy())
    assert y.shape == x.shape


def test_functional_errors_as_torchvision():
    with pytest.raises(TypeError, match="Input should be PIL Image"):
        F.to_grayscale(rustdl.rand(3, 4, 4))
    with pytest.raises(ValueError, match="hue_factor"):
        F.adjust_hue(rustdl.rand(3, 4, 4), 0.7)
    with pytest.raises(ValueError, match="brightness_factor"):
        F.adjust_brightness(rustdl.rand(3, 4, 4), -1)
    with pytest.raises(ValueError, match="kernel_size should have odd and positive integers"):
        F.gaussian_blur(rustdl.rand(3, 4, 4), 2)
    with pytest.raises(TypeError, match="Only torch.uint8 image tensors are supported"):
        F.posterize(rustdl.rand(3, 4, 4), 2)
    with pytest.raises(ValueError, match="cannot broadcast to match the number of channels"):
        F.rotate(rustdl.rand(3, 4, 4), 10.0, fill=[1.0, 2.0])


def test_color_ops_are_differentiable_on_float_tensors():
    x = rustdl.rand(3, 6, 6, requires_grad=True)
    y = F.adjust_saturation(F.adjust_contrast(F.adjust_brightness(x, 0.9), 1.1), 1.2)
    y = F.gaussian_blur(y, 3, 1.0)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == (3, 6, 6)


def test_random_color_transforms():
    img = pil_rgb()
    t = rustdl.randint(0, 256, (3, 6, 6), dtype=rustdl.uint8)
    for tr in (
        T.RandomInvert(1.0),
        T.RandomPosterize(2, 1.0),
        T.RandomSolarize(100, 1.0),
        T.RandomAdjustSharpness(2.0, 1.0),
        T.RandomAutocontrast(1.0),
        T.RandomEqualize(1.0),
    ):
        assert isinstance(tr(img), Image.Image)
        out = tr(t)
        assert out.shape == t.shape and out.dtype == rustdl.uint8
    np.testing.assert_array_equal(T.RandomInvert(1.0)(t).numpy(), 255 - t.numpy())
    assert T.RandomInvert(0.0)(t) is t
    assert repr(T.RandomPosterize(2, 0.3)) == "RandomPosterize(bits=2,p=0.3)"


def test_random_affine():
    rustdl.manual_seed(0)
    ra = T.RandomAffine(degrees=15, translate=(0.1, 0.2), scale=(0.9, 1.1), shear=(-5, 5, -3, 3))
    assert ra.degrees == [-15.0, 15.0] and ra.shear == [-5.0, 5.0, -3.0, 3.0]
    for _ in range(10):
        angle, (tx, ty), scale, (sx, sy) = T.RandomAffine.get_params(
            ra.degrees, ra.translate, ra.scale, ra.shear, [30, 20]
        )
        assert -15 <= angle <= 15 and abs(tx) <= 3 and abs(ty) <= 4 and 0.9 <= scale <= 1.1
        assert -5 <= sx <= 5 and -3 <= sy <= 3 and isinstance(tx, int)
    img = pil_rgb()
    assert isinstance(ra(img), Image.Image) and ra(img).size == img.size
    x = rustdl.rand(3, 20, 24)
    assert ra(x).shape == x.shape
    # a pure translation by whole pixels moves the pixels
    moved = F.affine(x, 0.0, [2, 1], 1.0, 0.0)
    np.testing.assert_array_equal(moved.numpy()[:, 1:, 2:], x.numpy()[:, :-1, :-2])
    assert repr(T.RandomAffine(10)) == "RandomAffine(degrees=[-10.0, 10.0])"
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(1.5, 0))
    with pytest.raises(ValueError, match="Argument scale should be positive"):
        F.affine(x, 0.0, [0, 0], 0.0, 0.0)


def test_five_and_ten_crop():
    x = rustdl.arange(5 * 6).reshape(1, 5, 6)
    tl, tr, bl, br, center = T.FiveCrop((2, 3))(x)
    np.testing.assert_array_equal(tl.numpy(), x.numpy()[:, :2, :3])
    np.testing.assert_array_equal(tr.numpy(), x.numpy()[:, :2, 3:])
    np.testing.assert_array_equal(bl.numpy(), x.numpy()[:, 3:, :3])
    np.testing.assert_array_equal(br.numpy(), x.numpy()[:, 3:, 3:])
    np.testing.assert_array_equal(center.numpy(), x.numpy()[:, 2:4, 2:5])
    crops = T.TenCrop(2)(pil_rgb())
    assert len(crops) == 10 and all(isinstance(c, Image.Image) and c.size == (2, 2) for c in crops)
    np.testing.assert_array_equal(np.array(crops[5]), np.array(F.hflip(crops[1])))
    with pytest.raises(ValueError, match="Requested crop size"):
        F.five_crop(x, 7)


def test_random_erasing():
    rustdl.manual_seed(0)
    x = rustdl.ones(3, 16, 16)
    y = T.RandomErasing(p=1.0, value=0)(x)
    assert float(x.min()) == 1.0  # not in place
    zeros = (y.numpy() == 0).all(axis=0)
    rows, cols = np.nonzero(zeros)
    assert zeros.sum() > 0 and zeros.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    z = T.RandomErasing(p=1.0, value="random")(x)
    assert (z.numpy() != 1).any()
    w = T.RandomErasing(p=1.0, value=(0.1, 0.2, 0.3), inplace=True)(x)
    assert w is x
    with pytest.raises(ValueError, match="If value is str, it should be 'random'"):
        T.RandomErasing(value="noise")
    with pytest.raises(ValueError, match="either a single value or 3"):
        T.RandomErasing(p=1.0, value=(1, 2))(rustdl.ones(3, 8, 8))
    assert repr(T.RandomErasing()) == (
        "RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False)"
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: T.AutoAugment(T.AutoAugmentPolicy.IMAGENET),
        lambda: T.AutoAugment(T.AutoAugmentPolicy.CIFAR10, fill=(10, 20, 30)),
        lambda: T.AutoAugment(T.AutoAugmentPolicy.SVHN),
        lambda: T.RandAugment(num_ops=3, magnitude=12),
        lambda: T.TrivialAugmentWide(interpolation=T.InterpolationMode.BILINEAR),
    ],
)
def test_auto_augment_family(make):
    rustdl.manual_seed(0)
    aug = make()
    img = pil_rgb()
    t = rustdl.randint(0, 256, (3, 20, 24), dtype=rustdl.uint8)
    for _ in range(25):  # many draws cover most ops
        out = aug(img)
        assert isinstance(out, Image.Image) and out.size == img.size and out.mode == "RGB"
        y = aug(t)
        assert y.shape == t.shape and y.dtype == rustdl.uint8


def test_auto_augment_spaces_match_torchvision():
    from rustdl.vision.transforms import autoaugment as A

    space = A._space(31, (32, 32), identity=True, invert=False)
    assert list(space) == [
        "Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
        "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize",
    ]
    np.testing.assert_array_equal(space["Posterize"][0][[0, 7, 8, 15, 30]], [8, 7, 7, 6, 4])
    assert float(space["TranslateX"][0][-1]) == pytest.approx(150 / 331 * 32)
    assert len(A._POLICIES[T.AutoAugmentPolicy.IMAGENET]) == 25
    assert T.AutoAugment().policies[0] == (("Posterize", 0.4, 8), ("Rotate", 0.6, 9))
    assert repr(T.RandAugment()).startswith("RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=31")
