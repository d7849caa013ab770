"""The one table between TensorFlow op types (``NodeDef.op`` + attrs) and jitflow's ops.

Each row of :data:`TABLE` gives, for a TF op type, how to build the jitflow op from a NodeDef
(``imp``: node, input tensors, the values of Const inputs -> an Operation named exactly as the
node) and how to write a jitflow op of that type back as a NodeDef (``exp``: op -> TF attrs
and the extra Const inputs TF wants where jitflow keeps an attribute, e.g. a reduction's axes).
:mod:`.graph_def` applies it in both directions; an op type without a row is an error at
import naming the type and the node. Attribute values in ``exp`` are tagged
``("type", dtype) | ("shape", dims) | ("tensor", array) | ("ints", [...])`` or plain
int/float/bool/str.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from ..ir.dtypes import as_dtype
from ..ir.types import TensorType
from .graph import Operation, Tensor
from .op_builder import make_op

Imp = Callable[[Any, list, list], Operation]    # (node ctx, inputs, const values) -> op
Exp = Callable[[Operation], tuple[dict, list]]  # op -> (attrs, extra const inputs)


@dataclass(frozen=True)
class Row:
    tf_type: str
    imp: Imp
    exp: Optional[Exp]      # None: jitflow never writes this type (import only)
    jf_type: Optional[str] = None     # the jitflow op type it exports from (default tf_type)


def _t(op: Operation, i: int = 0) -> tuple:
    return ("type", op.inputs[i].dtype if op.inputs else op.outputs[0].dtype)


def _need_const(node: Any, consts: list, i: int, what: str) -> np.ndarray:
    if i >= len(consts) or consts[i] is None:
        raise NotImplementedError(f"node {node.name} ({node.op}): its {what} (input {i}) must be "
                                  "a Const node for jitflow, which needs it when the graph is built")
    return consts[i]


def _simple(tf_type: str, ir: str, jf_type: Optional[str] = None, n_in: Optional[int] = None,
            rng: bool = False) -> Row:
    def imp(node, ins, consts):
        k = len(ins) if n_in is None else n_in
        return make_op(jf_type or tf_type, ir, ins[:k], {}, node.name + "/")

    def exp(op):
        attrs = {"T": _t(op)}
        if tf_type == "AddN":
            attrs["N"] = len(op.inputs)
        return attrs, []
    return Row(tf_type, imp, exp, jf_type)


def _reduce(tf_type: str, ir: str) -> Row:
    def imp(node, ins, consts):
        axes = _need_const(node, consts, 1, "reduction_indices")
        return make_op(tf_type, ir, ins[:1], {"axes": tuple(int(a) for a in np.ravel(axes)),
                                              "keepdims": bool(node.attr("keep_dims", False))},
                       node.name + "/")

    def exp(op):
        axes = op.attrs.get("axes")
        if axes is None:
            axes = range(len(op.inputs[0].shape.dims or ()))
        return ({"T": _t(op), "Tidx": ("type", as_dtype("int32")),
                 "keep_dims": bool(op.attrs.get("keepdims", False))},
                [np.asarray(list(axes), np.int32)])
    return Row(tf_type, imp, exp)


def _const_input(tf_type: str, ir: str, attr: str, pos: int, cast=tuple, tidx: str = "Tidx",
                 n_data: int = 1, extra_attrs: Callable = lambda op: {}) -> Row:
    """An op whose input ``pos`` is, for jitflow, the attribute ``attr``."""
    def imp(node, ins, consts):
        v = _need_const(node, consts, pos, attr)
        val = cast(v)
        data = [t for i, t in enumerate(ins) if i != pos]
        return make_op(tf_type, ir, data, {attr: val}, node.name + "/")

    def exp(op):
        v = op.attrs[attr]
        attrs = {"T": _t(op), tidx: ("type", as_dtype("int32"))}
        attrs.update(extra_attrs(op))
        return attrs, [np.asarray(v, np.int32)]
    return Row(tf_type, imp, exp)


def _ints(v) -> tuple:
    return tuple(int(a) for a in np.ravel(v))


def _int(v) -> int:
    return int(np.asarray(v).reshape(()))


# ------------------------------------------------------------------ special rows ------------

def _placeholder_imp(node, ins, consts):
    return make_op("Placeholder", None, [], name=node.name + "/",
                   out_types=[TensorType(as_dtype(node.attr("dtype")), node.attr("shape"))])


def _placeholder_exp(op):
    t = op.outputs[0]
    return {"dtype": ("type", t.dtype), "shape": ("shape", t.shape.dims)}, []


def _pwd_imp(node, ins, consts):
    return make_op("PlaceholderWithDefault", None, ins[:1], name=node.name + "/",
                   out_types=[TensorType(ins[0].dtype, node.attr("shape"))])


def _pwd_exp(op):
    t = op.outputs[0]
    return {"dtype": ("type", t.dtype), "shape": ("shape", t.shape.dims)}, []


def _const_imp(node, ins, consts):
    value = node.attr("value")
    return make_op("Const", "constant", [], {"value": value}, node.name + "/")


def _const_exp(op):
    return {"dtype": ("type", op.outputs[0].dtype),
            "value": ("tensor", np.asarray(op.attrs["value"]))}, []


def _variable_imp(node, ins, consts):
    shape = node.attr("shape")
    if shape is None or any(d is None for d in shape):
        raise NotImplementedError(f"variable {node.name} has a partially known shape {shape}")
    return make_op("VariableV2", None, [], name=node.name + "/",
                   out_types=[TensorType(as_dtype(node.attr("dtype")), tuple(shape))])


def _variable_exp(op):
    t = op.outputs[0]
    return {"dtype": ("type", t.dtype), "shape": ("shape", t.shape.dims), "container": "",
            "shared_name": ""}, []


def _assign_imp(node, ins, consts):
    return make_op("Assign", None, ins[:2], name=node.name + "/", out_types=[ins[0]._type])


def _assign_exp(op):
    return {"T": _t(op), "use_locking": True, "validate_shape": True}, []


def _noop_imp(node, ins, consts):
    return make_op("NoOp", None, [], name=node.name + "/", out_types=[])


def _matmul_imp(node, ins, consts):
    return make_op("MatMul", "matmul", ins[:2],
                   {"transpose_a": bool(node.attr("transpose_a", False)),
                    "transpose_b": bool(node.attr("transpose_b", False))}, node.name + "/")


def _matmul_exp(op):
    return {"T": _t(op), "transpose_a": bool(op.attrs.get("transpose_a", False)),
            "transpose_b": bool(op.attrs.get("transpose_b", False))}, []


def _bias_add_imp(node, ins, consts):
    fmt = node.attr("data_format", "NHWC")
    return make_op("BiasAdd", "bias_add", ins[:2], {"axis": 1 if fmt == "NCHW" else -1},
                   node.name + "/")


def _bias_add_exp(op):
    return {"T": _t(op), "data_format": "NCHW" if op.attrs.get("axis", -1) == 1 else "NHWC"}, []


def _cast_imp(node, ins, consts):
    return make_op("Cast", "cast", ins[:1], {"dtype": as_dtype(node.attr("DstT"))},
                   node.name + "/")


def _cast_exp(op):
    return {"SrcT": _t(op), "DstT": ("type", op.outputs[0].dtype), "Truncate": False}, []


def _random_row(tf_type: str, ir: str) -> Row:
    def imp(node, ins, consts):
        shape = _ints(_need_const(node, consts, 0, "shape"))
        return make_op(tf_type, ir, [], {"shape": shape, "dtype": as_dtype(node.attr("dtype")),
                                         "seed": int(node.attr("seed", 0)),
                                         "seed2": int(node.attr("seed2", 0))},
                       node.name + "/", rng=True)

    def exp(op):
        return ({"T": ("type", as_dtype("int32")), "dtype": ("type", op.outputs[0].dtype),
                 "seed": int(op.attrs.get("seed", 0)), "seed2": int(op.attrs.get("seed2", 0))},
                [np.asarray(op.attrs["shape"], np.int32)])
    return Row(tf_type, imp, exp)


def _sampler_row(tf_type: str, ir: str, param: str) -> Row:
    """RandomGamma / RandomPoissonV2: (shape, parameter) inputs, the host samplers of
    ops/random_host.py (the shape may be computed; its Const values are the known dims)."""
    def imp(node, ins, consts):
        dims = ins[0].shape.dims
        if not dims or dims[0] is None:
            raise NotImplementedError(f"node {node.name} ({node.op}): its shape input must be a "
                                      f"vector of a known length, got {ins[0].shape}")
        known = _ints(consts[0]) if consts and consts[0] is not None else (-1,) * dims[0]
        attrs = {"known": known, "seed": int(node.attr("seed", 0)),
                 "seed2": int(node.attr("seed2", 0))}
        if tf_type == "RandomPoissonV2":
            attrs["dtype"] = as_dtype(node.attr("dtype", "float32"))
        return make_op(tf_type, ir, ins[:2], attrs, node.name + "/", rng=True)

    def exp(op):
        attrs = {"S": _t(op, 0), param: _t(op, 1), "seed": int(op.attrs["seed"]),
                 "seed2": int(op.attrs["seed2"])}
        if tf_type == "RandomPoissonV2":
            attrs["dtype"] = ("type", op.outputs[0].dtype)
        return attrs, []
    return Row(tf_type, imp, exp)


def _fill_imp(node, ins, consts):
    dims = _ints(_need_const(node, consts, 0, "dims"))
    return make_op("Fill", "fill", ins[1:2], {"shape": dims}, node.name + "/")


def _fill_exp(op):
    return {"T": _t(op), "index_type": ("type", as_dtype("int32"))}, \
        [np.asarray(op.attrs["shape"], np.int32)]


def _fill_reorder(op: Operation, ins: list) -> list:
    return ins[1:] + ins[:1]      # TF: Fill(dims, value); jitflow: fill(value)


def _xent_imp(tf_type, ir):
    def imp(node, ins, consts):
        return make_op(tf_type, ir, ins[:2], {}, node.name + "/")

    def exp(op):
        a = {"T": _t(op)}
        if tf_type.startswith("Sparse"):
            a["Tlabels"] = ("type", op.inputs[1].dtype)
        return a, []
    return Row(tf_type, imp, exp)


def _in_top_k_imp(node, ins, consts):
    return make_op("InTopKV2", "in_top_k", ins[:2], {"k": _int(_need_const(node, consts, 2, "k"))},
                   node.name + "/")


def _in_top_k_exp(op):
    return {"T": ("type", op.inputs[1].dtype)}, [np.asarray(op.attrs["k"], np.int32)]


def _shape_imp(node, ins, consts):
    return make_op("Shape", "shape", ins[:1], {"dtype": as_dtype(node.attr("out_type", 3))},
                   node.name + "/")


def _shape_exp(op):
    return {"T": _t(op), "out_type": ("type", op.outputs[0].dtype)}, []


def _softmax_row(tf_type, ir):
    def imp(node, ins, consts):
        return make_op(tf_type, ir, ins[:1], {"axis": -1}, node.name + "/")

    def exp(op):
        if op.attrs.get("axis", -1) not in (-1, len(op.inputs[0].shape.dims or ()) - 1):
            raise NotImplementedError("softmax over a non-last axis")
        return {"T": _t(op)}, []
    return Row(tf_type, imp, exp)


def _conv_imp(node, ins, consts):
    if node.attr("data_format", "NHWC") != "NHWC":
        raise NotImplementedError(f"node {node.name}: Conv2D data_format NCHW")
    s = node.attr("strides")
    d = node.attr("dilations", [1, 1, 1, 1])
    return make_op("Conv2D", "conv2d", ins[:2], {"strides": (s[1], s[2]),
                                                 "padding": node.attr("padding"),
                                                 "dilations": (d[1], d[2])}, node.name + "/")


def _conv_exp(op):
    s, d = op.attrs["strides"], op.attrs.get("dilations", (1, 1))
    return {"T": _t(op), "strides": ("ints", [1, s[0], s[1], 1]),
            "padding": op.attrs["padding"], "data_format": "NHWC",
            "dilations": ("ints", [1, d[0], d[1], 1]), "use_cudnn_on_gpu": True}, []


def _pool_row(tf_type, ir):
    def imp(node, ins, consts):
        if node.attr("data_format", "NHWC") != "NHWC":
            raise NotImplementedError(f"node {node.name}: {tf_type} data_format NCHW")
        k, s = node.attr("ksize"), node.attr("strides")
        return make_op(tf_type, ir, ins[:1], {"ksize": (k[1], k[2]), "strides": (s[1], s[2]),
                                              "padding": node.attr("padding")}, node.name + "/")

    def exp(op):
        k, s = op.attrs["ksize"], op.attrs["strides"]
        return {"T": _t(op), "ksize": ("ints", [1, k[0], k[1], 1]),
                "strides": ("ints", [1, s[0], s[1], 1]), "padding": op.attrs["padding"],
                "data_format": "NHWC"}, []
    return Row(tf_type, imp, exp)


def _squeeze_imp(node, ins, consts):
    return make_op("Squeeze", "squeeze", ins[:1],
                   {"axes": tuple(int(a) for a in node.attr("squeeze_dims", []))},
                   node.name + "/")


def _squeeze_exp(op):
    return {"T": _t(op), "squeeze_dims": ("ints", list(op.attrs.get("axes", ())))}, []


def _concat_imp(node, ins, consts):
    axis = _int(_need_const(node, consts, len(ins) - 1, "axis"))
    return make_op("ConcatV2", "concat", ins[:-1], {"axis": axis}, node.name + "/")


def _concat_exp(op):
    return {"T": _t(op), "N": len(op.inputs), "Tidx": ("type", as_dtype("int32"))}, \
        [np.asarray(op.attrs["axis"], np.int32)]


def _gather_imp(node, ins, consts):
    axis = _int(_need_const(node, consts, 2, "axis"))
    return make_op("GatherV2", "gather", ins[:2], {"axis": axis}, node.name + "/")


def _gather_exp(op):
    return {"Tparams": _t(op), "Tindices": ("type", op.inputs[1].dtype),
            "Taxis": ("type", as_dtype("int32")), "batch_dims": 0}, \
        [np.asarray(op.attrs.get("axis", 0), np.int32)]


def _select_imp(node, ins, consts):
    if node.op == "SelectV2":
        return make_op(node.op, "select", ins[:3], {}, node.name + "/")
    from .array_ops import select_rows
    from .select_rules import check_select_shapes
    c, x, y = ins[:3]          # TF1 Select: a vector condition picks rows, nothing broadcasts
    rows = check_select_shapes(c, x, y, node.name)
    return select_rows(c, x, y, rows, node.name + "/", reshape_name=node.name + "/cond_rows/").op


def _select_export_type(op: Operation) -> str:
    """A jitflow Select whose condition is not of the branches' shape (a row pick's reshaped
    condition, a helper's broadcast) is written as SelectV2, which broadcasts the same way."""
    c, x, y = (None if t.shape.dims is None else list(t.shape.dims) for t in op.inputs[:3])
    if x is None or x != y or None in x:
        return "SelectV2"
    return "Select" if c == x or c == [] else "SelectV2"


def _arg_row(tf_type, ir):
    def imp(node, ins, consts):
        axis = _int(_need_const(node, consts, 1, "dimension"))
        return make_op(tf_type, ir, ins[:1], {"axis": axis,
                                              "dtype": as_dtype(node.attr("output_type", "int64"))},
                       node.name + "/")

    def exp(op):
        return {"T": _t(op), "Tidx": ("type", as_dtype("int32")),
                "output_type": ("type", op.outputs[0].dtype)}, [np.asarray(op.attrs["axis"],
                                                                           np.int32)]
    return Row(tf_type, imp, exp)


def _pad_imp(node, ins, consts):
    pads = _ints(_need_const(node, consts, 1, "paddings"))
    value = 0.0
    if node.op == "PadV2":
        value = float(np.asarray(_need_const(node, consts, 2, "constant_values")).reshape(()))
    return make_op(node.op, "pad", ins[:1], {"paddings": pads, "value": value}, node.name + "/")


def _pad_exp(op):
    rank = len(op.attrs["paddings"]) // 2
    extra = [np.asarray(op.attrs["paddings"], np.int32).reshape(rank, 2)]
    if op.type == "PadV2":
        extra.append(np.asarray(op.attrs.get("value", 0.0), op.inputs[0].dtype.np))
    return {"T": _t(op), "Tpaddings": ("type", as_dtype("int32"))}, extra


def _one_hot_imp(node, ins, consts):
    depth = _int(_need_const(node, consts, 1, "depth"))
    return make_op("OneHot", "one_hot", [ins[0], ins[2], ins[3]],
                   {"depth": depth, "axis": int(node.attr("axis", -1))}, node.name + "/")


def _one_hot_exp(op):
    return {"T": ("type", op.outputs[0].dtype), "TI": _t(op), "axis": int(op.attrs["axis"])}, \
        [np.asarray(op.attrs["depth"], np.int32)]


def _one_hot_reorder(op: Operation, ins: list) -> list:
    return [ins[0], ins[3], ins[1], ins[2]]      # TF: indices, depth, on_value, off_value


def _pack_imp(node, ins, consts):
    axis = int(node.attr("axis", 0))
    ex = [make_op("ExpandDims", "expand_dims", [t], {"axis": axis},
                  f"{node.name}/ExpandDims_{i}/").outputs[0] for i, t in enumerate(ins)]
    return make_op("Pack", "concat", ex, {"axis": axis}, node.name + "/")


def _split_imp(node, ins, consts):
    if node.op == "Split":
        axis = _int(_need_const(node, consts, 0, "split_dim"))
        return make_op("Split", "split", ins[1:2], {"axis": axis,
                                                    "num": int(node.attr("num_split")),
                                                    "sizes": None}, node.name + "/")
    sizes = _ints(_need_const(node, consts, 1, "size_splits"))
    axis = _int(_need_const(node, consts, 2, "split_dim"))
    return make_op("SplitV", "split", ins[:1], {"axis": axis, "num": len(sizes), "sizes": sizes},
                   node.name + "/")


def _split_exp(op):
    a = {"T": _t(op), "num_split": int(op.attrs["num"])}
    if op.type == "Split":
        return a, [np.asarray(op.attrs["axis"], np.int32)]
    a["Tlen"] = ("type", as_dtype("int32"))
    return a, [np.asarray(op.attrs["sizes"], np.int32), np.asarray(op.attrs["axis"], np.int32)]


def _split_reorder(op: Operation, ins: list) -> list:
    return ins[1:] + ins[:1] if op.type == "Split" else ins     # TF: Split(split_dim, value)


def _leaky_imp(node, ins, consts):
    return make_op("LeakyRelu", "leaky_relu", ins[:1], {"alpha": float(node.attr("alpha", 0.2))},
                   node.name + "/")


def _fake_quant_row(tf_type: str, ir: str, n_in: int, args: bool = False) -> Row:
    """FakeQuantWithMinMax{Args,Vars,VarsPerChannel}[Gradient]: float32 only (no T attr);
    Args keeps min and max as attributes, Vars reads them as inputs."""
    names = (("min", -6.0), ("max", 6.0)) if args else ()

    def imp(node, ins, consts):
        attrs = {k: float(node.attr(k, d)) for k, d in names}
        attrs.update(num_bits=int(node.attr("num_bits", 8)),
                     narrow_range=bool(node.attr("narrow_range", False)))
        return make_op(tf_type, ir, ins[:n_in], attrs, node.name + "/")

    def exp(op):
        attrs = {k: float(op.attrs[k]) for k, _ in names}
        attrs.update(num_bits=int(op.attrs["num_bits"]),
                     narrow_range=bool(op.attrs["narrow_range"]))
        return attrs, []
    return Row(tf_type, imp, exp)


def _scan_row(tf_type: str, ir: str) -> Row:
    """Cumsum / Cumprod: the axis is a Const input, exclusive and reverse are attributes."""
    def imp(node, ins, consts):
        axis = _int(_need_const(node, consts, 1, "axis"))
        return make_op(tf_type, ir, ins[:1], {"axis": axis,
                                              "exclusive": bool(node.attr("exclusive", False)),
                                              "reverse": bool(node.attr("reverse", False))},
                       node.name + "/")

    def exp(op):
        return ({"T": _t(op), "Tidx": ("type", as_dtype("int32")),
                 "exclusive": bool(op.attrs["exclusive"]), "reverse": bool(op.attrs["reverse"])},
                [np.asarray(op.attrs["axis"], np.int32)])
    return Row(tf_type, imp, exp)


def _sqdiff_imp(node, ins, consts):
    d = make_op("Sub", "sub", ins[:2], {}, node.name + "/sub/").outputs[0]
    return make_op("Square", "square", [d], {}, node.name + "/")    # exports as Sub + Square


# resource variables (TF 2.x graphs built with tf.compat.v1): the handle is jitflow's variable
def _var_handle_imp(node, ins, consts):
    return _variable_imp(node, ins, consts)


def _read_variable_imp(node, ins, consts):
    return make_op("Identity", "identity", ins[:1], {}, node.name + "/")


def _assign_variable_row(tf_type: str, ir: Optional[str]) -> Row:
    def imp(node, ins, consts):
        value = ins[1]
        if ir is not None:           # AssignAdd/AssignSubVariableOp: var <- var (+|-) value
            value = make_op("Add" if ir == "add" else "Sub", ir, [ins[0], value], {},
                            node.name + "/value/").outputs[0]
        return make_op("Assign", None, [ins[0], value], name=node.name + "/",
                       out_types=[ins[0]._type])
    return Row(tf_type, imp, None)


# ------------------------------------------------------------------ the table ---------------

_ELEMENTWISE = [
    ("Add", "add"), ("AddV2", "add"), ("Sub", "sub"), ("Mul", "mul"), ("RealDiv", "div"),
    ("Div", "div"), ("Maximum", "maximum"), ("Minimum", "minimum"), ("Pow", "pow"),
    ("FloorDiv", "floordiv"), ("FloorMod", "mod"), ("Equal", "equal"), ("NotEqual", "not_equal"),
    ("Greater", "greater"), ("GreaterEqual", "greater_equal"), ("Less", "less"),
    ("LessEqual", "less_equal"), ("LogicalAnd", "logical_and"), ("LogicalOr", "logical_or"),
    ("LogicalNot", "logical_not"), ("Neg", "neg"), ("Abs", "abs"), ("Exp", "exp"), ("Log", "log"),
    ("Sqrt", "sqrt"), ("Rsqrt", "rsqrt"), ("Square", "square"), ("Sign", "sign"), ("Relu", "relu"),
    ("Relu6", "relu6"), ("Elu", "elu"), ("Softplus", "softplus"), ("Sigmoid", "sigmoid"),
    ("Tanh", "tanh"), ("Identity", "identity"), ("StopGradient", "stop_gradient"),
    ("ZerosLike", "zeros_like"), ("OnesLike", "ones_like"), ("AddN", "add_n"),
    ("L2Loss", "l2_loss"),
    # ops/math_unary.py (LogSigmoid has no TF op type: TF builds it from Neg and Softplus)
    ("Sin", "sin"), ("Cos", "cos"), ("Tan", "tan"), ("Asin", "asin"), ("Acos", "acos"),
    ("Atan", "atan"), ("Atan2", "atan2"), ("Sinh", "sinh"), ("Cosh", "cosh"),
    ("Asinh", "asinh"), ("Acosh", "acosh"), ("Atanh", "atanh"), ("Erf", "erf"),
    ("Erfc", "erfc"), ("Lgamma", "lgamma"), ("Digamma", "digamma"), ("Log1p", "log1p"),
    ("Expm1", "expm1"), ("Floor", "floor"), ("Ceil", "ceil"), ("Round", "round"),
    ("Rint", "round"), ("IsNan", "is_nan"), ("IsInf", "is_inf"), ("IsFinite", "is_finite"),
    ("Reciprocal", "reciprocal"), ("Inv", "reciprocal"), ("Softsign", "softsign"),
    ("Selu", "selu"), ("Complex", "complex"), ("Real", "real"), ("Imag", "imag"), ("Conj", "conj"),
    # ops/bitwise.py (a GraphDef's narrow-integer shifts are not clamped at their own width)
    ("BitwiseAnd", "bitwise_and"), ("BitwiseOr", "bitwise_or"), ("BitwiseXor", "bitwise_xor"),
    ("Invert", "invert"), ("LeftShift", "left_shift"), ("RightShift", "right_shift"),
]

TABLE: dict[str, Row] = {r.tf_type: r for r in [
    *(_simple(t, ir) for t, ir in _ELEMENTWISE),
    *(_reduce(t, ir) for t, ir in [("Mean", "reduce_mean"), ("Sum", "reduce_sum"),
                                   ("Max", "reduce_max"), ("Min", "reduce_min"),
                                   ("Prod", "reduce_prod"), ("All", "reduce_all"),
                                   ("Any", "reduce_any")]),
    *(_random_row(t, ir) for t, ir in [("RandomUniform", "random_uniform"),
                                       ("RandomStandardNormal", "random_normal"),
                                       ("TruncatedNormal", "random_truncated_normal")]),
    _sampler_row("RandomGamma", "random_gamma", "T"),
    _sampler_row("RandomPoissonV2", "random_poisson", "R"),
    _const_input("Reshape", "reshape", "shape", 1, _ints, tidx="Tshape"),
    _const_input("ExpandDims", "expand_dims", "axis", 1, _int, tidx="Tdim"),
    _const_input("Tile", "tile", "multiples", 1, _ints, tidx="Tmultiples"),
    _const_input("Transpose", "transpose", "perm", 1, _ints, tidx="Tperm"),
    Row("Placeholder", _placeholder_imp, _placeholder_exp),
    Row("PlaceholderWithDefault", _pwd_imp, _pwd_exp),
    Row("Const", _const_imp, _const_exp),
    Row("VariableV2", _variable_imp, _variable_exp),
    Row("Assign", _assign_imp, _assign_exp),
    Row("NoOp", _noop_imp, lambda op: ({}, [])),
    Row("MatMul", _matmul_imp, _matmul_exp),
    Row("BiasAdd", _bias_add_imp, _bias_add_exp),
    Row("Cast", _cast_imp, _cast_exp),
    Row("Fill", _fill_imp, _fill_exp),
    _xent_imp("SparseSoftmaxCrossEntropyWithLogits", "sparse_softmax_cross_entropy"),
    _xent_imp("SoftmaxCrossEntropyWithLogits", "softmax_cross_entropy"),
    Row("InTopKV2", _in_top_k_imp, _in_top_k_exp),
    Row("Shape", _shape_imp, _shape_exp),
    _softmax_row("Softmax", "softmax"), _softmax_row("LogSoftmax", "log_softmax"),
    Row("Conv2D", _conv_imp, _conv_exp),
    _pool_row("MaxPool", "max_pool"), _pool_row("AvgPool", "avg_pool"),
    Row("Squeeze", _squeeze_imp, _squeeze_exp),
    Row("ConcatV2", _concat_imp, _concat_exp),
    Row("GatherV2", _gather_imp, _gather_exp),
    Row("Select", _select_imp, lambda op: ({"T": _t(op, 1)}, [])),
    Row("SelectV2", _select_imp, lambda op: ({"T": _t(op, 1)}, [])),
    _arg_row("ArgMax", "argmax"), _arg_row("ArgMin", "argmin"),
    Row("Pad", _pad_imp, _pad_exp), Row("PadV2", _pad_imp, _pad_exp),
    Row("OneHot", _one_hot_imp, _one_hot_exp),
    Row("Pack", _pack_imp, None),
    Row("Split", _split_imp, _split_exp), Row("SplitV", _split_imp, _split_exp),
    Row("LeakyRelu", _leaky_imp, lambda op: ({"T": _t(op), "alpha": float(op.attrs["alpha"])},
                                             [])),
    Row("SquaredDifference", _sqdiff_imp, None),
    _scan_row("Cumsum", "cumsum"), _scan_row("Cumprod", "cumprod"),
    _fake_quant_row("FakeQuantWithMinMaxArgs", "fake_quant_with_min_max_args", 1, args=True),
    _fake_quant_row("FakeQuantWithMinMaxArgsGradient", "fake_quant_with_min_max_args_gradient",
                    2, args=True),
    _fake_quant_row("FakeQuantWithMinMaxVars", "fake_quant_with_min_max_vars", 3),
    _fake_quant_row("FakeQuantWithMinMaxVarsGradient", "fake_quant_with_min_max_vars_gradient",
                    4),
    _fake_quant_row("FakeQuantWithMinMaxVarsPerChannel",
                    "fake_quant_with_min_max_vars_per_channel", 3),
    _fake_quant_row("FakeQuantWithMinMaxVarsPerChannelGradient",
                    "fake_quant_with_min_max_vars_per_channel_gradient", 4),
    _simple("GatherTree", "gather_tree"),
    Row("VarHandleOp", _var_handle_imp, None),
    Row("ReadVariableOp", _read_variable_imp, None),
    _assign_variable_row("AssignVariableOp", None),
    _assign_variable_row("AssignAddVariableOp", "add"),
    _assign_variable_row("AssignSubVariableOp", "sub"),
]}

# op types imported only when something imported uses them (then: an error naming them)
DROP_IF_UNUSED = {"VarIsInitializedOp"}

# export: a jitflow op type -> its row, where jitflow's type name differs or the inputs move
EXPORT_INPUT_ORDER = {"Fill": _fill_reorder, "OneHot": _one_hot_reorder, "Split": _split_reorder}


# jitflow op types written as another TF type: jitflow's stack is a concat of expanded inputs
EXPORT_AS = {"Pack": "ConcatV2", "Select": _select_export_type}


def export_row(op: Operation) -> Optional[Row]:
    """The row that writes ``op`` (by its type), or None when TF has no equivalent."""
    as_type = EXPORT_AS.get(op.type, op.type)
    row = TABLE.get(as_type(op) if callable(as_type) else as_type)
    if row is None or row.exp is None:
        return None
    if op.type not in ("Placeholder", "PlaceholderWithDefault", "VariableV2", "Assign", "NoOp") \
            and row.imp is not None and op.ir_op is None:
        return None
    return row


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)
