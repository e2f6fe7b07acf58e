"""A traced graph (``rustdl.jit``) as TensorBoard's ``GraphDef``, for the Graphs tab.

Laid out as PyTorch's ``add_graph`` does: graph inputs and outputs are "IO Node"s under
``input/`` and ``output/``, each op a node ``aten::<op>`` named by its module scope
(``CNN/Conv2d[conv1]/conv2d_3``) so TensorBoard folds each module into a box, parameters
``prim::GetAttr`` nodes under their module's scope, and every node carries its output
shapes (``_output_shapes``) and the call's other arguments (``attr``).
"""

from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.config_pb2 import RunMetadata
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.step_stats_pb2 import DeviceStepStats, StepStats
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef

__all__ = ["graph"]


def _shape(v):
    return TensorShapeProto(dim=[TensorShapeProto.Dim(size=int(s)) for s in v.shape])


def _attrs(values, text=""):
    return {
        "_output_shapes": AttrValue(list=AttrValue.ListValue(shape=[_shape(v) for v in values])),
        "attr": AttrValue(s=text.encode("utf-8")),
    }


def graph_def_of(g, model_name):
    nodes, names = [], {}
    for i, v in enumerate(g.inputs):
        if v.id in names:
            continue
        name = f"input/{v.name or f'input.{i}'}"
        names[v.id] = name
        nodes.append(NodeDef(name=name, op="IO Node", attr=_attrs([v], str(v.dtype))))
    for pname, v in g.params.items():
        name = f"{model_name}/" + pname.replace(".", "/")
        names[v.id] = name
        nodes.append(NodeDef(name=name, op="prim::GetAttr", attr=_attrs([v], str(v.dtype))))
    for c in g.constants:
        names[c.id] = f"{model_name}/{c.name}"
        nodes.append(NodeDef(name=names[c.id], op="prim::Constant", attr=_attrs([c], str(c.dtype))))
    for k, node in enumerate(g.nodes):
        scope = node.scope.replace(".", "/") if node.scope else model_name
        name = f"{scope}/{node.op.strip('_')}_{k}"
        inputs = [names[v.id] for v in node.inputs if v.id in names]
        text = repr(node).split(" = ", 1)[-1]
        op = node.op if node.module is not None else f"aten::{node.op}"
        nodes.append(NodeDef(name=name, op=op, input=inputs, attr=_attrs(node.outputs, text)))
        for j, v in enumerate(node.outputs):
            names[v.id] = name if j == 0 else f"{name}:{j}"
    for i, v in enumerate(g.outputs):
        nodes.append(NodeDef(name=f"output/output.{i + 1}", op="IO Node", input=[names[v.id]],
                             attr=_attrs([v], str(v.dtype))))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))


def graph(model, args, verbose=False, use_strict_trace=True):
    """Trace ``model(*args)`` and return ``(GraphDef, RunMetadata)`` as PyTorch's
    ``torch.utils.tensorboard._pytorch_graph.graph``."""
    from ... import _C
    from ...jit._tracer import trace_graph
    from ...nn.modules.module import Module

    if args is None:
        args = ()
    if isinstance(args, _C.Tensor):
        args = (args,)
    module = model if isinstance(model, Module) else None
    was_training = module.training if module is not None else False
    try:
        if module is not None:
            module.train(False)
        g, _ = trace_graph(model, tuple(args), {}, module=module)
    finally:
        if module is not None:
            module.train(was_training)
    if verbose:
        print(g)
    gd = graph_def_of(g, type(model).__name__ if module is not None else getattr(model, "__name__", "fn"))
    stats = RunMetadata(step_stats=StepStats(dev_stats=[DeviceStepStats(device="/device:CPU:0")]))
    return gd, stats
