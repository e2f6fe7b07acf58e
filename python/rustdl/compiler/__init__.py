"""``torch.compiler``: ``reset``, ``is_compiling``, ``is_dynamo_compiling``."""

from .._dynamo import is_compiling, reset

__all__ = ["is_compiling", "is_dynamo_compiling", "reset"]


def is_dynamo_compiling():
    """False: rustdl never runs user code symbolically."""
    return is_compiling()
