"""Attention read in place: scaled_dot_product_attention on strided q/k/v
(and a strided output gradient) against the same inputs made contiguous and
the explicit formula, and MultiheadAttention's packed self-attention path
against multi_head_attention_forward (PyTorch's algorithm)."""

import math

import numpy as np
import pytest
import rustdl as torch
import rustdl.nn.functional as F
from rustdl import nn


def _rand(*shape, dtype=torch.float64, requires_grad=False, seed=0):
    rng = np.random.default_rng(seed + 7 * sum(shape))
    return torch.tensor(rng.standard_normal(shape).tolist(), dtype=dtype, requires_grad=requires_grad)


def _heads(proj, num_heads, batch_first):
    """q, k, v of a (B, T, 3E) or (T, B, 3E) projection as (B, H, T, D) views."""
    order = (0, 2, 1, 3) if batch_first else (1, 2, 0, 3)
    e = proj.size(-1) // 3
    return [t.unflatten(-1, (num_heads, e // num_heads)).permute(*order) for t in proj.chunk(3, -1)]


def _explicit(q, k, v, mask=None, causal=False):
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    if causal:
        keep = torch.ones(q.size(-2), k.size(-2), dtype=torch.bool).tril()
        scores = scores.masked_fill(keep.logical_not(), float("-inf"))
    if mask is not None:
        scores = scores + mask
    return F.softmax(scores, dim=-1) @ v


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"mask": True}])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_strided_heads_match_contiguous_and_formula(batch_first, kw, dtype):
    # 70 rows: two query tiles, a partial key tile
    b, t, h, d = 3, 70, 2, 8
    shape = (b, t, 3 * h * d) if batch_first else (t, b, 3 * h * d)
    proj = _rand(*shape, dtype=dtype, requires_grad=True)
    mask = _rand(t, t, dtype=dtype, seed=5) if kw.get("mask") else None
    causal = kw.get("is_causal", False)
    q, k, v = _heads(proj, h, batch_first)
    assert not q.is_contiguous()
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    # the output gradient arrives as the head merge's (strided) gradient
    g = _rand(b, t, h, d, dtype=dtype, seed=9).transpose(1, 2)
    assert not g.is_contiguous()
    got = torch.autograd.grad(out, proj, g)[0]

    proj2 = proj.detach().clone().requires_grad_(True)
    q2, k2, v2 = (x.contiguous() for x in _heads(proj2, h, batch_first))
    out2 = F.scaled_dot_product_attention(q2, k2, v2, attn_mask=mask, is_causal=causal)
    want = torch.autograd.grad(out2, proj2, g.contiguous())[0]
    # same kernel on the same numbers: identical
    assert torch.equal(out, out2)
    assert torch.equal(got, want)

    proj3 = proj.detach().clone().requires_grad_(True)
    ref = _explicit(*_heads(proj3, h, batch_first), mask=mask, causal=causal)
    ref_g = torch.autograd.grad(ref, proj3, g)[0]
    rtol, atol = (1e-10, 1e-11) if dtype == torch.float64 else (1e-4, 1e-5)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(got.numpy(), ref_g.numpy(), rtol=rtol * 10, atol=atol * 10)


def test_strided_heads_gradcheck_and_gradgradcheck():
    proj = _rand(2, 5, 12, requires_grad=True)

    def fn(p):
        q, k, v = _heads(p, 2, True)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    assert torch.autograd.gradcheck(fn, (proj,))
    assert torch.autograd.gradgradcheck(fn, (proj,))


def test_broadcast_and_strided_mix():
    # k broadcast over heads (copied), q strided (read in place)
    q = _rand(2, 6, 3, 4, requires_grad=True)
    k = _rand(2, 1, 6, 4, requires_grad=True, seed=1)
    v = _rand(2, 3, 6, 4, requires_grad=True, seed=2)
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k, v)
    ref = _explicit(q.transpose(1, 2), k.expand(2, 3, 6, 4), v)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = _rand(2, 3, 6, 4, seed=3)
    got = torch.autograd.grad(out, [q, k, v], g)
    want = torch.autograd.grad(ref, [q, k, v], g)
    for a, b in zip(got, want):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-11)


def _reference_mha(m, x, attn_mask=None, is_causal=False):
    xt = x.transpose(0, 1) if m.batch_first else x
    out = F.multi_head_attention_forward(
        xt, xt, xt, m.embed_dim, m.num_heads, m.in_proj_weight, m.in_proj_bias, None, None, False, 0.0,
        m.out_proj.weight, m.out_proj.bias, training=m.training, need_weights=False, attn_mask=attn_mask,
        is_causal=is_causal)[0]
    return out.transpose(0, 1) if m.batch_first else out


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_packed_self_attention_matches_reference(batch_first, causal, bias):
    torch.manual_seed(0)
    m = nn.MultiheadAttention(16, 4, bias=bias, batch_first=batch_first, dtype=torch.float64)
    x = _rand(3, 9, 16, requires_grad=True, seed=1)
    mask = nn.Transformer.generate_square_subsequent_mask(9, dtype=torch.float64) if causal else None
    g = _rand(3, 9, 16, seed=2)
    params = [p for p in m.parameters()]
    out = m(x, x, x, need_weights=False, attn_mask=mask, is_causal=causal)[0]
    got = torch.autograd.grad(out, [x] + params, g)
    ref = _reference_mha(m, x, attn_mask=mask, is_causal=causal)
    want = torch.autograd.grad(ref, [x] + params, g)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_packed_self_attention_gradgradcheck():
    torch.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
    x = _rand(2, 4, 8, requires_grad=True, seed=3)
    w = m.in_proj_weight

    def fn(inp, weight):
        return F._packed_self_attention(inp, True, 2, weight, m.in_proj_bias, m.out_proj.weight,
                                        m.out_proj.bias, 0.0, False)

    assert torch.autograd.gradcheck(fn, (x, w))
    assert torch.autograd.gradgradcheck(fn, (x, w))


def test_encoder_layer_float32_matches_reference_path():
    # the layer (packed path) against the same layer computed through multi_head_attention_forward
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
    x = _rand(4, 20, 32, dtype=torch.float32, seed=4)
    out = layer(x)
    attn = _reference_mha(layer.self_attn, x)
    h = layer.norm1(x + attn)
    ref = layer.norm2(h + layer.linear2(F.relu(layer.linear1(h))))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    got = torch.autograd.grad(out.square().sum(), list(layer.parameters()))
    want = torch.autograd.grad(ref.square().sum(), list(layer.parameters()))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4)


def test_fallbacks_keep_weights_and_padding_masks():
    torch.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    x = _rand(2, 5, 8, dtype=torch.float32, seed=6)
    _, w = m(x, x, x)  # need_weights: explicit weights, the reference path
    assert tuple(w.shape) == (2, 5, 5)
    pad = torch.tensor([[False] * 4 + [True], [False] * 5])
    out2, _ = m(x, x, x, key_padding_mask=pad, need_weights=False)
    ref = _reference_mha(m, x, attn_mask=None)
    # the padding mask changes the first sequence only
    np.testing.assert_allclose(out2[1].detach().numpy(), ref[1].detach().numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(out2[0].detach().numpy(), ref[0].detach().numpy())
