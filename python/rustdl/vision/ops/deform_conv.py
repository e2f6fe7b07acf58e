"""Deformable convolution v1/v2 (``deform_conv2d``, ``DeformConv2d``) as torchvision
computes it: each kernel tap samples the input bilinearly at its grid position plus a
learnt offset (times an optional modulation mask), then the samples are contracted
with the weight. Written with rustdl tensor ops, so gradients reach the input, the
offsets, the mask, the weight and the bias (double backward included); only the
integer corner positions are computed in numpy.
"""

import math

import numpy as np

import rustdl

from ... import nn
from ...nn import init

__all__ = ["DeformConv2d", "deform_conv2d"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def deform_conv2d(input, offset, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), mask=None):
    """``input [B, C, H, W]``, ``offset [B, 2*G*kh*kw, oh, ow]`` ((dy, dx) per offset
    group and tap), ``weight [O, C/groups, kh, kw]``, ``mask [B, G*kh*kw, oh, ow]``."""
    stride_h, stride_w = _pair(stride)
    pad_h, pad_w = _pair(padding)
    dil_h, dil_w = _pair(dilation)
    out_channels, c_per_wgroup, kh, kw = weight.shape
    B, C, H, W = input.shape
    n_offset_grps = offset.shape[1] // (2 * kh * kw)
    n_weight_grps = C // c_per_wgroup
    if n_offset_grps == 0:
        raise RuntimeError(
            "the shape of the offset tensor at dimension 1 is not valid. It should "
            "be a multiple of 2 * weight.size[2] * weight.size[3].\n"
            f"Got offset.shape[1]={offset.shape[1]}, while 2 * weight.size[2] * weight.size[3]={2 * kh * kw}"
        )
    out_h = (H + 2 * pad_h - (dil_h * (kh - 1) + 1)) // stride_h + 1
    out_w = (W + 2 * pad_w - (dil_w * (kw - 1) + 1)) // stride_w + 1
    if tuple(offset.shape[-2:]) != (out_h, out_w):
        raise RuntimeError(
            f"offset output dims: ({offset.shape[2]}, {offset.shape[3]}) - computed output dims: ({out_h}, {out_w})"
        )
    if C % n_offset_grps != 0:
        raise RuntimeError("input channels must be a multiple of the offset groups")
    if mask is not None and mask.shape[1] != n_offset_grps * kh * kw:
        raise RuntimeError(f"mask.shape[1] is not valid: got {mask.shape[1]}, expected {n_offset_grps * kh * kw}")
    G, K, L = n_offset_grps, kh * kw, out_h * out_w
    np_dtype = np.float64 if input.dtype == rustdl.float64 else np.float32
    off = offset.reshape(B, G, K, 2, out_h, out_w)
    # the undeformed sampling grid (K, oh, ow)
    taps_y = np.repeat(np.arange(kh) * dil_h, kw)
    taps_x = np.tile(np.arange(kw) * dil_w, kh)
    base_y = (np.arange(out_h) * stride_h - pad_h)[None, :, None] + taps_y[:, None, None]
    base_x = (np.arange(out_w) * stride_w - pad_w)[None, None, :] + taps_x[:, None, None]
    y = off[:, :, :, 0] + rustdl.from_numpy(base_y.astype(np_dtype)).to(input.dtype)  # (B, G, K, oh, ow)
    x = off[:, :, :, 1] + rustdl.from_numpy(np.ascontiguousarray(base_x.astype(np_dtype))).to(input.dtype)
    y_np, x_np = y.detach().numpy(), x.detach().numpy()
    inside = (y_np > -1) & (y_np < H) & (x_np > -1) & (x_np < W)
    y_low = np.floor(np.where(inside, y_np, 0)).astype(np.int64)
    x_low = np.floor(np.where(inside, x_np, 0)).astype(np.int64)
    ly = y - rustdl.from_numpy(y_low.astype(np_dtype)).to(input.dtype)
    lx = x - rustdl.from_numpy(x_low.astype(np_dtype)).to(input.dtype)
    hy, hx = 1 - ly, 1 - lx
    c_per_ogroup = C // G
    # flat index of channel c (in group g) at a pixel: ((b * C + c) * H + yy) * W + xx
    chan = (np.arange(B)[:, None, None] * C + np.arange(G)[None, :, None] * c_per_ogroup
            + np.arange(c_per_ogroup)[None, None, :])  # (B, G, Cg)
    flat = input.reshape(-1)
    sampled = None
    for dy, dx, wy, wx in ((0, 0, hy, hx), (0, 1, hy, lx), (1, 0, ly, hx), (1, 1, ly, lx)):
        yy, xx = y_low + dy, x_low + dx
        ok = inside & (yy >= 0) & (yy <= H - 1) & (xx >= 0) & (xx <= W - 1)
        pix = np.where(ok, yy * W + xx, 0)  # (B, G, K, oh, ow)
        idx = chan[:, :, :, None, None, None] * (H * W) + pix[:, :, None]  # (B, G, Cg, K, oh, ow)
        vals = flat[rustdl.from_numpy(idx.reshape(-1))].reshape(B, G, c_per_ogroup, K, out_h, out_w)
        weight_corner = (wy * wx * rustdl.from_numpy(ok.astype(np_dtype)).to(input.dtype)).unsqueeze(2)
        term = vals * weight_corner
        sampled = term if sampled is None else sampled + term
    if mask is not None:
        sampled = sampled * mask.reshape(B, G, 1, K, out_h, out_w)
    # columns (B, C*K, L) contracted per weight group with weight (O, C/g * K)
    cols = sampled.reshape(B, n_weight_grps, c_per_wgroup * K, L)
    w = weight.reshape(n_weight_grps, out_channels // n_weight_grps, c_per_wgroup * K)
    out = rustdl.matmul(w.unsqueeze(0), cols).reshape(B, out_channels, out_h, out_w)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out


class DeformConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        super().__init__()
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.weight = nn.Parameter(rustdl.empty(out_channels, in_channels // groups, *self.kernel_size))
        if bias:
            self.bias = nn.Parameter(rustdl.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input, offset, mask=None):
        return deform_conv2d(input, offset, self.weight, self.bias, stride=self.stride, padding=self.padding,
                             dilation=self.dilation, mask=mask)

    def __repr__(self):
        s = (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
             f", stride={self.stride}")
        s += f", padding={self.padding}" if self.padding != (0, 0) else ""
        s += f", dilation={self.dilation}" if self.dilation != (1, 1) else ""
        s += f", groups={self.groups}" if self.groups != 1 else ""
        s += ", bias=False" if self.bias is None else ""
        return s + ")"
