"""hardshrink/softshrink/tanhshrink, masked_scatter and index_put: values,
gradients and errors recorded from PyTorch 2.15 (literal values below)."""

import math

import pytest
import rustdl as torch
import rustdl.nn.functional as F

NAN, INF = float("nan"), float("inf")
X = [-1.0, -0.5, -0.2, 0.0, 0.5, 0.7, NAN, INF]


def same(a, b):
    return len(a) == len(b) and all(u == v or (math.isnan(u) and math.isnan(v)) or abs(u - v) < 1e-6
                                    for u, v in zip(a, b))


@pytest.mark.parametrize("name, values, grads", [
    ("hardshrink", [-1.0, 0.0, 0.0, 0.0, 0.0, 0.7, NAN, INF], [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
    ("softshrink", [-0.5, -0.0, -0.0, 0.0, 0.0, 0.2, NAN, INF], [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
    ("tanhshrink", [-0.238406, -0.037883, -0.002625, 0.0, 0.037883, 0.095632, NAN, INF],
     [0.580026, 0.213552, 0.038957, 0.0, 0.213552, 0.36526, NAN, 1.0]),
])
def test_shrink_values_and_gradients(name, values, grads):
    x = torch.tensor(X, requires_grad=True)
    y = getattr(F, name)(x)
    y.sum().backward()
    assert same(y.tolist(), values) and same(x.grad.tolist(), grads)


def test_softshrink_keeps_the_sign_of_zero():
    assert [math.copysign(1, v) for v in F.softshrink(torch.tensor([-0.3, 0.2])).tolist()] == [-1, 1]


def test_shrink_errors_and_modules():
    with pytest.raises(RuntimeError, match=r"lambda must be in range \[0, 3.40282e\+38\] for input dtype Float, but found -1"):
        F.softshrink(torch.ones(2), -1.0)
    with pytest.raises(NotImplementedError, match="\"hardshrink_cpu\" not implemented for 'Long'"):
        F.hardshrink(torch.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match="\"softshrink_check\" not implemented for 'Long'"):
        F.softshrink(torch.tensor([1, 2]))
    assert same(F.tanhshrink(torch.tensor([1, 2])).tolist(), [0.238406, 1.035972])
    assert repr(torch.nn.Hardshrink()) == "Hardshrink(0.5)" and repr(torch.nn.Softshrink(0.3)) == "Softshrink(0.3)"
    assert repr(torch.nn.Tanhshrink()) == "Tanhshrink()"


@pytest.mark.parametrize("name", ["hardshrink", "softshrink", "tanhshrink"])
def test_shrink_second_derivatives(name):
    x = torch.tensor([-1.3, -0.2, 0.1, 0.9, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(getattr(F, name), (x,))


def test_masked_scatter():
    a = torch.zeros(3, 2)
    m = torch.tensor([[True, False], [False, True], [True, True]])
    assert a.masked_scatter(m, torch.arange(1., 7.)).tolist() == [[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]]
    assert a.clone().masked_scatter_(torch.tensor([True, False]), torch.arange(1., 7.)).tolist() == \
        [[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]
    assert torch.zeros(2).masked_scatter(torch.tensor([[True], [False]]), torch.arange(1., 7.)).tolist() == \
        [[1.0, 2.0], [0.0, 0.0]]
    with pytest.raises(RuntimeError, match="expected self and source to have same dtypes but gotFloat and Double"):
        a.masked_scatter(m, torch.arange(1., 7., dtype=torch.float64))
    with pytest.raises(RuntimeError, match="only supports boolean masks, but got mask with dtype Int"):
        a.masked_scatter(m.int(), torch.arange(1., 7.))
    with pytest.raises(RuntimeError, match="Number of elements of source < number of ones in mask"):
        a.masked_scatter(m, torch.arange(1., 3.))
    x, s = torch.zeros(3, requires_grad=True), torch.ones(3, requires_grad=True)
    torch.masked_scatter(x, torch.tensor([True, False, True]), s * torch.tensor([1., 2., 3.])).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0] and s.grad.tolist() == [1.0, 2.0, 0.0]


def test_index_put_out_of_place():
    a = torch.zeros(3, 2)
    assert torch.index_put(torch.zeros(3), (torch.tensor([1]),), torch.tensor(5.)).tolist() == [0.0, 5.0, 0.0]
    assert a.index_put((torch.tensor([0, 0]),), torch.ones(2), accumulate=True).tolist() == \
        [[2.0, 2.0], [0.0, 0.0], [0.0, 0.0]]
    assert a.sum().item() == 0
    x = torch.zeros(3, requires_grad=True)
    (x.index_put((torch.tensor([1]),), torch.tensor(5.)) * torch.tensor([1., 2., 3.])).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 3.0]
