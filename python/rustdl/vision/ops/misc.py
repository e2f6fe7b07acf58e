"""``torchvision.ops.misc`` blocks (shared with the models)."""

from ..models._misc import Conv2dNormActivation

__all__ = ["Conv2dNormActivation"]
