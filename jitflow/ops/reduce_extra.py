"""Reductions beyond reduce.py's five: reduce_logsumexp (shifted by the finite max; it has
a decomposition into fusable ops) and the logical reduce_all / reduce_any."""
from __future__ import annotations

import numpy as np

from ..ir.opdef import defop
from .reduce import REDUCE_ATTRS, reduce_infer, reduced_axes


def _logsumexp_ref(x, axes, keepdims):
    ax = reduced_axes(x.ndim, axes)
    m = np.max(x, axis=ax, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, np.zeros((), x.dtype))
    out = np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=ax)
    return np.asarray(out, dtype=x.dtype)


def _keep(b, g, x, axes, keepdims):
    if not keepdims:
        for ax in reduced_axes(x.type.rank, axes):
            g = b.expand_dims(g, axis=ax)
    return g


def _logsumexp_grad(b, op, g):
    x = op.operands[0]
    axes, keep = op.attrs["axes"], op.attrs["keepdims"]
    yk = _keep(b, op.result, x, axes, keep)
    gk = _keep(b, g[0], x, axes, keep)
    return [b.mul(gk, b.exp(b.sub(x, yk)))]


def _logsumexp_decompose(b, op):
    """log(sum(exp(x - m))) + m with m the max over the axes, replaced by 0 where it is not
    finite (the reference's shift)."""
    x = op.operands[0]
    dt = x.type.dtype
    ax = reduced_axes(len(x.type.shape), op.attrs["axes"])
    m = b.reduce_max(x, axes=ax, keepdims=True)
    inf = b.const(np.asarray(np.inf, dtype=dt.np), dt)
    finite = b.less(b.abs(m), inf)
    m = b.select(finite, m, b.zeros_like(m))
    s = b.reduce_sum(b.exp(b.sub(x, m)), axes=ax, keepdims=True)
    out = b.add(b.log(s), m)
    if not op.attrs["keepdims"]:
        out = b.reduce_sum(out, axes=ax, keepdims=False)   # drops the size-1 axes
    return out


defop("reduce_logsumexp", kind="library", decompose=_logsumexp_decompose,
      infer=reduce_infer("f"), reference=_logsumexp_ref,
      grad=_logsumexp_grad, attrs=REDUCE_ATTRS, num_inputs=1,
      doc="log(sum(exp(x))) over axes, shifted by the (finite) max")
defop("reduce_all", kind="reduction", combiner="all", infer=reduce_infer("b"), attrs=REDUCE_ATTRS, num_inputs=1,
      reference=lambda x, axes, keepdims: np.asarray(
          np.all(x, axis=reduced_axes(x.ndim, axes), keepdims=keepdims)),
      differentiable=False)
defop("reduce_any", kind="reduction", combiner="any", infer=reduce_infer("b"), attrs=REDUCE_ATTRS, num_inputs=1,
      reference=lambda x, axes, keepdims: np.asarray(
          np.any(x, axis=reduced_axes(x.ndim, axes), keepdims=keepdims)),
      differentiable=False)
