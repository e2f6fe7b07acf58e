"""``rustdl.train``: a Trainer for PyTorch-style models, with callbacks, cross-validation
and a diagnosis of the learning curves."""

from .callbacks import Callback, EarlyStopping, LearningRateMonitor, ModelCheckpoint, TensorBoardLogger
from .cross_validation import TensorBatches, cross_validate, kfold_indices
from .diagnosis import Diagnosis, Finding, diagnose
from .history import History
from .trainer import Trainer, accuracy, resolve_metrics, top_k_accuracy

__all__ = [
    "Callback",
    "Diagnosis",
    "EarlyStopping",
    "Finding",
    "History",
    "LearningRateMonitor",
    "ModelCheckpoint",
    "TensorBatches",
    "TensorBoardLogger",
    "Trainer",
    "accuracy",
    "cross_validate",
    "diagnose",
    "kfold_indices",
    "resolve_metrics",
    "top_k_accuracy",
]
