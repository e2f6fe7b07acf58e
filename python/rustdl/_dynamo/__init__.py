"""``torch._dynamo`` (the parts user code calls): ``reset``, ``list_backends``, ``exc``,
``OptimizedModule``. ``rustdl.compile`` lives in ``eval_frame.py``."""

from . import config, exc
from .eval_frame import OptimizedModule, list_backends, reset

__all__ = ["OptimizedModule", "config", "exc", "is_compiling", "list_backends", "reset"]


def is_compiling():
    """False: rustdl never runs user code symbolically (a capture runs it for real)."""
    return False
