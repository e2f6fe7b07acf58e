"""torch.utils.checkpoint: a checkpointed function recomputed in backward gives the same loss and
the same gradients as running it normally (dropout included: the RNG state is replayed), for
inputs with and without requires_grad, and PyTorch's warning/argument errors."""

import warnings

import pytest
import rustdl as torch
from rustdl.utils.checkpoint import checkpoint, checkpoint_sequential


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Dropout(0.3), torch.nn.Linear(8, 3),
                               torch.nn.ReLU(), torch.nn.Linear(3, 2))


def _grads(m):
    return [p.grad.clone() for p in m.parameters()]


@pytest.mark.parametrize("segments", [1, 2, 3])
def test_checkpoint_sequential_equals_plain_run(segments):
    m, x = _model(), torch.randn(5, 4)
    torch.manual_seed(1)
    ref = m(x).pow(2).sum()
    ref.backward()
    want = _grads(m)
    m.zero_grad()
    torch.manual_seed(1)
    out = checkpoint_sequential(m, segments, x, use_reentrant=False).pow(2).sum()
    out.backward()
    assert float(out) == float(ref)
    for w, p in zip(want, m.parameters()):
        assert torch.equal(w, p.grad)


def test_checkpoint_input_gradient_and_kwargs():
    m = _model()
    x = torch.randn(5, 4, requires_grad=True)
    torch.manual_seed(2)
    m(x).sum().backward()
    want = x.grad.clone()
    x.grad = None
    torch.manual_seed(2)
    checkpoint(lambda a, scale=1.0: m(a) * scale, x, scale=1.0, use_reentrant=False).sum().backward()
    assert torch.equal(want, x.grad)


def test_warning_and_errors_as_pytorch():
    m, x = _model(), torch.randn(2, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checkpoint(m, x)
    assert any("use_reentrant parameter should be passed explicitly" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda a, scale: a * scale, x, scale=2.0, use_reentrant=True)
    with torch.no_grad():
        assert checkpoint(m, x, use_reentrant=False).grad_fn is None
