"""Issue 23: second and higher derivatives of the normalisation layers, the
losses, attention, embedding and the linear-algebra building blocks.

The fused norms and cross-entropy compute their first-order gradient with a
kernel; under ``create_graph=True`` they differentiate a composite of
differentiable ops instead (rust/autograd/composite.rs). Every check is a
``gradgradcheck`` in float64 (finite differences of the create_graph
gradient), plus third orders and Hessian-vector products recorded from
PyTorch (tests/golden/double_backward_norm_loss.json, tools/differential/
record_double_backward_norm_loss.py)."""

import json
import math
from pathlib import Path

import double_backward_norm_loss_cases as cases
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl.autograd import gradcheck, gradgradcheck

D = rustdl.float64
GOLDEN = json.loads((Path(__file__).parent / "golden" / "double_backward_norm_loss.json").read_text())["cases"]


def leaf(*shape, seed=0, positive=False, lo=None):
    rustdl.manual_seed(seed)
    t = rustdl.rand(*shape, dtype=D) + 0.5 if positive else rustdl.randn(*shape, dtype=D)
    if lo is not None:
        t = t * (1 - 2 * lo) + lo
    return t.requires_grad_()


def check(f, *inputs):
    assert gradgradcheck(f, inputs)


def works_twice(f, *inputs):
    """Whether another helper's op (log_softmax, avg_pool) already has its
    double backward on this branch (they are merged separately)."""
    try:
        return gradgradcheck(f, inputs, raise_exception=False)
    except RuntimeError:
        return False


LOG_SOFTMAX_TWICE = works_twice(lambda a: F.log_softmax(a, 1), leaf(2, 3, seed=99))
AVG_POOL_TWICE = works_twice(lambda a: F.avg_pool2d(a, (2, 1), stride=1), leaf(1, 1, 3, 2, seed=99))
SOFTMAX_TWICE = works_twice(lambda a: F.softmax(a, 1), leaf(2, 3, seed=99))
needs_softmax = pytest.mark.skipif(not SOFTMAX_TWICE, reason="softmax's double backward (h-dblsoftmax)")
LOGSIGMOID_TWICE = works_twice(F.logsigmoid, leaf(2, 3, seed=99))
needs_logsigmoid = pytest.mark.skipif(not LOGSIGMOID_TWICE, reason="logsigmoid's double backward (h-dblcore)")
needs_log_softmax = pytest.mark.skipif(not LOG_SOFTMAX_TWICE, reason="log_softmax's double backward (h-dblsoftmax)")
needs_avg_pool = pytest.mark.skipif(not AVG_POOL_TWICE, reason="avg_pool's double backward (h-dblpool)")


# ------------------------------------------------------------------ norms


def test_gradient_penalty_is_differentiable():
    x = leaf(4, 3, seed=1)
    for f in (lambda a: F.layer_norm(a, (3,)), lambda a: F.batch_norm(a, None, None, training=True),
              lambda a: F.group_norm(a, 1), lambda a: F.cross_entropy(a, rustdl.tensor([0, 1, 2, 0]))):
        (g,) = rustdl.autograd.grad((f(x) * rustdl.arange(f(x).numel(), dtype=D).reshape(f(x).shape)).sum(), [x],
                                    create_graph=True)
        assert g.requires_grad and g.grad_fn is not None


@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_training(affine):
    x = leaf(4, 3, 2, seed=2)
    w, b = leaf(3, seed=3), leaf(3, seed=4)
    if affine:
        check(lambda a, ww, bb: F.batch_norm(a, None, None, ww, bb, training=True), x, w, b)
    else:
        check(lambda a: F.batch_norm(a, None, None, training=True), x)


def test_batch_norm_training_updates_running_stats_and_is_exact():
    x = leaf(5, 3, seed=5)
    w = leaf(3, seed=6)
    rm, rv = rustdl.zeros(3, dtype=D), rustdl.ones(3, dtype=D)
    check(lambda a, ww: F.batch_norm(a, rm, rv, ww, None, training=True, momentum=0.3, eps=1e-3), x, w)
    assert float(rm.abs().sum()) > 0


@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_eval(affine):
    x = leaf(3, 4, 2, seed=7)
    rm = rustdl.randn(4, dtype=D)
    rv = rustdl.rand(4, dtype=D) + 0.5
    w, b = leaf(4, seed=8), leaf(4, seed=9)
    if affine:
        check(lambda a, ww, bb: F.batch_norm(a, rm, rv, ww, bb, training=False), x, w, b)
    else:
        check(lambda a: F.batch_norm(a, rm, rv, training=False), x)


def test_batch_norm_modules_and_non_contiguous():
    bn = rustdl.nn.BatchNorm2d(3).double()
    x = leaf(2, 2, 3, 3, seed=10).transpose(1, 3).detach().requires_grad_()  # (2, 3, 3, 2), strided
    assert not x.is_contiguous()
    check(lambda a, w: F.batch_norm(a, None, None, w, bn.bias, training=True), x, bn.weight)
    bn1 = rustdl.nn.BatchNorm1d(3).double()
    check(lambda a: bn1(a), leaf(4, 3, seed=11))


def test_layer_norm():
    x = leaf(2, 3, 4, seed=12)
    w, b = leaf(3, 4, seed=13), leaf(3, 4, seed=14)
    check(lambda a, ww, bb: F.layer_norm(a, (3, 4), ww, bb, eps=1e-3), x, w, b)
    check(lambda a: F.layer_norm(a, (4,)), x)
    check(lambda a, ww: F.layer_norm(a, (4,), ww), leaf(4, 3, seed=15).t(), leaf(4, seed=16))
    ln = rustdl.nn.LayerNorm(4).double()
    check(lambda a, ww, bb: F.layer_norm(a, (4,), ww, bb), leaf(3, 4, seed=17), ln.weight, ln.bias)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_norm(groups):
    x = leaf(2, 4, 3, seed=18)
    w, b = leaf(4, seed=19), leaf(4, seed=20)
    check(lambda a, ww, bb: F.group_norm(a, groups, ww, bb), x, w, b)
    check(lambda a: F.group_norm(a, groups), x)


def test_instance_norm():
    x = leaf(2, 3, 4, seed=21)
    w, b = leaf(3, seed=22), leaf(3, seed=23)
    check(lambda a, ww, bb: F.instance_norm(a, weight=ww, bias=bb), x, w, b)
    rm, rv = rustdl.zeros(3, dtype=D), rustdl.ones(3, dtype=D)
    check(lambda a: F.instance_norm(a, rm, rv, use_input_stats=True), x)
    check(lambda a, ww: F.instance_norm(a, rm, rv, ww, use_input_stats=False), x, w)
    m = rustdl.nn.InstanceNorm1d(3, affine=True).double()
    check(lambda a: m(a), x)


@needs_avg_pool
def test_local_response_norm():
    check(lambda a: F.local_response_norm(a, 2), leaf(2, 4, 3, seed=24))
    check(lambda a: F.local_response_norm(a, 3, alpha=0.1, beta=0.5, k=2.0), leaf(1, 5, 2, 2, seed=25))


def test_half_norm_double_backward_runs():
    """A float16 input takes the same composite (widened by each op)."""
    x = leaf(3, 4, seed=26).to(rustdl.float16).detach().requires_grad_()
    (g,) = rustdl.autograd.grad((F.layer_norm(x, (4,)) ** 2).sum(), [x], create_graph=True)
    assert g.dtype == rustdl.float16 and g.requires_grad
    (gg,) = rustdl.autograd.grad(g.sum(), [x])
    assert gg.shape == x.shape and bool(rustdl.isfinite(gg.float()).all())


def third_order(f, x):
    """gradgradcheck of x -> df/dx (create_graph): third derivatives."""

    def first(a):
        (g,) = rustdl.autograd.grad((f(a) * rustdl.cos(rustdl.arange(f(a).numel(), dtype=D)).reshape(f(a).shape))
                                    .sum(), [a], create_graph=True)
        return g

    assert gradgradcheck(first, (x,))


def test_third_order_layer_norm():
    third_order(lambda a: F.layer_norm(a, (3,)), leaf(2, 3, seed=27))


def test_third_order_batch_norm():
    third_order(lambda a: F.batch_norm(a, None, None, training=True), leaf(4, 2, seed=28))


# ------------------------------------------------------------------ losses


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_class_indices(reduction):
    x = leaf(5, 4, seed=30)
    t = rustdl.tensor([0, 3, 1, 3, 2])
    check(lambda a: F.cross_entropy(a, t, reduction=reduction), x)
    w = rustdl.tensor([0.5, 1.0, 2.0, 0.25], dtype=D)
    check(lambda a: F.cross_entropy(a, t, weight=w, reduction=reduction), x)
    t_ign = rustdl.tensor([0, -1, 1, 3, -1])
    check(lambda a: F.cross_entropy(a, t_ign, ignore_index=-1, reduction=reduction), x)
    check(lambda a: F.cross_entropy(a, t_ign, weight=w, ignore_index=-1, label_smoothing=0.3,
                                    reduction=reduction), x)
    check(lambda a: F.cross_entropy(a, t, label_smoothing=0.1, reduction=reduction), x)


def test_cross_entropy_shapes():
    check(lambda a: F.cross_entropy(a, rustdl.tensor([[0, 2], [1, 1]])), leaf(2, 3, 2, seed=31))  # K-d
    check(lambda a: F.cross_entropy(a, rustdl.tensor(2)), leaf(3, seed=32))  # one sample
    x = leaf(4, 3, seed=33).t()  # strided (3, 4)
    check(lambda a: F.cross_entropy(a, rustdl.tensor([0, 3, 1])), x)
    # every target ignored: loss NaN, gradient 0 at every order
    x = leaf(2, 3, seed=34)
    (g,) = rustdl.autograd.grad(F.cross_entropy(x, rustdl.tensor([-100, -100])), [x], create_graph=True)
    assert float(g.abs().sum()) == 0.0


@needs_log_softmax
def test_cross_entropy_probability_targets():
    x = leaf(3, 4, seed=35)
    p = rustdl.softmax(rustdl.randn(3, 4, dtype=D), 1)
    check(lambda a: F.cross_entropy(a, p), x)
    check(lambda a, q: F.cross_entropy(a, q, label_smoothing=0.2, reduction="sum",
                                       weight=rustdl.tensor([1.0, 2.0, 0.5, 1.0], dtype=D)), x,
          p.detach().requires_grad_())


def test_third_order_cross_entropy():
    t = rustdl.tensor([1, 0, 2])
    third_order(lambda a: F.cross_entropy(a, t, label_smoothing=0.1, reduction="none"), leaf(3, 3, seed=36))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    w = rustdl.tensor([0.5, 1.0, 2.0], dtype=D)
    check(lambda a: F.nll_loss(a, rustdl.tensor(1), reduction=reduction), leaf(3, seed=37))
    check(lambda a: F.nll_loss(a, rustdl.tensor([0, 2, 1, 2]), weight=w, ignore_index=1, reduction=reduction),
          leaf(4, 3, seed=38))
    check(lambda a: F.nll_loss(a, rustdl.tensor([[0, 2], [1, 1]]), weight=w, reduction=reduction),
          leaf(2, 3, 2, seed=39))
    # through log_softmax written as x - logsumexp (curvature of the input)
    check(lambda a: F.nll_loss(a - a.logsumexp(1, keepdim=True), rustdl.tensor([0, 2]), reduction=reduction),
          leaf(2, 3, seed=40))


def test_binary_cross_entropy():
    """The second derivative is exact; a gradgradcheck must keep the target
    fixed (one drawn anew on every call makes the function random, which
    is what gave 'errors' of 1e4 before)."""
    x = leaf(3, 4, seed=41)
    t = rustdl.rand(3, 4, dtype=D)
    w = rustdl.rand(3, 4, dtype=D) + 0.5
    check(lambda a: F.binary_cross_entropy(rustdl.sigmoid(a), t), x)
    check(lambda a: F.binary_cross_entropy(rustdl.sigmoid(a), t, weight=w, reduction="sum"), x)
    check(lambda p, tt: F.binary_cross_entropy(p, tt, reduction="none"), leaf(3, 4, seed=42, positive=True) * 0.5,
          t.detach().requires_grad_())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits(reduction):
    x = leaf(3, 4, seed=43)
    t = rustdl.rand(3, 4, dtype=D)
    check(lambda a: F.binary_cross_entropy_with_logits(a, t, reduction=reduction), x)
    pw = rustdl.rand(4, dtype=D) + 0.5
    w = rustdl.rand(3, 4, dtype=D)
    check(lambda a, tt: F.binary_cross_entropy_with_logits(a, tt, weight=w, pos_weight=pw, reduction=reduction), x,
          t.detach().requires_grad_())


def test_pointwise_losses():
    x, y = leaf(3, 4, seed=44), leaf(3, 4, seed=45)
    check(lambda a, b: F.mse_loss(a, b), x, y)
    check(lambda a, b: F.l1_loss(a, b, reduction="sum"), x, y)
    check(lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), x, y)
    check(lambda a, b: F.huber_loss(a, b, delta=0.7, reduction="none"), x, y)
    check(lambda a, b: F.soft_margin_loss(a, b.sign()), x, y)
    p = leaf(3, 4, seed=46, positive=True)
    check(lambda a, b: F.poisson_nll_loss(a, b), x, p)
    check(lambda a, b: F.poisson_nll_loss(a, b, log_input=False, full=True), p, leaf(3, 4, seed=47, positive=True) * 3)
    check(lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=True), x, y, p)


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(log_target):
    x = leaf(3, 4, seed=48)
    t = leaf(3, 4, seed=49, positive=True)
    tt = t.log().detach().requires_grad_() if log_target else t
    check(lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=log_target), x, tt)


def test_margin_and_embedding_losses():
    x1, x2, x3 = leaf(4, 3, seed=50), leaf(4, 3, seed=51), leaf(4, 3, seed=52)
    y = rustdl.tensor([1.0, -1.0, 1.0, -1.0], dtype=D)
    check(lambda a, b: F.margin_ranking_loss(a[:, 0], b[:, 0], y, margin=0.1), x1, x2)
    check(lambda a: F.hinge_embedding_loss(a, rustdl.tensor([[1.0, -1.0, 1.0]] * 4, dtype=D), margin=1.5), x1)
    check(lambda a, b: F.cosine_embedding_loss(a, b, y, margin=-0.5), x1, x2)
    check(lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=2.0), x1, x2, x3)
    check(lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=2.0, p=3, swap=True), x1, x2, x3)
    check(lambda a: F.multi_margin_loss(a, rustdl.tensor([0, 2, 1, 2]), margin=1.5), x1)
    check(lambda a: F.multi_margin_loss(a, rustdl.tensor([0, 2, 1, 2]), p=2, margin=1.5,
                                        weight=rustdl.tensor([1.0, 0.5, 2.0], dtype=D)), x1)


def test_multilabel_margin_loss():
    t = rustdl.tensor([[3, 0, -1, 1], [1, 1, 2, -1]])
    check(lambda a: F.multilabel_margin_loss(a, t), leaf(2, 4, seed=53))
    check(lambda a: F.multilabel_margin_loss(a, t[0], reduction="sum"), leaf(4, seed=54))


@needs_logsigmoid
def test_multilabel_soft_margin_loss():
    t = rustdl.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=D)
    check(lambda a: F.multilabel_soft_margin_loss(a, t, weight=rustdl.tensor([1.0, 2.0, 0.5], dtype=D)),
          leaf(2, 3, seed=55))


# ------------------------------------------------------------ attention etc.


def test_scaled_dot_product_attention():
    q, k, v = leaf(1, 2, 3, 4, seed=60), leaf(1, 2, 5, 4, seed=61), leaf(1, 2, 5, 4, seed=62)
    check(lambda a, b, c: F.scaled_dot_product_attention(a, b, c), q, k, v)
    check(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True, scale=0.3), q, k, v)
    mask = rustdl.tensor([[True, False, True, True, False]] * 3)
    check(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=mask), q, k, v)
    fmask = rustdl.randn(3, 5, dtype=D)
    check(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=fmask), q, k, v)


@needs_softmax
def test_scaled_dot_product_attention_math_path():
    """A float mask that requires grad takes PyTorch's math backend (Python
    composite through F.softmax)."""
    q, k, v = leaf(1, 2, 3, 4, seed=60), leaf(1, 2, 5, 4, seed=61), leaf(1, 2, 5, 4, seed=62)
    m = leaf(3, 5, seed=65)
    check(lambda a, b, c, mm: F.scaled_dot_product_attention(a, b, c, attn_mask=mm), q, k, v, m)


def test_multihead_attention():
    rustdl.manual_seed(63)
    mha = rustdl.nn.MultiheadAttention(4, 2, batch_first=True).double()
    x = leaf(2, 3, 4, seed=64)
    check(lambda a: mha(a, a, a, need_weights=False)[0], x)
    check(lambda a, w: F.multi_head_attention_forward(
        a.transpose(0, 1), a.transpose(0, 1), a.transpose(0, 1), 4, 2, w, mha.in_proj_bias, None, None, False, 0.0,
        mha.out_proj.weight, mha.out_proj.bias, training=False, need_weights=False)[0], x, mha.in_proj_weight)


@needs_softmax
def test_multihead_attention_with_weights():
    """need_weights=True (the default) computes the weights explicitly."""
    rustdl.manual_seed(66)
    mha = rustdl.nn.MultiheadAttention(4, 2).double()
    check(lambda a: mha(a, a, a)[0], leaf(3, 2, 4, seed=67))


def test_embedding_and_matmul_family():
    w = leaf(5, 3, seed=70)
    idx = rustdl.tensor([[0, 2], [4, 2]])
    check(lambda ww: F.embedding(idx, ww) ** 2, w)
    check(lambda ww: F.embedding(idx, ww, padding_idx=2) ** 2, w)
    a, b, c = leaf(2, 3, seed=71), leaf(3, 4, seed=72), leaf(2, 4, seed=73)
    check(lambda x, y: (x @ y) ** 2, a, b)
    check(lambda x, y, z: F.linear(x, y.t(), z[0]) ** 2, a, b, c)
    check(lambda z, x, y: rustdl.addmm(z, x, y, beta=0.5, alpha=2.0) ** 2, c, a, b)
    check(lambda x, y: rustdl.bmm(x, y) ** 2, leaf(2, 2, 3, seed=74), leaf(2, 3, 2, seed=75))
    check(lambda x, y: rustdl.matmul(x, y) ** 2, leaf(2, 1, 2, 3, seed=76), leaf(3, 3, 2, seed=77))


# ------------------------------------------------- PyTorch's exact numbers


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_hessian_vector_products_match_pytorch(name):
    got, want = cases.hvp(rustdl, F, name), GOLDEN[name]
    assert math.isclose(got["loss"], want["loss"], rel_tol=1e-10, abs_tol=1e-12)
    for part in ("grad", "hvp"):
        for g, w in zip(got[part], want[part], strict=True):
            assert len(g) == len(w)
            for a, b in zip(g, w):
                assert math.isclose(a, b, rel_tol=1e-8, abs_tol=1e-10), (name, part, a, b)


def test_first_order_unchanged():
    """Without create_graph the fused kernels still run (and agree)."""
    x = leaf(4, 3, seed=80)
    assert gradcheck(lambda a: F.batch_norm(a, None, None, training=True), (x,))
    assert gradcheck(lambda a: F.cross_entropy(a, rustdl.tensor([0, 1, 2, 1]), label_smoothing=0.2), (x,))
    (g,) = rustdl.autograd.grad(F.layer_norm(x, (3,)).pow(2).sum(), [x])
    assert not g.requires_grad


@pytest.mark.parametrize("name,f", [
    ("batch_norm", lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True)),
    ("batch_norm_eval", lambda a, w, b: F.batch_norm(a, rustdl.linspace(-1, 1, 3, dtype=D),
                                                     rustdl.linspace(0.5, 2, 3, dtype=D), w, b)),
    ("layer_norm", lambda a, w, b: F.layer_norm(a.transpose(1, 2), (3,), w, b)),
    ("group_norm", lambda a, w, b: F.group_norm(a, 3, w, b)),
    ("instance_norm", lambda a, w, b: F.instance_norm(a, weight=w, bias=b)),
    ("cross_entropy", lambda a, w, b: F.cross_entropy(a * w[0] + b[0], rustdl.tensor([[0, 2], [1, 7], [2, 0]]),
                                                      ignore_index=7, label_smoothing=0.2,
                                                      weight=rustdl.tensor([1.0, 0.5, 2.0], dtype=D))),
])
def test_create_graph_gradient_equals_fused_gradient(name, f):
    x, w, b = leaf(3, 3, 2, seed=90), leaf(3, seed=91), leaf(3, seed=92)
    gy = None

    def grads(create_graph):
        y = f(x, w, b)
        nonlocal gy
        gy = gy if gy is not None else rustdl.randn(tuple(y.shape), dtype=D)
        return rustdl.autograd.grad((y * gy).sum(), [x, w, b], create_graph=create_graph)

    fused_grads, composite_grads = grads(False), grads(True)
    assert composite_grads[0].requires_grad  # (the bias's gradient is a constant: sum of gy)
    for fused, composite in zip(fused_grads, composite_grads, strict=True):
        assert not fused.requires_grad
        assert float((fused - composite.detach()).abs().max()) < 1e-12
