"""``stochastic_depth`` / ``StochasticDepth`` and ``drop_block2d/3d`` /
``DropBlock2d/3d`` (torchvision's regularisers; the masks come from rustdl's RNG)."""

import rustdl
from rustdl import nn
from rustdl.nn import functional as F

__all__ = ["DropBlock2d", "DropBlock3d", "StochasticDepth", "drop_block2d", "drop_block3d", "stochastic_depth"]


def _bernoulli(shape, p, like):
    return rustdl.bernoulli(rustdl.full(tuple(shape), float(p), dtype=like.dtype))


def stochastic_depth(input, p, mode, training=True):
    """Zero the whole input (``mode="batch"``) or whole samples (``"row"``) with
    probability ``p``, scaling the survivors by ``1 / (1 - p)``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ["batch", "row"]:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    size = [input.shape[0]] + [1] * (input.dim() - 1) if mode == "row" else [1] * input.dim()
    noise = _bernoulli(size, survival_rate, input)
    if survival_rate > 0.0:
        noise = noise / survival_rate
    return input * noise


class StochasticDepth(nn.Module):
    def __init__(self, p, mode):
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"


def _drop_block(input, p, block_size, inplace, eps, training, nd):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}.")
    if input.dim() != nd + 2:
        raise ValueError(f"input should be {nd + 2} dimensional. Got {input.dim()} dimensions.")
    if not training or p == 0.0:
        return input
    spatial = list(input.shape[2:])
    block_size = min([block_size, *spatial])
    if block_size % 2 == 0:
        raise ValueError(f"block size should be odd. Got {block_size} which is even.")
    valid = 1
    for s in spatial:
        valid *= s - block_size + 1
    total = 1
    for s in spatial:
        total *= s
    gamma = (p * total) / ((block_size**nd) * valid)
    noise = _bernoulli([*input.shape[:2], *(s - block_size + 1 for s in spatial)], gamma, input)
    noise = F.pad(noise, [block_size // 2] * (2 * nd), value=0)
    pool = F.max_pool2d if nd == 2 else F.max_pool3d
    noise = pool(noise, stride=(1,) * nd, kernel_size=(block_size,) * nd, padding=block_size // 2)
    noise = 1 - noise
    normalize_scale = noise.numel() / (eps + noise.sum())
    if inplace:
        return input.mul_(noise).mul_(normalize_scale)
    return input * noise * normalize_scale


def drop_block2d(input, p, block_size, inplace=False, eps=1e-06, training=True):
    """DropBlock: zero ``block_size`` x ``block_size`` squares of (N, C, H, W) feature maps."""
    return _drop_block(input, p, block_size, inplace, eps, training, 2)


def drop_block3d(input, p, block_size, inplace=False, eps=1e-06, training=True):
    """DropBlock on (N, C, D, H, W) feature maps."""
    return _drop_block(input, p, block_size, inplace, eps, training, 3)


class DropBlock2d(nn.Module):
    def __init__(self, p, block_size, inplace=False, eps=1e-06):
        super().__init__()
        self.p = p
        self.block_size = block_size
        self.inplace = inplace
        self.eps = eps

    def forward(self, input):
        return drop_block2d(input, self.p, self.block_size, self.inplace, self.eps, self.training)

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p}, block_size={self.block_size}, inplace={self.inplace})"


class DropBlock3d(DropBlock2d):
    def forward(self, input):
        return drop_block3d(input, self.p, self.block_size, self.inplace, self.eps, self.training)
