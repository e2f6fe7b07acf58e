"""``rustdl.linalg``: norms (more to come)."""

from . import _C


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    return x.norm(p=ord, dim=dim, keepdim=keepdim, dtype=dtype)


def norm(x, ord=None, dim=None, keepdim=False, *, dtype=None):
    return x.norm(p="fro" if ord is None else ord, dim=dim, keepdim=keepdim, dtype=dtype)


def matmul(a, b):
    return a @ b


__all__ = ["_C", "matmul", "norm", "vector_norm"]
