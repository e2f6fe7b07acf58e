"""Internals of ``rustdl.utils.data`` (module layout of ``torch.utils.data._utils``)."""

from . import collate, worker  # noqa: F401
