"""``import torch`` that gives rustdl: the import hook behind ``python -m rustdl``.

:func:`install_torch_alias` puts a finder first on ``sys.meta_path`` that
resolves ``torch`` to ``rustdl``, ``torch.X.Y`` to ``rustdl.X.Y``,
``torchvision`` to ``rustdl.vision`` and ``torchvision.X`` to
``rustdl.vision.X``. Both names give the same module object (``import
torch.nn as nn; nn is rustdl.nn``) and both are in ``sys.modules``. A name with
no rustdl counterpart fails at once with a ``ModuleNotFoundError`` that names
the rustdl module that would be needed.

Importing this module changes nothing; only calling
:func:`install_torch_alias` does.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["install_torch_alias"]

# alias prefix -> rustdl prefix, most specific first
_PREFIXES = (("torchvision", "rustdl.vision"), ("torch", "rustdl"))


def _rustdl_name(fullname):
    """The rustdl module that stands for ``fullname``, or None if it is not an alias."""
    for alias, real in _PREFIXES:
        if fullname == alias:
            return real
        if fullname.startswith(alias + "."):
            return real + fullname[len(alias):]
    return None


def _missing(fullname, target):
    alias = next(a for a, r in _PREFIXES if fullname == a or fullname.startswith(a + "."))
    real = dict(_PREFIXES)[alias]
    return ModuleNotFoundError(
        f"No module named {fullname!r} (rustdl has no {target!r} yet; "
        f"python -m rustdl maps {alias}.* to {real}.*)",
        name=fullname,
    )


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias by importing the rustdl module and handing back that object."""

    def __init__(self, target):
        self.target = target
        self._own_spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module):
        # The import system has just set ``module.__spec__`` to the alias's
        # spec (it always does); give the rustdl module its own back so that
        # relative imports, reload() and pickling keep seeing ``rustdl.*``.
        module.__spec__ = self._own_spec


class TorchAliasFinder(importlib.abc.MetaPathFinder):
    """Meta path finder mapping ``torch.*`` / ``torchvision.*`` to rustdl's modules."""

    def find_spec(self, fullname, path=None, target=None):
        real = _rustdl_name(fullname)
        if real is None:
            return None
        try:
            real_spec = importlib.util.find_spec(real)
        except ModuleNotFoundError as e:
            if e.name is not None and (real == e.name or real.startswith(e.name + ".")):
                raise _missing(fullname, e.name) from None
            raise
        if real_spec is None:
            raise _missing(fullname, real)
        return importlib.util.spec_from_loader(
            fullname, _AliasLoader(real), is_package=real_spec.submodule_search_locations is not None
        )


def install_torch_alias():
    """Make ``import torch`` (and ``torch.*``, ``torchvision``, ``torchvision.*``)
    import rustdl from now on in this process; ``python -m rustdl script.py``
    calls this before running the script. Safe to call more than once.

    Raises RuntimeError if a real ``torch`` or ``torchvision`` is already
    imported: modules that hold it would keep using it.
    """
    for name, module in list(sys.modules.items()):
        if _rustdl_name(name) is None or module is None:
            continue
        if not getattr(module, "__name__", "").startswith("rustdl"):
            raise RuntimeError(
                f"install_torch_alias(): {name!r} is already imported from "
                f"{getattr(module, '__file__', None) or module!r}; call it before anything imports {name}"
            )
    if not any(isinstance(f, TorchAliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, TorchAliasFinder())
    # ``torch.accelerator`` / ``torch.functional`` are attributes of ``torch``
    # right after ``import torch`` in PyTorch; make them so here too.
    importlib.import_module("rustdl.accelerator")
    importlib.import_module("rustdl.functional")
