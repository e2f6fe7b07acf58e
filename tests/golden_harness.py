"""Golden-fixture harness: replay PyTorch reference cases against rustdl.

The reference data lives in ``tests/golden/`` (see ``tests/golden/README.md``).
Each family is an index ``<family>.json`` plus an array archive ``<family>.npz``.
A case stores the exact PyTorch expression that was evaluated (``call``), its
inputs, outputs, loss weights and gradients.

Like tinygrad's ``test_ops``, a case is run by evaluating ``call`` literally with
``torch`` bound to the ``rustdl`` module, ``F`` to ``rustdl.nn.functional``, each
input bound under its name and, for module cases, ``m`` bound to the module.
Outputs are compared against the stored arrays, then the scalar loss
``L = sum over outputs of (out * w).sum()`` is back-propagated and the
gradients of the inputs and parameters are compared too.

``rustdl`` is imported lazily so that the file-consistency checks run with
numpy alone.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"

CORE_FAMILIES = ("elementwise", "reduce", "shape_index", "matmul")
ALL_FAMILIES = CORE_FAMILIES + ("conv", "pool_norm", "loss", "modules", "optim", "init")
# Families whose cases are a single expression run by `run_case`. `optim`
# (step loops) and `init` (random statistics) need dedicated drivers.
EVAL_FAMILIES = (
    "elementwise",
    "reduce",
    "shape_index",
    "matmul",
    "conv",
    "pool_norm",
    "loss",
    "modules",
)

# Output names that only encode a position (`out`, `out0`, `out1`, ...).
_POSITIONAL_OUTPUT = re.compile(r"out\d*")
_CASE_ID = re.compile(r"[a-z0-9_]+")
_BUILTIN_NAMES = frozenset(dir(builtins))


# --------------------------------------------------------------------------
# Loading the reference data
# --------------------------------------------------------------------------


@functools.cache
def load_index(family: str) -> dict:
    with open(GOLDEN_DIR / f"{family}.json", encoding="utf-8") as f:
        return json.load(f)


@functools.cache
def load_arrays(family: str) -> dict[str, np.ndarray]:
    """All arrays of a family, decompressed once and cached read-only."""
    with np.load(GOLDEN_DIR / f"{family}.npz", allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    for array in arrays.values():
        array.flags.writeable = False  # the cache is shared by every test
    return arrays


@functools.cache
def _cases_by_id(family: str) -> dict[str, dict]:
    return {case["id"]: case for case in load_index(family)["cases"]}


def get_case(family: str, case_id: str) -> dict:
    return _cases_by_id(family)[case_id]


def parse_key(key: str) -> tuple[str, str, str]:
    """Split ``<case_id>/<role>.<name>`` into ``(case_id, role, name)``.

    The case id ends at the first ``/`` and the role at the next ``.``; the name
    may itself contain dots (``param.0.weight``, ``buffer_after.p0.step``).
    """
    case_id, rest = key.split("/", 1)
    role, name = rest.split(".", 1)
    return case_id, role, name


# --------------------------------------------------------------------------
# pytest parametrization
# --------------------------------------------------------------------------


def describe_case(family: str, case: dict) -> str:
    """Human-readable summary of a case, shown by conftest.py on failure."""

    def spec(entry: dict) -> str:
        text = f"{entry['name']} {entry['dtype']}{entry['shape']}"
        return text + " requires_grad" if entry.get("requires_grad") else text

    lines = [
        f"case:    {family}/{case['id']}",
        f"call:    {case['call']}",
        f"kwargs:  {json.dumps(case['kwargs'])}",
    ]
    if "module" in case:
        lines.append(f"module:  {case['module']}  (train={case['train']})")
    lines.append("inputs:  " + ", ".join(spec(e) for e in case["inputs"]))
    lines.append("outputs: " + ", ".join(spec(e) for e in case["outputs"]))
    lines.append(f"tol:     {case['tol']}")
    if case.get("notes"):
        lines.append(f"notes:   {case['notes']}")
    return "\n".join(lines)


def golden_params(family: str) -> list:
    """One ``pytest.param(case_id)`` per case, with the case id as test id.

    The ``golden`` marker carries the case description for conftest.py.
    """
    return [
        pytest.param(
            case["id"],
            id=case["id"],
            marks=pytest.mark.golden(describe_case(family, case)),
        )
        for case in load_index(family)["cases"]
    ]


# --------------------------------------------------------------------------
# Running a case against rustdl
# --------------------------------------------------------------------------


def _import_rustdl():
    # Imported here, not at module level, so the file checks need numpy only.
    # A missing rustdl makes every run_case test fail (not skip).
    import rustdl

    return rustdl


def run_case(family: str, case_id: str, device: str = "cpu") -> None:
    """Evaluate one golden case with rustdl and check outputs and gradients,
    with the inputs, module and loss weights on ``device``."""
    if family not in EVAL_FAMILIES:
        raise ValueError(f"family {family!r} is not a single-expression family")
    torch = _import_rustdl()
    case = get_case(family, case_id)
    arrays = load_arrays(family)
    tol = case["tol"]
    where = f"{family}/{case_id}"

    inputs = {
        entry["name"]: make_tensor(torch, arrays[entry["key"]], entry["requires_grad"], device)
        for entry in case["inputs"]
    }
    namespace = {"torch": torch, "F": torch.nn.functional, **inputs}
    module = None
    if "module" in case:
        module = build_module(torch, case, arrays).to(device)
        namespace["m"] = module

    result = eval(case["call"], namespace)  # the call string is trusted fixture data

    # Forward outputs, in every form the result offers (see unpack_outputs).
    outputs = unpack_outputs(torch, result, case["outputs"])
    for spec in case["outputs"]:
        for form, value in outputs[spec["name"]]:
            assert_tensor_matches(
                torch, value, arrays[spec["key"]], tol, f"{where}: output {form}"
            )

    # Out-of-place ops must not write into their inputs.
    for entry in case["inputs"]:
        actual = to_numpy(
            torch, inputs[entry["name"]], f"{where}: input {entry['name']}"
        )
        np.testing.assert_array_equal(
            actual,
            arrays[entry["key"]],
            err_msg=f"{where}: input {entry['name']!r} was modified by the call",
        )

    # Buffers updated by the call (BatchNorm running statistics).
    if case.get("buffers_after"):
        buffers = dict(module.named_buffers())
        for entry in case["buffers_after"]:
            assert entry["name"] in buffers, (
                f"{where}: module has no buffer {entry['name']!r}"
            )
            assert_tensor_matches(
                torch,
                buffers[entry["name"]],
                arrays[entry["key"]],
                tol,
                f"{where}: buffer {entry['name']} after the call",
            )

    if not case["loss_weights"]:
        return  # nothing differentiable (argmax, integer arithmetic, ...)

    # L = sum over outputs of (out * w).sum(), so dL/dout = w.
    loss = None
    for spec in case["outputs"]:
        key = case["loss_weights"].get(spec["name"])
        if key is None:
            continue  # integer outputs (indices) carry no loss weight
        out = outputs[spec["name"]][0][1]
        term = (out * torch.tensor(arrays[key].copy(), device=device)).sum()
        loss = term if loss is None else loss + term
    loss.backward()

    params = dict(module.named_parameters()) if module is not None else {}
    for entry in case["grads"]:
        source, name = entry["wrt"].split(".", 1)
        tensor = inputs[name] if source == "in" else params[name]
        assert tensor.grad is not None, (
            f"{where}: {entry['wrt']}.grad is None after backward()"
        )
        assert_tensor_matches(
            torch,
            tensor.grad,
            newer_pytorch_grad(f"{where}/{entry['wrt']}", arrays[entry["key"]]),
            tol,
            f"{where}: grad of {entry['wrt']}",
        )


# Gradients that PyTorch 2.15 (the installed spec) computes differently from
# the 2.13 that recorded the fixture: {case/wrt: (indices, 2.15's value, why)}.
NEWER_PYTORCH_GRADS = {
    "elementwise/clamp_at_kinks/in.x": (
        [2, 4], 0.0, "clamp with number bounds passes no gradient at a bound itself since 2.15"),
}


def newer_pytorch_grad(key: str, recorded: np.ndarray) -> np.ndarray:
    """The recorded gradient with ``NEWER_PYTORCH_GRADS``'s elements replaced."""
    if key not in NEWER_PYTORCH_GRADS:
        return recorded
    indices, value, _why = NEWER_PYTORCH_GRADS[key]
    expected = recorded.copy()
    expected[indices] = value
    return expected


def make_tensor(torch, array: np.ndarray, requires_grad: bool = False, device: str = "cpu"):
    """A rustdl tensor holding a copy of ``array`` (the cached array stays intact)."""
    # Integer and bool tensors can never require grad.
    requires_grad = bool(requires_grad) and array.dtype.kind == "f"
    return torch.tensor(array.copy(), requires_grad=requires_grad, device=device)


def build_module(torch, case: dict, arrays: dict[str, np.ndarray]):
    """Construct ``case['module']``, load its reference state_dict and set train/eval mode."""
    module = eval(case["module"], {"torch": torch, "F": torch.nn.functional})
    where = f"{case['id']}: {case['module']}"
    assert list(module.state_dict().keys()) == case["state_dict_keys"], (
        f"{where}: state_dict keys differ"
    )
    state = {
        entry["name"]: torch.tensor(arrays[entry["key"]].copy())
        for entry in case["params"] + case["buffers"]
    }
    module.load_state_dict({key: state[key] for key in case["state_dict_keys"]})
    module.train(case["train"])
    return module


def unpack_outputs(
    torch, result, specs: list[dict]
) -> dict[str, list[tuple[str, object]]]:
    """Map the call's result onto the case's output specs.

    Returns ``{output name: [(form, tensor), ...]}``; the first form is the
    positional one, which is also used for the backward pass.

    * A single output (``out``) is the result itself, which must be a tensor.
    * Tuple-like results are flattened depth-first and matched to the specs in
      order: ``split``/``chunk``/``unbind`` -> ``out0, out1, ...``;
      ``max(x, dim)`` -> ``values, indices``; ``max_pool(return_indices=True)``
      -> ``out, indices``; ``LSTM`` ``(output, (h_n, c_n))`` -> ``output, h_n, c_n``.
    * A descriptive name (not ``out``/``outN``) that the result also exposes as
      an attribute, as torch's namedtuples do (``.values``, ``.indices``), is
      checked through the attribute as well.
    """
    if isinstance(result, torch.Tensor):
        assert len(specs) == 1, (
            f"call returned one tensor, expected {len(specs)} outputs"
        )
        return {specs[0]["name"]: [(specs[0]["name"], result)]}

    leaves = _flatten(torch, result)
    assert len(leaves) == len(specs), (
        f"call returned {len(leaves)} tensors ({type(result).__name__}), expected "
        f"{len(specs)}: {[spec['name'] for spec in specs]}"
    )
    mapped = {}
    for position, (spec, leaf) in enumerate(zip(specs, leaves)):
        name = spec["name"]
        forms = [(f"{name} (result item {position})", leaf)]
        if not _POSITIONAL_OUTPUT.fullmatch(name) and hasattr(result, name):
            forms.append((f"result.{name}", getattr(result, name)))
        mapped[name] = forms
    return mapped


def _flatten(torch, value) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    try:
        items = list(value)  # tuple, list, namedtuple or a sequence-like return type
    except TypeError:
        raise AssertionError(
            f"call returned a {type(value).__name__}, not a tensor or tuple of tensors"
        ) from None
    return [leaf for item in items for leaf in _flatten(torch, item)]


def to_numpy(torch, tensor, what: str) -> np.ndarray:
    assert isinstance(tensor, torch.Tensor), (
        f"{what}: expected a rustdl.Tensor, got {type(tensor).__name__}"
    )
    array = tensor.detach().numpy()
    assert isinstance(array, np.ndarray), (
        f"{what}: .numpy() returned {type(array).__name__}, not numpy.ndarray"
    )
    return array


def assert_tensor_matches(
    torch, tensor, expected: np.ndarray, tol: dict | None, what: str
) -> None:
    """Same dtype and shape; floats within ``tol`` (NaN == NaN, matching infs), others exact."""
    actual = to_numpy(torch, tensor, what)
    assert actual.dtype == expected.dtype, (
        f"{what}: dtype {actual.dtype}, expected {expected.dtype}"
    )
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, expected {expected.shape}"
    )
    if expected.dtype.kind in "fc":
        np.testing.assert_allclose(
            actual,
            expected,
            rtol=tol["rtol"],
            atol=tol["atol"],
            equal_nan=True,
            err_msg=what,
        )
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


# --------------------------------------------------------------------------
# Consistency of the fixture files (numpy only)
# --------------------------------------------------------------------------

# Index field -> key role of its entries.
_ENTRY_ROLES = {
    "inputs": "in",
    "params": "param",
    "buffers": "buffer",
    "outputs": "out",
    "buffers_after": "buffer_after",
    "sample_stats": "stat",
}
# Source of a gradient (`in.x`, `param.weight`) -> key role.
_GRAD_ROLES = {"in": "grad_in", "param": "grad_param"}


def check_family_files(family: str) -> None:
    """Check that a family's index and archive agree, without rustdl.

    Every key the index names exists, parses back to its case, role and name,
    and has the stated dtype and shape; every array is referenced; and, for
    families run by ``run_case``, every case satisfies what the harness assumes.
    """
    index = load_index(family)
    arrays = load_arrays(family)
    assert index["family"] == family
    assert index["file"] == f"{family}.npz"
    cases = index["cases"]
    assert index["num_cases"] == len(cases)
    ids = [case["id"] for case in cases]
    assert len(set(ids)) == len(ids), f"duplicate case ids in {family}"

    referenced = set()
    for case in cases:
        case_id = case["id"]
        assert _CASE_ID.fullmatch(case_id), f"bad case id {case_id!r}"
        entries = [
            (role, e["name"], e)
            for field, role in _ENTRY_ROLES.items()
            for e in case.get(field, [])
        ]
        entries += [
            ("lossw", name, {"key": key}) for name, key in case["loss_weights"].items()
        ]
        for grad in case["grads"]:
            source, name = grad["wrt"].split(".", 1)
            entries.append((_GRAD_ROLES[source], name, grad))

        for role, name, entry in entries:
            key = entry["key"]
            where = f"{family}/{case_id}: {key!r}"
            assert parse_key(key) == (case_id, role, name), (
                f"{where} does not parse to {role}.{name}"
            )
            assert key in arrays, f"{where} is missing from {family}.npz"
            if "dtype" in entry:
                assert str(arrays[key].dtype) == entry["dtype"], (
                    f"{where}: dtype {arrays[key].dtype}"
                )
                assert list(arrays[key].shape) == entry["shape"], (
                    f"{where}: shape {arrays[key].shape}"
                )
            referenced.add(key)

        if family in EVAL_FAMILIES:
            _check_runnable(family, case, arrays)

    unreferenced = sorted(set(arrays) - referenced)
    assert not unreferenced, (
        f"{family}.npz has arrays the index never names: {unreferenced[:5]}"
    )


def _free_names(expression: str) -> set[str]:
    tree = ast.parse(expression, mode="eval")
    return {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
    } - _BUILTIN_NAMES


def _check_runnable(family: str, case: dict, arrays: dict[str, np.ndarray]) -> None:
    """The assumptions ``run_case`` makes about a case."""
    where = f"{family}/{case['id']}"
    inputs = {e["name"]: e for e in case["inputs"]}
    outputs = {e["name"]: e for e in case["outputs"]}
    params = {e["name"]: e for e in case.get("params", [])}
    assert len(outputs) == len(case["outputs"]) >= 1, (
        f"{where}: output names must be unique"
    )

    # `call` only uses the names the harness binds.
    bound = {"torch", "F", *inputs} | ({"m"} if "module" in case else set())
    unbound = _free_names(case["call"]) - bound
    assert not unbound, f"{where}: call uses unbound names {sorted(unbound)}"

    assert "module" in case or not case.get("buffers_after"), (
        f"{where}: buffers_after without a module"
    )
    if "module" in case:
        assert _free_names(case["module"]) <= {"torch"}, (
            f"{where}: module uses unbound names"
        )
        assert isinstance(case["train"], bool)
        state_names = [e["name"] for e in case["params"] + case["buffers"]]
        assert sorted(state_names) == sorted(case["state_dict_keys"]), (
            f"{where}: params/buffers != state_dict_keys"
        )

    for entry in case["inputs"]:
        assert isinstance(entry["requires_grad"], bool), (
            f"{where}: input {entry['name']} lacks requires_grad"
        )
        if entry["requires_grad"]:
            assert np.dtype(entry["dtype"]).kind == "f", (
                f"{where}: non-float input {entry['name']} requires grad"
            )

    # Loss weights: one per floating output, shaped like it.
    for name, key in case["loss_weights"].items():
        assert name in outputs, f"{where}: loss weight for unknown output {name!r}"
        assert np.dtype(outputs[name]["dtype"]).kind == "f", (
            f"{where}: loss weight on a non-float output"
        )
        assert str(arrays[key].dtype) == outputs[name]["dtype"], (
            f"{where}: lossw.{name} dtype"
        )
        assert list(arrays[key].shape) == outputs[name]["shape"], (
            f"{where}: lossw.{name} shape"
        )

    # Gradients: only with a loss, wrt a grad-requiring input or a parameter, same dtype/shape.
    assert not case["grads"] or case["loss_weights"], (
        f"{where}: grads without loss weights"
    )
    for grad in case["grads"]:
        source, name = grad["wrt"].split(".", 1)
        if source == "in":
            assert name in inputs and inputs[name]["requires_grad"], (
                f"{where}: grad wrt {grad['wrt']}"
            )
            target = inputs[name]
        else:
            assert source == "param" and name in params, (
                f"{where}: grad wrt {grad['wrt']}"
            )
            target = params[name]
        assert (grad["dtype"], grad["shape"]) == (target["dtype"], target["shape"]), (
            f"{where}: grad {grad['wrt']}"
        )

    # A tolerance exists whenever something floating is compared.
    compared = case["outputs"] + case["grads"] + case.get("buffers_after", [])
    if any(np.dtype(e["dtype"]).kind == "f" for e in compared):
        tol = case["tol"]
        assert tol is not None and tol["rtol"] >= 0 and tol["atol"] >= 0, (
            f"{where}: missing tol"
        )
