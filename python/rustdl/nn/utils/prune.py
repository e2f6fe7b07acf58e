"""``torch.nn.utils.prune``: masking parameters to zero.

Pruning a module's parameter ``name`` moves the parameter to ``name_orig``, keeps a buffer
``name_mask`` (1 keeps, 0 prunes) and makes ``name`` a plain attribute equal to
``name_orig * name_mask``, recomputed by a forward pre-hook before every call, so gradients
reach ``name_orig`` only where the mask keeps it. Pruning the same parameter again combines the
masks (a ``PruningContainer``): the new method only chooses among entries still kept.
``remove`` makes the pruning permanent (``name`` becomes a parameter holding the masked values)."""

import numbers
from abc import ABC, abstractmethod

import rustdl as _t

from ..._grad_mode import no_grad


def _count(amount, total):
    """How many entries `amount` means out of `total` (an int, or a fraction in [0, 1])."""
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if isinstance(amount, numbers.Integral):
        if amount < 0:
            raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")
        if amount > total:
            raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={total}")
        return int(amount)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")
    return round(amount * total)


class BasePruningMethod(ABC):
    PRUNING_TYPE = None  # "unstructured", "structured" or "global"

    def __call__(self, module, inputs):
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The new mask for tensor `t`, given the mask already applied (`default_mask`)."""

    def apply_mask(self, module):
        original = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return original * mask.to(original.dtype)

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        existing = [hook for hook in module._forward_pre_hooks.values()
                    if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
        if len(existing) > 1:
            raise RuntimeError(f"parameter {name} of {module} has more than one pruning hook")
        method = cls(*args, **kwargs)
        method._tensor_name = name
        previous = existing[0] if existing else None
        if previous is not None:
            container = previous if isinstance(previous, PruningContainer) else PruningContainer(previous)
            container.add_pruning_method(method)
            method = container
            _remove_hook(module, previous)
            original = getattr(module, name + "_orig")
            default_mask = getattr(module, name + "_mask").detach().clone()
        else:
            original = getattr(module, name)
            if not isinstance(original, _t.Tensor):
                raise AttributeError(f"Parameter '{name}' of module {module} has to be a Tensor to be pruned")
            module.register_parameter(name + "_orig", original)
            del module._parameters[name]
            default_mask = _t.ones_like(original)
        scores = original if importance_scores is None else importance_scores
        if tuple(scores.shape) != tuple(original.shape):
            raise ValueError("importance_scores should have the same shape as parameter "
                             f"{name} of {module}")
        with no_grad():
            mask = method.compute_mask(scores, default_mask=default_mask)
        module.register_buffer(name + "_mask", mask)
        setattr(module, name, method.apply_mask(module))
        module.register_forward_pre_hook(method)
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        scores = t if importance_scores is None else importance_scores
        default_mask = _t.ones_like(t) if default_mask is None else default_mask
        return t * self.compute_mask(scores, default_mask=default_mask)

    def remove(self, module):
        weight = self.apply_mask(module)
        delattr(module, self._tensor_name)
        original = module._parameters[self._tensor_name + "_orig"]
        with no_grad():
            original.copy_(weight)
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        module.register_parameter(self._tensor_name, original)


def _remove_hook(module, hook):
    for key, value in list(module._forward_pre_hooks.items()):
        if value is hook:
            del module._forward_pre_hooks[key]


class PruningContainer(BasePruningMethod):
    """Successive pruning of one tensor: each method chooses among the entries still kept."""

    def __init__(self, *methods):
        self._pruning_methods = ()
        for method in methods:
            self.add_pruning_method(method)

    def add_pruning_method(self, method):
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if self._pruning_methods and method._tensor_name != self._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named '{self._tensor_name}' to "
                             f"PruningContainer. Found '{method._tensor_name}'")
        self._tensor_name = method._tensor_name
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, index):
        return self._pruning_methods[index]

    def compute_mask(self, t, default_mask):
        method = self._pruning_methods[-1]
        kept = default_mask == 1
        if method.PRUNING_TYPE == "unstructured":
            new = default_mask.clone()
            sub_mask = method.compute_mask(t[kept], default_mask=default_mask[kept])
            new[kept] = sub_mask.to(new.dtype)
            return new
        if method.PRUNING_TYPE == "structured":
            dim = method.dim if method.dim >= 0 else method.dim + t.dim()
            # the slices along dim that are not already pruned entirely
            other = tuple(d for d in range(t.dim()) if d != dim)
            alive = default_mask.sum(other) != 0 if other else default_mask != 0
            index = alive.nonzero().flatten()
            sub = method.compute_mask(t.index_select(dim, index), default_mask=default_mask.index_select(dim, index))
            new = default_mask.clone()
            new.index_copy_(dim, index, sub.to(new.dtype) * default_mask.index_select(dim, index))
            return new
        return method.compute_mask(t, default_mask)


class Identity(BasePruningMethod):
    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class RandomUnstructured(BasePruningMethod):
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _count(amount, 1 if isinstance(amount, float) else amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        n = _count(self.amount, t.numel())
        mask = default_mask.clone()
        if n:
            chosen = _t.topk(_t.rand_like(t.to(_t.float32)).reshape(-1), n).indices
            mask.view(-1)[chosen] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prunes the `amount` entries of smallest magnitude."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _count(amount, 1 if isinstance(amount, float) else amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        n = _count(self.amount, t.numel())
        mask = default_mask.clone()
        if n:
            smallest = _t.topk(t.abs().reshape(-1), n, largest=False).indices
            mask.view(-1)[smallest] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class RandomStructured(BasePruningMethod):
    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        self.amount, self.dim = amount, dim

    def compute_mask(self, t, default_mask):
        if t.dim() == 0:
            raise ValueError("Structured pruning can only be applied to multidimensional tensors. Found tensor of "
                             "shape () with 0 dims")
        channels = t.shape[self.dim]
        n = _count(self.amount, channels)
        keep = _t.ones(channels, dtype=default_mask.dtype)
        if n:
            keep[_t.topk(_t.rand(channels), n).indices] = 0
        return default_mask * _broadcast_along(keep, t.dim(), self.dim)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prunes the `amount` slices along `dim` of smallest L`n` norm."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1):
        self.amount, self.n, self.dim = amount, n, dim

    def compute_mask(self, t, default_mask):
        if t.dim() == 0:
            raise ValueError("Structured pruning can only be applied to multidimensional tensors. Found tensor of "
                             "shape () with 0 dims")
        dim = self.dim if self.dim >= 0 else self.dim + t.dim()
        channels = t.shape[dim]
        k = _count(self.amount, channels)
        other = tuple(d for d in range(t.dim()) if d != dim)
        norms = _t.linalg.vector_norm(t, ord=self.n, dim=other) if other else t.abs()
        keep = _t.ones(channels, dtype=default_mask.dtype)
        if k:
            keep[_t.topk(norms, k, largest=False).indices] = 0
        return default_mask * _broadcast_along(keep, t.dim(), dim)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise ValueError(f"mask shape {tuple(self.mask.shape)} does not match the parameter's "
                             f"{tuple(default_mask.shape)}")
        return default_mask * self.mask.to(default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


def _broadcast_along(values, ndim, dim):
    shape = [1] * ndim
    shape[dim] = values.numel()
    return values.reshape(shape)


def identity(module, name):
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module, name, mask):
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prunes across all (module, name) pairs at once: the method sees their concatenation."""
    parameters = list(parameters)
    importance_scores = importance_scores or {}
    scores, masks = [], []
    for module, name in parameters:
        scores.append(importance_scores.get((module, name), getattr(module, name)).reshape(-1))
        existing = getattr(module, name + "_mask", None)
        masks.append(_t.ones_like(getattr(module, name)).reshape(-1) if existing is None else existing.reshape(-1))
    all_scores, all_masks = _t.cat(scores), _t.cat(masks)
    container = PruningContainer()
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(f'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method '
                        f"{pruning_method} of type {method.PRUNING_TYPE}")
    container.add_pruning_method(method)
    with no_grad():
        final = container.compute_mask(all_scores, all_masks)
    offset = 0
    for (module, name), score in zip(parameters, scores):
        n = score.numel()
        custom_from_mask(module, name, final[offset:offset + n].reshape(getattr(module, name).shape))
        offset += n


def remove(module, name):
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module):
    return any(isinstance(hook, BasePruningMethod) for m in module.modules() for hook in m._forward_pre_hooks.values())


__all__ = ["BasePruningMethod", "CustomFromMask", "Identity", "L1Unstructured", "LnStructured", "PruningContainer",
           "RandomStructured", "RandomUnstructured", "custom_from_mask", "global_unstructured", "identity",
           "is_pruned", "l1_unstructured", "ln_structured", "random_structured", "random_unstructured", "remove"]
