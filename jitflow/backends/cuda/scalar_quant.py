"""The cuda scalar-op entries of ops/quant.py's fake quantization ops (registered into
``scalar_ops.EW``): the record's float32 operations in its order, every multiply through
``_mul_f32`` (never contracted into an FMA). An Args op's nudged range is a constant; the
Vars ops nudge per element from their broadcast min and max."""
from __future__ import annotations

from ...ir.dtypes import float32
from ...ops.quant import nudge_args, quant_range
from .scalar_ops import _fmax, _fmin, _fn, _mul, lowering
from .source import lit


def _k(v: float) -> str:
    return lit(v, float32)


def _floor(x: str) -> str:
    return _fn(float32, "floor", x)


def _clamp(c, x: str, nmin: str, nmax: str) -> str:
    """max(min(x, nudged_max), nudged_min), NaN-propagating as NumPy's minimum/maximum."""
    m = c.tmp(_fmin(x, nmax))
    return c.tmp(_fmax(m, nmin))


def _nudge(c, mn: str, mx: str, attrs: dict) -> tuple[str, str, str]:
    """(nudged_min, nudged_max, scale) of run-time min and max: TF's Nudge()."""
    qmin, qmax = quant_range(attrs["num_bits"], attrs["narrow_range"])
    scale = c.tmp(f"({mx} - {mn}) / {_k(qmax - qmin)}")
    zpm = c.tmp(f"{_k(qmin)} - {mn} / {scale}")
    f = c.tmp(_floor(zpm))
    rounded = c.tmp(f"{f} + ({_k(1)} if {zpm} - {f} >= {_k(0.5)} else {_k(0)})")
    zp = c.tmp(f"{_k(qmin)} if {zpm} < {_k(qmin)} else ({_k(qmax)} if {zpm} > {_k(qmax)} "
               f"else {rounded})")
    nmin = c.tmp(_mul(float32, f"({_k(qmin)} - {zp})", scale))
    nmax = c.tmp(_mul(float32, f"({_k(qmax)} - {zp})", scale))
    return nmin, nmax, scale


def _masked(g: str, cond: str) -> str:
    """g * (cond ? 1 : 0), as TF multiplies (an infinite g outside the range gives NaN)."""
    return _mul(float32, g, f"({_k(1)} if {cond} else {_k(0)})")


@lowering("fake_quant_with_min_max_args")
def _args(c, op, a):
    nmin, nmax, scale, inv = (_k(v) for v in nudge_args(op.attrs))
    s = c.tmp(f"{_clamp(c, c.tmp(a[0]), nmin, nmax)} - {nmin}")
    t = c.tmp(f"{_mul(float32, s, inv)} + {_k(0.5)}")
    return f"({_mul(float32, _floor(t), scale)} + {nmin})"


@lowering("fake_quant_with_min_max_args_gradient")
def _args_gradient(c, op, a):
    nmin, nmax, _, _ = (_k(v) for v in nudge_args(op.attrs))
    x = c.tmp(a[1])
    return _masked(f"({a[0]})", f"({x} >= {nmin} and {x} <= {nmax})")


@lowering("fake_quant_with_min_max_vars", "fake_quant_with_min_max_vars_per_channel")
def _vars(c, op, a):
    x, mn, mx = (c.tmp(v) for v in a)
    nmin, nmax, scale = _nudge(c, mn, mx, op.attrs)
    s = c.tmp(f"{_clamp(c, x, nmin, nmax)} - {nmin}")
    t = c.tmp(f"{s} / {scale} + {_k(0.5)}")
    q = c.tmp(f"{_mul(float32, _floor(t), scale)} + {nmin}")
    return f"({_k(0)} if ({mn} == {_k(0)} and {mx} == {_k(0)}) else {q})"


@lowering("fake_quant_vars_backprop")
def _backprop(c, op, a):
    g, x, mn, mx = (c.tmp(v) for v in a)
    nmin, nmax, _ = _nudge(c, mn, mx, op.attrs)
    zero = c.tmp(f"({mn} == {_k(0)} and {mx} == {_k(0)})")
    wrt = op.attrs["wrt"]
    if wrt == "inputs":
        return _masked(g, f"(({x} >= {nmin} and {x} <= {nmax}) or {zero})")
    outside = f"({x} < {nmin})" if wrt == "min" else f"({x} > {nmax})"
    return f"({_k(0)} if {zero} else {_masked(g, outside)})"
