"""rustdl.onnx.export (issue 26): models traced, written as ONNX, checked by onnx's checker and
run in onnxruntime, whose outputs must match rustdl's within 1e-4 (also at another batch size
where ``dynamic_axes`` frees it)."""

import io
import warnings

import numpy as np
import pytest
import rustdl as torch
import rustdl.onnx
from rustdl import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _export(model, args, **kw):
    buf = io.BytesIO()
    rustdl.onnx.export(model, args, buf, **kw)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    return proto, ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])


def _np(t):
    return t.detach().numpy()


def _compare(session, model, inputs, names, call_args=None):
    with torch.no_grad():
        expected = model(*(inputs if call_args is None else call_args))
    if isinstance(expected, torch.Tensor):
        expected = [expected]
    flat = []

    def walk(o):
        if isinstance(o, torch.Tensor):
            flat.append(o)
        elif isinstance(o, (tuple, list)):
            for x in o:
                walk(x)

    walk(expected)
    got = session.run(None, {n: _np(t) for n, t in zip(names, inputs)})
    assert len(got) == len(flat)
    for g, e in zip(got, flat):
        assert g.shape == tuple(e.shape)
        np.testing.assert_allclose(g, _np(e), rtol=1e-4, atol=1e-4)


def test_mlp_dynamic_batch():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 16), nn.Tanh(),
                          nn.Linear(16, 3), nn.LogSoftmax(dim=1))
    x = torch.randn(4, 10)
    proto, sess = _export(model, (x,), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    assert model.training  # export ran it in eval mode and gave the mode back
    model.eval()
    assert {i.name for i in proto.graph.initializer} >= {"0.weight", "0.bias", "5.weight"}
    for b in (4, 7, 1):
        _compare(sess, model, [torch.randn(b, 10)], ["x"])


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool(nn.functional.relu(self.bn2(self.conv2(x))))
        x = x.view(x.size(0), -1)  # the batch size read from the input: must stay free
        return self.fc(x)


def test_cnn_batchnorm_dynamic_batch():
    torch.manual_seed(0)
    model = CNN()
    # non-trivial running statistics
    model.train()
    for _ in range(3):
        model(torch.randn(8, 3, 16, 16) * 2 + 0.5)
    model.eval()
    x = torch.randn(2, 3, 16, 16)
    proto, sess = _export(model, (x,), input_names=["img"], output_names=["logits"],
                          dynamic_axes={"img": {0: "n"}, "logits": {0: "n"}})
    ops = {n.op_type for n in proto.graph.node}
    assert {"Conv", "BatchNormalization", "MaxPool", "Relu", "Gemm"} <= ops
    for b in (2, 5):
        _compare(sess, model, [torch.randn(b, 3, 16, 16)], ["img"])


def test_cnn_flatten_pooling_variants():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv1d(4, 6, 3, padding="same"), nn.GroupNorm(2, 6), nn.GELU(), nn.AvgPool1d(2),
                          nn.ConvTranspose1d(6, 4, 2, stride=2), nn.LeakyReLU(0.1), nn.AdaptiveAvgPool1d(1),
                          nn.Flatten(), nn.LayerNorm(4), nn.Linear(4, 2), nn.Sigmoid())
    model.eval()
    x = torch.randn(3, 4, 12)
    _, sess = _export(model, (x,), input_names=["x"], dynamic_axes={"x": [0]})
    for b in (3, 6):
        _compare(sess, model, [torch.randn(b, 4, 12)], ["x"])


class LSTMModel(nn.Module):
    def __init__(self, batch_first):
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.rnn = nn.LSTM(16, 24, num_layers=2, batch_first=batch_first)
        self.out = nn.Linear(24, 50)

    def forward(self, tokens):
        out, (h, c) = self.rnn(self.emb(tokens))
        return self.out(out), h, c


@pytest.mark.parametrize("batch_first", [True, False])
def test_lstm_model(batch_first):
    torch.manual_seed(0)
    model = LSTMModel(batch_first).eval()
    shape = (3, 7) if batch_first else (7, 3)
    tokens = torch.randint(0, 50, shape)
    axis = 0 if batch_first else 1
    proto, sess = _export(model, (tokens,), input_names=["tokens"], output_names=["logits", "h", "c"],
                          dynamic_axes={"tokens": {axis: "batch"}, "logits": {axis: "batch"}})
    assert sum(n.op_type == "LSTM" for n in proto.graph.node) == 2
    _compare(sess, model, [tokens], ["tokens"])
    other = (5, 7) if batch_first else (7, 5)
    _compare(sess, model, [torch.randint(0, 50, other)], ["tokens"])


@pytest.mark.parametrize("mode", ["GRU", "RNN"])
def test_gru_rnn_bidirectional_with_state(mode):
    torch.manual_seed(0)
    rnn = getattr(nn, mode)(5, 6, num_layers=2, bidirectional=True).eval()
    x, h0 = torch.randn(4, 2, 5), torch.randn(4, 2, 6)
    proto, sess = _export(rnn, (x, h0), input_names=["x", "h0"])
    assert any(n.op_type == mode for n in proto.graph.node)
    _compare(sess, rnn, [x, h0], ["x", "h0"])


def _encoder():
    layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.1, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)


def test_transformer_encoder():
    torch.manual_seed(0)
    model = _encoder().eval()
    x = torch.randn(3, 10, 32)
    _, sess = _export(model, (x,), input_names=["src"], output_names=["out"],
                      dynamic_axes={"src": {0: "batch"}, "out": {0: "batch"}})
    _compare(sess, model, [x], ["src"])
    _compare(sess, model, [torch.randn(6, 10, 32)], ["src"])


def test_transformer_encoder_with_masks():
    torch.manual_seed(0)
    model = _encoder().eval()
    x = torch.randn(2, 6, 32)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    mask = torch.zeros(6, 6, dtype=torch.bool)
    mask[0, 5] = True  # bool like the padding mask (mixed kinds are deprecated, as in PyTorch)

    class WithMasks(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = model

        def forward(self, src, mask, pad):
            return self.enc(src, mask=mask, src_key_padding_mask=pad)

    wrapped = WithMasks().eval()
    _, sess = _export(wrapped, (x, mask, pad), input_names=["src", "mask", "pad"],
                      dynamic_axes={"src": {0: "batch"}, "pad": {0: "batch"}})
    _compare(sess, wrapped, [x, mask, pad], ["src", "mask", "pad"])
    x3 = torch.randn(3, 6, 32)
    pad3 = torch.tensor([[False] * 6, [False] * 4 + [True] * 2, [False] * 5 + [True]])
    _compare(sess, wrapped, [x3, mask, pad3], ["src", "mask", "pad"])


def test_function_export_and_shape_ops():
    def fn(x, y):
        z = torch.cat([x * 2.0 + 1.0, y], dim=1)
        z = z.transpose(0, 1).reshape(-1, 2).permute(1, 0)
        w = z[:, 1:5].unsqueeze(0).expand(3, -1, -1)
        return w.sum(dim=0).softmax(-1), torch.stack([x[0], y[0, :3]]).mean(dim=1, keepdim=True)

    x, y = torch.randn(2, 3), torch.randn(2, 5)
    _, sess = _export(fn, (x, y), input_names=["x", "y"])
    got = sess.run(None, {"x": _np(x), "y": _np(y)})
    for g, e in zip(got, fn(x, y)):
        np.testing.assert_allclose(g, _np(e), rtol=1e-5, atol=1e-6)


def test_unsupported_op_is_named():
    class Odd(nn.Module):
        def forward(self, x):
            return x.cumprod(1)

    with pytest.raises(RuntimeError, match="CumprodBackward0"):
        _export(Odd(), (torch.randn(2, 3),))


def test_dropout_in_training_mode_refused():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    with pytest.raises(rustdl.onnx.ExportError, match="training"):
        _export(model, (torch.randn(2, 3),), training=rustdl.onnx.TrainingMode.PRESERVE)


def test_jit_trace_graph_and_replay():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)).eval()
    traced = torch.jit.trace(model, (torch.randn(3, 4),))
    text = str(traced.graph)
    assert "linear" in text and "relu" in text and "0.weight" in text
    x = torch.randn(6, 4)
    np.testing.assert_allclose(_np(traced(x)), _np(model(x)), rtol=1e-6)


def test_tracer_warns_on_python_branch():
    def fn(x):
        if x.sum() > 0:
            return x * 2
        return x

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.jit.trace(fn, (torch.ones(3),))
    assert any(issubclass(w.category, torch.jit.TracerWarning) for w in caught)


def test_is_in_onnx_export():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(rustdl.onnx.is_in_onnx_export())
            return x + 1

    _export(Probe(), (torch.randn(2),))
    assert seen and all(seen)
    assert not rustdl.onnx.is_in_onnx_export()


def _zoo():
    F = nn.functional
    return {
        "conv3d_avgpool": (nn.Sequential(nn.Conv3d(2, 3, 3, padding=1, stride=2), nn.AvgPool3d(2), nn.ReLU6()),
                           (2, 2, 8, 8, 8)),
        "conv_transpose2d": (nn.Sequential(nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
                                           nn.Hardswish()), (2, 3, 5, 5)),
        "grouped_dilated_conv": (nn.Sequential(nn.Conv2d(4, 4, 3, groups=2, dilation=2, padding=2), nn.ELU(),
                                               nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)),
                                 (2, 4, 9, 9)),
        "pool_ceil_adaptive": (nn.Sequential(nn.MaxPool2d(3, stride=2, ceil_mode=True), nn.SiLU(),
                                             nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.Softplus(beta=2.0)),
                               (2, 3, 8, 8)),
        "norms": (nn.Sequential(nn.BatchNorm1d(6), nn.Mish(), nn.Linear(6, 6), nn.Hardsigmoid()), (5, 6)),
        "instance_norm_prelu": (nn.Sequential(nn.InstanceNorm2d(3, affine=True), nn.PReLU(3), nn.Softmax(dim=1)),
                                (2, 3, 4, 4)),
        "pad_glu": (lambda x: F.glu(F.pad(x, (1, 2), value=0.5), dim=-1).tanh(), (2, 3, 5)),
        "sdpa_causal": (lambda q: F.scaled_dot_product_attention(q, q * 0.5, q + 1.0, is_causal=True), (2, 4, 6, 8)),
        "indexing": (lambda x: x[:, 1:, None, ::2][0].clamp(-0.5, 0.5) - x[-1, 0].mean(), (3, 4, 6)),
        "reductions": (lambda x: (x.amax(dim=1) + x.sum() * x.abs().sqrt().mean(1) - x.exp().log()[:, 0]),
                       (2, 3, 4)),
        "split_chunk": (lambda x: torch.cat(x.chunk(2, dim=1)[::-1] + x.split([1, 3], dim=1), dim=1).unbind(0)[1],
                        (2, 4, 3)),
        "where_masked_fill": (lambda x: torch.where(x > 0, x, x * 0.1).masked_fill(x < -1.0, 3.0), (4, 5)),
        "max_min_dim": (lambda x: (x.max(dim=1), torch.min(x, 1, keepdim=True), x.max() + x.min(), x.max(x * 0.5)),
                        (3, 4)),
        "var_std": (lambda x: (x.var(1) + x.std(dim=(0, 1), unbiased=False).sum() + torch.var(x, correction=0),
                               x.var(-1, keepdim=True, correction=2), x.std()), (3, 4, 5)),
        "topk": (lambda x: (x.topk(2, dim=-1), torch.topk(x, 3, dim=0, largest=False)), (5, 6)),
        "einsum": (lambda x: (torch.einsum("ij,kj->ik", x, x * 2), torch.einsum("...ij->...ji", x.unsqueeze(0))),
                   (3, 4)),
        "boolean_mask": (lambda x: (x[x > 0] * 2, x[x.sum(1) > 0]), (6, 5)),
    }


@pytest.mark.parametrize("name", sorted(_zoo()))
def test_op_zoo(name):
    torch.manual_seed(3)
    model, shape = _zoo()[name]
    if isinstance(model, nn.Module):
        model.eval()
    x = torch.randn(*shape)
    _, sess = _export(model, (x,), input_names=["x"])
    _compare(sess, model, [x], ["x"])


def test_one_hot_of_integer_input():
    m = torch.tensor([1, 2, 0, 4])
    _, sess = _export(lambda m: nn.functional.one_hot(m, 6) * 3, (m,), input_names=["m"])
    assert sess.run(None, {"m": _np(m)})[0].tolist() == (nn.functional.one_hot(m, 6) * 3).tolist()


def test_word_language_model_style_export():
    """The word-language-model example's --onnx-export call: (tokens, hidden) in, (output, hidden) out."""

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.2)
            self.encoder = nn.Embedding(40, 8)
            self.rnn = nn.LSTM(8, 10, 2, dropout=0.2)
            self.decoder = nn.Linear(10, 40)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            decoded = self.decoder(self.drop(output)).view(-1, 40)
            return nn.functional.log_softmax(decoded, dim=1), hidden

    torch.manual_seed(0)
    model = RNNModel().eval()
    tokens = torch.randint(0, 40, (5, 2))
    hidden = (torch.randn(2, 2, 10), torch.randn(2, 2, 10))
    _, sess = _export(model, (tokens, hidden), input_names=["tokens", "h0", "c0"])
    _compare(sess, model, [tokens, hidden[0], hidden[1]], ["tokens", "h0", "c0"], call_args=(tokens, hidden))


def test_engine_ops_outside_the_graph_warn():
    # an op on an integer input leaves no autograd history; the engine side of the tracer
    # (rust/ops/trace.rs) still sees it ran outside every recorded op
    emb = nn.Embedding(5, 3)

    def fn(tokens):
        return emb(tokens.remainder(5))

    with pytest.warns(torch.jit.TracerWarning, match="Tensor.remainder"):
        torch.jit.trace(fn, (torch.tensor([[1, 7]]),))


def test_covered_model_traces_without_warnings():
    model = CNN().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.jit.trace(model, (torch.randn(2, 3, 16, 16),))


def test_jit_and_onnx_reachable_after_bare_import():
    import os
    import subprocess
    import sys

    code = ("import rustdl as torch; print(torch.jit.__name__, torch.onnx.__name__, torch.serialization.__name__); "
            "f = torch.jit.ignore(len); print(f is len, torch.jit.is_scripting())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         check=True).stdout.split()
    assert out == ["rustdl.jit", "rustdl.onnx", "rustdl.serialization", "True", "False"]


def test_transformer_dynamic_batch_and_sequence():
    torch.manual_seed(0)
    model = _encoder().eval()
    x = torch.randn(2, 5, 32)
    _, sess = _export(model, (x,), input_names=["src"], output_names=["out"],
                      dynamic_axes={"src": {0: "batch", 1: "seq"}, "out": {0: "batch", 1: "seq"}})
    for shape in ((2, 5, 32), (3, 9, 32), (1, 2, 32)):
        _compare(sess, model, [torch.randn(*shape)], ["src"])


def test_tracing_leaves_no_wrapper_behind():
    originals = {name: torch.Tensor.__dict__[name] for name in ("__add__", "view", "__getitem__", "__bool__")}
    f_linear = nn.functional.linear
    call = nn.Module.__call__
    torch.jit.trace(lambda x: nn.functional.linear(x[0:1].view(-1, 2) + 1, torch.ones(2, 2)), (torch.randn(2, 2),))
    assert all(torch.Tensor.__dict__[n] is o for n, o in originals.items())
    assert nn.functional.linear is f_linear and nn.Module.__call__ is call
    assert "forward" not in nn.LSTM.__dict__


def test_export_to_path_and_param_options(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU()).eval()
    x = torch.randn(2, 3)
    path = tmp_path / "m.onnx"
    assert rustdl.onnx.export(model, x, str(path)) is None
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["input_0"]
    rustdl.onnx.export(model, (x,), path, keep_initializers_as_inputs=True)
    assert [i.name for i in onnx.load(str(path)).graph.input] == ["input_0", "0.weight", "0.bias"]
    rustdl.onnx.export(model, (x,), path, export_params=False)
    proto = onnx.load(str(path))
    assert not proto.graph.initializer and len(proto.graph.input) == 3
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"input_0": _np(x), "0.weight": _np(model[0].weight), "0.bias": _np(model[0].bias)}
    np.testing.assert_allclose(sess.run(None, feeds)[0], _np(model(x)), rtol=1e-5, atol=1e-6)
    with pytest.raises(rustdl.onnx.ExportError, match="dynamic_axes names 'nope'"):
        rustdl.onnx.export(model, (x,), path, dynamic_axes={"nope": [0]})


def test_outputs_following_a_free_dim_are_free():
    model = nn.Sequential(nn.Linear(3, 2)).eval()
    proto, _ = _export(model, (torch.randn(4, 3),), input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 2


_cat_by_value = torch.cat  # bound before any trace: the tracer's swapped names never see these calls
_stack_by_value = torch.stack


def test_ops_imported_by_value_are_recorded_by_the_engine():
    def fn(x):
        return _stack_by_value([_cat_by_value([x, x * 2.0], 1), x.repeat(1, 2)], 0).relu()

    x = torch.randn(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traced = torch.jit.trace(fn, (x,))
    assert [n.op for n in traced.graph.nodes] == ["__mul__", "cat", "repeat", "stack", "relu"]
    _, sess = _export(fn, (x,), input_names=["x"], dynamic_axes={"x": [0]})
    _compare(sess, fn, [torch.randn(4, 3)], ["x"])


def test_vision_squeezenet_exports():
    from rustdl.vision import models

    torch.manual_seed(0)
    model = models.squeezenet1_1(num_classes=10).eval()  # its Fire modules call `cat` imported by value
    _, sess = _export(model, (torch.randn(1, 3, 64, 64),), input_names=["x"], dynamic_axes={"x": {0: "b"}})
    _compare(sess, model, [torch.randn(2, 3, 64, 64)], ["x"])
