"""Vision Transformer B/16, B/32, L/16, L/32, H/14 (torchvision's structure, parameter
names and initialisation; attention is ``nn.MultiheadAttention`` with ``batch_first``)."""

import math
from collections import OrderedDict
from functools import partial
from typing import NamedTuple

import rustdl

from ... import nn
from ..ops.misc import MLP
from ._api import _handle_weights, _publish_builder, _weights_enum
from ._misc import Conv2dNormActivation

__all__ = ["VisionTransformer"]


class ConvStemConfig(NamedTuple):
    out_channels: int
    kernel_size: int
    stride: int
    norm_layer: object = nn.BatchNorm2d
    activation_layer: object = nn.ReLU


class MLPBlock(MLP):
    """Transformer MLP block (children ``0``..``4`` as torchvision's version 2)."""

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(in_dim, [mlp_dim, in_dim], activation_layer=nn.GELU, inplace=None, dropout=dropout)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)


_LN = partial(nn.LayerNorm, eps=1e-6)


class EncoderBlock(nn.Module):
    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout, norm_layer=_LN):
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input):
        if input.dim() != 3:
            raise RuntimeError(f"Expected (batch_size, seq_length, hidden_dim) got {tuple(input.shape)}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                 norm_layer=_LN):
        super().__init__()
        self.pos_embedding = nn.Parameter(rustdl.empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        layers = OrderedDict()
        for i in range(num_layers):
            layers[f"encoder_layer_{i}"] = EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                                                        norm_layer)
        self.layers = nn.Sequential(layers)
        self.ln = norm_layer(hidden_dim)

    def forward(self, input):
        if input.dim() != 3:
            raise RuntimeError(f"Expected (batch_size, seq_length, hidden_dim) got {tuple(input.shape)}")
        input = input + self.pos_embedding
        return self.ln(self.layers(self.dropout(input)))


class VisionTransformer(nn.Module):
    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, dropout=0.0,
                 attention_dropout=0.0, num_classes=1000, representation_size=None, norm_layer=_LN,
                 conv_stem_configs=None):
        super().__init__()
        if image_size % patch_size != 0:
            raise ValueError("Input shape indivisible by patch size!")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.norm_layer = norm_layer
        if conv_stem_configs is not None:
            seq_proj = nn.Sequential()
            prev = 3
            for i, cfg in enumerate(conv_stem_configs):
                seq_proj.add_module(f"conv_bn_relu_{i}", Conv2dNormActivation(
                    in_channels=prev, out_channels=cfg.out_channels, kernel_size=cfg.kernel_size, stride=cfg.stride,
                    norm_layer=cfg.norm_layer, activation_layer=cfg.activation_layer))
                prev = cfg.out_channels
            seq_proj.add_module("conv_last", nn.Conv2d(in_channels=prev, out_channels=hidden_dim, kernel_size=1))
            self.conv_proj = seq_proj
        else:
            self.conv_proj = nn.Conv2d(in_channels=3, out_channels=hidden_dim, kernel_size=patch_size,
                                       stride=patch_size)
        seq_length = (image_size // patch_size) ** 2
        self.class_token = nn.Parameter(rustdl.zeros(1, 1, hidden_dim))
        seq_length += 1
        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                               norm_layer)
        self.seq_length = seq_length
        heads = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)
        if isinstance(self.conv_proj, nn.Conv2d):
            fan_in = self.conv_proj.in_channels * self.conv_proj.kernel_size[0] * self.conv_proj.kernel_size[1]
            nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
            if self.conv_proj.bias is not None:
                nn.init.zeros_(self.conv_proj.bias)
        else:
            last = self.conv_proj.conv_last
            nn.init.normal_(last.weight, mean=0.0, std=math.sqrt(2.0 / last.out_channels))
            if last.bias is not None:
                nn.init.zeros_(last.bias)
        if representation_size is not None:
            fan_in = self.heads.pre_logits.in_features
            nn.init.trunc_normal_(self.heads.pre_logits.weight, std=math.sqrt(1 / fan_in))
            nn.init.zeros_(self.heads.pre_logits.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        n, _, h, w = x.shape
        p = self.patch_size
        if h != self.image_size or w != self.image_size:
            raise RuntimeError(f"Wrong image height/width! Expected {self.image_size} but got {h}/{w}!")
        x = self.conv_proj(x)
        x = x.reshape(n, self.hidden_dim, (h // p) * (w // p))
        return x.permute(0, 2, 1)

    def forward(self, x):
        x = self._process_input(x)
        n = x.shape[0]
        x = rustdl.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        x = self.encoder(x)
        return self.heads(x[:, 0])


_URL = "https://download.pytorch.org/models/"
_CONFIGS = {
    "vit_b_16": ("ViT_B_16_Weights", (16, 12, 12, 768, 3072),
                 {"IMAGENET1K_V1": ("vit_b_16-c867db91.pth", 86567656),
                  "IMAGENET1K_SWAG_E2E_V1": ("vit_b_16_swag-9ac1b537.pth", 86859496),
                  "IMAGENET1K_SWAG_LINEAR_V1": ("vit_b_16_lc_swag-4e70ced5.pth", 86567656)}, "IMAGENET1K_V1"),
    "vit_b_32": ("ViT_B_32_Weights", (32, 12, 12, 768, 3072),
                 {"IMAGENET1K_V1": ("vit_b_32-d86f8d99.pth", 88224232)}, "IMAGENET1K_V1"),
    "vit_l_16": ("ViT_L_16_Weights", (16, 24, 16, 1024, 4096),
                 {"IMAGENET1K_V1": ("vit_l_16-852ce7e3.pth", 304326632),
                  "IMAGENET1K_SWAG_E2E_V1": ("vit_l_16_swag-4f3808c9.pth", 305174504),
                  "IMAGENET1K_SWAG_LINEAR_V1": ("vit_l_16_lc_swag-4d563306.pth", 304326632)}, "IMAGENET1K_V1"),
    "vit_l_32": ("ViT_L_32_Weights", (32, 24, 16, 1024, 4096),
                 {"IMAGENET1K_V1": ("vit_l_32-c7638314.pth", 306535400)}, "IMAGENET1K_V1"),
    "vit_h_14": ("ViT_H_14_Weights", (14, 32, 16, 1280, 5120),
                 {"IMAGENET1K_SWAG_E2E_V1": ("vit_h_14_swag-80465313.pth", 633470440),
                  "IMAGENET1K_SWAG_LINEAR_V1": ("vit_h_14_lc_swag-c1eb923e.pth", 632045800)},
                 "IMAGENET1K_SWAG_E2E_V1"),
}


def _make(builder_name):
    enum_name, (patch, layers, heads, hidden, mlp), members, default = _CONFIGS[builder_name]
    weights_enum = _weights_enum(enum_name, {k: (_URL + f, n) for k, (f, n) in members.items()}, default)

    def builder(*, weights=None, progress=True, **kwargs):
        _handle_weights(builder_name, weights_enum, weights, kwargs)
        image_size = kwargs.pop("image_size", 224)
        return VisionTransformer(image_size=image_size, patch_size=patch, num_layers=layers, num_heads=heads,
                                 hidden_dim=hidden, mlp_dim=mlp, **kwargs)

    _publish_builder(builder, builder_name, weights_enum, enum_name, globals())


for _name in _CONFIGS:
    _make(_name)
