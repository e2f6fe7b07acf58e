"""Leaf gradients are stored as soon as they are final (PyTorch's AccumulateGrad
runs when its inputs are done), and register_post_accumulate_grad_hook.
Expectations recorded by hand from PyTorch 2.15."""

import pytest
import rustdl as torch
from rustdl import nn


def test_leaf_hook_runs_before_the_rest_of_backward():
    w = torch.ones(3, requires_grad=True)
    x = torch.ones(3, requires_grad=True)
    seen = []
    w.register_hook(lambda g: seen.append(("w", x.grad is None, g.tolist())))
    y = (x * 2).exp()
    z = (y * w).sum() + (w * 3).sum()
    z.backward()
    # w's gradient is complete before the graph reaches x, and it is the sum of both uses.
    assert len(seen) == 1
    _name, x_grad_pending, g = seen[0]
    assert x_grad_pending
    assert g == pytest.approx([2.718281828 ** 2 + 3] * 3, rel=1e-6)
    assert x.grad.tolist() == pytest.approx([2 * 2.718281828 ** 2] * 3, rel=1e-6)


def test_post_accumulate_grad_hook_gets_the_parameter_after_accumulation():
    p = nn.Parameter(torch.ones(2))
    calls = []
    h = p.register_post_accumulate_grad_hook(lambda q: calls.append((q is p, q.grad.tolist())))
    (p * 3).sum().backward()
    assert calls == [(True, [3.0, 3.0])]
    (p * 3).sum().backward()
    assert calls[-1] == (True, [6.0, 6.0])
    h.remove()
    (p * 3).sum().backward()
    assert len(calls) == 2


def test_post_accumulate_grad_hook_errors():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        torch.ones(2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match="non-leaf tensors"):
        (torch.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_optimizer_step_in_backward_equals_a_normal_step():
    def make():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))

    x = torch.randn(5, 4)
    ref = make()
    opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        ref(x).pow(2).sum().backward()
        opt.step()

    model = make()
    opts = {p: torch.optim.SGD([p], lr=0.1, momentum=0.9) for p in model.parameters()}

    def step_now(p):
        opts[p].step()
        opts[p].zero_grad()

    for p in model.parameters():
        p.register_post_accumulate_grad_hook(step_now)
    for _ in range(3):
        model(x).pow(2).sum().backward()
    for a, b in zip(ref.parameters(), model.parameters()):
        assert a.flatten().tolist() == pytest.approx(b.flatten().tolist(), rel=1e-6, abs=1e-7)
