"""Fast vectorizable float32 transcendentals (inline LLVM IR; no ``llvm.exp``-style
intrinsics, which the vectorizer splits back into scalar libm calls). float64 uses libm.

Maximum errors against NumPy float64, measured over every finite float32 input (results
that are normal floats); tests/test_llvm_math.py asserts ``MAX_ERROR`` on dense grids:
  exp     : relative 1e-07 (under 1 ulp) on [-87.34, 88.72]; 0 below -87.34 (NumPy gives
            subnormals there), inf above 88.72
  log     : relative 2.3e-07 on normal and subnormal inputs (absolute 7e-08 on [0.5, 2])
  tanh    : relative 4.2e-07, absolute 4.2e-07 (Eigen-style rational on [-7.9, 7.9])
  sigmoid : 1 / (1 + exp(-x)): absolute 1e-07, relative 1.5e-07
"""
from __future__ import annotations

from .emitter import fhex

#: the documented maximum errors above (what tests/test_llvm_math.py checks)
MAX_ERROR = {
    "exp": {"rel": 1e-7},
    "log": {"rel": 2.3e-7},
    "tanh": {"rel": 4.2e-7, "abs": 4.2e-7},
    "sigmoid": {"abs": 1e-7, "rel": 1.5e-7},
}

_EXP_P = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
          1.6666665459e-1, 5.0000001201e-1)
_TANH_A = (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
           5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
           -2.76076847742355e-16)
_TANH_B = (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
           1.19825839466702e-06)


def _f(v: float) -> str:
    import numpy as np
    return fhex(float(np.float32(v)))


def _horner(var: str, coeffs, prefix: str) -> tuple[list[str], str]:
    """Horner evaluation; coeffs from highest degree to constant term."""
    lines, acc = [], _f(coeffs[0])
    for i, c in enumerate(coeffs[1:]):
        lines.append(f"  %{prefix}m{i} = fmul float {acc}, {var}")
        lines.append(f"  %{prefix}a{i} = fadd float %{prefix}m{i}, {_f(c)}")
        acc = f"%{prefix}a{i}"
    return lines, acc


def _expf() -> str:
    body, p = _horner("%r", _EXP_P, "e")
    return f"""
define internal float @jf_expf(float %x) alwaysinline nounwind readnone {{
  %xc0 = call float @llvm.minnum.f32(float %x, float {_f(88.72283935546875)})
  %xc = call float @llvm.maxnum.f32(float %xc0, float {_f(-87.33654022216797)})
  %t = fmul float %xc, {_f(1.44269504088896341)}
  %n = call float @llvm.floor.f32(float %t)
  %t2 = fadd float %t, {_f(0.5)}
  %nr = call float @llvm.floor.f32(float %t2)
  %a = fmul float %nr, {_f(0.693359375)}
  %r0 = fsub float %xc, %a
  %b = fmul float %nr, {_f(-2.12194440e-4)}
  %r = fsub float %r0, %b
{chr(10).join(body)}
  %rr = fmul float %r, %r
  %q = fmul float {p}, %rr
  %q1 = fadd float %q, %r
  %q2 = fadd float %q1, {_f(1.0)}
  %ni = fptosi float %nr to i32
  ; scale by 2**n in two halves: 2**128 (n for x in [88.38, 88.72]) is not a float
  %nh = ashr i32 %ni, 1
  %nl = sub i32 %ni, %nh
  %e1 = add i32 %nh, 127
  %e2 = shl i32 %e1, 23
  %sc = bitcast i32 %e2 to float
  %e3 = add i32 %nl, 127
  %e4 = shl i32 %e3, 23
  %sc2 = bitcast i32 %e4 to float
  %res0 = fmul float %q2, %sc
  %res = fmul float %res0, %sc2
  %big = fcmp ogt float %x, {_f(88.72283935546875)}
  %small = fcmp olt float %x, {_f(-87.33654022216797)}
  %r1 = select i1 %big, float 0x7FF0000000000000, float %res
  %r2 = select i1 %small, float 0.0, float %r1
  %isnan = fcmp uno float %x, 0.0
  %r3 = select i1 %isnan, float %x, float %r2
  ret float %r3
}}"""


def _logf() -> str:
    coeffs = (1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3, 1.0)
    body, p = _horner("%s2", coeffs, "l")
    return f"""
define internal float @jf_logf(float %x0) alwaysinline nounwind readnone {{
  %sub = fcmp olt float %x0, {_f(1.1754943508222875e-38)}
  %xs = fmul float %x0, {_f(8388608.0)}
  %x = select i1 %sub, float %xs, float %x0
  %eadj = select i1 %sub, i32 -23, i32 0
  %bits = bitcast float %x to i32
  %eb = lshr i32 %bits, 23
  %e0 = sub i32 %eb, 127
  %mb = and i32 %bits, 8388607
  %mb1 = or i32 %mb, 1065353216
  %m0 = bitcast i32 %mb1 to float
  %big = fcmp ogt float %m0, {_f(1.41421356237)}
  %mh = fmul float %m0, {_f(0.5)}
  %m = select i1 %big, float %mh, float %m0
  %e1 = add i32 %e0, %eadj
  %e2 = add i32 %e1, 1
  %e = select i1 %big, i32 %e2, i32 %e1
  %num = fsub float %m, {_f(1.0)}
  %den = fadd float %m, {_f(1.0)}
  %s = fdiv float %num, %den
  %s2 = fmul float %s, %s
{chr(10).join(body)}
  %ts = fmul float %s, {_f(2.0)}
  %lm = fmul float %ts, {p}
  %ef = sitofp i32 %e to float
  %el = fmul float %ef, {_f(0.693147180559945309)}
  %res = fadd float %el, %lm
  %zero = fcmp oeq float %x0, 0.0
  %neg = fcmp olt float %x0, 0.0
  %inf = fcmp oeq float %x0, 0x7FF0000000000000
  %nan = fcmp uno float %x0, 0.0
  %r1 = select i1 %zero, float 0xFFF0000000000000, float %res
  %r2 = select i1 %neg, float 0x7FF8000000000000, float %r1
  %r3 = select i1 %inf, float %x0, float %r2
  %r4 = select i1 %nan, float %x0, float %r3
  ret float %r4
}}"""


def _tanhf() -> str:
    pa, p = _horner("%x2", _TANH_A[::-1], "n")
    pb, q = _horner("%x2", _TANH_B[::-1], "d")
    return f"""
define internal float @jf_tanhf(float %x) alwaysinline nounwind readnone {{
  %c0 = call float @llvm.minnum.f32(float %x, float {_f(7.90531110763549805)})
  %c = call float @llvm.maxnum.f32(float %c0, float {_f(-7.90531110763549805)})
  %x2 = fmul float %c, %c
{chr(10).join(pa)}
  %pn = fmul float {p}, %c
{chr(10).join(pb)}
  %r = fdiv float %pn, {q}
  %ax = call float @llvm.fabs.f32(float %x)
  %tiny = fcmp olt float %ax, {_f(0.0004)}
  %r1 = select i1 %tiny, float %x, float %r
  %nan = fcmp uno float %x, 0.0
  %r2 = select i1 %nan, float %x, float %r1
  ret float %r2
}}"""


def _sigmoidf() -> str:
    return f"""
define internal float @jf_sigmoidf(float %x) alwaysinline nounwind readnone {{
  %n = fneg float %x
  %e = call float @jf_expf(float %n)
  %d = fadd float %e, {_f(1.0)}
  %r = fdiv float {_f(1.0)}, %d
  ret float %r
}}
define internal double @jf_sigmoid(double %x) alwaysinline nounwind {{
  %a = call double @llvm.fabs.f64(double %x)
  %n = fneg double %a
  %e = call double @jf_exp(double %n)
  %d = fadd double %e, 1.0
  %p = fdiv double 1.0, %d
  %q = fdiv double %e, %d
  %pos = fcmp oge double %x, 0.0
  %r = select i1 %pos, double %p, double %q
  ret double %r
}}"""


DECLS = """
declare float @llvm.minnum.f32(float, float)
declare float @llvm.maxnum.f32(float, float)
declare float @llvm.floor.f32(float)
declare double @llvm.floor.f64(double)
declare float @llvm.fabs.f32(float)
declare double @llvm.fabs.f64(double)
declare float @llvm.sqrt.f32(float)
declare double @llvm.sqrt.f64(double)
declare float @llvm.maximum.f32(float, float)
declare float @llvm.minimum.f32(float, float)
declare double @llvm.maximum.f64(double, double)
declare double @llvm.minimum.f64(double, double)
declare float @llvm.copysign.f32(float, float)
declare double @llvm.copysign.f64(double, double)
declare double @jf_exp(double) nounwind
declare double @jf_log(double) nounwind
declare double @jf_tanh(double) nounwind
declare double @jf_pow(double, double) nounwind
declare float @jf_powf(float, float) nounwind
declare double @jf_fmod(double, double) nounwind
declare float @jf_fmodf(float, float) nounwind
declare void @GOMP_parallel(ptr, ptr, i32, i32)
@jf_num_threads = external global i32
declare i32 @omp_get_thread_num()
declare i32 @omp_get_num_threads()
declare i32 @omp_get_max_threads()
declare i32 @jf_blas_get_threads() nounwind
declare void @jf_blas_set_threads(i32) nounwind
declare void @jf_cblas_sgemm(i32, i32, i32, i64, i64, i64, float, ptr, i64, ptr, i64, float, ptr, i64)
declare void @jf_cblas_dgemm(i32, i32, i32, i64, i64, i64, double, ptr, i64, ptr, i64, double, ptr, i64)
"""


def _ipow(t: str, unsigned: bool = False) -> str:
    """Integer power by square-and-multiply, wrapping (so equal to NumPy's modulo 2**bits);
    x**0 == 1; a negative exponent gives 1 (the caller flags it as an error). ``unsigned``:
    ``jf_ipowu_*``, whose exponent is unsigned (2**31 and above are large, not negative)."""
    return f"""
define internal {t} @jf_ipow{'u' if unsigned else ''}_{t}({t} %x, {t} %y) nounwind readnone {{
entry:
  %pos = icmp {'ne' if unsigned else 'sgt'} {t} %y, 0
  br i1 %pos, label %loop, label %done
loop:
  %r = phi {t} [1, %entry], [%r2, %loop]
  %b = phi {t} [%x, %entry], [%b2, %loop]
  %e = phi {t} [%y, %entry], [%e2, %loop]
  %bit = and {t} %e, 1
  %odd = icmp ne {t} %bit, 0
  %rb = mul {t} %r, %b
  %r2 = select i1 %odd, {t} %rb, {t} %r
  %b2 = mul {t} %b, %b
  %e2 = lshr {t} %e, 1
  %more = icmp ne {t} %e2, 0
  br i1 %more, label %loop, label %done
done:
  %res = phi {t} [1, %entry], [%r2, %loop]
  ret {t} %res
}}"""


def _expm1f_log1pf() -> str:
    """float32 expm1 and log1p (elu, softplus, sigmoid cross-entropy); float64 calls libm."""
    return f"""
declare double @jf_expm1(double) nounwind
declare double @jf_log1p(double) nounwind

; expm1 for float32: a Taylor polynomial near 0 (where exp(x) - 1 cancels), exp(x) - 1 beyond
define internal float @jf_expm1f(float %x) alwaysinline nounwind readnone {{
  %e = call float @jf_expf(float %x)
  %big = fsub float %e, {_f(1.0)}
  %ax = call float @llvm.fabs.f32(float %x)
  %small = fcmp olt float %ax, {_f(0.0625)}
  %p0 = fmul float %x, {_f(1 / 720)}
  %p1 = fadd float %p0, {_f(1 / 120)}
  %p2 = fmul float %p1, %x
  %p3 = fadd float %p2, {_f(1 / 24)}
  %p4 = fmul float %p3, %x
  %p5 = fadd float %p4, {_f(1 / 6)}
  %p6 = fmul float %p5, %x
  %p7 = fadd float %p6, {_f(0.5)}
  %p8 = fmul float %p7, %x
  %p9 = fmul float %p8, %x
  %p = fadd float %p9, %x
  %r = select i1 %small, float %p, float %big
  ret float %r
}}

; log1p for float32 (Goldberg): log(1 + u) * u / ((1 + u) - 1); u where 1 + u rounds to 1
define internal float @jf_log1pf(float %u) alwaysinline nounwind readnone {{
  %w = fadd float %u, {_f(1.0)}
  %d = fsub float %w, {_f(1.0)}
  %l = call float @jf_logf(float %w)
  %q = fdiv float %u, %d
  %r0 = fmul float %l, %q
  %tiny = fcmp oeq float %d, 0.0
  %r1 = select i1 %tiny, float %u, float %r0
  %inf = fcmp oeq float %u, 0x7FF0000000000000
  %r = select i1 %inf, float %u, float %r1
  ret float %r
}}
"""


def library() -> str:
    return (DECLS + _expf() + _logf() + _tanhf() + _sigmoidf() + _ipow("i32") + _ipow("i64")
            + _ipow("i32", True) + _ipow("i64", True) + "\n"
            + "\n" + _expm1f_log1pf())
