"""``torch.func`` (the part rustdl has): ``functional_call`` and the gradient transforms
``grad``, ``grad_and_value``, ``vjp``, ``jacrev``, ``hessian`` built on reverse-mode autograd,
``jvp``/``jacfwd`` (forward-mode products computed by the double-backward trick: the same values
as true forward mode), and ``vmap`` (a loop over the mapped dimension with vmap's semantics, see
``_vmap.py``)."""

from ..nn.utils.stateless import functional_call
from ._vmap import vmap

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "vjp", "vmap"]


def _argnums_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning ``(gradient of func's scalar output w.r.t. args[argnums], output)``."""
    from .. import _C
    from .._grad_mode import enable_grad
    from ..autograd import grad as autograd_grad

    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums)
        original, args = args, list(args)
        with enable_grad():
            for i in nums:
                args[i] = args[i].detach().requires_grad_() if not args[i].requires_grad else args[i]
            out = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: "
                                       "(output, aux) if has_aux is True")
                out, aux = out
            if not isinstance(out, _C.Tensor) or out.numel() != 1:
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {out.dim() if isinstance(out, _C.Tensor) else '?'} dims")
            # a graph of the gradient only where an outer transform differentiates it again
            outer = _C.is_grad_enabled() and any(original[i].requires_grad for i in nums)
            grads = autograd_grad(out, [args[i] for i in nums], create_graph=outer, allow_unused=True)
        grads = tuple(g if g is not None else _C.zeros_like(args[i]) for g, i in zip(grads, nums))
        g = grads[0] if isinstance(argnums, int) else grads
        return (g, (out, aux)) if has_aux else (g, out)

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of ``func``'s scalar output w.r.t. ``args[argnums]``."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` gives one gradient per primal."""
    from .. import _C
    from .._grad_mode import enable_grad
    from ..autograd import grad as autograd_grad

    with enable_grad():
        inputs = [p.detach().requires_grad_() for p in primals]
        out = func(*inputs)
        aux = None
        if has_aux:
            out, aux = out

    def vjp_fn(*cotangents):
        outs = out if isinstance(out, tuple) else (out,)
        grads = autograd_grad(outs, inputs, grad_outputs=cotangents, retain_graph=True, allow_unused=True)
        return tuple(g if g is not None else _C.zeros_like(i) for g, i in zip(grads, inputs))

    detached = tuple(o.detach() for o in out) if isinstance(out, tuple) else out.detach()
    return (detached, vjp_fn, aux) if has_aux else (detached, vjp_fn)


def jacrev(func, argnums=0):
    """A function returning the Jacobian of ``func`` w.r.t. ``args[argnums]`` (reverse mode)."""
    from ..autograd.functional import jacobian

    def wrapper(*args):
        nums = _argnums_tuple(argnums)

        def partial(*chosen):
            full = list(args)
            for i, t in zip(nums, chosen):
                full[i] = t
            return func(*full)

        from .. import _C

        chosen = tuple(args[i] for i in nums)
        # differentiable where an outer transform differentiates the Jacobian again (hessian)
        outer = _C.is_grad_enabled() and any(t.requires_grad for t in chosen)
        jac = jacobian(partial, chosen, create_graph=outer)
        return jac[0] if isinstance(argnums, int) else jac

    return wrapper


def hessian(func, argnums=0):
    """A function returning the Hessian of ``func``'s scalar output w.r.t. ``args[argnums]``."""
    return jacrev(jacrev(func, argnums), argnums)


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``(func(*primals), J @ tangents)``: the Jacobian-vector product at ``primals``."""
    from .. import _C
    from ..autograd.functional import jvp as autograd_jvp

    if not isinstance(primals, tuple):
        raise RuntimeError(  # noqa: TRY004 (PyTorch)
            "jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it should be valid to "
            "call f(*primals).")
    if not isinstance(tangents, tuple) or len(primals) != len(tangents):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, tangents also must be. "
                           f"Got primals with structure {len(primals)} and tangents with structure "
                           f"{len(tangents) if isinstance(tangents, tuple) else type(tangents).__name__}")
    for p, t in zip(primals, tangents):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                               f"Tensor, this is not supported. Tensor is of size {list(p.shape)} while the given "
                               f"forward gradient is of size {list(t.shape)}.")
    aux = []

    def primal_only(*args):
        out = func(*args)
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError("jvp(f, primals, tangents): output of function f should be a tuple: "
                                   "(output, aux) if has_aux is True")
            out, extra = out
            aux.append(extra)
        return out

    out, tangent_out = autograd_jvp(primal_only, primals, tangents, strict=strict)
    if isinstance(out, _C.Tensor) and tangent_out is None:
        tangent_out = _C.zeros_like(out)
    return (out, tangent_out, _detached(aux[0])) if has_aux else (out, tangent_out)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """A function returning the Jacobian of ``func`` w.r.t. ``args[argnums]`` in forward mode (the
    same values as ``jacrev``)."""
    from ..autograd.functional import jacobian

    def wrapper(*args):
        nums = _argnums_tuple(argnums)
        aux = []

        def partial(*chosen):
            full = list(args)
            for i, t in zip(nums, chosen):
                full[i] = t
            out = func(*full)
            if has_aux:
                out, extra = out
                aux.append(extra)
            return out

        from .. import _C

        chosen = tuple(args[i] for i in nums)
        outer = _C.is_grad_enabled() and any(t.requires_grad for t in chosen)
        jac = jacobian(partial, chosen, create_graph=outer)
        jac = jac[0] if isinstance(argnums, int) else jac
        return (jac, _detached(aux[0])) if has_aux else jac

    return wrapper


def _detached(tree):
    """aux outputs come back without their graph, as from PyTorch's transforms."""
    from .. import _C
    from ._vmap import _flatten, _unflatten

    leaves, spec = _flatten(tree)
    return _unflatten(spec, [leaf.detach() if isinstance(leaf, _C.Tensor) else leaf for leaf in leaves])
