"""``torch._dynamo.exc``: the errors ``rustdl.compile`` raises."""

__all__ = ["InvalidBackend", "TorchDynamoException", "Unsupported"]


class TorchDynamoException(RuntimeError):
    pass


class InvalidBackend(TorchDynamoException):
    def __init__(self, name):
        super().__init__(f"Invalid backend: {name!r}. See `torch._dynamo.list_backends()` for available backends.")


class Unsupported(TorchDynamoException):
    """``fullgraph=True`` and the function could not be captured as one graph."""
