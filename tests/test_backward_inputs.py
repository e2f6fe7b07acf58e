"""`backward(inputs=...)` and `autograd.grad(is_grads_batched=True)`: both were accepted and
ignored (every leaf got a gradient; the batch dim was not split). Expected values as PyTorch
2.15 gives them for the same calls."""

import pytest
import rustdl as torch


def test_backward_accumulates_only_into_inputs():
    a = torch.ones(2, requires_grad=True)
    b = torch.full((2,), 3.0, requires_grad=True)
    seen = []
    a.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.clone()))
    (a * b).sum().backward(inputs=[a], retain_graph=True)
    assert a.grad.tolist() == [3.0, 3.0] and b.grad is None and len(seen) == 1
    m = a * b
    (m * m).sum().backward(inputs=[m, b])  # a non-leaf input gets a .grad too
    assert m.grad.tolist() == [6.0, 6.0] and b.grad.tolist() == [6.0, 6.0] and a.grad.tolist() == [3.0, 3.0]
    torch.autograd.backward((a * b).sum(), inputs=b)
    assert b.grad.tolist() == [7.0, 7.0]
    with pytest.raises(RuntimeError, match="`inputs` argument to `backward\\(\\)` cannot be empty."):
        (a * b).sum().backward(inputs=[])
    with pytest.raises(RuntimeError, match="does not require grad"):
        (a * b).sum().backward(inputs=[torch.ones(2)])


def test_backward_inputs_with_create_graph_keeps_a_differentiable_grad():
    x = torch.tensor([2.0], requires_grad=True)
    (x**3).sum().backward(inputs=[x], create_graph=True)
    assert x.grad.tolist() == [12.0] and x.grad.requires_grad
    (g,) = torch.autograd.grad(x.grad.sum(), x)
    assert g.tolist() == [12.0]


def test_grads_batched_gives_one_vjp_per_row():
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x.exp()
    (jac,) = torch.autograd.grad(y, x, torch.eye(3), is_grads_batched=True)
    assert torch.allclose(jac, torch.diag(x.exp()).detach())
    w = torch.randn(2, 3, requires_grad=True)
    out = (w * x).sum(1)
    gw, gx = torch.autograd.grad(out, (w, x), torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]),
                                 is_grads_batched=True)
    assert gw.shape == (3, 2, 3) and gx.shape == (3, 3)
    assert torch.allclose(gx[1], 2 * w[1].detach()) and torch.allclose(gw[2], x.detach().expand(2, 3))
    with pytest.raises(RuntimeError, match="we interpret the first dimension of each grad_output as the batch"):
        torch.autograd.grad(y, x, torch.ones(3), is_grads_batched=True)


def test_backward_with_create_graph_leaves_a_differentiable_grad():
    # the Hessian-vector product through .grad: x.grad used to be stored detached, so the second
    # derivative below was silently missing
    x = torch.tensor([2.0, 1.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (hv,) = torch.autograd.grad((x.grad * torch.tensor([1.0, 1.0])).sum(), x, retain_graph=True)
    assert hv.tolist() == [12.0, 6.0]
    (x**2).sum().backward(create_graph=True)  # accumulation stays differentiable too
    (hv2,) = torch.autograd.grad(x.grad.sum(), x)
    assert hv2.tolist() == [14.0, 8.0]


def test_retained_grad_of_a_non_leaf_is_differentiable_under_create_graph():
    # recorded from PyTorch 2.15: m.grad = 2 m = 2 x^2, d(sum m.grad)/dx = 4 x
    x = torch.tensor([2.0, 1.0], requires_grad=True)
    m = x**2
    m.retain_grad()
    (m**2).sum().backward(create_graph=True)
    assert m.grad.tolist() == [8.0, 2.0] and m.grad.requires_grad
    (g,) = torch.autograd.grad(m.grad.sum(), x)
    assert g.tolist() == [8.0, 4.0]
