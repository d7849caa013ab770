"""Sorting, segment reductions and sampling from existing ops, for static sizes.

* ``sort``/``argsort``/``top_k`` compute each element's rank along the last axis by pairwise
  comparison (``rank_i = #{j: x_j before x_i}``, ties by index, so the order is stable) and
  permute with a one-hot product: O(n^2) work and memory per row, meant for the small n of
  class scores; values carry gradients (through the product), indices do not;
* ``unsorted_segment_*`` and ``segment_*`` reduce rows into ``num_segments`` groups through a
  one-hot matrix (sum/mean: a matmul; max/min: a masked reduction);
* ``random_shuffle`` sorts by random keys; ``multinomial``/``random.categorical`` invert the
  cumulative distribution with a fresh uniform draw per run.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import as_dtype, int32, int64
from . import math_ops as M
from .array_ops import expand_dims, identity, reshape, transpose, select as where, zeros_like
from .extra_ops import gather, one_hot
from .graph import Tensor, name_scope
from .op_builder import constant, convert_to_tensor, static_value

__all__ = ["sort", "argsort", "top_k", "unsorted_segment_sum", "unsorted_segment_mean",
           "unsorted_segment_max", "unsorted_segment_min", "segment_sum", "segment_mean",
           "segment_max", "segment_min", "random_shuffle", "multinomial", "categorical"]


def _last_len(x: Tensor, what: str) -> int:
    dims = x.shape.dims
    if dims is None or not dims or dims[-1] is None:
        raise NotImplementedError(f"{what} needs a static last dimension, got {x.shape}")
    return dims[-1]


def _ranks(x: Tensor, descending: bool) -> Tensor:
    """int32 rank of each element along the last axis (stable: ties keep index order)."""
    n = _last_len(x, "sort")
    xi, xj = expand_dims(x, -1), expand_dims(x, -2)          # [..., n, 1], [..., 1, n]
    before = M.greater(xj, xi) if descending else M.less(xj, xi)
    earlier = constant(np.arange(n)[None, :] < np.arange(n)[:, None])   # j < i
    tie = M.logical_and(M.equal(xj, xi), earlier)
    count = M.cast(M.logical_or(before, tie), int32)
    return M.reduce_sum(count, [-1])


def _permute(x: Tensor, ranks: Tensor) -> tuple[Tensor, Tensor]:
    """(values, indices) in rank order along the last axis: a one-hot selection (a select,
    not a product, so infinities stay exact) summed over the source positions."""
    n = _last_len(x, "sort")
    hot = one_hot(ranks, n, dtype=int32)                         # [..., i (source), r]
    sel = M.greater(hot, 0)
    izero = M.multiply(hot, 0)
    xzero = M.cast(izero, x.dtype)
    xb = M.add(expand_dims(x, -1), xzero)
    vals = M.reduce_sum(where(sel, xb, xzero), [-2])
    ib = M.add(constant(np.arange(n, dtype=np.int32).reshape(n, 1)), izero)
    idx = M.reduce_sum(where(sel, ib, izero), [-2])
    return vals, idx


def _moved(x: Tensor, axis: int) -> tuple[Tensor, Optional[list]]:
    r = x.shape.ndims
    a = axis % r
    if a == r - 1:
        return x, None
    perm = [d for d in range(r) if d != a] + [a]
    return transpose(x, perm), list(np.argsort(perm))


def sort(values: Any, axis: int = -1, direction: str = "ASCENDING",
         name: Optional[str] = None) -> Tensor:
    """Values sorted along ``axis`` (stable)."""
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"direction must be ASCENDING or DESCENDING, got {direction!r}")
    with name_scope(name, "sort") as scope:
        x, inv = _moved(convert_to_tensor(values), int(axis))
        vals, _ = _permute(x, _ranks(x, direction == "DESCENDING"))
        return identity(vals if inv is None else transpose(vals, inv), name=scope)


def argsort(values: Any, axis: int = -1, direction: str = "ASCENDING", stable: bool = False,
            name: Optional[str] = None) -> Tensor:
    """Indices that sort ``values`` along ``axis`` (int32; stable)."""
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"direction must be ASCENDING or DESCENDING, got {direction!r}")
    with name_scope(name, "argsort") as scope:
        x, inv = _moved(convert_to_tensor(values), int(axis))
        _, idx = _permute(x, _ranks(x, direction == "DESCENDING"))
        return identity(idx if inv is None else transpose(idx, inv), name=scope)


def top_k(input: Any, k: int = 1, sorted: bool = True, name: Optional[str] = None):
    """``(values, indices)`` of the k largest entries of the last axis, largest first (ties:
    the lower index first, as TF)."""
    with name_scope(name, "TopKV2"):
        x = convert_to_tensor(input)
        n = _last_len(x, "top_k")
        kv = static_value(k)
        if kv is None:          # computed k: a slice of a run-time length
            vals, idx = _permute(x, _ranks(x, True))
            k = convert_to_tensor(k)
            return vals[..., :k], idx[..., :k]
        k = int(np.asarray(kv).reshape(()))
        if not 0 <= k <= n:
            raise ValueError(f"top_k: k={k} must be in [0, {n}] for input {x.shape}")
        vals, idx = _permute(x, _ranks(x, True))
        return vals[..., :k], idx[..., :k]


# ---------------------------------------------------------------------- segments -----------

def _segments(data: Any, segment_ids: Any, num_segments: Any, what: str):
    d = convert_to_tensor(data, name="data")
    ids = convert_to_tensor(segment_ids, name="segment_ids")
    if not ids.dtype.is_integer:
        raise TypeError(f"{what}: segment_ids must be int32/int64, got {ids.dtype.name}")
    if num_segments is None:
        sv = static_value(ids)
        if sv is None:
            raise NotImplementedError(f"{what} of computed segment_ids has a data-dependent "
                                      "number of segments; use unsorted_segment_* with "
                                      "num_segments")
        n = int(np.max(sv)) + 1 if np.size(sv) else 0
    else:
        n = int(np.asarray(static_value(num_segments)).reshape(()))
    ir, dd = ids.shape.dims, d.shape.dims
    if ir is None or dd is None or None in dd[len(ir):] or dd[:len(ir)] != ir and \
            None not in ir and None not in dd[:len(ir)]:
        raise ValueError(f"{what}: segment_ids {ids.shape} must be a prefix of data's shape "
                         f"{d.shape} (with static trailing dims)")
    rest = list(dd[len(ir):])
    m = int(np.prod(rest)) if rest else 1
    flat = reshape(d, [-1, m])
    hot = one_hot(reshape(ids, [-1]), n, dtype=d.dtype)        # [N, n]; -1/out of range: 0
    return d, flat, hot, n, rest


def unsorted_segment_sum(data: Any, segment_ids: Any, num_segments: Any,
                         name: Optional[str] = None) -> Tensor:
    """``out[s] = sum of data[i] with segment_ids[i] == s`` (0 for empty segments)."""
    with name_scope(name, "UnsortedSegmentSum") as scope:
        d, flat, hot, n, rest = _segments(data, segment_ids, num_segments,
                                          "unsorted_segment_sum")
        return reshape(M.matmul(hot, flat, transpose_a=True), [n] + rest, name=scope)


def unsorted_segment_mean(data: Any, segment_ids: Any, num_segments: Any,
                          name: Optional[str] = None) -> Tensor:
    """The mean of each segment (0 for empty segments)."""
    with name_scope(name, "UnsortedSegmentMean") as scope:
        d, flat, hot, n, rest = _segments(data, segment_ids, num_segments,
                                          "unsorted_segment_mean")
        if not d.dtype.is_floating:
            raise TypeError(f"unsorted_segment_mean: float data only, got {d.dtype.name}")
        total = M.matmul(hot, flat, transpose_a=True)
        count = M.reduce_sum(hot, [0], keepdims=True)                 # [1, n]
        safe = M.maximum(transpose(count, [1, 0]), 1.0)
        return reshape(M.truediv(total, safe), [n] + rest, name=scope)


def _segment_extreme(kind: str, data: Any, segment_ids: Any, num_segments: Any,
                     name: Optional[str]) -> Tensor:
    with name_scope(name, f"UnsortedSegment{kind.capitalize()}") as scope:
        d, flat, hot, n, rest = _segments(data, segment_ids, num_segments,
                                          f"unsorted_segment_{kind}")
        info = np.finfo(d.dtype.np) if d.dtype.is_floating else np.iinfo(d.dtype.np)
        fill = info.min if kind == "max" else info.max       # TF's value for empty segments
        hot3 = expand_dims(hot, -1)                                   # [N, n, 1]
        vals = M.add(expand_dims(flat, 1), M.multiply(hot3, 0))       # [N, n, m]
        zeros = zeros_like(vals)
        mask = M.greater(M.add(hot3, zeros), zeros)
        filler = M.add(zeros, constant(np.asarray(fill, d.dtype.np)))
        picked = where(mask, vals, filler)
        red = M.reduce_max(picked, [0]) if kind == "max" else M.reduce_min(picked, [0])
        return reshape(red, [n] + rest, name=scope)


def unsorted_segment_max(data: Any, segment_ids: Any, num_segments: Any,
                         name: Optional[str] = None) -> Tensor:
    """The max of each segment (the dtype's lowest value for empty segments, as TF)."""
    return _segment_extreme("max", data, segment_ids, num_segments, name)


def unsorted_segment_min(data: Any, segment_ids: Any, num_segments: Any,
                         name: Optional[str] = None) -> Tensor:
    """The min of each segment (the dtype's largest value for empty segments, as TF)."""
    return _segment_extreme("min", data, segment_ids, num_segments, name)


def segment_sum(data: Any, segment_ids: Any, name: Optional[str] = None) -> Tensor:
    """Sorted segments; the number of segments comes from constant ``segment_ids``."""
    return unsorted_segment_sum(data, segment_ids, None, name=name or "SegmentSum")


def segment_mean(data: Any, segment_ids: Any, name: Optional[str] = None) -> Tensor:
    return unsorted_segment_mean(data, segment_ids, None, name=name or "SegmentMean")


def segment_max(data: Any, segment_ids: Any, name: Optional[str] = None) -> Tensor:
    return unsorted_segment_max(data, segment_ids, None, name=name or "SegmentMax")


def segment_min(data: Any, segment_ids: Any, name: Optional[str] = None) -> Tensor:
    return unsorted_segment_min(data, segment_ids, None, name=name or "SegmentMin")


# ---------------------------------------------------------------------- sampling -----------

def random_shuffle(value: Any, seed: Optional[int] = None, name: Optional[str] = None) -> Tensor:
    """``value`` with its first dimension (static) in a fresh random order each run."""
    from .random_ops import random_uniform
    with name_scope(name, "RandomShuffle") as scope:
        x = convert_to_tensor(value)
        if not x.shape.dims or x.shape.dims[0] is None:
            raise NotImplementedError(f"random_shuffle needs a static first dimension, got "
                                      f"{x.shape}")
        keys = random_uniform([x.shape.dims[0]], seed=seed)
        perm = argsort(keys)
        return identity(gather(x, perm), name=scope)


def multinomial(logits: Any, num_samples: int, seed: Optional[int] = None,
                name: Optional[str] = None, output_dtype: Any = int64) -> Tensor:
    """``num_samples`` class indices per row of ``logits`` [batch, classes], drawn from
    softmax(logits): the number of cumulative probabilities below a uniform draw."""
    from .array_extra import cumsum
    from .nn import softmax
    from .random_ops import random_uniform
    with name_scope(name, "multinomial") as scope:
        lg = convert_to_tensor(logits, name="logits")
        dims = lg.shape.dims
        if dims is None or len(dims) != 2 or None in dims:
            raise NotImplementedError(f"multinomial needs static [batch, classes] logits, got "
                                      f"{lg.shape}")
        b, c = dims
        s = int(np.asarray(static_value(num_samples)).reshape(()))
        cdf = cumsum(softmax(lg), axis=1)                                  # [b, c]
        u = random_uniform([b, s, 1], dtype=lg.dtype, seed=seed)
        below = M.cast(M.less(expand_dims(cdf, 1), u), int32)               # [b, s, c]
        idx = M.minimum(M.reduce_sum(below, [2]), c - 1)
        return M.cast(idx, as_dtype(output_dtype), name=scope)


def categorical(logits: Any, num_samples: int, dtype: Any = None, seed: Optional[int] = None,
                name: Optional[str] = None) -> Tensor:
    """``tf.random.categorical`` (= multinomial with ``dtype`` defaulting to int64)."""
    return multinomial(logits, num_samples, seed=seed, name=name or "categorical",
                       output_dtype=dtype or int64)
