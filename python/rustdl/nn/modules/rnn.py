"""Recurrent layers: RNN, LSTM, GRU and their cells, with PyTorch's weight
names, gate order (LSTM: i, f, g, o; GRU: r, z, n) and shapes.

On the CPU in float32/float64 each layer and direction is one fused op
(``_C._rnn_layer``, rust/ops/rnn.rs): one GEMM for the input projection of the
whole sequence, a fused kernel per time step, and the same shape in backward.
Other devices and dtypes run the step-by-step composite below.
"""

import math

from ... import _C
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


def _rnn_tanh_cell(x_proj, h, w_hh, b_hh):
    return (x_proj + F.linear(h, w_hh, b_hh)).tanh()


def _rnn_relu_cell(x_proj, h, w_hh, b_hh):
    return (x_proj + F.linear(h, w_hh, b_hh)).relu()


def _lstm_cell(x_proj, state, w_hh, b_hh):
    h, c = state
    gates = x_proj + F.linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    c = f * c + i * g
    return o * c.tanh(), c


def _gru_cell(x_proj, h, w_hh, b_hh):
    hp = F.linear(h, w_hh, b_hh)
    xr, xz, xn = x_proj.chunk(3, -1)
    hr, hz, hn = hp.chunk(3, -1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1 - z) * n + z * h


_FUSED = True  # tests and benches set it False to run the composite path


def _fusable(*tensors):
    """Whether the fused layer op takes these tensors (CPU, one float32/float64 dtype)."""
    t0 = tensors[0]
    if not _FUSED or t0.dtype not in (_C.float32, _C.float64):
        return False
    return all(t is None or (t.device.type == "cpu" and t.dtype == t0.dtype) for t in tensors)


class RNNBase(Module):
    _gates = 1

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if not isinstance(proj_size, int) or isinstance(proj_size, bool) or proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        gate_size = {"LSTM": 4, "GRU": 3}.get(mode, 1) * hidden_size
        out_size = proj_size or hidden_size  # what h carries: the projection when there is one
        dirs = 2 if bidirectional else 1
        dt = dtype or _C.float32
        self._flat_weights_names = []
        self._all_weights = []  # names per layer and direction: PyTorch's RNNBase.__setstate__ reads it
        for layer in range(num_layers):
            for d in range(dirs):
                in_size = input_size if layer == 0 else out_size * dirs
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                shapes = [(gate_size, in_size), (gate_size, out_size)]
                if bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    shapes += [(gate_size,), (gate_size,)]
                if proj_size:
                    names.append(f"weight_hr{sfx}")
                    shapes.append((proj_size, hidden_size))
                for n, s in zip(names, shapes):
                    setattr(self, n, Parameter(_C.empty(tuple(s), dtype=dt, device=device)))
                self._flat_weights_names += names
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self):
        """Does nothing, as in PyTorch on the CPU (cuDNN packs the weights into one buffer);
        scripts call it after ``torch.load`` of a whole model."""

    @property
    def all_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _state_zeros(self, batch, like):
        """The default initial state: h (and c) of zeros."""
        dirs = 2 if self.bidirectional else 1
        h = _C.zeros(self.num_layers * dirs, batch, self.proj_size or self.hidden_size, dtype=like.dtype,
                     device=like.device)
        if self.mode != "LSTM":
            return h
        c = h if not self.proj_size else _C.zeros(self.num_layers * dirs, batch, self.hidden_size, dtype=like.dtype,
                                                  device=like.device)
        return (h, c)

    def _check_state(self, hx, batch):
        """PyTorch's check_hidden_size: h is (layers*dirs, batch, proj_size or hidden), c (.., hidden)."""
        dirs = 2 if self.bidirectional else 1
        lead = (self.num_layers * dirs, batch)
        if self.mode != "LSTM":
            want = (*lead, self.hidden_size)
            if tuple(hx.shape) != want:
                raise RuntimeError(f"Expected hidden size {want}, got {list(hx.shape)}")
            return
        for i, (t, size) in enumerate(zip(hx, (self.proj_size or self.hidden_size, self.hidden_size))):
            if tuple(t.shape) != (*lead, size):
                raise RuntimeError(f"Expected hidden[{i}] size {(*lead, size)}, got {list(t.shape)}")

    def _step_fn(self, cell, w_hh, b_hh, w_hr):
        """One time step on a tuple state ((h, c) for LSTM, (h,) otherwise); with proj_size, h is
        the projection of the LSTM's output by weight_hr."""
        if self.mode != "LSTM":
            return lambda x, state: (cell(x, state[0], w_hh, b_hh),)
        if w_hr is None:
            return lambda x, state: cell(x, state, w_hh, b_hh)

        def projected(x, state):
            h, c = cell(x, state, w_hh, b_hh)
            return F.linear(h, w_hr), c

        return projected

    def _cell(self):
        return {"RNN_TANH": _rnn_tanh_cell, "RNN_RELU": _rnn_relu_cell, "LSTM": _lstm_cell, "GRU": _gru_cell}[self.mode]

    def _weights(self, layer, d, override=None):
        sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")

        def get(n):
            if not self.bias and n.startswith("bias"):
                return None
            return override[n + sfx] if override is not None else getattr(self, n + sfx)

        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _projection(self, layer, d, override=None):
        if not self.proj_size:
            return None
        name = f"weight_hr_l{layer}" + ("_reverse" if d == 1 else "")
        return override[name] if override is not None else getattr(self, name)

    def forward(self, input, hx=None):
        from ..utils.rnn import PackedSequence

        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        enabled, cast_dtype = _C._autocast_get_state()
        if enabled and self.mode == "LSTM" and cast_dtype == _C.bfloat16 and input.dtype == _C.float32:
            return self._forward_autocast_lstm(input, hx)
        return self._forward_padded(input, hx)

    def _forward_autocast_lstm(self, input, hx):
        """nn.LSTM under CPU autocast to bfloat16: PyTorch runs oneDNN's LSTM on bfloat16 input and
        weights (float32 accumulation) and returns output, h_n and c_n in bfloat16. Computed here
        in float32 on the bfloat16-rounded operands, rounded once at the end."""
        from ...amp import autocast

        def rounded(t):
            return None if t is None else t.to(_C.bfloat16).to(_C.float32)

        weights = {name: rounded(w) for name, w in zip(self._flat_weights_names, self.all_weights)}
        with autocast("cpu", enabled=False):
            output, (h, c) = self._forward_padded(rounded(input), None if hx is None else tuple(map(rounded, hx)),
                                                  weights=weights)
        # with proj_size PyTorch takes its native path, whose c_n stays float32
        return output.to(_C.bfloat16), (h.to(_C.bfloat16), c if self.proj_size else c.to(_C.bfloat16))

    def _forward_packed(self, packed, hx):
        """A PackedSequence: each layer and direction steps through time on the sequences still
        running (``batch_sizes[t]`` of them, longest first), so padding is never computed and each
        sequence's final state is its own last step's. Runs in the input's dtype, as PyTorch's
        packed path does under autocast too."""
        from ...amp import autocast
        from ..utils.rnn import PackedSequence

        is_lstm = self.mode == "LSTM"
        data = packed.data
        batch_sizes = [int(b) for b in packed.batch_sizes.tolist()]
        if data.dim() != 2:
            raise ValueError(f"{type(self).__name__}: Expected packed data to be 2D, got {data.dim()}D instead")
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {data.shape[-1]}")
        batch, dirs = batch_sizes[0], 2 if self.bidirectional else 1
        if hx is None:
            hx = self._state_zeros(batch, data)
        else:
            self._check_state(hx, batch)
            if packed.sorted_indices is not None:  # the caller's order -> the packed (sorted) order
                hx = tuple(h.index_select(1, packed.sorted_indices) for h in hx) if is_lstm else \
                    hx.index_select(1, packed.sorted_indices)
        offsets = [0]
        for b in batch_sizes:
            offsets.append(offsets[-1] + b)
        cell = self._cell()
        layer_input, h_n, c_n = data, [], []
        with autocast("cpu", enabled=False):
            for layer in range(self.num_layers):
                outs = []
                for d in range(dirs):
                    w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                    idx = layer * dirs + d
                    state = (hx[0][idx], hx[1][idx]) if is_lstm else (hx[idx],)
                    x_proj = F.linear(layer_input, w_ih, b_ih)  # every packed row at once
                    step = self._step_fn(cell, w_hh, b_hh, self._projection(layer, d))
                    out, final = _run_packed(step, x_proj, state, batch_sizes, offsets, reverse=d == 1)
                    outs.append(out)
                    h_n.append(final[0])
                    if is_lstm:
                        c_n.append(final[1])
                layer_input = outs[0] if dirs == 1 else _C.cat(outs, -1)
                if self.dropout and self.training and layer < self.num_layers - 1:
                    layer_input = F.dropout(layer_input, self.dropout, True)
        output = PackedSequence(layer_input, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        h = _C.stack(h_n, 0)
        if packed.unsorted_indices is not None:
            h = h.index_select(1, packed.unsorted_indices)
        if not is_lstm:
            return output, h
        c = _C.stack(c_n, 0)
        if packed.unsorted_indices is not None:
            c = c.index_select(1, packed.unsorted_indices)
        return output, (h, c)

    def _forward_padded(self, input, hx=None, weights=None):
        is_lstm = self.mode == "LSTM"
        expected = 3
        unbatched = input.dim() == 2
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")
        if unbatched:
            input = input.unsqueeze(1)
            if hx is not None:
                hx = tuple(h.unsqueeze(1) for h in hx) if is_lstm else hx.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        seq_len, batch = input.shape[0], input.shape[1]
        dirs = 2 if self.bidirectional else 1
        if hx is None:
            hx = self._state_zeros(batch, input)
        else:
            self._check_state(hx, batch)
        del expected
        if seq_len == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        cell = self._cell()
        fused = not self.proj_size and _fusable(input, *(hx if is_lstm else (hx,)), *self.all_weights)
        layer_input = input
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d, weights)
                idx = layer * dirs + d
                state = (hx[0][idx], hx[1][idx]) if is_lstm else hx[idx]
                if fused:
                    h0, c0 = state if is_lstm else (state, None)
                    out, h, c = _C._rnn_layer(self.mode, layer_input, h0, c0, w_ih, w_hh, b_ih, b_hh, d == 1)
                    outs.append(out)
                    h_n.append(h)
                    c_n.append(c)
                    continue
                x_proj = F.linear(layer_input, w_ih, b_ih)  # whole sequence at once
                step = self._step_fn(cell, w_hh, b_hh, self._projection(layer, d, weights))
                state = state if is_lstm else (state,)
                hs = [None] * seq_len
                for t in (range(seq_len - 1, -1, -1) if d == 1 else range(seq_len)):
                    state = step(x_proj[t], state)
                    hs[t] = state[0]
                outs.append(_C.stack(hs, 0))
                h_n.append(state[0])
                if is_lstm:
                    c_n.append(state[1])
            layer_input = outs[0] if dirs == 1 else _C.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        output = layer_input
        h = _C.stack(h_n, 0)
        if unbatched:
            output = output.squeeze(1)
            h = h.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        if is_lstm:
            c = _C.stack(c_n, 0)
            if unbatched:
                c = c.squeeze(1)
            return output, (h, c)
        return output, h


def _run_packed(step, x_proj, state, batch_sizes, offsets, reverse):
    """One direction of one layer over packed rows. ``state`` is a tuple of (batch, hidden)
    tensors (h, or h and c) for the sorted batch; ``step(x, state)`` is one cell step. Gives the
    hidden output rows in the packed layout and each sequence's final state."""
    steps = len(batch_sizes)
    outputs = [None] * steps
    if not reverse:
        current, finished = state, []
        for t in range(steps):
            b = batch_sizes[t]
            current = step(x_proj[offsets[t]:offsets[t] + b], tuple(s[:b] for s in current))
            outputs[t] = current[0]
            still = batch_sizes[t + 1] if t + 1 < steps else 0
            if still < b:  # sequences [still, b) end at step t
                finished.append(tuple(s[still:b] for s in current))
        final = tuple(_C.cat([part[k] for part in reversed(finished)], 0) for k in range(len(state)))
    else:  # each sequence starts from the initial state at its own last step
        current = None
        for t in range(steps - 1, -1, -1):
            b, prev = batch_sizes[t], (batch_sizes[t + 1] if t + 1 < steps else 0)
            if b > prev:
                fresh = tuple(s[prev:b] for s in state)
                current = fresh if current is None else tuple(_C.cat([c, f], 0) for c, f in zip(current, fresh))
            current = step(x_proj[offsets[t]:offsets[t] + b], current)
            outputs[t] = current[0]
        final = current
    return _C.cat(outputs, 0), final


class RNN(RNNBase):
    def __init__(self, *args, nonlinearity="tanh", **kwargs):
        if "nonlinearity" in kwargs:
            nonlinearity = kwargs.pop("nonlinearity")
        if len(args) > 3:  # positional nonlinearity as in PyTorch: (input, hidden, layers, nonlinearity, ...)
            args = list(args)
            nonlinearity = args.pop(3)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dt = dtype or _C.float32
        self.weight_ih = Parameter(_C.empty(num_chunks * hidden_size, input_size, dtype=dt, device=device))
        self.weight_hh = Parameter(_C.empty(num_chunks * hidden_size, hidden_size, dtype=dt, device=device))
        if bias:
            self.bias_ih = Parameter(_C.empty(num_chunks * hidden_size, dtype=dt, device=device))
            self.bias_hh = Parameter(_C.empty(num_chunks * hidden_size, dtype=dt, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        return s

    def _fused(self, mode, input, h, c):
        """One fused step: the layer op on a sequence of length 1; gives (h', c')."""
        _, h, c = _C._rnn_layer(mode, input.unsqueeze(0), h, c, self.weight_ih, self.weight_hh,
                                self.bias_ih, self.bias_hh, False)
        return h, c

    def _prep(self, input, hx, n_state):
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        unbatched = input.dim() == 1
        if unbatched:
            input = input.unsqueeze(0)
        if hx is None:
            z = _C.zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)
            hx = (z, z) if n_state == 2 else z
        elif unbatched:
            hx = tuple(h.unsqueeze(0) for h in hx) if n_state == 2 else hx.unsqueeze(0)
        if input.shape[1] != self.input_size:  # PyTorch's check_forward_input / check_forward_hidden
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected {self.input_size}")
        for i, h in enumerate(hx if n_state == 2 else (hx,)):
            suffix = str(i) if n_state == 2 else ""
            if h.dim() == 2 and h.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{suffix} batch size "
                                   f"{h.shape[0]}")
            if h.dim() == 2 and h.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{suffix} has inconsistent hidden_size: got {h.shape[1]}, expected "
                                   f"{self.hidden_size}")
        return input, hx, unbatched


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, hx, unbatched = self._prep(input, hx, 1)
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        if _fusable(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            h = self._fused(mode, input, hx, None)[0]
            return h.squeeze(0) if unbatched else h
        cell = _rnn_tanh_cell if self.nonlinearity == "tanh" else _rnn_relu_cell
        h = cell(F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        input, hx, unbatched = self._prep(input, hx, 2)
        if _fusable(input, *hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            h, c = self._fused("LSTM", input, hx[0], hx[1])
        else:
            h, c = _lstm_cell(F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        input, hx, unbatched = self._prep(input, hx, 1)
        if _fusable(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            h = self._fused("GRU", input, hx, None)[0]
            return h.squeeze(0) if unbatched else h
        h = _gru_cell(F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h
