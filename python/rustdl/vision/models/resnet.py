"""ResNet (torchvision's structure, parameter names and initialisation)."""

from ... import flatten, nn
from ._api import _WEIGHTS_OF, _handle_weights, _weights_enum, register_model

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNeXt50_32X4D_Weights",
    "ResNeXt101_32X8D_Weights",
    "ResNeXt101_64X4D_Weights",
    "ResNet",
    "ResNet18_Weights",
    "ResNet34_Weights",
    "ResNet50_Weights",
    "ResNet101_Weights",
    "ResNet152_Weights",
    "Wide_ResNet50_2_Weights",
    "Wide_ResNet101_2_Weights",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet50_2",
    "wide_resnet101_2",
]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution with padding"""
    return nn.Conv2d(
        in_planes,
        out_planes,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        groups=groups,
        bias=False,
        dilation=dilation,
    )


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution"""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1, norm_layer=None
    ):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1, norm_layer=None
    ):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(
        self,
        block,
        layers,
        num_classes=1000,
        zero_init_residual=False,
        groups=1,
        width_per_group=64,
        replace_stride_with_dilation=None,
        norm_layer=None,
    ):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(
                "replace_stride_with_dilation should be None "
                f"or a 3-element tuple, got {replace_stride_with_dilation}"
            )
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        # Zero-initialize the last BN in each residual branch, so that the residual
        # branch starts with zeros and each residual block behaves like an identity.
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = [
            block(
                self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation, norm_layer
            )
        ]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(
                block(
                    self.inplanes,
                    planes,
                    groups=self.groups,
                    base_width=self.base_width,
                    dilation=self.dilation,
                    norm_layer=norm_layer,
                )
            )
        return nn.Sequential(*layers)

    def _forward_impl(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = flatten(x, 1)
        return self.fc(x)

    def forward(self, x):
        return self._forward_impl(x)


_URL = "https://download.pytorch.org/models/"
ResNet18_Weights = _weights_enum(
    "ResNet18_Weights", {"IMAGENET1K_V1": (_URL + "resnet18-f37072fd.pth", 11689512)}, "IMAGENET1K_V1"
)
ResNet34_Weights = _weights_enum(
    "ResNet34_Weights", {"IMAGENET1K_V1": (_URL + "resnet34-b627a593.pth", 21797672)}, "IMAGENET1K_V1"
)
ResNet50_Weights = _weights_enum(
    "ResNet50_Weights",
    {
        "IMAGENET1K_V1": (_URL + "resnet50-0676ba61.pth", 25557032),
        "IMAGENET1K_V2": (_URL + "resnet50-11ad3fa6.pth", 25557032),
    },
    "IMAGENET1K_V2",
)
ResNet101_Weights = _weights_enum(
    "ResNet101_Weights",
    {
        "IMAGENET1K_V1": (_URL + "resnet101-63fe2227.pth", 44549160),
        "IMAGENET1K_V2": (_URL + "resnet101-cd907fc2.pth", 44549160),
    },
    "IMAGENET1K_V2",
)
ResNet152_Weights = _weights_enum(
    "ResNet152_Weights",
    {
        "IMAGENET1K_V1": (_URL + "resnet152-394f9c45.pth", 60192808),
        "IMAGENET1K_V2": (_URL + "resnet152-f82ba261.pth", 60192808),
    },
    "IMAGENET1K_V2",
)
ResNeXt50_32X4D_Weights = _weights_enum(
    "ResNeXt50_32X4D_Weights",
    {
        "IMAGENET1K_V1": (_URL + "resnext50_32x4d-7cdf4587.pth", 25028904),
        "IMAGENET1K_V2": (_URL + "resnext50_32x4d-1a0047aa.pth", 25028904),
    },
    "IMAGENET1K_V2",
)
ResNeXt101_32X8D_Weights = _weights_enum(
    "ResNeXt101_32X8D_Weights",
    {
        "IMAGENET1K_V1": (_URL + "resnext101_32x8d-8ba56ff5.pth", 88791336),
        "IMAGENET1K_V2": (_URL + "resnext101_32x8d-110c445d.pth", 88791336),
    },
    "IMAGENET1K_V2",
)
ResNeXt101_64X4D_Weights = _weights_enum(
    "ResNeXt101_64X4D_Weights", {"IMAGENET1K_V1": (_URL + "resnext101_64x4d-173b62eb.pth", 83455272)}, "IMAGENET1K_V1"
)
Wide_ResNet50_2_Weights = _weights_enum(
    "Wide_ResNet50_2_Weights",
    {
        "IMAGENET1K_V1": (_URL + "wide_resnet50_2-95faca4d.pth", 68883240),
        "IMAGENET1K_V2": (_URL + "wide_resnet50_2-9ba9bcbe.pth", 68883240),
    },
    "IMAGENET1K_V2",
)
Wide_ResNet101_2_Weights = _weights_enum(
    "Wide_ResNet101_2_Weights",
    {
        "IMAGENET1K_V1": (_URL + "wide_resnet101_2-32ee1156.pth", 126886696),
        "IMAGENET1K_V2": (_URL + "wide_resnet101_2-d733dc28.pth", 126886696),
    },
    "IMAGENET1K_V2",
)


def _builder(name, weights_enum, block, layers, **fixed):
    def build(*, weights=None, progress=True, **kwargs):
        _handle_weights(name, weights_enum, weights, kwargs)
        return ResNet(block, layers, **fixed, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__module__ = __name__
    build.__doc__ = (
        f"{name}: torchvision's architecture; ``weights`` must be None (no downloads here: "
        f'load a local checkpoint with ``model.load_state_dict(rustdl.load("{name}.pth"))``). '
        "Other keyword arguments go to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...)."
    )
    _WEIGHTS_OF[name] = weights_enum
    return register_model(name)(build)


resnet18 = _builder("resnet18", ResNet18_Weights, BasicBlock, [2, 2, 2, 2])
resnet34 = _builder("resnet34", ResNet34_Weights, BasicBlock, [3, 4, 6, 3])
resnet50 = _builder("resnet50", ResNet50_Weights, Bottleneck, [3, 4, 6, 3])
resnet101 = _builder("resnet101", ResNet101_Weights, Bottleneck, [3, 4, 23, 3])
resnet152 = _builder("resnet152", ResNet152_Weights, Bottleneck, [3, 8, 36, 3])
resnext50_32x4d = _builder(
    "resnext50_32x4d", ResNeXt50_32X4D_Weights, Bottleneck, [3, 4, 6, 3], groups=32, width_per_group=4
)
resnext101_32x8d = _builder(
    "resnext101_32x8d", ResNeXt101_32X8D_Weights, Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=8
)
resnext101_64x4d = _builder(
    "resnext101_64x4d", ResNeXt101_64X4D_Weights, Bottleneck, [3, 4, 23, 3], groups=64, width_per_group=4
)
wide_resnet50_2 = _builder("wide_resnet50_2", Wide_ResNet50_2_Weights, Bottleneck, [3, 4, 6, 3], width_per_group=128)
wide_resnet101_2 = _builder(
    "wide_resnet101_2", Wide_ResNet101_2_Weights, Bottleneck, [3, 4, 23, 3], width_per_group=128
)
