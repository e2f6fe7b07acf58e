"""nn.Module hooks (forward with kwargs / always_call, full backward and backward pre hooks) run the
same way in PyTorch (tools/differential/record_module_hooks.py) and rustdl
(tests/test_module_hooks.py): each scenario returns a log of what the hooks saw and the gradients."""

import numpy as np


def _v(t):
    return None if t is None else np.round(t.detach().numpy().astype(np.float64), 6).tolist()


def _data(lib, rs, *shape):
    return lib.tensor(rs.randn(*shape).astype(np.float32))


def _linear(lib, rs):
    m = lib.nn.Linear(3, 2)
    with lib.no_grad():
        m.weight.copy_(_data(lib, rs, 2, 3))
        m.bias.copy_(_data(lib, rs, 2))
    return m


def full_backward_and_pre_hooks(lib):
    rs = np.random.RandomState(1)
    m, log = _linear(lib, rs), []
    m.register_full_backward_pre_hook(lambda mod, go: log.append(["pre", [_v(g) for g in go]]))

    def hook(mod, gi, go):
        log.append(["full", [_v(g) for g in gi], [_v(g) for g in go]])

    m.register_full_backward_hook(hook)
    x = _data(lib, rs, 4, 3).requires_grad_()
    (m(x) * _data(lib, rs, 4, 2)).sum().backward()
    (m(_data(lib, rs, 4, 3)) * 2).sum().backward()  # no input needs a gradient: grad_input is (None,)
    return {"log": log, "x_grad": _v(x.grad), "w_grad": _v(m.weight.grad)}


def hooks_replace_gradients(lib):
    rs = np.random.RandomState(2)
    m = _linear(lib, rs)
    m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 2,))
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0] + 1,))
    x = _data(lib, rs, 4, 3).requires_grad_()
    (m(x) ** 2).sum().backward()
    return {"x_grad": _v(x.grad), "w_grad": _v(m.weight.grad), "b_grad": _v(m.bias.grad)}


def several_inputs_and_outputs(lib):
    rs = np.random.RandomState(3)

    class Pair(lib.nn.Module):
        def forward(self, a, scale, b):
            return a * scale + b, (a * b).sum(-1)

    m, log = Pair(), []
    m.register_full_backward_hook(lambda mod, gi, go: log.append([[_v(g) for g in gi], [_v(g) for g in go]]))
    a = _data(lib, rs, 2, 3).requires_grad_()
    b = _data(lib, rs, 2, 3)  # no gradient wanted for b
    y, z = m(a, 1.5, b)
    (y.sum() + (z * 3).sum()).backward()
    return {"log": log, "a_grad": _v(a.grad)}


def forward_hooks_with_kwargs(lib):
    rs = np.random.RandomState(4)

    class Scaled(lib.nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    m, log = Scaled(), []

    def pre(mod, args, kwargs):
        log.append(["pre", sorted(kwargs)])
        return (args[0] + 1,), {"scale": kwargs.get("scale", 1.0) * 10}

    def post(mod, args, kwargs, out):
        log.append(["post", _v(args[0]), kwargs, _v(out)])
        return out - 1

    h1 = m.register_forward_pre_hook(pre, with_kwargs=True)
    m.register_forward_hook(post, with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: log.append(["plain", _v(out)]), prepend=True)
    x = _data(lib, rs, 3)
    first = m(x, scale=2.0)
    h1.remove()
    second = m(x, scale=2.0)
    return {"log": log, "first": _v(first), "second": _v(second)}


def always_call_hook_sees_failed_forward(lib):
    class Fails(lib.nn.Module):
        def forward(self, x):
            raise ValueError("forward failed on purpose")

    m, log = Fails(), []
    m.register_forward_hook(lambda mod, args, out: log.append(["always", out is None]), always_call=True)
    m.register_forward_hook(lambda mod, args, out: log.append(["normal"]))
    try:
        m(lib.ones(2))
    except ValueError as e:
        log.append(["raised", str(e)])
    return {"log": log}


SCENARIOS = {f.__name__: f for f in (full_backward_and_pre_hooks, hooks_replace_gradients,
                                    several_inputs_and_outputs, forward_hooks_with_kwargs,
                                    always_call_hook_sees_failed_forward)}
