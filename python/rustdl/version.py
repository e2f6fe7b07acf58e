"""`torch.version`: what this build is. rustdl has no CUDA or ROCm build (`cuda` and `hip` are
None, as in a CPU-only PyTorch); `__version__` is rustdl's own release."""

__version__ = "0.1.0"
cuda = None
hip = None
xpu = None
debug = False
git_version = "unknown"
