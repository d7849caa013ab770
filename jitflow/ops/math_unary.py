"""Elementwise math beyond elementwise.py's: trigonometric and hyperbolic functions, atan2,
erf/erfc, the gamma family (lgamma, digamma, trigamma = polygamma(1, .)), log1p/expm1,
rounding (floor, ceil, round half to even), the float predicates (is_nan, is_inf,
is_finite), reciprocal, and the activations softsign, selu and log_sigmoid (decomposed).

References compute in float64 and round to the operand's dtype (an oracle at least as
accurate as any backend). Gradients follow TF1: floor, ceil and round have none, acosh's and
asinh's read the output, selu's reads the output's sign as TF's SeluGrad does.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.dtypes import bool_
from ..ir.opdef import defop
from ..ir.types import TensorType
from .common import binary_rule, require_dtype, unary_rule, unbroadcast

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

#: the gamma family shifts x up to x + GAMMA_SHIFT before its asymptotic series (every
#: backend uses the same constants)
GAMMA_SHIFT = 10
#: lgamma(w) ~ (w - 1/2) log w - w + log(2 pi) / 2 + sum c_k / w**(2k - 1)
STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156,
            -3617 / 122400)
#: digamma(w) ~ log w - 1/(2w) - sum d_k / w**(2k)  (d_k = B_2k / 2k)
DIGAMMA_ASYM = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
#: trigamma(w) ~ 1/w + 1/(2 w**2) + sum t_k / w**(2k + 1)  (t_k = B_2k)
TRIGAMMA_ASYM = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _in64(fn):
    """A float reference computed in float64, rounded to the operand's dtype."""
    def ref(*xs):
        with np.errstate(all="ignore"):
            return np.asarray(fn(*[np.asarray(x, np.float64) for x in xs]), dtype=xs[0].dtype)
    return ref


def _scalar_map(fn):
    """A float64 ufunc from a scalar function (math.erf, math.lgamma)."""
    u = np.frompyfunc(fn, 1, 1)
    return lambda x: u(x).astype(np.float64)


def lgamma_scalar(x: float) -> float:
    if math.isinf(x):
        return math.inf
    try:
        return math.lgamma(x)
    except ValueError:          # a pole (0, -1, -2, ...): TF gives +inf
        return math.inf


def _horner(coeffs, t):
    acc = np.zeros_like(t) + coeffs[-1]
    for c in coeffs[-2::-1]:
        acc = acc * t + c
    return acc


def digamma64(x: np.ndarray) -> np.ndarray:
    """psi(x) in float64: reflection below 0, the recurrence up to x + GAMMA_SHIFT, then the
    asymptotic series. NaN at 0 and the negative integers (TF's, Eigen's convention)."""
    refl = x < 0
    z = np.where(refl, 1 - x, x)
    small = z < GAMMA_SHIFT
    w = np.where(small, z + GAMMA_SHIFT, z)
    acc = np.zeros_like(z)
    for k in range(GAMMA_SHIFT):
        acc = acc + np.where(small, 1 / (z + k), 0.0)
    t = 1 / (w * w)
    out = np.log(w) - 0.5 / w - t * _horner(DIGAMMA_ASYM, t) - acc
    r = x - np.rint(x)
    out = np.where(refl, out - math.pi / np.tan(math.pi * r), out)
    pole = (x <= 0) & (x == np.floor(x))
    return np.where(pole, np.nan, out)


def trigamma64(x: np.ndarray) -> np.ndarray:
    """psi'(x) = polygamma(1, x) in float64 (same scheme as digamma64); +inf at the poles."""
    refl = x < 0
    z = np.where(refl, 1 - x, x)
    small = z < GAMMA_SHIFT
    w = np.where(small, z + GAMMA_SHIFT, z)
    acc = np.zeros_like(z)
    for k in range(GAMMA_SHIFT):
        acc = acc + np.where(small, 1 / ((z + k) * (z + k)), 0.0)
    t = 1 / (w * w)
    out = 1 / w + 0.5 * t + t / w * _horner(TRIGAMMA_ASYM, t) + acc
    r = x - np.rint(x)
    s = np.sin(math.pi * r)
    out = np.where(refl, math.pi ** 2 / (s * s) - out, out)
    return np.where((x <= 0) & (x == np.floor(x)), np.inf, out)


def _float_unary(name: str, ref, grad, cost: str = "expensive", doc: str = ""):
    defop(name, kind="elementwise", cost=cost, infer=unary_rule("f"), reference=ref,
          grad=grad, num_inputs=1, doc=doc)


# ---------------------------------------------------------------- trigonometric -------------

_float_unary("sin", _in64(np.sin), lambda b, op, g: [b.mul(g[0], b.cos(op.operands[0]))])
_float_unary("cos", _in64(np.cos),
             lambda b, op, g: [b.neg(b.mul(g[0], b.sin(op.operands[0])))])
_float_unary("tan", _in64(np.tan),
             lambda b, op, g: [b.mul(g[0], b.add(b.square(op.result), 1))],
             doc="gradient g * (1 + tan(x)**2)")
_float_unary("asin", _in64(np.arcsin),
             lambda b, op, g: [b.mul(g[0], b.rsqrt(b.sub(1, b.square(op.operands[0]))))])
_float_unary("acos", _in64(np.arccos),
             lambda b, op, g: [b.neg(b.mul(g[0], b.rsqrt(b.sub(1, b.square(op.operands[0])))))])
_float_unary("atan", _in64(np.arctan),
             lambda b, op, g: [b.div(g[0], b.add(b.square(op.operands[0]), 1))])


def _atan2_grad(b, op, g):
    y, x = op.operands
    d = b.add(b.square(x), b.square(y))
    return [unbroadcast(b, b.div(b.mul(g[0], x), d), y),
            unbroadcast(b, b.neg(b.div(b.mul(g[0], y), d)), x)]


defop("atan2", kind="elementwise", cost="expensive", infer=binary_rule("f"), num_inputs=2,
      reference=_in64(np.arctan2), grad=_atan2_grad,
      doc="atan2(y, x): the angle of the point (x, y), broadcasting; operands (y, x) as TF")

# ---------------------------------------------------------------- hyperbolic ----------------

_float_unary("sinh", _in64(np.sinh), lambda b, op, g: [b.mul(g[0], b.cosh(op.operands[0]))])
_float_unary("cosh", _in64(np.cosh), lambda b, op, g: [b.mul(g[0], b.sinh(op.operands[0]))])
_float_unary("asinh", _in64(np.arcsinh),
             lambda b, op, g: [b.div(g[0], b.cosh(op.result))], doc="gradient g / cosh(y)")
_float_unary("acosh", _in64(np.arccosh),
             lambda b, op, g: [b.div(g[0], b.sinh(op.result))], doc="gradient g / sinh(y)")
_float_unary("atanh", _in64(np.arctanh),
             lambda b, op, g: [b.div(g[0], b.sub(1, b.square(op.operands[0])))])

# ---------------------------------------------------------------- special functions ---------

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def _erf_grad(sign: float):
    def grad(b, op, g):
        x = op.operands[0]
        return [b.mul(g[0], b.mul(b.exp(b.neg(b.square(x))), sign * _TWO_OVER_SQRT_PI))]
    return grad


_float_unary("erf", _in64(_scalar_map(math.erf)), _erf_grad(1.0))
_float_unary("erfc", _in64(_scalar_map(math.erfc)), _erf_grad(-1.0))
_float_unary("lgamma", _in64(_scalar_map(lgamma_scalar)),
             lambda b, op, g: [b.mul(g[0], b.digamma(op.operands[0]))],
             doc="log|Gamma(x)|; +inf at the poles 0, -1, -2, ... and at +-inf")
_float_unary("digamma", _in64(digamma64),
             lambda b, op, g: [b.mul(g[0], b.trigamma(op.operands[0]))],
             doc="psi(x) = d/dx lgamma(x); NaN at 0 and the negative integers, as TF")


def _trigamma_grad(b, op, g):
    raise NotImplementedError(
        f"the gradient of trigamma (polygamma(2, x), needed for a second derivative of "
        f"digamma) is not implemented in jitflow ({op.loc})")


_float_unary("trigamma", _in64(trigamma64), _trigamma_grad,
             doc="polygamma(1, x), digamma's derivative; +inf at the poles; its own gradient "
                 "(polygamma(2, x)) is not implemented and says so")

# ---------------------------------------------------------------- log1p / expm1 -------------

_float_unary("log1p", _in64(np.log1p), lambda b, op, g: [b.div(g[0], b.add(op.operands[0], 1))])
_float_unary("expm1", _in64(np.expm1), lambda b, op, g: [b.mul(g[0], b.add(op.result, 1))])

# ---------------------------------------------------------------- rounding ------------------

defop("floor", kind="elementwise", infer=unary_rule("f"), reference=lambda x: np.floor(x),
      num_inputs=1, differentiable=False, doc="no gradient, as TF")
defop("ceil", kind="elementwise", infer=unary_rule("f"), reference=lambda x: np.ceil(x),
      num_inputs=1, differentiable=False, doc="no gradient, as TF")
defop("round", kind="elementwise", infer=unary_rule("fi"),
      reference=lambda x: np.rint(x) if x.dtype.kind == "f" else x, num_inputs=1,
      differentiable=False,
      doc="round half to even (TF's Round and Rint); the identity on integers; no gradient")

# ---------------------------------------------------------------- predicates ----------------


def _predicate_infer(types, attrs):
    require_dtype(types[0], "f")
    return TensorType(bool_, types[0].shape)


for _name, _fn in (("is_nan", np.isnan), ("is_inf", np.isinf), ("is_finite", np.isfinite)):
    defop(_name, kind="elementwise", infer=_predicate_infer,
          reference=(lambda f: lambda x: np.asarray(f(x)))(_fn), num_inputs=1,
          differentiable=False)

# ---------------------------------------------------------------- reciprocal ----------------


def _reciprocal_ref(x):
    if x.dtype.kind == "f":
        with np.errstate(divide="ignore"):
            return np.asarray(np.reciprocal(x))
    if np.any(x == 0):
        from ..errors import InvalidArgumentError
        raise InvalidArgumentError("Integer division by zero")
    return np.where(np.abs(x) == 1, x, np.zeros((), x.dtype))


defop("reciprocal", kind="elementwise", cost="expensive", infer=unary_rule("fi"),
      reference=_reciprocal_ref, num_inputs=1,
      grad=lambda b, op, g: [b.neg(b.mul(g[0], b.square(op.result)))],
      doc="1 / x; on integers C's truncating 1 / x (0 unless |x| == 1; x == 0 is an error)")

# ---------------------------------------------------------------- activations ---------------
# softsign, selu and log_sigmoid are one op each in the IR (one gradient rule, one name in
# dumps and in the GraphDef) but their arithmetic is a few existing elementwise ops: every
# backend runs their decomposition, whose parts fuse into the same element loop, so a
# hand-written lowering per backend would add code and no speed.


def _softsign_decompose(b, op):
    x = op.operands[0]
    return b.div(x, b.add(b.abs(x), 1))


def _selu_decompose(b, op):
    """TF's select(x < 0, ...): selu(-0.0) is -0.0."""
    x = op.operands[0]
    neg = b.mul(b.expm1(x), SELU_ALPHA * SELU_SCALE)
    return b.select(b.less(x, 0), neg, b.mul(x, SELU_SCALE))


def _selu_grad(b, op, g):
    y = op.result
    return [b.select(b.greater(y, 0), b.mul(g[0], SELU_SCALE),
                     b.mul(g[0], b.add(y, SELU_SCALE * SELU_ALPHA)))]


def _log_sigmoid_decompose(b, op):
    return b.neg(b.softplus(b.neg(op.operands[0])))


defop("softsign", kind="elementwise", cost="expensive", infer=unary_rule("f"), num_inputs=1,
      reference=_in64(lambda x: x / (1 + np.abs(x))), decompose=_softsign_decompose,
      grad=lambda b, op, g: [b.div(g[0], b.square(b.add(b.abs(op.operands[0]), 1)))],
      doc="x / (1 + |x|)")
defop("selu", kind="elementwise", cost="expensive", infer=unary_rule("f"), num_inputs=1,
      reference=_in64(lambda x: np.where(x < 0, SELU_SCALE * SELU_ALPHA * np.expm1(x),
                                         SELU_SCALE * x)),
      decompose=_selu_decompose, grad=_selu_grad,
      doc="scale * x for x > 0, scale * alpha * (exp(x) - 1) otherwise (TF's constants)")
defop("log_sigmoid", kind="elementwise", cost="expensive", infer=unary_rule("f"), num_inputs=1,
      reference=_in64(lambda x: -np.logaddexp(0.0, -x)), decompose=_log_sigmoid_decompose,
      grad=lambda b, op, g: [b.mul(g[0], b.sigmoid(b.neg(op.operands[0])))],
      doc="log(sigmoid(x)) = -softplus(-x), stable for large |x|")
