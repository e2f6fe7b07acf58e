"""``torchvision.ops.misc`` blocks (shared with the models): conv-norm-activation
blocks, ``FrozenBatchNorm2d``, ``SqueezeExcitation``, ``MLP``, ``Permute``; module
trees and parameter names as torchvision's, so state dicts match."""

from rustdl import nn

from ..models._misc import Conv2dNormActivation, SqueezeExcitation, conv_norm_activation_layers

__all__ = ["MLP", "Conv2dNormActivation", "Conv3dNormActivation", "FrozenBatchNorm2d", "Permute", "SqueezeExcitation"]


class Conv3dNormActivation(nn.Sequential):
    """Conv3d, then ``norm_layer`` (default BatchNorm3d), then ``activation_layer``."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=1,
        padding=None,
        groups=1,
        norm_layer=nn.BatchNorm3d,
        activation_layer=nn.ReLU,
        dilation=1,
        inplace=True,
        bias=None,
    ):
        super().__init__(*conv_norm_activation_layers(
            nn.Conv3d, 3, in_channels, out_channels, kernel_size, stride, padding, groups, norm_layer,
            activation_layer, dilation, inplace, bias))
        self.out_channels = out_channels


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters (buffers, not parameters)."""

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        import rustdl

        self.eps = eps
        self.register_buffer("weight", rustdl.ones(num_features))
        self.register_buffer("bias", rustdl.zeros(num_features))
        self.register_buffer("running_mean", rustdl.zeros(num_features))
        self.register_buffer("running_var", rustdl.ones(num_features))

    def load_state_dict(self, state_dict, strict=True, *args, **kwargs):
        # a BatchNorm2d state dict loads: its num_batches_tracked is dropped, as torchvision
        state_dict = {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
        return super().load_state_dict(state_dict, strict, *args, **kwargs)

    def forward(self, x):
        w = self.weight.reshape(1, -1, 1, 1)
        b = self.bias.reshape(1, -1, 1, 1)
        rv = self.running_var.reshape(1, -1, 1, 1)
        rm = self.running_mean.reshape(1, -1, 1, 1)
        scale = w * (rv + self.eps).rsqrt()
        bias = b - rm * scale
        return x * scale + bias

    def __repr__(self):
        return f"{self.__class__.__name__}({self.weight.shape[0]}, eps={self.eps})"


class MLP(nn.Sequential):
    """Linear layers (``hidden_channels``) with ``norm_layer``, activation and dropout
    between them, a final Linear and Dropout; children numbered as torchvision's."""

    def __init__(self, in_channels, hidden_channels, norm_layer=None, activation_layer=nn.ReLU, inplace=None,
                 bias=True, dropout=0.0):
        params = {} if inplace is None else {"inplace": inplace}
        layers = []
        in_dim = in_channels
        for hidden_dim in hidden_channels[:-1]:
            layers.append(nn.Linear(in_dim, hidden_dim, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden_dim))
            layers.append(activation_layer(**params))
            layers.append(nn.Dropout(dropout, **params))
            in_dim = hidden_dim
        layers.append(nn.Linear(in_dim, hidden_channels[-1], bias=bias))
        layers.append(nn.Dropout(dropout, **params))
        super().__init__(*layers)


class Permute(nn.Module):
    """``x.permute(dims)`` as a module."""

    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)
