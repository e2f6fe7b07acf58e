"""ConvNeXt tiny / small / base / large (torchvision's structure, parameter names and
initialisation; stochastic depth per block as torchvision)."""

from functools import partial

import rustdl

from ... import nn
from ...nn import functional as F
from ..ops.misc import Permute
from ..ops.stochastic_depth import StochasticDepth
from ._api import _handle_weights, _publish_builder, _weights_enum
from ._misc import Conv2dNormActivation

__all__ = ["ConvNeXt"]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) tensor."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim, layer_scale, stochastic_depth_prob, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            norm_layer(dim),
            nn.Linear(in_features=dim, out_features=4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(in_features=4 * dim, out_features=dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(rustdl.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input):
        result = self.layer_scale * self.block(input)
        return self.stochastic_depth(result) + input


class CNBlockConfig:
    def __init__(self, input_channels, out_channels, num_layers):
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers

    def __repr__(self):
        return (f"{self.__class__.__name__}(input_channels={self.input_channels}, out_channels={self.out_channels}, "
                f"num_layers={self.num_layers})")


class ConvNeXt(nn.Module):
    def __init__(self, block_setting, stochastic_depth_prob=0.0, layer_scale=1e-6, num_classes=1000, block=None,
                 norm_layer=None, **kwargs):
        super().__init__()
        if not block_setting:
            raise ValueError("The block_setting should not be empty")
        if not all(isinstance(s, CNBlockConfig) for s in block_setting):
            raise TypeError("The block_setting should be List[CNBlockConfig]")
        if block is None:
            block = CNBlock
        if norm_layer is None:
            norm_layer = partial(LayerNorm2d, eps=1e-6)
        first = block_setting[0].input_channels
        layers = [Conv2dNormActivation(3, first, kernel_size=4, stride=4, padding=0, norm_layer=norm_layer,
                                       activation_layer=None, bias=True)]
        total_stage_blocks = sum(cnf.num_layers for cnf in block_setting)
        stage_block_id = 0
        for cnf in block_setting:
            stage = []
            for _ in range(cnf.num_layers):
                sd_prob = stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, sd_prob))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                layers.append(nn.Sequential(norm_layer(cnf.input_channels),
                                            nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = block_setting[-1]
        last_out = last.out_channels if last.out_channels is not None else last.input_channels
        self.classifier = nn.Sequential(norm_layer(last_out), nn.Flatten(1), nn.Linear(last_out, num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _forward_impl(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        return self.classifier(x)

    def forward(self, x):
        return self._forward_impl(x)


_URL = "https://download.pytorch.org/models/"
C = CNBlockConfig
_CONFIGS = {
    "convnext_tiny": ("ConvNeXt_Tiny_Weights", [(96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3)], 0.1,
                      "convnext_tiny-983f1562.pth", 28589128),
    "convnext_small": ("ConvNeXt_Small_Weights", [(96, 192, 3), (192, 384, 3), (384, 768, 27), (768, None, 3)], 0.4,
                       "convnext_small-0c510722.pth", 50223688),
    "convnext_base": ("ConvNeXt_Base_Weights", [(128, 256, 3), (256, 512, 3), (512, 1024, 27), (1024, None, 3)],
                      0.5, "convnext_base-6075fbad.pth", 88591464),
    "convnext_large": ("ConvNeXt_Large_Weights", [(192, 384, 3), (384, 768, 3), (768, 1536, 27), (1536, None, 3)],
                       0.5, "convnext_large-ea097f82.pth", 197767336),
}


def _make(builder_name):
    enum_name, setting, sd_prob, fname, n = _CONFIGS[builder_name]
    weights_enum = _weights_enum(enum_name, {"IMAGENET1K_V1": (_URL + fname, n)}, "IMAGENET1K_V1")

    def builder(*, weights=None, progress=True, **kwargs):
        _handle_weights(builder_name, weights_enum, weights, kwargs)
        block_setting = [CNBlockConfig(*c) for c in setting]
        return ConvNeXt(block_setting, stochastic_depth_prob=kwargs.pop("stochastic_depth_prob", sd_prob), **kwargs)

    _publish_builder(builder, builder_name, weights_enum, enum_name, globals())


for _name in _CONFIGS:
    _make(_name)
