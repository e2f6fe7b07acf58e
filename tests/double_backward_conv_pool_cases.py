"""Cases for the higher derivatives of convolutions, pooling, unfold/fold
and the pixel shuffles (issue 23).

Each case is ``(name, shapes, body)``: inputs ``a, b, c, ...`` of the given
shapes are made by one formula (``make``, identical in rustdl and PyTorch),
``body`` is an expression in ``L``, ``F`` and the inputs giving a scalar.
``tools/differential/record_double_backward_conv_pool.py`` records, in
PyTorch, the value, the gradient, the Hessian-vector product with ``v`` (the
same formula) and the third derivative along ``v`` twice into
``tests/golden/double_backward_conv_pool.json``;
``tests/test_double_backward_conv_pool.py`` recomputes them with rustdl.
"""

CASES = [
    ("conv2d", [(2, 3, 5, 4), (4, 3, 3, 2), (4,)], "F.conv2d(a, b, c, padding=1).tanh().sum()"),
    ("conv2d_stride_dil", [(1, 2, 7, 6), (3, 2, 2, 3)], "F.conv2d(a, b, stride=(2, 1), padding=(1, 2), dilation=(2, 1)).sin().sum()"),
    ("conv2d_groups", [(1, 4, 5, 5), (6, 2, 3, 3), (6,)], "F.conv2d(a, b, c, groups=2).pow(3).sum()"),
    ("conv2d_depthwise", [(2, 3, 5, 5), (3, 1, 3, 3)], "F.conv2d(a, b, padding='same', groups=3).tanh().sum()"),
    ("conv2d_penalty", [(1, 2, 5, 5), (3, 2, 3, 3)],
     "(lambda loss: loss + 10 * (L.autograd.grad(loss, a, create_graph=True)[0] ** 2).sum())(F.conv2d(a, b).tanh().sum())"),
    ("conv1d", [(2, 2, 9), (3, 2, 3), (3,)], "F.conv1d(a, b, c, stride=2, padding=2, dilation=2).tanh().sum()"),
    ("conv1d_unbatched", [(2, 6), (4, 2, 2)], "F.conv1d(a, b, padding='valid').sin().sum()"),
    ("conv3d", [(1, 2, 4, 4, 3), (2, 2, 2, 3, 2)], "F.conv3d(a, b, stride=(1, 2, 1), padding=1).tanh().sum()"),
    ("conv2d_circular", [(1, 2, 4, 5), (2, 2, 3, 3)], "F.conv2d(F.pad(a, (1, 1, 1, 1), mode='circular'), b).tanh().sum()"),
    ("conv2d_reflect", [(1, 1, 4, 5), (2, 1, 3, 3)], "F.conv2d(F.pad(a, (1, 1, 1, 1), mode='reflect'), b).tanh().sum()"),
    ("conv_transpose2d", [(1, 4, 3, 3), (4, 2, 3, 2), (4,)],
     "F.conv_transpose2d(a, b, c, stride=2, padding=1, output_padding=1, groups=2).tanh().sum()"),
    ("conv_transpose2d_dil", [(2, 2, 3, 4), (2, 3, 2, 2)], "F.conv_transpose2d(a, b, stride=(1, 2), dilation=(2, 1)).sin().sum()"),
    ("conv_transpose1d", [(2, 2, 5), (2, 3, 3), (3,)], "F.conv_transpose1d(a, b, c, stride=3, padding=1, output_padding=2).tanh().sum()"),
    ("conv_transpose3d", [(1, 2, 2, 3, 2), (2, 2, 2, 2, 2)], "F.conv_transpose3d(a, b, stride=2, padding=(0, 1, 0)).tanh().sum()"),
    ("max_pool2d", [(2, 2, 6, 5)], "F.max_pool2d(a, 3, stride=2, padding=1).pow(3).sum()"),
    ("max_pool2d_ceil_dil", [(1, 2, 7, 7)], "F.max_pool2d(a, 2, stride=2, dilation=2, ceil_mode=True).pow(3).sum()"),
    ("max_pool1d", [(2, 3, 9)], "F.max_pool1d(a.sin(), 3, 2).pow(2).sum()"),
    ("max_pool3d", [(1, 2, 4, 4, 4)], "F.max_pool3d(a, 2).pow(3).sum()"),
    ("avg_pool2d", [(2, 2, 6, 5)], "F.avg_pool2d(a.sin(), 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False).pow(3).sum()"),
    ("avg_pool2d_divisor", [(1, 2, 5, 5)], "F.avg_pool2d(a, 2, divisor_override=3).pow(3).sum()"),
    ("avg_pool1d", [(2, 3, 8)], "F.avg_pool1d(a, 3, 2, 1).pow(3).sum()"),
    ("avg_pool3d", [(1, 2, 4, 5, 4)], "F.avg_pool3d(a, 2, padding=1).pow(3).sum()"),
    ("adaptive_avg_pool2d", [(2, 2, 5, 7)], "F.adaptive_avg_pool2d(a, (3, 4)).pow(3).sum()"),
    ("adaptive_avg_pool1d", [(2, 3, 7)], "F.adaptive_avg_pool1d(a, 3).pow(3).sum()"),
    ("adaptive_avg_pool3d", [(1, 2, 3, 5, 4)], "F.adaptive_avg_pool3d(a, (2, 3, 3)).pow(3).sum()"),
    ("adaptive_max_pool2d", [(2, 2, 5, 7)], "F.adaptive_max_pool2d(a, (3, 4)).pow(3).sum()"),
    ("adaptive_max_pool1d", [(2, 3, 7)], "F.adaptive_max_pool1d(a, 3).pow(3).sum()"),
    ("adaptive_max_pool3d", [(1, 2, 3, 5, 4)], "F.adaptive_max_pool3d(a, 2).pow(3).sum()"),
    ("max_unpool2d", [(1, 2, 6, 6), (1, 2, 3, 3)],
     "F.max_unpool2d(b, F.max_pool2d(a.detach(), 2, return_indices=True)[1], 2).pow(3).sum()"),
    ("lp_pool2d", [(1, 2, 6, 6)], "F.lp_pool2d(a.pow(2) + 1, 2, 2).pow(2).sum()"),
    ("unfold", [(2, 3, 5, 4)], "F.unfold(a, (2, 3), dilation=(1, 1), padding=1, stride=(2, 1)).pow(3).sum()"),
    ("fold", [(2, 12, 20)], "F.fold(a, (5, 6), 2).pow(3).sum()"),
    ("fold_stride_pad", [(1, 8, 9)], "F.fold(a, (4, 5), (2, 2), dilation=(1, 2), padding=1, stride=2).pow(3).sum()"),
    ("pixel_shuffle", [(1, 8, 2, 3)], "F.pixel_shuffle(a, 2).pow(3).mul(L.arange(48.).reshape(1, 2, 4, 6)).sum()"),
    ("pixel_unshuffle", [(2, 1, 4, 6)], "F.pixel_unshuffle(a, 2).pow(3).mul(L.arange(48.).reshape(2, 4, 2, 3)).sum()"),
    ("interpolate_bilinear", [(1, 2, 3, 4)], "F.interpolate(a, size=(5, 7), mode='bilinear', align_corners=True).pow(3).sum()"),
    ("interpolate_nearest", [(1, 2, 3, 4)], "F.interpolate(a, scale_factor=2, mode='nearest').pow(3).sum()"),
    ("interpolate_bicubic", [(1, 2, 3, 4)], "F.interpolate(a, size=(5, 7), mode='bicubic').pow(3).sum()"),
    ("interpolate_bicubic_align", [(1, 1, 4, 3)], "F.interpolate(a, scale_factor=(0.75, 2), mode='bicubic', align_corners=True).pow(3).sum()"),
    ("interpolate_linear", [(1, 2, 5)], "F.interpolate(a, size=8, mode='linear').pow(3).sum()"),
    ("pad_replicate", [(1, 2, 3, 4)], "F.pad(a, (2, 1, 1, 2), mode='replicate').pow(3).sum()"),
]

# Cases whose third derivative is recorded as well.
THIRD_ORDER = {"conv2d", "conv1d", "conv_transpose2d", "avg_pool2d", "max_pool2d", "unfold", "fold"}


def make(L, shape, salt):
    """Deterministic float64 values of `shape` (no RNG: same in both libraries)."""
    n = 1
    for s in shape:
        n *= s
    return (L.arange(n, dtype=L.float64) * 0.7 + salt).sin().mul(1.3).reshape(shape)


def derivatives(L, F, shapes, body, third):
    """The body's value, its gradient, the Hessian-vector product with `v`,
    and (when `third`) the third derivative along `v`, `v`."""
    xs = [make(L, s, 0.3 * i).requires_grad_() for i, s in enumerate(shapes)]
    vs = [make(L, s, 1.1 + 0.5 * i) for i, s in enumerate(shapes)]
    ns = {"L": L, "F": F, **dict(zip("abcdef", xs))}
    y = eval(body, ns)
    g = L.autograd.grad(y, xs, create_graph=True, allow_unused=True)
    gv = sum((gi * vi).sum() for gi, vi in zip(g, vs) if gi is not None)
    h = L.autograd.grad(gv, xs, create_graph=third, allow_unused=True)
    out = {"value": y.item(), "grad": [_list(t) for t in g], "hvp": [_list(t) for t in h]}
    if third:
        hv = sum((hi * vi).sum() for hi, vi in zip(h, vs) if hi is not None)
        try:
            t3 = L.autograd.grad(hv, xs, allow_unused=True)
            out["third"] = [_list(t) for t in t3]
        except RuntimeError as e:
            # PyTorch 2.15's third derivative of a transposed convolution with
            # output_padding fails ("output_padding is not supported for
            # non-transposed convolutions"); rustdl's is checked numerically.
            out["third_error"] = str(e).split("\n")[0]
    return out


def _list(t):
    return None if t is None else t.detach().reshape(-1).tolist()
