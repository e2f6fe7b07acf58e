"""Trace a model and write the graph as an ONNX ``ModelProto``.

Free dims (``dynamic_axes``): a trace only sees numbers, so ``x.view(x.size(0), -1)``
records ``view(4, -1)``. The model is traced once more per free dim name with that dim one
larger (the inputs grown by repeating their first slice along it); an op's size argument
that changes between the traces depends on the free dim, and is written as ONNX shape
arithmetic (``0`` = copy the input's dim, ``-1``, or ``Shape(input)[axis] * a + b``).
"""

import numpy as np

from .. import _C
from ..jit._graph import Value
from ..jit._tracer import trace_graph
from . import ExportError, TrainingMode

INT64_MAX = 2**63 - 1


def _onnx():
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            "rustdl.onnx.export needs the 'onnx' package: pip install onnx (or rustdl[onnx])") from e
    return onnx


def onnx_dtype(dtype):
    from onnx import TensorProto

    table = {
        _C.float32: TensorProto.FLOAT, _C.float64: TensorProto.DOUBLE, _C.int64: TensorProto.INT64,
        _C.int32: TensorProto.INT32, _C.bool: TensorProto.BOOL, _C.uint8: TensorProto.UINT8,
    }
    for name, proto in (("float16", TensorProto.FLOAT16), ("bfloat16", TensorProto.BFLOAT16),
                        ("int8", TensorProto.INT8), ("int16", TensorProto.INT16)):
        if hasattr(_C, name):
            table[getattr(_C, name)] = proto
    try:
        return table[dtype]
    except KeyError:
        raise ExportError(f"rustdl.onnx.export: dtype {dtype} has no ONNX type here") from None


def numpy_dtype(dtype):
    table = {_C.float32: np.float32, _C.float64: np.float64, _C.int64: np.int64, _C.int32: np.int32,
             _C.bool: np.bool_, _C.uint8: np.uint8}
    if hasattr(_C, "float16"):
        table[_C.float16] = np.float16
    return table.get(dtype, np.float32)


def tensor_numpy(t):
    t = t.detach()
    if t.dtype == getattr(_C, "bfloat16", None):  # numpy has no bfloat16
        t = t.float()
    return np.array(t.contiguous().numpy(), copy=True)


def _split_args(args, kwargs):
    if isinstance(args, _C.Tensor):
        args = (args,)
    args = tuple(args)
    if args and isinstance(args[-1], dict) and kwargs is None:
        kwargs, args = args[-1], args[:-1]
    return args, dict(kwargs or {})


def _dynamic_axes(dynamic_axes):
    """{name: {axis: symbol}} from PyTorch's two spellings ({axis: name} or [axes])."""
    out = {}
    for key, axes in (dynamic_axes or {}).items():
        if isinstance(axes, dict):
            out[key] = {int(a): str(s) for a, s in axes.items()}
        else:
            out[key] = {int(a): f"{key}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
    return out


def _grow(obj, plan, counter):
    """Each tensor input (in flattening order) grown by one along the axes ``plan`` names."""
    if isinstance(obj, _C.Tensor):
        i = counter[0]
        counter[0] += 1
        for axis in plan.get(i, ()):
            if obj.shape[axis] == 0:
                raise ExportError(f"rustdl.onnx.export: dynamic axis {axis} of input {i} has size 0")
            obj = _C.cat([obj, obj.narrow(axis, 0, 1)], axis)
        return obj
    if isinstance(obj, list):
        return [_grow(o, plan, counter) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_grow(o, plan, counter) for o in obj)
    if isinstance(obj, dict):
        return {k: _grow(o, plan, counter) for k, o in obj.items()}
    return obj


def export_model(model, args, kwargs, export_params, input_names, output_names, opset_version, dynamic_axes,
                 keep_initializers_as_inputs, training, do_constant_folding):
    onnx = _onnx()
    from ..nn.modules.module import Module

    args, kwargs = _split_args(args, kwargs)
    module = model if isinstance(model, Module) else None
    was_training = module.training if module is not None else False
    dyn = _dynamic_axes(dynamic_axes)
    try:
        if module is not None and training != TrainingMode.PRESERVE:
            module.train(False)
        graph, _ = trace_graph(model, args, kwargs, module=module, input_names=input_names)
        n_inputs = len(graph.inputs)
        in_names = [input_names[i] if input_names and i < len(input_names) else f"input_{i}"
                    for i in range(n_inputs)]
        for key in dyn:
            if key not in in_names and not (output_names and key in output_names):
                raise ExportError(f"rustdl.onnx.export: dynamic_axes names '{key}', which is neither an input "
                                  f"name {in_names} nor an output name {list(output_names or [])}")
        # symbol -> [(input index, axis)]
        symbols = {}
        for i, name in enumerate(in_names):
            for axis, sym in dyn.get(name, {}).items():
                symbols.setdefault(sym, []).append((i, axis))
        variants = {}
        for sym, where in symbols.items():
            plan = {}
            for i, axis in where:
                plan.setdefault(i, []).append(axis)
            g2, _ = trace_graph(model, _grow(args, plan, [0]), _grow(kwargs, plan, [len(_flat(args))]),
                                module=module, input_names=input_names)
            variants[sym] = (g2, where)
    finally:
        if module is not None:
            module.train(was_training)
    from ._symbolic import Builder

    builder = Builder(onnx, graph, variants, opset_version, export_params, keep_initializers_as_inputs)
    return builder.build(in_names, output_names, dyn)


def _flat(obj):
    out = []

    def walk(o):
        if isinstance(o, _C.Tensor):
            out.append(o)
        elif isinstance(o, (list, tuple)):
            for x in o:
                walk(x)
        elif isinstance(o, dict):
            for x in o.values():
                walk(x)

    walk(obj)
    return out


__all__ = ["INT64_MAX", "Value", "export_model", "numpy_dtype", "onnx_dtype", "tensor_numpy"]
