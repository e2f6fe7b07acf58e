"""Traced ops -> ONNX operators (opset 17), one converter per op name.

A converter gets the ``Builder`` and the node; it reads the call's arguments by PyTorch's
parameter names (``_Args``) and returns the ONNX names of the node's outputs.
"""

import inspect
import math

import numpy as np

from .. import _C
from ..jit._graph import Value
from . import ExportError, UnsupportedOperatorError
from ._export import INT64_MAX, numpy_dtype, onnx_dtype, tensor_numpy

CONVERTERS = {}


def converts(*names):
    def register(fn):
        for n in names:
            CONVERTERS[n] = fn
        return fn

    return register


class _Args:
    """A node's arguments by name: ``spec`` lists the op's parameters in order (the first is
    the tensor a method is called on), ``defaults`` the optional ones."""

    def __init__(self, node, spec, **defaults):
        names = spec.split()
        self.values = dict(defaults)
        for name, a in zip(names, node.args):
            self.values[name] = a
        for k, v in node.kwargs.items():
            self.values[k] = v
        self.node = node

    def __getattr__(self, name):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise ExportError(f"rustdl.onnx.export: '{self.__dict__['node'].op}' needs argument '{name}'") from None


def _rest(node, kw):
    """The varargs of ``view(*shape)``-style methods: ``x.view(2, 3)`` or ``x.view((2, 3))``."""
    rest = list(node.args[1:])
    if not rest and kw in node.kwargs:
        rest = [node.kwargs[kw]]
    if len(rest) == 1 and isinstance(rest[0], (list, tuple)) or (len(rest) == 1 and hasattr(rest[0], "__iter__")):
        rest = list(rest[0])
    return [int(r) for r in rest]


def _norm_dim(d, rank):
    d = int(d)
    return d + rank if d < 0 else d


def _tuple(v, n):
    if isinstance(v, (list, tuple)):
        v = [int(x) for x in v]
        return v * n if len(v) == 1 else v
    return [int(v)] * n


class Builder:
    def __init__(self, onnx, graph, variants, opset, export_params, keep_initializers_as_inputs):
        self.onnx, self.h = onnx, onnx.helper
        self.graph, self.variants, self.opset = graph, variants, opset
        self.export_params, self.keep_inits = export_params, keep_initializers_as_inputs
        self.nodes, self.initializers, self.names, self.param_inputs = [], [], {}, []
        self.used = set()
        self.count = 0
        self.node_index = {id(n): i for i, n in enumerate(graph.nodes)}
        self.in_onnx_names = {}

    # ---------------------------------------------------------------- naming and making
    def fresh(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def name(self, v):
        """The ONNX name of a traced value (parameters and constants become initializers on first use)."""
        n = self.names.get(v.id)
        if n is not None:
            return n
        if v.kind == "param":
            n = v.name
            arr = tensor_numpy(v.data)
            if self.export_params:
                self.initializers.append(self.onnx.numpy_helper.from_array(arr, n))
                if self.keep_inits:
                    self.param_inputs.append(self.h.make_tensor_value_info(n, onnx_dtype(v.dtype), list(v.shape)))
            else:
                self.param_inputs.append(self.h.make_tensor_value_info(n, onnx_dtype(v.dtype), list(v.shape)))
        elif v.kind == "const":
            n = self.const(tensor_numpy(v.data), v.name)
        else:
            raise ExportError(f"rustdl.onnx.export: internal error, value {v!r} used before it was made")
        self.names[v.id] = n
        return n

    def const(self, array, hint="const"):
        n = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), n))
        return n

    def ints(self, values, hint="shape"):
        return self.const(np.asarray(list(values), dtype=np.int64), hint)

    def scalar(self, value, dtype):
        return self.const(np.asarray(value, dtype=numpy_dtype(dtype)), "scalar")

    def make(self, op_type, inputs, n_out=1, **attrs):
        outs = [self.fresh(op_type) for _ in range(n_out)]
        self.nodes.append(self.h.make_node(op_type, list(inputs), outs, name=self.fresh(f"/{op_type}"),
                                           **{k: v for k, v in attrs.items() if v is not None}))
        return outs[0] if n_out == 1 else outs

    def cast(self, name, from_dtype, to_dtype):
        if from_dtype == to_dtype:
            return name
        return self.make("Cast", [name], to=onnx_dtype(to_dtype))

    def operand(self, a, dtype):
        """A Value or a Python number as an ONNX input of ``dtype``."""
        if isinstance(a, Value):
            return self.cast(self.name(a), a.dtype, dtype)
        return self.scalar(a, dtype)

    # ---------------------------------------------------------------- sizes that follow free dims
    def variant_nodes(self, node):
        i = self.node_index[id(node)]
        return [(sym, g.nodes[i], where, g) for sym, (g, where) in self.variants.items()]

    def symbol_size(self, sym):
        """The ONNX scalar (int64, shape [1]) of a free dim at run time, and its traced sizes."""
        g2, where = self.variants[sym]
        i, axis = where[0]
        base = self.graph.inputs[i].shape[axis]
        grown = g2.inputs[i].shape[axis]
        shape = self.make("Shape", [self.name(self.graph.inputs[i])])
        return self.make("Gather", [shape, self.ints([axis])], axis=0), base, grown

    def symbol_growth(self, sym):
        g2, where = self.variants[sym]
        i, axis = where[0]
        return g2.inputs[i].shape[axis] - self.graph.inputs[i].shape[axis]

    def shape_input(self, node, target, parse, in_value=None):
        """An int64 shape tensor for ``target`` (the traced sizes of a reshape-like op), with the
        entries that change with a free dim computed at run time."""
        target = [int(t) for t in target]
        others = []
        for sym, vnode, where, g in self.variant_nodes(node):
            vt = parse(vnode)
            if len(vt) != len(target):
                raise ExportError(f"rustdl.onnx.export: '{node.op}' changes rank with the free dim '{sym}'")
            vin = None
            if in_value is not None:
                vin = next(a for a in vnode.args if isinstance(a, Value)).shape
            others.append((sym, [int(t) for t in vt], vin))
        entries = []
        for i, t in enumerate(target):
            if all(o[1][i] == t for o in others):
                entries.append(("lit", t))
            elif (in_value is not None and i < len(in_value.shape) and t == in_value.shape[i]
                  and all(o[2] is not None and i < len(o[2]) and o[1][i] == o[2][i] for o in others)):
                entries.append(("lit", 0))
            else:
                entries.append(("dyn", i))
        dyn = [e for e in entries if e[0] == "dyn"]
        if not dyn:
            return self.ints([e[1] for e in entries])
        has_minus = any(e == ("lit", -1) for e in entries)
        parts = []
        for e in entries:
            if e[0] == "lit":
                parts.append(self.ints([e[1]]))
            elif not has_minus:
                has_minus = True
                parts.append(self.ints([-1]))
            else:
                parts.append(self.linear_size(node, e[1], target[e[1]], others))
        return self.make("Concat", parts, axis=0)

    def linear_size(self, node, i, base_value, others):
        varying = [(sym, vt[i]) for sym, vt, _ in others if vt[i] != base_value]
        if len(varying) != 1:
            raise ExportError(f"rustdl.onnx.export: size {i} of '{node.op}' depends on several free dims")
        sym, grown_value = varying[0]
        size, base, grown = self.symbol_size(sym)
        a, rem = divmod(grown_value - base_value, grown - base)
        if rem:
            raise ExportError(f"rustdl.onnx.export: size {i} of '{node.op}' is not an integer multiple of '{sym}'")
        b = base_value - a * base
        out = size if a == 1 else self.make("Mul", [size, self.ints([a])])
        return out if b == 0 else self.make("Add", [out, self.ints([b])])

    def check_static(self, node):
        """Ops whose size arguments are taken literally: refuse ones that change with a free dim."""
        for sym, vnode, _, _ in self.variant_nodes(node):
            if vnode.op != node.op:
                raise ExportError(
                    f"rustdl.onnx.export: the traced graph changes with the free dim '{sym}' (op '{node.op}' "
                    f"became '{vnode.op}'): control flow depends on that size")
            if node.op in _SIZE_AWARE:
                continue
            if _literals(node.args) != _literals(vnode.args) or _literals(node.kwargs) != _literals(vnode.kwargs):
                raise ExportError(
                    f"rustdl.onnx.export: an argument of '{node.op}' changes with the free dim '{sym}' "
                    f"({_literals(node.args)} vs {_literals(vnode.args)}); it cannot be exported with that dim free")

    # ---------------------------------------------------------------- the whole graph
    def build(self, in_names, output_names, dyn):
        h, g = self.h, self.graph
        for sym, (g2, _) in self.variants.items():
            if len(g2.nodes) != len(g.nodes):
                raise ExportError(
                    f"rustdl.onnx.export: the traced graph changes with the free dim '{sym}' ({len(g.nodes)} vs "
                    f"{len(g2.nodes)} ops): control flow depends on that size")
            for c1, c2 in zip(g.constants, g2.constants):
                if c1.shape != c2.shape:
                    raise ExportError(
                        f"rustdl.onnx.export: a tensor made inside forward has a shape that depends on the free dim "
                        f"'{sym}' ({list(c1.shape)} vs {list(c2.shape)}); make it from the input instead")
        inputs, seen = [], set()
        for v, name in zip(g.inputs, in_names):
            if v.id in seen:
                continue
            seen.add(v.id)
            self.names[v.id] = name
            shape = [dyn.get(name, {}).get(ax, s) for ax, s in enumerate(v.shape)]
            inputs.append(h.make_tensor_value_info(name, onnx_dtype(v.dtype), shape))
        for node in g.nodes:
            conv = CONVERTERS.get(node.op)
            if conv is None:
                raise UnsupportedOperatorError(
                    f"rustdl.onnx.export: exporting the operator '{node.op}' to ONNX opset version {self.opset} "
                    "is not supported")
            self.check_static(node)
            outs = conv(self, node)
            if isinstance(outs, str):
                outs = [outs]
            if len(outs) != len(node.outputs):
                raise ExportError(f"rustdl.onnx.export: internal error converting '{node.op}'")
            for v, n in zip(node.outputs, outs):
                self.names[v.id] = n
        outputs = []
        for i, v in enumerate(g.outputs):
            name = output_names[i] if output_names and i < len(output_names) else f"output_{i}"
            self.nodes.append(h.make_node("Identity", [self.name(v)], [name], name=f"/output_{i}"))
            shape = [dyn.get(name, {}).get(ax, s) for ax, s in enumerate(v.shape)]
            for sym, (g2, _) in self.variants.items():  # dims that followed a free dim are free too
                other = g2.outputs[i].shape if i < len(g2.outputs) else v.shape
                for ax, (s, s2) in enumerate(zip(v.shape, other)):
                    if s != s2 and isinstance(shape[ax], int):
                        shape[ax] = sym if s2 - s == self.symbol_growth(sym) else f"{name}_dim_{ax}"
            outputs.append(h.make_tensor_value_info(name, onnx_dtype(v.dtype), shape))
        graph = h.make_graph(self.nodes, "main_graph", inputs + self.param_inputs, outputs, self.initializers)
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", self.opset)], producer_name="rustdl",
                             producer_version="0.1.0")
        model.ir_version = min(model.ir_version, 8)
        self.onnx.checker.check_model(model)
        return model


_SIZE_AWARE = {"view", "reshape", "flatten", "unflatten", "expand", "__getitem__", "narrow", "repeat",
               "_canonical_mask", "view_as", "reshape_as", "expand_as", "chunk", "split", "unbind"}


def _literals(obj):
    if isinstance(obj, Value):
        return "%"
    if isinstance(obj, (list, tuple)):
        return [_literals(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _literals(v) for k, v in obj.items()}
    if isinstance(obj, slice):
        return ("slice", obj.start, obj.stop, obj.step)
    if callable(obj):
        return getattr(obj, "__name__", "?")
    return obj


def _in(node):
    return next(a for a in node.args if isinstance(a, Value))


def _out(node, i=0):
    return node.outputs[i]


# ==================================================================== elementwise
_BINARY = {"add": "Add", "__add__": "Add", "__radd__": "Add", "__iadd__": "Add", "add_": "Add",
           "sub": "Sub", "__sub__": "Sub", "__isub__": "Sub", "sub_": "Sub", "__rsub__": "Sub",
           "mul": "Mul", "__mul__": "Mul", "__rmul__": "Mul", "__imul__": "Mul", "mul_": "Mul",
           "div": "Div", "__truediv__": "Div", "__itruediv__": "Div", "div_": "Div", "__rtruediv__": "Div",
           "pow": "Pow", "__pow__": "Pow", "__rpow__": "Pow", "maximum": "Max", "minimum": "Min"}
_REVERSED = {"__rsub__", "__rtruediv__", "__rpow__"}


@converts(*_BINARY)
def _binary(b, node):
    a = _Args(node, "input other", alpha=1, rounding_mode=None)
    dt = _out(node).dtype
    x, y = a.input, a.other
    if node.op in _REVERSED:
        x, y = y, x
    xn, yn = b.operand(x, dt), b.operand(y, dt)
    if a.alpha != 1:
        yn = b.make("Mul", [yn, b.scalar(a.alpha, dt)])
    out = b.make(_BINARY[node.op], [xn, yn])
    if a.rounding_mode == "floor":
        out = b.make("Floor", [out])
    elif a.rounding_mode is not None:
        raise UnsupportedOperatorError(f"rustdl.onnx.export: div(rounding_mode={a.rounding_mode!r}) is not supported")
    return out


_COMPARE = {"__eq__": "Equal", "eq": "Equal", "__lt__": "Less", "lt": "Less", "__le__": "LessOrEqual",
            "le": "LessOrEqual", "__gt__": "Greater", "gt": "Greater", "__ge__": "GreaterOrEqual",
            "ge": "GreaterOrEqual", "__ne__": "Equal", "ne": "Equal", "__and__": "And", "logical_and": "And",
            "__or__": "Or", "logical_or": "Or"}


@converts(*_COMPARE)
def _compare(b, node):
    a = _Args(node, "input other")
    x, y = a.input, a.other
    dt = x.dtype if isinstance(x, Value) else y.dtype
    if isinstance(x, Value) and isinstance(y, Value) and x.dtype != y.dtype:
        dt = _C.promote_types(x.dtype, y.dtype)
    if _COMPARE[node.op] in ("And", "Or"):
        dt = _C.bool
    out = b.make(_COMPARE[node.op], [b.operand(x, dt), b.operand(y, dt)])
    return b.make("Not", [out]) if node.op in ("__ne__", "ne") else out


_UNARY = {"neg": "Neg", "__neg__": "Neg", "sqrt": "Sqrt", "exp": "Exp", "log": "Log", "tanh": "Tanh",
          "sigmoid": "Sigmoid", "relu": "Relu", "relu_": "Relu", "abs": "Abs", "erf": "Erf",
          "reciprocal": "Reciprocal", "sin": "Sin", "cos": "Cos", "floor": "Floor", "ceil": "Ceil",
          "logical_not": "Not", "__invert__": "Not", "softsign": "Softsign"}


@converts(*_UNARY)
def _unary(b, node):
    x = _in(node)
    return b.make(_UNARY[node.op], [b.cast(b.name(x), x.dtype, _out(node).dtype)])


@converts("rsqrt")
def _rsqrt(b, node):
    return b.make("Reciprocal", [b.make("Sqrt", [b.name(_in(node))])])


@converts("square")
def _square(b, node):
    x = b.name(_in(node))
    return b.make("Mul", [x, x])


@converts("clamp", "clip", "clamp_min", "clamp_max")
def _clamp(b, node):
    a = _Args(node, "input min max", min=None, max=None)
    lo, hi = a.min, a.max
    if node.op == "clamp_max":
        lo, hi = None, a.min
    dt = _out(node).dtype
    out = b.name(a.input)
    if isinstance(lo, Value) or isinstance(hi, Value):
        if lo is not None:
            out = b.make("Max", [out, b.operand(lo, dt)])
        if hi is not None:
            out = b.make("Min", [out, b.operand(hi, dt)])
        return out
    return b.make("Clip", [out, "" if lo is None else b.scalar(lo, dt), "" if hi is None else b.scalar(hi, dt)])


@converts("where", "Tensor.where")
def _where(b, node):
    if node.op == "Tensor.where":
        a = _Args(node, "input condition other")
    else:
        a = _Args(node, "condition input other")
    dt = _out(node).dtype
    return b.make("Where", [b.operand(a.condition, _C.bool), b.operand(a.input, dt), b.operand(a.other, dt)])


@converts("masked_fill", "masked_fill_")
def _masked_fill(b, node):
    a = _Args(node, "input mask value")
    dt = _out(node).dtype
    return b.make("Where", [b.operand(a.mask, _C.bool), b.operand(a.value, dt), b.name(a.input)])


@converts("float", "double", "long", "int", "bool", "half", "to", "type_as")
def _cast(b, node):
    x = _in(node)
    return b.make("Cast", [b.name(x)], to=onnx_dtype(_out(node).dtype))


@converts("contiguous", "clone", "detach")
def _identity(b, node):
    return b.make("Identity", [b.name(_in(node))])


# ==================================================================== activations (nn.functional)
@converts("leaky_relu")
def _leaky_relu(b, node):
    a = _Args(node, "input negative_slope inplace", negative_slope=0.01)
    return b.make("LeakyRelu", [b.name(a.input)], alpha=float(a.negative_slope))


@converts("relu6", "hardtanh")
def _hardtanh(b, node):
    a = _Args(node, "input min_val max_val inplace", min_val=-1.0, max_val=1.0)
    lo, hi = (0.0, 6.0) if node.op == "relu6" else (a.min_val, a.max_val)
    dt = _out(node).dtype
    return b.make("Clip", [b.name(a.input), b.scalar(lo, dt), b.scalar(hi, dt)])


@converts("gelu")
def _gelu(b, node):
    a = _Args(node, "input approximate", approximate="none")
    x, dt = b.name(a.input), _out(node).dtype
    if a.approximate == "tanh":
        inner = b.make("Mul", [b.make("Add", [x, b.make("Mul", [b.make("Mul", [b.make("Mul", [x, x]), x]),
                                                                  b.scalar(0.044715, dt)])]),
                               b.scalar(math.sqrt(2.0 / math.pi), dt)])
        t = b.make("Tanh", [inner])
    else:
        t = b.make("Erf", [b.make("Div", [x, b.scalar(math.sqrt(2.0), dt)])])
    return b.make("Mul", [b.make("Mul", [x, b.scalar(0.5, dt)]), b.make("Add", [t, b.scalar(1.0, dt)])])


@converts("elu", "celu")
def _elu(b, node):
    a = _Args(node, "input alpha inplace", alpha=1.0)
    return b.make("Elu" if node.op == "elu" else "Celu", [b.name(a.input)], alpha=float(a.alpha))


@converts("selu")
def _selu(b, node):
    return b.make("Selu", [b.name(_in(node))])


@converts("silu")
def _silu(b, node):
    x = b.name(_in(node))
    return b.make("Mul", [x, b.make("Sigmoid", [x])])


@converts("mish")
def _mish(b, node):
    x = b.name(_in(node))
    return b.make("Mul", [x, b.make("Tanh", [b.make("Softplus", [x])])])


@converts("softplus")
def _softplus(b, node):
    a = _Args(node, "input beta threshold", beta=1.0, threshold=20.0)
    x, dt = b.name(a.input), _out(node).dtype
    if a.beta == 1:
        sp = b.make("Softplus", [x])
    else:
        beta = b.scalar(a.beta, dt)
        sp = b.make("Div", [b.make("Softplus", [b.make("Mul", [x, beta])]), beta])
    over = b.make("Greater", [b.make("Mul", [x, b.scalar(a.beta, dt)]), b.scalar(a.threshold, dt)])
    return b.make("Where", [over, x, sp])


@converts("hardsigmoid")
def _hardsigmoid(b, node):
    return b.make("HardSigmoid", [b.name(_in(node))], alpha=1.0 / 6.0, beta=0.5)


@converts("hardswish")
def _hardswish(b, node):
    return b.make("HardSwish", [b.name(_in(node))])


@converts("logsigmoid")
def _logsigmoid(b, node):
    return b.make("Neg", [b.make("Softplus", [b.make("Neg", [b.name(_in(node))])])])


@converts("prelu")
def _prelu(b, node):
    a = _Args(node, "input weight")
    w = b.name(a.weight)
    rank = len(a.input.shape)
    if len(a.weight.shape) == 1 and rank > 2:
        w = b.make("Unsqueeze", [w, b.ints(range(1, rank - 1))])
    return b.make("PRelu", [b.name(a.input), w])


@converts("glu")
def _glu(b, node):
    a = _Args(node, "input dim", dim=-1)
    first, second = b.make("Split", [b.name(a.input)], n_out=2, axis=int(a.dim))
    return b.make("Mul", [first, b.make("Sigmoid", [second])])


@converts("softmax", "log_softmax")
def _softmax(b, node):
    if inspect.isfunction(node.target):  # F.softmax(input, dim, _stacklevel, dtype)
        a = _Args(node, "input dim _stacklevel dtype", dim=None, dtype=None)
    else:  # Tensor.softmax(dim, dtype=None)
        a = _Args(node, "input dim dtype", dim=None, dtype=None)
    x = a.input
    dim = a.dim
    if dim is None:
        dim = 0 if len(x.shape) in (0, 1, 3) else 1
    xn = b.cast(b.name(x), x.dtype, _out(node).dtype)
    return b.make("Softmax" if node.op == "softmax" else "LogSoftmax", [xn], axis=int(dim))


@converts("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout")
def _dropout(b, node):
    a = _Args(node, "input p training inplace", p=0.5, training=node.op != "alpha_dropout")
    if a.training and a.p > 0:
        raise ExportError(f"rustdl.onnx.export: {node.op} ran in training mode (training=True, p={a.p}); export "
                          "in eval mode (model.eval(), or a module's self.training) so it is the identity")
    return b.make("Identity", [b.name(a.input)])


# ==================================================================== linear algebra
@converts("linear")
def _linear(b, node):
    a = _Args(node, "input weight bias", bias=None)
    x, w = a.input, a.weight
    if len(x.shape) == 2 and len(w.shape) == 2:
        inputs = [b.name(x), b.name(w)] + ([b.name(a.bias)] if a.bias is not None else [])
        return b.make("Gemm", inputs, transB=1)
    wt = b.make("Transpose", [b.name(w)], perm=[1, 0]) if len(w.shape) == 2 else b.name(w)
    out = b.make("MatMul", [b.name(x), wt])
    return out if a.bias is None else b.make("Add", [out, b.name(a.bias)])


@converts("matmul", "mm", "bmm", "__matmul__")
def _matmul(b, node):
    a = _Args(node, "input other")
    return b.make("MatMul", [b.name(a.input), b.name(a.other)])


@converts("__rmatmul__")
def _rmatmul(b, node):
    return b.make("MatMul", [b.name(node.args[1]), b.name(node.args[0])])


@converts("baddbmm", "addmm")
def _baddbmm(b, node):
    a = _Args(node, "input batch1 batch2", beta=1, alpha=1)
    dt = _out(node).dtype
    prod = b.make("MatMul", [b.name(a.batch1), b.name(a.batch2)])
    if a.alpha != 1:
        prod = b.make("Mul", [prod, b.scalar(a.alpha, dt)])
    if a.beta == 0:
        return prod
    base = b.name(a.input) if a.beta == 1 else b.make("Mul", [b.name(a.input), b.scalar(a.beta, dt)])
    return b.make("Add", [base, prod])


# ==================================================================== reductions
def _dims(dim, rank):
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        return [_norm_dim(d, rank) for d in dim]
    return [_norm_dim(dim, rank)]


@converts("sum", "mean", "amax", "amin")
def _reduce(b, node):
    a = _Args(node, "input dim keepdim", dim=None, keepdim=False, dtype=None)
    x = a.input
    axes = _dims(a.dim, len(x.shape))
    xn = b.cast(b.name(x), x.dtype, _out(node).dtype)
    keep = int(bool(a.keepdim))
    if node.op == "sum":
        return b.make("ReduceSum", [xn] + ([b.ints(axes)] if axes else []), keepdims=keep)
    op = {"mean": "ReduceMean", "amax": "ReduceMax", "amin": "ReduceMin"}[node.op]
    return b.make(op, [xn], axes=axes, keepdims=keep)


@converts("argmax", "argmin")
def _argmax(b, node):
    a = _Args(node, "input dim keepdim", dim=None, keepdim=False)
    x = b.name(a.input)
    op = "ArgMax" if node.op == "argmax" else "ArgMin"
    if a.dim is None:
        return b.make(op, [b.make("Reshape", [x, b.ints([-1])])], axis=0, keepdims=0)
    return b.make(op, [x], axis=int(a.dim), keepdims=int(bool(a.keepdim)))


@converts("cumsum")
def _cumsum(b, node):
    a = _Args(node, "input dim", dtype=None)
    x = a.input
    return b.make("CumSum", [b.cast(b.name(x), x.dtype, _out(node).dtype), b.ints([int(a.dim)])])


@converts("max", "min")
def _max_min(b, node):
    """``x.max()`` (all elements), ``x.max(dim, keepdim)`` (values and indices), ``x.max(other)``."""
    x, rest, kw = node.args[0], list(node.args[1:]), node.kwargs
    first = rest[0] if rest else kw.get("dim", kw.get("other"))
    if isinstance(first, Value):  # elementwise, as maximum/minimum
        dt = _out(node).dtype
        return b.make("Max" if node.op == "max" else "Min", [b.operand(x, dt), b.operand(first, dt)])
    reduce_op = "ReduceMax" if node.op == "max" else "ReduceMin"
    if first is None:
        return b.make(reduce_op, [b.name(x)], keepdims=0)
    dim = _norm_dim(first, len(x.shape))
    keep = int(bool(rest[1] if len(rest) > 1 else kw.get("keepdim", False)))
    values = b.make(reduce_op, [b.name(x)], axes=[dim], keepdims=keep)
    indices = b.make("ArgMax" if node.op == "max" else "ArgMin", [b.name(x)], axis=dim, keepdims=keep)
    return [values, indices]


@converts("var", "std")
def _var_std(b, node):
    """Mean of squared deviations times n / (n - correction), n counted at run time."""
    x, rest, kw = node.args[0], list(node.args[1:]), dict(node.kwargs)
    if rest and isinstance(rest[0], bool):  # x.var(unbiased, ...)
        kw.setdefault("unbiased", rest.pop(0))
    names = ["dim", "unbiased", "keepdim"] if not ("correction" in kw) else ["dim", "keepdim"]
    for name, v in zip(names, rest):
        kw.setdefault(name, v)
    correction = kw.get("correction")
    if correction is None:
        correction = 1 if kw.get("unbiased", True) else 0
    axes = _dims(kw.get("dim"), len(x.shape)) or list(range(len(x.shape)))
    keep = int(bool(kw.get("keepdim", False)))
    dt = _out(node).dtype
    xn = b.cast(b.name(x), x.dtype, dt)
    mean = b.make("ReduceMean", [xn], axes=axes, keepdims=1)
    dev = b.make("Sub", [xn, mean])
    msq = b.make("ReduceMean", [b.make("Mul", [dev, dev])], axes=axes, keepdims=keep)
    out = msq
    if correction:
        n = b.make("Cast", [b.make("Div", [b.make("Size", [xn]), b.make("Size", [mean])])], to=onnx_dtype(dt))
        factor = b.make("Div", [n, b.make("Sub", [n, b.scalar(float(correction), dt)])])
        out = b.make("Mul", [msq, factor])
    return b.make("Sqrt", [out]) if node.op == "std" else out


@converts("topk")
def _topk(b, node):
    a = _Args(node, "input k dim largest sorted", dim=-1, largest=True, sorted=True)
    axis = _norm_dim(a.dim, len(a.input.shape))
    return b.make("TopK", [b.name(a.input), b.ints([int(a.k)])], n_out=2, axis=axis,
                  largest=int(bool(a.largest)), sorted=int(bool(a.sorted)))


@converts("einsum")
def _einsum(b, node):
    args = list(node.args)
    if not args or not isinstance(args[0], str):
        raise UnsupportedOperatorError("rustdl.onnx.export: einsum is exported only with an equation string")
    operands = args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    dt = _out(node).dtype
    return b.make("Einsum", [b.operand(o, dt) for o in operands], equation=args[0].replace(" ", ""))


@converts("one_hot")
def _one_hot(b, node):
    a = _Args(node, "input num_classes", num_classes=-1)
    depth = int(_out(node).shape[-1])  # PyTorch infers -1 from the data: the traced size
    values = b.const(np.asarray([0, 1], dtype=np.int64), "one_hot_values")
    return b.make("OneHot", [b.cast(b.name(a.input), a.input.dtype, _C.int64), b.ints([depth]), values], axis=-1)


_RESIZE_MODES = {"nearest": "nearest", "nearest-exact": "nearest", "linear": "linear", "bilinear": "linear",
                 "trilinear": "linear", "bicubic": "cubic"}


@converts("interpolate")
def _interpolate(b, node):
    a = _Args(node, "input size scale_factor mode align_corners recompute_scale_factor antialias", size=None,
              scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None, antialias=False)
    x, out = a.input, _out(node)
    if a.mode not in _RESIZE_MODES or a.antialias:
        raise UnsupportedOperatorError(
            f"rustdl.onnx.export: interpolate(mode={a.mode!r}, antialias={a.antialias}) is not supported")
    attrs = {"mode": _RESIZE_MODES[a.mode]}
    if a.mode == "nearest":  # PyTorch's legacy nearest: floor(dst * in / out)
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    elif a.mode == "nearest-exact":  # floor((dst + 0.5) * in / out)
        attrs.update(coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil")
    else:
        attrs["coordinate_transformation_mode"] = "align_corners" if a.align_corners else "pytorch_half_pixel"
        if a.mode == "bicubic":
            attrs["cubic_coeff_a"] = -0.75
    nd = len(x.shape) - 2
    empty = b.const(np.zeros(0, dtype=np.float32), "roi")
    if a.scale_factor is not None and not a.recompute_scale_factor:
        scales = [1.0, 1.0] + [float(f) for f in _tuple_f(a.scale_factor, nd)]
        return b.make("Resize", [b.name(x), empty, b.const(np.asarray(scales, dtype=np.float32), "scales")],
                      **attrs)
    lead = b.make("Slice", [b.make("Shape", [b.name(x)]), b.ints([0]), b.ints([2])])
    sizes = b.make("Concat", [lead, b.ints(out.shape[2:])], axis=0)
    return b.make("Resize", [b.name(x), empty, "", sizes], **attrs)


def _tuple_f(v, n):
    if isinstance(v, (list, tuple)):
        return list(v) * n if len(v) == 1 else list(v)
    return [v] * n


# ==================================================================== shapes
def _view_target(node):
    if len(node.args) == 2 and isinstance(node.args[1], Value):  # view_as / reshape_as
        return list(node.args[1].shape)
    return _rest(node, "shape") if "shape" in node.kwargs or len(node.args) > 1 else _rest(node, "size")


@converts("view", "reshape", "view_as", "reshape_as")
def _reshape(b, node):
    x = _in(node)
    if node.op in ("view_as", "reshape_as"):
        return b.make("Reshape", [b.name(x), b.make("Shape", [b.name(node.args[1])])])
    if any(isinstance(a, type(_C.float32)) for a in node.args[1:]):
        raise UnsupportedOperatorError("rustdl.onnx.export: view(dtype) is not supported")
    shape = b.shape_input(node, _view_target(node), _view_target, in_value=x)
    return b.make("Reshape", [b.name(x), shape])


@converts("flatten")
def _flatten(b, node):
    a = _Args(node, "input start_dim end_dim", start_dim=0, end_dim=-1)
    x = a.input
    rank = len(x.shape)
    if rank == 0:
        return b.make("Reshape", [b.name(x), b.ints([1])])
    s, e = _norm_dim(a.start_dim, rank), _norm_dim(a.end_dim, rank)
    if s == e:
        return b.make("Identity", [b.name(x)])
    target = [0] * s + [-1] + list(x.shape[e + 1:])

    def parse(n):
        return [0] * s + [-1] + list(_in(n).shape[e + 1:])

    return b.make("Reshape", [b.name(x), b.shape_input(node, target, parse)])


@converts("unflatten")
def _unflatten(b, node):
    a = _Args(node, "input dim sizes")
    x = a.input
    d = _norm_dim(a.dim, len(x.shape))

    def parse(n):
        an = _Args(n, "input dim sizes")
        return [0] * d + [int(s) for s in an.sizes] + list(_in(n).shape[d + 1:])

    return b.make("Reshape", [b.name(x), b.shape_input(node, parse(node), parse)])


@converts("transpose")
def _transpose(b, node):
    a = _Args(node, "input dim0 dim1")
    rank = len(a.input.shape)
    perm = list(range(rank))
    d0, d1 = _norm_dim(a.dim0, rank), _norm_dim(a.dim1, rank)
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return b.make("Transpose", [b.name(a.input)], perm=perm)


@converts("t")
def _t(b, node):
    x = _in(node)
    if len(x.shape) < 2:
        return b.make("Identity", [b.name(x)])
    return b.make("Transpose", [b.name(x)], perm=[1, 0])


@converts("permute")
def _permute(b, node):
    x = _in(node)
    dims = [_norm_dim(d, len(x.shape)) for d in _rest(node, "dims")]
    return b.make("Transpose", [b.name(x)], perm=dims)


@converts("unsqueeze")
def _unsqueeze(b, node):
    a = _Args(node, "input dim")
    return b.make("Unsqueeze", [b.name(a.input), b.ints([_norm_dim(a.dim, len(a.input.shape) + 1)])])


@converts("squeeze")
def _squeeze(b, node):
    a = _Args(node, "input dim", dim=None)
    x = a.input
    rank = len(x.shape)
    dims = list(range(rank)) if a.dim is None else _dims(a.dim, rank)
    dims = [d for d in dims if x.shape[d] == 1]
    if not dims:
        return b.make("Identity", [b.name(x)])
    return b.make("Squeeze", [b.name(x), b.ints(dims)])


@converts("expand")
def _expand(b, node):
    x = _in(node)
    sizes = _rest(node, "size")
    rank, lead = len(x.shape), len(sizes) - len(x.shape)
    shape = []
    for i, s in enumerate(sizes):
        j = i - lead
        if j >= 0 and (s == -1 or s == x.shape[j]):
            shape.append(1)  # Expand broadcasts: 1 keeps the input's dim (free dims stay free)
        else:
            shape.append(s)
    del rank
    return b.make("Expand", [b.name(x), b.ints(shape)])


@converts("expand_as")
def _expand_as(b, node):
    return b.make("Expand", [b.name(node.args[0]), b.make("Shape", [b.name(node.args[1])])])


@converts("repeat")
def _repeat(b, node):
    x = _in(node)
    reps = _rest(node, "repeats")
    xn = b.name(x)
    extra = len(reps) - len(x.shape)
    if extra > 0:
        xn = b.make("Unsqueeze", [xn, b.ints(range(extra))])
    return b.make("Tile", [xn, b.ints(reps)])


@converts("cat", "concat", "concatenate")
def _cat(b, node):
    a = _Args(node, "tensors dim", dim=0)
    vals = [t for t in a.tensors if not (isinstance(t, Value) and t.shape == (0,))]
    rank = len(vals[0].shape)
    dt = _out(node).dtype
    return b.make("Concat", [b.operand(t, dt) for t in vals], axis=_norm_dim(a.dim, rank))


@converts("stack")
def _stack(b, node):
    a = _Args(node, "tensors dim", dim=0)
    rank = len(a.tensors[0].shape) + 1
    d = _norm_dim(a.dim, rank)
    parts = [b.make("Unsqueeze", [b.name(t), b.ints([d])]) for t in a.tensors]
    return b.make("Concat", parts, axis=d)


@converts("chunk", "split", "unbind")
def _split(b, node):
    dim_arg = {"chunk": "input chunks dim", "split": "input split_size dim", "unbind": "input dim"}[node.op]
    a = _Args(node, dim_arg, dim=0)
    x = a.input
    d = _norm_dim(a.dim, len(x.shape))
    if len(node.outputs) == 1 and node.op != "unbind":
        return [b.make("Identity", [b.name(x)])]
    sizes = [v.shape[d] if node.op != "unbind" else 1 for v in node.outputs]
    outs = b.make("Split", [b.name(x), b.ints(sizes)], n_out=len(sizes), axis=d)
    outs = outs if isinstance(outs, list) else [outs]
    if node.op == "unbind":
        outs = [b.make("Squeeze", [o, b.ints([d])]) for o in outs]
    return outs


@converts("select")
def _select(b, node):
    a = _Args(node, "input dim index")
    return b.make("Gather", [b.name(a.input), b.const(np.asarray(int(a.index), dtype=np.int64), "index")],
                  axis=_norm_dim(a.dim, len(a.input.shape)))


@converts("narrow")
def _narrow(b, node):
    a = _Args(node, "input dim start length")
    d = _norm_dim(a.dim, len(a.input.shape))
    start = int(a.start)
    return b.make("Slice", [b.name(a.input), b.ints([start]), b.ints([start + int(a.length)]), b.ints([d])])


@converts("index_select")
def _index_select(b, node):
    a = _Args(node, "input dim index")
    return b.make("Gather", [b.name(a.input), b.name(a.index)], axis=_norm_dim(a.dim, len(a.input.shape)))


@converts("gather")
def _gather(b, node):
    a = _Args(node, "input dim index")
    return b.make("GatherElements", [b.name(a.input), b.name(a.index)], axis=_norm_dim(a.dim, len(a.input.shape)))


@converts("tril", "triu")
def _trilu(b, node):
    a = _Args(node, "input diagonal", diagonal=0)
    return b.make("Trilu", [b.name(a.input), b.ints([int(a.diagonal)])[:]], upper=int(node.op == "triu"))


@converts("__getitem__")
def _getitem(b, node):
    x, idx = node.args[0], node.args[1]
    if not isinstance(idx, tuple):
        idx = (idx,)
    rank = len(x.shape)
    used = sum(1 for i in idx if i is not None and i is not Ellipsis and not isinstance(i, bool))
    items = []
    for i in idx:
        if i is Ellipsis:
            items.extend([slice(None)] * (rank - used))
        else:
            items.append(i)
    starts, ends, axes, steps, squeeze, news, gathers = [], [], [], [], [], [], []
    axis, out_pos = 0, 0
    for it in items:
        if it is None:
            news.append(out_pos)
            out_pos += 1
        elif isinstance(it, bool):
            raise UnsupportedOperatorError("rustdl.onnx.export: indexing with a Python bool is not supported")
        elif isinstance(it, int):
            n = x.shape[axis]
            s = it + n if it < 0 else it
            starts.append(s)
            ends.append(s + 1)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
            axis += 1
        elif isinstance(it, slice):
            n = x.shape[axis]
            step = 1 if it.step is None else int(it.step)
            if step <= 0:
                raise UnsupportedOperatorError("rustdl.onnx.export: slices with a negative step are not supported")
            start = 0 if it.start is None else int(it.start)
            stop = INT64_MAX if it.stop is None or int(it.stop) >= n else int(it.stop)
            if (start, stop, step) != (0, INT64_MAX, 1):
                starts.append(start)
                ends.append(stop)
                axes.append(axis)
                steps.append(step)
            axis += 1
            out_pos += 1
        elif isinstance(it, Value):
            if it.dtype == _C.bool:
                if len(items) != 1:
                    raise UnsupportedOperatorError(
                        "rustdl.onnx.export: a boolean mask is supported only as the sole index (x[mask])")
                # x[mask]: the positions where mask is true (NonZero, one row per hit), gathered
                positions = b.make("Transpose", [b.make("NonZero", [b.name(it)])], perm=[1, 0])
                return b.make("GatherND", [b.name(x), positions])
            gathers.append((axis, it))
            axis += 1
            out_pos += len(it.shape)
        else:
            raise UnsupportedOperatorError(f"rustdl.onnx.export: index {it!r} is not supported")
    if len(gathers) > 1 or (gathers and news):
        raise UnsupportedOperatorError("rustdl.onnx.export: this combination of tensor indices is not supported")
    out = b.name(x)
    if axes:
        out = b.make("Slice", [out, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if squeeze:
        out = b.make("Squeeze", [out, b.ints(squeeze)])
    for ax, index in gathers:
        ax -= sum(1 for s in squeeze if s < ax)
        out = b.make("Gather", [out, b.cast(b.name(index), index.dtype, _C.int64)], axis=ax)
    if news:
        out = b.make("Unsqueeze", [out, b.ints(news)])
    if out == b.name(x):
        out = b.make("Identity", [out])
    return out


# ==================================================================== nn layers
@converts("conv1d", "conv2d", "conv3d")
def _conv(b, node):
    a = _Args(node, "input weight bias stride padding dilation groups", bias=None, stride=1, padding=0,
              dilation=1, groups=1)
    w = a.weight
    nd = len(w.shape) - 2
    k = list(w.shape[2:])
    dil = _tuple(a.dilation, nd)
    if isinstance(a.padding, str):
        if a.padding == "valid":
            pads = [0] * (2 * nd)
        else:
            total = [d * (kk - 1) for d, kk in zip(dil, k)]
            pads = [t // 2 for t in total] + [t - t // 2 for t in total]
    else:
        p = _tuple(a.padding, nd)
        pads = p + p
    inputs = [b.name(a.input), b.name(w)] + ([b.name(a.bias)] if a.bias is not None else [])
    return b.make("Conv", inputs, kernel_shape=k, strides=_tuple(a.stride, nd), pads=pads, dilations=dil,
                  group=int(a.groups))


@converts("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
def _conv_transpose(b, node):
    a = _Args(node, "input weight bias stride padding output_padding groups dilation", bias=None, stride=1,
              padding=0, output_padding=0, groups=1, dilation=1)
    w = a.weight
    nd = len(w.shape) - 2
    p = _tuple(a.padding, nd)
    inputs = [b.name(a.input), b.name(w)] + ([b.name(a.bias)] if a.bias is not None else [])
    return b.make("ConvTranspose", inputs, kernel_shape=list(w.shape[2:]), strides=_tuple(a.stride, nd),
                  pads=p + p, dilations=_tuple(a.dilation, nd), group=int(a.groups),
                  output_padding=_tuple(a.output_padding, nd))


@converts("max_pool1d", "max_pool2d", "max_pool3d")
def _max_pool(b, node):
    a = _Args(node, "input kernel_size stride padding dilation ceil_mode return_indices", stride=None, padding=0,
              dilation=1, ceil_mode=False, return_indices=False)
    nd = int(node.op[-2])
    if a.return_indices:
        raise UnsupportedOperatorError("rustdl.onnx.export: max_pool with return_indices=True is not supported")
    k = _tuple(a.kernel_size, nd)
    s = k if a.stride is None or a.stride == [] else _tuple(a.stride, nd)
    p = _tuple(a.padding, nd)
    return b.make("MaxPool", [b.name(a.input)], kernel_shape=k, strides=s, pads=p + p,
                  dilations=_tuple(a.dilation, nd), ceil_mode=int(bool(a.ceil_mode)))


@converts("avg_pool1d", "avg_pool2d", "avg_pool3d")
def _avg_pool(b, node):
    a = _Args(node, "input kernel_size stride padding ceil_mode count_include_pad divisor_override", stride=None,
              padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)
    nd = int(node.op[-2])
    if a.divisor_override is not None:
        raise UnsupportedOperatorError("rustdl.onnx.export: avg_pool with divisor_override is not supported")
    k = _tuple(a.kernel_size, nd)
    s = k if a.stride is None or a.stride == [] else _tuple(a.stride, nd)
    p = _tuple(a.padding, nd)
    return b.make("AveragePool", [b.name(a.input)], kernel_shape=k, strides=s, pads=p + p,
                  ceil_mode=int(bool(a.ceil_mode)), count_include_pad=int(bool(a.count_include_pad)))


@converts("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
          "adaptive_max_pool2d")
def _adaptive_pool(b, node):
    x, out = _in(node), _out(node)
    is_max = "max" in node.op
    nd = len(out.shape) - 2 if len(out.shape) > 2 else len(out.shape) - 1
    in_sp, out_sp = list(x.shape[-nd:]), list(out.shape[-nd:])
    if all(o == 1 for o in out_sp) and len(x.shape) == nd + 2:
        return b.make("GlobalMaxPool" if is_max else "GlobalAveragePool", [b.name(x)])
    if all(i % o == 0 for i, o in zip(in_sp, out_sp)) and len(x.shape) == nd + 2:
        k = [i // o for i, o in zip(in_sp, out_sp)]
        return b.make("MaxPool" if is_max else "AveragePool", [b.name(x)], kernel_shape=k, strides=k)
    raise UnsupportedOperatorError(
        f"rustdl.onnx.export: {node.op} from {in_sp} to {out_sp} (not a whole multiple) is not supported")


def _ones_like_channels(b, v_input, dtype, value=1.0):
    c = v_input.shape[1]
    return b.const(np.full((c,), value, dtype=numpy_dtype(dtype)), "ones")


@converts("batch_norm")
def _batch_norm(b, node):
    a = _Args(node, "input running_mean running_var weight bias training momentum eps", weight=None, bias=None,
              training=False, momentum=0.1, eps=1e-5)
    if a.training or a.running_mean is None:
        raise ExportError("rustdl.onnx.export: batch_norm in training mode (batch statistics) cannot be exported; "
                          "call model.eval() first")
    dt = _out(node).dtype
    scale = b.name(a.weight) if a.weight is not None else _ones_like_channels(b, a.input, dt)
    bias = b.name(a.bias) if a.bias is not None else _ones_like_channels(b, a.input, dt, 0.0)
    x = b.name(a.input)
    rank = len(a.input.shape)
    if rank == 2:  # BatchNormalization wants (N, C, ...): (N, C) as (N, C, 1)
        x = b.make("Unsqueeze", [x, b.ints([2])])
    out = b.make("BatchNormalization", [x, scale, bias, b.name(a.running_mean), b.name(a.running_var)],
                 epsilon=float(a.eps))
    return b.make("Squeeze", [out, b.ints([2])]) if rank == 2 else out


@converts("instance_norm")
def _instance_norm(b, node):
    a = _Args(node, "input running_mean running_var weight bias use_input_stats momentum eps", running_mean=None,
              running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1, eps=1e-5)
    if not a.use_input_stats:
        raise UnsupportedOperatorError("rustdl.onnx.export: instance_norm with running statistics is not supported")
    dt = _out(node).dtype
    scale = b.name(a.weight) if a.weight is not None else _ones_like_channels(b, a.input, dt)
    bias = b.name(a.bias) if a.bias is not None else _ones_like_channels(b, a.input, dt, 0.0)
    return b.make("InstanceNormalization", [b.name(a.input), scale, bias], epsilon=float(a.eps))


@converts("layer_norm")
def _layer_norm(b, node):
    a = _Args(node, "input normalized_shape weight bias eps", weight=None, bias=None, eps=1e-5)
    shape = [int(s) for s in (a.normalized_shape if isinstance(a.normalized_shape, (list, tuple))
                              else [a.normalized_shape])]
    dt = _out(node).dtype
    scale = b.name(a.weight) if a.weight is not None else b.const(np.ones(shape, dtype=numpy_dtype(dt)), "ones")
    inputs = [b.name(a.input), scale] + ([b.name(a.bias)] if a.bias is not None else [])
    return b.make("LayerNormalization", inputs, axis=-len(shape), epsilon=float(a.eps))


@converts("group_norm")
def _group_norm(b, node):
    a = _Args(node, "input num_groups weight bias eps", weight=None, bias=None, eps=1e-5)
    x = a.input
    dt = _out(node).dtype
    rank = len(x.shape)
    g = int(a.num_groups)
    xn = b.name(x)
    grouped = b.make("Reshape", [xn, b.ints([0, g, -1])])
    mean = b.make("ReduceMean", [grouped], axes=[2], keepdims=1)
    centered = b.make("Sub", [grouped, mean])
    var = b.make("ReduceMean", [b.make("Mul", [centered, centered])], axes=[2], keepdims=1)
    normed = b.make("Div", [centered, b.make("Sqrt", [b.make("Add", [var, b.scalar(a.eps, dt)])])])
    out = b.make("Reshape", [normed, b.make("Shape", [xn])])
    trailing = list(range(1, rank - 1))
    if a.weight is not None:
        w = b.make("Unsqueeze", [b.name(a.weight), b.ints(trailing)]) if trailing else b.name(a.weight)
        out = b.make("Mul", [out, w])
    if a.bias is not None:
        bb = b.make("Unsqueeze", [b.name(a.bias), b.ints(trailing)]) if trailing else b.name(a.bias)
        out = b.make("Add", [out, bb])
    return out


@converts("normalize")
def _normalize(b, node):
    a = _Args(node, "input p dim eps out", p=2.0, dim=1, eps=1e-12)
    if a.p != 2:
        raise UnsupportedOperatorError("rustdl.onnx.export: normalize with p != 2 is not supported")
    x, dt = b.name(a.input), _out(node).dtype
    norm = b.make("ReduceL2", [x], axes=[int(a.dim)], keepdims=1)
    return b.make("Div", [x, b.make("Max", [norm, b.scalar(a.eps, dt)])])


@converts("embedding")
def _embedding(b, node):
    a = _Args(node, "input weight padding_idx max_norm", padding_idx=None, max_norm=None)
    if a.max_norm is not None:
        raise UnsupportedOperatorError("rustdl.onnx.export: embedding with max_norm is not supported")
    return b.make("Gather", [b.name(a.weight), b.name(a.input)], axis=0)


@converts("pad")
def _pad(b, node):
    a = _Args(node, "input pad mode value", mode="constant", value=None)
    x = a.input
    rank = len(x.shape)
    pad = [int(p) for p in a.pad]
    begins, ends = [0] * rank, [0] * rank
    for i in range(len(pad) // 2):
        d = rank - 1 - i
        begins[d], ends[d] = pad[2 * i], pad[2 * i + 1]
    mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}.get(a.mode)
    if mode is None:
        raise UnsupportedOperatorError(f"rustdl.onnx.export: pad mode '{a.mode}' is not supported in opset 17")
    inputs = [b.name(x), b.ints(begins + ends)]
    if mode == "constant":
        inputs.append(b.scalar(0.0 if a.value is None else a.value, _out(node).dtype))
    return b.make("Pad", inputs, mode=mode)


@converts("_canonical_mask")
def _canonical_mask(b, node):
    a = _Args(node, "mask mask_name other_type other_name target_type check_other")
    dt = _out(node).dtype
    return b.make("Where", [b.name(a.mask), b.scalar(float("-inf"), dt), b.scalar(0.0, dt)])


@converts("scaled_dot_product_attention")
def _sdpa(b, node):
    a = _Args(node, "query key value attn_mask dropout_p is_causal scale enable_gqa", attn_mask=None,
              dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False)
    q, k, v = a.query, a.key, a.value
    dt = _out(node).dtype
    rank = len(q.shape)
    e = q.shape[-1]
    scale = 1.0 / math.sqrt(e) if a.scale is None else float(a.scale)
    perm = list(range(rank))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    kt = b.make("Transpose", [b.name(k)], perm=perm)
    scores = b.make("Mul", [b.make("MatMul", [b.name(q), kt]), b.scalar(scale, dt)])
    L, S = q.shape[-2], k.shape[-2]
    if a.is_causal:
        causal = np.triu(np.full((L, S), -np.inf, dtype=numpy_dtype(dt)), 1)
        scores = b.make("Add", [scores, b.const(causal, "causal_mask")])
    if a.attn_mask is not None:
        m = a.attn_mask
        if m.dtype == _C.bool:
            mask = b.make("Where", [b.name(m), b.scalar(0.0, dt), b.scalar(float("-inf"), dt)])
        else:
            mask = b.cast(b.name(m), m.dtype, dt)
        scores = b.make("Add", [scores, mask])
    weights = b.make("Softmax", [scores], axis=-1)
    return b.make("MatMul", [weights, b.name(v)])


# ==================================================================== recurrent layers (composites)
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}  # PyTorch's gate blocks in ONNX's order


def _gates(arr, mode, hidden):
    blocks = [arr[i * hidden:(i + 1) * hidden] for i in range(arr.shape[0] // hidden)]
    return np.concatenate([blocks[i] for i in _GATE_ORDER[mode]], axis=0)


@converts("LSTM", "GRU", "RNN")
def _rnn(b, node):
    m = node.module
    mode = node.op
    if getattr(m, "proj_size", 0):
        raise UnsupportedOperatorError("rustdl.onnx.export: LSTM with proj_size is not supported")
    x = node.args[0] if node.args else node.kwargs["input"]
    if not isinstance(x, Value):
        raise UnsupportedOperatorError(f"rustdl.onnx.export: {mode} on a {type(x).__name__} input is not supported")
    hx = node.args[1] if len(node.args) > 1 else node.kwargs.get("hx")
    H, dirs = m.hidden_size, 2 if m.bidirectional else 1
    unbatched = len(x.shape) == 2
    xn = b.name(x)
    if unbatched:
        xn = b.make("Unsqueeze", [xn, b.ints([1])])
    elif m.batch_first:
        xn = b.make("Transpose", [xn], perm=[1, 0, 2])
    h0 = c0 = None
    if hx is not None:
        h0v, c0v = (hx[0], hx[1]) if mode == "LSTM" else (hx, None)
        h0 = b.name(h0v)
        c0 = b.name(c0v) if c0v is not None else None
        if unbatched:
            h0 = b.make("Unsqueeze", [h0, b.ints([1])])
            c0 = b.make("Unsqueeze", [c0, b.ints([1])]) if c0 is not None else None
    h_list, c_list = [], []
    attrs = {}
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    if mode == "RNN":
        attrs["activations"] = ["Relu" if getattr(m, "nonlinearity", "tanh") == "relu" else "Tanh"] * dirs
    layer_in = xn
    for layer in range(m.num_layers):
        W, R, B = [], [], []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih = tensor_numpy(getattr(m, "weight_ih" + sfx))
            w_hh = tensor_numpy(getattr(m, "weight_hh" + sfx))
            W.append(_gates(w_ih, mode, H))
            R.append(_gates(w_hh, mode, H))
            if m.bias:
                B.append(np.concatenate([_gates(tensor_numpy(getattr(m, "bias_ih" + sfx)), mode, H),
                                         _gates(tensor_numpy(getattr(m, "bias_hh" + sfx)), mode, H)]))
            else:
                B.append(np.zeros(2 * W[-1].shape[0], dtype=W[-1].dtype))
        inputs = [layer_in, b.const(np.stack(W), f"{mode}_W_l{layer}"), b.const(np.stack(R), f"{mode}_R_l{layer}"),
                  b.const(np.stack(B), f"{mode}_B_l{layer}"), ""]
        lo, hi = layer * dirs, (layer + 1) * dirs
        if h0 is not None:
            inputs.append(b.make("Slice", [h0, b.ints([lo]), b.ints([hi]), b.ints([0])]))
            if mode == "LSTM":
                inputs.append(b.make("Slice", [c0, b.ints([lo]), b.ints([hi]), b.ints([0])]))
        n_out = 3 if mode == "LSTM" else 2
        outs = b.make(mode, inputs, n_out=n_out, hidden_size=H,
                      direction="bidirectional" if dirs == 2 else "forward", **attrs)
        y = outs[0]  # (seq, dirs, batch, H)
        if dirs == 1:
            layer_in = b.make("Squeeze", [y, b.ints([1])])
        else:
            layer_in = b.make("Reshape", [b.make("Transpose", [y], perm=[0, 2, 1, 3]), b.ints([0, 0, -1])])
        h_list.append(outs[1])
        if mode == "LSTM":
            c_list.append(outs[2])
    out = layer_in
    h = h_list[0] if len(h_list) == 1 else b.make("Concat", h_list, axis=0)
    c = None
    if mode == "LSTM":
        c = c_list[0] if len(c_list) == 1 else b.make("Concat", c_list, axis=0)
    if unbatched:
        out = b.make("Squeeze", [out, b.ints([1])])
        h = b.make("Squeeze", [h, b.ints([1])])
        c = b.make("Squeeze", [c, b.ints([1])]) if c is not None else None
    elif m.batch_first:
        out = b.make("Transpose", [out], perm=[1, 0, 2])
    return [out, h, c] if mode == "LSTM" else [out, h]
