"""Summary protos for :class:`SummaryWriter`, built with TensorBoard's own proto classes.

Mirrors ``torch.utils.tensorboard.summary`` (scalar, histogram, image, text, hparams)
without depending on torch or TensorFlow. Values may be rustdl tensors, numpy arrays
or Python numbers.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from tensorboard.compat.proto.histogram_pb2 import HistogramProto
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

__all__ = ["histogram", "hparams", "image", "make_np", "scalar", "text"]


def make_np(x):
    """rustdl tensor / numpy array / number / list -> numpy array (detached, on CPU)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (int, float, bool, np.number, np.bool_)):
        return np.array([x])
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return x.detach().numpy()
    return np.asarray(x)


def _to_float(x, what):
    arr = make_np(x)
    if arr.size != 1:
        raise ValueError(f"{what} must be a single number or a one-element tensor, got shape {arr.shape}")
    return float(arr.reshape(-1)[0])


def scalar(name, value):
    return Summary(value=[Summary.Value(tag=name, simple_value=_to_float(value, "scalar value"))])


def _tf_default_bins():
    # TensorFlow's default histogram bucket edges (what torch's bins='tensorflow' uses)
    v = 1e-12
    buckets = []
    while v < 1e20:
        buckets.append(v)
        v *= 1.1
    neg = [-x for x in buckets[::-1]]
    return np.array([*neg, 0.0, *buckets])


def histogram(name, values, bins="tensorflow", max_bins=None):
    values = make_np(values).astype(np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"histogram '{name}': values contain NaN or Inf")
    if isinstance(bins, str) and bins == "tensorflow":
        bins = _tf_default_bins()
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        # merge neighbouring bins like torch does
        sub = int(np.ceil(len(counts) / max_bins))
        pad = (-len(counts)) % sub
        counts = np.pad(counts, (0, pad)).reshape(-1, sub).sum(axis=1)
        limits = np.concatenate([limits[:-1][::sub], limits[-1:]])
    # drop empty buckets at both ends
    nz = np.nonzero(counts)[0]
    start, end = int(nz[0]), int(nz[-1]) + 1
    if start > 0:
        start -= 1
    if end < len(counts):
        end += 1
    counts = counts[start:end]
    limits = limits[start : end + 1]
    hist = HistogramProto(
        min=float(values.min()),
        max=float(values.max()),
        num=int(values.size),
        sum=float(values.sum()),
        sum_squares=float(values.dot(values)),
        bucket_limit=limits[1:].tolist(),
        bucket=counts.astype(np.float64).tolist(),
    )
    return Summary(value=[Summary.Value(tag=name, histo=hist)])


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(hwc):
    """uint8 array (H, W, C) with C in {1, 3, 4} -> PNG bytes (lossless, no PIL needed)."""
    h, w, c = hwc.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + hwc[y].tobytes() for y in range(h))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(raw, 6))
        + _png_chunk(b"IEND", b"")
    )


def make_grid(nchw, ncols=8):
    """(N, C, H, W) -> (C, H', W') grid like torch's summary helper (2px black padding-free tiling)."""
    n, c, h, w = nchw.shape
    if n == 1:
        return nchw[0]
    ncols = min(n, ncols)
    nrows = int(np.ceil(float(n) / ncols))
    canvas = np.zeros((c, h * nrows, w * ncols), dtype=nchw.dtype)
    for i in range(n):
        y, x = divmod(i, ncols)
        canvas[:, y * h : (y + 1) * h, x * w : (x + 1) * w] = nchw[i]
    return canvas


def convert_to_hwc(arr, dataformats):
    dataformats = dataformats.upper()
    if len(set(dataformats)) != len(dataformats) or len(dataformats) != arr.ndim:
        raise ValueError(f"dataformats '{dataformats}' does not match image of shape {arr.shape}")
    if len(dataformats) == 4:
        nchw = arr.transpose([dataformats.index(d) for d in "NCHW"])
        chw = make_grid(nchw)
        if chw.shape[0] == 1:
            chw = np.concatenate([chw, chw, chw], 0)
        return chw.transpose(1, 2, 0)
    if len(dataformats) == 3:
        hwc = arr.transpose([dataformats.index(d) for d in "HWC"])
        if hwc.shape[2] == 1:
            hwc = np.concatenate([hwc, hwc, hwc], 2)
        return hwc
    if len(dataformats) == 2:
        hw = arr.transpose([dataformats.index(d) for d in "HW"])
        return np.stack([hw, hw, hw], 2)
    raise ValueError(f"unsupported dataformats '{dataformats}'")


def _to_uint8(arr):
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    # float images are expected in [0, 1] (torch's convention); ints in [0, 255]
    scale = 255.0 if np.issubdtype(arr.dtype, np.floating) else 1.0
    return np.clip(np.round(arr.astype(np.float64) * scale), 0, 255).astype(np.uint8)


def image(tag, tensor, dataformats="CHW"):
    arr = make_np(tensor)
    hwc = _to_uint8(convert_to_hwc(arr, dataformats))
    if hwc.shape[2] not in (1, 3, 4):
        raise ValueError(f"images need 1, 3 or 4 channels, got {hwc.shape[2]}")
    h, w, c = hwc.shape
    img = Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=encode_png(np.ascontiguousarray(hwc)))
    return Summary(value=[Summary.Value(tag=tag, image=img)])


def image_from_figure(tag, figure, close=True):
    """Render a matplotlib figure (or list of figures) into an image summary."""
    figures = figure if isinstance(figure, (list, tuple)) else [figure]
    imgs = []
    for fig in figures:
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        imgs.append(rgba[..., :3].transpose(2, 0, 1))
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)
    if len(imgs) == 1:
        return image(tag, imgs[0], "CHW")
    return image(tag, np.stack(imgs), "NCHW")


def text(tag, text_string):
    from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData

    plugin_data = SummaryMetadata.PluginData(plugin_name="text", content=TextPluginData(version=0).SerializeToString())
    smd = SummaryMetadata(plugin_data=plugin_data)
    tensor = TensorProto(
        dtype="DT_STRING",
        string_val=[str(text_string).encode("utf_8")],
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
    )
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=smd, tensor=tensor)])


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """(experiment, session_start_info, session_end_info) summaries, like torch's ``hparams``."""
    from google.protobuf import struct_pb2
    from tensorboard.plugins.hparams import metadata as hp_meta
    from tensorboard.plugins.hparams.api_pb2 import (
        DataType,
        Experiment,
        HParamInfo,
        MetricInfo,
        MetricName,
        Status,
    )
    from tensorboard.plugins.hparams.plugin_data_pb2 import (
        HParamsPluginData,
        SessionEndInfo,
        SessionStartInfo,
    )

    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError("hparam_dict and metric_dict should be dictionaries.")
    hparam_domain_discrete = hparam_domain_discrete or {}
    ssi = SessionStartInfo()
    infos = []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if hasattr(v, "detach"):
            v = _to_float(v, f"hparam {k}")
        domain = None
        if k in hparam_domain_discrete:
            domain = struct_pb2.ListValue()
            for d in hparam_domain_discrete[k]:
                if isinstance(d, bool):
                    domain.values.add(bool_value=d)
                elif isinstance(d, (int, float)):
                    domain.values.add(number_value=d)
                else:
                    domain.values.add(string_value=str(d))
        if isinstance(v, bool):
            ssi.hparams[k].bool_value = v
            dtype = "DATA_TYPE_BOOL"
        elif isinstance(v, (int, float, np.number)):
            ssi.hparams[k].number_value = float(v)
            dtype = "DATA_TYPE_FLOAT64"
        elif isinstance(v, str):
            ssi.hparams[k].string_value = v
            dtype = "DATA_TYPE_STRING"
        else:
            raise ValueError(  # noqa: TRY004  (torch raises ValueError)
                f"value of hparam '{k}' should be int, float, str, bool or a one-element tensor"
            )
        info = HParamInfo(name=k, type=DataType.Value(dtype))
        if domain is not None:
            info.domain_discrete.CopyFrom(domain)
        infos.append(info)

    def wrap(tag, plugin_data):
        return Summary(value=[Summary.Value(tag=tag, metadata=hp_meta.create_summary_metadata(plugin_data))])

    version = hp_meta.PLUGIN_DATA_VERSION
    exp = Experiment(hparam_infos=infos, metric_infos=[MetricInfo(name=MetricName(tag=k)) for k in metric_dict])
    return (
        wrap(hp_meta.EXPERIMENT_TAG, HParamsPluginData(experiment=exp, version=version)),
        wrap(hp_meta.SESSION_START_INFO_TAG, HParamsPluginData(session_start_info=ssi, version=version)),
        wrap(
            hp_meta.SESSION_END_INFO_TAG,
            HParamsPluginData(session_end_info=SessionEndInfo(status=Status.Value("STATUS_SUCCESS")), version=version),
        ),
    )


