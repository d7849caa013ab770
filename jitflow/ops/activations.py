"""bias_add and the activations beyond elementwise.py's (elu, leaky_relu, softplus, relu6),
and l2_loss."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType, normalize_axes
from .common import require_dtype, require_same_dtype


def _bias_axis(rank, axis):
    if rank < 2:
        raise ShapeMismatch(f"Shape must be at least rank 2 but is rank {rank} (bias_add value)")
    return normalize_axes([axis], rank)[0]


def _bias_add_infer(types, a):
    x, bias = types
    dt = require_same_dtype(types, "bias_add operands")
    require_dtype(x, "fi", "bias_add value")
    if bias.shape is not None and bias.rank != 1:
        raise ShapeMismatch(f"Shape must be rank 1 but is rank {bias.rank} (bias)")
    if x.shape is None:
        return TensorType(dt, None)
    ax = _bias_axis(x.rank, a["axis"])
    c, n = x.shape[ax], (bias.shape[0] if bias.shape is not None else None)
    if isinstance(c, int) and isinstance(n, int) and c != n:
        raise ShapeMismatch(f"Dimensions must be equal, but are {c} and {n} (value's channel "
                            f"dimension and the bias)")
    shape = list(x.shape)
    if not isinstance(c, int) and isinstance(n, int):
        shape[ax] = n
    return TensorType(dt, tuple(shape))


def _bias_add_ref(x, bias, axis):
    ax = axis % x.ndim
    if bias.shape[0] != x.shape[ax]:
        raise InvalidArgumentError(f"Must provide as many biases as the channel dimension of the "
                                   f"input tensor: {list(bias.shape)} vs. {list(x.shape)}")
    shape = [1] * x.ndim
    shape[ax] = -1
    return x + bias.reshape(shape)


def _bias_add_grad(b, op, g):
    x = op.operands[0]
    ax = _bias_axis(x.type.rank, op.attrs["axis"])
    axes = tuple(i for i in range(x.type.rank) if i != ax)
    return [g[0], b.reduce_sum(g[0], axes=axes, keepdims=False)]


def _bias_add_fusable(op) -> bool:
    """A right-aligned broadcast add (fusable) only along the last axis."""
    shape = op.operands[0].type.shape
    return shape is not None and op.attrs["axis"] % len(shape) == len(shape) - 1


defop("bias_add", kind="elementwise", fusable=_bias_add_fusable, infer=_bias_add_infer,
      reference=_bias_add_ref, grad=_bias_add_grad,
      attrs={"axis": Attr("int", -1)}, num_inputs=2,
      doc="add a rank-1 bias along axis (-1 for NHWC, 1 for NCHW)")



def _unary_f(types, a):
    require_dtype(types[0], "f")
    return types[0]


def _zero_like(x):
    return np.zeros((), x.dtype)


defop("elu", kind="elementwise", cost="expensive", infer=_unary_f, num_inputs=1,
      reference=lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False),
      grad=lambda b, op, g: [b.select(b.greater(op.operands[0], 0), g[0],
                                      b.mul(g[0], b.add(op.result, 1)))],
      doc="x if x > 0 else exp(x) - 1")
defop("leaky_relu", kind="elementwise", infer=_unary_f, num_inputs=1, attrs={"alpha": Attr("float", 0.2)},
      reference=lambda x, alpha: np.where(x > 0, x, x * x.dtype.type(alpha)),
      grad=lambda b, op, g: [b.select(b.greater(op.operands[0], 0), g[0],
                                      b.mul(g[0], op.attrs["alpha"]))],
      doc="x if x > 0 else alpha * x (TF's LeakyRelu)")
defop("softplus", kind="elementwise", cost="expensive", infer=_unary_f, num_inputs=1,
      reference=lambda x: np.logaddexp(_zero_like(x), x),
      grad=lambda b, op, g: [b.mul(g[0], b.sigmoid(op.operands[0]))],
      doc="log(1 + exp(x)), computed stably")
def _unary_fi(types, a):
    require_dtype(types[0], "fi")
    return types[0]


defop("relu6", kind="elementwise", infer=_unary_fi, num_inputs=1,
      reference=lambda x: np.minimum(np.maximum(x, _zero_like(x)), np.asarray(6, x.dtype)),
      grad=lambda b, op, g: [b.select(b.logical_and(b.greater(op.operands[0], 0),
                                                    b.less(op.operands[0], 6)),
                                      g[0], b.zeros_like(g[0]))],
      doc="min(max(x, 0), 6); gradient only strictly inside (0, 6)")


def _l2_infer(types, a):
    require_dtype(types[0], "f")
    return TensorType(types[0].dtype, ())


def _l2_decompose(b, op):
    """sum(square(x)) / 2: the reference's arithmetic, as fusable ops."""
    x = op.operands[0]
    s = b.reduce_sum(b.square(x), axes=None, keepdims=False)
    return b.div(s, b.const(np.asarray(2, dtype=x.type.dtype.np), x.type.dtype))


defop("l2_loss", kind="library", decompose=_l2_decompose, infer=_l2_infer, num_inputs=1,
      reference=lambda x: np.asarray(np.sum(np.square(x), dtype=x.dtype) / 2, dtype=x.dtype),
      grad=lambda b, op, g: [b.mul(op.operands[0], g[0])], doc="sum(x ** 2) / 2")

