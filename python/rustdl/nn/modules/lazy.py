"""Lazy modules (`nn.LazyLinear`, `LazyConv2d`, `LazyBatchNorm1d`, ...): the input-size argument
is inferred from the first input. Until then the parameters are `UninitializedParameter`s of
size 0; the first forward builds the regular module with the inferred size, moves its freshly
initialised values into those same parameter objects (so an optimizer made before the first
forward still holds them, as in PyTorch) and turns the module into that regular class."""

import inspect
import warnings

from ... import _C
from ..._grad_mode import no_grad
from ..parameter import Parameter
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .module import Module
from .normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
)


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (size 0 until a lazy module materialises it)."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return super().__new__(cls, _C.empty(0, dtype=dtype or _C.float32), requires_grad)

    def __repr__(self):
        return "<UninitializedParameter>"

    def materialize(self, shape, device=None, dtype=None):
        requires_grad = self.requires_grad
        self.requires_grad_(False)
        self.resize_(*shape)
        self.requires_grad_(requires_grad)
        self.__class__ = self.cls_to_become


class UninitializedBuffer(_C.Tensor):
    """A buffer whose shape is not known yet."""

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        t = _C.Tensor.__new__(cls, _C.empty(0, dtype=dtype or _C.float32))
        t.persistent = persistent
        return t


def _is_uninitialized(t):
    return isinstance(t, (UninitializedParameter, UninitializedBuffer))


class LazyModuleMixin:
    """Subclasses set `cls_to_become` and `_inferred` (the constructor argument the first input
    decides) and pass their other constructor arguments to `_setup_lazy`."""

    cls_to_become = None
    _inferred = None

    def _setup_lazy(self, args, kwargs):
        self._lazy_args = (args, kwargs)
        for name, p in list(self._parameters.items()):
            if p is not None:
                self._parameters[name] = UninitializedParameter(p.requires_grad, dtype=p.dtype)
        for name, b in list(self._buffers.items()):
            if b is not None and b.is_floating_point():
                self._buffers[name] = UninitializedBuffer(dtype=b.dtype)

    def has_uninitialized_params(self):
        return any(_is_uninitialized(t) for t in list(self._parameters.values()) + list(self._buffers.values()))

    def _input_features(self, input):
        raise NotImplementedError

    def initialize_parameters(self, input):
        args, kwargs = self._lazy_args
        real = self.cls_to_become(**{self._inferred: self._input_features(input)}, **kwargs, **args)
        for name, p in list(self._parameters.items()):
            source = real._parameters[name]
            if isinstance(p, UninitializedParameter):
                p.materialize(tuple(source.shape))
                with no_grad():
                    p.copy_(source)
        for name in list(self._buffers):
            self._buffers[name] = real._buffers[name]
        for key, value in real.__dict__.items():
            if key not in ("_parameters", "_buffers", "_modules") and not key.startswith("_forward") \
                    and not key.startswith("_backward") and not key.startswith("_state_dict") \
                    and not key.startswith("_load_state_dict"):
                self.__dict__[key] = value
        del self.__dict__["_lazy_args"]
        self.__class__ = self.cls_to_become

    def __call__(self, *args, **kwargs):
        if self.has_uninitialized_params():
            self.initialize_parameters(args[0])
        return Module.__call__(self, *args, **kwargs)


def _lazy(name, base, inferred, features_of, doc, defaults=None):
    def __init__(self, *args, **kwargs):
        named = dict(zip(base_args, args))
        for key, value in (defaults or {}).items():  # a lazy class's own defaults, where PyTorch's differ
            if key not in named:
                kwargs.setdefault(key, value)
        with warnings.catch_warnings():  # initialising the size-0 placeholders is a no-op
            warnings.simplefilter("ignore")
            base.__init__(self, **{inferred: 0}, **named, **kwargs)
        LazyModuleMixin._setup_lazy(self, named, kwargs)

    base_args = [p for p in inspect.signature(base.__init__).parameters if p not in ("self", inferred)]
    cls = type(name, (LazyModuleMixin, base), {"__init__": __init__, "cls_to_become": base, "_inferred": inferred,
                                               "_input_features": lambda self, x: features_of(self, x),
                                               "__doc__": doc, "__module__": __name__})
    return cls


def _norm_features(self, x):
    # dim 1 even for an unbatched input, as PyTorch's lazy norms infer it (such an input then
    # fails the norm's own size check, there as here)
    return x.shape[1] if x.dim() > 1 else x.shape[0]


def _last_dim(self, x):
    return x.shape[-1]


def _channels(spatial_dims):
    def features(self, x):
        return x.shape[1] if x.dim() == spatial_dims + 2 else x.shape[0]

    return features


LazyLinear = _lazy("LazyLinear", Linear, "in_features", _last_dim, "Linear with in_features from the first input.")
LazyConv1d = _lazy("LazyConv1d", Conv1d, "in_channels", _channels(1), "Conv1d with in_channels inferred.")
LazyConv2d = _lazy("LazyConv2d", Conv2d, "in_channels", _channels(2), "Conv2d with in_channels inferred.")
LazyConv3d = _lazy("LazyConv3d", Conv3d, "in_channels", _channels(3), "Conv3d with in_channels inferred.")
LazyConvTranspose1d = _lazy("LazyConvTranspose1d", ConvTranspose1d, "in_channels", _channels(1),
                            "ConvTranspose1d with in_channels inferred.")
LazyConvTranspose2d = _lazy("LazyConvTranspose2d", ConvTranspose2d, "in_channels", _channels(2),
                            "ConvTranspose2d with in_channels inferred.")
LazyConvTranspose3d = _lazy("LazyConvTranspose3d", ConvTranspose3d, "in_channels", _channels(3),
                            "ConvTranspose3d with in_channels inferred.")
LazyBatchNorm1d = _lazy("LazyBatchNorm1d", BatchNorm1d, "num_features", _norm_features,
                        "BatchNorm1d with num_features inferred.")
LazyBatchNorm2d = _lazy("LazyBatchNorm2d", BatchNorm2d, "num_features", _norm_features,
                        "BatchNorm2d with num_features inferred.")
LazyBatchNorm3d = _lazy("LazyBatchNorm3d", BatchNorm3d, "num_features", _norm_features,
                        "BatchNorm3d with num_features inferred.")
LazyInstanceNorm1d = _lazy("LazyInstanceNorm1d", InstanceNorm1d, "num_features", _norm_features,
                           "InstanceNorm1d with num_features inferred.",
                           {"affine": True, "track_running_stats": True})
LazyInstanceNorm2d = _lazy("LazyInstanceNorm2d", InstanceNorm2d, "num_features", _norm_features,
                           "InstanceNorm2d with num_features inferred.",
                           {"affine": True, "track_running_stats": True})
LazyInstanceNorm3d = _lazy("LazyInstanceNorm3d", InstanceNorm3d, "num_features", _norm_features,
                           "InstanceNorm3d with num_features inferred.",
                           {"affine": True, "track_running_stats": True})

__all__ = ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d", "LazyConv3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d", "LazyLinear", "LazyModuleMixin", "UninitializedBuffer",
           "UninitializedParameter"]
