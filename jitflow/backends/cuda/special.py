"""digamma and trigamma as device functions (libdevice has neither), in float64: the
recurrence and asymptotic series of ops/math_unary.py with its constants. Plain Python on
``math``: ``cuda.jit(device=True)`` compiles them for the GPU, the simulator calls them.
``x % 1.0`` (in [0, 1)) stands for the reduction by an integer: ``math.floor`` gives an int
in Numba, which no infinity fits; tan and sin**2 have period pi, so any integer shift works."""
from __future__ import annotations

import math

from ...ops.math_unary import DIGAMMA_ASYM, GAMMA_SHIFT, TRIGAMMA_ASYM

_D = DIGAMMA_ASYM
_T = TRIGAMMA_ASYM
_N = GAMMA_SHIFT
_PI = math.pi


def digamma_f64(x):
    if x <= 0.0 and (x % 1.0 == 0.0 or x == -math.inf):    # 0, -1, -2, ..., -inf
        return math.nan
    refl = x < 0.0
    z = 1.0 - x if refl else x
    acc = 0.0
    while z < _N:                # the recurrence psi(z) = psi(z + 1) - 1 / z
        acc += 1.0 / z
        z += 1.0
    t = 1.0 / (z * z)
    p = _D[6]
    p = p * t + _D[5]
    p = p * t + _D[4]
    p = p * t + _D[3]
    p = p * t + _D[2]
    p = p * t + _D[1]
    p = p * t + _D[0]
    out = math.log(z) - 0.5 / z - t * p - acc
    if refl:
        out -= _PI / math.tan(_PI * (x % 1.0))
    return out


def trigamma_f64(x):
    if x <= 0.0 and (x % 1.0 == 0.0 or x == -math.inf):    # 0, -1, -2, ..., -inf
        return math.inf
    refl = x < 0.0
    z = 1.0 - x if refl else x
    acc = 0.0
    while z < _N:                # psi1(z) = psi1(z + 1) + 1 / z**2
        acc += 1.0 / (z * z)
        z += 1.0
    iw = 1.0 / z
    t = iw * iw
    p = _T[6]
    p = p * t + _T[5]
    p = p * t + _T[4]
    p = p * t + _T[3]
    p = p * t + _T[2]
    p = p * t + _T[1]
    p = p * t + _T[0]
    out = iw + 0.5 * t + t * iw * p + acc
    if refl:
        s = math.sin(_PI * (x % 1.0))
        out = _PI * _PI / (s * s) - out
    return out
