"""Higher derivatives of convolutions, pooling, unfold/fold and the pixel
shuffles (issue 23): gradgradcheck in float64 per op and option family, a
third order, the gradient-penalty reproducer, and PyTorch's recorded values,
gradients, Hessian-vector products and third derivatives
(tests/golden/double_backward_conv_pool.json, recorded by
tools/differential/record_double_backward_conv_pool.py)."""

import json
from pathlib import Path

import double_backward_conv_pool_cases as cases
import numpy as np
import pytest
import rustdl as L
import rustdl.nn.functional as F
from rustdl.autograd import gradcheck, gradgradcheck

GOLDEN = json.loads((Path(__file__).parent / "golden" / "double_backward_conv_pool.json").read_text())


def _close(got, want, what):
    assert (got is None) == (want is None), f"{what}: got {got is None}, PyTorch {want is None}"
    if want is not None:
        np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-7, atol=1e-9, err_msg=what)


@pytest.mark.parametrize(("name", "shapes", "body"), cases.CASES, ids=[c[0] for c in cases.CASES])
def test_derivatives_match_pytorch(name, shapes, body):
    want = GOLDEN["derivatives"][name]
    got = cases.derivatives(L, F, shapes, body, name in cases.THIRD_ORDER)
    np.testing.assert_allclose(got["value"], want["value"], rtol=1e-9)
    for key in ("grad", "hvp", "third"):
        if key not in want:
            continue
        for i, (g, w) in enumerate(zip(got[key], want[key])):
            _close(g, w, f"{name} {key}[{i}]")


def _rand(*shape):
    return L.randn(*shape, dtype=L.float64, requires_grad=True)


L.manual_seed(23)
FAMILIES = [
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2), (_rand(2, 2, 9), _rand(3, 2, 3), _rand(3))),
    ("conv1d_same", lambda x, w: F.conv1d(x, w, padding="same", dilation=2), (_rand(1, 2, 7), _rand(2, 2, 4))),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1), (_rand(2, 2, 4, 4), _rand(3, 2, 3, 3), _rand(3))),
    ("conv2d_strided", lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=(0, 1), dilation=(1, 2)),
     (_rand(1, 2, 6, 6), _rand(2, 2, 2, 2))),
    ("conv2d_groups", lambda x, w: F.conv2d(x, w, groups=2), (_rand(1, 4, 4, 4), _rand(4, 2, 2, 2))),
    ("conv2d_depthwise", lambda x, w: F.conv2d(x, w, padding=1, groups=3), (_rand(1, 3, 4, 4), _rand(3, 1, 3, 3))),
    ("conv2d_unbatched", lambda x, w: F.conv2d(x, w), (_rand(2, 4, 3), _rand(2, 2, 2, 2))),
    ("conv2d_noncontig", lambda x, w: F.conv2d(x.transpose(2, 3), w), (_rand(1, 2, 4, 5), _rand(2, 2, 2, 3))),
    ("conv3d", lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=(1, 0, 1)),
     (_rand(1, 2, 3, 4, 3), _rand(2, 2, 2, 2, 2), _rand(2))),
    ("conv_transpose1d", lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
     (_rand(2, 2, 4), _rand(2, 3, 3), _rand(3))),
    ("conv_transpose2d", lambda x, w: F.conv_transpose2d(x, w, stride=2, output_padding=1, groups=2, dilation=(1, 2)),
     (_rand(1, 4, 3, 2), _rand(4, 1, 2, 2))),
    ("conv_transpose3d", lambda x, w: F.conv_transpose3d(x, w, stride=(2, 1, 1), padding=(0, 1, 0)),
     (_rand(1, 2, 2, 3, 2), _rand(2, 2, 2, 2, 2))),
    ("max_pool1d", lambda x: F.max_pool1d(x, 3, 2, 1), (_rand(2, 2, 8),)),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2, 1, 1, dilation=2, ceil_mode=True, return_indices=True)[0],
     (_rand(1, 2, 5, 5),)),
    ("max_pool3d", lambda x: F.max_pool3d(x, 2, ceil_mode=True), (_rand(1, 2, 3, 3, 3),)),
    ("avg_pool1d", lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False), (_rand(2, 2, 7),)),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, divisor_override=5), (_rand(1, 2, 6, 5),)),
    ("avg_pool3d", lambda x: F.avg_pool3d(x, 2, padding=1, count_include_pad=True), (_rand(1, 1, 3, 4, 3),)),
    ("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 3), (_rand(2, 2, 7),)),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), (_rand(1, 2, 5, 7),)),
    ("adaptive_avg_pool3d", lambda x: F.adaptive_avg_pool3d(x, (2, 1, 3)), (_rand(1, 1, 3, 4, 5),)),
    ("adaptive_max_pool1d", lambda x: F.adaptive_max_pool1d(x, 3), (_rand(2, 2, 7),)),
    ("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (2, 3)), (_rand(1, 2, 5, 7),)),
    ("adaptive_max_pool3d", lambda x: F.adaptive_max_pool3d(x, 2), (_rand(1, 1, 3, 4, 5),)),
    ("max_unpool1d", lambda v: F.max_unpool1d(v, L.tensor([[[1, 2, 5]]]), 2), (_rand(1, 1, 3),)),
    ("max_unpool2d", lambda v: F.max_unpool2d(v, L.tensor([[[[0, 3], [9, 14]]]]), 2), (_rand(1, 1, 2, 2),)),
    ("lp_pool1d", lambda x: F.lp_pool1d(x.pow(2) + 0.5, 2, 3, stride=2), (_rand(1, 2, 7),)),
    ("lp_pool2d", lambda x: F.lp_pool2d(x.pow(2) + 0.5, 3, 2), (_rand(1, 2, 4, 4),)),
    ("unfold", lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=2), (_rand(2, 2, 5, 5),)),
    ("fold", lambda c: F.fold(c, (4, 5), 2, padding=(0, 1), stride=(1, 2)), (_rand(2, 8, 9),)),
    ("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), (_rand(2, 8, 2, 3),)),
    ("pixel_unshuffle", lambda x: F.pixel_unshuffle(x, 2), (_rand(1, 2, 4, 6),)),
    ("interpolate_bilinear", lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), (_rand(1, 1, 3, 3),)),
    ("interpolate_trilinear", lambda x: F.interpolate(x, size=(3, 2, 4), mode="trilinear", align_corners=True),
     (_rand(1, 1, 2, 3, 2),)),
    ("interpolate_bicubic", lambda x: F.interpolate(x, size=(4, 5), mode="bicubic"), (_rand(1, 1, 3, 3),)),
    ("pad_reflect", lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"), (_rand(1, 2, 3, 4),)),
    ("pad_constant", lambda x: F.pad(x, (1, 1, 0, 2), value=0.5), (_rand(1, 2, 3, 4),)),
]


@pytest.mark.parametrize(("name", "f", "inputs"), FAMILIES, ids=[c[0] for c in FAMILIES])
def test_gradgradcheck(name, f, inputs):
    # a nonlinearity after the op makes the second derivative in x nonzero
    assert gradcheck(lambda *a: f(*a).sin(), inputs)
    assert gradgradcheck(lambda *a: f(*a).sin(), inputs)


def test_conv2d_third_order():
    x, w = _rand(1, 2, 4, 4), _rand(2, 2, 3, 3)

    def first(x, w):
        y = F.conv2d(x, w, padding=1, stride=2).tanh().sum()
        return L.autograd.grad(y, (x, w), create_graph=True)

    assert gradgradcheck(first, (x, w))


def test_conv_transpose_output_padding_third_order():
    # PyTorch 2.15 raises here ("output_padding is not supported for
    # non-transposed convolutions"): rustdl's is checked by differences.
    x, w = _rand(1, 2, 3, 3), _rand(2, 1, 3, 2)

    def first(x, w):
        y = F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1).tanh().sum()
        return L.autograd.grad(y, (x, w), create_graph=True)

    assert gradgradcheck(first, (x, w))


def test_gradient_penalty_reaches_weight():
    """The issue's reproducer: the penalty on d loss / dx must change w.grad."""
    x = L.randn(1, 2, 5, 5, dtype=L.float64, requires_grad=True)
    w = L.randn(3, 2, 3, 3, dtype=L.float64, requires_grad=True)
    loss = F.conv2d(x, w).tanh().sum()
    (gx,) = L.autograd.grad(loss, x, create_graph=True)
    assert gx.requires_grad and gx.grad_fn is not None
    (loss + 10 * (gx**2).sum()).backward()
    w0 = w.detach().clone().requires_grad_()
    F.conv2d(x.detach(), w0).tanh().sum().backward()
    assert not np.allclose(w.grad.numpy(), w0.grad.numpy())

    # the penalty's gradient in w by central differences
    def penalty(wv):
        xx = x.detach().clone().requires_grad_()
        lo = F.conv2d(xx, wv).tanh().sum()
        (g,) = L.autograd.grad(lo, xx, create_graph=True)
        return (lo + 10 * (g**2).sum()).item()

    flat, eps = w.detach().reshape(-1).numpy(), 1e-6
    for k in (0, 7, 30):
        up, dn = flat.copy(), flat.copy()
        up[k] += eps
        dn[k] -= eps
        num = (penalty(L.tensor(up).reshape(3, 2, 3, 3)) - penalty(L.tensor(dn).reshape(3, 2, 3, 3))) / (2 * eps)
        assert abs(num - w.grad.reshape(-1)[k].item()) < 1e-4 * max(1.0, abs(num))


def test_first_order_stays_detached_and_create_graph_records():
    x, w = _rand(1, 2, 4, 4), _rand(2, 2, 3, 3)
    y = F.conv2d(x, w).sum()
    gx, gw = L.autograd.grad(y, (x, w))
    assert not gx.requires_grad and not gw.requires_grad
    gx, gw = L.autograd.grad(F.conv2d(x, w).sum(), (x, w), create_graph=True)
    assert gx.grad_fn.name() == "ConvolutionBackwardBackward0"
    # as in PyTorch, pooling's backward takes the input too (zero gradient),
    # so a penalty on it works and gives zeros
    for pool, node in [(lambda t: F.max_pool2d(t, 2), "MaxPool2DWithIndicesBackwardBackward0"),
                       (lambda t: F.avg_pool2d(t, 2), "AvgPool2DBackwardBackward0"),
                       (lambda t: F.adaptive_avg_pool2d(t, 3), "AdaptiveAvgPool2DBackwardBackward0"),
                       (lambda t: F.adaptive_max_pool2d(t, 3), "AdaptiveMaxPool2DBackwardBackward0")]:
        (gp,) = L.autograd.grad(pool(x).sum(), x, create_graph=True)
        assert gp.requires_grad and gp.grad_fn.name() == node
        x.grad = None
        (gp**2).sum().backward()
        assert x.grad is not None and x.grad.abs().sum().item() == 0


def test_float32_double_backward():
    x = L.randn(1, 2, 5, 5, requires_grad=True)
    w = L.randn(3, 2, 3, 3, requires_grad=True)
    (gx,) = L.autograd.grad(F.conv2d(x, w).tanh().sum(), x, create_graph=True)
    (gx**2).sum().backward()
    assert w.grad is not None and w.grad.dtype == L.float32
    x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    (g64,) = L.autograd.grad(F.conv2d(x64, w64).tanh().sum(), x64, create_graph=True)
    (g64**2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), w64.grad.numpy(), rtol=1e-4, atol=1e-4)


# ---- unfold / fold / pixel shuffles: values, shapes, PyTorch's messages ----

def test_unfold_fold_values():
    x = (L.arange(60.0).reshape(2, 3, 2, 5) * 0.3).sin()
    cols = F.unfold(x, 2, padding=1, stride=(1, 2), dilation=(1, 2))
    assert cols.shape == (2, 12, 9)
    # im2col by hand
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.stack([xp[:, :, i:i + 2, j:j + 3:2].reshape(2, -1) for i in range(3) for j in (0, 2, 4)], axis=-1)
    np.testing.assert_allclose(cols.numpy(), want, rtol=1e-6)
    # fold(unfold(x)) multiplies each pixel by the number of blocks covering it
    ones = F.fold(F.unfold(L.ones(1, 1, 4, 5), 2), (4, 5), 2)
    np.testing.assert_array_equal(ones[0, 0].numpy()[1], [2, 4, 4, 4, 2])
    assert F.unfold(x[0], (2, 1)).shape == (6, 5)
    assert F.fold(L.zeros(12, 20), (5, 6), 2).shape == (3, 5, 6)
    assert F.unfold(L.zeros(0, 3, 5, 6), 2).shape == (0, 12, 20)
    assert F.unfold(x.half(), 2).dtype == L.float16
    assert L.nn.Unfold(2)(x).shape == (2, 12, 4)
    assert L.nn.Fold((2, 5), 2, padding=1)(F.unfold(x, 2, padding=1)).shape == (2, 3, 2, 5)


@pytest.mark.parametrize(("call", "exc", "msg"), [
    (lambda: F.unfold(L.zeros(2, 3, 5, 6), 7), RuntimeError,
     ("Given input with spatial size (5, 6), kernel_size=(7, 7), dilation=(1, 1), padding=(0, 0), calculated shape "
     "of the array of sliding blocks as (-1, 0), but its components must be at least one.")),
    (lambda: F.unfold(L.zeros(2, 3, 5, 6), 0), RuntimeError,
     "kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 0"),
    (lambda: F.unfold(L.zeros(2, 3, 5, 6), 2, stride=0), RuntimeError,
     "stride should be greater than zero, but got stride_height: 0 stride_width: 0"),
    (lambda: F.unfold(L.zeros(2, 3, 5, 6), 2, dilation=0), RuntimeError,
     "dilation should be greater than zero, but got dilation_height: 0 dilation_width: 0"),
    (lambda: F.unfold(L.zeros(2, 3, 5, 6), 2, padding=-1), RuntimeError,
     "padding should be non-negative, but got pad_height: -1 pad_width: -1"),
    (lambda: F.unfold(L.zeros(2, 3, 5, 6), (2, 2, 2)), RuntimeError, "It is expected kernel_size equals to 2, but got size 3"),
    (lambda: F.unfold(L.zeros(1, 2, 3, 4, 5), 2), RuntimeError,
     ("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for input, "
     "but got: [1, 2, 3, 4, 5]")),
    (lambda: F.unfold(L.zeros(5, 6), 2), IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda: F.unfold(L.zeros(2, 3, 5, 6, dtype=L.int64), 2), NotImplementedError,
     "\"im2col_out_cpu\" not implemented for 'Long'"),
    (lambda: F.fold(L.zeros(2, 12, 20), (5, 7), 2), RuntimeError,
     ("Given output_size=(5, 7), kernel_size=(2, 2), dilation=(1, 1), padding=(0, 0), stride=(1, 1), expected size "
     "of input's dimension 2 to match the calculated number of sliding blocks 4 * 6 = 24, but got input.size(2)=20.")),
    (lambda: F.fold(L.zeros(2, 11, 20), (5, 6), 2), RuntimeError,
     ("Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
     "input.size(1)=11 and kernel_size=(2, 2).")),
    (lambda: F.fold(L.zeros(2, 12, 20), (5, 6, 7), 2), RuntimeError, "It is expected output_size equals to 2, but got size 3"),
    (lambda: F.fold(L.zeros(2, 2, 3, 4), (5, 6), 2), RuntimeError,
     ("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero dimensions for "
     "input, but got: [2, 2, 3, 4]")),
    (lambda: F.fold(L.zeros(2, 12, 20, dtype=L.int64), (5, 6), 2), NotImplementedError,
     "\"col2im_out_cpu\" not implemented for 'Long'"),
    (lambda: F.pixel_shuffle(L.zeros(1, 7, 2, 3), 2), RuntimeError,
     ("pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, but "
     "input.size(-3)=7 is not divisible by 4")),
    (lambda: F.pixel_shuffle(L.zeros(8, 3), 2), RuntimeError,
     "pixel_shuffle expects input to have at least 3 dimensions, but got input with 2 dimension(s)"),
    (lambda: F.pixel_shuffle(L.zeros(8, 3, 2), 0), RuntimeError, "pixel_shuffle expects a positive upscale_factor, but got 0"),
    (lambda: F.pixel_shuffle(L.zeros(8, 3, 2), 2.0), TypeError,
     "pixel_shuffle(): argument 'upscale_factor' (position 2) must be int, not float"),
    (lambda: F.pixel_unshuffle(L.zeros(1, 2, 5, 6), 2), RuntimeError,
     "pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)=5 is not divisible by 2"),
    (lambda: F.pixel_unshuffle(L.zeros(1, 2, 4, 5), 2), RuntimeError,
     "pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)=5 is not divisible by 2"),
    (lambda: F.lp_pool2d(L.zeros(1, 1, 4, 4), 0, 2), ValueError, "norm_type must be a non-zero value, but got 0"),
])
def test_errors_match_pytorch(call, exc, msg):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == msg


def test_pixel_shuffle_values_and_modules():
    x = L.arange(48.0).reshape(1, 8, 2, 3)
    y = F.pixel_shuffle(x, 2)
    assert y.shape == (1, 2, 4, 6) and y.is_contiguous()
    # PyTorch: out[c, h*r + i, w*r + j] = in[c*r*r + i*r + j, h, w]
    assert y[0, 1, 3, 4].item() == x[0, 4 + 1 * 2 + 0, 1, 2].item()
    np.testing.assert_array_equal(F.pixel_unshuffle(y, 2).numpy(), x.numpy())
    assert F.pixel_shuffle(L.zeros(2, 1, 8, 2, 3, dtype=L.int64), 2).shape == (2, 1, 2, 4, 6)
    assert repr(L.nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"
    assert repr(L.nn.PixelUnshuffle(3)) == "PixelUnshuffle(downscale_factor=3)"
    assert repr(L.nn.Unfold(2)) == "Unfold(kernel_size=2, dilation=1, padding=0, stride=1)"
    assert repr(L.nn.Fold((4, 5), 2, stride=1)) == "Fold(output_size=(4, 5), kernel_size=2, dilation=1, padding=0, stride=1)"
    assert repr(L.nn.LPPool2d(2, 3)) == "LPPool2d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"
    assert L.nn.LPPool1d(2, 3)(L.ones(1, 2, 6)).shape == (1, 2, 2)
