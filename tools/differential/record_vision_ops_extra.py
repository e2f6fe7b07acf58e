"""Record torchvision.ops results for tests/test_vision_ops_extra.py: distance/complete
box IoU, the focal and box IoU losses (values and input gradients), masks_to_boxes,
FrozenBatchNorm2d, SqueezeExcitation and MLP on weights from a formula.

    /work/torchenv/bin/python tools/differential/record_vision_ops_extra.py
"""

import os

import numpy as np
import torch
from torchvision import ops

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "vision_ops_extra.npz")


def inputs():
    """Must match ``inputs()`` in tests/test_vision_ops_extra.py."""
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
    """Deterministic parameters: sin of the running index, scaled."""
    state = {}
    for i, (name, t) in enumerate(module.state_dict().items()):
        if t.dtype.is_floating_point:
            n = t.numel()
            vals = 0.3 * np.sin(np.arange(n) * 0.7 + i) + (1.0 if name.endswith("running_var") else 0.0)
            state[name] = torch.from_numpy(vals.astype(np.float32).reshape(tuple(t.shape)))
    return state


def main():
    b1, b2, logits, targets, masks, feats = (torch.from_numpy(a) for a in inputs())
    out = {}
    out["distance_box_iou"] = ops.distance_box_iou(b1, b2).numpy()
    out["complete_box_iou"] = ops.complete_box_iou(b1, b2).numpy()
    for name in ("generalized_box_iou_loss", "distance_box_iou_loss", "complete_box_iou_loss"):
        for red in ("none", "mean", "sum"):
            x = b1.clone().requires_grad_(True)
            loss = getattr(ops, name)(x, b2, reduction=red)
            out[f"{name}/{red}"] = loss.detach().numpy()
            loss.sum().backward()
            out[f"{name}/{red}/grad"] = x.grad.numpy()
    for alpha, gamma, red in ((0.25, 2, "none"), (-1, 1.5, "mean"), (0.6, 0, "sum")):
        x = logits.clone().requires_grad_(True)
        loss = ops.sigmoid_focal_loss(x, targets, alpha=alpha, gamma=gamma, reduction=red)
        out[f"focal/{alpha}/{gamma}/{red}"] = loss.detach().numpy()
        loss.sum().backward()
        out[f"focal/{alpha}/{gamma}/{red}/grad"] = x.grad.numpy()
    out["masks_to_boxes"] = ops.masks_to_boxes(masks).numpy()
    fbn = ops.FrozenBatchNorm2d(4)
    fbn.load_state_dict(formula_state(fbn))
    out["frozen_bn"] = fbn(feats).numpy()
    se = ops.SqueezeExcitation(4, 2)
    se.load_state_dict(formula_state(se))
    out["squeeze_excitation"] = se(feats).detach().numpy()
    mlp = ops.MLP(5, [7, 3], norm_layer=torch.nn.LayerNorm)
    mlp.load_state_dict(formula_state(mlp))
    out["mlp"] = mlp(feats[0, 0]).detach().numpy()
    out["mlp_keys"] = np.array(list(mlp.state_dict().keys()))
    from torchvision.utils import flow_to_image

    yy, xx = np.mgrid[0:9, 0:11].astype(np.float32)
    flow = np.stack([np.sin(xx / 3.0) * 4 - 1, np.cos(yy / 2.0 + xx / 5.0) * 3], 0).astype(np.float32)
    out["flow_to_image"] = flow_to_image(torch.from_numpy(flow)).numpy()
    np.savez_compressed(OUT, **out)
    print("wrote", OUT, os.path.getsize(OUT), "bytes;", len(out), "results")


if __name__ == "__main__":
    main()
