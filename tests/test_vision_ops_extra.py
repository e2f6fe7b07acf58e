"""torchvision.ops additions against recorded torchvision results
(tools/differential/record_vision_ops_extra.py): distance/complete box IoU, the box
IoU and focal losses with their gradients, masks_to_boxes, FrozenBatchNorm2d,
SqueezeExcitation, MLP; the random regularisers by their laws."""

import os

import numpy as np
import pytest
import rustdl
from rustdl.vision import ops

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "vision_ops_extra.npz"))


def inputs():
    """Must match ``inputs()`` in tools/differential/record_vision_ops_extra.py."""
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 20, (6, 2))
    wh = rng.uniform(1, 12, (6, 2))
    boxes1 = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    xy2 = xy + rng.uniform(-4, 4, (6, 2))
    wh2 = rng.uniform(1, 12, (6, 2))
    boxes2 = np.concatenate([xy2, xy2 + wh2], 1).astype(np.float32)
    logits = rng.normal(0, 2, (4, 5)).astype(np.float32)
    targets = (rng.uniform(0, 1, (4, 5)) > 0.6).astype(np.float32)
    masks = np.zeros((3, 7, 9), np.uint8)
    masks[0, 2:5, 1:4] = 1
    masks[1, 0, 8] = 1
    masks[1, 6, 0] = 1
    feats = rng.normal(0, 1, (2, 4, 5, 5)).astype(np.float32)
    return boxes1, boxes2, logits, targets, masks, feats


def formula_state(module):
    state = {}
    for i, (name, t) in enumerate(module.state_dict().items()):
        if t.is_floating_point():
            vals = 0.3 * np.sin(np.arange(t.numel()) * 0.7 + i) + (1.0 if name.endswith("running_var") else 0.0)
            state[name] = rustdl.from_numpy(vals.astype(np.float32).reshape(tuple(t.shape)))
    return state


B1, B2, LOGITS, TARGETS, MASKS, FEATS = (rustdl.from_numpy(a) for a in inputs())


def close(got, key, tol=1e-5):
    np.testing.assert_allclose(got.detach().numpy(), GOLDEN[key], rtol=tol, atol=tol)


def test_distance_and_complete_box_iou():
    close(ops.distance_box_iou(B1, B2), "distance_box_iou")
    close(ops.complete_box_iou(B1, B2), "complete_box_iou")


@pytest.mark.parametrize("name", ["generalized_box_iou_loss", "distance_box_iou_loss", "complete_box_iou_loss"])
@pytest.mark.parametrize("red", ["none", "mean", "sum"])
def test_box_iou_losses_and_grads(name, red):
    x = B1.clone().requires_grad_(True)
    loss = getattr(ops, name)(x, B2, reduction=red)
    close(loss, f"{name}/{red}")
    loss.sum().backward()
    close(x.grad, f"{name}/{red}/grad", 1e-4)
    with pytest.raises(ValueError, match="Invalid Value for arg 'reduction'"):
        getattr(ops, name)(B1, B2, reduction="max")


@pytest.mark.parametrize(("alpha", "gamma", "red"), [(0.25, 2, "none"), (-1, 1.5, "mean"), (0.6, 0, "sum")])
def test_sigmoid_focal_loss(alpha, gamma, red):
    x = LOGITS.clone().requires_grad_(True)
    loss = ops.sigmoid_focal_loss(x, TARGETS, alpha=alpha, gamma=gamma, reduction=red)
    close(loss, f"focal/{alpha}/{gamma}/{red}")
    loss.sum().backward()
    close(x.grad, f"focal/{alpha}/{gamma}/{red}/grad", 1e-4)
    with pytest.raises(ValueError, match="Invalid alpha value"):
        ops.sigmoid_focal_loss(LOGITS, TARGETS, alpha=2.0)


def test_masks_to_boxes():
    close(ops.masks_to_boxes(MASKS), "masks_to_boxes")
    assert ops.masks_to_boxes(rustdl.zeros(0, 3, 3)).shape == (0, 4)


def test_blocks_match_torchvision():
    fbn = ops.FrozenBatchNorm2d(4)
    fbn.load_state_dict(formula_state(fbn))
    close(fbn(FEATS), "frozen_bn")
    assert not list(fbn.parameters()) and repr(fbn) == "FrozenBatchNorm2d(4, eps=1e-05)"
    fbn.load_state_dict(rustdl.nn.BatchNorm2d(4).state_dict())  # num_batches_tracked is dropped
    se = ops.SqueezeExcitation(4, 2)
    se.load_state_dict(formula_state(se))
    close(se(FEATS), "squeeze_excitation")
    mlp = ops.MLP(5, [7, 3], norm_layer=rustdl.nn.LayerNorm)
    assert list(mlp.state_dict().keys()) == GOLDEN["mlp_keys"].tolist()
    mlp.load_state_dict(formula_state(mlp))
    close(mlp(FEATS[0, 0]), "mlp")
    assert ops.Permute([0, 2, 3, 1])(FEATS).shape == (2, 5, 5, 4)
    c3 = ops.Conv3dNormActivation(2, 4, kernel_size=3)
    assert c3(rustdl.randn(1, 2, 4, 4, 4)).shape == (1, 4, 4, 4, 4) and c3[0].bias is None


def test_stochastic_depth_and_drop_block():
    x = rustdl.ones(1000, 3)
    rustdl.manual_seed(0)
    y = ops.stochastic_depth(x, 0.3, "row")
    rows = y[:, 0].numpy()
    assert np.allclose(rows[rows > 0], 1 / 0.7) and 0.6 < (rows > 0).mean() < 0.8
    assert (y.numpy() == rows[:, None]).all()  # whole rows
    assert ops.stochastic_depth(x, 0.3, "row", training=False) is x
    b = ops.stochastic_depth(x, 0.5, "batch")
    assert len(np.unique(b.numpy())) == 1
    with pytest.raises(ValueError, match="mode has to be either 'batch' or 'row'"):
        ops.stochastic_depth(x, 0.1, "col")
    f = rustdl.ones(2, 3, 9, 9)
    d = ops.drop_block2d(f, 0.3, 3)
    zeros = d.numpy() == 0
    assert zeros.any() and np.allclose(d.numpy()[~zeros], d.numpy()[~zeros][0])
    with pytest.raises(ValueError, match="block size should be odd"):
        ops.drop_block2d(f, 0.3, 4)
    with pytest.raises(ValueError, match="input should be 5 dimensional"):
        ops.drop_block3d(f, 0.3, 3)
    m = ops.DropBlock2d(0.2, 3).eval()
    assert m(f) is f and repr(m) == "DropBlock2d(p=0.2, block_size=3, inplace=False)"
    assert repr(ops.StochasticDepth(0.2, "row")) == "StochasticDepth(p=0.2, mode=row)"


def test_flow_to_image():
    from rustdl.vision.utils import flow_to_image

    yy, xx = np.mgrid[0:9, 0:11].astype(np.float32)
    flow = np.stack([np.sin(xx / 3.0) * 4 - 1, np.cos(yy / 2.0 + xx / 5.0) * 3], 0).astype(np.float32)
    img = flow_to_image(rustdl.from_numpy(flow))
    assert img.dtype == rustdl.uint8 and img.shape == (3, 9, 11)
    diff = np.abs(img.numpy().astype(int) - GOLDEN["flow_to_image"].astype(int))
    assert diff.max() <= 1, diff.max()
    assert flow_to_image(rustdl.from_numpy(flow[None])).shape == (1, 3, 9, 11)
    with pytest.raises(ValueError, match="Flow should be of dtype torch.float"):
        flow_to_image(rustdl.from_numpy(flow.astype(np.float64)))
