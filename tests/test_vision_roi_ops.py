"""rustdl.vision.ops' RoI pooling, deformable convolution, FeaturePyramidNetwork and
MultiScaleRoIAlign against torchvision.ops (cases in tests/vision_roi_cases.py,
recorded by tools/differential/record_vision_roi_ops.py): values and gradients."""

import collections
import os

import numpy as np
import pytest
import rustdl
import vision_roi_cases as C
from rustdl.vision import ops

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "vision_roi_ops.npz"))


def _run(i):
    name, args, grads = C.CASES[i]
    kwargs = {k: (rustdl.from_numpy(v.copy()).requires_grad_(k in grads) if isinstance(v, np.ndarray) else v)
              for k, v in args.items()}
    y = getattr(ops, name)(**kwargs)
    return y, kwargs, grads


@pytest.mark.parametrize("i", range(len(C.CASES)), ids=[f"{i}-{c[0]}" for i, c in enumerate(C.CASES)])
def test_values_and_gradients_match_torchvision(i):
    y, kwargs, grads = _run(i)
    expected = GOLDEN[f"case{i}_out"]
    assert y.detach().numpy().dtype == expected.dtype
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    (y * rustdl.from_numpy(C.upstream(tuple(y.shape))).to(y.dtype)).sum().backward()
    for g in grads:
        np.testing.assert_allclose(kwargs[g].grad.numpy(), GOLDEN[f"case{i}_grad_{g}"], rtol=1e-4, atol=1e-4,
                                   err_msg=g)


def test_box_list_form_and_modules():
    x = rustdl.from_numpy(C.X)
    boxes = [rustdl.from_numpy(C.ROIS[C.ROIS[:, 0] == b, 1:].copy()) for b in (0, 1)]
    stacked = rustdl.from_numpy(np.concatenate([C.ROIS[C.ROIS[:, 0] == b] for b in (0, 1)]))
    np.testing.assert_allclose(ops.roi_align(x, boxes, 3).numpy(), ops.roi_align(x, stacked, 3).numpy())
    np.testing.assert_allclose(ops.RoIAlign(3, 1.0, -1)(x, stacked).numpy(), ops.roi_align(x, stacked, 3).numpy())
    np.testing.assert_allclose(ops.RoIPool(2, 1.0)(x, stacked).numpy(), ops.roi_pool(x, stacked, 2).numpy())
    np.testing.assert_allclose(ops.PSRoIAlign(2, 1.0, -1)(x, stacked).numpy(), ops.ps_roi_align(x, stacked, 2).numpy())
    np.testing.assert_allclose(ops.PSRoIPool(2, 1.0)(x, stacked).numpy(), ops.ps_roi_pool(x, stacked, 2).numpy())
    assert repr(ops.RoIAlign(3, 0.5, 2)) == "RoIAlign(output_size=3, spatial_scale=0.5, sampling_ratio=2, aligned=False)"
    assert ops.roi_align(x, rustdl.zeros(0, 5), 2).shape == (0, 8, 2, 2)


def test_errors():
    x = rustdl.from_numpy(C.X)
    with pytest.raises(AssertionError, match=r"Tensor\[K, 5\]"):
        ops.roi_align(x, rustdl.zeros(3, 4), 2)
    with pytest.raises(RuntimeError, match="multiple of pooling height"):
        ops.ps_roi_align(x, rustdl.from_numpy(C.ROIS), 3)
    with pytest.raises(RuntimeError, match="offset tensor at dimension 1"):
        ops.deform_conv2d(x, rustdl.zeros(2, 3, 8, 10), rustdl.zeros(4, 8, 3, 3))


def test_deform_conv_with_zero_offset_is_conv2d():
    x = rustdl.from_numpy(C.X)
    layer = ops.DeformConv2d(8, 6, 3, padding=1)
    out = layer(x, rustdl.zeros(2, 18, 10, 12))
    ref = rustdl.nn.functional.conv2d(x, layer.weight, layer.bias, padding=1)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert repr(layer) == "DeformConv2d(8, 6, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"


def test_feature_pyramid_network_matches_torchvision():
    fpn = ops.FeaturePyramidNetwork([4, 8, 6], 5,
                                    extra_blocks=ops.feature_pyramid_network.LastLevelMaxPool())
    keys = [(k, tuple(v.shape)) for k, v in fpn.state_dict().items()]
    assert [k for k, _ in keys] == list(GOLDEN["fpn_keys"])
    fpn.load_state_dict({k: rustdl.from_numpy(v) for k, v in C.fpn_weights(keys).items()})
    res = fpn(collections.OrderedDict((k, rustdl.from_numpy(v)) for k, v in C.FPN_IN))
    assert list(res.keys()) == list(GOLDEN["fpn_names"])
    for k, v in res.items():
        np.testing.assert_allclose(v.detach().numpy(), GOLDEN[f"fpn_{k}"], rtol=1e-4, atol=1e-4)


def test_multiscale_roi_align_matches_torchvision():
    m = ops.MultiScaleRoIAlign(["p2", "p3", "p4"], 3, 2)
    feats = collections.OrderedDict((k, rustdl.from_numpy(v)) for k, v in C.MSROI_FEATS)
    out = m(feats, [rustdl.from_numpy(b) for b in C.MSROI_BOXES], [(128, 128), (120, 110)])
    np.testing.assert_allclose(out.numpy(), GOLDEN["msroi"], rtol=1e-4, atol=1e-5)
    assert repr(m) == "MultiScaleRoIAlign(featmap_names=['p2', 'p3', 'p4'], output_size=(3, 3), sampling_ratio=2)"
