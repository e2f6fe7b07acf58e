"""Issue 20: int8, int16, float16, bfloat16 agree with PyTorch.

The cases live in tests/dtypes_narrow_cases.py; what PyTorch returned or
raised for each is recorded in tests/golden/dtypes_narrow.json (CI needs no
PyTorch). Half values are exact in float64, so values compare exactly."""

import io
import json
import math
from pathlib import Path

import dtypes_narrow_cases as cases
import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F

RECORDED = json.loads((Path(__file__).parent / "golden" / "dtypes_narrow.json").read_text())["cases"]

# Where PyTorch splits an op into kernels differently from rustdl (layer and
# batch norm, conv, cross-entropy's and log_softmax's backward, the norm's
# gradient, optimizer steps), each rounds its own intermediates to the half
# type: values agree to a few steps of the half type, relative to the
# tensor's largest value. Everything else is exact.
NEAR = {
    "044_2_2_12_to_b_reshape_3_4_log",
    "150_y_x_grad_2",
    "154_loss_m_0_weight_grad_m_2_bia",
    "156_m_weight_m_bias",
    "157_m_weight_m_bias_2",
    "158_y_x_grad_m_weight_grad",
    "159_y_x_grad_m_weight_grad_2",
    "160_y_x_grad_m_running_mean_m_ru",
    "167_y_x_grad_9",
    "bf16_misc_ops",  # lerp, addcmul, normalize: composed of rounded steps here
}


def same(got, want, exact, path="r"):
    assert got.keys() == want.keys(), f"{path}: got {got}, PyTorch gave {want}"
    if "tensor" in want:
        assert (got["dtype"], got["shape"]) == (want["dtype"], want["shape"]), f"{path}: {got} vs {want}"
        if exact:
            close(got["tensor"], want["tensor"], path)
        else:
            near(got["tensor"], want["tensor"], path)
    elif "seq" in want:
        assert len(got["seq"]) == len(want["seq"]), f"{path}: {got} vs {want}"
        for i, (g, w) in enumerate(zip(got["seq"], want["seq"])):
            same(g, w, exact, f"{path}[{i}]")
    else:
        assert got == want, f"{path}: got {got}, PyTorch gave {want}"


def close(got, want, path):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {got} vs {want}"
        for g, w in zip(got, want):
            close(g, w, path)
    else:
        assert got == want, f"{path}: {got} vs {want}"


def flat(v):
    return [x for item in v for x in flat(item)] if isinstance(v, list) else [v]


def near(got, want, path):
    g, w = flat(got), flat(want)
    assert len(g) == len(w), f"{path}: {got} vs {want}"
    scale = max((abs(x) for x in w if isinstance(x, float) and math.isfinite(x)), default=1.0)
    for a, b in zip(g, w):
        assert abs(a - b) <= 2**-7 * scale, f"{path}: {got} vs {want}"


@pytest.mark.parametrize("name,code", cases.CASES, ids=[c[0] for c in cases.CASES])
def test_agrees_with_pytorch(name, code):
    got = cases.encode(cases.run(code, rustdl, F))
    same(got, RECORDED[name], exact=name not in NEAR)


def test_every_case_is_recorded():
    assert {n for n, _ in cases.CASES} == set(RECORDED)


def test_bfloat16_numpy_message():
    with pytest.raises(TypeError, match="Got unsupported ScalarType BFloat16"):
        rustdl.ones(2, dtype=rustdl.bfloat16).numpy()


def test_float16_numpy_is_zero_copy():
    t = rustdl.tensor([1.0, 2.0], dtype=rustdl.float16)
    a = t.numpy()
    assert a.dtype == np.float16
    a[0] = 7.0
    assert t.tolist() == [7.0, 2.0]


@pytest.mark.parametrize("dtype", ["int8", "int16", "float16", "bfloat16"])
def test_save_load_keeps_dtype_and_bits(dtype):
    d = getattr(rustdl, dtype)
    vals = [0.1, -2.5, 100.0, 65504.0] if d.is_floating_point else [-128, 5, 127, 0]
    t = rustdl.tensor(vals).to(d)
    if d.is_floating_point:
        t = rustdl.cat([t, rustdl.tensor([float("nan"), float("inf"), -0.0]).to(d)])
    buf = io.BytesIO()
    rustdl.save({"t": t, "nested": [t[:2]]}, buf)
    buf.seek(0)
    back = rustdl.load(buf)
    assert back["t"].dtype == d and back["nested"][0].dtype == d
    assert [repr(v) for v in back["t"].tolist()] == [repr(v) for v in t.tolist()]


def test_safetensors_header_names_the_narrow_dtypes(tmp_path):
    path = tmp_path / "narrow.safetensors"
    rustdl.save({k: rustdl.ones(2, dtype=getattr(rustdl, k)) for k in ("int8", "int16", "float16", "bfloat16")}, path)
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    assert n % 8 == 0
    assert {k: v["dtype"] for k, v in header.items() if k != "__metadata__"} == {
        "int8": "I8",
        "int16": "I16",
        "float16": "F16",
        "bfloat16": "BF16",
    }


def test_half_model_trains():
    rustdl.manual_seed(0)
    model = rustdl.nn.Sequential(rustdl.nn.Linear(4, 16), rustdl.nn.ReLU(), rustdl.nn.Linear(16, 2)).to(rustdl.bfloat16)
    opt = rustdl.optim.SGD(model.parameters(), lr=0.5)
    x = rustdl.randn(64, 4).to(rustdl.bfloat16)
    y = (x[:, 0] > 0).long()
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        assert all(p.grad.dtype == rustdl.bfloat16 for p in model.parameters())
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first * 0.7


@pytest.mark.parametrize("dtype", ["int8", "int16", "float16", "bfloat16"])
def test_wgpu_refuses_narrow_dtypes_clearly(dtype):
    wgpu = rustdl.backends.wgpu
    if not (wgpu.is_built() and wgpu.is_available()):
        pytest.skip("no wgpu device")
    with pytest.raises(TypeError, match="not supported on the wgpu device"):
        rustdl.ones(2, dtype=getattr(rustdl, dtype)).to("wgpu")
