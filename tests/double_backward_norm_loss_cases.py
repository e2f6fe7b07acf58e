"""Hessian-vector products of small losses through the fused norms and
cross-entropy, shared by tools/differential/record_double_backward_norm_loss.py
(which evaluates them with PyTorch into tests/golden/double_backward.json)
and tests/test_double_backward_norm_loss.py (which evaluates them with rustdl).
Inputs come from a formula, not a random generator, so both sides agree."""

import math


def values(shape, seed):
    """Deterministic float values of the given shape (a flat list)."""
    n = math.prod(shape)
    return [round(math.sin(1.7 * i + 0.3 * seed) * (1 + 0.5 * math.cos(0.9 * i * seed + 1)), 6) for i in range(n)]


def tensor(lib, shape, seed):
    return lib.tensor(values(shape, seed), dtype=lib.float64).reshape(shape)


def mlp_cross_entropy(L, F, p):
    h = L.tanh(F.linear(p["x"], p["w1"], p["b1"]))
    return F.cross_entropy(F.linear(h, p["w2"], p["b2"]), L.tensor([0, 2, 1, 2]))


def mlp_cross_entropy_options(L, F, p):
    h = L.tanh(F.linear(p["x"], p["w1"], p["b1"]))
    logits = F.linear(h, p["w2"], p["b2"])
    return F.cross_entropy(logits, L.tensor([0, 2, -1, 2]), weight=L.tensor([0.5, 1.0, 2.0], dtype=L.float64),
                           ignore_index=-1, label_smoothing=0.2)


def layer_norm(L, F, p):
    y = F.layer_norm(p["x"], (4,), p["w"], p["b"])
    return (y * y * tensor(L, (3, 4), 9)).sum()


def batch_norm(L, F, p):
    y = F.batch_norm(p["x"], None, None, p["w"], p["b"], training=True)
    return (y * y * tensor(L, (4, 3, 2), 9)).sum()


def group_norm(L, F, p):
    y = F.group_norm(p["x"], 2, p["w"], p["b"])
    return (y * y * tensor(L, (2, 4, 3), 9)).sum()


def attention(L, F, p):
    def run():
        y = F.scaled_dot_product_attention(p["q"], p["k"], p["v"], is_causal=True)
        return (y * y * tensor(L, (1, 2, 3, 4), 9)).sum()

    if L.__name__ == "torch":  # PyTorch's flash kernel has no double backward: its math backend
        from torch.nn.attention import SDPBackend, sdpa_kernel

        with sdpa_kernel(SDPBackend.MATH):
            return run()
    return run()


# name -> (loss function, {parameter name: shape})
CASES = {
    "mlp_cross_entropy": (mlp_cross_entropy, {"x": (4, 3), "w1": (5, 3), "b1": (5,), "w2": (3, 5), "b2": (3,)}),
    "mlp_cross_entropy_options": (
        mlp_cross_entropy_options,
        {"x": (4, 3), "w1": (5, 3), "b1": (5,), "w2": (3, 5), "b2": (3,)},
    ),
    "layer_norm": (layer_norm, {"x": (3, 4), "w": (4,), "b": (4,)}),
    "batch_norm": (batch_norm, {"x": (4, 3, 2), "w": (3,), "b": (3,)}),
    "group_norm": (group_norm, {"x": (2, 4, 3), "w": (4,), "b": (4,)}),
    "attention": (attention, {"q": (1, 2, 3, 4), "k": (1, 2, 3, 4), "v": (1, 2, 3, 4)}),
}


def hvp(L, F, name):
    """The loss, its gradient and the Hessian times a fixed vector, for
    every parameter (flat lists, in the order of the case's shapes)."""
    fn, shapes = CASES[name]
    params = {k: tensor(L, s, i + 1).requires_grad_() for i, (k, s) in enumerate(shapes.items())}
    vs = [tensor(L, s, i + 20) for i, s in enumerate(shapes.values())]
    loss = fn(L, F, params)
    grads = L.autograd.grad(loss, list(params.values()), create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vs))
    hv = L.autograd.grad(dot, list(params.values()))
    flat = lambda t: [float(x) for x in t.detach().reshape(-1).tolist()]
    return {"loss": float(loss.detach()), "grad": [flat(g) for g in grads], "hvp": [flat(h) for h in hv]}
