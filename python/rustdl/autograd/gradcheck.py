"""Finite-difference gradient checking, as ``torch.autograd.gradcheck``."""

import numpy as np


def _as_tuple(x):
    return x if isinstance(x, (tuple, list)) else (x,)


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored):
    """Compare analytical gradients with central differences (inputs should be float64).

    Every output element is back-propagated in turn (vector-Jacobian rows) and
    compared with the numerical Jacobian column by column.
    """
    import rustdl

    inputs = _as_tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, rustdl.Tensor) and t.requires_grad]

    def run(args):
        with rustdl.no_grad():
            outs = _as_tuple(func(*args))
        return [o.detach().numpy().astype(np.float64).ravel() for o in outs]

    base = [t.detach().numpy().astype(np.float64) if isinstance(t, rustdl.Tensor) else t for t in inputs]
    outs0 = _as_tuple(func(*inputs))
    sizes = [o.numel() for o in outs0]
    for i in diff:
        x = base[i]
        numerical = np.zeros((x.size, sum(sizes)))
        for k in range(x.size):
            plus, minus = x.copy().ravel(), x.copy().ravel()
            plus[k] += eps
            minus[k] -= eps
            args_p = list(inputs)
            args_m = list(inputs)
            args_p[i] = rustdl.tensor(plus.reshape(x.shape), dtype=inputs[i].dtype)
            args_m[i] = rustdl.tensor(minus.reshape(x.shape), dtype=inputs[i].dtype)
            fp, fm = np.concatenate(run(args_p)), np.concatenate(run(args_m))
            numerical[k] = (fp - fm) / (2 * eps)
        analytical = np.zeros_like(numerical)
        col = 0
        for o in outs0:
            for j in range(o.numel()):
                w = np.zeros(o.numel())
                w[j] = 1.0
                g = rustdl.autograd.grad(o, inputs[i], rustdl.tensor(w.reshape(tuple(o.shape)), dtype=o.dtype),
                                         retain_graph=True, allow_unused=True)[0]
                if g is not None:
                    analytical[:, col] = g.numpy().ravel()
                col += 1
        if not np.allclose(analytical, numerical, atol=atol, rtol=rtol):
            if raise_exception:
                err = np.abs(analytical - numerical).max()
                raise RuntimeError(
                    f"Jacobian mismatch for output 0 with respect to input {i}: max abs error {err:.3g}\n"
                    f"numerical:{numerical}\nanalytical:{analytical}"
                )
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, **_ignored):
    """Second derivatives by finite differences, as ``torch.autograd.gradgradcheck``:
    ``gradcheck`` of the map ``(inputs, grad_outputs) -> vector-Jacobian products``
    computed with ``create_graph=True``. Missing ``grad_outputs`` are drawn at random."""
    import rustdl

    inputs = _as_tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, rustdl.Tensor) and t.requires_grad]
    if grad_outputs is None:
        outs = _as_tuple(func(*inputs))
        grad_outputs = tuple(rustdl.randn(tuple(o.shape), dtype=o.dtype, requires_grad=True) for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def first_derivatives(*args):
        with rustdl.enable_grad():
            xs = [a.detach().requires_grad_() if k in diff and not a.requires_grad else a
                  for k, a in enumerate(args[:n])]
            outs = _as_tuple(func(*xs))
            grads = rustdl.autograd.grad(outs, [xs[k] for k in diff], list(args[n:]), create_graph=True,
                                         allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
