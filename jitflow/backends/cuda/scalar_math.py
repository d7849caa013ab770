"""The cuda scalar-op entries of ops/math_unary.py's ops (registered into ``scalar_ops.EW``).

libdevice has every one of them but digamma and trigamma (``runtime_ns`` binds the
names; under the simulator they are NumPy's and ``math``'s), which are device functions of
``cuda/special.py`` computing in float64. softsign, selu and log_sigmoid have no entry:
``cuda-legalize`` decomposes them.
"""
from __future__ import annotations

from ...ir.dtypes import float32
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


@lowering("digamma", "trigamma")
def _gamma_family(c, op, a):
    dt = _dt(op)
    y = f"_{op.opname}_f64(f64({a[0]}))"
    return f"f32({y})" if dt is float32 else y
