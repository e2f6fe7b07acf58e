"""``torch.distributed.elastic.multiprocessing.errors.record``: torchrun scripts decorate their
entry point with it. Here it prints which rank failed before the exception propagates (MPI then
ends the job; see ``rustdl.distributed``)."""

import functools
import os
import sys

__all__ = ["ChildFailedError", "record"]


class ChildFailedError(Exception):
    """Raised by torchrun's agent when a rank fails; kept for imports."""

    def __init__(self, name, failures=None):
        self.name = name
        self.failures = failures or {}
        super().__init__(f"{name} failed")


def record(fn, error_handler=None):
    """Run ``fn``; on an exception, name this rank on stderr and re-raise."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SystemExit:
            raise
        except BaseException as e:
            print(f"[rank {os.environ.get('RANK', '?')}] {fn.__qualname__} failed: {type(e).__name__}: {e}",
                  file=sys.stderr, flush=True)
            raise

    return wrapper
