"""``torch.autograd.graph``: the class of graph nodes (``tensor.grad_fn``)."""

from .._C import Node

__all__ = ["Node"]

_classes = {}


def _node_class(name):
    """The Node subclass named ``name`` (``MulBackward0``...), made once: the
    engine's nodes show as instances of it, as PyTorch's do."""
    cls = _classes.get(name)
    if cls is None:
        cls = type(name, (Node,), {"__module__": "builtins", "__slots__": ()})
        _classes[name] = cls
    return cls
