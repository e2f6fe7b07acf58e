"""ShuffleNetV2 x0.5 / x1.0 / x1.5 / x2.0 (torchvision's structure and parameter names;
PyTorch's default initialisation, as torchvision)."""

import rustdl

from ... import nn
from ._api import _WEIGHTS_OF, _handle_weights, _weights_enum, register_model

__all__ = ["ShuffleNetV2", "ShuffleNet_V2_X0_5_Weights", "ShuffleNet_V2_X1_0_Weights", "ShuffleNet_V2_X1_5_Weights",
           "ShuffleNet_V2_X2_0_Weights", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
           "shufflenet_v2_x2_0"]


def channel_shuffle(x, groups):
    batchsize, num_channels, height, width = x.shape
    x = x.reshape(batchsize, groups, num_channels // groups, height, width)
    return x.transpose(1, 2).contiguous().reshape(batchsize, num_channels, height, width)


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride):
        super().__init__()
        if not (1 <= stride <= 3):
            raise ValueError("illegal stride value")
        self.stride = stride
        branch_features = oup // 2
        if self.stride == 1 and inp != branch_features << 1:
            raise ValueError(
                f"Invalid combination of stride {stride}, inp {inp} and oup {oup} values. If stride == 1 then inp "
                "should be equal to oup // 2 << 1."
            )
        if self.stride > 1:
            self.branch1 = nn.Sequential(
                self.depthwise_conv(inp, inp, kernel_size=3, stride=self.stride, padding=1),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, kernel_size=1, stride=1, padding=0, bias=False),
                nn.BatchNorm2d(branch_features),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if self.stride > 1 else branch_features, branch_features, kernel_size=1, stride=1,
                      padding=0, bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
            self.depthwise_conv(branch_features, branch_features, kernel_size=3, stride=self.stride, padding=1),
            nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, kernel_size=1, stride=1, padding=0, bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
        )

    @staticmethod
    def depthwise_conv(i, o, kernel_size, stride=1, padding=0, bias=False):
        return nn.Conv2d(i, o, kernel_size, stride, padding, bias=bias, groups=i)

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = rustdl.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = rustdl.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, stages_repeats, stages_out_channels, num_classes=1000, inverted_residual=InvertedResidual):
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = stages_out_channels
        input_channels = 3
        output_channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        input_channels = output_channels
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for name, repeats, output_channels in zip(("stage2", "stage3", "stage4"), stages_repeats,
                                                  stages_out_channels[1:]):
            seq = [inverted_residual(input_channels, output_channels, 2)]
            seq += [inverted_residual(output_channels, output_channels, 1) for _ in range(repeats - 1)]
            setattr(self, name, nn.Sequential(*seq))
            input_channels = output_channels
        output_channels = stages_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 1, 1, 0, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        self.fc = nn.Linear(output_channels, num_classes)

    def _forward_impl(self, x):
        x = self.conv1(x)
        x = self.maxpool(x)
        x = self.stage2(x)
        x = self.stage3(x)
        x = self.stage4(x)
        x = self.conv5(x)
        x = x.mean([2, 3])
        return self.fc(x)

    def forward(self, x):
        return self._forward_impl(x)


_CONFIGS = {
    "shufflenet_v2_x0_5": ("ShuffleNet_V2_X0_5_Weights", [24, 48, 96, 192, 1024],
                           "https://download.pytorch.org/models/shufflenetv2_x0.5-f707e7126e.pth", 1366792),
    "shufflenet_v2_x1_0": ("ShuffleNet_V2_X1_0_Weights", [24, 116, 232, 464, 1024],
                           "https://download.pytorch.org/models/shufflenetv2_x1-5666bf0f80.pth", 2278604),
    "shufflenet_v2_x1_5": ("ShuffleNet_V2_X1_5_Weights", [24, 176, 352, 704, 1024],
                           "https://download.pytorch.org/models/shufflenetv2_x1_5-3c479a10.pth", 3503624),
    "shufflenet_v2_x2_0": ("ShuffleNet_V2_X2_0_Weights", [24, 244, 488, 976, 2048],
                           "https://download.pytorch.org/models/shufflenetv2_x2_0-8be3c8ee.pth", 7393996),
}


def _make(builder_name):
    enum_name, channels, url, n = _CONFIGS[builder_name]
    weights_enum = _weights_enum(enum_name, {"IMAGENET1K_V1": (url, n)}, "IMAGENET1K_V1")

    def builder(*, weights=None, progress=True, **kwargs):
        _handle_weights(builder_name, weights_enum, weights, kwargs)
        return ShuffleNetV2([4, 8, 4], channels, **kwargs)

    builder.__name__ = builder.__qualname__ = builder_name
    builder.__doc__ = f"ShuffleNetV2 ({builder_name}); ``weights`` must be None (load a local checkpoint instead)."
    register_model()(builder)
    _WEIGHTS_OF[builder_name] = weights_enum
    return weights_enum, builder


ShuffleNet_V2_X0_5_Weights, shufflenet_v2_x0_5 = _make("shufflenet_v2_x0_5")
ShuffleNet_V2_X1_0_Weights, shufflenet_v2_x1_0 = _make("shufflenet_v2_x1_0")
ShuffleNet_V2_X1_5_Weights, shufflenet_v2_x1_5 = _make("shufflenet_v2_x1_5")
ShuffleNet_V2_X2_0_Weights, shufflenet_v2_x2_0 = _make("shufflenet_v2_x2_0")
