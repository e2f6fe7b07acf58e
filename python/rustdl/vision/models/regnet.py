"""RegNet X / Y (400MF ... 128GF) (torchvision's structure, parameter names, width
schedule and initialisation; the width schedule is computed in float32 as torchvision)."""

import math
from collections import OrderedDict
from functools import partial

import numpy as np

from ... import nn
from ._api import _handle_weights, _publish_builder, _weights_enum
from ._misc import Conv2dNormActivation, SqueezeExcitation
from .mobilenetv2 import _make_divisible

__all__ = ["RegNet"]


class SimpleStemIN(Conv2dNormActivation):
    def __init__(self, width_in, width_out, norm_layer, activation_layer):
        super().__init__(width_in, width_out, kernel_size=3, stride=2, norm_layer=norm_layer,
                         activation_layer=activation_layer)


class BottleneckTransform(nn.Sequential):
    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width, bottleneck_multiplier,
                 se_ratio):
        layers = OrderedDict()
        w_b = round(width_out * bottleneck_multiplier)
        g = w_b // group_width
        layers["a"] = Conv2dNormActivation(width_in, w_b, kernel_size=1, stride=1, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        layers["b"] = Conv2dNormActivation(w_b, w_b, kernel_size=3, stride=stride, groups=g, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        if se_ratio:
            layers["se"] = SqueezeExcitation(input_channels=w_b, squeeze_channels=round(se_ratio * width_in),
                                             activation=activation_layer)
        layers["c"] = Conv2dNormActivation(w_b, width_out, kernel_size=1, stride=1, norm_layer=norm_layer,
                                           activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width=1,
                 bottleneck_multiplier=1.0, se_ratio=None):
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = Conv2dNormActivation(width_in, width_out, kernel_size=1, stride=stride, norm_layer=norm_layer,
                                             activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, norm_layer, activation_layer, group_width,
                                     bottleneck_multiplier, se_ratio)
        self.activation = activation_layer(inplace=True)

    def forward(self, x):
        x = self.proj(x) + self.f(x) if self.proj is not None else x + self.f(x)
        return self.activation(x)


class AnyStage(nn.Sequential):
    def __init__(self, width_in, width_out, stride, depth, block_constructor, norm_layer, activation_layer,
                 group_width, bottleneck_multiplier, se_ratio=None, stage_index=0):
        super().__init__()
        for i in range(depth):
            block = block_constructor(width_in if i == 0 else width_out, width_out, stride if i == 0 else 1,
                                      norm_layer, activation_layer, group_width, bottleneck_multiplier, se_ratio)
            self.add_module(f"block{stage_index}-{i}", block)


class BlockParams:
    def __init__(self, depths, widths, group_widths, bottleneck_multipliers, strides, se_ratio=None):
        self.depths = depths
        self.widths = widths
        self.group_widths = group_widths
        self.bottleneck_multipliers = bottleneck_multipliers
        self.strides = strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(cls, depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0, se_ratio=None, **kwargs):
        quant, stride = 8, 2
        if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
            raise ValueError("Invalid RegNet settings")
        f32 = np.float32
        widths_cont = np.arange(depth).astype(f32) * f32(w_a) + f32(w_0)
        block_capacity = np.round(np.log(widths_cont / f32(w_0)) / f32(math.log(w_m)))
        block_widths = (np.round((f32(w_0) * np.power(f32(w_m), block_capacity)) / f32(quant)) * quant)
        block_widths = block_widths.astype(np.int32).tolist()
        num_stages = len(set(block_widths))
        helper = zip(block_widths + [0], [0, *block_widths], block_widths + [0], [0, *block_widths])
        splits = [w != wp or r != rp for w, wp, r, rp in helper]
        stage_widths = [w for w, t in zip(block_widths, splits[:-1]) if t]
        stage_depths = np.diff([d for d, t in enumerate(splits) if t]).astype(int).tolist()
        strides = [stride] * num_stages
        bottleneck_multipliers = [bottleneck_multiplier] * num_stages
        group_widths = [group_width] * num_stages
        stage_widths, group_widths = cls._adjust_widths_groups_compatibilty(stage_widths, bottleneck_multipliers,
                                                                            group_widths)
        return cls(depths=stage_depths, widths=stage_widths, group_widths=group_widths,
                   bottleneck_multipliers=bottleneck_multipliers, strides=strides, se_ratio=se_ratio)

    def _get_expanded_params(self):
        return zip(self.widths, self.strides, self.depths, self.group_widths, self.bottleneck_multipliers)

    @staticmethod
    def _adjust_widths_groups_compatibilty(stage_widths, bottleneck_ratios, group_widths):
        widths = [int(w * b) for w, b in zip(stage_widths, bottleneck_ratios)]
        group_widths_min = [min(g, w_bot) for g, w_bot in zip(group_widths, widths)]
        ws_bot = [_make_divisible(w_bot, g) for w_bot, g in zip(widths, group_widths_min)]
        stage_widths = [int(w_bot / b) for w_bot, b in zip(ws_bot, bottleneck_ratios)]
        return stage_widths, group_widths_min


class RegNet(nn.Module):
    def __init__(self, block_params, num_classes=1000, stem_width=32, stem_type=None, block_type=None,
                 norm_layer=None, activation=None):
        super().__init__()
        stem_type = stem_type or SimpleStemIN
        norm_layer = norm_layer or nn.BatchNorm2d
        block_type = block_type or ResBottleneckBlock
        activation = activation or nn.ReLU
        self.stem = stem_type(3, stem_width, norm_layer, activation)
        current_width = stem_width
        blocks = []
        for i, (width_out, stride, depth, group_width, bottleneck_multiplier) in enumerate(
            block_params._get_expanded_params()
        ):
            blocks.append((f"block{i + 1}", AnyStage(current_width, width_out, stride, depth, block_type, norm_layer,
                                                     activation, group_width, bottleneck_multiplier,
                                                     block_params.se_ratio, stage_index=i + 1)))
            current_width = width_out
        self.trunk_output = nn.Sequential(OrderedDict(blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=current_width, out_features=num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.stem(x)
        x = self.trunk_output(x)
        x = self.avgpool(x)
        x = x.flatten(start_dim=1)
        return self.fc(x)


_URL = "https://download.pytorch.org/models/"
_V12 = ("IMAGENET1K_V1", "IMAGENET1K_V2")
# builder: (depth, w_0, w_a, w_m, group_width, se_ratio, {member: (file, num_params)}, default)
_CONFIGS = {
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8, 0.25, dict(zip(_V12, [("regnet_y_400mf-c65dace8.pth", 4344144),
                                                                      ("regnet_y_400mf-e6988f5f.pth", 4344144)]))),
    "regnet_y_800mf": (14, 56, 38.84, 2.4, 16, 0.25, dict(zip(_V12, [("regnet_y_800mf-1b27b58c.pth", 6432512),
                                                                      ("regnet_y_800mf-58fc7688.pth", 6432512)]))),
    "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24, 0.25, dict(zip(_V12, [("regnet_y_1_6gf-b11a554e.pth", 11202430),
                                                                       ("regnet_y_1_6gf-0d7bc02a.pth", 11202430)]))),
    "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24, 0.25, dict(zip(_V12, [("regnet_y_3_2gf-b5a9779c.pth", 19436338),
                                                                       ("regnet_y_3_2gf-9180c971.pth", 19436338)]))),
    "regnet_y_8gf": (17, 192, 76.82, 2.19, 56, 0.25, dict(zip(_V12, [("regnet_y_8gf-d0d0e4a8.pth", 39381472),
                                                                      ("regnet_y_8gf-dc2b1b54.pth", 39381472)]))),
    "regnet_y_16gf": (18, 200, 106.23, 2.48, 112, 0.25, {
        "IMAGENET1K_V1": ("regnet_y_16gf-9e6ed7dd.pth", 83590140), "IMAGENET1K_V2": ("regnet_y_16gf-3e4a00f9.pth", 83590140),
        "IMAGENET1K_SWAG_E2E_V1": ("regnet_y_16gf_swag-43afe44d.pth", 83590140),
        "IMAGENET1K_SWAG_LINEAR_V1": ("regnet_y_16gf_lc_swag-f3ec0043.pth", 83590140)}),
    "regnet_y_32gf": (20, 232, 115.89, 2.53, 232, 0.25, {
        "IMAGENET1K_V1": ("regnet_y_32gf-4dee3f7a.pth", 145046770),
        "IMAGENET1K_V2": ("regnet_y_32gf-8db6d4b5.pth", 145046770),
        "IMAGENET1K_SWAG_E2E_V1": ("regnet_y_32gf_swag-04fdfa75.pth", 145046770),
        "IMAGENET1K_SWAG_LINEAR_V1": ("regnet_y_32gf_lc_swag-e1583746.pth", 145046770)}),
    "regnet_y_128gf": (27, 456, 160.83, 2.52, 264, 0.25, {
        "IMAGENET1K_SWAG_E2E_V1": ("regnet_y_128gf_swag-c8ce3e52.pth", 644812894),
        "IMAGENET1K_SWAG_LINEAR_V1": ("regnet_y_128gf_lc_swag-cbe8ce12.pth", 644812894)}),
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16, None, dict(zip(_V12, [("regnet_x_400mf-adf1edd5.pth", 5495976),
                                                                       ("regnet_x_400mf-62229a5f.pth", 5495976)]))),
    "regnet_x_800mf": (16, 56, 35.73, 2.28, 16, None, dict(zip(_V12, [("regnet_x_800mf-ad17e45c.pth", 7259656),
                                                                       ("regnet_x_800mf-94a99ebd.pth", 7259656)]))),
    "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24, None, dict(zip(_V12, [("regnet_x_1_6gf-e3633e7f.pth", 9190136),
                                                                       ("regnet_x_1_6gf-a12f2b72.pth", 9190136)]))),
    "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48, None, dict(zip(_V12, [("regnet_x_3_2gf-f342aeae.pth", 15296552),
                                                                       ("regnet_x_3_2gf-7071aa85.pth", 15296552)]))),
    "regnet_x_8gf": (23, 80, 49.56, 2.88, 120, None, dict(zip(_V12, [("regnet_x_8gf-03ceed89.pth", 39572648),
                                                                      ("regnet_x_8gf-2b70d774.pth", 39572648)]))),
    "regnet_x_16gf": (22, 216, 55.59, 2.1, 128, None, dict(zip(_V12, [("regnet_x_16gf-2007eb11.pth", 54278536),
                                                                       ("regnet_x_16gf-ba3796d7.pth", 54278536)]))),
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168, None, dict(zip(_V12, [("regnet_x_32gf-9d47f8d0.pth", 107811560),
                                                                       ("regnet_x_32gf-6eb8fdc6.pth", 107811560)]))),
}


def _make(builder_name):
    depth, w_0, w_a, w_m, group_width, se_ratio, members = _CONFIGS[builder_name]
    default = "IMAGENET1K_V2" if "IMAGENET1K_V2" in members else "IMAGENET1K_SWAG_E2E_V1"
    enum_name = "RegNet_" + builder_name[len("regnet_"):].upper() + "_Weights"
    weights_enum = _weights_enum(enum_name, {k: (_URL + f, n) for k, (f, n) in members.items()}, default)

    def builder(*, weights=None, progress=True, **kwargs):
        _handle_weights(builder_name, weights_enum, weights, kwargs)
        se = {} if se_ratio is None else {"se_ratio": se_ratio}
        params = BlockParams.from_init_params(depth=depth, w_0=w_0, w_a=w_a, w_m=w_m, group_width=group_width, **se,
                                              **kwargs)
        norm_layer = kwargs.pop("norm_layer", partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1))
        return RegNet(params, norm_layer=norm_layer, **kwargs)

    _publish_builder(builder, builder_name, weights_enum, enum_name, globals())


for _name in _CONFIGS:
    _make(_name)
