"""The golden PyTorch cases replayed on the wgpu device: inputs, modules and
loss weights live on the device, and outputs and gradients must match the
stored PyTorch results with the case's tolerance (as on the CPU).

A case may use what the device does not have (float64 inputs, an op without
a device kernel): rustdl then raises a RuntimeError/TypeError that says so,
and the case is skipped with that message. Any other failure fails."""

import golden_harness as gh
import pytest
import rustdl

wgpu = rustdl.backends.wgpu
if not (wgpu.is_built() and wgpu.is_available()):
    pytest.skip("no wgpu adapter on this machine (install mesa-vulkan-drivers)", allow_module_level=True)

DEVICE_LIMITS = ("wgpu device", "float64", "fit in 32 bits")


def params():
    return [
        pytest.param(f, p.values[0], id=f"{f}-{p.values[0]}", marks=p.marks)
        for f in gh.EVAL_FAMILIES
        for p in gh.golden_params(f)
    ]


@pytest.mark.parametrize("family,case_id", params())
def test_golden_on_wgpu(family, case_id):
    try:
        gh.run_case(family, case_id, device="wgpu")
    except (RuntimeError, TypeError) as e:
        if any(s in str(e) for s in DEVICE_LIMITS):
            pytest.skip(f"not on the device: {e}")
        raise
