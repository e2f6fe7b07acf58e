"""torch.linalg: values, gradients and errors against PyTorch-recorded
fixtures (tests/golden/linalg.json, recorded by
tools/differential/record_linalg.py), reconstruction identities, gradients
against finite differences (float64), double backward."""

import json
import math
import warnings
from pathlib import Path

import linalg_cases as cases
import numpy as np
import pytest
import rustdl as torch

GOLDEN = json.loads((Path(__file__).parent / "golden" / "linalg.json").read_text())
TOL = {"float32": (1e-4, 2e-5), "float64": (1e-9, 1e-11)}


def compare(got, want, what):
    assert len(got) == len(want), what
    for g, w in zip(got, want):
        if "value" in w:
            assert g["value"] == w["value"], what
            continue
        assert g["shape"] == w["shape"] and g["dtype"] == w["dtype"], (what, g["shape"], w["shape"])
        rtol, atol = TOL.get(w["dtype"], (0, 0))
        np.testing.assert_allclose(g["values"], w["values"], rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("expr", list(GOLDEN["values"]))
def test_values_match_pytorch(expr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = cases.flatten(eval(expr, cases.env(torch)))
    compare(got, GOLDEN["values"][expr], expr)


@pytest.mark.parametrize("expr,names", cases.GRAD_CASES)
def test_gradients_match_pytorch(expr, names):
    env = cases.env(torch, requires_grad=names)
    loss = eval(expr, env)
    grads = torch.autograd.grad(loss, [env[n] for n in names])
    want = GOLDEN["grads"][expr]
    got = cases.flatten(grads)
    for g, w in zip(got, want):
        # gradients go through more roundings: a looser bound
        assert g["shape"] == w["shape"]
        tol = 2e-3 if w["dtype"] == "float32" else 1e-7
        np.testing.assert_allclose(g["values"], w["values"], rtol=tol, atol=tol, err_msg=expr)


@pytest.mark.parametrize("expr", list(GOLDEN["errors"]))
def test_errors_match_pytorch(expr):
    want = GOLDEN["errors"][expr]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            eval(expr, cases.env(torch))
    if want["type"] == "LinAlgError":
        assert isinstance(info.value, torch.linalg.LinAlgError)
    else:
        assert type(info.value).__name__ == want["type"], (expr, info.value)
    assert str(info.value) == want["message"]


def test_linalg_error_is_a_runtime_error():
    assert issubclass(torch.linalg.LinAlgError, RuntimeError)
    with pytest.raises(RuntimeError, match="singular"):
        torch.linalg.inv(torch.zeros(2, 2))


# ---- reconstruction identities ----

def _random(*shape, dtype=torch.float32, seed=0):
    g = np.random.default_rng(seed)
    return torch.tensor(g.standard_normal(shape).tolist(), dtype=dtype)


def _close(a, b, tol):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 3, 6, 4), (1, 1), (7, 2)])
@pytest.mark.parametrize("transposed", [False, True])
def test_qr_and_svd_reconstruct(shape, transposed):
    A = _random(*shape)
    if transposed:  # a strided view
        A = A.mT.contiguous().mT if len(shape) >= 2 else A
    k = min(shape[-2:])
    Q, R = torch.linalg.qr(A)
    _close(Q @ R, A, 1e-5)
    _close(Q.mT @ Q, torch.eye(k).expand(*shape[:-2], k, k), 1e-5)
    assert torch.equal(R, R.triu())
    Qc, Rc = torch.linalg.qr(A, mode="complete")
    m = shape[-2]
    _close(Qc @ Rc, A, 1e-5)
    _close(Qc.mT @ Qc, torch.eye(m).expand(*shape[:-2], m, m), 1e-5)
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    _close((U * S.unsqueeze(-2)) @ Vh, A, 1e-5)
    assert bool((S[..., :-1] >= S[..., 1:]).all())
    Uf, Sf, Vhf = torch.linalg.svd(A)
    n = shape[-1]
    _close(Uf.mT @ Uf, torch.eye(m).expand(*shape[:-2], m, m), 1e-5)
    _close(Vhf @ Vhf.mT, torch.eye(n).expand(*shape[:-2], n, n), 1e-5)
    _close(Sf, S, 1e-6)


def test_svd_of_rank_deficient_completes_an_orthonormal_basis():
    A = torch.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]], dtype=torch.float64)
    U, S, Vh = torch.linalg.svd(A)
    _close(U.mT @ U, torch.eye(3, dtype=torch.float64), 1e-12)
    assert abs(S[1].item()) < 1e-12
    _close(U[:, :2] * S @ Vh, A, 1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 16])
def test_eigh_diagonalises(n):
    A = _random(3, n, n, seed=n)
    A = A + A.mT
    w, V = torch.linalg.eigh(A)
    _close(A @ V, V * w.unsqueeze(-2), 1e-4)
    _close(V.mT @ V, torch.eye(n).expand(3, n, n), 1e-5)
    assert bool((w[..., :-1] <= w[..., 1:]).all())
    # only the named triangle is read
    w_upper, _ = torch.linalg.eigh(A.triu(), UPLO="U")
    w_lower, _ = torch.linalg.eigh(A.tril())
    _close(w_upper, w, 1e-5)
    _close(w_lower, w, 1e-5)


def test_cholesky_inverse_solve_identities():
    M = _random(2, 5, 5, dtype=torch.float64)
    A = M @ M.mT + 5 * torch.eye(5, dtype=torch.float64)
    L = torch.linalg.cholesky(A)
    _close(L @ L.mT, A, 1e-12)
    U = torch.linalg.cholesky(A, upper=True)
    _close(U, L.mT, 1e-12)
    _close(torch.linalg.inv(A) @ A, torch.eye(5, dtype=torch.float64).expand(2, 5, 5), 1e-12)
    B = _random(2, 5, 3, dtype=torch.float64)
    _close(A @ torch.linalg.solve(A, B), B, 1e-12)
    sign, logabs = torch.linalg.slogdet(A)
    _close(sign * logabs.exp(), torch.linalg.det(A), 1e-10)


def test_top_level_and_methods():
    A = _random(4, 4, dtype=torch.float64) + 3 * torch.eye(4, dtype=torch.float64)
    _close(torch.det(A), torch.linalg.det(A), 0)
    _close(A.det(), torch.linalg.det(A), 0)
    _close(A.inverse(), torch.linalg.inv(A), 0)
    _close(torch.inverse(A), torch.linalg.inv(A), 0)
    U, S, V = A.svd()
    _close(U @ torch.diag(S) @ V.mT, A, 1e-12)
    U, S, V = torch.svd(A, compute_uv=False)
    assert float(U.abs().sum()) == 0.0 and float(V.abs().sum()) == 0.0
    _close(A.logdet(), torch.linalg.slogdet(A).logabsdet, 0)
    r = torch.linalg.slogdet(A)
    assert r.sign is r[0] and r.logabsdet is r[1]
    r = torch.linalg.qr(A)
    assert (r.Q, r.R) == tuple(r)
    r = torch.linalg.eigh(A + A.mT)
    assert r.eigenvalues is r[0] and r.eigenvectors is r[1]
    r = torch.linalg.svd(A)
    assert r.U is r[0] and r.S is r[1] and r.Vh is r[2]
    with pytest.raises(RuntimeError, match="torch.linalg.cholesky"):
        A.cholesky()
    a, b = _random(2, 3, 3), _random(2, 3, 3, seed=1)
    with pytest.warns(UserWarning, match="without specifying the dim"):
        c = a.cross(b)
    _close(c, torch.linalg.cross(a, b, dim=1), 0)
    _close(torch.cross(a, b, dim=-1), torch.linalg.cross(a, b), 0)


def test_zero_size():
    assert torch.linalg.det(torch.zeros(0, 0)).item() == 1.0
    assert torch.linalg.inv(torch.zeros(2, 0, 0)).shape == (2, 0, 0)
    assert torch.linalg.svd(torch.zeros(0, 4, 2)).U.shape == (0, 4, 4)
    assert torch.linalg.eigh(torch.zeros(0, 3, 3)).eigenvalues.shape == (0, 3)
    assert torch.linalg.solve(torch.zeros(0, 2, 2), torch.zeros(0, 2)).shape == (0, 2)
    assert torch.linalg.cholesky(torch.zeros(5, 0, 0)).shape == (5, 0, 0)
    x = torch.zeros(0, 3, 3, requires_grad=True)
    torch.linalg.det(x).sum().backward()
    assert x.grad.shape == (0, 3, 3)


def test_non_finite():
    nan = torch.full((3, 3), math.nan)
    assert torch.linalg.det(nan).isnan().item()
    assert bool(torch.linalg.inv(nan).isnan().all())
    assert bool(torch.linalg.eigvalsh(nan[:2, :2]).isnan().all())
    with pytest.raises(torch.linalg.LinAlgError, match="non-finite"):
        torch.linalg.svdvals(torch.tensor([[1.0, math.inf], [0.0, 1.0]]))
    with pytest.raises(torch.linalg.LinAlgError, match="order 1"):
        torch.linalg.cholesky(nan)


# ---- gradients against finite differences (float64) ----

def _fd_check(f, *inputs, eps=1e-6, tol=1e-6):
    xs = [x.detach().clone().requires_grad_() for x in inputs]
    out = f(*xs)
    w = _random(*out.shape, dtype=torch.float64, seed=7) if out.dim() else torch.tensor(0.7, dtype=torch.float64)
    grads = torch.autograd.grad((out * w).sum(), xs)
    for k, (x, g) in enumerate(zip(xs, grads)):
        base = x.detach().numpy().copy()
        num = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            for sign in (1, -1):
                moved = base.copy()
                moved[i] += sign * eps
                args = [torch.tensor(moved) if j == k else y.detach() for j, y in enumerate(xs)]
                num[i] += sign * float((f(*args) * w).sum()) / (2 * eps)
        np.testing.assert_allclose(g.numpy(), num, rtol=tol, atol=tol)


_SQ = _random(3, 3, dtype=torch.float64) + 2 * torch.eye(3, dtype=torch.float64)
_SPD = _SQ @ _SQ.mT + torch.eye(3, dtype=torch.float64)
_TALL = _random(4, 3, dtype=torch.float64, seed=3)
_WIDE = _random(2, 4, dtype=torch.float64, seed=4)
_B = _random(3, 2, dtype=torch.float64, seed=5)


def _fix_sign(V):
    """Eigen/singular vectors with the first row positive (a fixed gauge)."""
    return V * V[..., :1, :].sign()


def _eigh_flat(a):
    w, V = torch.linalg.eigh(a + a.mT)
    return torch.cat([w, _fix_sign(V).flatten()])


def _svd_flat(a):
    U, S, Vh = torch.linalg.svd(a, full_matrices=False)
    return torch.cat([_fix_sign(U).flatten(), S, _fix_sign(Vh.mT).flatten()])


FD_CASES = {
    "inv": (torch.linalg.inv, _SQ),
    "det": (torch.linalg.det, _SQ),
    "slogdet": (lambda a: torch.linalg.slogdet(a).logabsdet, _SQ),
    "solve": (torch.linalg.solve, _SQ, _B),
    "solve_right": (lambda a, b: torch.linalg.solve(a, b, left=False), _SQ, _B.mT.contiguous()),
    "cholesky": (lambda a: torch.linalg.cholesky(a @ a.mT + torch.eye(3, dtype=torch.float64)), _SQ),
    "qr_tall": (lambda a: torch.cat([x.flatten() for x in torch.linalg.qr(a)]), _TALL),
    "qr_wide": (lambda a: torch.cat([x.flatten() for x in torch.linalg.qr(a)]), _WIDE),
    "eigh": (_eigh_flat, _SQ),
    "svd_tall": (_svd_flat, _TALL),
    "svd_wide": (_svd_flat, _WIDE),
    "matrix_norm_nuc": (lambda a: torch.linalg.matrix_norm(a, "nuc"), _TALL),
    "cross": (lambda a, b: torch.linalg.cross(a, b), _SQ, _B.mT[:1].contiguous()),
}


@pytest.mark.parametrize("name", list(FD_CASES))
def test_gradient_matches_finite_differences(name):
    f, *inputs = FD_CASES[name]
    _fd_check(f, *inputs)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "solve", "eigh", "cholesky", "svd_tall", "qr_tall"])
def test_double_backward_matches_finite_differences(name):
    f, *inputs = FD_CASES[name]

    def first_gradient(*xs):
        xs = [x.detach().requires_grad_() if not x.requires_grad else x for x in xs]
        out = f(*xs)
        w = torch.linspace(0.5, 1.5, out.numel(), dtype=torch.float64).reshape(out.shape)
        return torch.autograd.grad((out * w).sum(), xs[0], create_graph=True)[0]

    _fd_check(first_gradient, *inputs, tol=1e-5)


def test_det_gradient_of_a_singular_matrix_is_zero_as_in_pytorch():
    x = torch.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(torch.linalg.det(x), x, create_graph=True)
    assert float(g.abs().sum()) == 0.0


def test_qr_backward_errors_like_pytorch():
    x = _TALL.clone().requires_grad_()
    with pytest.raises(RuntimeError, match="mode='r'"):
        torch.linalg.qr(x, mode="r").R.sum().backward()


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unitriangular", [False, True])
def test_solve_triangular_reads_one_triangle(upper, left, unitriangular):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 4, 4)) + 4 * np.eye(4)
    b = rng.standard_normal((2, 4, 3) if left else (2, 3, 4))
    tri = np.triu(a) if upper else np.tril(a)
    if unitriangular:
        tri = tri - np.einsum("...ii->...i", tri)[..., None] * np.eye(4) + np.eye(4)  # ones on the diagonal
    want = np.linalg.solve(tri, b) if left else np.swapaxes(np.linalg.solve(np.swapaxes(tri, -1, -2),
                                                                          np.swapaxes(b, -1, -2)), -1, -2)
    A = torch.tensor(a, requires_grad=True)
    B = torch.tensor(b, requires_grad=True)
    X = torch.linalg.solve_triangular(A, B, upper=upper, left=left, unitriangular=unitriangular)
    np.testing.assert_allclose(X.detach().numpy(), want, rtol=1e-10, atol=1e-12)
    X.sum().backward()
    untouched = np.tril(np.ones((4, 4)), -1) if upper else np.triu(np.ones((4, 4)), 1)
    if unitriangular:
        untouched = untouched + np.eye(4)
    assert np.all(A.grad.numpy()[:, untouched.astype(bool)] == 0)
    assert torch.autograd.gradcheck(
        lambda a_, b_: torch.linalg.solve_triangular(a_, b_, upper=upper, left=left, unitriangular=unitriangular),
        (torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)))
    with pytest.raises(RuntimeError, match="The input tensor B must have at least 2 dimensions"):
        torch.linalg.solve_triangular(A, torch.ones(4), upper=upper)


OUT_CALLS = [
    ("linalg.inv", lambda A, B: torch.linalg.inv(A), lambda A, B, out: torch.linalg.inv(A, out=out)),
    ("linalg.solve", lambda A, B: torch.linalg.solve(A, B), lambda A, B, out: torch.linalg.solve(A, B, out=out)),
    ("linalg.cholesky", lambda A, B: torch.linalg.cholesky(A), lambda A, B, out: torch.linalg.cholesky(A, out=out)),
    ("linalg.det", lambda A, B: torch.linalg.det(A), lambda A, B, out: torch.linalg.det(A, out=out)),
    ("linalg.eigh", lambda A, B: torch.linalg.eigh(A), lambda A, B, out: torch.linalg.eigh(A, out=out)),
    ("linalg.qr", lambda A, B: torch.linalg.qr(A), lambda A, B, out: torch.linalg.qr(A, out=out)),
    ("linalg.matmul", lambda A, B: torch.linalg.matmul(A, B), lambda A, B, out: torch.linalg.matmul(A, B, out=out)),
    ("linalg.matrix_power", lambda A, B: torch.linalg.matrix_power(A, 3),
     lambda A, B, out: torch.linalg.matrix_power(A, 3, out=out)),
    ("linalg.solve_triangular", lambda A, B: torch.linalg.solve_triangular(A, B, upper=True),
     lambda A, B, out: torch.linalg.solve_triangular(A, B, upper=True, out=out)),
    ("inverse", lambda A, B: torch.inverse(A), lambda A, B, out: torch.inverse(A, out=out)),
    ("normalize", lambda A, B: torch.nn.functional.normalize(A),
     lambda A, B, out: torch.nn.functional.normalize(A, out=out)),
]


@pytest.mark.parametrize("name", [c[0] for c in OUT_CALLS])
def test_out_argument_receives_the_result(name):
    # out= was once accepted and ignored by these functions (the caller's tensor stayed as it was)
    _, plain, with_out = next(c for c in OUT_CALLS if c[0] == name)
    A = torch.tensor([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    B = torch.tensor([[1.0, 2.0], [0.0, 1.0], [3.0, -1.0]])
    want = plain(A, B)
    wants = want if isinstance(want, tuple) else (want,)
    outs = tuple(torch.full(w.shape, 99.0) for w in wants)
    got = with_out(A, B, outs if isinstance(want, tuple) else outs[0])
    for o, w in zip(outs, wants):
        assert torch.equal(o, w), name
    assert (got is outs[0]) if not isinstance(want, tuple) else all(g is o for g, o in zip(got, outs))
    with pytest.raises(RuntimeError, match="out= has shape"):
        with_out(A, B, tuple(torch.empty(7) for _ in wants) if isinstance(want, tuple) else torch.empty(7))
