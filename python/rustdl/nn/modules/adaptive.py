"""`nn.AdaptiveLogSoftmaxWithLoss` (Grave et al., "Efficient softmax approximation for GPUs"):
the frequent classes (below cutoffs[0]) and one entry per tail cluster share a head softmax;
each tail cluster has its own low-rank softmax, so a rare class costs only its cluster's
projection. Composed of Linear layers and log_softmax, so gradients come from them."""

from collections import namedtuple

from ... import _C
from .. import functional as F
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             "order, where each value is between 1 and n_classes-1")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        kwargs = {"device": device, "dtype": dtype}
        self.head = Linear(in_features, self.head_size, bias=head_bias, **kwargs)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **kwargs),
                                        Linear(hidden, size, bias=False, **kwargs)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for cluster in self.tail:
            for layer in cluster:
                layer.reset_parameters()

    def forward(self, input, target):
        unbatched = input.dim() == 1
        if unbatched:
            if target.dim() != 0:
                raise RuntimeError("1D target tensor expects 1D input tensors, but found inputs with size "
                                   f"{list(input.shape)}")
            input, target = input.unsqueeze(0), target.unsqueeze(0)
        elif input.dim() != 2:
            raise RuntimeError("1D target tensor expects 2D input tensors, but found inputs with size "
                               f"{list(input.shape)}")
        if input.shape[0] != target.shape[0]:
            raise RuntimeError("Input and target should have the same size in the batch dimension.")
        batch = target.shape[0]
        output = _C.zeros(batch, dtype=input.dtype)
        head_index = target.clone()  # the head entry each row's log-probability starts from
        bounds = [0] + self.cutoffs
        covered = 0
        for i in range(len(bounds) - 1):
            low, high = bounds[i], bounds[i + 1]
            rows = ((target >= low) & (target < high)).nonzero().flatten()
            if rows.numel() == 0:
                continue
            covered += rows.numel()
            if i == 0:
                continue
            head_index = head_index.index_fill(0, rows, self.shortlist_size + i - 1)
            cluster_logprob = F.log_softmax(self.tail[i - 1](input.index_select(0, rows)), dim=1)
            relative = (target.index_select(0, rows) - low).unsqueeze(1)
            output = output.index_add(0, rows, cluster_logprob.gather(1, relative).squeeze(1))
        if covered != batch:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{int(target.min())}, {int(target.max())}] were found. ")
        head_logprob = F.log_softmax(self.head(input), dim=1)
        output = output + head_logprob.gather(1, head_index.unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        if unbatched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _full_log_prob(self, input, head_output):
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i, cluster in enumerate(self.tail):
            cluster_logprob = F.log_softmax(cluster(input), dim=1)
            parts.append(cluster_logprob + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return _C.cat(parts, 1)

    def log_prob(self, input):
        unbatched = input.dim() == 1
        batch_input = input.unsqueeze(0) if unbatched else input
        out = self._full_log_prob(batch_input, self.head(batch_input))
        return out.squeeze(0) if unbatched else out

    def predict(self, input):
        return self.log_prob(input).argmax(dim=-1)
