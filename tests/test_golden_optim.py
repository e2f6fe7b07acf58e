"""Golden family `optim`: optimizer trajectories, lr schedules and gradient clipping.

Every case of tests/golden/optim.json is replayed following its `procedure`
(see tests/golden/README.md, section `optim`), with the `call` constructor
evaluated with `torch` bound to rustdl.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rustdl as torch
import rustdl.nn.utils
import rustdl.optim

GOLDEN = Path(__file__).parent / "golden"
INDEX = json.loads((GOLDEN / "optim.json").read_text())
DATA = np.load(GOLDEN / "optim.npz")
CASES = INDEX["cases"]


def _close(actual, expected, tol, what):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    ok = np.isclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"], equal_nan=True)
    if not ok.all():
        err = np.abs(actual - expected).max()
        raise AssertionError(f"{what}: max abs err {err:.3g}\nactual={actual[~ok][:5]}\nexpected={expected[~ok][:5]}")


def _arr(key):
    return DATA[key]


def _inputs(case):
    return {d["name"]: _arr(d["key"]) for d in case["inputs"]}


def _run_optimizer(case):
    ins = _inputs(case)
    param0 = torch.tensor(ins["param0"], requires_grad=True)
    param1 = torch.tensor(ins["param1"], requires_grad=True)
    opt = eval(case["call"], {"torch": torch, "param0": param0, "param1": param1, "math": math})
    out0, out1 = [], []
    for t in range(ins["grads0"].shape[0]):
        param0.grad = torch.tensor(ins["grads0"][t])
        param1.grad = torch.tensor(ins["grads1"][t])
        opt.step()
        out0.append(param0.detach().numpy().copy())
        out1.append(param1.detach().numpy().copy())
    outs = {"param0": np.stack(out0), "param1": np.stack(out1)}
    for o in case["outputs"]:
        _close(outs[o["name"]], _arr(o["key"]), case["tol"], f"out.{o['name']}")
    params = {"p0": param0, "p1": param1}
    for b in case.get("buffers_after", []):
        pname, key = b["name"].split(".", 1)
        st = opt.state[params[pname]]
        assert key in st, f"state {key} missing (have {sorted(st)})"
        _close(st[key].detach().numpy(), _arr(b["key"]), case["tol"], f"buffer_after.{b['name']}")
        assert str(st[key].dtype).endswith(b["dtype"]), f"{b['name']} dtype {st[key].dtype} != {b['dtype']}"
    # Exactly PyTorch's state keys.
    for pname, p in params.items():
        expected = [b["name"].split(".", 1)[1] for b in case.get("buffers_after", []) if b["name"].startswith(pname + ".")]
        assert sorted(opt.state[p].keys()) == sorted(expected)


def _run_scheduler(case):
    p = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([p], lr=case.get("base_lr", 0.1), momentum=case.get("base_momentum", 0.9))
    sched = eval(case["call"], {"torch": torch, "opt": opt, "math": math})
    ins = _inputs(case)
    n = case["outputs"][0]["shape"][0]
    lrs, moms = [], []
    for epoch in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        if "loss" in ins:
            sched.step(float(ins["loss"][epoch]))
        else:
            sched.step()
    outs = {"lr": np.array(lrs), "momentum": np.array(moms)}
    for o in case["outputs"]:
        _close(outs[o["name"]], _arr(o["key"]), case["tol"], f"out.{o['name']}")


def _run_clip(case):
    ins = _inputs(case)
    param0 = torch.zeros(tuple(ins["grad0"].shape), requires_grad=True)
    param1 = torch.zeros(tuple(ins["grad1"].shape), requires_grad=True)
    param0.grad = torch.tensor(ins["grad0"])
    param1.grad = torch.tensor(ins["grad1"])
    total = eval(case["call"], {"torch": torch, "param0": param0, "param1": param1, "math": math})
    outs = {"grad0": param0.grad.numpy(), "grad1": param1.grad.numpy()}
    if total is not None:
        outs["total_norm"] = total.detach().numpy()
    for o in case["outputs"]:
        _close(outs[o["name"]], _arr(o["key"]), case["tol"], f"out.{o['name']}")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_optim(case):
    if case["id"].startswith("sched_"):
        _run_scheduler(case)
    elif case["id"].startswith("clip_"):
        _run_clip(case)
    else:
        _run_optimizer(case)


def test_every_case_is_driven():
    assert len(CASES) == INDEX["num_cases"] == 41
    kinds = {c["id"].split("_")[0] for c in CASES}
    assert kinds <= {"sgd", "adagrad", "rmsprop", "adam", "adamw", "adadelta", "nadam", "radam", "adamax", "sched",
                     "clip"}
