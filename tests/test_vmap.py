"""torch.func.vmap (a loop with vmap's semantics): results and errors as PyTorch 2.15 gives them
for the same calls."""

import pytest
import rustdl as torch
from rustdl.func import grad, vmap


def test_in_dims_out_dims_and_nesting():
    x = torch.arange(12.0).reshape(3, 4)
    y = torch.arange(4.0)
    assert vmap(torch.dot, in_dims=(0, None))(x, y).tolist() == [14.0, 38.0, 62.0]
    assert vmap(lambda a, b: a * b, in_dims=(1, 0))(x, torch.ones(4, 3)).shape == (4, 3)
    out = vmap(lambda a: (a.sum(), {"a": a * 2}), out_dims=(0, 1))(torch.ones(3, 2))
    assert out[0].shape == (3,) and out[1]["a"].shape == (2, 3)
    assert vmap(vmap(lambda a: a.sum()))(torch.ones(2, 3, 4)).shape == (2, 3)
    d = vmap(lambda t: t["p"] + t["q"], in_dims=({"p": 0, "q": None},))({"p": torch.ones(3, 2), "q": torch.ones(2)})
    assert d.shape == (3, 2)
    assert vmap(lambda a: a.sum())(torch.ones(0, 2)).shape == (0,)
    assert vmap(lambda a: a * 2, out_dims=1)(torch.ones(0, 2)).shape == (2, 0)
    assert torch.vmap is vmap


def test_per_sample_gradients():
    x = torch.arange(12.0).reshape(3, 4)
    w = torch.tensor([1.0, 2.0, 3.0, 4.0])

    def loss(w, xi):
        return ((xi * w).sum() - 1) ** 2

    got = vmap(grad(loss), in_dims=(None, 0))(w, x)
    # recorded from PyTorch 2.15
    assert got.tolist() == [[0.0, 38.0, 76.0, 114.0], [472.0, 590.0, 708.0, 826.0],
                            [1584.0, 1782.0, 1980.0, 2178.0]]


def test_errors_as_pytorch():
    with pytest.raises(ValueError, match=r"Expected all tensors to have the same size in the mapped dimension, "
                                         r"got sizes \[3, 4\] for the mapped dimension"):
        vmap(lambda a, b: a + b)(torch.ones(3, 2), torch.ones(4, 2))
    with pytest.raises(ValueError, match="We cannot vmap over non-Tensor arguments"):
        vmap(lambda a: a)(3.0)
    with pytest.raises(ValueError, match="expected in_dim to satisfy -1 <= in_dim < 1"):
        vmap(lambda a: a, in_dims=2)(torch.ones(3))
    with pytest.raises(ValueError, match="must only return Tensors, got type <class 'float'>"):
        vmap(lambda a: 3.0)(torch.ones(3))


def test_randomness_modes():
    with pytest.raises(RuntimeError, match="vmap: called random operation while in randomness error mode"):
        vmap(lambda a: torch.rand(2))(torch.ones(3))
    same = vmap(lambda a: torch.rand(2), randomness="same")(torch.ones(3))
    assert torch.equal(same[0], same[1]) and torch.equal(same[1], same[2])
    different = vmap(lambda a: torch.rand(2), randomness="different")(torch.ones(3))
    assert not torch.equal(different[0], different[1])


def test_jvp_and_jacfwd_match_pytorch():
    from rustdl.func import jacfwd, jvp

    x = torch.tensor([0.5, -1.0, 2.0])
    t = torch.tensor([1.0, 0.0, 2.0])
    out, tangent = jvp(torch.sin, (x,), (t,))
    assert torch.allclose(out, x.sin()) and torch.allclose(tangent, x.cos() * t)
    out, tangent, aux = jvp(lambda a: (a.exp(), a.sum()), (x,), (t,), has_aux=True)
    assert torch.allclose(tangent, x.exp() * t) and aux.item() == 1.5 and not aux.requires_grad
    # recorded from PyTorch 2.15
    want = [[0.9182, 0.0, 0.0], [-0.8415, 0.2702, 0.0], [0.9093, 0.0, -0.2081]]
    got = jacfwd(lambda a: a.sin() * a[0])(x)
    assert torch.allclose(got, torch.tensor(want), atol=1e-4)
    assert torch.allclose(jacfwd(lambda a, b: a * b, argnums=(0, 1))(x, x)[1], torch.diag(x))
    with pytest.raises(RuntimeError, match="Expected primals to be a tuple"):
        jvp(torch.sin, x, t)
    with pytest.raises(RuntimeError, match="Tensor is of size \\[3\\] while the given forward gradient is of size"):
        jvp(torch.sin, (x,), (torch.ones(2),))
