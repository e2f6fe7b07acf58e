"""torch.optim.swa_utils against PyTorch-recorded values (tools/differential/record_swa.py)."""

import json
from pathlib import Path

import numpy as np
import pytest
import rustdl
import swa_cases as cases

GOLDEN = json.loads((Path(__file__).parent / "golden" / "swa.json").read_text())


@pytest.mark.parametrize("kind", sorted(GOLDEN["averaged"]))
def test_averaged_model_matches_pytorch(kind):
    got, want = cases.averaged(rustdl, kind), GOLDEN["averaged"][kind]
    assert got["keys"] == want["keys"]
    for key in want:
        if key != "keys":
            np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=f"{kind} {key}")


@pytest.mark.parametrize("name", sorted(GOLDEN["swalr"]))
def test_swalr_schedule_matches_pytorch(name):
    strategy, epochs = name.split("_")
    np.testing.assert_allclose(cases.swalr(rustdl, strategy, int(epochs)), GOLDEN["swalr"][name], rtol=1e-12)


def test_update_bn_matches_pytorch():
    got, want = cases.update_bn(rustdl), GOLDEN["update_bn"]
    np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["var"], want["var"], rtol=1e-5, atol=1e-6)
    assert (got["batches"], got["momentum"], got["training"]) == (want["batches"], want["momentum"], want["training"])


def test_swa_errors_as_pytorch():
    opt = rustdl.optim.SGD([rustdl.nn.Parameter(rustdl.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must by one of 'cos' or 'linear', instead got exp"):
        rustdl.optim.swa_utils.SWALR(opt, 0.05, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        rustdl.optim.swa_utils.SWALR(opt, 0.05, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length as optimizer.param_groups"):
        rustdl.optim.swa_utils.SWALR(opt, [0.05, 0.1])
    with pytest.raises(ValueError, match="Invalid decay value 1.5 provided"):
        rustdl.optim.swa_utils.get_ema_multi_avg_fn(1.5)
