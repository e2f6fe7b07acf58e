"""Packed variable-length sequences (``nn.utils.rnn``) and the recurrent layers on them, shared by
the recorder (tools/differential/record_packed_sequence.py, PyTorch) and
tests/test_packed_sequence.py (rustdl). Inputs come from numpy so both see the same numbers."""

import numpy as np

INPUT, HIDDEN = 3, 4

# name: (mode, layer kwargs, lengths, batch_first, enforce_sorted, with initial state)
RNN_CASES = {
    "lstm_sorted": ("LSTM", {}, [5, 3, 3, 1], False, True, False),
    "lstm_unsorted_bidir_2layer": ("LSTM", {"num_layers": 2, "bidirectional": True}, [2, 5, 1, 4], True, False, True),
    "gru_unsorted_bidir": ("GRU", {"bidirectional": True}, [3, 1, 4], False, False, True),
    "rnn_relu_2layer": ("RNN", {"num_layers": 2, "nonlinearity": "relu"}, [4, 4, 2], True, True, False),
    "lstm_single_sequence": ("LSTM", {"bidirectional": True}, [3], False, True, False),
    "gru_equal_lengths": ("GRU", {}, [3, 3], True, False, False),
    "lstm_proj_unsorted_bidir": ("LSTM", {"proj_size": 2, "bidirectional": True, "num_layers": 2}, [2, 4, 3], False,
                                 False, True),
}

# LSTM with proj_size on ordinary (padded) input: name -> (layer kwargs, input shape, with initial state)
PROJ_CASES = {
    "proj_one_layer": ({"proj_size": 3}, (4, 2, INPUT), False),
    "proj_bidir_2layer_batch_first": ({"proj_size": 2, "bidirectional": True, "num_layers": 2, "batch_first": True},
                                      (2, 5, INPUT), True),
    "proj_unbatched": ({"proj_size": 1}, (3, INPUT), True),
}


def _layer(lib, mode, kwargs):
    cls = {"LSTM": lib.nn.LSTM, "GRU": lib.nn.GRU, "RNN": lib.nn.RNN}[mode]
    return cls(INPUT, HIDDEN, **kwargs)


def run_rnn(lib, name):
    mode, kwargs, lengths, batch_first, enforce_sorted, with_state = RNN_CASES[name]
    rs = np.random.RandomState(sum(map(ord, name)))
    layer = _layer(lib, mode, kwargs)
    _set_params(lib, layer, rs)
    steps, batch = max(lengths), len(lengths)
    shape = (batch, steps, INPUT) if batch_first else (steps, batch, INPUT)
    x = lib.tensor(rs.randn(*shape).astype(np.float32), requires_grad=True)
    dirs = 2 if kwargs.get("bidirectional") else 1
    state_shape = (kwargs.get("num_layers", 1) * dirs, batch, HIDDEN)
    hx = None
    if with_state:
        h_shape = state_shape[:2] + (kwargs.get("proj_size") or HIDDEN,)
        h0 = lib.tensor(rs.randn(*h_shape).astype(np.float32), requires_grad=True)
        hx = (h0, lib.tensor(rs.randn(*state_shape).astype(np.float32))) if mode == "LSTM" else h0
    packed = lib.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    out, state = layer(packed, hx)
    h_n = state[0] if mode == "LSTM" else state
    padded, out_lengths = lib.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, padding_value=-7.0)
    weight = lib.tensor(rs.randn(*padded.shape).astype(np.float32))
    loss = (padded * weight * (padded != -7.0)).sum() + (h_n * 1.5).sum()
    if mode == "LSTM":
        loss = loss + (state[1] * 0.5).sum()
    loss.backward()
    result = {"packed_data": out.data.detach().numpy().tolist(), "batch_sizes": out.batch_sizes.tolist(),
              "padded": padded.detach().numpy().tolist(), "lengths": out_lengths.tolist(),
              "h_n": h_n.detach().numpy().tolist(), "x_grad": x.grad.numpy().tolist()}
    if mode == "LSTM":
        result["c_n"] = state[1].detach().numpy().tolist()
    if with_state:
        result["h0_grad"] = (hx[0] if mode == "LSTM" else hx).grad.numpy().tolist()
    for pname, p in sorted(layer.named_parameters()):
        result["grad_" + pname] = p.grad.numpy().tolist()
    return result


def _set_params(lib, layer, rs):
    with lib.no_grad():
        for _, p in sorted(layer.named_parameters()):
            p.copy_(lib.tensor(rs.uniform(-0.5, 0.5, tuple(p.shape)).astype(np.float32)))


def run_proj(lib, name):
    kwargs, shape, with_state = PROJ_CASES[name]
    rs = np.random.RandomState(sum(map(ord, name)))
    layer = lib.nn.LSTM(INPUT, HIDDEN, **kwargs)
    _set_params(lib, layer, rs)
    x = lib.tensor(rs.randn(*shape).astype(np.float32), requires_grad=True)
    hx = None
    if with_state:
        lead = (kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1),)
        if len(shape) == 3:
            lead += (shape[0] if kwargs.get("batch_first") else shape[1],)
        h0 = lib.tensor(rs.randn(*lead, kwargs["proj_size"]).astype(np.float32), requires_grad=True)
        c0 = lib.tensor(rs.randn(*lead, HIDDEN).astype(np.float32), requires_grad=True)
        hx = (h0, c0)
    out, (h, c) = layer(x, hx)
    weight = lib.tensor(rs.randn(*out.shape).astype(np.float32))
    ((out * weight).sum() + (h * 1.5).sum() + (c * 0.5).sum()).backward()
    result = {"output": out.detach().numpy().tolist(), "h_n": h.detach().numpy().tolist(),
              "c_n": c.detach().numpy().tolist(), "x_grad": x.grad.numpy().tolist()}
    if with_state:
        result["h0_grad"] = hx[0].grad.numpy().tolist()
        result["c0_grad"] = hx[1].grad.numpy().tolist()
    for pname, p in sorted(layer.named_parameters()):
        result["grad_" + pname] = p.grad.numpy().tolist()
    return result


def run_utils(lib):
    """pack/pad utilities on their own: values, indices and lengths."""
    rnn = lib.nn.utils.rnn
    seqs = [lib.tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2) + 10 * i) for i, n in enumerate([2, 4, 1])]
    out = {}
    padded = rnn.pad_sequence(seqs)
    out["pad_sequence"] = padded.numpy().tolist()
    out["pad_sequence_bf_left"] = rnn.pad_sequence(seqs, batch_first=True, padding_value=-1.0,
                                                   padding_side="left").numpy().tolist()
    packed = rnn.pack_sequence(seqs, enforce_sorted=False)
    out["packed"] = [packed.data.numpy().tolist(), packed.batch_sizes.tolist(), packed.sorted_indices.tolist(),
                     packed.unsorted_indices.tolist()]
    back, lengths = rnn.pad_packed_sequence(packed, batch_first=True, total_length=6, padding_value=0.5)
    out["pad_packed"] = [back.numpy().tolist(), lengths.tolist()]
    out["unpack"] = [s.numpy().tolist() for s in rnn.unpack_sequence(packed)]
    out["unpad"] = [s.numpy().tolist() for s in rnn.unpad_sequence(padded, lib.tensor([2, 4, 1]))]
    return out
