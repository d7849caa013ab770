"""Reductions over axes (None = all) with keepdims: sum, mean, max, min, prod."""
from __future__ import annotations

import numpy as np

from ..ir.opdef import Attr, defop
from ..ir.types import TensorType, normalize_axes
from .common import require_dtype

REDUCE_ATTRS = {"axes": Attr("opt_ints", None), "keepdims": Attr("bool", False)}


def reduced_axes(rank: int, axes) -> tuple:
    return tuple(range(rank)) if axes is None else normalize_axes(axes, rank)


def reduce_infer(kinds="fi"):
    def infer(types, a):
        x = types[0]
        require_dtype(x, kinds)
        if x.shape is None:
            return x
        axes = reduced_axes(x.rank, a["axes"])
        if a["keepdims"]:
            return TensorType(x.dtype, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
        return TensorType(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in axes))
    return infer


def _np_axes(x, axes):
    return reduced_axes(x.ndim, axes)


def _keep(b, g, x, axes, keepdims):
    """g shaped like the reduction result -> shaped with the reduced axes kept as 1."""
    if not keepdims:
        for ax in reduced_axes(x.type.rank, axes):
            g = b.expand_dims(g, axis=ax)
    return g


def _sum_grad(b, op, g):
    x = op.operands[0]
    gk = _keep(b, g[0], x, op.attrs["axes"], op.attrs["keepdims"])
    return [b.broadcast_like(gk, x)]


def _mean_ref(x, axes, keepdims):
    ax = _np_axes(x, axes)
    if x.dtype.kind == "f":
        return np.asarray(np.mean(x, axis=ax, keepdims=keepdims, dtype=x.dtype), dtype=x.dtype)
    s = np.sum(x, axis=ax, keepdims=keepdims, dtype=x.dtype)
    n = int(np.prod([x.shape[i] for i in ax], dtype=np.int64))
    if n == 0:
        return np.zeros_like(s)
    return np.asarray(np.sign(s) * (np.abs(s) // n), dtype=x.dtype)


def _mean_grad(b, op, g):
    x = op.operands[0]
    gk = _keep(b, g[0], x, op.attrs["axes"], op.attrs["keepdims"])
    n = b.size(x, axes=reduced_axes(x.type.rank, op.attrs["axes"]), dtype=x.type.dtype)
    return [b.div(b.broadcast_like(gk, x), n)]


def _extreme_ref(fn, x, axes, keepdims):
    ax = _np_axes(x, axes)
    if x.size == 0:
        init = -np.inf if fn is np.max else np.inf
        if x.dtype.kind != "f":
            info = np.iinfo(x.dtype)
            init = info.min if fn is np.max else info.max
        return np.asarray(fn(x, axis=ax, keepdims=keepdims, initial=init), dtype=x.dtype)
    return np.asarray(fn(x, axis=ax, keepdims=keepdims), dtype=x.dtype)


def _extreme_grad(b, op, g):
    """TF1: the gradient is shared equally among the elements equal to the extreme."""
    x = op.operands[0]
    axes, keep = op.attrs["axes"], op.attrs["keepdims"]
    yk = b.broadcast_like(_keep(b, op.result, x, axes, keep), x)
    ind = b.cast(b.equal(x, yk), dtype=x.type.dtype)
    count = b.reduce_sum(ind, axes=reduced_axes(x.type.rank, axes), keepdims=True)
    gk = _keep(b, g[0], x, axes, keep)
    return [b.mul(b.div(ind, count), b.broadcast_like(gk, x))]


def _prod_grad(b, op, g):
    """Exact with zeros: d/dx_i = product of the others (0 if two or more zeros)."""
    x = op.operands[0]
    axes, keep = op.attrs["axes"], op.attrs["keepdims"]
    ax = reduced_axes(x.type.rank, axes)
    is_zero = b.equal(x, 0)
    nz = b.reduce_sum(b.cast(is_zero, dtype=x.type.dtype), axes=ax, keepdims=True)
    p = b.reduce_prod(b.select(is_zero, b.ones_like(x), x), axes=ax, keepdims=True)
    pb = b.broadcast_like(p, x)
    nzb = b.broadcast_like(nz, x)
    zero = b.zeros_like(x)
    safe_x = b.select(is_zero, b.ones_like(x), x)
    others = b.select(is_zero, b.select(b.equal(nzb, 1), pb, zero),
                      b.select(b.equal(nzb, 0), b.div(pb, safe_x), zero))
    gk = _keep(b, g[0], x, axes, keep)
    return [b.mul(others, b.broadcast_like(gk, x))]


defop("reduce_sum", kind="reduction", combiner="sum", infer=reduce_infer("fi"), attrs=REDUCE_ATTRS, num_inputs=1,
      reference=lambda x, axes, keepdims: np.asarray(
          np.sum(x, axis=_np_axes(x, axes), keepdims=keepdims, dtype=x.dtype), dtype=x.dtype),
      grad=_sum_grad)
defop("reduce_mean", kind="reduction", combiner="mean", infer=reduce_infer("fi"), attrs=REDUCE_ATTRS, num_inputs=1,
      reference=_mean_ref, grad=_mean_grad, doc="integer inputs give a truncating mean, as in TF")
defop("reduce_max", kind="reduction", combiner="max", infer=reduce_infer("fi"), attrs=REDUCE_ATTRS, num_inputs=1,
      reference=lambda x, axes, keepdims: _extreme_ref(np.max, x, axes, keepdims),
      grad=_extreme_grad)
defop("reduce_min", kind="reduction", combiner="min", infer=reduce_infer("fi"), attrs=REDUCE_ATTRS, num_inputs=1,
      reference=lambda x, axes, keepdims: _extreme_ref(np.min, x, axes, keepdims),
      grad=_extreme_grad)
defop("reduce_prod", kind="reduction", combiner="prod", infer=reduce_infer("fi"), attrs=REDUCE_ATTRS, num_inputs=1,
      reference=lambda x, axes, keepdims: np.asarray(
          np.prod(x, axis=_np_axes(x, axes), keepdims=keepdims, dtype=x.dtype), dtype=x.dtype),
      grad=_prod_grad)
