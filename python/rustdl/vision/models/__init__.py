"""``rustdl.vision.models``: torchvision's classification models, with the same
module structure, parameter and buffer names (``state_dict`` keys) and
initialisation, so a torchvision checkpoint loads with ``load_state_dict``.

There are no downloads here: ``weights=`` must be None; a weights enum member
or name raises :class:`PretrainedWeightsUnavailable` saying how to load a local
file (``model.load_state_dict(rustdl.load("resnet18.pth"))``).
"""

from ._api import (
    PretrainedWeightsUnavailable,
    Weights,
    WeightsEnum,
    get_model,
    get_model_builder,
    get_model_weights,
    get_weight,
    list_models,
)
from .alexnet import *
from .alexnet import __all__ as _alexnet_all
from .convnext import *
from .convnext import __all__ as _convnext_all
from .densenet import *
from .densenet import __all__ as _densenet_all
from .efficientnet import *
from .efficientnet import __all__ as _efficientnet_all
from .googlenet import *
from .googlenet import __all__ as _googlenet_all
from .inception import *
from .inception import __all__ as _inception_all
from .maxvit import *
from .maxvit import __all__ as _maxvit_all
from .mnasnet import *
from .mnasnet import __all__ as _mnasnet_all
from .mobilenetv2 import *
from .mobilenetv2 import __all__ as _mobilenet_all
from .mobilenetv3 import *
from .mobilenetv3 import __all__ as _mobilenet_v3_all
from .regnet import *
from .regnet import __all__ as _regnet_all
from .resnet import *
from .resnet import __all__ as _resnet_all
from .shufflenetv2 import *
from .shufflenetv2 import __all__ as _shufflenet_all
from .squeezenet import *
from .squeezenet import __all__ as _squeezenet_all
from .swin_transformer import *
from .swin_transformer import __all__ as _swin_all
from .vgg import *
from .vgg import __all__ as _vgg_all
from .vision_transformer import *
from .vision_transformer import __all__ as _vit_all

__all__ = [
    "PretrainedWeightsUnavailable",
    "Weights",
    "WeightsEnum",
    "get_model",
    "get_model_builder",
    "get_model_weights",
    "get_weight",
    "list_models",
]
for _names in (
    _alexnet_all, _convnext_all, _densenet_all, _efficientnet_all, _googlenet_all, _mnasnet_all, _mobilenet_all, _mobilenet_v3_all,
    _regnet_all, _resnet_all, _shufflenet_all, _squeezenet_all, _vgg_all, _vit_all,
    _inception_all, _swin_all, _maxvit_all,
):
    __all__ += _names  # noqa: PLE0605
del _names
