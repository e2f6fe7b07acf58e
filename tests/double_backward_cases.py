"""Second derivatives recorded from PyTorch for elementwise ops, scans and
reductions (issue 23): each case is an expression of ``x`` (float64); the
recorder (tools/differential/record_double_backward.py) stores the gradient
of ``(f(x) * w).sum()`` and its Hessian-vector product along ``v``, and for
the small ``HESSIANS`` cases the full Hessian. Shared by the recorder (with
torch) and tests/test_double_backward_elementwise.py (with rustdl)."""

X = [[0.3, -1.2, 0.8, 2.1], [-0.5, 1.7, -2.3, 0.1], [1.1, -0.7, 0.45, -1.6]]
# zeros: one in row 0, two in row 1, none in row 2
X_ZEROS = [[2.0, 0.0, 4.0, 1.5], [0.0, 0.0, 3.0, -2.0], [1.2, -2.0, 3.0, 0.5]]
POSITIVE = [[0.3, 1.2, 0.8, 2.1], [0.5, 1.7, 2.3, 0.1], [1.1, 0.7, 0.45, 1.6]]

CASES = {
    # name: (expression, input)
    "gelu": ("F.gelu(x)", X),
    "gelu_tanh": ("F.gelu(x, approximate='tanh')", X),
    "silu": ("F.silu(x)", X),
    "mish": ("F.mish(x)", X),
    "softplus": ("F.softplus(x, beta=2.0, threshold=3.0)", X),
    "elu": ("F.elu(x, alpha=0.8)", X),
    "selu": ("F.selu(x)", X),
    # (alpha exact in float32: PyTorch's celu gradient takes 1 / float(alpha))
    "celu": ("F.celu(x, alpha=0.5)", X),
    "logsigmoid": ("F.logsigmoid(x)", X),
    "softsign": ("F.softsign(x)", X),
    "hardswish": ("F.hardswish(x * 2)", X),
    "tanh": ("x.tanh()", X),
    "sigmoid": ("x.sigmoid()", X),
    "exp": ("x.exp()", X),
    "sqrt": ("x.sqrt()", POSITIVE),
    "rsqrt": ("x.rsqrt()", POSITIVE),
    "softmax": ("F.softmax(x, 1)", X),
    "log_softmax": ("F.log_softmax(x, 0)", X),
    "pow_tensor": ("x.abs() ** x.flip(0)", X),
    "atan2": ("torch.atan2(x, x.flip(1) + 0.5)", X),
    "prod": ("x.prod()", POSITIVE),
    "prod_dim": ("x.prod(1)", X),
    "prod_zeros_dim": ("x.prod(1)", X_ZEROS),
    "prod_zeros_row": ("x[0].prod()", X_ZEROS),
    "cumprod": ("x.cumprod(1)", X),
    "cumprod_zeros": ("x.cumprod(1)", X_ZEROS),
    "norm": ("x.norm()", X),
    "norm_p3": ("x.norm(p=3, dim=1)", X),
    "norm_p1_5": ("torch.linalg.vector_norm(x, 1.5, dim=0)", X),
    "var": ("x.var()", X),
    "std_dim": ("x.std(1)", X),
    "var_correction0": ("x.var(0, correction=0)", X),
    "logsumexp": ("x.logsumexp(1)", X),
    "normalize": ("F.normalize(x, dim=1)", X),
    "cosine_similarity": ("F.cosine_similarity(x, x.flip(0) + 0.3, dim=1)", X),
    "dist": ("torch.dist(x, x.flip(1), 3)", X),
    "cdist": ("torch.cdist(x, x.flip(0) + 0.1)", X),
}

# name: (expression, 1-d input): the full Hessian of f(x).sum()
HESSIANS = {
    "prod_234": ("x.prod()", [2.0, 3.0, 4.0]),
    "prod_204": ("x.prod()", [2.0, 0.0, 4.0]),
    "prod_004": ("x.prod()", [0.0, 0.0, 4.0]),
    "cumprod_2041": ("x.cumprod(0)", [2.0, 0.0, 4.0, 1.5]),
}


def weights(shape_numel):
    """The output weights w and input direction v (deterministic)."""
    return [((7 * i) % 11 - 5) / 4.0 for i in range(shape_numel)]


def direction(numel):
    return [((5 * i) % 7 - 3) / 3.0 for i in range(numel)]


def env(torch):
    return {"torch": torch, "F": torch.nn.functional}


def grad_and_hvp(torch, expr, data):
    """(gradient of (f(x) * w).sum(), its Hessian-vector product along v)."""
    x = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    out = eval(expr, {**env(torch), "x": x})
    w = torch.tensor(weights(out.numel()), dtype=torch.float64).reshape(tuple(out.shape))
    (g,) = torch.autograd.grad((out * w).sum(), x, create_graph=True)
    v = torch.tensor(direction(x.numel()), dtype=torch.float64).reshape(tuple(x.shape))
    (h,) = torch.autograd.grad((g * v).sum(), x)
    return g.detach().reshape(-1).tolist(), h.reshape(-1).tolist()


def hessian(torch, expr, data):
    x = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    out = eval(expr, {**env(torch), "x": x}).sum()
    (g,) = torch.autograd.grad(out, x, create_graph=True)
    rows = []
    for i in range(x.numel()):
        (h,) = torch.autograd.grad(g[i], x, retain_graph=True)
        rows.append(h.tolist())
    return rows
