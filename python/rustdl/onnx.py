"""``torch.onnx`` (a stub): importable, so scripts that ``import torch.onnx`` at the top run.

rustdl cannot export ONNX yet: that needs a graph tracer (issue 26). Every exporter entry
point raises NotImplementedError saying so.
"""

__all__ = ["OperatorExportTypes", "TrainingMode", "dynamo_export", "export", "is_in_onnx_export"]

_MESSAGE = (
    "torch.onnx.{name}: rustdl cannot export ONNX models yet (it needs a graph tracer, issue 26). "
    "Save the weights with torch.save(model.state_dict(), path) instead."
)


def export(*args, **kwargs):
    """Not implemented in rustdl: raises NotImplementedError (issue 26)."""
    raise NotImplementedError(_MESSAGE.format(name="export"))


def dynamo_export(*args, **kwargs):
    """Not implemented in rustdl: raises NotImplementedError (issue 26)."""
    raise NotImplementedError(_MESSAGE.format(name="dynamo_export"))


def is_in_onnx_export():
    """False: rustdl never runs a model for an ONNX export."""
    return False


class OperatorExportTypes:
    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


class TrainingMode:
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2
