"""rustdl.utils.tensorboard.SummaryWriter, read back with TensorBoard's own EventAccumulator."""

import glob
import os
import socket

import numpy as np
import pytest

pytest.importorskip("tensorboard")
import rustdl as torch
from rustdl.utils.tensorboard import SummaryWriter
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

SIZE = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0, "compressedHistograms": 0}


def load(log_dir):
    acc = EventAccumulator(str(log_dir), size_guidance=SIZE)
    acc.Reload()
    return acc


def decode_png(data):
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h, color = 8, b"", None, None, None
    while pos < len(data):
        n = struct.unpack(">I", data[pos : pos + 4])[0]
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            w, h, _, color = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    c = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * c)
    assert (raw[:, 0] == 0).all()  # filter type None
    return raw[:, 1:].reshape(h, w, c)


def test_scalars_values_and_steps(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(5):
            w.add_scalar("loss/train", 1.0 / (step + 1), step)
        w.add_scalar("acc", torch.tensor(0.75), 10)
        w.add_scalar("np", np.float64(2.5), 3)
    acc = load(tmp_path)
    assert set(acc.Tags()["scalars"]) == {"loss/train", "acc", "np"}
    ev = acc.Scalars("loss/train")
    assert [e.step for e in ev] == [0, 1, 2, 3, 4]
    np.testing.assert_allclose([e.value for e in ev], [1.0 / (s + 1) for s in range(5)], rtol=1e-6)
    assert acc.Scalars("acc")[0].step == 10 and acc.Scalars("acc")[0].value == pytest.approx(0.75)
    assert acc.Scalars("np")[0].value == 2.5


def test_scalar_rejects_multi_element():
    with pytest.raises(ValueError):
        from rustdl.utils.tensorboard import _summary

        _summary.scalar("x", torch.ones(3))


def test_add_scalars_subruns(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalars("loss", {"train": 1.0 - 0.1 * step, "val": 2.0 - 0.1 * step}, step)
    for key, base in (("train", 1.0), ("val", 2.0)):
        acc = load(tmp_path / f"loss_{key}")
        vals = acc.Scalars("loss")
        assert [e.step for e in vals] == [0, 1, 2]
        np.testing.assert_allclose([e.value for e in vals], [base - 0.1 * s for s in range(3)], rtol=1e-6)


def test_histogram(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("weights", x, 7)
        w.add_histogram("np_auto", np.arange(100.0), 8, bins="auto")
        w.add_histogram("np_10", np.arange(100.0), 9, bins=10)
    acc = load(tmp_path)
    assert set(acc.Tags()["histograms"]) == {"weights", "np_auto", "np_10"}
    h = acc.Histograms("weights")[0]
    assert h.step == 7
    hv = h.histogram_value
    xs = x.numpy().astype(np.float64)
    assert hv.num == 1000 and sum(hv.bucket) == 1000
    assert hv.min == pytest.approx(xs.min()) and hv.max == pytest.approx(xs.max())
    assert hv.sum == pytest.approx(xs.sum(), rel=1e-6, abs=1e-6)
    assert hv.sum_squares == pytest.approx((xs**2).sum(), rel=1e-6)
    assert list(hv.bucket_limit) == sorted(hv.bucket_limit)
    h10 = acc.Histograms("np_10")[0].histogram_value
    assert list(h10.bucket) == [10.0] * 10 and h10.bucket_limit[-1] == 99.0
    # TensorBoard also derives compressed histograms (distributions)
    assert "weights" in acc.Tags()["distributions"]


def test_images_chw_nchw_hwc(tmp_path):
    chw = np.zeros((3, 4, 5), np.float32)
    chw[0] = 1.0  # red
    gray = torch.arange(12).reshape(1, 3, 4).to(torch.uint8) * 20
    batch = torch.rand(4, 3, 6, 6)
    with SummaryWriter(tmp_path) as w:
        w.add_image("red", chw, 1)
        w.add_image("gray", gray, 2)
        w.add_image("hwc", chw.transpose(1, 2, 0), 3, dataformats="HWC")
        w.add_images("batch", batch, 4)
        w.add_image("hw", np.eye(3), 5, dataformats="HW")
    acc = load(tmp_path)
    assert set(acc.Tags()["images"]) == {"red", "gray", "hwc", "batch", "hw"}
    red = acc.Images("red")[0]
    assert (red.step, red.height, red.width) == (1, 4, 5)
    px = decode_png(red.encoded_image_string)
    assert px.shape == (4, 5, 3) and (px[..., 0] == 255).all() and (px[..., 1:] == 0).all()
    g = decode_png(acc.Images("gray")[0].encoded_image_string)
    np.testing.assert_array_equal(g[..., 0], gray.numpy()[0])
    np.testing.assert_array_equal(decode_png(acc.Images("hwc")[0].encoded_image_string), px)
    b = acc.Images("batch")[0]
    assert (b.height, b.width) == (6, 24)  # 4 images tiled in one row
    bp = decode_png(b.encoded_image_string)
    np.testing.assert_array_equal(bp[:, 6:12], np.round(batch.numpy()[1].transpose(1, 2, 0) * 255).astype(np.uint8))
    assert decode_png(acc.Images("hw")[0].encoded_image_string)[1, 1, 0] == 255


def test_image_bad_dataformats(tmp_path):
    with SummaryWriter(tmp_path) as w, pytest.raises(ValueError):
        w.add_image("x", np.zeros((3, 4, 5)), dataformats="NCHW")


def test_text(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "hello **world** ✓", 3)
    acc = load(tmp_path)
    assert "notes/text_summary" in acc.Tags()["tensors"]
    t = acc.Tensors("notes/text_summary")[0]
    assert t.step == 3
    assert t.tensor_proto.string_val[0].decode("utf-8") == "hello **world** ✓"
    assert acc.SummaryMetadata("notes/text_summary").plugin_data.plugin_name == "text"


def test_hparams(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_hparams({"lr": 0.1, "bsize": 32, "opt": "adam", "nesterov": True}, {"hparam/acc": 0.9}, run_name="run0")
    acc = load(tmp_path / "run0")
    content = acc.PluginTagToContent("hparams")
    ssi = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert ssi.hparams["lr"].number_value == pytest.approx(0.1)
    assert ssi.hparams["bsize"].number_value == 32
    assert ssi.hparams["opt"].string_value == "adam"
    assert ssi.hparams["nesterov"].bool_value is True
    exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert [m.name.tag for m in exp.metric_infos] == ["hparam/acc"]
    assert acc.Scalars("hparam/acc")[0].value == pytest.approx(0.9)


def test_purge_step_and_flush(tmp_path):
    w = SummaryWriter(tmp_path, purge_step=5)
    w.add_scalar("x", 1.0, 5)
    w.flush()
    assert load(tmp_path).Scalars("x")[0].value == 1.0  # readable after flush, before close
    w.close()
    w.close()  # idempotent


def test_default_log_dir_and_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_exp1")
    w.close()
    runs = os.listdir(tmp_path / "runs")
    assert len(runs) == 1 and runs[0].endswith(socket.gethostname() + "_exp1")
    assert glob.glob(str(tmp_path / "runs" / runs[0] / "events.out.tfevents.*"))


def test_filename_suffix(tmp_path):
    with SummaryWriter(tmp_path, filename_suffix=".mysuffix") as w:
        w.add_scalar("x", 1, 0)
    assert glob.glob(str(tmp_path / "events.out.tfevents.*.mysuffix"))


class _GraphNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        x = torch.nn.functional.relu(self.conv1(x))
        return self.fc(x.flatten(1))


def test_add_graph_read_back_by_tensorboard(tmp_path):
    model = _GraphNet()
    with SummaryWriter(tmp_path) as w:
        w.add_graph(model, torch.zeros(2, 1, 8, 8))
    acc = load(tmp_path)
    assert acc.Tags()["graph"] is True
    g = acc.Graph()
    by_name = {n.name: n for n in g.node}
    ops = {n.op for n in g.node}
    assert {"aten::conv2d", "aten::relu", "aten::flatten", "aten::linear", "IO Node", "prim::GetAttr"} <= ops
    conv = next(n for n in g.node if n.op == "aten::conv2d")
    assert conv.name.startswith("_GraphNet/Conv2d[conv1]/")  # module scopes fold into boxes
    assert "input/input_0" in conv.input and "_GraphNet/conv1/weight" in conv.input
    dims = [d.size for d in conv.attr["_output_shapes"].list.shape[0].dim]
    assert dims == [2, 4, 6, 6]
    out = by_name["output/output.1"]
    assert by_name[out.input[0]].op == "aten::linear"
    assert model.training  # traced in eval mode, mode given back


def test_add_graph_lstm_composite(tmp_path):
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    with SummaryWriter(tmp_path) as w:
        w.add_graph(lstm, torch.zeros(2, 5, 3))
    g = load(tmp_path).Graph()
    assert [n.op for n in g.node].count("LSTM") == 1
    assert sum(n.name.startswith("output/") for n in g.node) == 3  # output, h_n, c_n


def test_log_dir_is_a_file_raises_naming_it(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises((RuntimeError, OSError), match="afile"):
        SummaryWriter(f / "sub")


def test_non_writable_log_dir_raises_naming_it(tmp_path, monkeypatch):
    # os.access is what the writer checks; simulate a read-only directory (works as root too)
    real_access = os.access
    ro = tmp_path / "readonly"
    ro.mkdir()
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(ro) else real_access(p, mode))
    with pytest.raises(PermissionError, match="readonly"):
        SummaryWriter(ro)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_real_read_only_dir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="ro"):
            SummaryWriter(ro / "run")
    finally:
        ro.chmod(0o700)
