"""Random ops on a counter-based generator (Philox-4x32-10).

Element ``i`` of a random op with seeds ``(seed, seed2)`` at run ``step`` is a pure function
of those four numbers: the key is the seed pair, the counter is ``(i // 2, step)``. Every
backend implements the same arithmetic (integer Philox, then IEEE float ops only: +, -, *, /,
sqrt; the logarithm is our own series, not libm) so one seed gives bit-identical values on
NumPy, LLVM and CUDA.

* uniform float32: the top 24 bits of word 0, times 2**-24 (in [0, 1));
* uniform float64: 53 bits of the 64-bit pair, times 2**-53;
* normal: Wichura's AS241 inverse normal CDF of an open-interval 53-bit uniform (one uniform
  per normal, no rejection loop);
* truncated normal (|z| <= 2): the same inverse CDF of a uniform rescaled to [Phi(-2), Phi(2)],
  which is exactly the distribution TF's resampling gives.
Values differ from TensorFlow's stream (documented in the README).
"""
from __future__ import annotations

import numpy as np

from ..ir.dtypes import float32, int64
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType
from .common import require_static_shape

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = np.uint64(0xFFFFFFFF)


def fold_seed(seed: int) -> int:
    seed &= 0xFFFFFFFFFFFFFFFF
    return (seed & 0xFFFFFFFF) ^ (seed >> 32)


def philox4x32(c0, c1, c2, c3, k0: int, k1: int):
    """Philox-4x32 with 10 rounds on uint64 arrays holding 32-bit words."""
    c = [np.asarray(x, np.uint64) & MASK for x in (c0, c1, c2, c3)]
    for r in range(10):
        key0 = np.uint64((k0 + r * W0) & 0xFFFFFFFF)
        key1 = np.uint64((k1 + r * W1) & 0xFFFFFFFF)
        p0 = M0 * c[0]
        p1 = M1 * c[2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & MASK
        hi1, lo1 = p1 >> np.uint64(32), p1 & MASK
        c = [hi1 ^ c[1] ^ key0, lo1, hi0 ^ c[3] ^ key1, lo0]
    return c


def random_words(n: int, seed: int, seed2: int, step: int):
    """Two 32-bit words (hi, lo) per element, as uint64 arrays of length n."""
    blocks = np.arange((n + 1) // 2, dtype=np.uint64)
    step = int(step) & 0xFFFFFFFFFFFFFFFF
    w = philox4x32(blocks & MASK, blocks >> np.uint64(32), np.uint64(step & 0xFFFFFFFF),
                   np.uint64(step >> 32), fold_seed(seed), fold_seed(seed2))
    hi = np.stack([w[0], w[2]], axis=1).reshape(-1)[:n]
    lo = np.stack([w[1], w[3]], axis=1).reshape(-1)[:n]
    return hi, lo


def uniform53(hi, lo, open_interval: bool) -> np.ndarray:
    bits = ((hi << np.uint64(32)) | lo) >> np.uint64(11)
    u = bits.astype(np.float64)
    if open_interval:
        u = u + 0.5
    return u * (2.0 ** -53)


LN2_HI = 6.93147180369123816490e-01   # exact in 32 bits: e * LN2_HI is exact
LN2_LO = 1.90821492927058770002e-10


def series_log(x: np.ndarray) -> np.ndarray:
    """log(x) for x > 0 from +, -, *, / only (reproducible on every backend).

    x = m * 2**e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m-1)/(m+1)."""
    m, e = np.frexp(x)
    small = m < 0.7071067811865476
    m = np.where(small, m * 2.0, m)
    e = np.where(small, e - 1, e).astype(np.float64)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = np.full_like(s, 1.0 / 25.0)
    for k in (23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3):
        p = p * s2 + 1.0 / k
    p = p * s2 + 1.0
    return e * LN2_HI + (e * LN2_LO + 2.0 * s * p)


_A = (3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
      1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
      3.3430575583588128105e+4, 2.5090809287301226727e+3)
_B = (1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
      2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
      5.2264952788528545610e+3)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
      3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
      1.05075007164441684324e-9)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
      2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
      2.04426310338993978564e-15)


def _poly(coeffs, r):
    acc = np.full_like(r, coeffs[-1])
    for c in coeffs[-2::-1]:
        acc = acc * r + c
    return acc


def inverse_normal_cdf(p: np.ndarray) -> np.ndarray:
    """Wichura's AS241 (PPND16), about 1e-16 relative accuracy, for p in (0, 1)."""
    q = p - 0.5
    r_c = 0.180625 - q * q
    central = q * _poly(_A, r_c) / _poly(_B, r_c)
    tail_p = np.where(q < 0, p, 1.0 - p)
    r = np.sqrt(-series_log(tail_p))
    near = r - 1.6
    far = r - 5.0
    tail = np.where(r <= 5.0, _poly(_C, near) / _poly(_D, near), _poly(_E, far) / _poly(_F, far))
    tail = np.where(q < 0, -tail, tail)
    return np.where(np.abs(q) <= 0.425, central, tail)


PHI_MINUS_2 = 0.022750131948179195   # standard normal CDF at -2


def sample(kind: str, shape: tuple, dtype, seed: int, seed2: int, step: int) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    hi, lo = random_words(n, seed, seed2, step)
    if kind == "uniform":
        if dtype is float32:
            out = (hi >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -24)
        else:
            out = uniform53(hi, lo, open_interval=False)
    else:
        u = uniform53(hi, lo, open_interval=True)
        if kind == "truncated_normal":
            u = PHI_MINUS_2 + u * (1.0 - 2.0 * PHI_MINUS_2)
        out = inverse_normal_cdf(u)
    return out.astype(dtype.np).reshape(shape)


RANDOM_ATTRS = {"shape": Attr("ints", ()), "dtype": Attr("dtype", float32),
                "seed": Attr("int", 0), "seed2": Attr("int", 0)}


def _random_infer(types, a):
    if not types or types[0].dtype is not int64 or types[0].rank != 0:
        raise ShapeMismatch("random ops take the run step (an int64 scalar) as operand 0")
    if len(types) > 2:
        raise ShapeMismatch(f"random ops take (step) or (step, like), got {len(types)} operands")
    if not a["dtype"].is_floating:   # float16/bfloat16: drawn in float32 and rounded
        raise TypeError(f"random ops produce floating types, not {a['dtype'].name}")
    shape = types[1].shape if len(types) > 1 else require_static_shape(a["shape"], "random op")
    return TensorType(a["dtype"], shape)


def _make_ref(kind):
    def ref(step, like=None, *, shape, dtype, seed, seed2):
        return sample(kind, like.shape if like is not None else tuple(shape), dtype, seed, seed2,
                      int(step))
    return ref


for _kind in ("uniform", "normal", "truncated_normal"):
    defop(f"random_{_kind}" if _kind != "truncated_normal" else "random_truncated_normal",
          kind="random", cost="expensive",
          infer=_random_infer, reference=_make_ref(_kind), attrs=RANDOM_ATTRS,
          differentiable=False, stateful=True,
          doc=f"{_kind} samples; operands (step) or (step, like) where like gives the shape")
