"""``rustdl.backends.cpu``: which CPU kernels run."""

from .. import _C


def get_cpu_capability():
    """The instruction set rustdl's CPU kernels use, in PyTorch's words:
    ``"DEFAULT"``, ``"AVX2"`` or ``"AVX512"`` (AMX machines report
    ``"AVX512"``, as PyTorch does). ``RUSTDL_CPU_ISA=portable|avx2|avx512|amx``
    in the environment lowers it."""
    return _C._cpu_capability()


def _isa():
    """rustdl's own name for the active level: portable, avx2, avx512 or amx."""
    return _C._cpu_isa()


def _supported_isas():
    """Every level this CPU can run, lowest first."""
    return list(_C._cpu_isas())


def _set_isa(name):
    """Run the kernels at ``name`` from now on (tests and benchmarks)."""
    _C._set_cpu_isa(name)
