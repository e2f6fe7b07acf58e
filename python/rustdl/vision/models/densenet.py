"""DenseNet-121/161/169/201 (torchvision's structure, parameter names and initialisation).

``memory_efficient=True`` is accepted and computes the same values without
checkpointing. torchvision's published DenseNet checkpoints use an older key
spelling (``norm.1``); torchvision renames those keys when it downloads them, so
rename them the same way (``re.sub(r"\\.(norm|relu|conv)\\.(\\d)", r".\\1\\2", key)``)
before ``load_state_dict`` on a local copy."""

from collections import OrderedDict

import rustdl

from ... import nn
from ...nn import functional as F
from ._api import _WEIGHTS_OF, _handle_weights, _weights_enum, register_model

__all__ = ["DenseNet", "DenseNet121_Weights", "DenseNet161_Weights", "DenseNet169_Weights", "DenseNet201_Weights",
           "densenet121", "densenet161", "densenet169", "densenet201"]


class _DenseLayer(nn.Module):
    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate, memory_efficient=False):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def bn_function(self, inputs):
        return self.conv1(self.relu1(self.norm1(rustdl.cat(inputs, 1))))

    def forward(self, input):
        prev_features = [input] if isinstance(input, rustdl.Tensor) else input
        new_features = self.conv2(self.relu2(self.norm2(self.bn_function(prev_features))))
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return new_features


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate, memory_efficient=False):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate=growth_rate, bn_size=bn_size,
                                drop_rate=drop_rate, memory_efficient=memory_efficient)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return rustdl.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4, drop_rate=0,
                 num_classes=1000, memory_efficient=False):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers=num_layers, num_input_features=num_features, bn_size=bn_size,
                                growth_rate=growth_rate, drop_rate=drop_rate, memory_efficient=memory_efficient)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features = num_features + num_layers * growth_rate
            if i != len(block_config) - 1:
                trans = _Transition(num_input_features=num_features, num_output_features=num_features // 2)
                self.features.add_module(f"transition{i + 1}", trans)
                num_features = num_features // 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        features = self.features(x)
        out = F.relu(features, inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        out = out.flatten(1)
        return self.classifier(out)


_CONFIGS = {
    "densenet121": ("DenseNet121_Weights", 32, (6, 12, 24, 16), 64,
                    "https://download.pytorch.org/models/densenet121-a639ec97.pth", 7978856),
    "densenet161": ("DenseNet161_Weights", 48, (6, 12, 36, 24), 96,
                    "https://download.pytorch.org/models/densenet161-8d451a50.pth", 28681000),
    "densenet169": ("DenseNet169_Weights", 32, (6, 12, 32, 32), 64,
                    "https://download.pytorch.org/models/densenet169-b2777c0a.pth", 14149480),
    "densenet201": ("DenseNet201_Weights", 32, (6, 12, 48, 32), 64,
                    "https://download.pytorch.org/models/densenet201-c1103571.pth", 20013928),
}


def _make(builder_name):
    enum_name, growth, blocks, init_features, url, n = _CONFIGS[builder_name]
    weights_enum = _weights_enum(enum_name, {"IMAGENET1K_V1": (url, n)}, "IMAGENET1K_V1")

    def builder(*, weights=None, progress=True, **kwargs):
        _handle_weights(builder_name, weights_enum, weights, kwargs)
        return DenseNet(growth, blocks, init_features, **kwargs)

    builder.__name__ = builder.__qualname__ = builder_name
    builder.__doc__ = f"{builder_name}; ``weights`` must be None (load a local checkpoint instead)."
    register_model()(builder)
    _WEIGHTS_OF[builder_name] = weights_enum
    return weights_enum, builder


DenseNet121_Weights, densenet121 = _make("densenet121")
DenseNet161_Weights, densenet161 = _make("densenet161")
DenseNet169_Weights, densenet169 = _make("densenet169")
DenseNet201_Weights, densenet201 = _make("densenet201")
