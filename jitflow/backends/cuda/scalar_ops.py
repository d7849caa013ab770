"""The cuda backend's scalar-op table: ``EW[opname](ctx, op, args) -> expression``, the
per-element code of each elementwise op (and the bit-exact random draws) inside a generated
kernel (one place per op)."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ...ir.core import Op
from ...ir.dtypes import DType, float32, float64, int32
from ...kernels.errors import op_where
from ...ops.random import LN2_HI, LN2_LO, PHI_MINUS_2, _A, _B, _C, _D, _E, _F, fold_seed
from .source import CTOR, lit, wrap


# ================================================================ per-op expressions =========

class Ctx:
    """What a lowering may ask of the kernel being generated."""

    def __init__(self, gen: "GroupGen") -> None:
        self.gen = gen
        self.op: Optional[Op] = None

    @property
    def lin(self) -> str:
        self.gen.need_lin = True
        return self.gen.lin_name

    def emit(self, line: str) -> None:
        self.gen.body(line)

    def tmp(self, expr: str) -> str:
        name = self.gen.fresh("t")
        self.gen.body(f"{name} = {expr}")
        return name

    def flag(self, cond: str, message: str, exact: bool = False) -> None:
        code = self.gen.errors.code(message + op_where(self.op), exact)
        self.gen.uses_err = True
        self.gen.body(f"if {cond}:")
        self.gen.body(f"    cuda.atomic.min(err, 0, {code})")

    def runtime_int(self, key, fn: Callable) -> str:
        return self.gen.int_arg(key, fn)


EW: dict[str, Callable] = {}


def lowering(*names):
    def deco(fn):
        for n in names:
            EW[n] = fn
        return fn
    return deco


def _dt(op, i=0) -> DType:
    return op.operands[i].type.dtype


def _out(op) -> DType:
    return op.results[0].type.dtype


def _mul(dt: DType, a: str, b: str) -> str:
    if dt.is_floating:
        return f"_mul_{dt.short}({a}, {b})"
    return wrap(dt, f"{a} * {b}")


def _fn(dt: DType, name: str, *a: str) -> str:
    return f"{CTOR[dt.short]}(_{name}_{dt.short}({', '.join(a)}))"


def _fmax(a: str, b: str) -> str:
    """NaN-propagating maximum (NumPy's)."""
    return f"({a} if ({a} >= {b} or {a} != {a}) else {b})"


def _fmin(a: str, b: str) -> str:
    return f"({a} if ({a} <= {b} or {a} != {a}) else {b})"


@lowering("add", "sub")
def _addsub(c, op, a):
    dt = _dt(op)
    sym = "+" if op.opname == "add" else "-"
    e = f"{a[0]} {sym} {a[1]}"
    return f"({e})" if dt.is_floating else wrap(dt, e)


@lowering("mul")
def _mul_op(c, op, a):
    return _mul(_dt(op), a[0], a[1])


@lowering("div")
def _div(c, op, a):
    return f"({a[0]} / {a[1]})"


def _int_guard(c, op, a) -> str:
    c.flag(f"{a[1]} == 0", "Integer division by zero")
    return c.tmp(f"{a[1]} if {a[1]} != 0 else {lit(1, _dt(op))}")


@lowering("floordiv")
def _floordiv(c, op, a):
    dt = _dt(op)
    if dt.is_floating:
        return _fn(dt, "floor", f"{a[0]} / {a[1]}")
    y = _int_guard(c, op, a)
    return wrap(dt, f"{a[0]} // {y}")


@lowering("mod")
def _mod(c, op, a):
    dt = _dt(op)
    if dt.is_floating:
        return wrap(dt, f"{a[0]} % {a[1]}")
    y = _int_guard(c, op, a)
    return wrap(dt, f"{a[0]} % {y}")


@lowering("pow")
def _pow(c, op, a):
    dt = _dt(op)
    if dt.is_floating:
        return _fn(dt, "pow", a[0], a[1])
    w = "u64" if dt.is_unsigned else "i64"     # an unsigned exponent is never negative
    if not dt.is_unsigned:
        c.flag(f"{a[1]} < 0", "Integers to negative integer powers are not allowed.")
    r, x, e = c.tmp(f"{w}(1)"), c.tmp(f"{w}({a[0]})"), c.tmp(f"{w}({a[1]})")
    c.emit(f"while {e} > {w}(0):")       # square-and-multiply, wrapping like NumPy
    c.emit(f"    if {e} & {w}(1):")
    c.emit(f"        {r} = {w}({r} * {x})")
    c.emit(f"    {x} = {w}({x} * {x})")
    c.emit(f"    {e} = {e} >> {w}(1)")
    return wrap(dt, r)


@lowering("maximum", "minimum")
def _minmax(c, op, a):
    dt = _dt(op)
    is_max = op.opname == "maximum"
    if dt.is_floating:
        return _fmax(a[0], a[1]) if is_max else _fmin(a[0], a[1])
    return f"({a[0]} if {a[0]} {'>=' if is_max else '<='} {a[1]} else {a[1]})"


_CMP = {"equal": "==", "not_equal": "!=", "less": "<", "less_equal": "<=", "greater": ">",
        "greater_equal": ">="}


@lowering(*_CMP)
def _cmp(c, op, a):
    return f"({a[0]} {_CMP[op.opname]} {a[1]})"


EW["logical_and"] = lambda c, op, a: f"({a[0]} and {a[1]})"
EW["logical_or"] = lambda c, op, a: f"({a[0]} or {a[1]})"
EW["logical_not"] = lambda c, op, a: f"(not {a[0]})"
EW["select"] = lambda c, op, a: f"({a[1]} if {a[0]} else {a[2]})"


@lowering("cast")
def _cast(c, op, a):
    src, dst = _dt(op), _out(op)
    if src is dst:
        return a[0]
    if dst.is_narrow and dst.is_integer:   # through int32, wrapped by masking (both signs)
        w = _cast_plain(a[0], src, int32)
        m = (1 << dst.bits) - 1
        if dst.is_unsigned:
            return f"{CTOR[dst.short]}({w} & {m})"
        half = 1 << (dst.bits - 1)
        return f"{CTOR[dst.short]}((({w} & {m}) ^ {half}) - {half})"
    if dst.is_narrow and src is float64:   # a double becomes a half through float, as in TF
        return wrap(dst, wrap(float32, a[0]))
    return _cast_plain(a[0], src, dst)


def _cast_plain(x: str, src: DType, dst: DType) -> str:
    if src is dst:
        return x
    if dst.is_bool:
        return f"({x} != {lit(0, src)})" if not src.is_bool else x
    if src.is_bool:
        return f"({lit(1, dst)} if {x} else {lit(0, dst)})"
    if src.is_floating and dst.is_unsigned:
        return _float_to_unsigned(x, dst)
    if src.is_floating and dst.is_integer:
        lim = float(2 ** (dst.np.itemsize * 8 - 1))
        return (f"({wrap(dst, x)} if ({x} >= {-lim!r} and {x} < {lim!r}) "
                f"else {lit(-int(lim), dst)})")
    return wrap(dst, x)


def _float_to_unsigned(x: str, dst: DType) -> str:
    """float -> uint32/uint64 as the reference's ``float_to_unsigned``: truncated through
    int64 (negative values wrap; NaN and out-of-range give INT64_MIN's bits); uint64 takes
    [2**63, 2**64) exactly."""
    lim = float(2 ** 63)
    v = f"(i64({x}) if ({x} >= {-lim!r} and {x} < {lim!r}) else i64({-(1 << 63)}))"
    if dst.bits == 32:
        return f"u32({v} & i64({(1 << 32) - 1}))"
    return f"(u64({x}) if ({x} >= {lim!r} and {x} < {2 * lim!r}) else u64({v}))"


@lowering("neg")
def _neg(c, op, a):
    dt = _dt(op)
    return f"(-{a[0]})" if dt.is_floating else wrap(dt, f"-{a[0]}")


@lowering("abs")
def _abs(c, op, a):
    dt = _dt(op)
    if dt.is_unsigned:
        return a[0]
    return f"abs({a[0]})" if dt.is_floating else wrap(dt, f"abs({a[0]})")


@lowering("sign")
def _sign(c, op, a):
    dt = _dt(op)
    x = a[0]
    if dt.is_unsigned:
        return f"({lit(1, dt)} if {x} != {lit(0, dt)} else {lit(0, dt)})"
    e = (f"({lit(1, dt)} if {x} > {lit(0, dt)} else ({lit(-1, dt)} if {x} < {lit(0, dt)} "
         f"else {lit(0, dt)}))")
    return f"({x} if {x} != {x} else {e})" if dt.is_floating else e


@lowering("square")
def _square(c, op, a):
    return _mul(_dt(op), a[0], a[0])


EW["sqrt"] = lambda c, op, a: _fn(_dt(op), "sqrt", a[0])
EW["rsqrt"] = lambda c, op, a: f"({lit(1, _dt(op))} / {_fn(_dt(op), 'sqrt', a[0])})"
EW["exp"] = lambda c, op, a: _fn(_dt(op), "exp", a[0])
EW["log"] = lambda c, op, a: _fn(_dt(op), "log", a[0])
EW["tanh"] = lambda c, op, a: _fn(_dt(op), "tanh", a[0])


@lowering("sigmoid")
def _sigmoid(c, op, a):
    dt = _dt(op)
    one = lit(1, dt)
    e = c.tmp(_fn(dt, "exp", f"-abs({a[0]})"))
    return f"(({one} / ({one} + {e})) if {a[0]} >= {lit(0, dt)} else ({e} / ({one} + {e})))"


@lowering("relu")
def _relu(c, op, a):
    dt = _dt(op)
    z = lit(0, dt)
    if dt.is_floating:
        return _fmax(a[0], z)
    return f"({a[0]} if {a[0]} > {z} else {z})"


EW["identity"] = EW["stop_gradient"] = EW["broadcast_like"] = EW["fill"] = \
    EW["copy_to_device"] = EW["copy_to_host"] = lambda c, op, a: a[0]
EW["zeros_like"] = lambda c, op, a: lit(0, _out(op))
EW["ones_like"] = lambda c, op, a: lit(1, _out(op))


@lowering("add_n")
def _add_n(c, op, a):
    dt = _out(op)
    acc = a[0]
    for x in a[1:]:
        acc = c.tmp(f"{acc} + {x}" if dt.is_floating else wrap(dt, f"{acc} + {x}"))
    return acc


@lowering("size")
def _size(c, op, a):
    x = op.operands[0]
    axes = op.attrs["axes"]
    ax = tuple(range(len(x.type.shape))) if axes is None else tuple(axes)
    p = c.runtime_int(("size", id(op)), lambda s, vid=id(x), ax=ax:
                      int(np.prod([s[vid][k] for k in ax], dtype=np.int64)))
    return wrap(_out(op), p)


@lowering("check_numerics")
def _check_numerics(c, op, a):
    x = a[0]
    c.flag(f"({x} != {x}) or ({x} == INF) or ({x} == -INF)",
           op.attrs["message"] + " : Tensor had NaN or Inf values")
    return x


@lowering("elu")
def _elu(c, op, a):
    dt = _dt(op)
    z = lit(0, dt)
    m = c.tmp(_fmin(a[0], z))
    return f"({a[0]} if {a[0]} > {z} else {_fn(dt, 'expm1', m)})"


@lowering("leaky_relu")
def _leaky(c, op, a):
    dt = _dt(op)
    return f"({a[0]} if {a[0]} > {lit(0, dt)} else {_mul(dt, a[0], lit(op.attrs['alpha'], dt))})"


@lowering("softplus")
def _softplus(c, op, a):
    dt = _dt(op)
    z = lit(0, dt)
    m = c.tmp(f"({a[0]} if {a[0]} > {z} else {z})")
    return f"({m} + {_fn(dt, 'log1p', _fn(dt, 'exp', f'-abs({a[0]})'))})"


@lowering("relu6")
def _relu6(c, op, a):
    dt = _dt(op)
    z, six = lit(0, dt), lit(6, dt)
    if dt.is_floating:
        m = c.tmp(_fmax(a[0], z))
        return _fmin(m, six)
    m = c.tmp(f"({a[0]} if {a[0]} > {z} else {z})")
    return f"({m} if {m} < {six} else {six})"


@lowering("sigmoid_cross_entropy")
def _sig_xent(c, op, a):
    dt = _dt(op)
    x, z = a
    m = c.tmp(_fmax(x, lit(0, dt)))
    t = c.tmp(f"{m} - {_mul(dt, x, z)}")
    return f"({t} + {_fn(dt, 'log1p', _fn(dt, 'exp', f'-abs({x})'))})"


@lowering("bias_add")
def _bias_add(c, op, a):
    dt = _dt(op)
    e = f"{a[0]} + {a[1]}"
    return f"({e})" if dt.is_floating else wrap(dt, e)


# ---------------------------------------------------------------- bitwise (tf.bitwise) ----

for _name, _sym in (("bitwise_and", "&"), ("bitwise_or", "|"), ("bitwise_xor", "^")):
    EW[_name] = (lambda sym: lambda c, op, a: wrap(_dt(op), f"{a[0]} {sym} {a[1]}"))(_sym)
EW["invert"] = lambda c, op, a: wrap(_dt(op), f"~{a[0]}")


@lowering("left_shift", "right_shift")
def _shift(c, op, a):
    """x shifted by y clamped to [0, bits - 1] (TF's kernels); >> is logical on unsigned."""
    dt = _dt(op)
    top, zero = lit(dt.bits - 1, dt), lit(0, dt)
    y = c.tmp(f"({top} if {a[1]} > {top} else ({zero} if {a[1]} < {zero} else {a[1]}))")
    return wrap(dt, f"{a[0]} {'<<' if op.opname == 'left_shift' else '>>'} {y}")


# ---------------------------------------------------------------- random (bit-exact) ------

_M0, _M1, _W0, _W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85


def _poly(c, coeffs, r: str) -> str:
    acc = repr(float(coeffs[-1]))
    for cf in coeffs[-2::-1]:
        acc = c.tmp(f"_mul_f64({acc}, {r}) + {float(cf)!r}")
    return acc


def _series_log(c, x: str) -> str:
    """Same operations, in the same order, as ops.random.series_log."""
    fr = c.tmp(f"math.frexp({x})")
    m0 = c.tmp(f"{fr}[0]")
    e0 = c.tmp(f"{fr}[1]")
    small = c.tmp(f"{m0} < 0.7071067811865476")
    m = c.tmp(f"(_mul_f64({m0}, 2.0) if {small} else {m0})")
    e = c.tmp(f"f64({e0} - 1 if {small} else {e0})")
    s = c.tmp(f"({m} - 1.0) / ({m} + 1.0)")
    s2 = c.tmp(f"_mul_f64({s}, {s})")
    p = c.tmp(repr(1.0 / 25.0))
    for k in (23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3):
        c.emit(f"{p} = _mul_f64({p}, {s2}) + {1.0 / k!r}")
    c.emit(f"{p} = _mul_f64({p}, {s2}) + 1.0")
    return c.tmp(f"_mul_f64({e}, {LN2_HI!r}) + (_mul_f64({e}, {LN2_LO!r}) + "
                 f"_mul_f64(_mul_f64(2.0, {s}), {p}))")


def _inverse_normal_cdf(c, p: str) -> str:
    q = c.tmp(f"{p} - 0.5")
    out = c.tmp("0.0")
    c.emit(f"if abs({q}) <= 0.425:")
    c.gen.ind(1)
    rc = c.tmp(f"0.180625 - _mul_f64({q}, {q})")
    c.emit(f"{out} = _mul_f64({q}, {_poly(c, _A, rc)}) / {_poly(c, _B, rc)}")
    c.gen.ind(-1)
    c.emit("else:")
    c.gen.ind(1)
    tp = c.tmp(f"({p} if {q} < 0.0 else 1.0 - {p})")
    lg = _series_log(c, tp)
    r = c.tmp(f"_sqrt_f64(-{lg})")
    c.emit(f"if {r} <= 5.0:")
    c.gen.ind(1)
    near = c.tmp(f"{r} - 1.6")
    c.emit(f"{out} = {_poly(c, _C, near)} / {_poly(c, _D, near)}")
    c.gen.ind(-1)
    c.emit("else:")
    c.gen.ind(1)
    far = c.tmp(f"{r} - 5.0")
    c.emit(f"{out} = {_poly(c, _E, far)} / {_poly(c, _F, far)}")
    c.gen.ind(-1)
    c.emit(f"if {q} < 0.0:")
    c.emit(f"    {out} = -{out}")
    c.gen.ind(-1)
    return out


@lowering("random_uniform", "random_normal", "random_truncated_normal")
def _random(c, op, a):
    step = a[0]
    lin = c.lin
    k0, k1 = fold_seed(op.attrs["seed"]), fold_seed(op.attrs["seed2"])
    l64 = c.tmp(f"u64({lin})")
    blk = c.tmp(f"{l64} >> u64(1)")
    odd = c.tmp(f"({l64} & u64(1)) == u64(1)")
    s64 = c.tmp(f"u64({step})")
    M = "u64(4294967295)"
    w = [c.tmp(f"{blk} & {M}"), c.tmp(f"{blk} >> u64(32)"), c.tmp(f"{s64} & {M}"),
         c.tmp(f"{s64} >> u64(32)")]
    for r in range(10):
        key0 = (k0 + r * _W0) & 0xFFFFFFFF
        key1 = (k1 + r * _W1) & 0xFFFFFFFF
        p0 = c.tmp(f"u64({_M0}) * {w[0]}")
        p1 = c.tmp(f"u64({_M1}) * {w[2]}")
        n0 = c.tmp(f"({p1} >> u64(32)) ^ {w[1]} ^ u64({key0})")
        n2 = c.tmp(f"({p0} >> u64(32)) ^ {w[3]} ^ u64({key1})")
        w = [n0, c.tmp(f"{p1} & {M}"), n2, c.tmp(f"{p0} & {M}")]
    hi = c.tmp(f"({w[2]} if {odd} else {w[0]})")
    lo = c.tmp(f"({w[3]} if {odd} else {w[1]})")
    dt = _out(op)
    if op.opname == "random_uniform" and dt is float32:
        return f"_mul_f32(f32({hi} >> u64(8)), f32({2.0 ** -24!r}))"
    u = c.tmp(f"f64((({hi} << u64(32)) | {lo}) >> u64(11))")
    if op.opname == "random_uniform":
        return f"_mul_f64({u}, {2.0 ** -53!r})"
    u = c.tmp(f"_mul_f64({u} + 0.5, {2.0 ** -53!r})")
    if op.opname == "random_truncated_normal":
        u = c.tmp(f"{PHI_MINUS_2!r} + _mul_f64({u}, {1.0 - 2.0 * PHI_MINUS_2!r})")
    z = _inverse_normal_cdf(c, u)
    return z if dt is float64 else f"f32({z})"




from . import scalar_math  # noqa: E402,F401  (registers ops/math_unary.py's entries)
from . import scalar_quant  # noqa: E402,F401  (registers ops/quant.py's entries)
