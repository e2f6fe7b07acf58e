"""``rustdl.optim``: PyTorch's optimizers and lr schedulers, with fused Rust update steps."""

from . import lr_scheduler, swa_utils
from ._composed_optimizers import ASGD, Rprop
from ._optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop
from .lbfgs import LBFGS
from .optimizer import Optimizer

__all__ = [
           "ASGD",
           "LBFGS",
           "SGD",
           "Adadelta",
           "Adagrad",
           "Adam",
           "AdamW",
           "Adamax",
           "NAdam",
           "Optimizer",
           "RAdam",
           "RMSprop",
           "Rprop",
           "lr_scheduler",
           "swa_utils",
]
