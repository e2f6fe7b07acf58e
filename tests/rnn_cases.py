"""Recurrent-layer cases shared by tools/differential/record_rnn.py (run with
PyTorch) and tests/test_rnn_fused.py (run with rustdl): every function takes
the library module (``torch`` or ``rustdl``) and builds the same data from a
seeded NumPy generator, so the fixture holds only the results."""

import numpy as np

# name: (module class, constructor kwargs, input shape, give initial state, dtype, extras)
MODULES = {
    "lstm_t1_b1": ("LSTM", {"input_size": 3, "hidden_size": 4}, (1, 1, 3), True, "float32", {}),
    "lstm_2layer_bidir": ("LSTM", {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True},
                          (5, 2, 3), True, "float32", {}),
    "lstm_batch_first_noncontig": ("LSTM", {"input_size": 3, "hidden_size": 4, "batch_first": True}, (2, 4, 3), False,
                                   "float32", {"noncontiguous": True}),
    "lstm_no_bias_f64": ("LSTM", {"input_size": 3, "hidden_size": 4, "bias": False}, (3, 2, 3), True, "float64", {}),
    "lstm_only_hn": ("LSTM", {"input_size": 3, "hidden_size": 4, "num_layers": 2}, (4, 3, 3), True, "float32",
                     {"skip_output": True}),
    "gru": ("GRU", {"input_size": 3, "hidden_size": 4}, (4, 2, 3), True, "float32", {}),
    "gru_2layer_bidir_f64": ("GRU", {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True},
                             (3, 2, 3), False, "float64", {}),
    "gru_t1_b1_batch_first": ("GRU", {"input_size": 3, "hidden_size": 4, "batch_first": True}, (1, 1, 3), True,
                              "float32", {}),
    "rnn_tanh_bidir": ("RNN", {"input_size": 3, "hidden_size": 4, "bidirectional": True}, (4, 2, 3), True, "float32",
                       {}),
    "rnn_relu_2layer": ("RNN", {"input_size": 3, "hidden_size": 4, "num_layers": 2, "nonlinearity": "relu"}, (4, 2, 3),
                        True, "float32", {}),
    "lstm_unbatched": ("LSTM", {"input_size": 3, "hidden_size": 4}, (3, 3), True, "float32", {}),
}

CELLS = {
    "lstm_cell": ("LSTMCell", {"input_size": 3, "hidden_size": 4}, (2, 3), True, "float32"),
    "lstm_cell_no_state_f64": ("LSTMCell", {"input_size": 3, "hidden_size": 4}, (2, 3), False, "float64"),
    "gru_cell": ("GRUCell", {"input_size": 3, "hidden_size": 4}, (2, 3), True, "float32"),
    "gru_cell_unbatched": ("GRUCell", {"input_size": 3, "hidden_size": 4}, (3,), True, "float32"),
    "rnn_cell_relu": ("RNNCell", {"input_size": 3, "hidden_size": 4, "nonlinearity": "relu"}, (2, 3), True, "float32"),
    "rnn_cell_tanh_no_bias": ("RNNCell", {"input_size": 3, "hidden_size": 4, "bias": False}, (2, 3), True, "float32"),
}


def _arr(rng, shape):
    return rng.uniform(-1.0, 1.0, size=shape)


def _t(lib, a, dtype, grad=True):
    return lib.tensor(np.asarray(a).tolist(), dtype=getattr(lib, dtype), requires_grad=grad)


def _set_params(lib, mod, rng, dtype):
    with lib.no_grad():
        for _, p in sorted(mod.named_parameters()):
            p.copy_(lib.tensor(_arr(rng, tuple(p.shape)).tolist(), dtype=getattr(lib, dtype)))


def _loss(lib, outs, rng):
    total = 0
    for o in outs:
        total = total + (o * lib.tensor(_arr(rng, tuple(o.shape)).tolist(), dtype=o.dtype)).sum()
    return total


def _result(lib, mod, inputs, outs, loss):
    params = [p for _, p in sorted(mod.named_parameters())]
    leaves = [t for t in inputs if t is not None]
    grads = lib.autograd.grad(loss, leaves + params)
    return {"outputs": [o.detach().tolist() for o in outs], "grads": [g.tolist() for g in grads]}


def run_module(lib, name):
    cls, kw, shape, give_state, dtype, extra = MODULES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    mod = getattr(lib.nn, cls)(**kw).to(getattr(lib, dtype))
    _set_params(lib, mod, rng, dtype)
    if extra.get("noncontiguous"):
        x = _t(lib, _arr(rng, shape[::-1]), dtype)
        x_in = x.permute(*range(len(shape) - 1, -1, -1))
    else:
        x = x_in = _t(lib, _arr(rng, shape), dtype)
    dirs = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    batched = len(shape) == 3
    batch = (shape[0] if kw.get("batch_first") else shape[1]) if batched else None
    state_shape = (layers * dirs, batch, kw["hidden_size"]) if batched else (layers * dirs, kw["hidden_size"])
    inputs = [x]
    if give_state:
        h0 = _t(lib, _arr(rng, state_shape), dtype)
        inputs.append(h0)
        if cls == "LSTM":
            c0 = _t(lib, _arr(rng, state_shape), dtype)
            inputs.append(c0)
            out, (h, c) = mod(x_in, (h0, c0))
        else:
            out, h = mod(x_in, h0)
    else:
        out, h = mod(x_in)
        if cls == "LSTM":
            h, c = h
    outs = [out, h] + ([c] if cls == "LSTM" else [])
    if extra.get("skip_output"):
        outs = outs[1:]
    return _result(lib, mod, inputs, outs, _loss(lib, outs, rng))


def run_cell(lib, name):
    cls, kw, shape, give_state, dtype = CELLS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    mod = getattr(lib.nn, cls)(**kw).to(getattr(lib, dtype))
    _set_params(lib, mod, rng, dtype)
    x = _t(lib, _arr(rng, shape), dtype)
    state_shape = shape[:-1] + (kw["hidden_size"],)
    inputs = [x]
    if give_state:
        h0 = _t(lib, _arr(rng, state_shape), dtype)
        inputs.append(h0)
        if cls == "LSTMCell":
            c0 = _t(lib, _arr(rng, state_shape), dtype)
            inputs.append(c0)
            outs = list(mod(x, (h0, c0)))
        else:
            outs = [mod(x, h0)]
    else:
        outs = mod(x)
        outs = list(outs) if isinstance(outs, tuple) else [outs]
    return _result(lib, mod, inputs, outs, _loss(lib, outs, rng))


# Hessian-vector products of a tiny layer (float64): d/dparams <grad(loss), v>.
HVP = {
    "lstm": ("LSTM", {"input_size": 2, "hidden_size": 3}),
    "gru": ("GRU", {"input_size": 2, "hidden_size": 3}),
    "rnn_tanh_bidir": ("RNN", {"input_size": 2, "hidden_size": 3, "bidirectional": True}),
}


def hvp(lib, name):
    cls, kw = HVP[name]
    rng = np.random.default_rng(sum(map(ord, name)) + 1)
    mod = getattr(lib.nn, cls)(**kw).to(lib.float64)
    _set_params(lib, mod, rng, "float64")
    x = _t(lib, _arr(rng, (3, 2, kw["input_size"])), "float64")
    out = mod(x)[0]
    loss = _loss(lib, [out], rng)
    params = [p for _, p in sorted(mod.named_parameters())]
    leaves = [x] + params
    grads = lib.autograd.grad(loss, leaves, create_graph=True)
    vs = [lib.tensor(_arr(rng, tuple(g.shape)).tolist(), dtype=lib.float64) for g in grads]
    dot = sum((g * v).sum() for g, v in zip(grads, vs))
    second = lib.autograd.grad(dot, leaves)
    return {"grads": [g.detach().tolist() for g in grads], "hvp": [s.tolist() for s in second]}
