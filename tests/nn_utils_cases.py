"""nn.utils parametrizations, weight/spectral norm (both forms), functional_call, fusion, norm
helpers and torch.func transforms, run the same way in PyTorch
(tools/differential/record_nn_utils.py) and rustdl (tests/test_nn_utils_parametrize.py)."""

import numpy as np


def _v(t):
    return np.round(t.detach().numpy().astype(np.float64), 6).tolist()


def _data(lib, rs, *shape):
    return lib.tensor(rs.randn(*shape).astype(np.float32))


def _set(lib, module, rs):
    with lib.no_grad():
        for _, p in sorted(module.named_parameters()):
            p.copy_(_data(lib, rs, *p.shape))
    return module


def parametrize_symmetric(lib):
    P = lib.nn.utils.parametrize
    rs = np.random.RandomState(1)

    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(0, 1)

        def right_inverse(self, A):
            return A.triu()

    m = _set(lib, lib.nn.Linear(3, 3), rs)
    P.register_parametrization(m, "weight", Symmetric())
    out = {"class": type(m).__name__, "before": P.type_before_parametrizations(m).__name__,
           "keys": list(m.state_dict().keys()), "weight": _v(m.weight),
           "is_p": [P.is_parametrized(m), P.is_parametrized(m, "weight"), P.is_parametrized(m, "bias")]}
    x = _data(lib, rs, 2, 3)
    (m(x) * _data(lib, rs, 2, 3)).sum().backward()
    out["original_grad"] = _v(m.parametrizations.weight.original.grad)
    sym = _data(lib, rs, 3, 3)
    m.weight = sym + sym.transpose(0, 1)
    out["after_assign"] = _v(m.weight)
    out["original_after_assign"] = _v(m.parametrizations.weight.original)
    with P.cached():
        out["cached_same"] = m.weight is m.weight
    P.register_parametrization(m, "weight", _Double(lib)())
    out["stacked"] = _v(m.weight)
    P.remove_parametrizations(m, "weight", leave_parametrized=True)
    out["removed"] = [type(m).__name__, list(m.state_dict().keys()), _v(m.weight)]
    return out


def _Double(lib):
    class Double(lib.nn.Module):
        def forward(self, X):
            return X * 2

    return Double


def weight_norm_parametrization(lib):
    rs = np.random.RandomState(2)
    out = {}
    for name, module, dim, shape in (("conv", lib.nn.Conv2d(2, 3, 3), 0, (2, 2, 5, 5)),
                                     ("linear_whole", lib.nn.Linear(4, 3), None, (2, 4))):
        m = _set(lib, module, rs)
        lib.nn.utils.parametrizations.weight_norm(m, dim=dim)
        x = _data(lib, rs, *shape)
        y = m(x)
        (y * _data(lib, rs, *y.shape)).sum().backward()
        pl = m.parametrizations.weight
        out[name] = {"keys": list(m.state_dict().keys()), "y": _v(y), "g": _v(pl.original0),
                     "g_grad": _v(pl.original0.grad), "v_grad": _v(pl.original1.grad)}
    # an old-style checkpoint (weight_g/weight_v) loads into the parametrized module
    old = _set(lib, lib.nn.Linear(4, 3), rs)
    with lib.no_grad():
        g = old.weight.pow(2).sum(1, keepdim=True).sqrt() * 2
    sd = {"weight_g": g, "weight_v": old.weight.detach(), "bias": old.bias.detach()}
    new = lib.nn.utils.parametrizations.weight_norm(lib.nn.Linear(4, 3))
    new.load_state_dict(sd)
    out["migrated_weight"] = _v(new.weight)
    return out


def spectral_norm_both_forms(lib):
    rs = np.random.RandomState(3)
    out = {}
    m = _set(lib, lib.nn.Linear(4, 3), rs)
    lib.nn.utils.parametrizations.spectral_norm(m)
    sn = m.parametrizations.weight[0]
    with lib.no_grad():
        sn._u.copy_(lib.nn.functional.normalize(_data(lib, rs, 3), dim=0))
        sn._v.copy_(lib.nn.functional.normalize(_data(lib, rs, 4), dim=0))
    x = _data(lib, rs, 2, 4)
    y = m(x)
    y.sum().backward()
    out["new_keys"] = list(m.state_dict().keys())
    out["new"] = [_v(y), _v(sn._u), _v(m.parametrizations.weight.original.grad)]
    m.eval()
    out["new_eval"] = _v(m(x))
    conv = _set(lib, lib.nn.ConvTranspose2d(3, 2, 3), rs)
    lib.nn.utils.spectral_norm(conv, n_power_iterations=2)
    with lib.no_grad():
        conv.weight_u.copy_(lib.nn.functional.normalize(_data(lib, rs, 2), dim=0))
        conv.weight_v.copy_(lib.nn.functional.normalize(_data(lib, rs, 27), dim=0))
    x = _data(lib, rs, 1, 3, 4, 4)
    y = conv(x)
    (y * _data(lib, rs, *y.shape)).sum().backward()
    out["old_keys"] = list(conv.state_dict().keys())
    out["old"] = [_v(y), _v(conv.weight_u), _v(conv.weight_v), _v(conv.weight_orig.grad)]
    lib.nn.utils.remove_spectral_norm(conv)
    out["old_removed"] = [list(conv.state_dict().keys()), _v(conv.weight)]
    return out


def weight_norm_hook_form(lib):
    import warnings

    rs = np.random.RandomState(4)
    m = _set(lib, lib.nn.Linear(3, 2), rs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lib.nn.utils.weight_norm(m, dim=1)
    x = _data(lib, rs, 4, 3)
    y = m(x)
    (y ** 2).sum().backward()
    out = {"keys": list(m.state_dict().keys()), "y": _v(y), "g_grad": _v(m.weight_g.grad), "v_grad": _v(m.weight_v.grad)}
    lib.nn.utils.remove_weight_norm(m)
    out["removed"] = [list(m.state_dict().keys()), _v(m.weight)]
    return out


def functional_call_and_func(lib):
    rs = np.random.RandomState(5)
    m = _set(lib, lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 1)), rs)
    w = _data(lib, rs, 4, 3).requires_grad_()
    x = _data(lib, rs, 5, 3)
    y = lib.func.functional_call(m, {"0.weight": w}, (x,))
    y.sum().backward()
    out = {"y": _v(y), "w_grad": _v(w.grad), "module_weight_grad_is_none": m[0].weight.grad is None,
           "module_y": _v(m(x))}
    f = lambda t: (t.sin() * t).sum()
    t = _data(lib, rs, 3)
    out["grad"] = _v(lib.func.grad(f)(t))
    g, (val, aux) = lib.func.grad_and_value(lambda a, b: ((a * b).sum(), a.mean()), argnums=1, has_aux=True)(t, t * 2)
    out["grad_and_value"] = [_v(g), _v(val), _v(aux)]
    y, fn = lib.func.vjp(lambda a: a.exp() * 2, t)
    out["vjp"] = [_v(y), _v(fn(lib.ones(3))[0])]
    out["jacrev"] = _v(lib.func.jacrev(lambda a: a.sin() * a.sum())(t))
    out["hessian"] = _v(lib.func.hessian(f)(t))
    out["grad_grad"] = _v(lib.func.grad(lambda a: lib.func.grad(f)(a).sum())(t))
    return out


def fusion_and_norms(lib):
    rs = np.random.RandomState(6)
    conv = _set(lib, lib.nn.Conv2d(2, 3, 3), rs).eval()
    bn = lib.nn.BatchNorm2d(3).eval()
    with lib.no_grad():
        bn.running_mean.copy_(_data(lib, rs, 3))
        bn.running_var.copy_(_data(lib, rs, 3).abs() + 0.5)
        bn.weight.copy_(_data(lib, rs, 3))
        bn.bias.copy_(_data(lib, rs, 3))
    fused = lib.nn.utils.fuse_conv_bn_eval(conv, bn)
    x = _data(lib, rs, 1, 2, 5, 5)
    lin = _set(lib, lib.nn.Linear(4, 3), rs).eval()
    fused_lin = lib.nn.utils.fuse_linear_bn_eval(lin, lib.nn.BatchNorm1d(3).eval())
    xl = _data(lib, rs, 2, 4)
    params = [_data(lib, rs, 3).requires_grad_(), _data(lib, rs, 2, 2).requires_grad_()]
    for p in params:
        p.grad = _data(lib, rs, *p.shape)
    total = lib.nn.utils.get_total_norm([p.grad for p in params], norm_type=3.0)
    lib.nn.utils.clip_grads_with_norm_(params, 0.5, total)
    return {"conv": [_v(fused(x)), _v(bn(conv(x)))], "linear": [_v(fused_lin(xl))], "total": _v(total),
            "clipped": [_v(p.grad) for p in params]}


SCENARIOS = {f.__name__: f for f in (parametrize_symmetric, weight_norm_parametrization, spectral_norm_both_forms,
                                    weight_norm_hook_form, functional_call_and_func, fusion_and_norms)}
