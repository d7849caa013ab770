"""The gamma function's pieces the gamma sampler's gradient needs, in NumPy alone (no SciPy):
``lgamma``, ``digamma`` and ``gamma_sample_der_alpha``, TF's ``RandomGammaGrad``.

A standard gamma sample ``x`` of shape ``a`` is ``P^-1(a, u)`` for a uniform ``u`` (``P``: the
regularized lower incomplete gamma function, the CDF). Holding ``u`` fixed (the implicit
reparameterization), ``dx/da = -(dP/da)(a, x) / p(x; a)`` with the density
``p(x; a) = x^(a-1) e^-x / Gamma(a)``. ``dP/da`` comes from the series

    P(a, x) = sum_n x^(a+n) e^-x / Gamma(a+n+1),
    dP/da   = sum_n x^(a+n) e^-x / Gamma(a+n+1) * (log x - digamma(a+n+1)),

each term computed from its logarithm (none overflows), ``lgamma`` and ``digamma`` of
``a+n+1`` carried along by their recurrences. It converges for every ``x``; after the
largest term (``n ~ x - a``) the terms fall geometrically, so an element costs about
``max(x - a, 0) + 40 sqrt(x) + 40`` terms (elements leave the loop as they converge).
"""
from __future__ import annotations

import math

import numpy as np

_LGAMMA = np.frompyfunc(math.lgamma, 1, 1)


def lgamma(x: np.ndarray) -> np.ndarray:
    """log |Gamma(x)| elementwise (float64)."""
    x = np.asarray(x, np.float64)
    return _LGAMMA(x).astype(np.float64) if x.size else x.copy()


def digamma(x: np.ndarray) -> np.ndarray:
    """psi(x) = d log Gamma(x) / dx for x > 0 (float64): shifted up to x >= 6 by
    psi(x) = psi(x + 1) - 1/x, then the asymptotic series."""
    x = np.array(x, np.float64)
    acc = np.zeros_like(x)
    for _ in range(6):
        small = x < 6.0
        acc = acc - np.where(small, 1.0 / np.where(small, x, 1.0), 0.0)
        x = np.where(small, x + 1.0, x)
    r = 1.0 / (x * x)
    series = r * (1 / 12 - r * (1 / 120 - r * (1 / 252 - r * (1 / 240 - r * (1 / 132)))))
    return acc + np.log(x) - 0.5 / x - series


def gamma_sample_der_alpha(alpha: np.ndarray, x: np.ndarray) -> np.ndarray:
    """d sample / d alpha of standard gamma samples ``x`` (float64, broadcast together):
    TF's RandomGammaGrad. 0 where ``x`` is 0 (an underflowed sample) or not finite."""
    a0, x0 = np.broadcast_arrays(np.asarray(alpha, np.float64), np.asarray(x, np.float64))
    out = np.zeros(a0.shape, np.float64)
    ok = (x0 > 0) & np.isfinite(x0) & (a0 > 0) & np.isfinite(a0)
    a0, x0 = a0[ok], x0[ok]
    if a0.size == 0:
        return out
    a, x, logx = a0, x0, np.log(x0)
    lg0 = lgamma(a0 + 1.0)
    lg = lg0                            # lgamma(a + n + 1), from n = 0 on
    psi = digamma(a0 + 1.0)             # digamma(a + n + 1)
    acc = np.zeros_like(a0)
    peak = np.zeros_like(a0)
    idx = np.arange(a0.size)
    limit = int(np.max(np.maximum(x0 - a0, 0.0) + 40.0 * np.sqrt(x0) + 60.0)) + 10
    n = 0
    while idx.size and n < limit:
        t = np.exp((a + n) * logx - x - lg)
        acc[idx] += t * (logx - psi)
        peak[idx] = np.maximum(peak[idx], t)
        keep = ~((a + n > x) & (t <= 1e-17 * peak[idx]))
        idx, a, x, logx = idx[keep], a[keep], x[keep], logx[keep]
        lg = lg[keep] + np.log(a + n + 1.0)
        psi = psi[keep] + 1.0 / (a + n + 1.0)
        n += 1
    log_density = (a0 - 1.0) * np.log(x0) - x0 - (lg0 - np.log(a0))
    out[ok] = -acc / np.exp(log_density)
    return out
