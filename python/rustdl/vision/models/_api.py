"""Pretrained-weight descriptions (``Weights``, ``WeightsEnum``) and the model registry.

rustdl does no network downloads, so a builder given ``weights=`` (an enum
member or its name) raises :class:`PretrainedWeightsUnavailable`, which says
how to load a local copy of the checkpoint instead. The enums exist so that
``from torchvision.models import ResNet18_Weights`` and ``weights=None`` code
keeps working unchanged.
"""

import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "PretrainedWeightsUnavailable",
    "Weights",
    "WeightsEnum",
    "get_model",
    "get_model_builder",
    "get_model_weights",
    "get_weight",
    "list_models",
]


class PretrainedWeightsUnavailable(RuntimeError):
    """Raised when a builder is asked for pretrained weights, which are never downloaded here."""


@dataclass
class Weights:
    """Where torchvision's checkpoint lives (``url``), how it was evaluated
    (``transforms`` keywords) and what it is (``meta``)."""

    url: str
    transforms: Any = None
    meta: dict = field(default_factory=dict)


class WeightsEnum(Enum):
    """Parent of every ``<Model>_Weights`` enum (torchvision's API)."""

    @classmethod
    def verify(cls, obj):
        if obj is not None:
            if type(obj) is str:
                key = obj.replace(cls.__name__ + ".", "")
                if key not in cls.__members__:
                    raise ValueError(
                        f"{obj!r} is not a weight of {cls.__name__}; it has {', '.join(cls.__members__)}"
                    )
                obj = cls[key]
            elif not isinstance(obj, cls):
                raise TypeError(
                    f"Invalid Weight class provided; expected {cls.__name__} but received {obj.__class__.__name__}."
                )
        return obj

    def get_state_dict(self, *args, **kwargs):
        raise PretrainedWeightsUnavailable(_no_download_message(self, None))

    def __repr__(self):
        return f"{self.__class__.__name__}.{self._name_}"

    @property
    def url(self):
        return self.value.url

    @property
    def transforms(self):
        return self.value.transforms

    @property
    def meta(self):
        return self.value.meta


def _weights_enum(name, members, default):
    """A ``WeightsEnum`` subclass named ``name``: ``members`` maps a member name to
    ``(url, num_params)``; ``DEFAULT`` is an alias of ``members[default]``."""
    values = {k: Weights(url=url, meta={"num_params": n}) for k, (url, n) in members.items()}
    values["DEFAULT"] = values[default]
    enum_cls = WeightsEnum(name, list(values.items()))
    enum_cls.__module__ = __name__.rsplit(".", 1)[0]
    return enum_cls


def _file_name(weights):
    return weights.url.rsplit("/", 1)[-1] if weights is not None else "checkpoint.pth"


def _no_download_message(weights, builder):
    call = f"{builder}(weights={weights!r})" if builder else f"{weights!r}.get_state_dict()"
    builder = builder or "the model builder"
    fname = _file_name(weights)
    return (
        f"{call}: rustdl does not download pretrained weights (no network access). "
        f"Build the model without them and load a local copy of the checkpoint "
        f"(torchvision's file is {weights.url}): "
        f'model = {builder}(); model.load_state_dict(rustdl.load("{fname}"))'
    )


def _handle_weights(builder, weights_enum, weights, kwargs):
    """Resolve ``weights`` (and the legacy ``pretrained=``) for ``builder``;
    refuse anything but None."""
    if "pretrained" in kwargs:
        pretrained = kwargs.pop("pretrained")
        warnings.warn(
            "The parameter 'pretrained' is deprecated since 0.13 and may be removed in the future, "
            "please use 'weights' instead.",
            UserWarning,
            stacklevel=3,
        )
        if pretrained:
            weights = weights_enum.DEFAULT
    weights = weights_enum.verify(weights)
    if weights is not None:
        raise PretrainedWeightsUnavailable(_no_download_message(weights, builder))


# ----------------------------------------------------------------- registry
BUILTIN_MODELS = {}


def register_model(name=None):
    def wrapper(fn):
        key = name if name is not None else fn.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"An entry is already registered under the name '{key}'.")
        BUILTIN_MODELS[key] = fn
        return fn

    return wrapper


def list_models(module=None, include=None, exclude=None):
    import fnmatch

    models = [
        k for k, v in BUILTIN_MODELS.items() if module is None or v.__module__.rsplit(".", 1)[0] == module.__name__
    ]
    if include:
        include = [include] if isinstance(include, str) else include
        models = [m for m in models if any(fnmatch.fnmatch(m, p) for p in include)]
    if exclude:
        exclude = [exclude] if isinstance(exclude, str) else exclude
        models = [m for m in models if not any(fnmatch.fnmatch(m, p) for p in exclude)]
    return sorted(models)


def get_model_builder(name):
    name = name.lower()
    try:
        return BUILTIN_MODELS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None


def get_model(name, **config):
    return get_model_builder(name)(**config)


_WEIGHTS_OF = {}  # builder name -> its WeightsEnum


def _publish_builder(builder, builder_name, weights_enum, enum_name, namespace):
    """Name, document and register a builder made in a loop over a family's
    configurations, and export it and its weights enum from the family's
    module (``namespace`` is that module's ``globals()``)."""
    builder.__name__ = builder.__qualname__ = builder_name
    builder.__doc__ = f"{builder_name}; ``weights`` must be None (load a local checkpoint instead)."
    register_model()(builder)
    _WEIGHTS_OF[builder_name] = weights_enum
    namespace[builder_name] = builder
    namespace[enum_name] = weights_enum
    namespace["__all__"].extend([builder_name, enum_name])


def get_model_weights(name):
    model = get_model_builder(name) if isinstance(name, str) else name
    return _WEIGHTS_OF[model.__name__]


def get_weight(name):
    try:
        enum_name, value_name = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    import importlib

    weights_enum = getattr(importlib.import_module(__package__), enum_name, None)
    if not (isinstance(weights_enum, type) and issubclass(weights_enum, WeightsEnum)):
        raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be retrieved.")  # noqa: TRY004 (torchvision's type)
    return weights_enum[value_name]
