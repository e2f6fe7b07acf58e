"""``nn.SyncBatchNorm``: batch normalisation with the statistics of the whole global batch.

In training across several ranks, the per-channel sum (with the element count) and then the sum
of squared deviations from the global mean are all-reduced, so every rank normalises with the
mean and (biased) variance of all ranks' samples together and updates the running statistics
with them (the running variance unbiased by the global count), exactly what one process with
the global batch computes. Both all-reduces are autograd functions whose backward all-reduces
the incoming gradient (the sum over ranks of d loss_k / d statistic), as PyTorch's
``SyncBatchNorm`` backward does with ``sum_dy`` and ``sum_dy_xmu``.
Unlike PyTorch, which only synchronises CUDA tensors (it raises "SyncBatchNorm expected input
tensor to be on GPU" on CPU), this runs on CPU tensors: rustdl has no GPU collectives. Outside
training, in a single-rank group or without an initialised process group it is BatchNorm.
"""

from ... import _C
from ..._grad_mode import no_grad
from ...autograd.function import Function
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


class _AllReduceSum(Function):
    _node_name = "SyncBatchNormAllReduceBackward"

    @staticmethod
    def forward(ctx, x, group):
        from ... import distributed as dist

        ctx.group = group
        out = x.detach().contiguous().clone()
        dist.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        from ... import distributed as dist

        grad = grad.detach().contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over N-D input ``(N, C, ...)`` with statistics synchronised across ``process_group``."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _group_to_sync(self):
        from ... import distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return None
        group = self.process_group if self.process_group is not None else dist.group.WORLD
        return group if dist.get_world_size(group) > 1 else None

    def forward(self, input):
        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        group = self._group_to_sync() if bn_training and self.training else None
        if group is None:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        channels = input.shape[1]
        dims = [0, *range(2, input.dim())]
        shape = [1, channels] + [1] * (input.dim() - 2)
        count = _C.tensor([float(input.numel() // channels)], dtype=input.dtype)
        totals = _AllReduceSum.apply(_C.cat([input.sum(dims), count]), group)
        n = float(totals[channels].item())
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
        mean = totals[:channels] / n
        centred = input - mean.view(shape)
        var = _AllReduceSum.apply((centred * centred).sum(dims), group) / n
        out = centred * (var + self.eps).rsqrt().view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            with no_grad():
                self.running_mean.mul_(1 - factor).add_(mean.detach() * factor)
                self.running_var.mul_(1 - factor).add_(var.detach() * (n / (n - 1) * factor))
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm*d replaced by a SyncBatchNorm sharing its parameters and buffers."""
        output = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            output = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                   module.track_running_stats, process_group)
            if module.affine:
                output.weight = module.weight
                output.bias = module.bias
            output.running_mean = module.running_mean
            output.running_var = module.running_var
            output.num_batches_tracked = module.num_batches_tracked
            output.training = module.training
            if hasattr(module, "qconfig"):
                output.qconfig = module.qconfig
        for name, child in module.named_children():
            output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return output
