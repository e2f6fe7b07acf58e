"""``rustdl.backends``: backend flags shaped like ``torch.backends``.
``wgpu`` is rustdl's GPU backend; ``mps.is_available()`` and
``cudnn.is_available()`` are False; the
``cudnn.deterministic`` / ``cudnn.benchmark`` flags are plain attributes that
scripts may set (they change nothing)."""

from . import cpu, cudnn, mps, wgpu

__all__ = ["cpu", "cudnn", "mps", "wgpu"]
