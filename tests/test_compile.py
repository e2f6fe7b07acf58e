"""rustdl.compile (torch.compile): call forms, the module wrapper, losses and gradients equal
to eager over training steps, guards (recompiles), eager fallback on code a graph would not
reproduce."""

import warnings

import numpy as np
import pytest
import rustdl as torch
from rustdl import nn
from rustdl.nn import functional as F


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def mlp():
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 4))


class LeNetModule(nn.Module):
    """LeNet written with functional calls in forward (pooling after relu, as usual)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), (2, 2))
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def _entries(compiled):
    return [e for es in compiled._compiled_forward.entries.values() for e in es]


def _data(shape, classes, n=64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g), torch.randint(0, classes, (n,), generator=g)


def _train(make_model, shape, classes, how, steps=5, opt_cls=torch.optim.SGD, **opt_kw):
    torch.manual_seed(0)
    model = make_model()
    opt = opt_cls(model.parameters(), lr=0.01, **opt_kw)
    x, y = _data(shape, classes)
    run = torch.compile(model) if how == "model" else model

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(run(x), y)
        loss.backward()
        opt.step()
        return loss

    if how == "step":
        step = torch.compile(step)
    losses = [step().item() for _ in range(steps)]
    grads = [p.grad.clone() for p in model.parameters()]
    if how != "eager":  # the later steps replayed a graph
        caches = [run._compiled_forward] if how == "model" else list(step._rustdl_router.caches.values())
        assert any(e.fn is not None for c in caches for es in c.entries.values() for e in es)
    return losses, grads, model


@pytest.mark.parametrize("make_model", [lenet, LeNetModule])
def test_functional_lenet_is_rewritten_too(make_model):
    model = torch.compile(make_model())
    model(torch.randn(2, 1, 28, 28))
    (entry,) = _entries(model)
    ops = [n.op for n in entry.graph.nodes]
    assert ops[:2] == ["conv2d_relu_max_pool2d"] * 2, ops


@pytest.mark.parametrize("make_model", [lenet, LeNetModule])
@pytest.mark.parametrize("how", ["model", "step"])
def test_lenet_losses_and_gradients_equal_eager(make_model, how):
    eager, g_eager, m_eager = _train(make_model, (1, 28, 28), 10, "eager", momentum=0.9)
    comp, g_comp, m_comp = _train(make_model, (1, 28, 28), 10, how, momentum=0.9)
    assert len(set(eager)) > 1  # the model trains
    # within float32 rounding (the fused block's input gradient sums in another order)
    np.testing.assert_allclose(comp, eager, rtol=1e-5)
    for a, b in zip(g_eager, g_comp):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-5 * float(a.abs().max()))
    for a, b in zip(m_eager.state_dict().values(), m_comp.state_dict().values()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("how", ["model", "step"])
def test_mlp_with_adam_equal_eager(how):
    eager, g_eager, _ = _train(mlp, (20,), 4, "eager", opt_cls=torch.optim.Adam)
    comp, g_comp, _ = _train(mlp, (20,), 4, how, opt_cls=torch.optim.Adam)
    assert comp == eager
    for a, b in zip(g_eager, g_comp):
        assert torch.equal(a, b)


def _near(got, want):
    """Equal within float32 rounding (compiled LeNet blocks sum in another order than eager)."""
    got = got.detach().numpy()
    want = want if isinstance(want, np.ndarray) else want.detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * float(np.abs(want).max()))


def test_the_graph_is_captured_and_rewritten():
    model = torch.compile(lenet())
    x = torch.randn(8, 1, 28, 28)
    out = model(x)
    (entry,) = _entries(model)
    assert entry.reason is None and entry.source is not None
    # relu after each pool (relu(max_pool(x)) is max_pool(relu(x)) with a quarter of the
    # relus), then conv, pool and relu fused into one op
    ops = [n.op for n in entry.graph.nodes]
    assert ops[:3] == ["conv2d_relu_max_pool2d", "conv2d_relu_max_pool2d", "flatten"], ops
    assert entry.graph.nodes[0].outputs[0].shape == (8, 6, 14, 14)
    _near(model(x), out)  # a replay: the fused block's direct kernels sum in another order
    np.testing.assert_array_equal(model._orig_mod(x).detach().numpy(), out.detach().numpy())


def test_pool_before_relu_keeps_gradients_at_ties_and_negatives():
    # windows all negative, ties at the maximum, zeros and NaN
    x = torch.tensor([[[[-1.0, -2.0, 3.0, 3.0], [-0.5, -3.0, 1.0, 0.0],
                        [0.0, 0.0, float("nan"), 1.0], [0.0, -1.0, 2.0, 5.0]]]])

    def f(t):
        return F.max_pool2d(F.relu(t * 1.0), 2)

    cf = torch.compile(f)
    for _ in range(2):  # capture, then replay
        a = x.clone().requires_grad_(True)
        b = x.clone().requires_grad_(True)
        ya, yb = f(a), cf(b)
        np.testing.assert_array_equal(ya.detach().numpy(), yb.detach().numpy())
        g = torch.arange(1.0, 5.0).reshape(1, 1, 2, 2)
        ya.backward(g)
        yb.backward(g)
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_decorator_forms():
    calls = []

    @torch.compile
    def f(x):
        calls.append(1)
        return x * 2

    @torch.compile(mode="max-autotune", fullgraph=False)
    def g(x):
        return x + 1

    @torch.compile()
    def h(x):
        return x - 1

    x = torch.tensor([1.0, 2.0])
    assert f(x).tolist() == [2.0, 4.0] and g(x).tolist() == [2.0, 3.0] and h(x).tolist() == [0.0, 1.0]
    f(x)
    assert len(calls) == 2  # a compiled function's Python runs every call
    assert f.__name__ == "f" and f.__wrapped__ is not None


def test_module_wrapper_is_pytorchs_optimized_module():
    model = lenet()
    cm = torch.compile(model)
    assert type(cm).__name__ == "OptimizedModule"
    assert isinstance(cm, nn.Module)
    assert cm._orig_mod is model
    assert list(cm.state_dict()) == ["_orig_mod." + k for k in model.state_dict()]
    assert all(a is b for a, b in zip(cm.parameters(), model.parameters()))
    assert cm[0] is model[0] and len(cm) == len(model)
    cm.eval()
    assert not model.training and not cm.training
    cm.train()
    assert model.training
    cm.new_attr = 3
    assert model.new_attr == 3
    # loading a state dict through the wrapper reaches the original
    sd = {k: torch.zeros_like(v) for k, v in cm.state_dict().items()}
    cm.load_state_dict(sd)
    assert float(model[0].weight.abs().sum()) == 0.0


def test_module_compile_in_place_and_disable():
    model = mlp()
    x = torch.randn(4, 20)
    ref = model(x)
    assert model.compile() is None
    np.testing.assert_array_equal(model(x).detach().numpy(), ref.detach().numpy())
    np.testing.assert_array_equal(model(x).detach().numpy(), ref.detach().numpy())
    assert "_compiled_call_impl" in model.__dict__
    assert torch.compile(model, disable=True) is model


def test_argument_errors_are_pytorchs():
    f = lambda x: x
    with pytest.raises(RuntimeError, match="Unrecognized mode=fast"):
        torch.compile(f, mode="fast")
    with pytest.raises(RuntimeError, match="Either mode or options"):
        torch.compile(f, mode="default", options={})
    with pytest.raises(RuntimeError, match="Invalid backend: 'nope'"):
        torch.compile(f, backend="nope")
    with pytest.raises(AssertionError, match="A callable function is expected"):
        torch.compile(5)
    with pytest.raises(RuntimeError, match="Model can't be None"):
        torch.compile()(None)
    assert "inductor" in torch._dynamo.list_backends()


def test_new_shape_recompiles_and_old_one_still_replays():
    model = torch.compile(lenet())
    for n in (4, 6, 4, 6):
        x = torch.randn(n, 1, 28, 28)
        _near(model(x), model._orig_mod(x))
    assert len(_entries(model)) == 2
    with torch.no_grad():  # grad mode is guarded too
        model(torch.randn(4, 1, 28, 28))
    assert len(_entries(model)) == 3
    torch._dynamo.reset()
    assert len(_entries(model)) == 0


def test_training_flag_and_attributes_are_guarded():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    cm = torch.compile(model)
    x = torch.randn(16, 8)
    cm.eval()
    a = cm(x)
    cm.train()
    torch.manual_seed(3)
    b = cm(x)
    torch.manual_seed(3)
    b2 = cm(x)  # replayed: dropout draws again, from the same seed the same mask
    torch.manual_seed(3)
    b_eager = model(x)
    np.testing.assert_array_equal(b.detach().numpy(), b_eager.detach().numpy())
    np.testing.assert_array_equal(b2.detach().numpy(), b_eager.detach().numpy())
    cm.eval()
    np.testing.assert_array_equal(cm(x).detach().numpy(), a.detach().numpy())
    model[1].p = 0.0  # a changed attribute is a new signature
    cm.train()
    np.testing.assert_array_equal(cm(x).detach().numpy(), a.detach().numpy())


def test_parameter_updates_and_replacement_are_seen():
    model = nn.Linear(3, 2)
    cm = torch.compile(model)
    x = torch.randn(5, 3)
    cm(x)
    with torch.no_grad():
        model.weight.mul_(2.0)
    np.testing.assert_array_equal(cm(x).detach().numpy(), model(x).detach().numpy())
    model.weight = nn.Parameter(torch.ones(2, 3))
    np.testing.assert_array_equal(cm(x).detach().numpy(), model(x).detach().numpy())


class _DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        h = self.lin(x)
        if h.sum() > 0:  # a Python branch on a value
            return h * 2
        return h - 100


class _Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        self.calls += 1
        return self.lin(x)


class _Noise(nn.Module):
    def forward(self, x):
        return x + torch.randn(x.shape)


class _Iterates(nn.Module):
    def forward(self, x):
        return torch.stack([row * 2 for row in x])


@pytest.mark.parametrize("cls", [_DataDependent, _Counter, _Noise, _Iterates])
def test_untraceable_forward_runs_eagerly(cls):
    torch.manual_seed(0)
    model = cls()
    cm = torch.compile(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(3):
            x = torch.randn(3, 4) * (1 if i % 2 else -1)
            torch.manual_seed(i)
            got = cm(x)
            torch.manual_seed(i)
            want = model(x)
            np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    entries = _entries(cm)
    assert len(entries) == 1 and entries[0].fn is None and entries[0].reason
    if cls is _Counter:
        assert model.calls == 6  # every compiled call ran forward's Python
    with pytest.raises(torch._dynamo.exc.Unsupported):
        torch.compile(cls(), fullgraph=True)(torch.randn(3, 4))


def test_hooks_run_eagerly():
    model = mlp()
    seen = []
    model[0].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    cm = torch.compile(model)
    cm(torch.randn(2, 20))
    cm(torch.randn(2, 20))
    assert len(seen) == 2


def test_batch_norm_running_stats_updated_as_eager():
    def make():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))

    a, b = make(), make()
    cb = torch.compile(b)
    for i in range(3):
        x = torch.randn(2, 3, 8, 8)
        np.testing.assert_array_equal(a(x).detach().numpy(), cb(x).detach().numpy())
    for (k, u), v in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(u, v), k


def test_callable_backend_receives_the_graph():
    seen = []

    def backend(gm, example_inputs):
        seen.append((gm.graph, len(example_inputs)))
        return gm.forward

    cm = torch.compile(mlp(), backend=backend)
    x = torch.randn(3, 20)
    np.testing.assert_array_equal(cm(x).detach().numpy(), cm._orig_mod(x).detach().numpy())
    np.testing.assert_array_equal(cm(x).detach().numpy(), cm._orig_mod(x).detach().numpy())
    assert len(seen) == 1 and seen[0][1] == 1 and len(seen[0][0].nodes) == 5


def test_compiled_model_inside_jit_trace_is_recorded():
    cm = torch.compile(mlp())
    x = torch.randn(2, 20)
    cm(x)
    traced = torch.jit.trace(cm, (x,))
    np.testing.assert_array_equal(traced(x).detach().numpy(), cm(x).detach().numpy())


def test_optimized_module_pickles_and_deep_copies():
    import copy
    import io

    cm = torch.compile(mlp())
    x = torch.randn(3, 20)
    want = cm(x).detach().numpy()
    for other in (copy.deepcopy(cm), _roundtrip(cm, io)):
        assert type(other).__name__ == "OptimizedModule" and other._orig_mod is not cm._orig_mod
        np.testing.assert_array_equal(other(x).detach().numpy(), want)
        np.testing.assert_array_equal(other(x).detach().numpy(), want)


def _roundtrip(obj, io):
    import pickle

    buf = io.BytesIO()
    pickle.dump(obj, buf)
    buf.seek(0)
    return pickle.load(buf)


def _zoo():
    from rustdl.vision import models

    return [
        ("resnet18", lambda: models.resnet18(num_classes=10), (2, 3, 32, 32)),  # batch norm statistics
        ("squeezenet1_1", lambda: models.squeezenet1_1(num_classes=10), (2, 3, 48, 48)),  # cat, dropout
        ("lstm", lambda: nn.LSTM(8, 16, 2, batch_first=True), (3, 5, 8)),  # a tuple of outputs
        ("transformer", lambda: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, batch_first=True), 2), (2, 5, 16)),
    ]


@pytest.mark.parametrize("case", range(4))
def test_model_zoo_replays_bit_equal(case):
    name, make, shape = _zoo()[case]
    torch.manual_seed(0)
    a = make()
    torch.manual_seed(0)
    b = make()
    cb = torch.compile(b)
    for step in range(3):
        x = torch.randn(*shape)
        torch.manual_seed(step)
        ya = a(x)
        torch.manual_seed(step)
        yb = cb(x)
        ya, yb = (ya[0], yb[0]) if isinstance(ya, tuple) else (ya, yb)
        ya.square().sum().backward()
        yb.square().sum().backward()
        np.testing.assert_array_equal(ya.detach().numpy(), yb.detach().numpy())
        for p, q in zip(a.parameters(), b.parameters()):
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    for u, v in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(u, v)
    assert all(e.fn is not None for e in _entries(cb)), name


class _Unhashable(nn.Linear):
    def __eq__(self, other):
        return self is other

    __hash__ = None


def test_compiled_step_with_an_unhashable_module_runs_it_eagerly():
    model = _Unhashable(3, 2)

    @torch.compile
    def f(x):
        return model(x).sum()

    x = torch.randn(4, 3)
    assert f(x).item() == model(x).sum().item()


def test_compiling_the_forward_method_captures_the_whole_module():
    model = lenet()
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append(1))  # module(...) hooks: not forward's
    f = torch.compile(model.forward)
    x = torch.randn(2, 1, 28, 28)
    want = model.forward(x).detach().numpy()
    for _ in range(2):
        _near(f(x), want)
    assert seen == []
    assert f.__name__ == "forward"
    (entry,) = [e for es in f._compiled_forward.entries.values() for e in es]
    assert entry.fn is not None and len(entry.graph.nodes) == 8  # (12 ops, two blocks of 3 fused)
    model[0].register_forward_hook(lambda m, i, o: seen.append(2))  # a submodule's hook runs
    _near(f(x), want)
    assert seen == [2]
