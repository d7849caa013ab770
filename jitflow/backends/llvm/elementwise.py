"""Per-op LLVM lowerings of elementwise ops: ``LOWER[opname](em, op, args, ctx) -> register``.

``args`` are the operand values as registers (already broadcast: the kernel's loop loads each
leaf at the right index); ``ctx`` gives the element's linear index (random ops) and run-time
parameters (``size``). Adding an elementwise op means adding its entry here.
"""
from __future__ import annotations

from typing import Callable

from ...ir.dtypes import DType, float32, float64
from ...ops.random import LN2_HI, LN2_LO, PHI_MINUS_2, _A, _B, _C, _D, _E, _F, fold_seed
from ...kernels.errors import UnsupportedOp
from .emitter import Emitter, const, fhex, rtype

LOWER: dict[str, Callable] = {}


def lowering(*names: str):
    def deco(fn):
        for n in names:
            LOWER[n] = fn
        return fn
    return deco


def _dt(op, i: int = 0) -> DType:
    return op.operands[i].type.dtype


def _out(op) -> DType:
    return op.results[0].type.dtype


# ------------------------------------------------------------------ arithmetic -------------

_FLOAT_BIN = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv"}
_INT_BIN = {"add": "add", "sub": "sub", "mul": "mul"}


@lowering("add", "sub", "mul", "div")
def _arith(em: Emitter, op, a, ctx):
    dt = _dt(op)
    t = rtype(dt)
    if dt.is_floating:
        return em.op(f"{_FLOAT_BIN[op.opname]} {t} {a[0]}, {a[1]}")
    return em.op(f"{_INT_BIN[op.opname]} {t} {a[0]}, {a[1]}")


def _int_div_guard(em, t, x, y, ctx, unsigned: bool = False):
    """A divisor safe for sdiv/srem (udiv/urem when ``unsigned``): 0 is flagged as an error;
    INT_MIN / -1 (which traps on x86) divides by 1 instead, giving NumPy's wrapped results
    (quotient INT_MIN, remainder 0)."""
    zero = em.op(f"icmp eq {t} {y}, 0")
    ctx.flag_error(zero, "Integer division by zero")
    if unsigned:
        return em.op(f"select i1 {zero}, {t} 1, {t} {y}")
    int_min = -(1 << (31 if t == "i32" else 63))
    ovf = em.op(f"and i1 {em.op(f'icmp eq {t} {x}, {int_min}')}, {em.op(f'icmp eq {t} {y}, -1')}")
    bad = em.op(f"or i1 {zero}, {ovf}")
    return em.op(f"select i1 {bad}, {t} 1, {t} {y}")


@lowering("floordiv")
def _floordiv(em, op, a, ctx):
    dt = _dt(op)
    t = rtype(dt)
    if dt.is_floating:
        q = em.op(f"fdiv {t} {a[0]}, {a[1]}")
        return em.op(f"call {t} @llvm.floor.{dt.short}({t} {q})")
    if dt.is_unsigned:       # floor == truncation for unsigned operands
        return em.op(f"udiv {t} {a[0]}, {_int_div_guard(em, t, a[0], a[1], ctx, True)}")
    y = _int_div_guard(em, t, a[0], a[1], ctx)
    q = em.op(f"sdiv {t} {a[0]}, {y}")
    r = em.op(f"srem {t} {a[0]}, {y}")
    nz = em.op(f"icmp ne {t} {r}, 0")
    # the quotient rounds down when the remainder's sign differs from the divisor's (the
    # form with sign(x xor y) was miscompiled by LLVM 22.1's SLP vectorizer with AVX-512
    # masks beside a floormod stored as i8: element 1 took the divisor guard's mask)
    diff = em.op(f"xor i1 {em.op(f'icmp slt {t} {r}, 0')}, {em.op(f'icmp slt {t} {y}, 0')}")
    adj = em.op(f"and i1 {nz}, {diff}")
    q1 = em.op(f"sub {t} {q}, 1")
    return em.op(f"select i1 {adj}, {t} {q1}, {t} {q}")


@lowering("mod")
def _mod(em, op, a, ctx):
    dt = _dt(op)
    t = rtype(dt)
    if dt.is_floating:
        fn = "jf_fmodf" if dt is float32 else "jf_fmod"
        r = em.op(f"call {t} @{fn}({t} {a[0]}, {t} {a[1]})")
        nz = em.op(f"fcmp one {t} {r}, 0.0")
        rneg = em.op(f"fcmp olt {t} {r}, 0.0")
        yneg = em.op(f"fcmp olt {t} {a[1]}, 0.0")
    elif dt.is_unsigned:
        return em.op(f"urem {t} {a[0]}, {_int_div_guard(em, t, a[0], a[1], ctx, True)}")
    else:
        y = _int_div_guard(em, t, a[0], a[1], ctx)
        r = em.op(f"srem {t} {a[0]}, {y}")
        nz = em.op(f"icmp ne {t} {r}, 0")
        rneg = em.op(f"icmp slt {t} {r}, 0")
        yneg = em.op(f"icmp slt {t} {y}, 0")
    diff = em.op(f"xor i1 {rneg}, {yneg}")
    adj = em.op(f"and i1 {nz}, {diff}")
    r2 = em.op(f"{'fadd' if dt.is_floating else 'add'} {t} {r}, {a[1]}")
    res = em.op(f"select i1 {adj}, {t} {r2}, {t} {r}")
    if dt.is_floating:   # as NumPy: a zero remainder takes the divisor's sign
        z = em.op(f"call {t} @llvm.copysign.{dt.short}({t} 0.0, {t} {a[1]})")
        iszero = em.op(f"fcmp oeq {t} {res}, 0.0")
        res = em.op(f"select i1 {iszero}, {t} {z}, {t} {res}")
    return res


@lowering("pow")
def _pow(em, op, a, ctx):
    dt = _dt(op)
    t = rtype(dt)
    if dt.is_floating:
        fn = "jf_powf" if dt is float32 else "jf_pow"
        return em.op(f"call {t} @{fn}({t} {a[0]}, {t} {a[1]})")
    if dt.is_unsigned:
        return em.op(f"call {t} @jf_ipowu_{t}({t} {a[0]}, {t} {a[1]})")
    # exact, wrapping like NumPy (square-and-multiply); negative exponents are an error
    neg = em.op(f"icmp slt {t} {a[1]}, 0")
    ctx.flag_error(neg, "Integers to negative integer powers are not allowed.")
    return em.op(f"call {t} @jf_ipow_{t}({t} {a[0]}, {t} {a[1]})")


def _minmax(em, op, a, is_max: bool):
    dt = _dt(op)
    t = rtype(dt)
    if dt.is_floating:
        c = em.op(f"fcmp {'oge' if is_max else 'ole'} {t} {a[0]}, {a[1]}")
        r = em.op(f"select i1 {c}, {t} {a[0]}, {t} {a[1]}")
        nan = em.op(f"fcmp uno {t} {a[0]}, 0.0")
        return em.op(f"select i1 {nan}, {t} {a[0]}, {t} {r}")
    c = em.op(f"icmp {_signed(dt, 'sge' if is_max else 'sle')} {t} {a[0]}, {a[1]}")
    return em.op(f"select i1 {c}, {t} {a[0]}, {t} {a[1]}")


LOWER["maximum"] = lambda em, op, a, ctx: _minmax(em, op, a, True)
LOWER["minimum"] = lambda em, op, a, ctx: _minmax(em, op, a, False)

_FCMP = {"equal": "oeq", "not_equal": "une", "less": "olt", "less_equal": "ole",
         "greater": "ogt", "greater_equal": "oge"}
_ICMP = {"equal": "eq", "not_equal": "ne", "less": "slt", "less_equal": "sle",
         "greater": "sgt", "greater_equal": "sge"}


def _signed(dt: DType, pred: str) -> str:
    """An icmp predicate for ``dt``: the signed one (slt) or, unsigned, its u form (ult)."""
    return "u" + pred[1:] if dt.is_unsigned and pred[0] == "s" else pred


@lowering(*_FCMP)
def _compare(em, op, a, ctx):
    dt = _dt(op)
    t = rtype(dt)
    if dt.is_floating:
        return em.op(f"fcmp {_FCMP[op.opname]} {t} {a[0]}, {a[1]}")
    return em.op(f"icmp {_signed(dt, _ICMP[op.opname])} {t} {a[0]}, {a[1]}")


LOWER["logical_and"] = lambda em, op, a, ctx: em.op(f"and i1 {a[0]}, {a[1]}")
LOWER["logical_or"] = lambda em, op, a, ctx: em.op(f"or i1 {a[0]}, {a[1]}")
LOWER["logical_not"] = lambda em, op, a, ctx: em.op(f"xor i1 {a[0]}, true")


@lowering("select")
def _select(em, op, a, ctx):
    return em.op(f"select i1 {a[0]}, {rtype(_out(op))} {a[1]}, {rtype(_out(op))} {a[2]}")


def widen(em: Emitter, x: str, dt: DType) -> str:
    """A narrow type's register as its compute type's (float16 -> float, uint8 -> i32)."""
    if dt.short == "f16":
        return em.op(f"fpext half {x} to float")
    if dt.short == "bf16":   # the 16 bits are a float's upper half
        w = em.op(f"shl i32 {em.op(f'zext i16 {x} to i32')}, 16")
        return em.op(f"bitcast i32 {w} to float")
    ext = "zext" if dt.is_unsigned else "sext"
    return em.op(f"{ext} {rtype(dt)} {x} to i32")


def narrow(em: Emitter, x: str, dt: DType) -> str:
    """A compute-type register rounded (float16, bfloat16: to nearest even) or wrapped (the
    integers) to the narrow ``dt``."""
    if dt.short == "f16":
        return em.op(f"fptrunc float {x} to half")
    if dt.short == "bf16":
        b = em.op(f"bitcast float {x} to i32")
        hi = em.op(f"lshr i32 {b}, 16")
        bias = em.op(f"add i32 {em.op(f'and i32 {hi}, 1')}, 32767")
        rounded = em.op(f"add i32 {b}, {bias}")
        r = em.op(f"trunc i32 {em.op(f'lshr i32 {rounded}, 16')} to i16")
        qnan = em.op(f"trunc i32 {em.op(f'or i32 {hi}, 64')} to i16")   # NaN stays a NaN
        nan = em.op(f"fcmp uno float {x}, 0.0")
        return em.op(f"select i1 {nan}, i16 {qnan}, i16 {r}")
    return em.op(f"trunc i32 {x} to {rtype(dt)}")


@lowering("cast")
def _cast(em, op, a, ctx):
    src, dst = _dt(op), _out(op)
    if src is dst:
        return a[0]
    x = widen(em, a[0], src) if src.is_narrow else a[0]
    y = _cast_wide(em, x, src.compute, dst.compute)
    return narrow(em, y, dst) if dst.is_narrow else y


def _cast_wide(em, x: str, src: DType, dst: DType) -> str:
    """A cast between the wide types (a narrow type's value already widened, exactly)."""
    ts, td = rtype(src), rtype(dst)
    if src is dst:
        return x
    if src.is_floating and dst.is_floating:
        return em.op(f"{'fpext' if dst is float64 else 'fptrunc'} {ts} {x} to {td}")
    if src.is_floating and dst.is_unsigned:
        return _float_to_unsigned(em, x, src, dst)
    if src.is_floating and dst.is_integer:
        # truncate; NaN and out-of-range values give INT_MIN, as the reference (NumPy and TF
        # on x86) does
        lim = float(2 ** (dst.np.itemsize * 8 - 1))
        lo = em.op(f"fcmp oge {ts} {x}, {fhex(-lim)}")
        hi = em.op(f"fcmp olt {ts} {x}, {fhex(lim)}")
        ok = em.op(f"and i1 {lo}, {hi}")
        v = em.op(f"fptosi {ts} {x} to {td}")
        return em.op(f"select i1 {ok}, {td} {v}, {td} {-int(lim)}")
    if src.is_floating and dst.is_bool:
        return em.op(f"fcmp une {ts} {x}, 0.0")
    if src.is_integer and dst.is_floating:
        return em.op(f"{'uitofp' if src.is_unsigned else 'sitofp'} {ts} {x} to {td}")
    if src.is_integer and dst.is_integer:
        if ts == td:         # int32 <-> uint32: the same bits
            return x
        ext = "zext" if src.is_unsigned else "sext"
        return em.op(f"{ext if dst.bits > src.bits else 'trunc'} {ts} {x} to {td}")
    if src.is_integer and dst.is_bool:
        return em.op(f"icmp ne {ts} {x}, 0")
    if src.is_bool and dst.is_floating:
        return em.op(f"uitofp i1 {x} to {td}")
    return em.op(f"zext i1 {x} to {td}")


def _float_to_unsigned(em, x: str, src: DType, dst: DType) -> str:
    """float -> uint32/uint64 as x86's C++ casts (TF's static_cast) do, the reference's rule:
    truncate, through int64 (negative values wrap around; NaN and out-of-range give INT64_MIN's
    bits: 0 as uint32, 2**63 as uint64); uint64 takes [2**63, 2**64) exactly."""
    ts, td = rtype(src), rtype(dst)
    lo = em.op(f"fcmp oge {ts} {x}, {fhex(-2.0 ** 63)}")
    hi = em.op(f"fcmp olt {ts} {x}, {fhex(2.0 ** 63)}")
    ok = em.op(f"and i1 {lo}, {hi}")
    v = em.op(f"select i1 {ok}, i64 {em.op(f'fptosi {ts} {x} to i64')}, i64 {-(1 << 63)}")
    if dst.bits == 32:
        return em.op(f"trunc i64 {v} to i32")
    big = em.op(f"and i1 {em.op(f'fcmp oge {ts} {x}, {fhex(2.0 ** 63)}')}, "
                f"{em.op(f'fcmp olt {ts} {x}, {fhex(2.0 ** 64)}')}")
    return em.op(f"select i1 {big}, {td} {em.op(f'fptoui {ts} {x} to {td}')}, {td} {v}")


# ------------------------------------------------------------------ unary math -------------

@lowering("neg")
def _neg(em, op, a, ctx):
    dt = _dt(op)
    return em.op(f"fneg {rtype(dt)} {a[0]}") if dt.is_floating else em.op(f"sub {rtype(dt)} 0, {a[0]}")


@lowering("abs")
def _abs(em, op, a, ctx):
    dt = _dt(op)
    t = rtype(dt)
    if dt.is_floating:
        return em.op(f"call {t} @llvm.fabs.{dt.short}({t} {a[0]})")
    if dt.is_unsigned:
        return a[0]
    n = em.op(f"sub {t} 0, {a[0]}")
    c = em.op(f"icmp slt {t} {a[0]}, 0")
    return em.op(f"select i1 {c}, {t} {n}, {t} {a[0]}")


@lowering("sign")
def _sign(em, op, a, ctx):
    dt = _dt(op)
    t = rtype(dt)
    x = a[0]
    if dt.is_floating:
        pos = em.op(f"fcmp ogt {t} {x}, 0.0")
        neg = em.op(f"fcmp olt {t} {x}, 0.0")
        r = em.op(f"select i1 {neg}, {t} {const(-1, dt)}, {t} {const(0, dt)}")
        r = em.op(f"select i1 {pos}, {t} {const(1, dt)}, {t} {r}")
        nan = em.op(f"fcmp uno {t} {x}, 0.0")
        return em.op(f"select i1 {nan}, {t} {x}, {t} {r}")
    if dt.is_unsigned:
        return em.op(f"zext i1 {em.op(f'icmp ne {t} {x}, 0')} to {t}")
    pos = em.op(f"icmp sgt {t} {x}, 0")
    neg = em.op(f"icmp slt {t} {x}, 0")
    r = em.op(f"select i1 {neg}, {t} -1, {t} 0")
    return em.op(f"select i1 {pos}, {t} 1, {t} {r}")


@lowering("square")
def _square(em, op, a, ctx):
    dt = _dt(op)
    return em.op(f"{'fmul' if dt.is_floating else 'mul'} {rtype(dt)} {a[0]}, {a[0]}")


@lowering("sqrt")
def _sqrt(em, op, a, ctx):
    dt = _dt(op)
    t = rtype(dt)
    return em.op(f"call {t} @llvm.sqrt.{dt.short}({t} {a[0]})")


@lowering("rsqrt")
def _rsqrt(em, op, a, ctx):
    dt = _dt(op)
    t = rtype(dt)
    s = em.op(f"call {t} @llvm.sqrt.{dt.short}({t} {a[0]})")
    return em.op(f"fdiv {t} {const(1.0, dt)}, {s}")


def _transcendental(f32name: str, f64name: str):
    def lower(em, op, a, ctx):
        dt = _dt(op)
        t = rtype(dt)
        return em.op(f"call {t} @{f32name if dt is float32 else f64name}({t} {a[0]})")
    return lower


LOWER["exp"] = _transcendental("jf_expf", "jf_exp")
LOWER["log"] = _transcendental("jf_logf", "jf_log")
LOWER["tanh"] = _transcendental("jf_tanhf", "jf_tanh")
LOWER["sigmoid"] = _transcendental("jf_sigmoidf", "jf_sigmoid")


@lowering("relu")
def _relu(em, op, a, ctx):
    dt = _dt(op)
    return _minmax(em, op, [a[0], const(0, dt)], True)


# ------------------------------------------------------------------ data-free ops ----------

LOWER["identity"] = lambda em, op, a, ctx: a[0]
LOWER["stop_gradient"] = lambda em, op, a, ctx: a[0]
LOWER["broadcast_like"] = lambda em, op, a, ctx: a[0]
LOWER["fill"] = lambda em, op, a, ctx: a[0]
LOWER["zeros_like"] = lambda em, op, a, ctx: const(0, _out(op))
LOWER["ones_like"] = lambda em, op, a, ctx: const(1, _out(op))


@lowering("add_n")
def _add_n(em, op, a, ctx):
    dt = _out(op)
    acc = a[0]
    for x in a[1:]:
        acc = em.op(f"{'fadd' if dt.is_floating else 'add'} {rtype(dt)} {acc}, {x}")
    return acc


@lowering("size")
def _size(em, op, a, ctx):
    n = ctx.runtime_int(("size", id(op)))
    dt = _out(op)
    if dt.is_floating:
        return em.op(f"sitofp i64 {n} to {rtype(dt)}")
    return n if dt.short == "i64" else em.op(f"trunc i64 {n} to {rtype(dt)}")


# ------------------------------------------------------------------ random (bit-exact) -----

_M0, _M1, _W0, _W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85


def _philox(em: Emitter, c: list[str], k0: int, k1: int) -> list[str]:
    for r in range(10):
        key0 = (k0 + r * _W0) & 0xFFFFFFFF
        key1 = (k1 + r * _W1) & 0xFFFFFFFF
        a0 = em.op(f"zext i32 {c[0]} to i64")
        a2 = em.op(f"zext i32 {c[2]} to i64")
        p0 = em.op(f"mul i64 {a0}, {_M0}")
        p1 = em.op(f"mul i64 {a2}, {_M1}")
        hi0 = em.op(f"trunc i64 {em.op(f'lshr i64 {p0}, 32')} to i32")
        lo0 = em.op(f"trunc i64 {p0} to i32")
        hi1 = em.op(f"trunc i64 {em.op(f'lshr i64 {p1}, 32')} to i32")
        lo1 = em.op(f"trunc i64 {p1} to i32")
        n0 = em.op(f"xor i32 {em.op(f'xor i32 {hi1}, {c[1]}')}, {key0 - (1 << 32) if key0 >= 1 << 31 else key0}")
        n2 = em.op(f"xor i32 {em.op(f'xor i32 {hi0}, {c[3]}')}, {key1 - (1 << 32) if key1 >= 1 << 31 else key1}")
        c = [n0, lo1, n2, lo0]
    return c


def _poly(em: Emitter, coeffs, r: str) -> str:
    acc = fhex(coeffs[-1])
    for cf in coeffs[-2::-1]:
        m = em.op(f"fmul double {acc}, {r}")
        acc = em.op(f"fadd double {m}, {fhex(cf)}")
    return acc


def _series_log(em: Emitter, x: str) -> str:
    """Same operation order as ops.random.series_log (bit-identical results)."""
    bits = em.op(f"bitcast double {x} to i64")
    eb = em.op(f"lshr i64 {bits}, 52")
    e0 = em.op(f"sub i64 {em.op(f'and i64 {eb}, 2047')}, 1022")
    mb = em.op(f"or i64 {em.op(f'and i64 {bits}, 4503599627370495')}, {1022 << 52}")
    m0 = em.op(f"bitcast i64 {mb} to double")
    small = em.op(f"fcmp olt double {m0}, {fhex(0.7071067811865476)}")
    m2 = em.op(f"fmul double {m0}, 2.0")
    m = em.op(f"select i1 {small}, double {m2}, double {m0}")
    e1 = em.op(f"sub i64 {e0}, 1")
    ei = em.op(f"select i1 {small}, i64 {e1}, i64 {e0}")
    e = em.op(f"sitofp i64 {ei} to double")
    s = em.op(f"fdiv double {em.op(f'fsub double {m}, 1.0')}, {em.op(f'fadd double {m}, 1.0')}")
    s2 = em.op(f"fmul double {s}, {s}")
    p = fhex(1.0 / 25.0)
    for k in (23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3):
        p = em.op(f"fadd double {em.op(f'fmul double {p}, {s2}')}, {fhex(1.0 / k)}")
    p = em.op(f"fadd double {em.op(f'fmul double {p}, {s2}')}, 1.0")
    hi = em.op(f"fmul double {e}, {fhex(LN2_HI)}")
    lo = em.op(f"fmul double {e}, {fhex(LN2_LO)}")
    two_s = em.op(f"fmul double 2.0, {s}")
    tail = em.op(f"fadd double {lo}, {em.op(f'fmul double {two_s}, {p}')}")
    return em.op(f"fadd double {hi}, {tail}")


def _inverse_normal_cdf(em: Emitter, p: str) -> str:
    q = em.op(f"fsub double {p}, 0.5")
    rc = em.op(f"fsub double {fhex(0.180625)}, {em.op(f'fmul double {q}, {q}')}")
    central = em.op(f"fdiv double {em.op(f'fmul double {q}, {_poly(em, _A, rc)}')}, {_poly(em, _B, rc)}")
    qneg = em.op(f"fcmp olt double {q}, 0.0")
    one_minus = em.op(f"fsub double 1.0, {p}")
    tail_p = em.op(f"select i1 {qneg}, double {p}, double {one_minus}")
    lg = _series_log(em, tail_p)
    r = em.op(f"call double @llvm.sqrt.f64(double {em.op(f'fneg double {lg}')})")
    near = em.op(f"fsub double {r}, 1.6")
    far = em.op(f"fsub double {r}, 5.0")
    vn = em.op(f"fdiv double {_poly(em, _C, near)}, {_poly(em, _D, near)}")
    vf = em.op(f"fdiv double {_poly(em, _E, far)}, {_poly(em, _F, far)}")
    le5 = em.op(f"fcmp ole double {r}, 5.0")
    tail = em.op(f"select i1 {le5}, double {vn}, double {vf}")
    ntail = em.op(f"fneg double {tail}")
    tail = em.op(f"select i1 {qneg}, double {ntail}, double {tail}")
    aq = em.op(f"call double @llvm.fabs.f64(double {q})")
    isc = em.op(f"fcmp ole double {aq}, 0.425")
    return em.op(f"select i1 {isc}, double {central}, double {tail}")


@lowering("random_uniform", "random_normal", "random_truncated_normal")
def _random(em, op, a, ctx):
    step = a[0]
    lin = ctx.lin
    blk = em.op(f"lshr i64 {lin}, 1")
    odd = em.op(f"trunc i64 {em.op(f'and i64 {lin}, 1')} to i1")
    c0 = em.op(f"trunc i64 {blk} to i32")
    c1 = em.op(f"trunc i64 {em.op(f'lshr i64 {blk}, 32')} to i32")
    c2 = em.op(f"trunc i64 {step} to i32")
    c3 = em.op(f"trunc i64 {em.op(f'lshr i64 {step}, 32')} to i32")
    w = _philox(em, [c0, c1, c2, c3], fold_seed(op.attrs["seed"]), fold_seed(op.attrs["seed2"]))
    hi = em.op(f"select i1 {odd}, i32 {w[2]}, i32 {w[0]}")
    lo = em.op(f"select i1 {odd}, i32 {w[3]}, i32 {w[1]}")
    dt = _out(op)
    if op.opname == "random_uniform" and dt is float32:
        h = em.op(f"uitofp i32 {em.op(f'lshr i32 {hi}, 8')} to float")
        return em.op(f"fmul float {h}, {fhex(2.0 ** -24)}")
    hi64 = em.op(f"zext i32 {hi} to i64")
    lo64 = em.op(f"zext i32 {lo} to i64")
    hs = em.op(f"shl i64 {hi64}, 32")
    bits = em.op(f"or i64 {hs}, {lo64}")
    u = em.op(f"uitofp i64 {em.op(f'lshr i64 {bits}, 11')} to double")
    if op.opname == "random_uniform":
        return em.op(f"fmul double {u}, {fhex(2.0 ** -53)}")
    u = em.op(f"fmul double {em.op(f'fadd double {u}, 0.5')}, {fhex(2.0 ** -53)}")
    if op.opname == "random_truncated_normal":
        u = em.op(f"fadd double {fhex(PHI_MINUS_2)}, "
                  f"{em.op(f'fmul double {u}, {fhex(1.0 - 2.0 * PHI_MINUS_2)}')}")
    z = _inverse_normal_cdf(em, u)
    return z if dt is float64 else em.op(f"fptrunc double {z} to float")


@lowering("check_numerics")
def _check_numerics(em, op, a, ctx):
    """Passes x through; a NaN or Inf sets the kernel's status to this op's message."""
    dt = _dt(op)
    t = rtype(dt)
    ax = em.op(f"call {t} @llvm.fabs.{dt.short}({t} {a[0]})")
    bad = em.op(f"fcmp ueq {t} {ax}, 0x7FF0000000000000")   # true for Inf and for NaN
    ctx.flag_error(bad, op.attrs["message"] + " : Tensor had NaN or Inf values")
    return a[0]


# ---------------------------------------------------------------- NN activations -------
def _call1(em, dt: DType, f32: str, f64: str, x: str) -> str:
    t = rtype(dt)
    return em.op(f"call {t} @{f32 if dt is float32 else f64}({t} {x})")


def _softplus_core(em, dt: DType, x: str) -> str:
    """max(x, 0) + log1p(exp(-|x|)) (NaN-propagating, as np.logaddexp(0, x))."""
    t = rtype(dt)
    ax = em.op(f"call {t} @llvm.fabs.{dt.short}({t} {x})")
    e = _call1(em, dt, "jf_expf", "jf_exp", em.op(f"fneg {t} {ax}"))
    lp = _call1(em, dt, "jf_log1pf", "jf_log1p", e)
    pos = em.op(f"call {t} @llvm.maximum.{dt.short}({t} {x}, {t} {const(0, dt)})")
    return em.op(f"fadd {t} {pos}, {lp}")


@lowering("elu")
def _elu(em, op, a, ctx):
    dt = op.operands[0].type.dtype
    t = rtype(dt)
    pos = em.op(f"fcmp ogt {t} {a[0]}, 0.0")
    neg = _call1(em, dt, "jf_expm1f", "jf_expm1", a[0])
    return em.op(f"select i1 {pos}, {t} {a[0]}, {t} {neg}")


@lowering("leaky_relu")
def _leaky_relu(em, op, a, ctx):
    dt = op.operands[0].type.dtype
    t = rtype(dt)
    pos = em.op(f"fcmp ogt {t} {a[0]}, 0.0")
    neg = em.op(f"fmul {t} {a[0]}, {const(op.attrs['alpha'], dt)}")
    return em.op(f"select i1 {pos}, {t} {a[0]}, {t} {neg}")


@lowering("softplus")
def _softplus(em, op, a, ctx):
    return _softplus_core(em, op.operands[0].type.dtype, a[0])


@lowering("relu6")
def _relu6(em, op, a, ctx):
    dt = op.operands[0].type.dtype
    r = _minmax(em, op, [a[0], const(0, dt)], True)
    return _minmax(em, op, [r, const(6, dt)], False)


@lowering("sigmoid_cross_entropy")
def _sigmoid_xent(em, op, a, ctx):
    """max(x, 0) - x * z + log1p(exp(-|x|))."""
    dt = op.operands[0].type.dtype
    t = rtype(dt)
    x, z = a
    ax = em.op(f"call {t} @llvm.fabs.{dt.short}({t} {x})")
    e = _call1(em, dt, "jf_expf", "jf_exp", em.op(f"fneg {t} {ax}"))
    lp = _call1(em, dt, "jf_log1pf", "jf_log1p", e)
    pos = em.op(f"call {t} @llvm.maximum.{dt.short}({t} {x}, {t} {const(0, dt)})")
    xz = em.op(f"fmul {t} {x}, {z}")
    return em.op(f"fadd {t} {em.op(f'fsub {t} {pos}, {xz}')}, {lp}")


@lowering("bias_add")
def _bias_add_ew(em, op, a, ctx):
    """Along the last axis only (fusion admits no other): the bias is right-aligned."""
    rank = len(op.operands[0].type.shape)
    if op.attrs["axis"] % rank != rank - 1:
        raise UnsupportedOp("llvm", {"bias_add"})   # (fusion admits only the last axis)
    dt = op.operands[0].type.dtype
    return em.op(f"{'fadd' if dt.is_floating else 'add'} {rtype(dt)} {a[0]}, {a[1]}")


# ---------------------------------------------------------------- bitwise (tf.bitwise) ---

for _name, _instr in (("bitwise_and", "and"), ("bitwise_or", "or"), ("bitwise_xor", "xor")):
    LOWER[_name] = (lambda i: lambda em, op, a, ctx:
                    em.op(f"{i} {rtype(_dt(op))} {a[0]}, {a[1]}"))(_instr)
LOWER["invert"] = lambda em, op, a, ctx: em.op(f"xor {rtype(_dt(op))} {a[0]}, -1")


@lowering("left_shift", "right_shift")
def _shift(em, op, a, ctx):
    """x shifted by y clamped to [0, bits - 1] (TF's kernels); right: lshr if unsigned."""
    dt = _dt(op)
    t = rtype(dt)
    top = dt.bits - 1
    big = em.op(f"icmp {_signed(dt, 'sgt')} {t} {a[1]}, {top}")
    y = em.op(f"select i1 {big}, {t} {top}, {t} {a[1]}")
    if not dt.is_unsigned:
        y = em.op(f"select i1 {em.op(f'icmp slt {t} {y}, 0')}, {t} 0, {t} {y}")
    instr = "shl" if op.opname == "left_shift" else ("lshr" if dt.is_unsigned else "ashr")
    return em.op(f"{instr} {t} {a[0]}, {y}")


from . import elementwise_math  # noqa: E402,F401  (registers ops/math_unary.py's lowerings)
from . import elementwise_quant  # noqa: E402,F401  (registers ops/quant.py's lowerings)
