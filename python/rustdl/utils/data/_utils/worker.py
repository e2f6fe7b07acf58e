"""Worker bookkeeping: :func:`get_worker_info` and :class:`WorkerInfo`.

rustdl's ``DataLoader`` workers are threads (rustdl's Rust kernels release the
GIL for heavy work), so the worker info is thread-local.
"""

import threading

__all__ = ["WorkerInfo", "get_worker_info"]

_local = threading.local()


class WorkerInfo:
    """Read-only info about the current worker: ``id``, ``num_workers``, ``seed``, ``dataset``."""

    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs.keys())
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self):
        items = [f"{k}={getattr(self, k)}" for k in self.__keys]
        return f"{self.__class__.__name__}({', '.join(items)})"


def get_worker_info():
    """In a ``DataLoader`` worker: a :class:`WorkerInfo` (``id``, ``num_workers``,
    ``seed``, ``dataset``); in the main thread: ``None``.

    Note: workers are threads sharing one ``dataset`` object (PyTorch's worker
    processes each get a copy), so ``info.dataset`` is the loader's dataset.
    """
    return getattr(_local, "info", None)


def _set_worker_info(info):
    _local.info = info
