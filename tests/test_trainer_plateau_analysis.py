"""Trainer(analyze_plateaus=True): the Hessian analysis at plateaus and its place in the diagnosis."""

import numpy as np
import pytest
import rustdl as torch
from rustdl import nn, optim
from rustdl.train import Trainer
from rustdl.train.diagnosis import diagnose
from rustdl.train.history import History


class TwoWeightNet(nn.Module):
    """y = w1 * w2 * x: with y = 1 at x = 1 the origin is a saddle point of the MSE."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.zeros(1))
        self.w2 = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.w1 * self.w2 * x


def test_saddle_plateau_is_diagnosed_and_escaped():
    model = TwoWeightNet()
    batch = [(torch.ones(8, 1), torch.ones(8, 1))]
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), metrics=None, progress=False,
                      analyze_plateaus=True)
    trainer.fit(batch, epochs=3)
    assert trainer.history["train_loss"] == [1.0, 1.0, 1.0]  # gradient descent is stuck at the saddle
    assert len(trainer.history.critical_points) == 1  # once per plateau
    cp = trainer.history.critical_points[0]
    assert cp["epoch"] == 2 and cp["kind"] == "saddle point" and cp["n_negative"] == 1
    assert cp["min_eigenvalue"] == pytest.approx(-2.0) and cp["minimum_ratio"] == 0.5
    diagnosis = trainer.history.diagnose()
    assert "saddle_point" in diagnosis
    text = str(diagnosis)
    assert "saddle point: 1 negative directions, escape along the eigenvector of λ = -2 (w1 50%, w2 50%)" in text
    epoch, report = trainer.plateau_reports[0]
    assert epoch == 2
    report.escape(0.5)
    trainer.fit(batch, epochs=30)
    assert trainer.history["train_loss"][-1] < 1e-3


def test_convex_plateau_is_a_local_minimum():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((64, 3)), dtype=torch.float32)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * torch.tensor(rng.standard_normal((64, 1)),
                                                                             dtype=torch.float32)
    model = nn.Linear(3, 1)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.3), nn.MSELoss(), metrics=None, progress=False,
                      analyze_plateaus={"grad_norm": 1e-3, "rel_change": 1e-3})
    trainer.fit([(x, y)], epochs=60)
    kinds = [cp["kind"] for cp in trainer.history.critical_points]
    assert kinds == ["local minimum"]
    assert trainer.history.critical_points[0]["minimum_ratio"] == 1.0
    text = str(trainer.history.diagnose())
    assert "local minimum (minimum ratio 1.000" in text


def test_off_by_default_and_options_checked():
    model = TwoWeightNet()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), metrics=None, progress=False)
    trainer.fit([(torch.ones(4, 1), torch.ones(4, 1))], epochs=3)
    assert trainer.history.critical_points == [] and trainer.plateau_reports == []
    assert "saddle_point" not in trainer.history.diagnose()
    with pytest.raises(ValueError, match="unknown analyze_plateaus option"):
        Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), analyze_plateaus={"patience": 3})


def test_diagnosis_reads_recorded_summaries():
    h = History.from_dict(train_loss=[1.0, 0.5, 0.49])
    h.critical_points.append({
        "epoch": 3, "kind": "degenerate", "loss": 0.49, "grad_norm": 1e-4, "n_params": 100, "exact": False,
        "n_negative": 0, "n_zero": 40, "n_positive": 60, "minimum_ratio": 0.6, "min_eigenvalue": 0.0,
        "max_eigenvalue": 3.0, "escape_eigenvalue": None, "escape": None,
    })
    d = diagnose(h)
    assert "degenerate_point" in d
    assert "~40 near-zero" in str(d)
