"""VGG (torchvision's structure, parameter names and initialisation)."""

from ... import flatten, nn
from ._api import _WEIGHTS_OF, _handle_weights, _weights_enum, register_model

__all__ = [
    "VGG",
    "VGG11_BN_Weights",
    "VGG11_Weights",
    "VGG13_BN_Weights",
    "VGG13_Weights",
    "VGG16_BN_Weights",
    "VGG16_Weights",
    "VGG19_BN_Weights",
    "VGG19_Weights",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]


class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = flatten(x, 1)
        return self.classifier(x)


def make_layers(cfg, batch_norm=False):
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}

_URL = "https://download.pytorch.org/models/"
VGG11_Weights = _weights_enum("VGG11_Weights", {"IMAGENET1K_V1": (_URL + "vgg11-8a719046.pth", 132863336)}, "IMAGENET1K_V1")
VGG11_BN_Weights = _weights_enum(
    "VGG11_BN_Weights", {"IMAGENET1K_V1": (_URL + "vgg11_bn-6002323d.pth", 132868840)}, "IMAGENET1K_V1"
)
VGG13_Weights = _weights_enum("VGG13_Weights", {"IMAGENET1K_V1": (_URL + "vgg13-19584684.pth", 133047848)}, "IMAGENET1K_V1")
VGG13_BN_Weights = _weights_enum(
    "VGG13_BN_Weights", {"IMAGENET1K_V1": (_URL + "vgg13_bn-abd245e5.pth", 133053736)}, "IMAGENET1K_V1"
)
VGG16_Weights = _weights_enum(
    "VGG16_Weights",
    {
        "IMAGENET1K_V1": (_URL + "vgg16-397923af.pth", 138357544),
        "IMAGENET1K_FEATURES": (_URL + "vgg16_features-amdegroot-88682ab5.pth", 138357544),
    },
    "IMAGENET1K_V1",
)
VGG16_BN_Weights = _weights_enum(
    "VGG16_BN_Weights", {"IMAGENET1K_V1": (_URL + "vgg16_bn-6c64b313.pth", 138365992)}, "IMAGENET1K_V1"
)
VGG19_Weights = _weights_enum("VGG19_Weights", {"IMAGENET1K_V1": (_URL + "vgg19-dcbb9e9d.pth", 143667240)}, "IMAGENET1K_V1")
VGG19_BN_Weights = _weights_enum(
    "VGG19_BN_Weights", {"IMAGENET1K_V1": (_URL + "vgg19_bn-c79401a0.pth", 143678248)}, "IMAGENET1K_V1"
)


def _builder(name, weights_enum, cfg, batch_norm):
    def build(*, weights=None, progress=True, **kwargs):
        _handle_weights(name, weights_enum, weights, kwargs)
        return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__module__ = __name__
    build.__doc__ = (
        f"{name}: torchvision's architecture; ``weights`` must be None (no downloads here: "
        f'load a local checkpoint with ``model.load_state_dict(rustdl.load("{name}.pth"))``).'
    )
    _WEIGHTS_OF[name] = weights_enum
    return register_model(name)(build)


vgg11 = _builder("vgg11", VGG11_Weights, "A", False)
vgg11_bn = _builder("vgg11_bn", VGG11_BN_Weights, "A", True)
vgg13 = _builder("vgg13", VGG13_Weights, "B", False)
vgg13_bn = _builder("vgg13_bn", VGG13_BN_Weights, "B", True)
vgg16 = _builder("vgg16", VGG16_Weights, "D", False)
vgg16_bn = _builder("vgg16_bn", VGG16_BN_Weights, "D", True)
vgg19 = _builder("vgg19", VGG19_Weights, "E", False)
vgg19_bn = _builder("vgg19_bn", VGG19_BN_Weights, "E", True)
