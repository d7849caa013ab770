"""The cuda scalar-op entries of ops/math_unary.py's ops (registered into ``scalar_ops.EW``).

libdevice has every one of them but digamma and trigamma (``runtime_ns`` binds the
names; under the simulator they are NumPy's and ``math``'s), which are generated inline in
float64: the reflection, the recurrence up to GAMMA_SHIFT and the asymptotic series of
ops/math_unary.py with its constants. ``x % 1.0`` (in [0, 1)) stands for the reduction by an
integer (``math.floor`` gives an int in Numba, which no infinity fits; tan and sin**2 have
period pi). softsign, selu and log_sigmoid have no entry: ``cuda-legalize`` decomposes them.
"""
from __future__ import annotations

import math

from ...ir.dtypes import float32
from ...ops.math_unary import DIGAMMA_ASYM, GAMMA_SHIFT, TRIGAMMA_ASYM
from .scalar_ops import EW, _dt, _fn, lowering
from .source import lit

LIBM = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
        "atanh", "erf", "erfc", "lgamma", "log1p", "expm1", "floor", "ceil")

for _name in LIBM:
    EW[_name] = (lambda n: lambda c, op, a: _fn(_dt(op), n, a[0]))(_name)
EW["atan2"] = lambda c, op, a: _fn(_dt(op), "atan2", a[0], a[1])


@lowering("round")
def _round(c, op, a):
    dt = _dt(op)
    return _fn(dt, "rint", a[0]) if dt.is_floating else a[0]   # rint: half to even


EW["is_nan"] = lambda c, op, a: f"({a[0]} != {a[0]})"
EW["is_inf"] = lambda c, op, a: f"({a[0]} == INF or {a[0]} == -INF)"
EW["is_finite"] = lambda c, op, a: f"(abs({a[0]}) < INF)"


@lowering("reciprocal")
def _reciprocal(c, op, a):
    dt = _dt(op)
    if dt.is_floating:
        return f"({lit(1, dt)} / {a[0]})"
    c.flag(f"{a[0]} == 0", "Integer division by zero")
    return f"({a[0]} if ({a[0]} == 1 or {a[0]} == -1) else {lit(0, dt)})"


def _horner(c, coeffs, t: str) -> str:
    acc = c.tmp(repr(float(coeffs[-1])))
    for cf in coeffs[-2::-1]:
        c.emit(f"{acc} = {acc} * {t} + {float(cf)!r}")
    return acc


def _gamma_src(c, op, x: str) -> str:
    """digamma or trigamma of the float64 ``x``, as lines of the kernel."""
    tri = op.opname == "trigamma"
    out = c.tmp("0.0")
    c.emit(f"if {x} <= 0.0 and ({x} % 1.0 == 0.0 or {x} == -INF):   # 0, -1, ..., -inf")
    c.emit(f"    {out} = {'INF' if tri else 'NAN'}")
    c.emit("else:")
    c.gen.ind(1)
    refl = c.tmp(f"{x} < 0.0")
    z = c.tmp(f"(1.0 - {x}) if {refl} else {x}")
    acc = c.tmp("0.0")
    c.emit(f"while {z} < {float(GAMMA_SHIFT)!r}:")
    c.emit(f"    {acc} = {acc} + 1.0 / ({z} * {z})" if tri else f"    {acc} = {acc} + 1.0 / {z}")
    c.emit(f"    {z} = {z} + 1.0")
    iw = c.tmp(f"1.0 / {z}")
    t = c.tmp(f"{iw} * {iw}")
    pi = repr(math.pi)
    if tri:
        p = _horner(c, TRIGAMMA_ASYM, t)
        c.emit(f"{out} = {iw} + 0.5 * {t} + {t} * {iw} * {p} + {acc}")
        s = c.tmp(f"math.sin({pi} * ({x} % 1.0))")
        c.emit(f"if {refl}:")
        c.emit(f"    {out} = {math.pi ** 2!r} / ({s} * {s}) - {out}")
    else:
        p = _horner(c, DIGAMMA_ASYM, t)
        c.emit(f"{out} = math.log({z}) - 0.5 * {iw} - {t} * {p} - {acc}")
        c.emit(f"if {refl}:")
        c.emit(f"    {out} = {out} - {pi} / math.tan({pi} * ({x} % 1.0))")
    c.gen.ind(-1)
    return out


@lowering("digamma", "trigamma")
def _gamma_family(c, op, a):
    dt = _dt(op)
    y = _gamma_src(c, op, c.tmp(f"f64({a[0]})"))
    return f"f32({y})" if dt is float32 else y
