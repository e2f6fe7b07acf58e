"""Golden-fixture tests for pooling and normalization (tests/golden/pool_norm.json).

Functional cases run through ``golden_harness.run_case``. Module cases
(``torch.nn.BatchNorm2d(...)``, ``torch.nn.LayerNorm(...)``) need nn modules
that are written elsewhere; until they exist, ``run_module_case_functionally``
replays them with the functional call those modules make, on the case's
parameters and buffers, and checks outputs, gradients and the running
statistics after the call. That pins down exactly what the modules need from
the functional layer.
"""

import types

import golden_harness as gh
import numpy as np
import pytest

FAMILY = "pool_norm"


def _ctor_spec(module_text):
    """(class name, args, kwargs) of a module constructor string, without building it."""

    def recorder(name):
        return lambda *args, **kwargs: (name, args, kwargs)

    nn = types.SimpleNamespace(
        **{n: recorder(n) for n in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm")}
    )
    return eval(module_text, {"torch": types.SimpleNamespace(nn=nn)})


def run_module_case_functionally(case_id):
    import rustdl as torch

    F = torch.nn.functional
    case = gh.get_case(FAMILY, case_id)
    arrays = gh.load_arrays(FAMILY)
    tol = case["tol"]
    where = f"{FAMILY}/{case_id}"
    x = gh.make_tensor(torch, arrays[case["inputs"][0]["key"]], True)
    params = {p["name"]: gh.make_tensor(torch, arrays[p["key"]], True) for p in case["params"]}
    buffers = {b["name"]: gh.make_tensor(torch, arrays[b["key"]]) for b in case["buffers"]}
    name, args, kwargs = _ctor_spec(case["module"])

    if name.startswith("BatchNorm"):
        # What nn.BatchNorm's forward does (torch/nn/modules/batchnorm.py).
        momentum = kwargs.get("momentum", 0.1)
        eps = kwargs.get("eps", 1e-5)
        tracking = kwargs.get("track_running_stats", True)
        training = case["train"]
        factor = 0.0 if momentum is None else momentum
        if training and tracking:
            nbt = buffers["num_batches_tracked"]
            nbt.add_(1)
            factor = 1.0 / float(nbt.item()) if momentum is None else momentum
        bn_training = training or not tracking
        use_buffers = not training or tracking
        out = F.batch_norm(
            x,
            buffers.get("running_mean") if use_buffers else None,
            buffers.get("running_var") if use_buffers else None,
            params.get("weight"),
            params.get("bias"),
            bn_training,
            factor,
            eps,
        )
    elif name == "LayerNorm":
        shape = args[0] if isinstance(args[0], (tuple, list)) else (args[0],)
        out = F.layer_norm(x, shape, params.get("weight"), params.get("bias"), kwargs.get("eps", 1e-5))
    else:
        raise AssertionError(f"no functional adapter for {case['module']}")

    gh.assert_tensor_matches(torch, out, arrays[case["outputs"][0]["key"]], tol, f"{where}: output")
    for entry in case.get("buffers_after") or []:
        gh.assert_tensor_matches(
            torch, buffers[entry["name"]], arrays[entry["key"]], tol, f"{where}: buffer {entry['name']} after"
        )
    w = torch.tensor(arrays[case["loss_weights"]["out"]].copy())
    (out * w).sum().backward()
    for entry in case["grads"]:
        source, gname = entry["wrt"].split(".", 1)
        tensor = x if source == "in" else params[gname]
        assert tensor.grad is not None, f"{where}: {entry['wrt']}.grad is None"
        gh.assert_tensor_matches(torch, tensor.grad, arrays[entry["key"]], tol, f"{where}: grad of {entry['wrt']}")


def _has_module(case):
    import rustdl

    name = case["module"].split("(")[0].rsplit(".", 1)[-1]
    return hasattr(rustdl.nn, name)


@pytest.mark.parametrize("case_id", gh.golden_params(FAMILY))
def test_pool_norm(case_id):
    case = gh.get_case(FAMILY, case_id)
    if "module" in case and not _has_module(case):
        run_module_case_functionally(case_id)
    else:
        gh.run_case(FAMILY, case_id)


@pytest.mark.parametrize(
    "case_id", [c["id"] for c in gh.load_index(FAMILY)["cases"] if "module" in c]
)
def test_pool_norm_module_cases_via_functional(case_id):
    # Always run, even once the modules exist: it checks the functional layer alone.
    run_module_case_functionally(case_id)


def test_indices_are_flat_per_plane():
    import rustdl as torch

    case = gh.get_case(FAMILY, "max_pool2d_k2_indices")
    arrays = gh.load_arrays(FAMILY)
    x = torch.tensor(arrays[case["inputs"][0]["key"]].copy())
    _, idx = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
    expected = arrays[case["outputs"][1]["key"]]
    assert idx.dtype == torch.int64
    np.testing.assert_array_equal(idx.numpy(), expected)
    assert idx.numpy().max() < 9 * 8
