"""Elementwise ops: unary math, binary arithmetic with NumPy broadcasting, comparisons,
logical ops, select and cast. Gradients follow TF1 (ties of maximum/minimum go to x,
relu's gradient is 0 at 0)."""
from __future__ import annotations

import numpy as np

from ..ir.dtypes import bool_
from ..ir.opdef import Attr, defop
from ..ir.types import TensorType, broadcast_shapes
from .common import binary_rule, require_dtype, require_same_dtype, unary_rule, unbroadcast


def _same(x, like):
    return np.asarray(x, dtype=like.dtype)


# ---------------------------------------------------------------- unary ---------------

def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return _same(np.where(x >= 0, 1 / (1 + e), e / (1 + e)), x)


defop("neg", kind="elementwise", infer=unary_rule("fic"), reference=lambda x: np.negative(x),
      grad=lambda b, op, g: [b.neg(g[0])], num_inputs=1)
defop("abs", kind="elementwise", infer=unary_rule("fi"), reference=lambda x: np.abs(x),
      grad=lambda b, op, g: [b.mul(g[0], b.sign(op.operands[0]))], num_inputs=1)
defop("sign", kind="elementwise", infer=unary_rule("fi"), reference=lambda x: np.sign(x),
      grad=lambda b, op, g: [b.zeros_like(op.operands[0])], num_inputs=1,
      doc="gradient is zero everywhere, as in TF")
defop("square", kind="elementwise", infer=unary_rule("fi"), reference=lambda x: np.square(x),
      grad=lambda b, op, g: [b.mul(g[0], b.mul(op.operands[0], 2))], num_inputs=1)
defop("sqrt", kind="elementwise", cost="expensive", infer=unary_rule("f"), reference=lambda x: np.sqrt(x),
      grad=lambda b, op, g: [b.div(b.mul(g[0], 0.5), op.result)], num_inputs=1)
defop("rsqrt", kind="elementwise", cost="expensive", infer=unary_rule("f"), reference=lambda x: _same(1 / np.sqrt(x), x),
      grad=lambda b, op, g: [b.mul(g[0], b.mul(b.mul(op.result, b.square(op.result)), -0.5))],
      num_inputs=1)
defop("exp", kind="elementwise", cost="expensive", infer=unary_rule("f"), reference=lambda x: np.exp(x),
      grad=lambda b, op, g: [b.mul(g[0], op.result)], num_inputs=1)
defop("log", kind="elementwise", cost="expensive", infer=unary_rule("f"), reference=lambda x: np.log(x),
      grad=lambda b, op, g: [b.div(g[0], op.operands[0])], num_inputs=1)
defop("tanh", kind="elementwise", cost="expensive", infer=unary_rule("f"), reference=lambda x: np.tanh(x),
      grad=lambda b, op, g: [b.mul(g[0], b.sub(1, b.square(op.result)))], num_inputs=1)
defop("sigmoid", kind="elementwise", cost="expensive", infer=unary_rule("f"), reference=_sigmoid,
      grad=lambda b, op, g: [b.mul(g[0], b.mul(op.result, b.sub(1, op.result)))], num_inputs=1)
defop("relu", kind="elementwise", infer=unary_rule("fi"), reference=lambda x: np.maximum(x, np.zeros((), x.dtype)),
      grad=lambda b, op, g: [b.select(b.greater(op.result, 0), g[0], b.zeros_like(g[0]))],
      num_inputs=1, doc="gradient 0 at exactly 0; reads the output (y > 0 iff x > 0), as TF's "
                        "ReluGrad does, so the pre-activation need not stay in memory")

# ---------------------------------------------------------------- binary --------------


def _binary_grad(fx, fy):
    """Gradient rule from per-operand cotangent builders, broadcasting undone."""
    def grad(b, op, g):
        x, y = op.operands
        return [unbroadcast(b, fx(b, op, g[0]), x), unbroadcast(b, fy(b, op, g[0]), y)]
    return grad


def _check_int_divisor(x, y):
    if x.dtype.kind != "f" and np.any(y == 0):
        from ..errors import InvalidArgumentError
        raise InvalidArgumentError("Integer division by zero")


def _floordiv(x, y):
    if x.dtype.kind == "f":
        return np.floor(np.true_divide(x, y))   # TF: floor(x / y), not Python's divmod floor
    _check_int_divisor(x, y)
    return np.floor_divide(x, y)


def _floormod(x, y):
    _check_int_divisor(x, y)
    return np.mod(x, y)


def _pow_grad_y(b, op, g):
    x, y = op.operands
    safe_log = b.select(b.greater(x, 0), b.log(b.select(b.greater(x, 0), x, b.ones_like(x))),
                        b.zeros_like(x))
    return b.mul(g, b.mul(op.result, safe_log))


defop("add", kind="elementwise", infer=binary_rule("fic"), reference=lambda x, y: np.add(x, y), num_inputs=2,
      grad=_binary_grad(lambda b, op, g: g, lambda b, op, g: g))
defop("sub", kind="elementwise", infer=binary_rule("fic"), reference=lambda x, y: np.subtract(x, y), num_inputs=2,
      grad=_binary_grad(lambda b, op, g: g, lambda b, op, g: b.neg(g)))
defop("mul", kind="elementwise", infer=binary_rule("fic"), reference=lambda x, y: np.multiply(x, y), num_inputs=2,
      grad=_binary_grad(lambda b, op, g: b.mul(g, op.operands[1]),
                        lambda b, op, g: b.mul(g, op.operands[0])))
defop("div", kind="elementwise", cost="expensive", infer=binary_rule("f"), reference=lambda x, y: np.true_divide(x, y), num_inputs=2,
      grad=_binary_grad(
          lambda b, op, g: b.div(g, op.operands[1]),
          lambda b, op, g: b.mul(g, b.div(b.div(b.neg(op.operands[0]), op.operands[1]),
                                          op.operands[1]))),
      doc="true division of floats (the frontend casts integers first, as tf.truediv does)")
defop("floordiv", kind="elementwise", cost="expensive", infer=binary_rule("fi"), reference=_floordiv, num_inputs=2, differentiable=False)
defop("mod", kind="elementwise", cost="expensive", infer=binary_rule("fi"), reference=_floormod, num_inputs=2,
      differentiable=False, doc="floor modulus (Python's %), like tf.math.floormod")
defop("pow", kind="elementwise", cost="expensive", infer=binary_rule("fi"), reference=lambda x, y: np.power(x, y), num_inputs=2,
      grad=_binary_grad(
          lambda b, op, g: b.mul(g, b.mul(op.operands[1],
                                          b.pow(op.operands[0], b.sub(op.operands[1], 1)))),
          _pow_grad_y))
defop("maximum", kind="elementwise", infer=binary_rule("fi"), reference=lambda x, y: np.maximum(x, y), num_inputs=2,
      grad=_binary_grad(
          lambda b, op, g: b.select(b.greater_equal(op.operands[0], op.operands[1]), g, b.zeros_like(g)),
          lambda b, op, g: b.select(b.greater_equal(op.operands[0], op.operands[1]), b.zeros_like(g), g)),
      doc="ties send the whole gradient to x")
defop("minimum", kind="elementwise", infer=binary_rule("fi"), reference=lambda x, y: np.minimum(x, y), num_inputs=2,
      grad=_binary_grad(
          lambda b, op, g: b.select(b.less_equal(op.operands[0], op.operands[1]), g, b.zeros_like(g)),
          lambda b, op, g: b.select(b.less_equal(op.operands[0], op.operands[1]), b.zeros_like(g), g)),
      doc="ties send the whole gradient to x")

# ---------------------------------------------------------------- comparisons / logic ----

for _name, _fn, _kinds in [("equal", np.equal, "fibc"), ("not_equal", np.not_equal, "fibc"),
                           ("less", np.less, "fi"), ("less_equal", np.less_equal, "fi"),
                           ("greater", np.greater, "fi"), ("greater_equal", np.greater_equal, "fi")]:
    defop(_name, kind="elementwise", infer=binary_rule(_kinds, result=bool_),
          reference=(lambda f: lambda x, y: f(x, y))(_fn), num_inputs=2, differentiable=False)

defop("logical_and", kind="elementwise", infer=binary_rule("b"), reference=lambda x, y: np.logical_and(x, y),
      num_inputs=2, differentiable=False)
defop("logical_or", kind="elementwise", infer=binary_rule("b"), reference=lambda x, y: np.logical_or(x, y),
      num_inputs=2, differentiable=False)
defop("logical_not", kind="elementwise", infer=unary_rule("b"), reference=lambda x: np.logical_not(x),
      num_inputs=1, differentiable=False)


def _select_infer(types, attrs):
    c, x, y = types
    require_dtype(c, "b", "condition")
    dt = require_same_dtype([x, y], "select branches")
    return TensorType(dt, broadcast_shapes(c.shape, x.shape, y.shape))


def _select_grad(b, op, g):
    c, x, y = op.operands
    z = b.zeros_like(g[0])
    return [None, unbroadcast(b, b.select(c, g[0], z), x), unbroadcast(b, b.select(c, z, g[0]), y)]


defop("select", kind="elementwise", infer=_select_infer, reference=lambda c, x, y: np.where(c, x, y), num_inputs=3,
      grad=_select_grad, doc="tf.where(cond, x, y) with broadcasting")


def _cast_grad(b, op, g):
    src = op.operands[0].type.dtype
    if src.is_floating and op.result.type.dtype.is_floating:
        return [b.cast(g[0], dtype=src)]
    return [None]


def float_to_unsigned(x: np.ndarray, dtype) -> np.ndarray:
    """float -> uint32/uint64 as TF's static_cast compiles on x86 (C++ leaves negative and
    out-of-range values implementation-defined): truncated, through int64, so a negative value
    wraps around (-1.0 -> 2**32 - 1) and NaN or a value out of int64's range gives INT64_MIN's
    bits (0 as uint32, 2**63 as uint64); uint64 takes [2**63, 2**64) exactly."""
    t = np.trunc(np.asarray(x, np.float64))
    ok = (t >= -2.0 ** 63) & (t < 2.0 ** 63)
    v = np.where(ok, t, -2.0 ** 63).astype(np.int64).view(np.uint64)
    big = (t >= 2.0 ** 63) & (t < 2.0 ** 64)
    if dtype.bits == 64 and big.any():
        v = np.where(big, np.where(big, t, 0).astype(np.uint64), v)
    return v.astype(dtype.np)


def _cast_ref(x, dtype):
    if x.dtype.kind == "c" and not dtype.is_complex:
        x = np.real(x)             # TF: a complex cast to a real type keeps the real part
    if dtype.is_narrow and dtype.is_floating and x.dtype != np.float32:
        x = x.astype(np.float32)   # TF (Eigen) makes a half or bfloat16 through float
    if dtype.is_unsigned and not dtype.is_narrow and x.dtype.kind in "fV":
        return float_to_unsigned(x.astype(np.float32) if x.dtype.kind == "V" else x, dtype)
    if dtype.is_integer and x.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            return np.trunc(x).astype(dtype.np)
    return x.astype(dtype.np)


defop("cast", kind="elementwise", infer=lambda types, a: types[0].with_dtype(a["dtype"]), reference=_cast_ref,
      grad=_cast_grad, attrs={"dtype": Attr("dtype")}, num_inputs=1,
      doc="bool -> 1/0; float -> int truncates toward zero (to uint32/uint64: see "
          "float_to_unsigned); gradient only float -> float")
