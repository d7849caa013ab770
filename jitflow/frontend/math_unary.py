"""tf.* elementwise math on ops/math_unary.py's ops: trigonometric and hyperbolic functions,
atan2, erf/erfc, lgamma/digamma/polygamma, log1p/expm1, floor/ceil/round/rint, the float
predicates, reciprocal (from math_ops), and the activations softsign, selu and log_sigmoid.

TF's dtype rules: the float functions reject integer tensors (a GraphTypeError naming the op,
as TF's "not in list of allowed values"); ``tf.round`` is the identity on integers while
``tf.rint`` rejects them; is_nan/is_inf/is_finite give bool.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..errors import GraphTypeError
from .graph import Tensor
from .math_ops import add, binary, binary_operands, reciprocal, unary
from .op_builder import convert_to_tensor, make_op, static_value

__all__ = [
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh", "acosh",
    "atanh", "erf", "erfc", "lgamma", "digamma", "polygamma", "log1p", "expm1", "floor", "ceil",
    "round", "rint", "is_nan", "is_inf", "is_finite", "reciprocal", "softsign", "selu",
    "log_sigmoid",
]

sin = unary("Sin", "sin")
cos = unary("Cos", "cos")
tan = unary("Tan", "tan")
asin = unary("Asin", "asin")
acos = unary("Acos", "acos")
atan = unary("Atan", "atan")
sinh = unary("Sinh", "sinh")
cosh = unary("Cosh", "cosh")
asinh = unary("Asinh", "asinh")
acosh = unary("Acosh", "acosh")
atanh = unary("Atanh", "atanh")
erf = unary("Erf", "erf")
erfc = unary("Erfc", "erfc")
lgamma = unary("Lgamma", "lgamma")
digamma = unary("Digamma", "digamma")
log1p = unary("Log1p", "log1p")
expm1 = unary("Expm1", "expm1")
floor = unary("Floor", "floor")
ceil = unary("Ceil", "ceil")
round = unary("Round", "round")  # noqa: A001 - TF's name
is_nan = unary("IsNan", "is_nan")
is_inf = unary("IsInf", "is_inf")
is_finite = unary("IsFinite", "is_finite")
_softsign = unary("Softsign", "softsign")
_selu = unary("Selu", "selu")
_log_sigmoid = unary("LogSigmoid", "log_sigmoid")
_rint = unary("Rint", "round")


atan2 = binary("Atan2", "atan2")   # atan2(y, x): the angle of the point (x, y)


def rint(x: Any, name: Optional[str] = None) -> Tensor:
    """Round half to even; floats only, as TF's Rint (``tf.round`` also takes integers)."""
    t = convert_to_tensor(x)
    if not t.dtype.is_floating:
        raise GraphTypeError(f"Value passed to parameter 'x' has DataType {t.dtype.name} not "
                             f"in list of allowed values: float32, float64 (op 'Rint', input "
                             f"{t})")
    return _rint(t, name=name)


def softsign(features: Any, name: Optional[str] = None) -> Tensor:
    """``x / (1 + |x|)`` (TF op Softsign)."""
    return _softsign(features, name=name)


def selu(features: Any, name: Optional[str] = None) -> Tensor:
    """``scale * x`` for x > 0, ``scale * alpha * (exp(x) - 1)`` otherwise (TF op Selu)."""
    return _selu(features, name=name)


def log_sigmoid(x: Any, name: Optional[str] = None) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large |x|."""
    return _log_sigmoid(x, name=name)


def polygamma(a: Any, x: Any, name: Optional[str] = None) -> Tensor:
    """``tf.math.polygamma(a, x)`` for a known at graph build: order 0 is digamma, order 1
    its derivative (trigamma); higher orders are not implemented."""
    a_t, x = binary_operands(a, x, "Polygamma", name)
    order = static_value(a_t)
    if order is None:
        raise NotImplementedError("tf.math.polygamma in jitflow needs the order `a` known when "
                                  f"the graph is built, got {a_t}")
    orders = np.unique(np.asarray(order))
    if orders.size != 1 or orders[0] not in (0, 1):
        raise NotImplementedError(f"tf.math.polygamma: jitflow has orders 0 (digamma) and 1 "
                                  f"(trigamma) only, got a = {np.asarray(order).tolist()}")
    if not x.dtype.is_floating:
        raise GraphTypeError(f"tf.math.polygamma: x must be float32 or float64, got "
                             f"{x.dtype.name}")
    if orders[0] == 0:
        return digamma(x, name=name or "Polygamma")
    if a_t.shape.ndims == 0 or a_t.shape.dims == x.shape.dims:
        return make_op("Polygamma", "trigamma", [x], name=name).outputs[0]
    from .array_ops import zeros_like
    out = make_op("Polygamma", "trigamma", [x]).outputs[0]
    return add(out, zeros_like(a_t), name=name)     # broadcast to a's shape, as TF does
