"""The fused paths under a TransformerEncoderLayer training step, each
against an independent reference:

- layer_norm's float32 row loops (explicit SIMD) against the float64 kernels
  and a composite of plain ops, at row lengths leaving every vector tail,
  on strided inputs, on 1-3 threads;
- split/chunk's single SplitBackward0 node against gradients assembled by
  hand (some pieces unused, double backward, strided inputs);
- addmm's bias added in the product's buffer, and linear + relu clamped in
  place (``_linear.linear_relu``, used by the feed-forward blocks), against
  the unfused ops, bit for bit, with the same graph nodes.
"""

import numpy as np
import pytest
import rustdl as torch
import rustdl.nn.functional as F
from rustdl import _linear, nn


def _rand(*shape, dtype=torch.float32, seed=0, shift=0.0):
    rng = np.random.default_rng(seed + 31 * sum(shape))
    return torch.tensor((rng.standard_normal(shape) + shift).tolist(), dtype=dtype)


@pytest.fixture(params=[1, 2, 3])
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def _layer_norm_composite(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    y = (x - mean) / (var + eps).sqrt()
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


@pytest.mark.parametrize("n", [1, 7, 8, 15, 16, 17, 33, 256, 1025, 2100])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("strided", [False, True])
def test_layer_norm_float32_rows_match_float64(threads, n, affine, strided):
    rows = 48
    x = _rand(n, rows, shift=3.0) if strided else _rand(rows, n, shift=3.0)
    x = x.t() if strided else x  # (rows, n) either way
    assert x.is_contiguous() != strided or n == 1
    w = _rand(n, seed=1) if affine else None
    b = _rand(n, seed=2) if affine else None
    gy = _rand(rows, n, seed=3)

    def run(dtype, fn):
        xs = x.detach().to(dtype).requires_grad_()
        ps = [p.detach().to(dtype).requires_grad_() for p in (w, b) if p is not None]
        wb = ps + [None] * (2 - len(ps))
        y = fn(xs, wb[0], wb[1])
        y.backward(gy.to(dtype))
        return [y.detach()] + [t.grad for t in [xs] + ps]

    got = run(torch.float32, lambda xs, ws, bs: F.layer_norm(xs, (n,), ws, bs, 1e-5))
    ref64 = run(torch.float64, lambda xs, ws, bs: F.layer_norm(xs, (n,), ws, bs, 1e-5))
    comp = run(torch.float64, lambda xs, ws, bs: _layer_norm_composite(xs, ws, bs, 1e-5))
    for g, r, c in zip(got, ref64, comp):
        torch.testing.assert_close(r, c, rtol=1e-9, atol=1e-9)
        # (n == 1 normalizes to exactly 0 whatever the input: gx is 0)
        torch.testing.assert_close(g.double(), r, rtol=2e-4, atol=2e-4 * max(1.0, n ** 0.5))


def test_layer_norm_float32_is_the_same_on_any_thread_count():
    x = _rand(300, 256, shift=-2.0)
    w, b = _rand(256, seed=1), _rand(256, seed=2)
    gy = _rand(300, 256, seed=3)
    outs = []
    before = torch.get_num_threads()
    try:
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            xs, ws, bs = (v.detach().requires_grad_() for v in (x, w, b))
            y = F.layer_norm(xs, (256,), ws, bs)
            y.backward(gy)
            outs.append([y.detach(), xs.grad, ws.grad, bs.grad])
    finally:
        torch.set_num_threads(before)
    # rows are independent (y, gx): bitwise; dw, db sum per-part partials in
    # float64, so they may differ by a rounding of the parts' grouping
    for o in outs[1:]:
        assert torch.equal(o[0], outs[0][0]) and torch.equal(o[1], outs[0][1])
        torch.testing.assert_close(o[2], outs[0][2], rtol=1e-6, atol=1e-5)
        torch.testing.assert_close(o[3], outs[0][3], rtol=1e-6, atol=1e-5)


# ------------------------------------------------------------------ split


@pytest.mark.parametrize("make", [
    lambda x: x.chunk(3, 1),
    lambda x: x.split(4, 1),
    lambda x: x.split([2, 5, 3], 1),
    lambda x: torch.split(x, 3, dim=0),
])
@pytest.mark.parametrize("strided", [False, True])
def test_split_gradient_is_assembled_in_one_buffer(make, strided):
    base = _rand(10, 6, dtype=torch.float64) if strided else _rand(6, 10, dtype=torch.float64)
    x = (base.t() if strided else base).detach().requires_grad_()
    pieces = make(x)
    # every other piece used, with different weights; the rest get no gradient
    loss = sum((p * (i + 1)).pow(2).sum() for i, p in enumerate(pieces) if i % 2 == 0)
    loss.backward()
    expect = []
    for i, p in enumerate(pieces):
        expect.append(2 * (i + 1) ** 2 * p.detach() if i % 2 == 0 else torch.zeros_like(p))
    dim = 1 if pieces[0].shape[0] == x.shape[0] else 0
    torch.testing.assert_close(x.grad, torch.cat(expect, dim), rtol=1e-12, atol=0.0)


def test_split_node_names_and_double_backward():
    x = _rand(4, 9, dtype=torch.float64).requires_grad_()
    assert type(x.chunk(3, 1)[0].grad_fn).__name__ == "SplitBackward0"
    assert type(x.split(4, 1)[0].grad_fn).__name__ == "SplitBackward0"
    assert type(x.split([2, 7], 1)[1].grad_fn).__name__ == "SplitWithSizesBackward0"
    a, b, c = x.chunk(3, 1)
    (g,) = torch.autograd.grad((a ** 3).sum() + (c ** 2).sum(), x, create_graph=True)
    assert g.requires_grad
    (gg,) = torch.autograd.grad(g.sum(), x)
    expect = torch.cat([6 * a.detach(), torch.zeros_like(b), 2 * torch.ones_like(c)], 1)
    torch.testing.assert_close(gg, expect)


def test_split_of_all_pieces_writes_every_element():
    x = _rand(5, 12).requires_grad_()
    q, k, v = x.chunk(3, 1)
    (q * 1.5 + k * 2.0 - v).sum().backward()
    expect = torch.cat([torch.full((5, 4), 1.5), torch.full((5, 4), 2.0), torch.full((5, 4), -1.0)], 1)
    assert torch.equal(x.grad, expect)


# ------------------------------------------------- addmm bias and linear relu


@pytest.mark.parametrize("bias_shape", [(7,), (1, 7), (5, 7), ()])
def test_addmm_bias_in_place_equals_product_plus_bias(threads, bias_shape):
    a, b = _rand(5, 300), _rand(300, 7, seed=1)
    bias = _rand(*bias_shape, seed=2) if bias_shape else torch.tensor(0.25)
    assert torch.equal(bias.addmm(a, b), a @ b + bias)
    assert torch.equal(bias.addmm(a.t().contiguous().t(), b), a @ b + bias)
    batch = _rand(3, 5, 300, seed=4), _rand(3, 300, 7, seed=5)
    assert torch.equal(bias.baddbmm(*batch), torch.bmm(*batch) + bias)


@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("lead", [(40,), (4, 10)])
def test_linear_relu_matches_unfused(threads, strided, lead):
    shape = (*lead, 64)
    x0 = _rand(*reversed(shape)).permute(*reversed(range(len(shape)))) if strided else _rand(*shape)
    w0, b0 = _rand(96, 64, seed=1), _rand(96, seed=2)
    gy = _rand(*lead, 96, seed=3)

    def run(fn):
        x, w, b = (t.detach().requires_grad_() for t in (x0, w0, b0))
        y = fn(x, w, b)
        y.backward(gy)
        return y, [y.detach(), x.grad, w.grad, b.grad]

    y1, fused = run(_linear.linear_relu)
    y2, plain = run(lambda x, w, b: F.relu(F.linear(x, w, b)))
    for f, p in zip(fused, plain):
        assert torch.equal(f, p)
    assert type(y1.grad_fn).__name__ == type(y2.grad_fn).__name__
    assert (fused[0] == 0).any() and (fused[0] > 0).any()


def test_encoder_layer_feed_forward_keeps_hooks_and_values():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
    x = _rand(3, 5, 32)

    def composite(m, src):
        h = m.norm1(src + m._sa_block(src, None, None))
        return m.norm2(h + m.linear2(F.relu(F.linear(h, m.linear1.weight, m.linear1.bias))))

    out = layer(x)
    assert torch.equal(out, composite(layer, x))
    grads = []
    for fn in (layer, lambda s: composite(layer, s)):
        layer.zero_grad()
        fn(x).square().sum().backward()
        grads.append([p.grad.clone() for p in layer.parameters()])
    for g1, g2 in zip(*grads):
        assert torch.equal(g1, g2)
    seen = []
    handle = layer.linear1.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    layer(x)
    handle.remove()
    assert seen == [(3, 5, 64)]


def test_linear_relu_clamps_in_place_only_what_it_owns():
    # the product is clamped in its own buffer: the result is a fresh tensor
    # that no input shares, and the inputs keep their values
    x, w, b = _rand(8, 16), _rand(12, 16, seed=1), _rand(12, seed=2)
    before = [t.clone() for t in (x, w, b)]
    y = _linear.linear_relu(x, w, b)
    for t, t0 in zip((x, w, b), before):
        assert torch.equal(t, t0)
    assert torch.equal(y, F.relu(x @ w.t() + b))
    y3 = _linear.linear_relu(x.view(2, 4, 16), w, b)
    assert torch.equal(y3, y.view(2, 4, 12))


# ------------------------------------ bias and relu applied by the GEMM itself


def _unfused_linear(x, w, b, relu):
    """Product, bias addition and relu as three separate ops."""
    y = torch.matmul(x, w.t()) + b
    return y.relu() if relu else y


def _operands(form, m, k, n):
    x = _rand(m, k, seed=1)
    w = _rand(n, k, seed=2)
    b = _rand(n, seed=3)
    if form == "x transposed":
        x = _rand(k, m, seed=1).t()
    elif form == "x stepped":
        x = _rand(m, 2 * k, seed=1)[:, ::2]
    elif form == "w contiguous transposed":
        w = _rand(k, n, seed=2).t()
    elif form == "bias stepped":
        b = _rand(2 * n, seed=3)[::2]
    elif form == "edge values":
        b = b.clone()
        b[0], b[1], b[2] = float("nan"), -0.0, float("inf")
        x = x.clone()
        x[0] = 0.0  # row 0 is the bias alone (relu keeps nan)
    return x, w, b


FORMS = ["plain", "x transposed", "x stepped", "w contiguous transposed", "bias stepped", "edge values"]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("mkn", [(37, 1000, 45), (130, 64, 96), (3, 5, 3)])
def test_gemm_bias_relu_epilogue_matches_separate_ops(threads, form, relu, mkn):
    x, w, b = _operands(form, *mkn)
    with torch.no_grad():
        want = _unfused_linear(x, w, b, relu)
    fused = _linear.linear_relu(x, w, b) if relu else F.linear(x, w, b)
    via_addmm = b.addmm(x, w.t())
    assert fused.shape == want.shape
    # bit for bit, NaN where the separate ops give NaN, -0.0 kept
    for got in (fused, via_addmm.relu() if relu else via_addmm):
        assert np.array_equal(got.numpy().view(np.int32), want.numpy().view(np.int32))
    if form == "edge values":
        assert np.isnan(fused.numpy()[0, 0]) and fused.numpy()[0, 2] == np.inf


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("need", ["x", "w", "b", "xwb", "wb"])
@pytest.mark.parametrize("form", ["plain", "x transposed", "w contiguous transposed", "edge values"])
def test_gemm_bias_relu_epilogue_gradients_match_separate_ops(threads, relu, need, form):
    x0, w0, b0 = _operands(form, 29, 400, 70)
    gy = _rand(29, 70, seed=9)

    def run(fn):
        x, w, b = (t.detach().clone().requires_grad_(name in need) for t, name in ((x0, "x"), (w0, "w"), (b0, "b")))
        y = fn(x, w, b)
        y.backward(gy)
        return y, [y.detach()] + [t.grad for t in (x, w, b)]

    fused_fn = _linear.linear_relu if relu else F.linear
    y1, fused = run(fused_fn)
    _, plain = run(lambda x, w, b: _unfused_linear(x, w, b, relu))
    for f, p in zip(fused, plain):
        if p is None:
            assert f is None
        else:
            assert np.array_equal(f.numpy().view(np.int32), p.numpy().view(np.int32))
    names = []
    node = y1.grad_fn
    while node is not None and len(names) < 3:
        names.append(type(node).__name__)
        node = next((n for n, _ in node.next_functions if n is not None and type(n).__name__ != "AccumulateGrad"),
                    None)
    assert names[0] == ("ReluBackward0" if relu else "AddmmBackward0")
    assert "AddmmBackward0" in names


def test_gemm_relu_epilogue_saves_its_output_for_backward():
    # relu's node saves the (clamped) output: writing to it afterwards is
    # detected as for the unfused relu
    x = _rand(6, 8).requires_grad_()
    w, b = _rand(5, 8, seed=1), _rand(5, seed=2)
    y = _linear.linear_relu(x, w, b)
    with torch.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ------------------------------- self-attention on the packed projection


def _packed_reference(proj, heads, batch_first, causal):
    """The unpacked composition: chunk views -> (B, H, T, D), the fused
    attention op, heads merged back to proj's rows."""
    E = proj.size(-1) // 3
    order = (0, 2, 1, 3) if batch_first else (1, 2, 0, 3)
    q, k, v = (t.unflatten(-1, (heads, E // heads)).permute(*order) for t in proj.chunk(3, -1))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    rows = out.transpose(1, 2) if batch_first else out.permute(2, 0, 1, 3)
    return rows.reshape(proj.size(0), proj.size(1), E)


def _bits(t):
    a = t.detach().numpy()
    return a.view(np.int64 if a.dtype == np.float64 else np.int32)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dims", [(3, 70, 24, 2), (1, 130, 16, 1), (5, 9, 12, 3)])
@pytest.mark.parametrize("form", ["plain", "strided", "float64"])
def test_packed_attention_matches_the_unpacked_composition(threads, batch_first, causal, dims, form):
    B, T, E, H = dims
    rows = (B, T) if batch_first else (T, B)
    dtype = torch.float64 if form == "float64" else torch.float32
    proj0 = _rand(*rows, 3 * E, dtype=dtype, seed=5)
    if form == "strided":
        proj0 = _rand(3 * E, *rows, seed=5).permute(1, 2, 0)
    gy = _rand(*rows, E, dtype=dtype, seed=6)
    results = []
    for fn in (lambda p: torch._C._packed_self_attention(p, H, batch_first, causal),
               lambda p: _packed_reference(p, H, batch_first, causal)):
        p = proj0.detach().clone() if form != "strided" else proj0.detach()
        p.requires_grad_()
        y = fn(p)
        y.backward(gy)
        results.append((y, p.grad))
    (y1, g1), (y2, g2) = results
    assert y1.shape == y2.shape and g1.shape == g2.shape == proj0.shape
    assert np.array_equal(_bits(y1), _bits(y2))
    assert np.array_equal(_bits(g1), _bits(g2))
    assert type(y1.grad_fn).__name__ == "ScaledDotProductFlashAttentionForCpuBackward0"
    with torch.no_grad():
        y3 = torch._C._packed_self_attention(proj0, H, batch_first, causal)
    assert y3.grad_fn is None and np.array_equal(_bits(y3), _bits(y1))


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("causal", [False, True])
def test_packed_attention_double_backward_matches_the_composition(batch_first, causal):
    B, T, E, H = 2, 5, 8, 2
    rows = (B, T) if batch_first else (T, B)
    proj0 = _rand(*rows, 3 * E, dtype=torch.float64, seed=7)
    gy = _rand(*rows, E, dtype=torch.float64, seed=8)
    out = []
    for fn in (lambda p: torch._C._packed_self_attention(p, H, batch_first, causal),
               lambda p: _packed_reference(p, H, batch_first, causal)):
        p = proj0.detach().clone().requires_grad_()
        (g,) = torch.autograd.grad(fn(p), p, gy, create_graph=True)
        (gg,) = torch.autograd.grad(g.square().sum(), p)
        out.append((g, gg))
    torch.testing.assert_close(out[0][0], out[1][0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out[0][1], out[1][1], rtol=1e-10, atol=1e-10)


def test_packed_attention_rejects_bad_shapes():
    with pytest.raises(RuntimeError, match="divisible"):
        torch._C._packed_self_attention(torch.zeros(2, 3, 10), 2, True)
    with pytest.raises(RuntimeError, match="divisible"):
        torch._C._packed_self_attention(torch.zeros(6, 10), 1, True)
    with pytest.raises(RuntimeError, match="Float"):
        torch._C._packed_self_attention(torch.zeros(2, 3, 6, dtype=torch.int64), 1, True)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("causal", [False, True])
def test_multihead_attention_packed_path_matches_the_reference_algorithm(threads, batch_first, causal):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, batch_first=batch_first)
    x0 = _rand(3, 7, 16) if batch_first else _rand(7, 3, 16)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(7) if causal else None
    gy = _rand(*x0.shape, seed=3)

    def run(packed):
        mha.zero_grad()
        x = x0.detach().clone().requires_grad_()
        if packed:
            y = mha(x, x, x, need_weights=False, attn_mask=mask, is_causal=causal)[0]
        else:
            xs = x.transpose(0, 1) if batch_first else x
            y = F.multi_head_attention_forward(
                xs, xs, xs, 16, 4, mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0,
                mha.out_proj.weight, mha.out_proj.bias, need_weights=False, attn_mask=mask, is_causal=causal)[0]
            y = y.transpose(0, 1) if batch_first else y
        y.backward(gy)
        return [y.detach(), x.grad] + [p.grad.clone() for p in mha.parameters()]

    for a, b in zip(run(True), run(False)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
