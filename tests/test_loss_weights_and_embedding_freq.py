"""Arguments once accepted and ignored: the per-element `weight` of l1/mse/huber losses and
`scale_grad_by_freq` of embeddings. Expected values recorded from PyTorch 2.15."""

import numpy as np
import pytest
import rustdl as torch
import rustdl.nn.functional as F

X = [[1.0, 2.0], [3.0, 4.0]]
W = [[1.0, 2.0], [0.5, 3.0]]
# (loss, reduction): (value, d value / d weight) from PyTorch 2.15
RECORDED = {
    ("mse_loss", "mean"): (9.461538314819336, [[-1.3017750978469849, -0.8402366042137146],
                                               [-0.07100582122802734, 1.0059173107147217]]),
    ("mse_loss", "sum"): (61.5, [[1.0, 4.0], [9.0, 16.0]]),
    ("mse_loss", "none"): ([[1.0, 8.0], [4.5, 48.0]], [[1.0, 4.0], [9.0, 16.0]]),
    ("l1_loss", "mean"): (2.846153736114502, [[-0.284023642539978, -0.13017749786376953],
                                              [0.023668676614761353, 0.17751482129096985]]),
    ("l1_loss", "sum"): (18.5, [[1.0, 2.0], [3.0, 4.0]]),
    ("l1_loss", "none"): ([[1.0, 4.0], [1.5, 12.0]], [[1.0, 2.0], [3.0, 4.0]]),
    # huber's weighted mean divides by the element count, not by the weights' sum
    ("huber_loss", "mean"): (3.8125, [[0.125, 0.375], [0.625, 0.875]]),
    ("huber_loss", "sum"): (15.25, [[0.5, 1.5], [2.5, 3.5]]),
    ("huber_loss", "none"): ([[0.5, 3.0], [1.25, 10.5]], [[0.5, 1.5], [2.5, 3.5]]),
}


@pytest.mark.parametrize("loss,reduction", sorted(RECORDED))
def test_weighted_losses_match_pytorch(loss, reduction):
    w = torch.tensor(W, requires_grad=True)
    out = getattr(F, loss)(torch.tensor(X), torch.zeros(2, 2), weight=w, reduction=reduction)
    (g,) = torch.autograd.grad(out.sum(), w)
    value, grad = RECORDED[loss, reduction]
    np.testing.assert_allclose(out.tolist(), value, rtol=1e-6)
    np.testing.assert_allclose(g.tolist(), grad, rtol=1e-5)


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "huber_loss"])
def test_weight_of_another_shape_is_refused(loss):
    for bad in (torch.ones(2), torch.ones(2, 1), torch.ones(3, 2)):
        with pytest.raises(ValueError, match="Weights and input must have the same size."):
            getattr(F, loss)(torch.tensor(X), torch.zeros(2, 2), weight=bad)


def test_embedding_scale_grad_by_freq_matches_pytorch():
    w = torch.ones(4, 3, requires_grad=True)
    idx = torch.tensor([[0, 0, 1], [2, 0, 3]])
    y = F.embedding(idx, w, scale_grad_by_freq=True)
    assert torch.equal(y, torch.ones(2, 3, 3))
    (y * torch.arange(18.0).view(2, 3, 3)).sum().backward()
    # recorded from PyTorch 2.15: index 0 occurs 3 times, its summed gradient divided by 3
    np.testing.assert_allclose(w.grad.tolist(), [[5.0, 6.0, 7.0], [6.0, 7.0, 8.0], [9.0, 10.0, 11.0],
                                                 [15.0, 16.0, 17.0]], rtol=1e-6)
    e = torch.nn.Embedding(4, 3, scale_grad_by_freq=True)
    assert repr(e) == "Embedding(4, 3, scale_grad_by_freq=True)"
    (e(idx).sum()).backward()
    np.testing.assert_allclose(e.weight.grad[0].tolist(), [1.0, 1.0, 1.0], rtol=1e-6)
