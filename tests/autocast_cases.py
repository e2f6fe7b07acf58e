"""Cases shared by tools/differential/record_autocast.py (run on PyTorch) and
tests/test_autocast.py / tests/test_bf16_gemm.py (run on rustdl): each is an
expression over the tensors `inputs` makes, evaluated with `torch` and `F`
bound to either library."""


def inputs(torch, tag):
    """x (4x8), w (8x8), t (4x8) in float32, x cast to bfloat16 when tag is "bf16"."""
    x = (torch.arange(32, dtype=torch.float32).reshape(4, 8) - 13.0) / 7.0
    w = (torch.arange(64, dtype=torch.float32).reshape(8, 8) % 9 - 4.0) / 5.0
    t = (torch.arange(32, dtype=torch.float32).reshape(4, 8) % 5) / 4.0
    if tag == "bf16":
        x = x.to(torch.bfloat16)
    return {"torch": torch, "x": x, "w": w, "t": t, "b": w[0], "idx": torch.tensor([0, 1, 2, 3])}


OPS = {
    "mm": "torch.mm(x, w)",
    "matmul": "x @ w",
    "matmul_3d": "torch.matmul(x.reshape(2, 2, 8), w)",
    "bmm": "torch.bmm(x[None], w[None])",
    "linear": "F.linear(x, w, b)",
    "linear_nobias": "F.linear(x, w)",
    "addmm": "torch.addmm(t, x, w)",
    "baddbmm": "torch.baddbmm(t[None], x[None], w[None])",
    "addbmm": "torch.addbmm(t, x[None], w[None])",
    "addmv": "torch.addmv(b[:4], x, w[0])",
    "conv1d": "F.conv1d(x[None], w[:2].reshape(2, 4, 2))",
    "conv2d": "F.conv2d(x[None, None], w[:2, :4].reshape(2, 1, 2, 2))",
    "conv_transpose2d": "F.conv_transpose2d(x[None, None], w[:2, :4].reshape(1, 2, 2, 2))",
    "prelu": "F.prelu(x, torch.tensor([0.25]))",
    "sdpa": "F.scaled_dot_product_attention(x[None], x[None], x[None])",
    "einsum": "torch.einsum('ij,jk->ik', x, w)",
    "softmax": "F.softmax(x, -1)",
    "log_softmax": "F.log_softmax(x, -1)",
    "layer_norm": "F.layer_norm(x, (8,))",
    "group_norm": "F.group_norm(x, 2)",
    "relu": "F.relu(x)",
    "gelu": "F.gelu(x)",
    "tanh": "torch.tanh(x)",
    "add_f32": "x + t",
    "mul_self": "x * x",
    "sum": "x.sum()",
    "mean": "x.mean()",
    "cumsum": "x.cumsum(0)",
    "mse_loss": "F.mse_loss(x, t)",
    "l1_loss": "F.l1_loss(x, t)",
    "smooth_l1_loss": "F.smooth_l1_loss(x, t)",
    "huber_loss": "F.huber_loss(x, t)",
    "cross_entropy": "F.cross_entropy(x, idx)",
    "nll_loss": "F.nll_loss(x, idx)",
    "bce_with_logits": "F.binary_cross_entropy_with_logits(x, t)",
    "kl_div": "F.kl_div(x, t, reduction='batchmean')",
    "prod": "x.prod()",
    "cdist": "torch.cdist(x, x)",
    "trace": "torch.trace(x[:, :4])",
    "cat": "torch.cat([x, t])",
    "stack": "torch.stack([x, t])",
    "max_pool2d": "F.max_pool2d(x[None], 2)",
    "avg_pool2d": "F.avg_pool2d(x[None], 2)",
    "dropout_eval": "F.dropout(x, 0.5, training=False)",
    "linear_then_relu": "F.relu(F.linear(x, w, b))",
    "linear_then_loss": "F.cross_entropy(F.linear(x, w, b), idx)",
}

# bf16 products with PyTorch's values: (callable expression, argument spec).
# Arguments are built by `bf16_args` (deterministic, exactly representable).
BF16_VALUES = {
    "mm_5x37x9": ("torch.mm", [(5, 37, 1), (37, 9, 2)]),
    "mm_33x300x40": ("torch.mm", [(33, 300, 3), (300, 40, 4)]),
    "matmul_batched": ("torch.matmul", [(3, 7, 65, 5), (3, 65, 34, 6)]),
    "linear_bias": ("lambda x, w, b: F.linear(x, w, b)", [(6, 70, 7), (20, 70, 8), (20, 9)]),
    "addmm": ("lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2.0)", [(13, 17, 10), (13, 130, 11), (130, 17, 12)]),
}


def bf16_args(spec):
    """Nested lists of values in [-2, 2) with 7 significant bits (bf16-exact)."""
    out = []
    for shape_seed in spec:
        *shape, seed = shape_seed
        n = 1
        for s in shape:
            n *= s
        state = seed * 2654435761 % (1 << 32)
        flat = []
        for _ in range(n):
            state = (state * 1103515245 + 12345) % (1 << 31)
            flat.append(((state >> 8) % 512 - 256) / 128.0)

        def nest(vals, dims):
            if len(dims) == 1:
                return vals
            step = len(vals) // dims[0]
            return [nest(vals[i * step:(i + 1) * step], dims[1:]) for i in range(dims[0])]

        out.append(nest(flat, shape))
    return out
