"""scaled_dot_product_attention, MultiheadAttention and the Transformer
modules against values and gradients recorded from PyTorch
(tools/differential/record_attention.py -> tests/golden/attention.json),
plus finite differences, errors and dropout properties."""

import json
import math
from pathlib import Path

import attention_cases as cases
import numpy as np
import pytest
import rustdl as torch
import rustdl.nn.functional as F
from rustdl import nn

GOLDEN = json.loads((Path(__file__).parent / "golden" / "attention.json").read_text())
BY_NAME = {c["name"]: c for c in cases.CASES}


def decode(e):
    if e is None:
        return None
    data = [float(x) if isinstance(x, str) else x for x in e["data"]]
    return np.array(data, dtype=e["dtype"]).reshape(e["shape"])


def tol(dtype):
    return (1e-9, 1e-9) if dtype == "float64" else (2e-4, 2e-5)


@pytest.mark.parametrize("rec", GOLDEN["cases"], ids=[c["name"] for c in GOLDEN["cases"]])
def test_matches_pytorch(rec):
    case = BY_NAME[rec["name"]]
    arrays = {k: decode(v) for k, v in rec["arrays"].items()}
    module = None
    if case["kind"] == "module":
        state = {k: decode(v) for k, v in rec["state"].items()}
        module = cases.build_module(torch, case, state)
        assert list(module.state_dict().keys()) == list(state.keys())
    gouts = [decode(g) for g in rec["grad_outputs"]]
    outs, grads = cases.run(torch, case, arrays, gouts, module)
    rtol, atol = tol(case["dtype"])
    want_outs = [decode(o) for o in rec["outputs"]]
    assert len(outs) == len(want_outs)
    for got, want in zip(outs, want_outs):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    for name, want in rec["grads"].items():
        got = grads[name]
        want = decode(want)
        if want is None:
            assert got is None or not np.any(got), name
            continue
        assert got is not None, name
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * 5, err_msg=name)


def _rand(*shape, dtype=torch.float64, requires_grad=True, seed=0):
    rng = np.random.default_rng(seed + sum(shape))
    return torch.tensor(rng.standard_normal(shape).tolist(), dtype=dtype, requires_grad=requires_grad)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.7}, {"mask": "bool"}, {"mask": "float"}])
def test_finite_differences_f64(kw):
    kw = dict(kw)
    q, k, v = _rand(2, 3, 4), _rand(2, 5, 4, seed=1), _rand(2, 5, 3, seed=2)
    mask = kw.pop("mask", None)
    if mask == "bool":
        m = np.random.default_rng(3).random((3, 5)) > 0.4
        m[:, 0] = True
        kw["attn_mask"] = torch.tensor(m.tolist())
    elif mask == "float":
        kw["attn_mask"] = _rand(3, 5, requires_grad=False, seed=4)
    assert torch.autograd.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **kw), (q, k, v))


def test_finite_differences_float_mask_grad():
    q, k, v = _rand(1, 3, 4), _rand(1, 5, 4, seed=1), _rand(1, 5, 3, seed=2)
    m = _rand(3, 5, seed=4)
    assert torch.autograd.gradcheck(lambda a, b, c, d: F.scaled_dot_product_attention(a, b, c, attn_mask=d),
                                    (q, k, v, m))


def test_node_name_and_fully_masked_rows_are_zero():
    q, k, v = (_rand(1, 2, 4, 8, dtype=torch.float32, seed=s) for s in range(3))
    mask = torch.ones(4, 4, dtype=torch.bool)
    mask[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert out.grad_fn.name() == "ScaledDotProductFlashAttentionForCpuBackward0"
    assert out[:, :, 1].abs().sum().item() == 0.0
    out.sum().backward()
    assert q.grad[:, :, 1].abs().sum().item() == 0.0
    assert not bool(k.grad.isnan().any())


def test_large_tiles_match_composite():
    # several query and key tiles, causal skipping, f32
    q, k, v = (_rand(2, 2, 150, 32, dtype=torch.float32, seed=s) for s in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(32)
    causal = torch.ones(150, 150, dtype=torch.bool).tril()
    ref = F.softmax(scores.masked_fill(causal.logical_not(), float("-inf")), dim=-1) @ v
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = _rand(2, 2, 150, 32, dtype=torch.float32, requires_grad=False, seed=9)
    got = torch.autograd.grad((out * g).sum(), [q, k, v])
    want = torch.autograd.grad((ref * g).sum(), [q, k, v])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4)


def test_non_contiguous_inputs():
    q = _rand(2, 5, 3, 8, seed=1).transpose(1, 2)
    k = _rand(2, 6, 3, 8, seed=2).transpose(1, 2)
    v = _rand(2, 6, 3, 8, seed=3).transpose(1, 2)
    out = F.scaled_dot_product_attention(q, k, v)
    ref = F.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1) @ v
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_empty_sizes():
    q, k, v = torch.zeros(2, 0, 4), torch.zeros(2, 3, 4), torch.zeros(2, 3, 5)
    assert tuple(F.scaled_dot_product_attention(q, k, v).shape) == (2, 0, 5)
    out = F.scaled_dot_product_attention(torch.ones(2, 3, 4), torch.zeros(2, 0, 4), torch.zeros(2, 0, 5))
    assert tuple(out.shape) == (2, 3, 5)


@pytest.mark.parametrize("args, msg", [
    ((torch.zeros(2, 4, 8), torch.zeros(2, 5, 7), torch.zeros(2, 5, 6)),
     "Expected size for first two dimensions of batch2 tensor to be: [2, 8] but got: [2, 7]."),
    ((torch.zeros(2, 4, 8), torch.zeros(2, 5, 8), torch.zeros(2, 4, 6)),
     "Expected size for first two dimensions of batch2 tensor to be: [2, 5] but got: [2, 4]."),
    ((torch.zeros(2, 4, 8, dtype=torch.int32), torch.zeros(2, 5, 8), torch.zeros(2, 5, 6)),
     ("Expected query, key, and value to have the same dtype, but got query.dtype: int key.dtype: float and "
      "value.dtype: float instead.")),
    ((torch.zeros(2, 4, 8), torch.zeros(2, 5, 8, dtype=torch.float64), torch.zeros(2, 5, 6)),
     "but got query.dtype: float key.dtype: double"),
    ((torch.zeros(8), torch.zeros(8), torch.zeros(8)),
     ("Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: 1 key.dim: 1 and "
      "value.dim: 1 instead.")),
])
def test_errors(args, msg):
    with pytest.raises(RuntimeError) as e:
        F.scaled_dot_product_attention(*args)
    assert msg in str(e.value)


def test_mask_errors():
    q, k, v = torch.zeros(2, 3, 4, 8), torch.zeros(2, 3, 5, 8), torch.zeros(2, 3, 5, 8)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(4, 5, dtype=torch.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(4, 5, dtype=torch.int32))
    with pytest.raises(RuntimeError, match="attn_mask.dtype: double and  query.dtype: float"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=torch.zeros(4, 5, dtype=torch.float64))
    qd, kd, vd = q.double(), k.double(), v.double()
    out = F.scaled_dot_product_attention(qd, kd, vd, attn_mask=torch.zeros(4, 5))
    assert out.dtype == torch.float64
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Int"):
        qi = q.int()
        F.scaled_dot_product_attention(qi, qi, qi)
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(3, 5, dtype=torch.bool))


def test_dropout():
    q, k, v = (_rand(2, 2, 16, 8, dtype=torch.float32, seed=s) for s in range(3))
    torch.manual_seed(5)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    torch.manual_seed(5)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert torch.equal(a, b)
    plain = F.scaled_dot_product_attention(q, k, v)
    assert not torch.equal(a, plain)
    zero = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    assert zero.abs().sum().item() == 0.0
    a.sum().backward()
    assert q.grad is not None and bool(q.grad.isfinite().all())


def test_mha_init_and_keys():
    m = nn.MultiheadAttention(16, 4)
    assert m.in_proj_bias.abs().sum().item() == 0.0 and m.out_proj.bias.abs().sum().item() == 0.0
    bound = math.sqrt(6.0 / (16 + 48))
    assert m.in_proj_weight.abs().max().item() <= bound
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(m.out_proj, nn.Linear)
    assert list(nn.MultiheadAttention(16, 4, kdim=8, vdim=8).state_dict()) == [
        "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 4)


def test_decoder_layer_keys_and_square_mask():
    layer = nn.TransformerDecoderLayer(8, 2, 16)
    assert list(layer.state_dict()) == [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
        "self_attn.out_proj.bias", "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias",
        "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias", "linear1.weight", "linear1.bias",
        "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
        "norm3.weight", "norm3.bias"]
    m = nn.Transformer.generate_square_subsequent_mask(3)
    assert m.dtype == torch.float32
    assert m.tolist() == [[0.0, -math.inf, -math.inf], [0.0, 0.0, -math.inf], [0.0, 0.0, 0.0]]
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_mha_needs_mask_for_causal_hint():
    m = nn.MultiheadAttention(8, 2)
    x = torch.zeros(3, 2, 8)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"mask": "bool"}])
def test_double_backward_f64(kw):
    kw = dict(kw)
    if kw.pop("mask", None):
        m = np.random.default_rng(3).random((3, 5)) > 0.4
        m[:, 0] = True
        kw["attn_mask"] = torch.tensor(m.tolist())
    q, k, v = _rand(2, 3, 4), _rand(2, 5, 4, seed=1), _rand(2, 5, 3, seed=2)
    assert torch.autograd.gradgradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **kw), (q, k, v))


@pytest.mark.parametrize("causal", [False, True])
def test_single_sequence_backward_matches_composite(causal):
    # one batch entry: the backward splits into key-tile and query-tile passes
    q, k, v = (_rand(200, 16, dtype=torch.float64, seed=s) for s in range(3))
    mask = None if causal else _rand(200, 200, requires_grad=False, seed=7)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    scores = (q @ k.t()) / 4.0
    if causal:
        scores = scores.masked_fill(torch.ones(200, 200, dtype=torch.bool).tril().logical_not(), float("-inf"))
    else:
        scores = scores + mask
    ref = F.softmax(scores, dim=-1) @ v
    g = _rand(200, 16, requires_grad=False, seed=9)
    got = torch.autograd.grad((out * g).sum(), [q, k, v])
    want = torch.autograd.grad((ref * g).sum(), [q, k, v])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-10)
