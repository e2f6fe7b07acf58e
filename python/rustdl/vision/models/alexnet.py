"""AlexNet (torchvision's structure and parameter names; PyTorch's default layer init)."""

from ... import flatten, nn
from ._api import _WEIGHTS_OF, _handle_weights, _weights_enum, register_model

__all__ = ["AlexNet", "AlexNet_Weights", "alexnet"]


class AlexNet(nn.Module):
    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = flatten(x, 1)
        return self.classifier(x)


AlexNet_Weights = _weights_enum(
    "AlexNet_Weights",
    {"IMAGENET1K_V1": ("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", 61100840)},
    "IMAGENET1K_V1",
)


@register_model()
def alexnet(*, weights=None, progress=True, **kwargs):
    """AlexNet; ``weights`` must be None (no downloads here: load a local checkpoint
    with ``model.load_state_dict(rustdl.load("alexnet.pth"))``)."""
    _handle_weights("alexnet", AlexNet_Weights, weights, kwargs)
    return AlexNet(**kwargs)


_WEIGHTS_OF["alexnet"] = AlexNet_Weights
