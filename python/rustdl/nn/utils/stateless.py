"""``torch.nn.utils.stateless.functional_call`` (also ``torch.func.functional_call``): call a
module with some of its parameters and buffers replaced by given tensors, for that call only."""

import contextlib

from ... import _C

__all__ = ["functional_call"]


def _owner(module, dotted):
    *path, name = dotted.split(".")
    for p in path:
        module = getattr(module, p)
    return module, name


@contextlib.contextmanager
def _reparametrize(module, tensors, tie_weights=True, strict=False):
    if tie_weights:  # a tensor shared under several names gets the replacement under all of them
        seen = {}
        for name, t in module.named_parameters(remove_duplicate=False):
            seen.setdefault(id(t), []).append(name)
        for name, t in module.named_buffers(remove_duplicate=False):
            seen.setdefault(id(t), []).append(name)
        tensors = dict(tensors)
        for names in seen.values():
            given = [n for n in names if n in tensors]
            if len(given) > 1 and any(tensors[n] is not tensors[given[0]] for n in given):
                raise ValueError(f"functional_call got multiple values for keys {given}, which are tied. "
                                 "Consider using tie_weights=False")
            if given:
                for n in names:
                    tensors.setdefault(n, tensors[given[0]])
    if strict:
        expected = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
        missing, unexpected = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        if missing or unexpected:
            parts = []
            if unexpected:
                parts.append("Unexpected key(s): {}.".format(", ".join(map(repr, unexpected))))
            if missing:
                parts.append("Missing key(s): {}.".format(", ".join(map(repr, missing))))
            raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t" + "\n\t".join(parts))
    saved = []
    try:
        for dotted, t in tensors.items():
            owner, name = _owner(module, dotted)
            d = owner.__dict__
            for store in ("_parameters", "_buffers"):
                if name in d[store]:
                    saved.append((d[store], name, d[store][name]))
                    d[store][name] = t  # straight into the table: any tensor, not only a Parameter
                    break
            else:
                saved.append((d, name, d.get(name, _MISSING)))
                d[name] = t
        yield
    finally:
        for table, name, old in reversed(saved):
            if old is _MISSING:
                table.pop(name, None)
            else:
                table[name] = old


_MISSING = object()


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the named parameters/buffers replaced (dotted names, as
    ``state_dict`` keys) for this call; the module itself is unchanged afterwards."""
    if isinstance(parameter_and_buffer_dicts, dict):
        tensors = parameter_and_buffer_dicts
    else:
        tensors = {}
        for d in parameter_and_buffer_dicts:
            overlap = set(tensors) & set(d)
            if overlap:
                raise ValueError(f"{sorted(overlap)} appeared in multiple dictionaries; behavior of functional call "
                                 "is ambiguous")
            tensors.update(d)
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    for name, t in tensors.items():
        if not isinstance(t, _C.Tensor):
            raise TypeError(f"functional_call: the value for '{name}' is a {type(t).__name__}, not a Tensor")
    with _reparametrize(module, tensors, tie_weights=tie_weights, strict=strict):
        return module(*args, **(kwargs or {}))
