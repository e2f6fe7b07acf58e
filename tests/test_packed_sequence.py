"""nn.utils.rnn (pad/pack variable-length sequences) and LSTM/GRU/RNN on PackedSequence input,
against values and gradients recorded from PyTorch (tools/differential/record_packed_sequence.py);
nn.LSTM's bfloat16 results under CPU autocast."""

import json
from pathlib import Path

import numpy as np
import packed_sequence_cases as cases
import pytest
import rustdl

GOLDEN = json.loads((Path(__file__).parent / "golden" / "packed_sequence.json").read_text())


def _close(got, want, key):
    np.testing.assert_allclose(np.array(got, dtype=np.float64), np.array(want, dtype=np.float64), rtol=1e-4,
                               atol=1e-5, err_msg=key)


def test_utilities_match_pytorch():
    got, want = cases.run_utils(rustdl), GOLDEN["utils"]
    assert sorted(got) == sorted(want)
    for key in want:
        if key in ("packed", "pad_packed"):
            for g, w in zip(got[key], want[key]):
                _close(g, w, key)
        elif key in ("unpack", "unpad"):
            assert len(got[key]) == len(want[key])
            for g, w in zip(got[key], want[key]):
                _close(g, w, key)
        else:
            _close(got[key], want[key], key)


@pytest.mark.parametrize("name", sorted(cases.RNN_CASES))
def test_recurrent_layers_on_packed_input_match_pytorch(name):
    got, want = cases.run_rnn(rustdl, name), GOLDEN["rnn"][name]
    assert sorted(got) == sorted(want)
    for key in want:
        _close(got[key], want[key], key)


@pytest.mark.parametrize("name", sorted(cases.PROJ_CASES))
def test_lstm_proj_size_matches_pytorch(name):
    got, want = cases.run_proj(rustdl, name), GOLDEN["proj"][name]
    assert sorted(got) == sorted(want)
    for key in want:
        _close(got[key], want[key], key)


def test_proj_size_parameters_and_errors_as_pytorch():
    m = rustdl.nn.LSTM(3, 5, proj_size=2, bidirectional=True, num_layers=2)
    assert repr(m) == "LSTM(3, 5, proj_size=2, num_layers=2, bidirectional=True)"
    shapes = [(n, tuple(p.shape)) for n, p in m.named_parameters()][:6]
    assert shapes == [("weight_ih_l0", (20, 3)), ("weight_hh_l0", (20, 2)), ("bias_ih_l0", (20,)),
                      ("bias_hh_l0", (20,)), ("weight_hr_l0", (2, 5)), ("weight_ih_l0_reverse", (20, 3))]
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(4, 2, 2\), got \[4, 2, 5\]"):
        m(rustdl.randn(4, 2, 3), (rustdl.zeros(4, 2, 5), rustdl.zeros(4, 2, 5)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(4, 2, 5\), got \[4, 2, 2\]"):
        m(rustdl.randn(4, 2, 3), (rustdl.zeros(4, 2, 2), rustdl.zeros(4, 2, 2)))
    with pytest.raises(ValueError, match="positive integer or zero"):
        rustdl.nn.LSTM(3, 5, proj_size=-1)
    with pytest.raises(ValueError, match="smaller than hidden_size"):
        rustdl.nn.LSTM(3, 5, proj_size=5)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        rustdl.nn.GRU(3, 5, proj_size=2)


def test_packing_errors_as_pytorch():
    rnn = rustdl.nn.utils.rnn
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        rnn.pack_padded_sequence(rustdl.zeros(3, 2), [2, 3])
    with pytest.raises(RuntimeError, match="has to be greater than 0"):
        rnn.pack_padded_sequence(rustdl.zeros(3, 2), [3, 0])
    with pytest.raises(RuntimeError, match="to be equal to batch_size"):
        rnn.pack_padded_sequence(rustdl.zeros(3, 2), [3])
    with pytest.raises(RuntimeError, match="empty list of sequences"):
        rnn.pad_sequence([])
    packed = rnn.pack_sequence([rustdl.ones(3), rustdl.ones(2)])
    with pytest.raises(ValueError, match="total_length to be at least"):
        rnn.pad_packed_sequence(packed, total_length=2)
    assert isinstance(packed, tuple) and packed.sorted_indices is None
    assert packed.to(rustdl.float64).data.dtype == rustdl.float64 and packed.float().data.dtype == rustdl.float32


def test_lstm_under_bf16_autocast_returns_bfloat16_like_pytorch():
    # PyTorch 2.15 (oneDNN LSTM in autocast's lower-precision list): output, h_n and c_n are bfloat16,
    # while GRU and LSTMCell stay float32 and a packed input stays float32.
    rustdl.manual_seed(0)
    lstm = rustdl.nn.LSTM(4, 5, num_layers=2, bidirectional=True)
    x = rustdl.randn(3, 2, 4, requires_grad=True)
    ref, (_, ref_c) = lstm(x)
    with rustdl.autocast("cpu", dtype=rustdl.bfloat16):
        y, (h, c) = lstm(x)
        assert rustdl.nn.GRU(4, 5)(x)[0].dtype == rustdl.float32
        assert rustdl.nn.LSTMCell(4, 5)(x[0])[0].dtype == rustdl.float32
        packed = rustdl.nn.utils.rnn.pack_padded_sequence(x, [3, 2])
        assert lstm(packed)[0].data.dtype == rustdl.float32
    assert (y.dtype, h.dtype, c.dtype) == (rustdl.bfloat16,) * 3
    # bf16 operands: within bf16 rounding of the float32 result
    np.testing.assert_allclose(y.float().detach().numpy(), ref.detach().numpy(), atol=3e-2)
    np.testing.assert_allclose(c.float().detach().numpy(), ref_c.detach().numpy(), atol=3e-2)
    y.float().sum().backward()
    assert x.grad is not None and x.grad.dtype == rustdl.float32
    assert lstm.weight_ih_l0.grad.dtype == rustdl.float32
