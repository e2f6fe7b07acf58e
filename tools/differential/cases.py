"""Random cases for the differential test (see ``execute.py`` for the format).

``make_case(seed, case_id, ops)`` is deterministic: the same seed and id give
the same case, so any case can be replayed from ``(seed, id)`` alone.

Each op has a generator ``gen(g)`` returning ``(call, args, kwargs)`` or a
dict with extra case fields; ``g`` is a ``Gen`` holding the random source.
About 20% of cases are then mutated into (probably) invalid calls.
"""

import random

import numpy as np
from execute import FLOAT_DTYPES, INT_DTYPES, case_tensor_specs, numel

INF = float("inf")
NAN = float("nan")

FLOAT_EDGES = [0.0, -0.0, NAN, INF, -INF, 1e30, -1e30, 3e38, 1e-40, -1e-40, 0.5, -0.5, 1.5, 2.5, -2.5, 1.0, -1.0,
               1e-7, 88.8, -104.0]
INT_EDGE = {"int64": [2**63 - 1, -2**63, 2**31, -1, 0], "int32": [2**31 - 1, -2**31, -1, 0],
            "uint8": [255, 0, 128, 1]}


def T(spec):
    return {"T": spec}


def tup(*items):
    return {"tuple": list(items)}


def sl(start=None, stop=None, step=None):
    return {"slice": [start, stop, step]}


def dt(name):
    return {"dtype": name}


class Gen:
    """Random building blocks for one case."""

    def __init__(self, rng, grad):
        self.r = rng
        self.grad = grad
        # per-case choice of how hostile the values are
        self.edge_p = rng.choice([0.0, 0.0, 0.0, 0.1, 0.25, 0.6])
        self.view_p = rng.choice([0.0, 0.3, 0.6])

    # ---------------------------------------------------------- basics
    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return self.r.choice(list(seq))

    def rank(self, lo=0, hi=4):
        weights = {0: 1, 1: 2.5, 2: 3, 3: 2, 4: 1.5}
        ranks = [k for k in weights if lo <= k <= hi]
        return self.r.choices(ranks, [weights[k] for k in ranks])[0]

    def shape(self, lo=0, hi=4, max_numel=30, zero_p=0.08, sizes=(1, 1, 2, 2, 3, 3, 4, 5)):
        rank = self.rank(lo, hi)
        shape = [self.pick(sizes) for _ in range(rank)]
        if rank and self.chance(zero_p):
            shape[self.r.randrange(rank)] = 0
        while numel(shape) > max_numel:
            i = max(range(rank), key=lambda k: shape[k])
            shape[i] -= 1
        return shape

    def dtype(self, kinds="fib", float_weight=4):
        """A dtype name: f(loat), i(nteger), b(ool) kinds allowed."""
        choices, weights = [], []
        if "f" in kinds:
            choices += list(FLOAT_DTYPES)
            weights += [float_weight * 0.7, float_weight * 0.3]
        if "i" in kinds:
            choices += list(INT_DTYPES)
            weights += [1.0, 0.6, 0.4]
        if "b" in kinds:
            choices.append("bool")
            weights.append(0.5)
        return self.r.choices(choices, weights)[0]

    def dim(self, rank, allow_none=False):
        if allow_none and self.chance(0.25):
            return None
        if rank == 0:
            return self.pick([0, -1])
        d = self.r.randrange(rank)
        return d - rank if self.chance(0.3) else d

    def dims(self, rank):
        """A tuple of distinct dims (possibly empty)."""
        k = self.r.randint(0, rank)
        ds = self.r.sample(range(rank), k)
        return [d - rank if self.chance(0.3) else d for d in ds]

    # ---------------------------------------------------------- values
    def values(self, n, dtype, kind="normal", low=None, high=None):
        r = self.r
        if dtype == "bool":
            return [r.random() < 0.5 for _ in range(n)]
        if dtype in INT_DTYPES:
            if low is None:
                low, high = (0, 10) if dtype == "uint8" else (-5, 5)
            vals = [r.randint(low, high) for _ in range(n)]
            if kind == "normal" and self.edge_p:  # not for kind="index"
                edges = INT_EDGE[dtype]
                vals = [r.choice(edges) if r.random() < self.edge_p / 4 else v for v in vals]
            return vals
        if kind == "unit":  # in [0, 1]
            vals = [round(r.random(), 2) for _ in range(n)]
            edges = [0.0, 1.0, 0.5, 1e-7]
        elif kind == "positive":
            vals = [round(abs(r.gauss(0, 2)) + 0.05, 2) for _ in range(n)]
            edges = [1e-7, 1e30, INF, 0.5, 1.0, 1e-40]
        elif kind == "small":
            vals = [round(r.gauss(0, 1), 2) for _ in range(n)]
            edges = [0.0, -0.0, 0.5, -0.5]
        else:
            scale = r.choice([1, 1, 3, 10])
            vals = [round(r.gauss(0, scale), 2) for _ in range(n)]
            edges = FLOAT_EDGES
        if self.edge_p:
            vals = [r.choice(edges) if r.random() < self.edge_p else v for v in vals]
        return vals

    # ---------------------------------------------------------- tensors
    def tensor(self, shape, dtype="float32", kind="normal", rg=None, view=None, expand=True, low=None, high=None):
        """An encoded tensor of ``shape``, possibly a non-contiguous view of its leaf."""
        shape = list(shape)
        if rg is None:
            rg = self.grad and dtype in FLOAT_DTYPES and self.chance(0.8)
        rg = bool(rg and dtype in FLOAT_DTYPES)
        base, steps = self.view_recipe(shape, expand) if view is None else view
        return T({"dtype": dtype, "base": base, "values": self.values(numel(base), dtype, kind, low, high),
                  "view": steps, "rg": rg})

    def view_recipe(self, shape, expand=True):
        rank = len(shape)
        if not self.chance(self.view_p):
            return shape, []
        recipes = ["offset", "select"]
        if rank >= 1:
            recipes += ["step", "offset"]
        if rank >= 2:
            recipes += ["transpose", "transpose"]
        if rank >= 3:
            recipes.append("permute")
        if expand and any(s != 1 for s in shape) and rank >= 1:
            recipes.append("expand")
        recipe = self.pick(recipes)
        if recipe == "transpose":
            i, j = self.r.sample(range(rank), 2)
            base = list(shape)
            base[i], base[j] = base[j], base[i]
            return base, [["transpose", i, j]]
        if recipe == "permute":
            p = list(range(rank))
            self.r.shuffle(p)
            base = [shape[p.index(j)] for j in range(rank)]
            return base, [["permute", *p]]
        if recipe == "step":
            d = self.r.randrange(rank)
            base = list(shape)
            start = self.pick([None, 1])
            base[d] = 2 * shape[d] + (1 if start else 0) if shape[d] else self.pick([0, 1])
            index = [sl()] * d + [sl(start, None, 2)]
            if base[d] == 1 and not shape[d]:
                index[-1] = sl(1, None, 2)
            return base, [["getitem", tup(*index)]]
        if recipe == "offset":
            if rank == 0:
                return [3], [["getitem", self.r.randrange(3)]]
            d = self.r.randrange(rank)
            k = self.r.randint(1, 2)
            base = list(shape)
            base[d] += k
            return base, [["getitem", tup(*([sl()] * d), sl(k, None))]]
        if recipe == "select":
            m = self.r.randint(2, 3)
            return [m] + list(shape), [["getitem", self.r.randrange(m)]]
        # expand: size-1 base dims (and possibly missing leading dims)
        base = [1 if s != 1 and self.chance(0.6) else s for s in shape]
        if base == shape:
            i = next(i for i, s in enumerate(shape) if s != 1)
            base[i] = 1
        lead = self.r.randint(0, sum(1 for s in base[:1] if s == 1))
        return base[lead:], [["expand", *shape]]

    def float_tensor(self, shape, kind="normal", **kw):
        return self.tensor(shape, self.pick(FLOAT_DTYPES) if self.chance(0.3) else "float32", kind, **kw)

    def index_tensor(self, shape, low, high, dtype="int64"):
        return self.tensor(shape, dtype, kind="index", low=low, high=high, rg=False, expand=False)

    def scalar(self, kind="any"):
        r = self.r
        if kind == "int" or (kind == "any" and self.chance(0.4)):
            return r.choice([0, 1, 2, -1, 3, -3, 5])
        if kind == "bool" or (kind == "any" and self.chance(0.1)):
            return r.choice([True, False])
        return r.choice([0.5, -1.5, 2.0, 0.0, -0.0, 3.25, 1e-3, INF, -INF, NAN, 1e30] if self.edge_p else
                        [0.5, -1.5, 2.0, 3.25, -0.25, 1.0])

    def broadcastable(self, shape):
        """A shape that broadcasts with ``shape`` (to ``shape`` mostly)."""
        out = list(shape)
        for i in range(len(out)):
            if self.chance(0.3):
                out[i] = 1
        drop = self.r.randint(0, len(out)) if self.chance(0.3) else 0
        out = out[drop:]
        if self.chance(0.1) and len(out) < 4:
            out = [self.pick([1, 2])] + out
        return out


# ====================================================================== ops

OPS = {}


def op(*names):
    def register(fn):
        for name in names:
            OPS[name] = (fn, name)
        return fn
    return register


def form(g, name, x, *rest, kwargs=None, funcs=("torch", "method")):
    """A call of ``name`` as torch.NAME / x.NAME / F.NAME."""
    kind = g.pick(funcs)
    return f"{kind}.{name}", [x, *rest], kwargs or {}


# ------------------------------------------------------------------ unary
FLOAT_UNARY = ["exp", "exp2", "log", "log2", "log10", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "reciprocal",
               "rsqrt", "erf", "log1p", "expm1", "frac", "asin", "acos", "atan", "sinh", "cosh", "erfinv"]
ANY_UNARY = ["abs", "neg", "sign", "floor", "ceil", "round", "trunc", "relu", "square", "logical_not",
             "bitwise_not", "isnan", "isinf", "isfinite", "nan_to_num"]


@op(*FLOAT_UNARY, *ANY_UNARY)
def gen_unary(g, name):
    kinds = "fib" if name in ANY_UNARY or g.chance(0.25) else "f"
    if name == "bitwise_not":
        kinds = "ib" if g.chance(0.8) else "f"
    dtype = g.dtype(kinds)
    positive = name in ("log", "log2", "log10", "sqrt", "rsqrt") and g.chance(0.5)
    kind = "positive" if positive else ("unit" if name in ("asin", "acos", "erfinv") and g.chance(0.6) else "normal")
    x = g.tensor(g.shape(), dtype, kind)
    kwargs = {}
    if name == "round" and g.chance(0.3):
        kwargs["decimals"] = g.pick([0, 1, 2, -1])
    if name == "nan_to_num":
        for k in ("nan", "posinf", "neginf"):
            if g.chance(0.4):
                kwargs[k] = g.pick([0.0, 1.5, -2.0, 100.0])
    funcs = ["torch", "method"]
    if name in ("relu", "sigmoid", "tanh"):
        funcs.append("F")
    non_differentiable = ("isnan", "isinf", "isfinite", "logical_not", "bitwise_not")
    if g.chance(0.12) and not (name in non_differentiable and (g.grad or name.startswith("is"))):
        return f"inplace.{name}_", [x], kwargs
    if name in ("neg", "abs", "bitwise_not") and g.chance(0.25):
        return "operator." + {"neg": "neg", "abs": "abs", "bitwise_not": "invert"}[name], [x], {}
    return form(g, name, x, kwargs=kwargs, funcs=funcs)


# ------------------------------------------------------------------ binary
BINARY_OPERATOR = {"add": "add", "sub": "sub", "mul": "mul", "div": "truediv", "floor_divide": "floordiv",
                   "remainder": "mod", "pow": "pow", "bitwise_and": "and_", "bitwise_or": "or_",
                   "bitwise_xor": "xor", "eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}
INPLACE_DIFFERENTIABLE = {"add", "sub", "mul", "div", "remainder", "fmod", "pow", "atan2"}
BINARY = ["add", "sub", "mul", "div", "remainder", "fmod", "pow", "atan2", "maximum", "minimum", "eq", "ne", "lt",
          "le", "gt", "ge", "bitwise_and", "bitwise_or", "bitwise_xor", "logical_and", "logical_or", "logical_xor",
          "floor_divide", "fmax", "fmin"]


@op(*BINARY)
def gen_binary(g, name):
    bitwise = name.startswith("bitwise")
    kinds = "ib" if bitwise and g.chance(0.85) else "fib"
    shape = g.shape()
    a_dtype = g.dtype(kinds)
    b_dtype = a_dtype if g.chance(0.6) else g.dtype(kinds)
    a = g.tensor(shape, a_dtype)
    if g.chance(0.3):
        b = g.scalar("int" if bitwise else "any")
    else:
        b_shape = g.broadcastable(shape)
        if g.chance(0.2):  # the first one broadcasts instead
            shape, b_shape = b_shape, shape
            a = g.tensor(shape, a_dtype)
        b = g.tensor(b_shape, b_dtype, kind="positive" if name == "pow" and g.chance(0.3) else "normal")
    kwargs = {}
    if name in ("add", "sub") and g.chance(0.3):
        kwargs["alpha"] = g.pick([2, -1, 0.5, 0, True])
    if name == "div" and g.chance(0.6):
        kwargs["rounding_mode"] = g.pick([None, "trunc", "floor"])
    if name in BINARY_OPERATOR and not kwargs and g.chance(0.3):
        args = [b, a] if not isinstance(b, dict) and g.chance(0.5) else [a, b]  # 2 - x
        return "operator." + BINARY_OPERATOR[name], args, {}
    # (torch lets grads flow through in-place logical/comparison ops on float
    # tensors -- a quirk not worth holding rustdl to)
    if g.chance(0.1) and isinstance(a, dict) and (name in INPLACE_DIFFERENTIABLE or not g.grad):
        return f"inplace.{name}_", [a, b], kwargs
    if g.chance(0.05) and isinstance(b, dict):
        return f"torch.{name}", [g.scalar(), b], kwargs
    return form(g, name, a, b, kwargs=kwargs)


@op("where")
def gen_where(g, name):
    shape = g.shape()
    cond = g.tensor(g.broadcastable(shape), "bool")
    dtype = g.dtype()
    x = g.tensor(shape, dtype) if g.chance(0.8) else g.scalar()
    y = g.tensor(g.broadcastable(shape), dtype if g.chance(0.7) else g.dtype()) if g.chance(0.7) else g.scalar()
    if isinstance(x, dict) and g.chance(0.3):
        return "method.where", [x, cond, y], {}
    return "torch.where", [cond, x, y], {}


@op("masked_fill")
def gen_masked_fill(g, name):
    shape = g.shape()
    x = g.tensor(shape, g.dtype())
    mask = g.tensor(g.broadcastable(shape), "bool")
    value = g.scalar() if g.chance(0.8) else g.tensor([], g.dtype(), rg=False)
    if g.chance(0.2):
        return "inplace.masked_fill_", [x, mask, value], {}
    return form(g, name, x, mask, value)


@op("clamp")
def gen_clamp(g, name):
    shape = g.shape()
    x = g.tensor(shape, g.dtype("fi"))
    kwargs = {}
    for k in ("min", "max"):
        if g.chance(0.7):
            kwargs[k] = g.scalar() if g.chance(0.6) else g.tensor(g.broadcastable(shape), g.dtype("fi"))
    if not kwargs and g.chance(0.7):
        kwargs["min"] = g.scalar()
    fn = g.pick(["clamp", "clamp", "clip"])
    if g.chance(0.1):
        return f"inplace.{fn}_", [x], kwargs
    return form(g, fn, x, kwargs=kwargs)


# ------------------------------------------------------------------ reductions
@op("sum", "mean", "prod", "amax", "amin", "logsumexp", "nansum", "count_nonzero")
def gen_reduce(g, name):
    kinds = "f" if name in ("mean", "logsumexp") and g.chance(0.9) else "fib"
    shape = g.shape()
    x = g.tensor(shape, g.dtype(kinds))
    kwargs = {}
    rank = len(shape)
    if name in ("logsumexp",) or g.chance(0.7):
        kwargs["dim"] = g.dim(rank) if g.chance(0.5) else g.dims(rank)
        if name == "logsumexp" and kwargs["dim"] == []:
            kwargs["dim"] = g.dim(rank)
        if name != "count_nonzero" and g.chance(0.4):
            kwargs["keepdim"] = True
    if name in ("sum", "prod", "mean", "nansum") and g.chance(0.2):
        kwargs["dtype"] = dt(g.pick(["float64", "float32", "int64"]))
    if name == "prod" and isinstance(kwargs.get("dim"), list):
        kwargs["dim"] = g.dim(rank)
    return form(g, name, x, kwargs=kwargs)


@op("max", "min")
def gen_max(g, name):
    shape = g.shape()
    x = g.tensor(shape, g.dtype())
    mode = g.pick(["all", "dim", "dim", "other"])
    if mode == "all":
        return form(g, name, x)
    if mode == "other":
        return form(g, name, x, g.tensor(g.broadcastable(shape), g.dtype()))
    kwargs = {"dim": g.dim(len(shape))}
    if g.chance(0.4):
        kwargs["keepdim"] = True
    return form(g, name, x, kwargs=kwargs)


@op("argmax", "argmin")
def gen_argmax(g, name):
    shape = g.shape()
    x = g.tensor(shape, g.dtype("fi"))
    kwargs = {}
    if g.chance(0.7):
        kwargs["dim"] = g.dim(len(shape), allow_none=True)
        if g.chance(0.4):
            kwargs["keepdim"] = True
    return form(g, name, x, kwargs=kwargs)


@op("std", "var", "std_mean", "var_mean")
def gen_std(g, name):
    shape = g.shape()
    x = g.tensor(shape, g.dtype("f"))
    kwargs = {}
    if g.chance(0.7):
        kwargs["dim"] = g.dim(len(shape), allow_none=True) if g.chance(0.5) else g.dims(len(shape))
    if g.chance(0.5):
        kwargs["correction"] = g.pick([0, 1, 2])
    elif g.chance(0.3):
        kwargs["unbiased"] = g.pick([True, False])
    if g.chance(0.3):
        kwargs["keepdim"] = True
    funcs = ("torch",) if name.endswith("_mean") else ("torch", "method")
    return form(g, name, x, kwargs=kwargs, funcs=funcs)


@op("norm")
def gen_norm(g, name):
    shape = g.shape()
    x = g.tensor(shape, g.dtype("f"))
    kwargs = {}
    p = g.pick([1, 2, INF, -INF, 0, "fro", 3, 0.5, None])
    if p is not None:
        kwargs["p"] = p
    if g.chance(0.6):
        kwargs["dim"] = g.dim(len(shape)) if g.chance(0.5) else g.dims(len(shape))
        if g.chance(0.4):
            kwargs["keepdim"] = True
    return form(g, name, x, kwargs=kwargs)


@op("cumsum", "cumprod")
def gen_cumsum(g, name):
    shape = g.shape()
    x = g.tensor(shape, g.dtype())
    kwargs = {"dim": g.dim(len(shape))}
    if g.chance(0.2):
        kwargs["dtype"] = dt(g.pick(["float64", "int64", "float32"]))
    return form(g, name, x, kwargs=kwargs)


@op("any", "all")
def gen_any(g, name):
    shape = g.shape()
    x = g.tensor(shape, g.dtype("fib" if g.chance(0.5) else "b"))
    kwargs = {}
    if g.chance(0.5):
        kwargs["dim"] = g.dim(len(shape))
        if g.chance(0.4):
            kwargs["keepdim"] = True
    return form(g, name, x, kwargs=kwargs)


# ------------------------------------------------------------------ shape ops
def factor_shape(g, n, max_rank=4):
    """A random shape with ``n`` elements (n may be 0)."""
    if n == 0:
        shape = [g.pick([1, 2, 3]) for _ in range(g.r.randint(0, 2))]
        shape.insert(g.r.randint(0, len(shape)), 0)
        return shape
    shape, rest = [], n
    while rest > 1 and len(shape) < max_rank - 1:
        divisors = [d for d in range(2, rest + 1) if rest % d == 0]
        d = g.pick(divisors)
        shape.append(d)
        rest //= d
    if rest > 1:
        shape.append(rest)
    while g.chance(0.25) and len(shape) < max_rank:
        shape.insert(g.r.randint(0, len(shape)), 1)
    g.r.shuffle(shape)
    return shape


@op("reshape", "view")
def gen_reshape(g, name):
    shape = g.shape(max_numel=24)
    x = g.tensor(shape, g.dtype())
    new = factor_shape(g, numel(shape))
    if new and g.chance(0.3) and numel(shape):
        new[g.r.randrange(len(new))] = -1
    if g.chance(0.3):
        return form(g, name, x, *new, funcs=("method",))
    if name == "view":
        return "method.view", [x, tup(*new)], {}
    return form(g, name, x, tup(*new))


@op("transpose", "permute", "flip", "t", "movedim", "flatten", "unsqueeze", "squeeze", "roll", "unbind",
    "select", "narrow", "contiguous")
def gen_shape_op(g, name):
    shape = g.shape(hi=2 if name == "t" else 4)
    rank = len(shape)
    x = g.tensor(shape, g.dtype())
    if name == "transpose":
        return form(g, name, x, g.dim(rank), g.dim(rank))
    if name == "permute":
        p = list(range(rank))
        g.r.shuffle(p)
        p = [d - rank if g.chance(0.2) else d for d in p]
        return form(g, name, x, *p, funcs=("method",)) if g.chance(0.3) else form(g, name, x, tup(*p))
    if name == "flip":
        return form(g, name, x, g.dims(rank))
    if name == "t":
        return form(g, name, x)
    if name == "movedim":
        return form(g, name, x, g.dim(rank), g.dim(rank))
    if name == "flatten":
        kwargs = {}
        if g.chance(0.6):
            kwargs["start_dim"] = g.dim(rank)
        if g.chance(0.6):
            kwargs["end_dim"] = g.dim(rank)
        return form(g, name, x, kwargs=kwargs)
    if name == "unsqueeze":
        return form(g, name, x, g.r.randint(-rank - 1, rank))
    if name == "squeeze":
        mode = g.pick(["none", "int", "tuple"])
        if mode == "none":
            return form(g, name, x)
        return form(g, name, x, g.dim(rank) if mode == "int" else tup(*g.dims(rank)))
    if name == "roll":
        if g.chance(0.3):
            return form(g, name, x, g.r.randint(-4, 4))
        ds = g.dims(rank) or [g.dim(rank)]
        return form(g, name, x, tup(*[g.r.randint(-4, 4) for _ in ds]), tup(*ds))
    if name == "unbind":
        return form(g, name, x, kwargs={"dim": g.dim(rank)} if g.chance(0.6) else {})
    if name == "select":
        d = g.dim(rank)
        size = shape[d] if rank else 1
        return form(g, name, x, d, g.r.randint(-size, max(size - 1, 0)))
    if name == "narrow":
        d = g.dim(rank)
        size = shape[d] if rank else 1
        start = g.r.randint(-size, size) if size else 0
        s0 = start % size if size and start < 0 else start
        return form(g, name, x, d, start, g.r.randint(0, max(size - s0, 0)))
    return "method.contiguous", [x], {}


@op("cat", "stack")
def gen_cat(g, name):
    shape = g.shape(lo=1 if name == "cat" else 0, max_numel=16)
    rank = len(shape)
    d = g.dim(rank + (name == "stack"))
    dtype = g.dtype()
    tensors = []
    for _ in range(g.r.randint(1, 4)):
        s = list(shape)
        if name == "cat" and rank:
            s[d] = g.pick([0, 1, 2, 3])
        if name == "cat" and g.chance(0.05):
            s = [0]  # legacy: 1-d empty tensors are skipped
        tensors.append(g.tensor(s, dtype if g.chance(0.85) else g.dtype()))
    seq = tup(*tensors) if g.chance(0.3) else tensors
    return f"torch.{name}", [seq], {"dim": d} if g.chance(0.7) else {}


@op("split", "chunk", "tensor_split")
def gen_split(g, name):
    shape = g.shape(lo=1)
    rank = len(shape)
    x = g.tensor(shape, g.dtype())
    d = g.dim(rank)
    size = shape[d]
    if name == "chunk":
        return form(g, name, x, g.r.randint(1, 4), kwargs={"dim": d})
    if name == "tensor_split":
        arg = g.r.randint(1, 4) if g.chance(0.5) else sorted(g.r.randint(0, size + 1) for _ in range(2))
        return form(g, name, x, arg, kwargs={"dim": d})
    if g.chance(0.5):
        return form(g, name, x, g.r.randint(1, 3), kwargs={"dim": d})
    sizes, rest = [], size
    while rest:
        k = g.r.randint(0, rest)
        sizes.append(k)
        rest -= k
    return form(g, name, x, sizes or [0], kwargs={"dim": d})


@op("tile", "repeat", "broadcast_to", "expand", "expand_as", "repeat_interleave")
def gen_tile(g, name):
    shape = g.shape(max_numel=12)
    rank = len(shape)
    x = g.tensor(shape, g.dtype())
    if name in ("tile", "repeat"):
        k = g.r.randint(0 if name == "tile" else rank, rank + 2)
        reps = [g.pick([1, 2, 3, 0]) for _ in range(k)]
        if name == "repeat" and g.chance(0.4):
            return "method.repeat", [x, *reps], {}
        return form(g, name, x, tup(*reps), funcs=("torch", "method") if name == "tile" else ("method",))
    if name == "repeat_interleave":
        if g.chance(0.5):
            return form(g, name, x, g.r.randint(0, 3), kwargs={"dim": g.dim(rank, allow_none=True)})
        d = g.dim(rank)
        n = shape[d] if rank else 1
        return form(g, name, x, g.index_tensor([n], 0, 3), kwargs={"dim": d})
    target = [g.pick([1, 2, 3]) for _ in range(g.r.randint(0, 1))]
    target += [g.pick([2, 3]) if s == 1 and g.chance(0.5) else s for s in shape]
    if name == "expand_as":
        return "method.expand_as", [x, g.tensor(target, g.dtype())], {}
    if name == "expand":
        tgt = [-1 if t == s and g.chance(0.3) else t for t, s in zip(target[len(target) - rank:], shape)]
        tgt = target[:len(target) - rank] + tgt
        return ("method.expand", [x, *tgt], {}) if g.chance(0.5) else ("method.expand", [x, tup(*tgt)], {})
    return form(g, name, x, tup(*target), funcs=("torch",))


def random_index(g, shape, allow_advanced=True):
    """A getitem index for ``shape`` (as an encoded value) -- mostly valid."""
    items, d, rank = [], 0, len(shape)
    used_ellipsis = False
    while d < rank or (g.chance(0.15) and len(items) < 5):
        if d >= rank:
            items.append(None)
            continue
        size = shape[d]
        choice = g.r.choices(["slice", "int", "none", "ellipsis", "mask", "itensor", "list", "stop"],
                             [5, 3, 1, 0.7, 1 if allow_advanced else 0, 1.2 if allow_advanced else 0,
                              0.5 if allow_advanced else 0, 1.5])[0]
        if choice == "stop":
            break
        if choice == "slice":
            start = g.pick([None, 0, 1, -1, -2, 5, -7])
            stop = g.pick([None, None, 2, -1, 10, 0, -10])
            step = g.pick([None, None, 1, 2, 3])
            items.append(sl(start, stop, step))
        elif choice == "int":
            if size == 0:
                items.append(sl(None, None, None))
            else:
                items.append(g.r.randint(-size, size - 1))
        elif choice == "none":
            items.append(None)
            continue
        elif choice == "ellipsis" and not used_ellipsis:
            used_ellipsis = True
            items.append({"ellipsis": True})
            break  # the ellipsis takes the remaining dims
        elif choice == "mask":
            k = g.r.randint(1, min(2, rank - d))
            items.append(g.tensor(shape[d:d + k], "bool", rg=False, expand=False))
            d += k
            continue
        elif choice in ("itensor", "list"):
            n = g.pick([1, 2, 3])
            ishape = g.pick([[n], [n], [], [2, 2]])
            if size == 0:
                ishape = [0]
            vals = g.values(numel(ishape), "int64", "index", -size, size - 1)
            if choice == "list" and len(ishape) == 1:
                items.append(vals)
            else:
                items.append(T({"dtype": "int64", "base": ishape, "values": vals, "view": [], "rg": False}))
        else:
            items.append(sl())
        d += 1
    if len(items) == 1 and g.chance(0.7):
        return items[0]
    return tup(*items)


def index_numpy(index):
    """``index`` as a numpy index (to compute the result shape)."""
    if isinstance(index, dict):
        if "tuple" in index:
            return tuple(index_numpy(i) for i in index["tuple"])
        if "slice" in index:
            return slice(*index["slice"])
        if "ellipsis" in index:
            return Ellipsis
        if "T" in index:
            spec = index["T"]
            return np.array(spec["values"], dtype=bool if spec["dtype"] == "bool" else np.int64).reshape(
                spec["base"])
    if isinstance(index, list):
        return np.array(index, dtype=np.int64)
    return index


def spec_shape(spec):
    """The shape of an encoded tensor after its view steps."""
    a = np.empty(spec["base"], dtype=np.int8)
    for name, *step_args in spec["view"]:
        if name == "getitem":
            a = a[index_numpy(step_args[0])]
        elif name == "transpose":
            a = np.swapaxes(a, *step_args)
        elif name == "permute":
            a = np.transpose(a, step_args)
        elif name == "expand":
            a = np.broadcast_to(a, step_args)
        else:
            raise ValueError(f"unknown view step {name}")
    return list(a.shape)


@op("getitem", "setitem")
def gen_getitem(g, name):
    shape = g.shape(max_numel=24)
    x = g.tensor(shape, g.dtype(), expand=name == "getitem")
    index = random_index(g, shape)
    if name == "getitem":
        return "getitem", [x, index], {}
    try:
        target = list(np.empty(shape)[index_numpy(index)].shape)
    except (IndexError, ValueError, TypeError):
        target = None
    if target is None or g.chance(0.3):
        value = g.scalar()
    else:
        value = g.tensor(g.broadcastable(target), g.dtype() if g.chance(0.2) else x["T"]["dtype"],
                         rg=None if x["T"]["dtype"] in FLOAT_DTYPES else False)
    return "setitem", [x, index, value], {}


# ------------------------------------------------------------------ indexing ops
def unique_rows(g, n_slots, k):
    """k distinct indices from range(n_slots) (k <= n_slots)."""
    return g.r.sample(range(n_slots), k)


@op("gather", "scatter", "scatter_add", "scatter_reduce")
def gen_gather(g, name):
    shape = g.shape(lo=1, max_numel=24)
    rank = len(shape)
    d = g.dim(rank)
    dd = d % rank
    x = g.tensor(shape, g.dtype("fi"))
    ishape = [g.r.randint(0 if s == 0 else 1, s) if i != dd else g.r.randint(0, s + (name == "gather") * 2)
              for i, s in enumerate(shape)]
    if name == "gather":
        ishape[dd] = g.r.randint(0, 3)
        idx = g.index_tensor(ishape, 0, max(shape[dd] - 1, 0))
        if shape[dd] == 0:
            ishape[dd] = 0
            idx = g.index_tensor(ishape, 0, 0)
        return form(g, name, x, d, idx, kwargs={"sparse_grad": False} if g.chance(0.05) else None)
    ishape[dd] = min(ishape[dd], shape[dd])
    # distinct indices along dim for scatter (duplicates are nondeterministic there)
    vals = np.zeros(ishape, dtype=np.int64)
    for pos in np.ndindex(*[s for i, s in enumerate(ishape) if i != dd]):
        col = unique_rows(g, shape[dd], ishape[dd]) if name == "scatter" else \
            [g.r.randrange(shape[dd]) for _ in range(ishape[dd])] if shape[dd] else []
        for k, v in enumerate(col):
            full = list(pos)
            full.insert(dd, k)
            vals[tuple(full)] = v
    idx = T({"dtype": "int64", "base": ishape, "values": vals.reshape(-1).tolist(), "view": [], "rg": False})
    src_shape = [s + g.pick([0, 0, 1]) for s in ishape]
    if name == "scatter" and g.chance(0.3):
        src = g.scalar("float" if x["T"]["dtype"] in FLOAT_DTYPES else "int")
        return form(g, name, x, d, idx, kwargs={"value": src})
    src = g.tensor(src_shape, x["T"]["dtype"])
    kwargs = {}
    if name == "scatter_reduce":
        kwargs["reduce"] = g.pick(["sum", "prod", "mean", "amax", "amin"])
        if g.chance(0.5):
            kwargs["include_self"] = g.pick([True, False])
    if name == "scatter" and g.chance(0.2):
        kwargs["reduce"] = g.pick(["add", "multiply"])
    if g.chance(0.1):
        return f"inplace.{name}_", [x, d, idx, src], kwargs
    return form(g, name, x, d, idx, src, kwargs=kwargs)


@op("index_select", "index_add", "index_copy", "index_fill")
def gen_index_select(g, name):
    shape = g.shape(max_numel=24)
    rank = len(shape)
    d = g.dim(rank)
    size = shape[d % rank] if rank else 1
    x = g.tensor(shape, g.dtype("fi" if name == "index_add" else "fib"))
    n = g.r.randint(0, 4)
    if name == "index_copy":
        n = min(n, size)
        vals = g.r.sample(range(size), n)
        idx = T({"dtype": "int64", "base": [n], "values": vals, "view": [], "rg": False})
    else:
        idx = g.index_tensor([n] if g.chance(0.9) or n != 1 else [], 0, max(size - 1, 0))
    if size == 0:
        idx = g.index_tensor([0], 0, 0)
        n = 0
    if name == "index_select":
        return form(g, name, x, d, idx)
    if name == "index_fill":
        return form(g, name, x, d, idx, g.scalar())
    src_shape = list(shape)
    if rank:
        src_shape[d % rank] = n if idx["T"]["base"] else 1
        if not idx["T"]["base"]:
            src_shape = src_shape[:d % rank] + src_shape[d % rank + 1:] if g.chance(0.5) else src_shape
    src = g.tensor(src_shape, x["T"]["dtype"])
    kwargs = {"alpha": g.pick([2, -1, 0.5])} if name == "index_add" and g.chance(0.3) else {}
    return form(g, name, x, d, idx, src, kwargs=kwargs)


@op("take", "nonzero", "argwhere", "where_cond", "masked_select")
def gen_take(g, name):
    shape = g.shape()
    x = g.tensor(shape, g.dtype())
    if name == "take":
        n = numel(shape)
        ishape = g.shape(hi=2, max_numel=6)
        return form(g, name, x, g.index_tensor(ishape, -n, n - 1) if n else g.index_tensor([0], 0, 0))
    if name == "nonzero":
        return form(g, name, x, kwargs={"as_tuple": g.pick([True, False])} if g.chance(0.6) else {})
    if name == "argwhere":
        return form(g, name, x)
    if name == "where_cond":
        return "torch.where", [x], {}
    return form(g, name, x, g.tensor(g.broadcastable(shape), "bool"))


# ------------------------------------------------------------------ matmul
@op("mm", "bmm", "matmul", "inner", "outer", "dot", "mv")
def gen_matmul(g, name):
    dtype = g.dtype("fi", float_weight=12)
    dtype2 = dtype if g.chance(0.9) else g.dtype("fi")
    n, k, m, b = (g.pick([0, 1, 2, 3, 4]) for _ in range(4))
    if name == "mm":
        shapes = [[n, k], [k, m]]
    elif name == "bmm":
        shapes = [[b, n, k], [b, k, m]]
    elif name == "mv":
        shapes = [[n, k], [k]]
    elif name in ("dot", "outer"):
        shapes = [[n], [n if name == "dot" else m]]
    elif name == "inner":
        shapes = [g.shape(hi=3, max_numel=12)[:-1] + [k], g.shape(hi=3, max_numel=12)[:-1] + [k]]
    else:
        r1, r2 = g.r.randint(1, 4), g.r.randint(1, 4)
        batch = g.shape(hi=2, max_numel=6)
        s1 = ([k] if r1 == 1 else batch[len(batch) - (r1 - 2):] + [n, k]) if r1 < 3 or batch else [n, k]
        bb = g.broadcastable(batch)
        s2 = ([k] if r2 == 1 else bb[len(bb) - (r2 - 2):] + [k, m]) if r2 < 3 or bb else [k, m]
        shapes = [s1[-4:], s2[-4:]]
    a = g.tensor(shapes[0], dtype, kind="small")
    c = g.tensor(shapes[1], dtype2, kind="small")
    if name == "matmul" and g.chance(0.3):
        return "operator.matmul", [a, c], {}
    return form(g, name, a, c)


# ------------------------------------------------------------------ nn.functional
@op("linear")
def gen_linear(g, name):
    fin, fout = g.pick([0, 1, 2, 3, 4]), g.pick([1, 2, 3])
    x = g.tensor(g.shape(hi=3, max_numel=8)[:2] + [fin], g.dtype("f", 1) if g.chance(0.9) else "float32", "small")
    dtype = x["T"]["dtype"]
    w = g.tensor([fout, fin] if g.chance(0.95) else [fin], dtype, "small")
    args = [x, w]
    if g.chance(0.6):
        args.append(g.tensor([fout], dtype, "small") if g.chance(0.9) else None)
    return "F.linear", args, {}


def conv_case(g, nd, transpose):
    groups = g.pick([1, 1, 1, 2, 3])
    cin_g, cout_g = g.pick([1, 2]), g.pick([1, 2])
    cin, cout = groups * cin_g, groups * cout_g
    ks = [g.pick([1, 2, 3]) for _ in range(nd)]
    stride = [g.pick([1, 1, 2]) for _ in range(nd)]
    dilation = [g.pick([1, 1, 2]) for _ in range(nd)]
    sizes = [max(1, (k - 1) * dl + 1 + g.pick([-1, 0, 0, 1, 2, 3])) for k, dl in zip(ks, dilation)]
    if nd == 3:
        sizes = [min(s, 4) for s in sizes]
    batch = [g.pick([1, 2, 0])] if g.chance(0.85) else []
    x = g.tensor(batch + [cin] + sizes, "float32" if g.chance(0.85) else "float64", "small")
    dtype = x["T"]["dtype"]
    wshape = [cin, cout_g] + ks if transpose else [cout, cin_g] + ks
    w = g.tensor(wshape, dtype, "small")
    kwargs = {}
    if g.chance(0.6):
        kwargs["bias"] = g.tensor([cout], dtype, "small")
    simple = g.chance(0.3)
    if any(s != 1 for s in stride) or not simple:
        kwargs["stride"] = stride if not simple else stride[0]
    if g.chance(0.5):
        pad = [g.r.randint(0, (k - 1) * dl // 2 + (0 if transpose else 1)) for k, dl in zip(ks, dilation)]
        kwargs["padding"] = pad[0] if simple else pad
    elif not transpose and g.chance(0.4):
        kwargs["padding"] = g.pick(["same", "valid"])
        if kwargs["padding"] == "same":
            kwargs.pop("stride", None)
    if any(d != 1 for d in dilation) or g.chance(0.2):
        kwargs["dilation"] = dilation[0] if simple else dilation
    if groups != 1 or g.chance(0.1):
        kwargs["groups"] = groups
    if transpose and g.chance(0.4):
        limit = [max(s, dl) for s, dl in zip(stride, dilation)]
        kwargs["output_padding"] = [g.r.randint(0, lim - 1) for lim in limit]
    return x, w, kwargs


@op("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d")
def gen_conv(g, name):
    nd = int(name[-2])
    x, w, kwargs = conv_case(g, nd, "transpose" in name)
    return f"F.{name}", [x, w], kwargs


def pool_input(g, nd, channels=None):
    batch = [g.pick([1, 2, 0])] if g.chance(0.8) else []
    c = channels or g.pick([1, 2, 3])
    sizes = [g.pick([1, 2, 3, 4, 5]) for _ in range(nd)]
    if nd == 3:
        sizes = [min(s, 4) for s in sizes]
    return batch + [c] + sizes


def pool_out_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output length."""
    span = size + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil_mode else 0)
    out = span // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def has_empty_window(size, k, s, p, d, ceil_mode):
    """Whether some pooling window holds padding only. PyTorch's max_pool
    backward writes out of bounds then (heap corruption), so such cases are
    not generated."""
    for o in range(max(pool_out_size(size, k, s, p, d, ceil_mode), 0)):
        if not any(0 <= o * s - p + j * d < size for j in range(k)):
            return True
    return False


def _per_dim(value, nd):
    return list(value) if isinstance(value, list) else [value] * nd


@op("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d")
def gen_pool(g, name):
    made = _gen_pool(g, name)
    if name.startswith("max"):
        nd = int(name[-2])
        kw = made[2]
        ks = _per_dim(kw["kernel_size"], nd)
        st = _per_dim(kw.get("stride", ks), nd)
        pd = _per_dim(kw.get("padding", 0), nd)
        dl = _per_dim(kw.get("dilation", 1), nd)
        sizes = spec_shape(made[1][0]["T"])[-nd:]
        if any(has_empty_window(n, k, s, p, d, kw.get("ceil_mode", False))
                                for n, k, s, p, d in zip(sizes, ks, st, pd, dl)):
            kw.pop("padding", None)
            kw.pop("dilation", None)
            kw.pop("ceil_mode", None)
    return made


def _gen_pool(g, name):
    nd = int(name[-2])
    shape = pool_input(g, nd)
    dtype = "float32" if g.chance(0.85) else g.dtype("fi")
    x = g.tensor(shape, dtype)
    ks = [g.pick([1, 2, 3]) for _ in range(nd)]
    simple = g.chance(0.4)
    kwargs = {"kernel_size": ks[0] if simple else ks}
    if g.chance(0.6):
        st = [g.pick([1, 2, 3]) for _ in range(nd)]
        kwargs["stride"] = st[0] if simple else st
    if g.chance(0.5):
        pd = [g.r.randint(0, k // 2) for k in ks]
        kwargs["padding"] = pd[0] if simple else pd
    if name.startswith("max") and g.chance(0.3):
        dl = [g.pick([1, 2]) for _ in range(nd)]
        kwargs["dilation"] = dl[0] if simple else dl
    if g.chance(0.4):
        kwargs["ceil_mode"] = True
    if name.startswith("max") and g.chance(0.3):
        kwargs["return_indices"] = True
    if name.startswith("avg"):
        if g.chance(0.3):
            kwargs["count_include_pad"] = False
        if nd > 1 and g.chance(0.15):
            kwargs["divisor_override"] = g.pick([1, 3])
    return f"F.{name}", [x], kwargs


@op("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d")
def gen_adaptive(g, name):
    nd = int(name[-2])
    x = g.tensor(pool_input(g, nd), "float32" if g.chance(0.9) else "float64")
    out = [g.pick([1, 2, 3, 4]) for _ in range(nd)]
    if nd > 1 and g.chance(0.2):
        out[g.r.randrange(nd)] = None
    size = out[0] if nd == 1 or (g.chance(0.3) and out[0] is not None) else tup(*out)
    kwargs = {"return_indices": True} if "max" in name and g.chance(0.3) else {}
    return f"F.{name}", [x, size], kwargs


@op("pad")
def gen_pad(g, name):
    mode = g.pick(["constant", "constant", "reflect", "replicate", "circular"])
    if mode == "constant":
        shape = g.shape(max_numel=24)
        k = g.r.randint(0, len(shape))
        pads = [g.r.randint(-1, 2) for _ in range(2 * k)]
    else:
        k = g.pick([1, 2, 3])
        shape = [g.pick([1, 2])] * g.r.randint(1, 2) + [g.pick([1, 2, 3, 4]) for _ in range(k)]
        if k == 3:
            shape = shape[:1] + [min(s, 3) for s in shape[1:]]
        limit = [s - 1 if mode == "reflect" else (s if mode == "circular" else 3) for s in shape[::-1][:k]]
        pads = []
        for lim in limit:
            pads += [g.r.randint(0, max(lim, 0)), g.r.randint(0, max(lim, 0))]
    x = g.tensor(shape, g.dtype("f", 8) if mode != "constant" else g.dtype())
    kwargs = {}
    if mode != "constant" or g.chance(0.3):
        kwargs["mode"] = mode
    if mode == "constant" and g.chance(0.4):
        kwargs["value"] = g.scalar()
    return "F.pad", [x, tup(*pads) if g.chance(0.5) else pads], kwargs


@op("softmax", "log_softmax")
def gen_softmax(g, name):
    shape = g.shape()
    x = g.tensor(shape, g.dtype("f"))
    kwargs = {"dim": g.dim(len(shape))}
    if g.chance(0.2):
        kwargs["dtype"] = dt("float64")
    return form(g, name, x, kwargs=kwargs, funcs=("torch", "method", "F"))


@op("layer_norm", "group_norm", "batch_norm", "instance_norm")
def gen_norm_layer(g, name):
    dtype = "float32" if g.chance(0.85) else "float64"
    if name == "layer_norm":
        shape = g.shape(lo=1)
        k = g.r.randint(1, len(shape))
        ns = shape[len(shape) - k:]
        x = g.tensor(shape, dtype)
        args = [x, ns if g.chance(0.5) else tup(*ns)]
        kwargs = {}
        if g.chance(0.6):
            kwargs["weight"] = g.tensor(ns, dtype)
        if g.chance(0.6):
            kwargs["bias"] = g.tensor(ns, dtype)
        if g.chance(0.2):
            kwargs["eps"] = g.pick([1e-3, 0.0, 1e-12])
        return "F.layer_norm", args, kwargs
    groups = g.pick([1, 2, 3])
    c = groups * g.pick([1, 2]) if name == "group_norm" else g.pick([1, 2, 3])
    spatial = [g.pick([1, 2, 3]) for _ in range(g.r.randint(0 if name != "instance_norm" else 1, 2))]
    shape = [g.pick([1, 2, 3])] + [c] + spatial
    x = g.tensor(shape, dtype)
    kwargs = {}
    if g.chance(0.6):
        kwargs["weight"] = g.tensor([c], dtype)
    if g.chance(0.6):
        kwargs["bias"] = g.tensor([c], dtype)
    if g.chance(0.2):
        kwargs["eps"] = g.pick([1e-3, 0.5])
    if name == "group_norm":
        return "F.group_norm", [x, groups], kwargs
    # running stats are written in place: no expanded (aliased) views
    rm = g.tensor([c], dtype, "small", rg=False, expand=False)
    rv = g.tensor([c], dtype, "positive", rg=False, expand=False)
    training = g.chance(0.6)
    if name == "instance_norm":
        args = [x] + ([rm, rv] if g.chance(0.3) else [])
        return "F.instance_norm", args, kwargs
    if training and g.chance(0.3):
        rm = rv = None
    kwargs["training"] = training
    if g.chance(0.3):
        kwargs["momentum"] = g.pick([0.5, 0.0, 1.0])
    return {"call": "F.batch_norm", "args": [x, rm, rv], "kwargs": kwargs,
            "check_args": [1, 2] if rm is not None else []}


ACTIVATIONS = ["relu", "elu", "gelu", "silu", "hardtanh", "leaky_relu", "softplus", "logsigmoid", "hardswish",
               "hardsigmoid", "mish", "softsign", "relu6", "selu", "celu"]


@op(*("F." + a for a in ACTIVATIONS))
def gen_activation(g, name):
    fname = name[2:]
    x = g.tensor(g.shape(), g.dtype("f", 20) if g.chance(0.95) else g.dtype("i"))
    kwargs = {}
    if fname == "elu" and g.chance(0.5):
        kwargs["alpha"] = g.pick([0.5, 2.0])
    if fname == "gelu" and g.chance(0.5):
        kwargs["approximate"] = g.pick(["none", "tanh"])
    if fname == "hardtanh" and g.chance(0.6):
        kwargs["min_val"], kwargs["max_val"] = g.pick([(-2.0, 2.0), (0.0, 1.0), (-0.5, 0.5)])
    if fname == "leaky_relu" and g.chance(0.6):
        kwargs["negative_slope"] = g.pick([0.2, 0.0, -0.5, 1.5])
    if fname == "softplus" and g.chance(0.6):
        kwargs["beta"] = g.pick([0.5, 2.0, 1.0])
        kwargs["threshold"] = g.pick([1.0, 20.0, 5.0])
    if fname == "celu" and g.chance(0.5):
        kwargs["alpha"] = g.pick([0.5, 2.0])
    return f"F.{fname}", [x], kwargs


@op("embedding")
def gen_embedding(g, name):
    v, d = g.pick([1, 3, 5]), g.pick([1, 2, 3])
    w = g.tensor([v, d], "float32" if g.chance(0.9) else "float64")
    idx = g.index_tensor(g.shape(hi=3, max_numel=8), 0, v - 1, dtype="int64" if g.chance(0.85) else "int32")
    kwargs = {"padding_idx": g.r.randint(-v, v - 1)} if g.chance(0.3) else {}
    return "F.embedding", [idx, w], kwargs


@op("one_hot")
def gen_one_hot(g, name):
    c = g.pick([1, 2, 4])
    x = g.index_tensor(g.shape(hi=3, max_numel=8), 0, c - 1)
    return "F.one_hot", [x], {"num_classes": g.pick([c, c + 1, -1])} if g.chance(0.7) else {}


@op("dropout")
def gen_dropout(g, name):
    x = g.tensor(g.shape(), g.dtype("f"))
    return "F.dropout", [x], {"p": g.pick([0.0, 0.0, 1.0]), "training": g.pick([True, False])}


# ------------------------------------------------------------------ losses
REDUCTIONS = ["mean", "sum", "none"]


def reduction(g, kwargs, extra=()):
    if g.chance(0.6):
        kwargs["reduction"] = g.pick(REDUCTIONS + list(extra))
    return kwargs


@op("cross_entropy", "nll_loss")
def gen_cross_entropy(g, name):
    c = g.pick([1, 2, 3, 4])
    layout = g.pick(["nc", "nc", "c", "ncd"])
    n = g.pick([1, 2, 3, 0]) if g.chance(0.95) else 0
    dtype = "float32" if g.chance(0.85) else "float64"
    if layout == "c":
        shape, tshape = [c], []
    elif layout == "nc":
        shape, tshape = [n, c], [n]
    else:
        d = [g.pick([1, 2, 3]) for _ in range(g.r.randint(1, 2))]
        shape, tshape = [n, c] + d, [n] + d
    x = g.tensor(shape, dtype)
    kwargs = {}
    probs = name == "cross_entropy" and g.chance(0.25)
    if probs:
        target = g.tensor(shape, dtype, "unit")
    else:
        ignore = g.pick([-100, 0, 1]) if g.chance(0.4) else None
        vals = [g.r.randrange(c) for _ in range(numel(tshape))]
        if ignore is not None:
            kwargs["ignore_index"] = ignore
            vals = [ignore if g.chance(0.3) else v for v in vals]
        target = T({"dtype": "int64", "base": tshape, "values": vals, "view": [], "rg": False})
    if g.chance(0.3):
        kwargs["weight"] = g.tensor([c], dtype, "positive", rg=None if g.chance(0.3) else False)
    if name == "cross_entropy" and g.chance(0.4):
        kwargs["label_smoothing"] = g.pick([0.1, 0.3, 0.0])
    reduction(g, kwargs)
    return f"F.{name}", [x, target], kwargs


@op("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div")
def gen_loss(g, name):
    shape = g.shape()
    dtype = "float32" if g.chance(0.85) else "float64"
    kind = "unit" if name == "binary_cross_entropy" else "normal"
    x = g.tensor(shape, dtype, kind)
    tshape = shape if g.chance(0.95) else g.broadcastable(shape)
    target = g.tensor(tshape, dtype, "unit" if name.startswith("binary") or name == "kl_div" else "normal")
    kwargs = {}
    if name == "smooth_l1_loss" and g.chance(0.5):
        kwargs["beta"] = g.pick([0.5, 2.0, 0.0])
    if name == "huber_loss" and g.chance(0.5):
        kwargs["delta"] = g.pick([0.5, 2.0])
    if name.startswith("binary") and g.chance(0.3):
        kwargs["weight"] = g.tensor(g.broadcastable(shape), dtype, "positive")
    if name == "binary_cross_entropy_with_logits" and g.chance(0.3) and shape:
        kwargs["pos_weight"] = g.tensor(shape[-1:], dtype, "positive")
    if name == "kl_div" and g.chance(0.4):
        kwargs["log_target"] = g.pick([True, False])
    reduction(g, kwargs, ("batchmean",) if name == "kl_div" else ())
    return f"F.{name}", [x, target], kwargs


# ------------------------------------------------------------------ factories
@op("arange")
def gen_arange(g, name):
    ints = g.chance(0.5)
    num = (lambda: g.r.randint(-5, 8)) if ints else (lambda: round(g.r.uniform(-5, 8), g.pick([0, 1, 2])))
    k = g.pick([1, 2, 3])
    args = [num() for _ in range(k)]
    if k == 3:
        args[2] = g.pick([1, 2, -1, 0.5, -0.7, 3, 0.25]) if g.chance(0.9) else 0
        if (args[1] - args[0]) * args[2] < 0 and g.chance(0.7):
            args[0], args[1] = args[1], args[0]
    elif k == 2 and args[1] < args[0] and g.chance(0.8):
        args = args[::-1]
    elif k == 1:
        args[0] = abs(args[0])
    kwargs = {"dtype": dt(g.dtype("fi"))} if g.chance(0.5) else {}
    if kwargs.get("dtype") == dt("uint8") and min(args[:2]) < 0:
        kwargs["dtype"] = dt("int64")
    return "torch.arange", args, kwargs


@op("linspace")
def gen_linspace(g, name):
    args = [round(g.r.uniform(-5, 5), 1), round(g.r.uniform(-5, 5), 1), g.pick([0, 1, 2, 5, 7])]
    if g.chance(0.3):
        args[:2] = [int(a) for a in args[:2]]
    kwargs = {"dtype": dt(g.dtype("fi"))} if g.chance(0.4) else {}
    if kwargs.get("dtype") == dt("uint8") and min(args[:2]) < 0:
        kwargs["dtype"] = dt("int32")
    return "torch.linspace", args, kwargs


@op("zeros", "ones", "full", "eye", "zeros_like", "ones_like", "full_like", "new_zeros", "tensor")
def gen_factory(g, name):
    shape = g.shape()
    kwargs = {}
    if g.chance(0.4):
        kwargs["dtype"] = dt(g.dtype())
    if name in ("zeros", "ones"):
        return f"torch.{name}", shape if g.chance(0.5) else [tup(*shape)], kwargs
    if name == "full":
        return "torch.full", [tup(*shape), g.scalar()], kwargs
    if name == "eye":
        args = [g.pick([0, 1, 2, 3])] + ([g.pick([0, 1, 2, 4])] if g.chance(0.5) else [])
        return "torch.eye", args, kwargs
    if name == "new_zeros":
        return "method.new_zeros", [g.tensor(shape, g.dtype()), tup(*g.shape())], kwargs
    if name == "tensor":
        kind = g.pick(["int", "float", "bool", "mixed"])
        n = numel(shape)
        if kind == "mixed":
            vals = [g.scalar() for _ in range(n)]
        else:
            vals = [g.scalar(kind) for _ in range(n)]
        data = vals[0] if not shape else ([] if n == 0 else None)
        if data is None:
            from execute import nest
            data = nest(vals, shape)
        elif shape:
            data = []
        return "torch.tensor", [data], kwargs
    x = g.tensor(shape, g.dtype())
    if name == "full_like":
        return "torch.full_like", [x, g.scalar()], kwargs
    return f"torch.{name}", [x], kwargs


# ====================================================================== invalid mutations

def _tensor_positions(case):
    """(container, key) of each top-level tensor argument or kwarg."""
    out = [(case["args"], i) for i, a in enumerate(case["args"]) if isinstance(a, dict) and "T" in a]
    out += [(case["kwargs"], k) for k, v in case["kwargs"].items() if isinstance(v, dict) and "T" in v]
    return out


def mutate_invalid(g, case):
    """Turn ``case`` into a probably-invalid call; returns a short description."""
    r = g.r
    options = []
    dim_keys = [k for k in case["kwargs"] if k in ("dim", "start_dim", "end_dim")]
    if dim_keys:
        options.append("dim")
    tensors = _tensor_positions(case)
    if tensors:
        options += ["shape", "dtype", "list", "rank"]
    int_args = [i for i, a in enumerate(case["args"]) if isinstance(a, int) and not isinstance(a, bool)]
    int_kwargs = [k for k, v in case["kwargs"].items() if isinstance(v, int) and not isinstance(v, bool)]
    if int_args or int_kwargs:
        options.append("int")
    str_kwargs = [k for k, v in case["kwargs"].items() if isinstance(v, str)]
    if str_kwargs:
        options.append("str")
    options.append("kwarg")
    choice = r.choice(options)
    if choice == "dim":
        k = r.choice(dim_keys)
        case["kwargs"][k] = r.choice([5, -6, 4, 100])
        return f"{k} out of range"
    if choice == "int":
        if int_args and (not int_kwargs or r.random() < 0.5):
            i = r.choice(int_args)
            case["args"][i] = r.choice([-1, -3, 0, 1000, 7])
            return f"arg {i} bad int"
        k = r.choice(int_kwargs)
        case["kwargs"][k] = r.choice([-1, -3, 0, 1000, 7])
        return f"{k} bad int"
    if choice == "str":
        k = r.choice(str_kwargs)
        case["kwargs"][k] = "bogus"
        return f"{k} bad string"
    if choice == "kwarg":
        case["kwargs"]["bogus_kwarg"] = 1
        return "unknown kwarg"
    container, key = r.choice(tensors)
    spec = container[key]["T"]
    if choice == "shape":
        spec["view"] = []
        shape = list(spec["base"])
        if shape and r.random() < 0.6:
            i = r.randrange(len(shape))
            shape[i] = shape[i] + r.choice([1, 2]) if shape[i] != 1 else 3
        else:
            shape = shape + [r.choice([2, 3])]
        spec["base"] = shape
        spec["values"] = g.values(numel(shape), spec["dtype"])
        return f"arg {key} bad shape"
    if choice == "rank":
        spec["view"] = []
        shape = list(spec["base"])
        shape = shape[1:] if shape and r.random() < 0.5 else [2] + shape
        spec["base"] = shape
        spec["values"] = g.values(numel(shape), spec["dtype"])
        return f"arg {key} bad rank"
    if choice == "dtype":
        new = r.choice([d for d in ("float32", "float64", "int64", "int32", "bool", "uint8") if d != spec["dtype"]])
        spec["dtype"] = new
        spec["rg"] = spec["rg"] and new in FLOAT_DTYPES
        spec["values"] = g.values(numel(spec["base"]), new)
        return f"arg {key} dtype {new}"
    # a Python list where a tensor is expected
    if container is case["args"] and key == 0 and case["call"].split(".")[0] in ("method", "getitem", "setitem",
                                                                             "inplace"):
        return mutate_invalid(g, case) if len(tensors) > 1 or len(options) > 4 else "unchanged"
    from execute import nest
    base = spec["base"]
    data = spec["values"][0] if not base else (nest(spec["values"], base) if numel(base) else [])
    container[key] = data
    return f"arg {key} as a Python list"


# ====================================================================== entry point

def op_names():
    return sorted(OPS)


def make_case(seed, case_id, ops=None):
    """The case ``case_id`` of the run with ``seed`` (over ``ops``, default all)."""
    rng = random.Random(f"{seed}:{case_id}")
    names = ops or op_names()
    name = rng.choice(names)
    g = Gen(rng, grad=rng.random() < 0.5)
    fn, op_name = OPS[name]
    made = fn(g, op_name)
    if isinstance(made, tuple):
        call, args, kwargs = made
        case = {"call": call, "args": args, "kwargs": kwargs}
    else:
        case = made
    case.update(id=case_id, seed=seed, op=name, grad=g.grad, invalid=False)
    case.setdefault("check_args", [])
    if rng.random() < 0.2:
        case["invalid"] = mutate_invalid(g, case)
    case["grad"] = case["grad"] and any(s.get("rg") for s in case_tensor_specs(case))
    return case


def max_numel_in(case):
    return max([numel(s["base"]) for s in case_tensor_specs(case)] or [0])


