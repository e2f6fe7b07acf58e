"""Build, run and print one case against a torch-like library.

A *case* is a plain dict (JSON-serialisable) made by ``cases.py``::

    {"id": 17, "op": "add", "call": "torch.add",
     "args": [<value>, ...], "kwargs": {"alpha": 2},
     "grad": True, "invalid": False, "check_args": [0]}

Values are Python scalars, None, strings, lists, and tagged dicts:

    {"T": {"dtype": "float32", "base": [3, 2], "values": [...],
           "view": [["transpose", 0, 1]], "rg": True}}   a tensor
    {"dtype": "int64"}                                   a dtype
    {"tuple": [...]}                                     a tuple
    {"slice": [start, stop, step]}                       a slice
    {"ellipsis": True}                                   ...

A tensor is created from its base values (a nested list, or ``zeros`` when it
has no elements), made a leaf that requires grad when ``rg`` is set, then
the ``view`` steps are applied (method calls, or ``["getitem", index]``),
so that inputs can be non-contiguous views of a leaf.

``call`` is one of ``torch.NAME``, ``F.NAME`` (``nn.functional``),
``method.NAME`` (``args[0].NAME(*args[1:])``), ``operator.NAME``,
``getitem`` (``args[0][args[1]]``), ``setitem`` (``y = args[0].clone();
y[args[1]] = args[2]``; the result is ``y``) and ``inplace.NAME``
(``y = args[0].clone(); y.NAME(*args[1:])``; the result is ``y``).

This module never imports torch or rustdl: it is given the module.
"""

import math
import operator

import numpy as np

FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int64", "int32", "uint8")
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)


# ---------------------------------------------------------------- helpers

def numel(shape):
    return math.prod(shape)


def nest(flat, shape):
    """The flat list ``flat`` as a nested list of ``shape`` (rank >= 1)."""
    if len(shape) == 1:
        return list(flat)
    step = numel(shape[1:])
    return [nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def is_tensor_spec(v):
    return isinstance(v, dict) and "T" in v


def walk_tensor_specs(value):
    """Every tensor spec in a (nested) value, depth first."""
    if is_tensor_spec(value):
        yield value["T"]
    elif isinstance(value, dict):
        for v in value.values():
            yield from walk_tensor_specs(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_tensor_specs(v)


def case_tensor_specs(case):
    yield from walk_tensor_specs(case["args"])
    yield from walk_tensor_specs(case["kwargs"])


# ---------------------------------------------------------------- building

class Builder:
    """Turns encoded values into live objects of ``lib`` (torch or rustdl)."""

    def __init__(self, lib):
        self.lib = lib
        self.leaves = []  # leaf tensors that require grad, in spec order

    def tensor(self, spec):
        lib = self.lib
        dtype = getattr(lib, spec["dtype"])
        base, rg = spec["base"], bool(spec.get("rg"))
        if numel(base) == 0:
            t = lib.zeros(*base, dtype=dtype, requires_grad=rg) if rg else lib.zeros(*base, dtype=dtype)
        else:
            data = spec["values"][0] if len(base) == 0 else nest(spec["values"], base)
            t = lib.tensor(data, dtype=dtype, requires_grad=rg) if rg else lib.tensor(data, dtype=dtype)
        if rg:
            self.leaves.append(t)
        for step in spec.get("view", []):
            name, *step_args = step
            if name == "getitem":
                t = t[self.value(step_args[0])]
            else:
                t = getattr(t, name)(*[self.value(a) for a in step_args])
        return t

    def value(self, v):
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            if "T" in v:
                return self.tensor(v["T"])
            if "dtype" in v:
                return getattr(self.lib, v["dtype"])
            if "tuple" in v:
                return tuple(self.value(x) for x in v["tuple"])
            if "slice" in v:
                return slice(*v["slice"])
            if "ellipsis" in v:
                return Ellipsis
            raise ValueError(f"unknown encoded value {v!r}")
        return v


def _torch_batch_norm_params(lib, args, kwargs):
    """Contiguous copies of ``F.batch_norm``'s weight and bias, and of its
    running statistics in eval mode, for torch only: PyTorch 2.15's
    batch_norm backward reads a non-contiguous weight (training or eval) and
    an eval-mode non-contiguous running_var as if they were contiguous, and
    returns wrong input and weight gradients (README, "PyTorch bugs").
    The values are the same, so the oracle's answer is the right one for
    rustdl's strided views; training-mode running statistics, written in
    place, are passed as they are.

    With an infinite weight the copies would change PyTorch's forward kernel
    too: with the input and every parameter contiguous it computes
    ``x * a + shift`` (NaN where ``(x - mean) * a + bias`` gives +-inf),
    otherwise the latter. Where the call as made takes the latter, the bias
    is passed as a non-contiguous view of the same values (the backward does
    not read it), which keeps it there; without a bias of two or more
    values, the operands are passed as they are."""
    def contiguous(v):
        return v.contiguous() if isinstance(v, lib.Tensor) else v

    def operand(i, key):
        return kwargs.get(key, args[i] if len(args) > i else None)

    def strided(tensors):
        return any(isinstance(t, lib.Tensor) and not t.is_contiguous() for t in tensors)

    x = operand(0, "input")
    dense_x = isinstance(x, lib.Tensor) and (x.is_contiguous() or (
        x.dim() in (4, 5) and x.is_contiguous(memory_format=lib.channels_last if x.dim() == 4
                                              else lib.channels_last_3d)))
    params = ((1, "running_mean"), (2, "running_var"), (3, "weight"), (4, "bias"))
    strided_call = not dense_x or strided(operand(i, key) for i, key in params)
    training = kwargs.get("training", args[5] if len(args) > 5 else False)
    weight = operand(3, "weight")
    finite_weight = not isinstance(weight, lib.Tensor) or bool(lib.isfinite(weight).all())
    copied = ((3, "weight"), (4, "bias")) + (((1, "running_mean"), (2, "running_var")) if training is False else ())
    new_args, new_kwargs = list(args), dict(kwargs)
    for i, key in copied:
        if len(new_args) > i:
            new_args[i] = contiguous(new_args[i])
        if key in new_kwargs:
            new_kwargs[key] = contiguous(new_kwargs[key])

    def new_operand(i, key):
        return new_kwargs.get(key, new_args[i] if len(new_args) > i else None)

    if finite_weight or not strided_call or not dense_x or strided(new_operand(i, key) for i, key in params):
        return new_args, new_kwargs
    bias = operand(4, "bias")
    if not isinstance(bias, lib.Tensor) or bias.numel() < 2:
        return args, kwargs
    view = lib.stack([bias, bias], -1)[..., 0]
    if "bias" in new_kwargs:
        new_kwargs["bias"] = view
    else:
        new_args[4] = view
    return new_args, new_kwargs


def _torch_batch_norm_input(lib, args, kwargs):
    """``F.batch_norm``'s input, for torch only, as a channels-last copy with
    PyTorch's own strides where it is channels-last contiguous with other
    strides on a size-1 dim (``zeros(3, 3, 3, 1).permute(0, 2, 3, 1)``:
    strides (9, 1, 1, 3), not (9, 1, 9, 3)). PyTorch 2.15 takes its
    channels-last backward kernel for such an input but hands it the output
    gradient in the other layout, so every gradient is summed over the wrong
    channel (a bias gradient that is not the sum of the output gradient over
    its channel; gradcheck fails; README, "PyTorch bugs"). The copy has the
    same values and takes the same (channels-last) forward kernel, so the
    oracle's answer is the right one for rustdl's view."""
    x = kwargs.get("input", args[0] if args else None)
    if not isinstance(x, lib.Tensor) or x.dim() not in (4, 5) or x.is_contiguous():
        return args, kwargs
    fmt = lib.channels_last if x.dim() == 4 else lib.channels_last_3d
    if not x.is_contiguous(memory_format=fmt):
        return args, kwargs
    canonical = x.clone(memory_format=fmt)
    if canonical.stride() == x.stride():
        return args, kwargs
    args, kwargs = list(args), dict(kwargs)
    if "input" in kwargs:
        kwargs["input"] = canonical
    else:
        args[0] = canonical
    return args, kwargs


def _torch_atan2_operands(lib, args, kwargs, inplace):
    """``atan2``'s uint8 operands cast to the result's dtype, for torch only
    and only beside a float operand that requires grad: PyTorch 2.15's atan2
    backward negates and squares a uint8 operand in uint8 arithmetic (it
    wraps: ``-3`` is 253, ``16 * 16`` is 0), so
    ``torch.atan2(torch.tensor([3], dtype=torch.uint8), x)`` gives x a
    gradient of ``253 / (x**2 + 9)`` (README, "PyTorch bugs"). The forward
    computes in the promoted dtype anyway, so the values are the same and
    the oracle's gradient is the right one. An in-place call's target is
    left as it is (its dtype decides whether the call is allowed)."""
    names = ("input", "other")
    ops = [args[i] if len(args) > i else kwargs.get(names[i]) for i in range(2)]
    if not all(isinstance(t, lib.Tensor) for t in ops):
        return args, kwargs
    if not any(t.is_floating_point() and t.requires_grad for t in ops):
        return args, kwargs
    dtype = lib.result_type(ops[0], ops[1])
    args, kwargs = list(args), dict(kwargs)
    for i, t in enumerate(ops):
        if t.dtype != lib.uint8 or (inplace and i == 0):
            continue
        if len(args) > i:
            args[i] = t.to(dtype)
        else:
            kwargs[names[i]] = t.to(dtype)
    return args, kwargs


def _torch_scatter_prod_src(lib, args, kwargs):
    """``scatter_reduce(..., reduce='prod'|'amax'|'amin')``'s src cut to the
    index's extent, for torch only: PyTorch 2.15's backward gives the src
    elements beyond the index's extent, which the forward never reads, a
    gradient (prod: ``result / src`` over the whole src; amax/amin:
    ``(src == value) * grad`` broadcast from the index's shape, so an unread
    element equal to a result, or any one where that result is NaN, gets
    one), where it is 0 (README, "PyTorch bugs"). The forward reads the same
    values either way."""
    names = ("input", "dim", "index", "src", "reduce")

    def operand(i):
        return args[i] if len(args) > i else kwargs.get(names[i])

    index, src, reduce = operand(2), operand(3), operand(4)
    if reduce not in ("prod", "amax", "amin") or not (isinstance(index, lib.Tensor) and isinstance(src, lib.Tensor)) \
            or index.dim() != src.dim() or index.dim() == 0:
        return args, kwargs
    cut = src[tuple(slice(0, n) for n in index.shape)]
    args, kwargs = list(args), dict(kwargs)
    if len(args) > 3:
        args[3] = cut
    else:
        kwargs["src"] = cut
    return args, kwargs


def call_case(lib, case, builder):
    """Run ``case`` with ``lib``; returns the op's result (may raise)."""
    args = [builder.value(a) for a in case["args"]]
    kwargs = {k: builder.value(v) for k, v in case["kwargs"].items()}
    kind, _, name = case["call"].partition(".")
    if name in ("atan2", "atan2_") and kind in ("torch", "method", "inplace") and lib.__name__ == "torch":
        args, kwargs = _torch_atan2_operands(lib, args, kwargs, kind == "inplace")
    if name in ("scatter_reduce", "scatter_reduce_") and kind in ("torch", "method", "inplace") \
            and lib.__name__ == "torch":
        args, kwargs = _torch_scatter_prod_src(lib, args, kwargs)
    if kind == "torch":
        result = getattr(lib, name)(*args, **kwargs)
    elif kind == "F" and name == "batch_norm" and lib.__name__ == "torch":
        bn_args, bn_kwargs = _torch_batch_norm_params(lib, args, kwargs)
        bn_args, bn_kwargs = _torch_batch_norm_input(lib, bn_args, bn_kwargs)
        result = lib.nn.functional.batch_norm(*bn_args, **bn_kwargs)
    elif kind == "F":
        result = getattr(lib.nn.functional, name)(*args, **kwargs)
    elif kind == "method":
        result = getattr(args[0], name)(*args[1:], **kwargs)
    elif kind == "operator":
        result = getattr(operator, name)(*args)
    elif kind == "getitem":
        result = args[0][args[1]]
    elif kind == "setitem":
        result = args[0].clone()
        result[args[1]] = args[2]
    elif kind == "inplace":
        result = args[0].clone()
        getattr(result, name)(*args[1:], **kwargs)
    else:
        raise ValueError(f"unknown call kind {case['call']!r}")
    if case.get("check_args"):
        result = (result, *[args[i] for i in case["check_args"]])
    return result


# ---------------------------------------------------------------- results

def dtype_name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


def tensor_to_numpy(t):
    """(array, error): ``t.numpy()``, or ``tolist()`` when that fails."""
    t = t.detach()
    shape = tuple(t.shape)
    try:
        return np.asarray(t.numpy()).reshape(shape), None
    except BaseException as e:  # noqa: BLE001 -- a rustdl panic is a BaseException
        error = f"{type(e).__name__}: {e}"
    np_dtype = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32,
                "uint8": np.uint8, "bool": np.bool_}.get(dtype_name(t.dtype), np.float64)
    try:
        return np.array(t.tolist(), dtype=np_dtype).reshape(shape), error
    except BaseException as e2:  # noqa: BLE001
        return None, f"{error}; tolist(): {type(e2).__name__}: {e2}"


def describe(lib, result, tensors=None, path=""):
    """A picklable description of ``result``; appends ``(path, tensor)`` for
    each tensor in it to ``tensors`` (path: Python index suffix, e.g. ``[0]``)."""
    if isinstance(result, lib.Tensor):
        data, error = tensor_to_numpy(result)
        if tensors is not None:
            tensors.append((path, result))
        return {"kind": "tensor", "dtype": dtype_name(result.dtype), "shape": tuple(result.shape),
                "data": data, "rg": bool(result.requires_grad), "to_numpy_error": error}
    if isinstance(result, (tuple, list)):
        # torch.Size and return-type namedtuples are tuples too
        return {"kind": "seq", "items": [describe(lib, r, tensors, f"{path}[{i}]") for i, r in enumerate(result)]}
    if isinstance(result, (bool, int, float)):
        return {"kind": "scalar", "type": type(result).__name__, "value": result}
    if result is None:
        return {"kind": "none"}
    return {"kind": "other", "type": type(result).__name__, "repr": repr(result)[:200]}


def grad_weights(case_id, index, shape):
    """The fixed random weights multiplying output ``index`` in the loss."""
    rng = np.random.RandomState((case_id * 7919 + index) % (2**32))
    return np.round(rng.uniform(-1, 1, size=shape), 2)


def weight_tensor(lib, w, dtype):
    if w.size == 0:
        return lib.zeros(*w.shape, dtype=dtype)
    return lib.tensor(w.tolist(), dtype=dtype)


def exception_info(e):
    """Name, builtin base names (for comparing across libraries) and message."""
    builtin_bases = [c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins"]
    return {"type": type(e).__name__, "module": type(e).__module__, "bases": builtin_bases,
            "message": str(e)[:500]}


class NoGradOutput(RuntimeError):
    """An output that torch differentiates does not require grad here."""


def run_case(lib, case, grad_outputs=None):
    """Run a case; returns a dict with ``result`` or ``exception``, and
    gradients when ``case["grad"]``.

    ``grad_outputs`` lists the indices (into the flat list of output
    tensors) to put in the loss; None means: every floating output that
    requires grad (the torch side chooses, the rustdl side follows).
    """
    builder = Builder(lib)
    out = {}
    try:
        result = call_case(lib, case, builder)
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        out["exception"] = exception_info(e)
        return out
    tensors = []
    try:
        out["result"] = describe(lib, result, tensors)
    except BaseException as e:  # noqa: BLE001
        out["exception"] = exception_info(e)
        out["exception"]["while"] = "reading the result"
        return out
    if not case.get("grad") or not builder.leaves:
        return out
    if grad_outputs is None:
        grad_outputs = [i for i, (_, t) in enumerate(tensors) if t.is_floating_point() and t.requires_grad]
    out["grad_outputs"] = grad_outputs
    out["grad_terms"] = [(tensors[i][0], tuple(tensors[i][1].shape), dtype_name(tensors[i][1].dtype))
                         for i in grad_outputs if i < len(tensors)]
    if not grad_outputs:
        return out
    try:
        loss = None
        for i in grad_outputs:
            if i >= len(tensors):
                raise NoGradOutput(f"the result has no output tensor {i}")
            t = tensors[i][1]
            if not t.requires_grad:
                raise NoGradOutput(f"output {i} ({tensors[i][0] or 'out'}) does not require grad")
            w = weight_tensor(lib, grad_weights(case["id"], i, tuple(t.shape)), t.dtype)
            term = (t * w).sum()
            loss = term if loss is None else loss + term
        loss.backward()
        grads = []
        for leaf in builder.leaves:
            g = leaf.grad
            grads.append(None if g is None else describe(lib, g))
        out["grads"] = grads
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        out["grad_exception"] = exception_info(e)
    return out


def numerical_grads(lib, case, grad_outputs, h=1e-6):
    """Central finite differences (float64) of the loss that ``run_case``
    differentiates, for each leaf that requires grad: a list of flat arrays
    (None for a leaf whose perturbed runs failed)."""
    import copy

    def loss(c):
        tensors = []
        try:
            describe(lib, call_case(lib, c, Builder(lib)), tensors)
        except Exception:  # noqa: BLE001 -- a perturbed run may fail (domain errors)
            return None
        total = 0.0
        for i in grad_outputs:
            data, _ = tensor_to_numpy(tensors[i][1])
            total += float(np.sum(data.astype(np.float64) * grad_weights(case["id"], i, data.shape)))
        return total

    base = copy.deepcopy(case)
    specs = [s for s in case_tensor_specs(base) if s.get("rg")]
    for spec in case_tensor_specs(base):
        if spec["dtype"] == "float32":
            spec["dtype"] = "float64"
            # around the float32 values the other runs use
            spec["values"] = [float(np.float32(v)) if isinstance(v, float) else v for v in spec["values"]]
    grads = []
    for spec in specs:
        g = np.zeros(len(spec["values"]))
        for j, v in enumerate(spec["values"]):
            if not math.isfinite(v):
                g[j] = np.nan
                continue
            step = h * max(1.0, abs(v))
            spec["values"][j] = v + step
            hi = loss(base)
            spec["values"][j] = v - step
            lo = loss(base)
            spec["values"][j] = v
            g[j] = np.nan if hi is None or lo is None else (hi - lo) / (2 * step)
        grads.append(g)
    return grads


# ---------------------------------------------------------------- printing

def _float_repr(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def _scalar_repr(x):
    if isinstance(x, float):
        return _float_repr(x)
    return repr(x)


def _nested_repr(data):
    if isinstance(data, list):
        return "[" + ", ".join(_nested_repr(x) for x in data) + "]"
    return _scalar_repr(data)


class Printer:
    """Prints a case as Python source for ``mod`` (``rustdl`` or ``torch``)."""

    def __init__(self, mod="rustdl"):
        self.mod = mod
        self.leaf_names = []

    def tensor(self, spec):
        m, base = self.mod, spec["base"]
        dtype = f"dtype={m}.{spec['dtype']}"
        rg = ", requires_grad=True" if spec.get("rg") else ""
        if numel(base) == 0:
            src = f"{m}.zeros({', '.join(map(str, base))}, {dtype}{rg})"
        else:
            data = spec["values"][0] if len(base) == 0 else nest(spec["values"], base)
            src = f"{m}.tensor({_nested_repr(data)}, {dtype}{rg})"
        if spec.get("rg"):
            name = "abcdefghijklmnopqrstuvwxyz"[len(self.leaf_names) % 26]
            self.leaf_names.append(name)
            src = f"({name}:={src})"
        for step in spec.get("view", []):
            name, *step_args = step
            if name == "getitem":
                src += f"[{self.index(step_args[0])}]"
            else:
                src += f".{name}({', '.join(self.value(a) for a in step_args)})"
        return src

    def index(self, v):
        if isinstance(v, dict) and "tuple" in v:
            items = v["tuple"]
            if not items:
                return "()"
            return ", ".join(self.index(x) for x in items) + ("," if len(items) == 1 else "")
        if isinstance(v, dict) and "slice" in v:
            start, stop, step = v["slice"]
            s = f"{'' if start is None else start}:{'' if stop is None else stop}"
            return s + (f":{step}" if step is not None else "")
        return self.value(v)

    def value(self, v):
        if isinstance(v, list):
            return "[" + ", ".join(self.value(x) for x in v) + "]"
        if isinstance(v, dict):
            if "T" in v:
                return self.tensor(v["T"])
            if "dtype" in v:
                return f"{self.mod}.{v['dtype']}"
            if "tuple" in v:
                items = [self.value(x) for x in v["tuple"]]
                return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            if "slice" in v:
                return f"slice({', '.join(map(repr, v['slice']))})"
            if "ellipsis" in v:
                return "..."
        return _scalar_repr(v)

    def call(self, case):
        m = self.mod
        args = [self.value(a) for a in case["args"]]
        kwargs = [f"{k}={self.value(v)}" for k, v in case["kwargs"].items()]
        kind, _, name = case["call"].partition(".")
        if kind == "torch":
            return f"{m}.{name}({', '.join(args + kwargs)})"
        if kind == "F":
            return f"F.{name}({', '.join(args + kwargs)})"
        if kind == "method":
            return f"{args[0]}.{name}({', '.join(args[1:] + kwargs)})"
        if kind == "operator":
            return _operator_src(name, args)
        if kind == "getitem":
            return f"{args[0]}[{self.index(case['args'][1])}]"
        if kind == "setitem":
            return f"y = {args[0]}.clone(); y[{self.index(case['args'][1])}] = {args[2]}; y"
        if kind == "inplace":
            return f"y = {args[0]}.clone(); y.{name}({', '.join(args[1:] + kwargs)}); y"
        return f"<{case['call']}>"


_BINARY_OPERATORS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
                     "pow": "**", "matmul": "@", "and_": "&", "or_": "|", "xor": "^", "eq": "==",
                     "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "lshift": "<<",
                     "rshift": ">>"}
_UNARY_OPERATORS = {"neg": "-", "pos": "+", "invert": "~", "abs": "abs"}


def _operator_src(name, args):
    if name in _BINARY_OPERATORS:
        return f"({args[0]}) {_BINARY_OPERATORS[name]} ({args[1]})"
    if name == "abs":
        return f"abs({args[0]})"
    return f"{_UNARY_OPERATORS.get(name, name)}({args[0]})"


def reproducer(case, mod="rustdl", with_grad=True):
    """One line of Python reproducing ``case``.

    It assumes ``import rustdl; import rustdl.nn.functional as F;
    nan, inf = float('nan'), float('inf')`` (``torch`` for ``mod='torch'``).
    """
    printer = Printer(mod)
    src = printer.call(case)
    if not (with_grad and case.get("grad") and printer.leaf_names):
        return src
    if src.endswith("; y"):
        src = src[:-3] + "; out = y"
    else:
        src = f"out = {src}"
    terms = []
    for i, (path, shape, dtype) in zip(case.get("grad_outputs", []), case.get("grad_terms", [])):
        w = grad_weights(case["id"], i, tuple(shape))
        if w.size == 0:
            wsrc = f"{mod}.zeros({', '.join(map(str, shape))}, dtype={mod}.{dtype})"
        else:
            wsrc = f"{mod}.tensor({_nested_repr(w.tolist()) if w.ndim else _float_repr(float(w))}, dtype={mod}.{dtype})"
        terms.append(f"(out{path} * {wsrc}).sum()")
    if not terms:
        return src
    grads = ", ".join(f"{n}.grad" for n in printer.leaf_names)
    return f"{src}; ({' + '.join(terms)}).backward(); print({grads})"
