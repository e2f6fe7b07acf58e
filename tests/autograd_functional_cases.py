"""Cases for torch.autograd.functional, shared by the recorder
(tools/differential/record_functional.py, run with PyTorch) and
tests/test_autograd_functional.py (run with rustdl as ``torch``).

A case names a test function, an API call, its inputs and keyword arguments;
``run(torch, case)`` performs it with either library and returns a JSON-able
description of the result's structure and values (or of the error raised).
For ``create_graph=True`` cases it also differentiates the sum of every result
tensor with respect to the inputs, which checks that the graph is really there.
The functions use ops whose second (and third) derivatives are exact in rustdl
today: tanh, sigmoid, exp, sin, mul, matmul, pow with a number, sum, mse_loss.
"""

import numpy as np

_RNG = np.random.default_rng(23)
ARRAYS = {
    "v3": _RNG.standard_normal(3),
    "v3b": _RNG.standard_normal(3),
    "v4": _RNG.standard_normal(4),
    "m23": _RNG.standard_normal((2, 3)),
    "m34": _RNG.standard_normal((3, 4)),
    "m24": _RNG.standard_normal((2, 4)),
    "w41": _RNG.standard_normal((4, 1)) * 0.5,
    "x54": _RNG.standard_normal((5, 4)),
    "t51": _RNG.standard_normal((5, 1)),
    "s": np.array(0.7),
    "b1": np.array([0.1]),
}


def functions(torch):
    F = torch.nn.functional
    X, T = tensor(torch, "x54"), tensor(torch, "t51")
    return {
        "poly": lambda x: (x ** 3 - 2 * x ** 2 + x).sum(),
        "exp_tanh_sin": lambda x: (x.exp() * x.tanh() + (2 * x).sin()).sum(),
        "exp_tanh_vec": lambda x: x.exp() * x.tanh() + (2 * x).sin(),
        "matmul_tanh": lambda a, b: (a @ b).tanh(),
        "matmul_scalar": lambda a, b: ((a @ b).sigmoid() ** 2).sum(),
        "multi_out": lambda x, y: (x * y.sigmoid(), (x.exp() * y).sum()),
        "mse": lambda w, b: F.mse_loss(X @ w + b, T),
        "scalar_in": lambda s: (s.tanh() * s.exp()) ** 2,
        "unused_y": lambda x, y: (x ** 2).sum(),
        "linear_y": lambda x, y: (x ** 2).sum() + (3 * y).sum(),
        "linear": lambda x: 3 * x,
        "constant": lambda x: torch.zeros(3, dtype=torch.float64),
        "non_scalar": lambda x: x ** 2,
        "tuple_scalar": lambda x: ((x ** 2).sum(),),
    }


def tensor(torch, name, dtype="float64", requires_grad=False):
    return torch.tensor(ARRAYS[name], dtype=getattr(torch, dtype), requires_grad=requires_grad)


# (id, function, api, inputs (a name or a tuple of names), v (same), kwargs)
CASES = []


def _add(fn, api, inputs, v=None, **kwargs):
    cid = f"{api}:{fn}:{inputs}:{v}:{sorted(kwargs.items())}"
    CASES.append((cid, fn, api, inputs, v, kwargs))


for _cg in (False, True):
    _add("poly", "jacobian", "v3", create_graph=_cg)
    _add("poly", "hessian", "v3", create_graph=_cg)
    _add("exp_tanh_sin", "hessian", "v4", create_graph=_cg)
    _add("exp_tanh_vec", "jacobian", "v4", create_graph=_cg)
    _add("matmul_tanh", "jacobian", ("m23", "m34"), create_graph=_cg)
    _add("matmul_scalar", "hessian", ("m23", "m34"), create_graph=_cg)
    _add("multi_out", "jacobian", ("v3", "v3b"), create_graph=_cg)
    _add("mse", "hessian", ("w41", "b1"), create_graph=_cg)
    _add("scalar_in", "hessian", "s", create_graph=_cg)
    _add("exp_tanh_vec", "vjp", "v4", "v4", create_graph=_cg)
    _add("multi_out", "vjp", ("v3", "v3b"), ("v3", "s"), create_graph=_cg)
    _add("exp_tanh_vec", "jvp", "v4", "v4", create_graph=_cg)
    _add("multi_out", "jvp", ("v3", "v3b"), ("v3b", "v3"), create_graph=_cg)
    _add("matmul_tanh", "jvp", ("m23", "m34"), ("m23", "m34"), create_graph=_cg)
    _add("exp_tanh_sin", "hvp", "v4", "v4", create_graph=_cg)
    _add("exp_tanh_sin", "vhp", "v4", "v4", create_graph=_cg)
    _add("matmul_scalar", "hvp", ("m23", "m34"), ("m23", "m34"), create_graph=_cg)
    _add("matmul_scalar", "vhp", ("m23", "m34"), ("m23", "m34"), create_graph=_cg)
    _add("mse", "hvp", ("w41", "b1"), ("w41", "b1"), create_graph=_cg)
    _add("scalar_in", "vjp", "s", create_graph=_cg)
    _add("scalar_in", "jvp", "s", create_graph=_cg)
    _add("scalar_in", "hvp", "s", create_graph=_cg)
    _add("scalar_in", "vhp", "s", create_graph=_cg)
# single-element tuples keep their tuple structure
_add("poly", "jacobian", ("v3",))
_add("tuple_scalar", "jacobian", ("v3",))
_add("poly", "hessian", ("v3",))
_add("exp_tanh_sin", "hvp", ("v4",), ("v4",))
# vectorize and the forward-mode strategy give the same values
_add("multi_out", "jacobian", ("v3", "v3b"), vectorize=True)
_add("matmul_tanh", "jacobian", ("m23", "m34"), vectorize=True, strategy="forward-mode")
_add("exp_tanh_vec", "jacobian", "v4", vectorize=True, strategy="forward-mode")
_add("matmul_scalar", "hessian", ("m23", "m34"), vectorize=True)
_add("exp_tanh_sin", "hessian", "v4", vectorize=True, outer_jacobian_strategy="forward-mode")
# unused inputs: zeros without strict, PyTorch's errors with it
_add("unused_y", "jacobian", ("v3", "v3b"))
_add("unused_y", "hessian", ("v3", "v3b"))
_add("unused_y", "vjp", ("v3", "v3b"))
_add("unused_y", "hvp", ("v3", "v3b"), ("v3", "v3b"))
_add("unused_y", "vhp", ("v3", "v3b"), ("v3", "v3b"))
_add("unused_y", "jacobian", ("v3", "v3b"), strict=True)
_add("unused_y", "vjp", ("v3", "v3b"), strict=True)
_add("unused_y", "jvp", ("v3", "v3b"), ("v3", "v3b"), strict=True)
_add("unused_y", "hessian", ("v3", "v3b"), strict=True)
_add("linear_y", "hessian", ("v3", "v3b"))
_add("linear_y", "hessian", ("v3", "v3b"), strict=True)
_add("linear_y", "hvp", ("v3", "v3b"), ("v3", "v3b"), strict=True)
_add("linear_y", "vhp", ("v3", "v3b"), ("v3", "v3b"), strict=True)
_add("linear", "jacobian", "v3", strict=True)
_add("linear", "jacobian", "v3", strict=True, create_graph=True)
_add("linear", "jvp", "v3", "v3", strict=True)
_add("constant", "jacobian", "v3")
_add("constant", "jacobian", "v3", strict=True)
_add("constant", "vjp", "v3", "v3", strict=True)
# misuse
_add("non_scalar", "hessian", "v3")
_add("tuple_scalar", "hvp", "v3", "v3")
_add("non_scalar", "vhp", "v3", "v3")
_add("poly", "hvp", "v3")
_add("exp_tanh_vec", "vjp", "v4")
_add("exp_tanh_vec", "jvp", "v4")
_add("exp_tanh_vec", "vjp", "v4", "v3")
_add("multi_out", "vjp", ("v3", "v3b"), ("v3",))
_add("multi_out", "jvp", ("v3", "v3b"), ("v3", "v4"))
_add("exp_tanh_vec", "jacobian", "v4", strategy="forward-mode")
_add("exp_tanh_vec", "jacobian", "v4", strategy="forward-mode", vectorize=True, strict=True)
_add("exp_tanh_vec", "jacobian", "v4", strategy="forward-mode", create_graph=True)
_add("exp_tanh_vec", "jacobian", "v4", strategy="sideways")
_add("exp_tanh_vec", "jacobian", "v4", vectorize=True, strict=True)
_add("poly", "hessian", "v3", outer_jacobian_strategy="sideways")
_add("poly", "jacobian", "list")


def _inputs(torch, spec, requires_grad=False):
    if spec == "list":
        return [1.0, 2.0]
    if isinstance(spec, tuple):
        return tuple(tensor(torch, n, requires_grad=requires_grad) for n in spec)
    return tensor(torch, spec, requires_grad=requires_grad)


def describe(torch, obj):
    """JSON-able structure: tuples nest, tensors give shape/dtype/values/requires_grad."""
    if isinstance(obj, (tuple, list)):
        return {"tuple": [describe(torch, o) for o in obj]}
    if isinstance(obj, torch.Tensor):
        return {
            "shape": list(obj.shape),
            "dtype": str(obj.dtype).split(".")[-1],
            "requires_grad": bool(obj.requires_grad),
            "values": obj.detach().reshape(-1).tolist(),
        }
    return {"value": repr(obj)}


def _tensors(obj):
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    return [obj]


def run(torch, case):
    _cid, fn, api, inputs, v, kwargs = case
    func = functions(torch)[fn]
    create_graph = kwargs.get("create_graph", False)
    inp = _inputs(torch, inputs, requires_grad=create_graph)
    call = getattr(torch.autograd.functional, api)
    try:
        if api in ("jacobian", "hessian"):
            res = call(func, inp, **kwargs)
        else:
            res = call(func, inp, None if v is None else _inputs(torch, v), **kwargs)
    except Exception as e:  # noqa: BLE001
        return {"error": type(e).__name__, "message": str(e)}
    out = {"result": describe(torch, res)}
    if create_graph:
        tensors = [t for t in _tensors(res) if t.requires_grad]
        out["n_requiring_grad"] = len(tensors)
        if not tensors:
            return out
        total = sum(t.sum() for t in tensors)
        leaves = list(inp) if isinstance(inp, tuple) else [inp]
        grads = torch.autograd.grad(total, leaves, allow_unused=True)
        out["grad_of_sum"] = describe(torch, tuple(torch.zeros_like(x) if g is None else g
                                                    for g, x in zip(grads, leaves)))
    return out
