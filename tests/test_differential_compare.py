"""The differential harness's jitter rule (tools/differential/compare.py):
gradients that differ at inputs of |x| >= 1e30 are filed as ill-conditioned
only when PyTorch's own answer moves by the difference under a few-ulp
jitter of those inputs, and rustdl's stays as close at the moved inputs."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "differential"))
from compare import _moves_as_much


def grad(*values, dtype="float64"):
    return {"kind": "tensor", "dtype": dtype, "shape": (len(values),), "data": np.array(values, dtype=dtype)}


def test_torch_moving_as_much_is_ill_conditioned():
    # torch 1.0 -> 3.0 under the jitter; rustdl 2.0 -> 2.5: noise either way
    assert _moves_as_much(grad(1.0, 5.0), grad(2.0, 5.0), grad(3.0, 5.0), grad(2.5, 5.0))


def test_only_rustdl_moving_is_not():
    # torch stable at 1.0, rustdl's unstable formula jumps around it
    assert not _moves_as_much(grad(1.0), grad(2.0), grad(1.0), grad(-3.0))


def test_rustdl_staying_off_at_the_jittered_inputs_is_not():
    # torch moves by 1, but rustdl is off by 10 at the moved inputs
    assert not _moves_as_much(grad(1.0), grad(2.0), grad(2.0), grad(12.0))


def test_every_differing_element_must_be_explained():
    # the first element moves with torch, the second is a plain difference
    assert not _moves_as_much(grad(1.0, 5.0), grad(2.0, 6.0), grad(3.0, 5.0), grad(2.5, 6.0))


def test_non_finite_answers_are_never_explained():
    assert not _moves_as_much(grad(1.0), grad(np.inf), grad(3.0), grad(np.inf))
