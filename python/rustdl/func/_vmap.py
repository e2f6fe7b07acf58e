"""``torch.func.vmap`` as a loop: the function runs once per index of the mapped dimension and the
outputs are stacked. The semantics are vmap's (in_dims/out_dims over nested tuples, lists and
dicts, None for unmapped inputs and outputs, PyTorch's errors, the three randomness modes, nesting
and composition with grad) but not its speed: each sample is a separate call."""

import functools

from .. import _C, equal, get_rng_state, set_rng_state

_CONTAINERS = (tuple, list, dict)


def _flatten(tree):
    """Leaves of a nested tuple/list/dict and a spec to rebuild it."""
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [_flatten(tree[k]) for k in keys]
        return [leaf for leaves, _ in parts for leaf in leaves], ("dict", keys, [s for _, s in parts])
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(v) for v in tree]
        return [leaf for leaves, _ in parts for leaf in leaves], (type(tree), None, [s for _, s in parts])
    return [tree], None


def _unflatten(spec, leaves):
    it = iter(leaves)

    def build(s):
        if s is None:
            return next(it)
        kind, keys, children = s
        values = [build(c) for c in children]
        if kind == "dict":
            return dict(zip(keys, values))
        return kind(values) if kind is list else tuple(values)

    return build(spec)


def _broadcast_dims(dims, tree, what, fn_name):
    """One int/None per leaf of `tree`: `dims` is a single int/None or a structure like `tree`."""
    if dims is None or isinstance(dims, int):
        return [dims] * len(_flatten(tree)[0])
    if isinstance(tree, dict) and isinstance(dims, dict):
        if set(dims) != set(tree):
            raise ValueError(f"vmap({fn_name}, {what}={dims}, ...): {what} is not compatible with the structure "
                             "of the inputs.")
        return [d for k in tree for d in _broadcast_dims(dims[k], tree[k], what, fn_name)]
    if isinstance(tree, (tuple, list)) and isinstance(dims, (tuple, list)):
        if len(dims) != len(tree):
            raise ValueError(f"vmap({fn_name}, {what}={dims}, ...): {what} is not compatible with the structure "
                             "of the inputs.")
        return [d for sub, t in zip(dims, tree) for d in _broadcast_dims(sub, t, what, fn_name)]
    raise ValueError(f"vmap({fn_name}, {what}={dims}, ...): {what} is not compatible with the structure "
                     "of the inputs.")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Map `func` over dimension `in_dims` of its inputs; outputs stacked along `out_dims`."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")
    if not isinstance(in_dims, (int, tuple)) and in_dims is not None:
        raise ValueError(f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or "
                         f"a (potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}.")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        name = _name(func)
        if isinstance(in_dims, tuple) and len(in_dims) != len(args):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
                             f"structure of `inputs`. in_dims has structure {len(in_dims)} but inputs has "
                             f"structure {len(args)}.")
        leaves, spec = _flatten(list(args))
        dims = _broadcast_dims(list(in_dims) if isinstance(in_dims, tuple) else in_dims, list(args), "in_dims",
                               name)
        sizes = []
        for leaf, d in zip(leaves, dims):
            if d is None:
                continue
            if not isinstance(leaf, _C.Tensor):
                raise ValueError(  # noqa: TRY004 (PyTorch)
                    f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input but "
                                 f"the input is of type {type(leaf)}. We cannot vmap over non-Tensor arguments, "
                                 "please use None as the respective in_dim")
            if not -max(leaf.dim(), 1) <= d < max(leaf.dim(), 1) or leaf.dim() == 0:
                raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some input, "
                                 f"but that input is a Tensor of dimensionality {leaf.dim()} so expected in_dim to "
                                 f"satisfy -{leaf.dim()} <= in_dim < {leaf.dim()}.")
            sizes.append(leaf.shape[d])
        if not sizes:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): at least one input must be a Tensor "
                             "mapped over (in_dim not None)")
        if len(set(sizes)) != 1:
            raise ValueError("vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                             f"{sizes} for the mapped dimension")
        batch = sizes[0]

        def run(picked):
            return func(*_unflatten(spec, picked), **kwargs)

        if batch == 0:
            # no sample to run: one call on zeros of a sample's shape gives the outputs' shapes
            sample = [leaf if d is None else _C.zeros(_without(leaf.shape, d), dtype=leaf.dtype)
                      for leaf, d in zip(leaves, dims)]
            return _stack_outputs([run(sample)], out_dims, name, empty=True)
        results = []
        start = get_rng_state()
        for i in range(batch):
            if randomness == "same":
                set_rng_state(start)
            before = get_rng_state()
            results.append(run([leaf if d is None else leaf.select(d, i) for leaf, d in zip(leaves, dims)]))
            if randomness == "error" and not equal(before, get_rng_state()):
                raise RuntimeError("vmap: called random operation while in randomness error mode. Please either "
                                   "use the 'same' or 'different' randomness flags on vmap or perform the "
                                   "randomness operation out of vmap")
        return _stack_outputs(results, out_dims, name, empty=False)

    return wrapped


def _name(func):
    return getattr(func, "__name__", type(func).__name__)


def _without(shape, d):
    d = d % len(shape)
    return tuple(n for k, n in enumerate(shape) if k != d)


def _stack_outputs(results, out_dims, name, empty):
    """Stack the per-sample outputs leaf by leaf along their out_dim (None: the first sample's
    value, which must then not vary)."""
    flat = [_flatten(r) for r in results]
    spec = flat[0][1]
    columns = list(zip(*[leaves for leaves, _ in flat]))
    dims = _broadcast_dims(out_dims, results[0], "out_dims", name)
    stacked = []
    for column, d in zip(columns, dims):
        first = column[0]
        if d is None:
            stacked.append(first)
            continue
        if not isinstance(first, _C.Tensor):
            raise ValueError(  # noqa: TRY004 (PyTorch)
                f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(first)}. "
                             "Did you mean to set out_dims= to None for output?")
        out_rank = first.dim() + 1
        if not -out_rank <= d < out_rank:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-out_rank}, {out_rank - 1}], "
                             f"but got {d})")
        if empty:
            shape = list(first.shape)
            shape.insert(d % out_rank, 0)
            stacked.append(_C.zeros(tuple(shape), dtype=first.dtype))
        else:
            stacked.append(_C.stack(list(column), dim=d))
    return _unflatten(spec, stacked)
