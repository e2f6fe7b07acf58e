"""The one place that imports mpi4py (lazily: ``import rustdl`` and
``import rustdl.distributed`` work without MPI installed)."""

import importlib.util

INSTALL_HINT = (
    "rustdl.distributed runs on MPI through mpi4py. Install Open MPI and mpi4py, e.g. "
    "`apt-get install openmpi-bin libopenmpi-dev && pip install 'rustdl[distributed]'`"
)


def available():
    """Whether mpi4py can be imported (checked without initialising MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


def mpi():
    """``mpi4py.MPI`` (importing it initialises MPI with MPI_THREAD_MULTIPLE)."""
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as e:  # not installed, or no MPI library it can load
        raise RuntimeError(f"{INSTALL_HINT} ({e})") from e
    return MPI
