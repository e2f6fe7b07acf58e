"""F.interpolate's anti-aliasing, nearest-exact, area and recompute_scale_factor against values
and gradients recorded from PyTorch (tools/differential/record_interpolate.py), and PyTorch's
argument errors."""

import json
from pathlib import Path

import interpolate_cases as cases
import numpy as np
import pytest
import rustdl

GOLDEN = json.loads((Path(__file__).parent / "golden" / "interpolate.json").read_text())


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_matches_pytorch(name):
    got = cases.run(rustdl, name)
    want = GOLDEN["cases"][name]
    for key in ("output", "grad"):
        np.testing.assert_allclose(np.array(got[key]), np.array(want[key]), rtol=1e-4, atol=2e-6, err_msg=key)


@pytest.mark.parametrize("i", range(len(cases.ERRORS)))
def test_errors_as_pytorch(i):
    shape, kwargs, cls, fragment = cases.ERRORS[i]
    recorded_cls, _recorded_msg = GOLDEN["errors"][i]
    assert recorded_cls == cls
    expected = {"NotImplementedError": NotImplementedError, "ValueError": ValueError}[cls]
    with pytest.raises(expected) as info:
        rustdl.nn.functional.interpolate(rustdl.zeros(*shape), **kwargs)
    assert fragment in str(info.value)


def test_interpolate_exports_to_onnx():
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import io

    import rustdl.onnx

    F = rustdl.nn.functional
    for fn, shape in [(lambda x: F.interpolate(x, scale_factor=2), (1, 2, 3, 4)),
                      (lambda x: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False), (2, 2, 3, 4)),
                      (lambda x: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True), (2, 2, 3, 4)),
                      (lambda x: F.interpolate(x, scale_factor=2, mode="bicubic"), (1, 1, 4, 4)),
                      (lambda x: F.interpolate(x, size=(7,), mode="nearest-exact"), (1, 2, 5)),
                      (lambda x: F.interpolate(x, scale_factor=(2, 1, 2), mode="trilinear"), (1, 1, 2, 3, 4))]:
        x = rustdl.randn(*shape)
        buf = io.BytesIO()
        rustdl.onnx.export(fn, (x,), buf, input_names=["x"])
        onnx.checker.check_model(onnx.load_from_string(buf.getvalue()))
        got = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})
        np.testing.assert_allclose(got[0], fn(x).numpy(), rtol=1e-4, atol=1e-5)
