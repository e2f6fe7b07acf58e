"""``Conv2dNormActivation`` (torchvision's conv -> norm -> activation block, a Sequential)
and ``SqueezeExcitation``: the blocks the models share with ``torchvision.ops``."""

from ... import nn

__all__ = ["Conv2dNormActivation", "SqueezeExcitation"]


def conv_norm_activation_layers(conv, dims, in_channels, out_channels, kernel_size, stride, padding, groups,
                                norm_layer, activation_layer, dilation, inplace, bias):
    """The children of torchvision's ConvNormActivation blocks (``dims``-d conv,
    then the optional norm and activation)."""
    if padding is None:
        if isinstance(kernel_size, int) and isinstance(dilation, int):
            padding = (kernel_size - 1) // 2 * dilation
        else:
            ks = (kernel_size,) * dims if isinstance(kernel_size, int) else tuple(kernel_size)
            dl = (dilation,) * dims if isinstance(dilation, int) else tuple(dilation)
            padding = tuple((k - 1) // 2 * d for k, d in zip(ks, dl))
    if bias is None:
        bias = norm_layer is None
    layers = [conv(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation, groups=groups,
                   bias=bias)]
    if norm_layer is not None:
        layers.append(norm_layer(out_channels))
    if activation_layer is not None:
        layers.append(activation_layer(**({} if inplace is None else {"inplace": inplace})))
    return layers


class Conv2dNormActivation(nn.Sequential):
    """Conv2d, then ``norm_layer`` (default BatchNorm2d), then ``activation_layer``
    (default ReLU); children named ``0``, ``1``, ``2`` as in torchvision. The
    padding defaults to ``(kernel_size - 1) // 2 * dilation``; the convolution has
    a bias only when there is no norm layer (unless ``bias`` says otherwise)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=1,
        padding=None,
        groups=1,
        norm_layer=nn.BatchNorm2d,
        activation_layer=nn.ReLU,
        dilation=1,
        inplace=True,
        bias=None,
    ):
        super().__init__(*conv_norm_activation_layers(
            nn.Conv2d, 2, in_channels, out_channels, kernel_size, stride, padding, groups, norm_layer,
            activation_layer, dilation, inplace, bias))
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Channel attention: global average pool, 1x1 conv down, activation, 1x1 conv up,
    ``scale_activation``, times the input."""

    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input):
        scale = self.avgpool(input)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale)

    def forward(self, input):
        return self._scale(input) * input
