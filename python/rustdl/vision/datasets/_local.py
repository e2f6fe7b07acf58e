"""Helpers of the local-file datasets: argument checks and the "no downloads" error."""

import os


def verify_str_arg(value, arg=None, valid_values=None, custom_msg=None):
    """torchvision's ``verify_str_arg``: ``value`` must be a str among ``valid_values``."""
    if not isinstance(value, str):
        msg = "Expected type str" + ("" if arg is None else f" for argument {arg}") + f", but got type {type(value)}."
        raise ValueError(msg)  # noqa: TRY004 (torchvision's type)
    if valid_values is None:
        return value
    if value not in valid_values:
        if custom_msg is not None:
            raise ValueError(custom_msg)
        valid = ", ".join(repr(v) for v in valid_values)
        raise ValueError(f"Unknown value '{value}' for argument {arg}. Valid values are {{{valid}}}.")
    return value


class DatasetNotFoundError(RuntimeError):
    """The dataset's files are not where they should be (rustdl never downloads them)."""


def no_download(name, expected, source):
    """The error for ``download=True`` (or missing files): where the files must be put."""
    return DatasetNotFoundError(
        f"Dataset not found: {name} reads {expected}. rustdl does no network downloads; "
        f"get the files from {source} and place them there (download=True only checks they are present)."
    )


def list_dir(root, prefix=False):
    root = os.path.expanduser(root)
    # in os.listdir's order, as torchvision (not sorted)
    directories = [p for p in os.listdir(root) if os.path.isdir(os.path.join(root, p))]
    return [os.path.join(root, d) for d in directories] if prefix else directories


def list_files(root, suffix, prefix=False):
    root = os.path.expanduser(root)
    files = [p for p in os.listdir(root) if os.path.isfile(os.path.join(root, p)) and p.endswith(suffix)]
    return [os.path.join(root, d) for d in files] if prefix else files
