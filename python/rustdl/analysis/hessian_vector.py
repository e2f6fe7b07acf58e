"""Hessian-vector products of a loss by double backward; no Hessian is built.

``HessianVectorProduct(closure, params)`` evaluates the loss once and keeps the
gradient's graph (``create_graph=True``). Then ``H v`` is one more backward pass,
through that graph, with ``v`` as the gradient's output gradient: d(g . v)/dθ = H v.
Each product reuses the same forward and first backward, so it costs about one
backward of the gradient graph (a few times a plain gradient). Vectors are flat
float64 numpy arrays in the parameters' order, so the eigen-solvers stay numpy.
"""

import warnings

import numpy as np

from .. import _C
from .._grad_mode import enable_grad

__all__ = ["HessianVectorProduct", "as_named_parameters"]


def as_named_parameters(params):
    """``[(name, tensor)]`` from tensors, ``model.parameters()``, ``named_parameters()`` or a dict."""
    if isinstance(params, _C.Tensor):
        params = [params]
    elif isinstance(params, dict):
        params = list(params.items())
    named = []
    for i, p in enumerate(params):
        name = f"param{i}"
        if isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], _C.Tensor):
            name, p = p
        if not isinstance(p, _C.Tensor):
            raise TypeError(f"params must be tensors (or model.parameters()), got {type(p).__name__} at index {i}")
        if not p.requires_grad:
            raise ValueError(f"parameter {name} (shape {list(p.shape)}) does not require grad: the closure's "
                             "loss cannot be differentiated with respect to it")
        if not p.is_floating_point():
            raise TypeError(f"parameter {name} has dtype {p.dtype}; only floating point parameters have a Hessian")
        named.append((name, p))
    if not named:
        raise ValueError("params is empty: there is nothing to analyse")
    return named


class HessianVectorProduct:
    """``hvp(v)`` = H v for the loss ``closure()`` at the current ``params``.

    Attributes: ``loss`` (float), ``gradient`` (flat float64 array), ``numel``,
    ``calls`` (how many products were taken).
    """

    def __init__(self, closure, params):
        self.params = list(params)
        self.shapes = [tuple(p.shape) for p in self.params]
        self.sizes = [p.numel() for p in self.params]
        self.numel = sum(self.sizes)
        with enable_grad():
            loss = closure()
            if not isinstance(loss, _C.Tensor):
                raise TypeError(f"closure() must return the loss as a Tensor, got {type(loss).__name__}")
            if loss.numel() != 1:
                raise RuntimeError(f"closure() must return a single-element loss, got shape {list(loss.shape)}")
            if not loss.requires_grad:
                raise RuntimeError("the loss returned by closure() does not depend on params "
                                   "(it does not require grad): compute it from the parameters")
            grads = _C._autograd_grad([loss.reshape(())], self.params, None, True, True, True)
        self.loss = float(loss.item())
        self.grads = [g if g is not None else _C.zeros_like(p) for g, p in zip(grads, self.params)]
        self.gradient = self._flat(self.grads)
        # gradients that do not depend on the parameters (a linear loss) have no graph: H rows are 0
        self._differentiable = [i for i, g in enumerate(self.grads) if g.requires_grad]
        constant = [i for i, g in enumerate(self.grads) if not g.requires_grad]
        if constant:
            warnings.warn(
                f"the gradient with respect to parameter(s) {constant} does not depend on the parameters, "
                "so their Hessian rows are taken as 0: the loss is linear in them, or an op between them "
                "and the loss has a backward that is not differentiable twice",
                RuntimeWarning, stacklevel=3)
        self.calls = 0

    def _flat(self, tensors):
        return np.concatenate([t.detach().to(_C.float64).reshape(-1).numpy() for t in tensors]) if tensors \
            else np.zeros(0)

    def split(self, vector):
        """Tensors shaped (and typed) like the parameters from a flat array."""
        out, start = [], 0
        for p, shape, size in zip(self.params, self.shapes, self.sizes):
            piece = np.ascontiguousarray(vector[start:start + size], dtype=np.float64).reshape(shape)
            out.append(_C.tensor(piece).to(p.dtype))
            start += size
        return out

    def __call__(self, vector):
        self.calls += 1
        vector = np.asarray(vector, dtype=np.float64)
        if not self._differentiable:
            return np.zeros(self.numel)
        pieces = self.split(vector)
        idx = self._differentiable
        hv = _C._autograd_grad([self.grads[i] for i in idx], self.params, [pieces[i] for i in idx],
                               True, False, True)
        return self._flat([h if h is not None else _C.zeros_like(p) for h, p in zip(hv, self.params)])

    def matrix(self):
        """The full Hessian (numel x numel, symmetrised), one product per column."""
        n = self.numel
        hessian = np.empty((n, n))
        basis = np.zeros(n)
        for i in range(n):
            basis[i] = 1.0
            hessian[:, i] = self(basis)
            basis[i] = 0.0
        return (hessian + hessian.T) / 2
