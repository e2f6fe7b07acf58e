"""``rustdl.backends``: backend flags shaped like ``torch.backends``.
``wgpu`` is rustdl's GPU backend; ``mps.is_available()``, ``mkldnn.is_available()``,
``cuda.is_built()`` and ``cudnn.is_available()`` are False; ``cuda.matmul.allow_tf32`` and the
``cudnn.deterministic`` / ``cudnn.benchmark`` flags are plain attributes that
scripts may set (they change nothing)."""

from . import cpu, cuda, cudnn, mkldnn, mps, wgpu

__all__ = ["cpu", "cuda", "cudnn", "mkldnn", "mps", "wgpu"]
