"""EfficientNet B0-B7 and V2 S/M/L (torchvision's structure, parameter names and
initialisation; stochastic depth per block as torchvision)."""

import copy
import math
from functools import partial

from ... import nn
from ..ops.stochastic_depth import StochasticDepth
from ._api import _handle_weights, _publish_builder, _weights_enum
from ._misc import Conv2dNormActivation, SqueezeExcitation
from .mobilenetv2 import _make_divisible

__all__ = ["EfficientNet"]


class _MBConvConfig:
    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, block):
        self.expand_ratio = expand_ratio
        self.kernel = kernel
        self.stride = stride
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.block = block

    @staticmethod
    def adjust_channels(channels, width_mult, min_value=None):
        return _make_divisible(channels * width_mult, 8, min_value)


class MBConvConfig(_MBConvConfig):
    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, width_mult=1.0,
                 depth_mult=1.0, block=None):
        input_channels = self.adjust_channels(input_channels, width_mult)
        out_channels = self.adjust_channels(out_channels, width_mult)
        num_layers = math.ceil(num_layers * depth_mult)
        super().__init__(expand_ratio, kernel, stride, input_channels, out_channels, num_layers, block or MBConv)


class FusedMBConvConfig(_MBConvConfig):
    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, block=None):
        super().__init__(expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                         block or FusedMBConv)


class MBConv(nn.Module):
    def __init__(self, cnf, stochastic_depth_prob, norm_layer, se_layer=SqueezeExcitation):
        super().__init__()
        if not (1 <= cnf.stride <= 2):
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        layers = []
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=1, norm_layer=norm_layer,
                                               activation_layer=nn.SiLU))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel_size=cnf.kernel, stride=cnf.stride,
                                           groups=expanded, norm_layer=norm_layer, activation_layer=nn.SiLU))
        squeeze_channels = max(1, cnf.input_channels // 4)
        layers.append(se_layer(expanded, squeeze_channels, activation=partial(nn.SiLU, inplace=True)))
        layers.append(Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + input
        return result


class FusedMBConv(nn.Module):
    def __init__(self, cnf, stochastic_depth_prob, norm_layer):
        super().__init__()
        if not (1 <= cnf.stride <= 2):
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded != cnf.input_channels:
            layers = [
                Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=cnf.kernel, stride=cnf.stride,
                                     norm_layer=norm_layer, activation_layer=nn.SiLU),
                Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1, norm_layer=norm_layer,
                                     activation_layer=None),
            ]
        else:
            layers = [Conv2dNormActivation(cnf.input_channels, cnf.out_channels, kernel_size=cnf.kernel,
                                           stride=cnf.stride, norm_layer=norm_layer, activation_layer=nn.SiLU)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + input
        return result


class EfficientNet(nn.Module):
    def __init__(self, inverted_residual_setting, dropout, stochastic_depth_prob=0.2, num_classes=1000,
                 norm_layer=None, last_channel=None):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not all(isinstance(s, _MBConvConfig) for s in inverted_residual_setting):
            raise TypeError("The inverted_residual_setting should be List[MBConvConfig]")
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        first = inverted_residual_setting[0].input_channels
        layers = [Conv2dNormActivation(3, first, kernel_size=3, stride=2, norm_layer=norm_layer,
                                       activation_layer=nn.SiLU)]
        total_stage_blocks = sum(cnf.num_layers for cnf in inverted_residual_setting)
        stage_block_id = 0
        for cnf in inverted_residual_setting:
            stage = []
            for _ in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if stage:
                    block_cnf.input_channels = block_cnf.out_channels
                    block_cnf.stride = 1
                sd_prob = stochastic_depth_prob * float(stage_block_id) / total_stage_blocks
                stage.append(block_cnf.block(block_cnf, sd_prob, norm_layer))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = inverted_residual_setting[-1].out_channels
        last_out = last_channel if last_channel is not None else 4 * last_in
        layers.append(Conv2dNormActivation(last_in, last_out, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(last_out, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                init_range = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -init_range, init_range)
                nn.init.zeros_(m.bias)

    def _forward_impl(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.classifier(x)

    def forward(self, x):
        return self._forward_impl(x)


def _efficientnet_conf(arch, width_mult=1.0, depth_mult=1.0):
    if arch.startswith("efficientnet_b"):
        b = partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)
        return [b(1, 3, 1, 32, 16, 1), b(6, 3, 2, 16, 24, 2), b(6, 5, 2, 24, 40, 2), b(6, 3, 2, 40, 80, 3),
                b(6, 5, 1, 80, 112, 3), b(6, 5, 2, 112, 192, 4), b(6, 3, 1, 192, 320, 1)], None
    f, m = FusedMBConvConfig, MBConvConfig
    if arch == "efficientnet_v2_s":
        return [f(1, 3, 1, 24, 24, 2), f(4, 3, 2, 24, 48, 4), f(4, 3, 2, 48, 64, 4), m(4, 3, 2, 64, 128, 6),
                m(6, 3, 1, 128, 160, 9), m(6, 3, 2, 160, 256, 15)], 1280
    if arch == "efficientnet_v2_m":
        return [f(1, 3, 1, 24, 24, 3), f(4, 3, 2, 24, 48, 5), f(4, 3, 2, 48, 80, 5), m(4, 3, 2, 80, 160, 7),
                m(6, 3, 1, 160, 176, 14), m(6, 3, 2, 176, 304, 18), m(6, 3, 1, 304, 512, 5)], 1280
    if arch == "efficientnet_v2_l":
        return [f(1, 3, 1, 32, 32, 4), f(4, 3, 2, 32, 64, 7), f(4, 3, 2, 64, 96, 7), m(4, 3, 2, 96, 192, 10),
                m(6, 3, 1, 192, 224, 19), m(6, 3, 2, 224, 384, 25), m(6, 3, 1, 384, 640, 7)], 1280
    raise ValueError(f"Unsupported model type {arch}")


_URL = "https://download.pytorch.org/models/"
_BN_EPS3_MOM = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
_BN_EPS3 = partial(nn.BatchNorm2d, eps=1e-03)
# builder: (width, depth, dropout, norm_layer, {member: (file, num_params)}, default member)
_CONFIGS = {
    "efficientnet_b0": (1.0, 1.0, 0.2, None, {"IMAGENET1K_V1": ("efficientnet_b0_rwightman-7f5810bc.pth", 5288548)},
                        "IMAGENET1K_V1"),
    "efficientnet_b1": (1.0, 1.1, 0.2, None, {"IMAGENET1K_V1": ("efficientnet_b1_rwightman-bac287d4.pth", 7794184),
                                              "IMAGENET1K_V2": ("efficientnet_b1-c27df63c.pth", 7794184)},
                        "IMAGENET1K_V2"),
    "efficientnet_b2": (1.1, 1.2, 0.3, None, {"IMAGENET1K_V1": ("efficientnet_b2_rwightman-c35c1473.pth", 9109994)},
                        "IMAGENET1K_V1"),
    "efficientnet_b3": (1.2, 1.4, 0.3, None, {"IMAGENET1K_V1": ("efficientnet_b3_rwightman-b3899882.pth", 12233232)},
                        "IMAGENET1K_V1"),
    "efficientnet_b4": (1.4, 1.8, 0.4, None, {"IMAGENET1K_V1": ("efficientnet_b4_rwightman-23ab8bcd.pth", 19341616)},
                        "IMAGENET1K_V1"),
    "efficientnet_b5": (1.6, 2.2, 0.4, _BN_EPS3_MOM,
                        {"IMAGENET1K_V1": ("efficientnet_b5_lukemelas-1a07897c.pth", 30389784)}, "IMAGENET1K_V1"),
    "efficientnet_b6": (1.8, 2.6, 0.5, _BN_EPS3_MOM,
                        {"IMAGENET1K_V1": ("efficientnet_b6_lukemelas-24a108a5.pth", 43040704)}, "IMAGENET1K_V1"),
    "efficientnet_b7": (2.0, 3.1, 0.5, _BN_EPS3_MOM,
                        {"IMAGENET1K_V1": ("efficientnet_b7_lukemelas-c5b4e57e.pth", 66347960)}, "IMAGENET1K_V1"),
    "efficientnet_v2_s": (None, None, 0.2, _BN_EPS3, {"IMAGENET1K_V1": ("efficientnet_v2_s-dd5fe13b.pth", 21458488)},
                          "IMAGENET1K_V1"),
    "efficientnet_v2_m": (None, None, 0.3, _BN_EPS3, {"IMAGENET1K_V1": ("efficientnet_v2_m-dc08266a.pth", 54139356)},
                          "IMAGENET1K_V1"),
    "efficientnet_v2_l": (None, None, 0.4, _BN_EPS3,
                          {"IMAGENET1K_V1": ("efficientnet_v2_l-59c71312.pth", 118515272)}, "IMAGENET1K_V1"),
}


def _make(builder_name):
    width, depth, dropout, norm_layer, members, default = _CONFIGS[builder_name]
    enum_name = "EfficientNet_" + builder_name[len("efficientnet_"):].upper() + "_Weights"
    weights_enum = _weights_enum(enum_name, {k: (_URL + f, n) for k, (f, n) in members.items()}, default)

    def builder(*, weights=None, progress=True, **kwargs):
        _handle_weights(builder_name, weights_enum, weights, kwargs)
        conf = {} if width is None else {"width_mult": width, "depth_mult": depth}
        setting, last_channel = _efficientnet_conf(builder_name, **conf)
        if norm_layer is not None:
            kwargs["norm_layer"] = norm_layer
        return EfficientNet(setting, kwargs.pop("dropout", dropout), last_channel=last_channel, **kwargs)

    _publish_builder(builder, builder_name, weights_enum, enum_name, globals())


for _name in _CONFIGS:
    _make(_name)
