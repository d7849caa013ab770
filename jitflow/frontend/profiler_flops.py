"""The per-op statistics ``tf.profiler`` reads from a graph: TF's registered ``flops``
(``ops.RegisterStatistics(type, 'flops')`` in TF's ``profiler/internal/flops_registry.py``,
``ops/nn_ops.py`` and ``ops/math_ops.py``) and a node's parameter count.

A statistic is keyed by the op's TF type and uses the static shapes the graph has at build
time. An op type TF registers no statistic for counts no flops; a registered one whose shapes
are not fully defined raises :class:`IncompleteShape`, which the profiler counts and skips,
as TF's ``tfprof_logger`` does.
"""
from __future__ import annotations

from math import prod
from typing import Callable, Optional

from .graph import Operation, Tensor


class IncompleteShape(ValueError):
    """A registered statistic needs a shape the graph leaves (partly) unknown."""


def _dims(t: Tensor, what: str, op: Operation) -> list[int]:
    dims = t.shape.dims
    if dims is None or any(d is None for d in dims):
        raise IncompleteShape(f"{op.name} ({op.type}): the shape of its {what} ({t.shape}) is "
                              "not fully defined")
    return [int(d) for d in dims]


def _in(op: Operation, i: int = 0) -> list[int]:
    return _dims(op.inputs[i], f"input {i}", op)


def _out(op: Operation) -> list[int]:
    return _dims(op.outputs[0], "output", op)


def _unary(per_element: int = 1) -> Callable[[Operation], int]:
    return lambda op: prod(_in(op)) * per_element


def _binary(per_element: int = 1) -> Callable[[Operation], int]:
    return lambda op: prod(_out(op)) * per_element


def _reduction(reduce_flops: int, finalize_flops: int) -> Callable[[Operation], int]:
    def fn(op: Operation) -> int:
        n_in, n_out = prod(_in(op)), prod(_out(op))
        return n_in * reduce_flops + n_out * (finalize_flops - reduce_flops)
    return fn


def _l2_loss(op: Operation) -> int:
    return prod(_in(op)) * 3 - 1       # TF's comment: its kernel does 3N - 1, 2N is optimal


def _window(op: Operation, attr: str) -> int:
    """The product of a pooling op's ``ksize`` (jitflow keeps (h, w); TF [1, h, w, 1])."""
    return prod(int(k) for k in op.attrs.get(attr, ()))


def _strides_hw(op: Operation) -> int:
    s = [int(v) for v in op.attrs.get("strides", (1, 1))]
    return s[1] * s[2] if len(s) == 4 else s[0] * s[1]


def _pool(op: Operation) -> int:
    return _window(op, "ksize") * prod(_out(op))


def _avg_pool_grad(op: Operation) -> int:
    return _window(op, "ksize") * prod(_in(op, 1)) * 2


def _max_pool_grad(op: Operation) -> int:
    n = prod(_in(op, 1))
    return _window(op, "ksize") * n + n


def _conv_backprop_input(op: Operation) -> int:
    out, k = _out(op), _in(op, 1)
    return int(2 * prod(out) * prod(k) / (out[-1] * _strides_hw(op)))


def _conv_backprop_filter(op: Operation) -> int:
    image, k = _in(op, 0), _out(op)
    return int(2 * prod(image) * prod(k) / (image[-1] * _strides_hw(op)))


def _add_n(op: Operation) -> int:
    # TF counts NodeDef.input, which lists the control inputs ("^name") too
    n = len(op.inputs) + len(op.control_inputs)
    if n == 0:
        return 0
    return prod(_in(op)) * (n - 1)


def _matmul(op: Operation) -> int:
    a = _in(op)
    if len(a) > 2:
        # jitflow's MatMul of rank > 2 is TF's BatchMatMulV2, whose statistic reads an attribute
        # (transpose_a) BatchMatMul does not have: k is always a's last dim
        k = a[-1]
    else:
        k = a[0] if op.attrs.get("transpose_a") else a[1]
    return k * prod(_out(op)) * 2


def _conv2d(op: Operation) -> int:
    _in(op, 0)
    kh, kw, cin = _in(op, 1)[:3]
    return prod(_out(op)) * cin * kh * kw * 2


def _spatial_filter(op: Operation) -> int:        # DepthwiseConv2dNative, Dilation2D
    _in(op, 0)
    kh, kw = _in(op, 1)[:2]
    return prod(_out(op)) * kh * kw * 2


#: TF op type -> its ``flops`` statistic (TF's IMPLEMENTED_OPS plus the core ones)
FLOPS: dict[str, Callable[[Operation], int]] = {
    "Reciprocal": _unary(), "Square": _unary(), "Rsqrt": _unary(2), "Log": _unary(),
    "Neg": _unary(), "AssignSub": _unary(), "AssignAdd": _unary(), "L2Loss": _l2_loss,
    "Softmax": _unary(5),
    **{t: _binary() for t in ("Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum",
                              "Pow", "GreaterEqual", "Greater", "LessEqual", "Less", "Equal",
                              "NotEqual")},
    "RsqrtGrad": _binary(4), "SquaredDifference": _binary(2),
    "Mean": _reduction(1, 1), "Sum": _reduction(1, 0), "ArgMax": _reduction(1, 0),
    "ArgMin": _reduction(1, 0), "BiasAddGrad": _reduction(1, 0),
    "AvgPool": _pool, "MaxPool": _pool, "AvgPoolGrad": _avg_pool_grad,
    "MaxPoolGrad": _max_pool_grad, "Conv2DBackpropInput": _conv_backprop_input,
    "Conv2DBackpropFilter": _conv_backprop_filter, "AddN": _add_n,
    "MatMul": _matmul, "BatchMatMul": _matmul, "BatchMatMulV2": _matmul,
    "BatchMatMulV3": _matmul, "Conv2D": _conv2d, "DepthwiseConv2dNative": _spatial_filter,
    "Dilation2D": _spatial_filter, "BiasAdd": lambda op: prod(_in(op)),
}

#: TF op types with a ``shape`` attribute: tfprof counts their elements as parameters
SHAPE_ATTR_TYPES = frozenset({"VariableV2", "Variable", "VarHandleOp", "TemporaryVariable",
                              "Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})


def op_flops(op: Operation) -> Optional[int]:
    """TF's registered float-op count of ``op``; None where TF registers none.

    Raises :class:`IncompleteShape` where the statistic needs shapes the graph lacks."""
    fn = FLOPS.get(op.type)
    if fn is None:
        return None
    return int(fn(op))


def op_shape(op: Operation) -> Optional[list[int]]:
    """The shape tfprof shows for ``op`` (its ``shape`` attribute: [-1] for an unknown dim,
    [1] for a scalar); None for an op without one or of unknown rank."""
    if op.type not in SHAPE_ATTR_TYPES or not op.outputs:
        return None
    dims = op.outputs[0].shape.dims
    if dims is None:
        return None
    return [-1 if d is None else int(d) for d in dims] or [1]


def op_parameters(op: Operation) -> int:
    """Parameters as tfprof counts them: the elements of a fully known ``shape`` attribute."""
    shape = op_shape(op)
    if shape is None or any(d < 0 for d in shape):
        return 0
    return prod(shape)
