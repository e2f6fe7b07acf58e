"""``torch.onnx``: export a model to ONNX by tracing it (``rustdl.jit``'s tracer).

``export`` runs the model once on the example ``args`` in eval mode, records the ops it
calls (``rustdl.jit._tracer``) and writes each as ONNX operators (``_symbolic.py``) through
the ``onnx`` package (an optional dependency: ``pip install rustdl[onnx]``).
"""

__all__ = [
    "ExportError",
    "OperatorExportTypes",
    "TrainingMode",
    "UnsupportedOperatorError",
    "dynamo_export",
    "export",
    "is_in_onnx_export",
]


class OperatorExportTypes:
    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


class TrainingMode:
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class ExportError(RuntimeError):
    """The model cannot be written as ONNX (an op without an ONNX equivalent here, ...)."""


class UnsupportedOperatorError(ExportError):
    """An op the exporter has no ONNX translation for (named in the message)."""


_exporting = [False]


def is_in_onnx_export():
    """True while ``export`` runs the model."""
    return _exporting[0]


def export(model, args=(), f=None, *, kwargs=None, export_params=True, verbose=None, input_names=None,
           output_names=None, opset_version=None, dynamic_axes=None, keep_initializers_as_inputs=False,
           dynamo=False, training=TrainingMode.EVAL, operator_export_type=OperatorExportTypes.ONNX,
           do_constant_folding=True, custom_opsets=None, export_modules_as_functions=False, **unused):
    """Export ``model`` (an ``nn.Module`` or a function) run on ``args`` to the ONNX file ``f``
    (a path or a binary file object), as ``torch.onnx.export`` (TorchScript-based exporter).

    ``dynamic_axes`` ({input or output name: {axis: name} or [axes]}) leaves those dims free;
    the model is traced once more per free dim name at another size to tell which sizes
    depend on it. Default opset 17. The model runs in eval mode unless
    ``training=TrainingMode.PRESERVE`` keeps a model in training mode as it is."""
    from ._export import export_model

    if dynamo:
        raise ExportError("rustdl.onnx.export: dynamo=True is not supported; rustdl exports by tracing")
    if training == TrainingMode.TRAINING:
        raise ExportError("rustdl.onnx.export: training=TrainingMode.TRAINING is not supported (eval-mode "
                          "export only: dropout as identity, batch norm with its running statistics)")
    _exporting[0] = True
    try:
        model_proto = export_model(
            model, args, kwargs=kwargs, export_params=export_params, input_names=input_names,
            output_names=output_names, opset_version=17 if opset_version is None else opset_version,
            dynamic_axes=dynamic_axes, keep_initializers_as_inputs=keep_initializers_as_inputs,
            training=training, do_constant_folding=do_constant_folding)
    finally:
        _exporting[0] = False
    if verbose:
        import onnx

        print(onnx.helper.printable_graph(model_proto.graph))
    data = model_proto.SerializeToString()
    if f is None:
        return model_proto
    if hasattr(f, "write"):
        f.write(data)
    else:
        import os

        with open(os.fspath(f), "wb") as fh:
            fh.write(data)
    return None


def dynamo_export(*args, **kwargs):
    """Not provided: rustdl exports by tracing (``export``)."""
    raise NotImplementedError("torch.onnx.dynamo_export: rustdl exports by tracing; use rustdl.onnx.export")
