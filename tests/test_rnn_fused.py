"""The fused recurrent layers (rust/ops/rnn.rs, ``_C._rnn_layer``): RNN/LSTM/GRU
modules and cells against PyTorch's recorded outputs, gradients and
Hessian-vector products (tests/golden/rnn.json, from
tools/differential/record_rnn.py), against the step-by-step composite path,
gradgradcheck of the layer op, and the edge cases (T=1, batch 1 and 0,
non-contiguous input, empty sequences)."""

import json
from pathlib import Path

import numpy as np
import pytest
import rnn_cases as cases
import rustdl as torch
from rustdl import _C
from rustdl.backends import cpu as cpu_backend
from rustdl.nn.modules import rnn as rnn_module

GOLDEN = json.loads((Path(__file__).parent / "golden" / "rnn.json").read_text())


def _close(got, want, dtype):
    tol = {"rtol": 1e-9, "atol": 1e-10} if dtype == "float64" else {"rtol": 2e-4, "atol": 2e-5}
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64), **tol)


@pytest.fixture(params=[True, False], ids=["fused", "composite"])
def path(request, monkeypatch):
    monkeypatch.setattr(rnn_module, "_FUSED", request.param)
    return request.param


@pytest.mark.parametrize("name", sorted(cases.MODULES))
def test_module_matches_pytorch(name, path):
    got = cases.run_module(torch, name)
    want = GOLDEN["modules"][name]
    dtype = cases.MODULES[name][4]
    _close(got["outputs"], want["outputs"], dtype)
    _close(got["grads"], want["grads"], dtype)


@pytest.mark.parametrize("name", sorted(cases.CELLS))
def test_cell_matches_pytorch(name, path):
    got = cases.run_cell(torch, name)
    want = GOLDEN["cells"][name]
    dtype = cases.CELLS[name][4]
    _close(got["outputs"], want["outputs"], dtype)
    _close(got["grads"], want["grads"], dtype)


@pytest.mark.parametrize("name", sorted(cases.HVP))
def test_hessian_vector_product_matches_pytorch(name):
    got = cases.hvp(torch, name)
    want = GOLDEN["hvp"][name]
    _close(got["grads"], want["grads"], "float64")
    _close(got["hvp"], want["hvp"], "float64")


def _layer_inputs(mode, t=2, b=2, i=2, h=2, bias=True):
    g = {"LSTM": 4, "GRU": 3}.get(mode, 1) * h
    gen = torch.Generator().manual_seed(7)

    def r(*s):
        return (torch.rand(*s, generator=gen, dtype=torch.float64) - 0.5).requires_grad_()

    x, h0 = r(t, b, i), r(b, h)
    c0 = r(b, h) if mode == "LSTM" else None
    ws = [r(g, i), r(g, h)] + ([r(g), r(g)] if bias else [None, None])
    return x, h0, c0, ws


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("reverse", [False, True])
def test_layer_op_gradcheck_and_gradgradcheck(mode, reverse):
    x, h0, c0, ws = _layer_inputs(mode)
    inputs = [x, h0] + ([c0] if c0 is not None else []) + ws

    def f(*args):
        args = list(args)
        x, h0 = args[0], args[1]
        c0 = args[2] if mode == "LSTM" else None
        w_ih, w_hh, b_ih, b_hh = args[3:] if mode == "LSTM" else args[2:]
        out, h, c = _C._rnn_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)
        return (out, h) if c is None else (out, h, c)

    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


def test_third_order_lstm():
    x, h0, c0, ws = _layer_inputs("LSTM", t=2, b=1, i=1, h=1)

    def first(x, w_hh):
        out, h, c = _C._rnn_layer("LSTM", x, h0.detach(), c0.detach(), ws[0].detach(), w_hh, None, None, False)
        (g,) = torch.autograd.grad((out * out).sum() + (c * h).sum(), x, create_graph=True)
        return g

    assert torch.autograd.gradgradcheck(first, [x, ws[1]])


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
def test_fused_equals_composite_on_larger_sizes(mode, monkeypatch):
    def run(fused):
        monkeypatch.setattr(rnn_module, "_FUSED", fused)
        torch.manual_seed(3)
        m = torch.nn.RNN(9, 17, num_layers=2, bidirectional=True, nonlinearity=mode[4:].lower()) \
            if mode.startswith("RNN") else getattr(torch.nn, mode)(9, 17, num_layers=2, bidirectional=True)
        m = m.double()
        x = torch.randn(7, 5, 9, dtype=torch.float64, requires_grad=True)
        out, h = m(x)
        h = h if mode != "LSTM" else h[0] + h[1]
        loss = (out.sin()).sum() + (h * h).sum()
        grads = torch.autograd.grad(loss, [x] + list(m.parameters()))
        return [out, h] + list(grads)

    for a, b in zip(run(True), run(False)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_dropout_between_layers_draws_as_composite(monkeypatch):
    def run(fused):
        monkeypatch.setattr(rnn_module, "_FUSED", fused)
        torch.manual_seed(0)
        m = torch.nn.LSTM(4, 5, num_layers=3, dropout=0.5)
        out, _ = m(torch.randn(3, 2, 4))
        return out.detach().numpy()

    np.testing.assert_allclose(run(True), run(False), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_batch_zero(cls):
    m = getattr(torch.nn, cls)(3, 4)
    x = torch.randn(5, 0, 3, requires_grad=True)
    out, h = m(x)
    h = h[0] if cls == "LSTM" else h
    assert tuple(out.shape) == (5, 0, 4) and tuple(h.shape) == (1, 0, 4)
    out.sum().backward()
    assert tuple(x.grad.shape) == (5, 0, 3)
    assert m.weight_hh_l0.grad is not None and float(m.weight_hh_l0.grad.abs().sum()) == 0.0


def test_empty_sequence_raises_as_pytorch():
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        torch.nn.LSTM(3, 4)(torch.randn(0, 2, 3))


def test_cell_argument_errors_as_pytorch():
    c = torch.nn.LSTMCell(4, 3)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 4"):
        c(torch.randn(2, 5))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        c(torch.randn(2, 4), (torch.randn(3, 3), torch.randn(2, 3)))
    with pytest.raises(RuntimeError, match="hidden1 has inconsistent hidden_size: got 5, expected 3"):
        c(torch.randn(2, 4), (torch.randn(2, 3), torch.randn(2, 5)))


def test_layer_op_rejects_bad_arguments():
    x, h0, c0, ws = _layer_inputs("LSTM")
    with pytest.raises(RuntimeError, match="LSTM needs cx"):
        _C._rnn_layer("LSTM", x, h0, None, *ws, False)
    with pytest.raises(RuntimeError, match="weight_hh must have shape"):
        _C._rnn_layer("LSTM", x, h0, c0, ws[0], ws[1][:, :1], ws[2], ws[3], False)
    with pytest.raises(RuntimeError, match="dtype"):
        _C._rnn_layer("LSTM", x.float(), h0, c0, *ws, False)
    with pytest.raises(ValueError, match="Unknown mode"):
        _C._rnn_layer("LSTMX", x, h0, c0, *ws, False)


def test_modifying_output_in_place_before_backward_raises():
    m = torch.nn.GRU(3, 4)
    out, _ = m(torch.randn(2, 1, 3))
    loss = out.sum()
    with torch.no_grad():
        out.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_no_grad_forward_records_nothing():
    m = torch.nn.LSTM(3, 4)
    with torch.no_grad():
        out, (_h, _c) = m(torch.randn(2, 1, 3))
    assert out.grad_fn is None and not out.requires_grad


@pytest.fixture(params=cpu_backend._supported_isas())
def isa(request):
    before = cpu_backend._isa()
    cpu_backend._set_isa(request.param)
    yield request.param
    cpu_backend._set_isa(before)


@pytest.fixture(params=[1, 2, 3], ids=lambda n: f"threads{n}")
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


# (batch, hidden, bidirectional, T, bias): batch 1; a batch the threads split into row
# blocks of 8 (16), of unequal blocks (40 at 3 threads) and of odd hidden sizes (tail
# blocks of the gate kernels); odd and even T (dh0 comes out of either half of the
# double buffer); no bias (the gate kernels' bias of zeros); batches of 20 and 30 (the
# step GEMMs' 10-row tile: whole, or blocks of 10 per thread); a batch of 340 (on one
# thread, two row blocks of the 10-row tile: its blocks were 336 rows, not whole tiles,
# and the second asked for more rows than the packing buffer held, an internal error).
SPLIT_CASES = [(1, 5, False, 3, True), (16, 37, True, 6, True), (40, 128, False, 5, True),
               (64, 13, True, 4, False), (20, 40, False, 5, True), (30, 19, True, 3, True),
               (340, 8, False, 2, True)]


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
@pytest.mark.parametrize("case", SPLIT_CASES, ids=lambda c: "b{}h{}{}t{}{}".format(
    c[0], c[1], "bi" if c[2] else "", c[3], "" if c[4] else "nobias"))
def test_float32_fused_matches_float64_composite(mode, case, isa, threads, monkeypatch):
    """The float32 fused layers at every instruction-set level and thread count (each
    thread running the time loop on its own batch rows when the batch allows) against
    the float64 step-by-step composite with the same weights: outputs, final states and
    the gradients of input, initial states and every weight."""
    batch, hidden, bidir, seq, bias = case

    def run(fused, dtype):
        monkeypatch.setattr(rnn_module, "_FUSED", fused)
        torch.manual_seed(11)
        cls = torch.nn.RNN if mode == "RNN_TANH" else getattr(torch.nn, mode)
        m = cls(9, hidden, bidirectional=bidir, bias=bias).to(dtype)
        dirs = 2 if bidir else 1
        # (drawn in float32 for both runs: the same values)
        x, h0, c0 = (torch.randn(*s).to(dtype).requires_grad_()
                     for s in [(seq, batch, 9), (dirs, batch, hidden), (dirs, batch, hidden)])
        out, hn = m(x, (h0, c0) if mode == "LSTM" else h0)
        states = list(hn) if mode == "LSTM" else [hn]
        loss = (out * out.cos()).sum() + sum((s * s).sum() for s in states)
        wrt = [x, h0] + ([c0] if mode == "LSTM" else []) + list(m.parameters())
        grads = torch.autograd.grad(loss, wrt)
        return [t.detach().double().numpy() for t in [out] + states + list(grads)]

    got, want = run(True, torch.float32), run(False, torch.float64)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-4)


# Which LSTM parameters train: the weight gradients' GEMM over the operand rows the
# forward kept ([x_t | h_{t-1} | 1]) with and without its column of ones, and the
# separate GEMMs (and column sums for the biases) when only some weights train.
TRAINING = {"weights_only": ("weight_ih", "weight_hh"), "biases_only": ("bias_ih", "bias_hh"),
            "hh_and_biases": ("weight_hh", "bias_ih", "bias_hh"), "one_bias": ("weight_ih", "weight_hh", "bias_hh")}


@pytest.mark.parametrize("training", TRAINING)
@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_with_some_parameters_frozen(training, batch_first, isa, monkeypatch):
    """The fused float32 LSTM against the float64 composite when only some parameters
    require grad and the input does not (hx omitted: zero initial states), at every
    instruction-set level, with a batch the threads split into row blocks."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)

    def run(fused, dtype):
        monkeypatch.setattr(rnn_module, "_FUSED", fused)
        torch.manual_seed(5)
        m = torch.nn.LSTM(7, 24, num_layers=2, batch_first=batch_first).to(dtype)
        for name, p in m.named_parameters():
            p.requires_grad_(name.rsplit("_", 1)[0] in TRAINING[training])
        x = torch.randn(16, 5, 7).to(dtype)
        x = x if batch_first else x.transpose(0, 1)
        out, (h, c) = m(x)
        loss = (out * out.sin()).sum() + (h * c).sum()
        wrt = [p for p in m.parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss, wrt)
        return [t.detach().double().numpy() for t in [out, h, c] + list(grads)]

    try:
        got, want = run(True, torch.float32), run(False, torch.float64)
    finally:
        torch.set_num_threads(before)
    assert len(got) == len(want) > 3
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-4)
