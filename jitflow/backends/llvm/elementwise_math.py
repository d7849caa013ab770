"""LLVM lowerings of ops/math_unary.py's ops (entries of elementwise.LOWER).

Trigonometric, hyperbolic, erf/erfc, log1p and expm1 call libm through ``vecmath`` (vector
variants from libmvec, so their loops vectorize); the gamma family is inline float64 code
(the recurrence and asymptotic series of ops/math_unary.py, with its constants; float32
computes in float64 and rounds once); rounding and the predicates are LLVM intrinsics and
compares. softsign, selu and log_sigmoid have no entry: the llvm pipeline decomposes them.

float32 errors against float64 truth, measured over 2**18 inputs evenly spaced in bit
pattern per op (tests/test_math_unary_ops.py asserts ``MAX_ULP_F32`` on 2**16): sin 1.6 ulp,
cos 1.7, tan 2.9 (|x| <= 1e4), asin 2.1, acos 1.7, atan 1.7, sinh 1.3, cosh 1.5, asinh 1.9,
acosh 2.3, atanh 1.8, erf 1.8, erfc 1.4, log1p 1.8, expm1 1.5; lgamma, digamma, trigamma 0.5
(correctly rounded float64, also next to their zeros); softsign 1.4, selu 2.3, log_sigmoid 3.8.
float64: libm's (glibc: <= 4 ulp); the gamma family to ~2e-14 * max(1, |y|).
"""
from __future__ import annotations

import math

from ...ir.dtypes import DType, float32
from ...ops.math_unary import (DIGAMMA_ASYM, GAMMA_SHIFT, HALF_LOG_2PI, STIRLING,
                               TRIGAMMA_ASYM)
from .elementwise import LOWER, lowering
from .emitter import Emitter, const, fhex, rtype

#: float32 bounds in ulps (libmvec's documented maximum is 4; the gamma family rounds once)
MAX_ULP_F32 = {**{n: 4.0 for n in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
                                    "asinh", "acosh", "atanh", "erf", "erfc", "log1p", "expm1",
                                    "softsign", "selu", "log_sigmoid")},
               "lgamma": 1.0, "digamma": 1.0, "trigamma": 1.0, "reciprocal": 0.5}

def _dt(op, i: int = 0) -> DType:
    return op.operands[i].type.dtype


def _libm(name: str):
    """``y = name(x)`` (or ``name(y, x)``) through libm / libmvec."""
    def lower(em: Emitter, op, a, ctx):
        dt = _dt(op)
        t = rtype(dt)
        sym = f"jf_m_{name}{'f' if dt is float32 else ''}"
        return em.op(f"call {t} @{sym}({', '.join(f'{t} {x}' for x in a)})")
    return lower


for _name in ("sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh",
              "acosh", "atanh", "erf", "erfc", "log1p", "expm1"):
    LOWER[_name] = _libm(_name)


# ------------------------------------------------------------------ rounding, predicates ---

def _intrinsic(name: str):
    def lower(em, op, a, ctx):
        dt = _dt(op)
        if not dt.is_floating:
            return a[0]            # round on integers: the identity
        t = rtype(dt)
        return em.op(f"call {t} @llvm.{name}.{dt.short}({t} {a[0]})")
    return lower


LOWER["floor"] = _intrinsic("floor")
LOWER["ceil"] = _intrinsic("ceil")
LOWER["round"] = _intrinsic("roundeven")   # half to even, as TF's Round and Rint


def _abs(em, dt, x):
    t = rtype(dt)
    return em.op(f"call {t} @llvm.fabs.{dt.short}({t} {x})")


LOWER["is_nan"] = lambda em, op, a, ctx: em.op(f"fcmp uno {rtype(_dt(op))} {a[0]}, 0.0")
LOWER["is_inf"] = lambda em, op, a, ctx: em.op(
    f"fcmp oeq {rtype(_dt(op))} {_abs(em, _dt(op), a[0])}, 0x7FF0000000000000")
LOWER["is_finite"] = lambda em, op, a, ctx: em.op(
    f"fcmp one {rtype(_dt(op))} {_abs(em, _dt(op), a[0])}, 0x7FF0000000000000")


@lowering("reciprocal")
def _reciprocal(em, op, a, ctx):
    dt = _dt(op)
    t = rtype(dt)
    if dt.is_floating:
        return em.op(f"fdiv {t} {const(1.0, dt)}, {a[0]}")
    ctx.flag_error(em.op(f"icmp eq {t} {a[0]}, 0"), "Integer division by zero")
    one = em.op(f"icmp eq {t} {a[0]}, 1")
    if dt.is_unsigned:     # all ones is not -1
        return em.op(f"select i1 {one}, {t} 1, {t} 0")
    minus = em.op(f"icmp eq {t} {a[0]}, -1")
    unit = em.op(f"or i1 {one}, {minus}")
    return em.op(f"select i1 {unit}, {t} {a[0]}, {t} 0")


# ------------------------------------------------------------------ the gamma family -------
# float64 throughout; x < 0 reflects to 1 - x, z < GAMMA_SHIFT shifts to z + GAMMA_SHIFT.

class _D:
    """Shorthand for float64 instructions."""

    def __init__(self, em: Emitter) -> None:
        self.em = em

    def __call__(self, opc: str, a: str, b: str) -> str:
        return self.em.op(f"{opc} double {a}, {b}")

    def call(self, fn: str, *xs: str) -> str:
        return self.em.op(f"call double @{fn}({', '.join(f'double {x}' for x in xs)})")

    def sel(self, c: str, a: str, b: str) -> str:
        return self.em.op(f"select i1 {c}, double {a}, double {b}")

    def cmp(self, pred: str, a: str, b: str) -> str:
        return self.em.op(f"fcmp {pred} double {a}, {b}")

    def horner(self, coeffs, t: str) -> str:
        acc = fhex(coeffs[-1])
        for c in coeffs[-2::-1]:
            acc = self("fadd", self("fmul", acc, t), fhex(c))
        return acc


def _reflect_and_shift(d: _D, x: str):
    refl = d.cmp("olt", x, "0.0")
    z = d.sel(refl, d("fsub", "1.0", x), x)
    small = d.cmp("olt", z, fhex(GAMMA_SHIFT))
    w = d.sel(small, d("fadd", z, fhex(GAMMA_SHIFT)), z)
    pi_r = d("fmul", fhex(math.pi), d("fsub", x, d.call("llvm.roundeven.f64", x)))
    return refl, z, small, w, pi_r


def _pole(d: _D, x: str) -> str:
    nonpos = d.cmp("ole", x, "0.0")
    integral = d.cmp("oeq", x, d.call("llvm.floor.f64", x))
    return d.em.op(f"and i1 {nonpos}, {integral}")


def lgamma64(em: Emitter, x: str) -> str:
    d = _D(em)
    refl, z, small, w, pi_r = _reflect_and_shift(d, x)
    p = z
    for k in range(1, GAMMA_SHIFT):
        p = d("fmul", p, d("fadd", z, fhex(k)))
    logp = d.sel(small, d.call("jf_m_log", p), "0.0")
    lw = d.call("jf_m_log", w)
    iw = d("fdiv", "1.0", w)
    series = d("fmul", iw, d.horner(STIRLING, d("fmul", iw, iw)))
    s = d("fsub", d("fmul", d("fsub", w, fhex(0.5)), lw), w)
    s = d("fadd", d("fadd", s, fhex(HALF_LOG_2PI)), series)
    res = d("fsub", s, logp)
    sin = d.call("llvm.fabs.f64", d.call("jf_m_sin", pi_r))
    lr = d("fsub", d.call("jf_m_log", d("fdiv", fhex(math.pi), sin)), res)
    out = d.sel(refl, lr, res)
    # exactly 0 at its zeros 1 and 2 (the shifted series leaves ~1e-15 there)
    root = em.op(f"or i1 {d.cmp('oeq', x, '1.0')}, {d.cmp('oeq', x, '2.0')}")
    out = d.sel(root, "0.0", out)
    inf = d.cmp("oeq", d.call("llvm.fabs.f64", x), "0x7FF0000000000000")
    return d.sel(inf, "0x7FF0000000000000", out)


def digamma64(em: Emitter, x: str) -> str:
    d = _D(em)
    refl, z, small, w, pi_r = _reflect_and_shift(d, x)
    # sum_k 1 / (z + k) = P'(z) / P(z) with P = prod_k (z + k): one division, not ten
    p, dp = z, "1.0"
    for k in range(1, GAMMA_SHIFT):
        zk = d("fadd", z, fhex(k))
        dp = d("fadd", d("fmul", dp, zk), p)
        p = d("fmul", p, zk)
    acc = d.sel(small, d("fdiv", dp, p), "0.0")
    t = d("fdiv", "1.0", d("fmul", w, w))
    out = d("fsub", d.call("jf_m_log", w), d("fdiv", fhex(0.5), w))
    out = d("fsub", d("fsub", out, d("fmul", t, d.horner(DIGAMMA_ASYM, t))), acc)
    cot = d("fdiv", fhex(math.pi), d.call("jf_m_tan", pi_r))
    out = d.sel(refl, d("fsub", out, cot), out)
    return d.sel(_pole(d, x), "0x7FF8000000000000", out)


def trigamma64(em: Emitter, x: str) -> str:
    d = _D(em)
    refl, z, small, w, pi_r = _reflect_and_shift(d, x)
    acc = "0.0"
    for k in range(GAMMA_SHIFT):
        zk = d("fadd", z, fhex(k))
        acc = d("fadd", acc, d("fdiv", "1.0", d("fmul", zk, zk)))
    acc = d.sel(small, acc, "0.0")
    iw = d("fdiv", "1.0", w)
    t = d("fmul", iw, iw)
    out = d("fadd", iw, d("fmul", fhex(0.5), t))
    out = d("fadd", out, d("fmul", d("fmul", t, iw), d.horner(TRIGAMMA_ASYM, t)))
    out = d("fadd", out, acc)
    s = d.call("jf_m_sin", pi_r)
    refl_v = d("fsub", d("fdiv", fhex(math.pi ** 2), d("fmul", s, s)), out)
    out = d.sel(refl, refl_v, out)
    return d.sel(_pole(d, x), "0x7FF0000000000000", out)


def _gamma_family(fn):
    def lower(em, op, a, ctx):
        dt = _dt(op)
        if dt is float32:
            y = fn(em, em.op(f"fpext float {a[0]} to double"))
            return em.op(f"fptrunc double {y} to float")
        return fn(em, a[0])
    return lower


LOWER["lgamma"] = _gamma_family(lgamma64)
LOWER["digamma"] = _gamma_family(digamma64)
LOWER["trigamma"] = _gamma_family(trigamma64)
