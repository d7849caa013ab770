"""TF1's sharded and sparse embedding lookups: ``tf.nn.embedding_lookup`` over a list of
partitioned tables (``partition_strategy`` "mod" or "div") and with ``max_norm``,
``tf.nn.embedding_lookup_sparse`` and ``tf.nn.safe_embedding_lookup_sparse`` /
``tf.contrib.layers.safe_embedding_lookup_sparse``.

All are compositions of existing ops, so their gradients flow to the tables (and weights):

* a list of P shards is one table, the shards concatenated along axis 0; an id is mapped to
  its row there by TF's partition arithmetic (mod: shard ``id % P``, row ``id // P``; div:
  TF's contiguous assignment over the total row count). An id outside every shard is mapped
  past the table's end, so the gather fails as TF's lookup in the shard does.
* the per-row combination is a scatter-add (``gather_grad``, whose gradient is a gather) into
  zeros of a row count computed at run time (``zeros_of_shape``): ``max(row id) + 1`` rows for
  embedding_lookup_sparse (TF's SegmentSum over ``sp_ids.indices[:, 0]``), ``dense_shape``'s
  leading dims for the safe version, whose pruned entries (invalid ids, non-positive weights)
  are weighted 0 instead of removed, so no shape depends on which entries survive.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import bfloat16, float16, float32, int32, int64
from . import math_ops as M
from .array_ops import identity, reshape, where
from .graph import Tensor, name_scope
from .op_builder import constant, convert_to_tensor, make_op, static_value
from .tf_logging import warning

__all__ = ["embedding_lookup_sparse", "safe_embedding_lookup_sparse"]

_COMBINERS = ("mean", "sqrtn", "sum")


def param_list(params: Any, what: str = "embedding_lookup") -> list:
    """``params`` (a tensor, a variable, a list of them, a PartitionedVariable) as a list."""
    if params is None or (isinstance(params, (list, tuple)) and not params):
        raise ValueError(f"{what}: need at least one param, got {params!r}")
    if hasattr(params, "_get_variable_list"):          # a PartitionedVariable
        params = params._get_variable_list()
    return list(params) if isinstance(params, (list, tuple)) else [params]


def lookup(params: Any, ids: Any, partition_strategy: str = "mod", max_norm: Any = None,
           name: Optional[str] = None) -> Tensor:
    """``tf.nn.embedding_lookup``: the rows ``ids`` of one table or of P shards."""
    plist = param_list(params)
    with name_scope(name, "embedding_lookup") as scope:
        tables = [convert_to_tensor(p, name="params") for p in plist]
        i = convert_to_tensor(ids, name="ids")
        if not i.dtype.is_integer:
            raise TypeError(f"embedding_lookup: ids must be int32 or int64, got {i.dtype.name}")
        if len(tables) == 1 and max_norm is None:
            return make_op("GatherV2", "gather", [tables[0], i], {"axis": 0}, scope).outputs[0]
        if len(tables) == 1:
            out = make_op("GatherV2", "gather", [tables[0], i], {"axis": 0}).outputs[0]
        else:
            out = _sharded(tables, i, partition_strategy)
        if max_norm is not None:
            from .extra_ops import clip_by_norm
            rank, prank = i.shape.ndims, out.shape.ndims
            if rank is None or prank is None:
                raise ValueError("embedding_lookup(max_norm=...) needs ids and params of known "
                                 f"rank, got ids {i.shape} and a result of shape {out.shape}")
            out = clip_by_norm(out, max_norm, axes=list(range(rank, prank)))
        return identity(out, name=scope)


def _sharded(tables: list, ids: Tensor, strategy: str) -> Tensor:
    """The rows of P shards, as one gather from their concatenation."""
    from .extra_ops import concat
    if strategy not in ("mod", "div"):
        raise ValueError(f"Unrecognized partition strategy: {strategy}")
    sizes = []
    for t in tables:
        d = t.shape.dims
        if d is None or not d or d[0] is None:
            raise ValueError(f"embedding_lookup: a sharded table needs shards of static first "
                             f"dimension, got {t.name} of shape {t.shape}")
        sizes.append(int(d[0]))
    trail = {tuple(t.shape.dims[1:]) for t in tables}
    if len(trail) != 1:
        raise ValueError(f"embedding_lookup: the shards must have the same shape but for the "
                         f"first dimension, got {[t.shape.as_list() for t in tables]}")
    n, total = len(tables), sum(sizes)
    dt = ids.dtype
    c = lambda v: constant(np.asarray(v, dt.np))                            # noqa: E731
    if strategy == "mod":
        part = M.floormod(ids, c(n))
        new = M.floordiv(ids, c(n))
    else:
        per, extras = divmod(total, n)
        if per == 0:
            raise ValueError(f"embedding_lookup: partition_strategy 'div' over {n} shards "
                             f"needs at least {n} rows, the shards have {total}")
        part = M.maximum(M.floordiv(ids, c(per + 1)), M.floordiv(ids - c(extras), c(per)))
        new = where(M.less(part, c(extras)), M.floormod(ids, c(per + 1)),
                    M.floormod(ids - c(extras), c(per)))
    clipped = M.minimum(M.maximum(part, c(0)), c(n - 1))
    offsets = c(np.cumsum([0] + sizes[:-1]))
    size = make_op("GatherV2", "gather", [c(sizes), clipped], {"axis": 0}).outputs[0]
    start = make_op("GatherV2", "gather", [offsets, clipped], {"axis": 0}).outputs[0]
    bad = M.logical_or(M.logical_or(M.less(ids, c(0)), M.not_equal(part, clipped)),
                       M.logical_or(M.less(new, c(0)), M.greater_equal(new, size)))
    row = where(bad, M.add(M.multiply(ids, c(0)), c(total)), M.add(start, new))
    return make_op("GatherV2", "gather", [concat(tables, 0), row], {"axis": 0}).outputs[0]


# ------------------------------------------------------------------ sparse lookups ---------

def _is_sparse(x: Any) -> bool:
    return all(hasattr(x, a) for a in ("indices", "values", "dense_shape"))


def _combiner(combiner: Optional[str]) -> str:
    if combiner is None:
        warning('The default value of combiner will change from "mean" to "sqrtn" after '
                '2016/11/01.')
        combiner = "mean"
    if combiner not in _COMBINERS:
        raise ValueError(f"combiner must be one of 'mean', 'sqrtn' or 'sum', got {combiner!r}")
    return combiner


def _segment_sum(data: Tensor, rows: Tensor, num_rows: Any) -> Tensor:
    """``out[r] = sum of data[k] with rows[k] == r`` for ``num_rows`` (run-time) rows."""
    from .dynamic_shape import computed_zeros
    rest = data.shape.dims[1:] if data.shape.dims is not None else None
    if rest is None or None in rest:
        raise ValueError(f"embedding_lookup_sparse: the embeddings need static trailing "
                         f"dimensions, got shape {data.shape}")
    like = computed_zeros([num_rows] + [int(d) for d in rest], "embedding_lookup_sparse")
    return make_op("UnsortedSegmentSum", "gather_grad", [data, rows, like],
                   {"axis": 0}).outputs[0]


def _per_row(w: Tensor, like: Tensor) -> Tensor:
    """``w`` [N] reshaped to [N, 1, ...] to scale rows of ``like`` [N, ...]."""
    extra = (like.shape.ndims or 1) - 1
    return reshape(w, [-1] + [1] * extra) if extra else w


def _float_embeddings(emb: Tensor) -> Tensor:
    return M.cast(emb, float32) if emb.dtype in (float16, bfloat16) else emb


def embedding_lookup_sparse(params: Any, sp_ids: Any, sp_weights: Any,
                            partition_strategy: str = "mod", name: Optional[str] = None,
                            combiner: Optional[str] = None, max_norm: Any = None) -> Tensor:
    """``tf.nn.embedding_lookup_sparse``: per row of ``sp_ids`` (its indices' first column)
    the sum, mean or sqrt-n-weighted sum of the embeddings of its ids, weighted by
    ``sp_weights``' values (1 when None). The result has ``max(row) + 1`` rows (rows without
    ids are zeros; with weights, mean and sqrtn give 0/0 there, as TF's division does)."""
    combiner = _combiner(combiner)
    plist = param_list(params, "embedding_lookup_sparse")
    if not _is_sparse(sp_ids):
        raise TypeError(f"sp_ids must be SparseTensor, got {type(sp_ids).__name__}")
    if sp_weights is not None:
        if not _is_sparse(sp_weights):
            raise TypeError(f"sp_weights must be either None or SparseTensor, got "
                            f"{type(sp_weights).__name__}")
        for part in ("values", "indices", "dense_shape"):
            a = convert_to_tensor(getattr(sp_ids, part)).shape
            b = convert_to_tensor(getattr(sp_weights, part)).shape
            if not a.is_compatible_with(b):
                raise ValueError(f"embedding_lookup_sparse: sp_ids.{part} of shape {a} and "
                                 f"sp_weights.{part} of shape {b} are incompatible")
    with name_scope(name, "embedding_lookup_sparse") as scope:
        idx = convert_to_tensor(sp_ids.indices)
        rows = M.cast(idx[:, 0], int32)
        n = M.maximum(M.add(M.reduce_max(rows), 1), 0)
        emb = _float_embeddings(lookup(plist, sp_ids.values, partition_strategy, max_norm))
        if sp_weights is not None:
            w = M.cast(convert_to_tensor(sp_weights.values), emb.dtype)
            total = _segment_sum(M.multiply(emb, _per_row(w, emb)), rows, n)
            if combiner == "sum":
                return identity(total, name=scope)
            den = _segment_sum(_per_row(w if combiner == "mean" else M.square(w), emb),
                               rows, n)
            den = den if combiner == "mean" else M.sqrt(den)
            return M.truediv(total, den, name=scope)
        total = _segment_sum(emb, rows, n)
        if combiner == "sum":
            return identity(total, name=scope)
        count = _segment_sum(_per_row(M.cast(M.greater_equal(rows, 0), emb.dtype), emb), rows, n)
        count = M.maximum(count, 1.0)                  # empty rows: 0 (TF's sparse segment ops)
        return M.truediv(total, count if combiner == "mean" else M.sqrt(count), name=scope)


def _static_rank(sp: Any) -> int:
    shape = convert_to_tensor(sp.dense_shape)
    idx = convert_to_tensor(sp.indices)
    if shape.shape.dims is not None and shape.shape.dims[0] is not None:
        return int(shape.shape.dims[0])
    if idx.shape.dims is not None and len(idx.shape.dims) == 2 and idx.shape.dims[1] is not None:
        return int(idx.shape.dims[1])
    raise ValueError("safe_embedding_lookup_sparse: the rank of sparse_ids must be known at "
                     "graph build; give the placeholder its shape, e.g. "
                     "tf.sparse_placeholder(tf.int64, shape=[None, None])")


def safe_embedding_lookup_sparse(embedding_weights: Any, sparse_ids: Any,
                                 sparse_weights: Any = None, combiner: Optional[str] = "mean",
                                 default_id: Any = None, name: Optional[str] = None,
                                 partition_strategy: str = "div",
                                 max_norm: Any = None) -> Tensor:
    """``tf.nn.safe_embedding_lookup_sparse``: embedding_lookup_sparse of ``sparse_ids``
    [d_0, ..., d_n] over its last dim, giving [d_0, ..., d_{n-1}, dim...]: ids < 0 are dropped,
    and (but for the sum combiner) ids whose weight is not positive; a row left without ids is
    the embedding of ``default_id`` (zeros when None)."""
    combiner = _combiner(combiner)
    if embedding_weights is None:
        raise ValueError(f"Missing embedding_weights {embedding_weights}.")
    plist = param_list(embedding_weights, "safe_embedding_lookup_sparse")
    if not _is_sparse(sparse_ids):
        raise TypeError(f"sparse_ids must be SparseTensor, got {type(sparse_ids).__name__}")
    if sparse_weights is not None and not _is_sparse(sparse_weights):
        raise TypeError(f"sparse_weights must be either None or SparseTensor, got "
                        f"{type(sparse_weights).__name__}")
    wvals = None if sparse_weights is None else convert_to_tensor(sparse_weights.values)
    tables = [convert_to_tensor(p) for p in plist]
    dts = {t.dtype for t in tables} | ({wvals.dtype} if wvals is not None else set())
    if len(dts) != 1 or not next(iter(dts)).is_floating:
        raise ValueError(f"safe_embedding_lookup_sparse: the embedding weights and sparse "
                         f"weights must have one float dtype, got {sorted(d.name for d in dts)}")
    rank = _static_rank(sparse_ids)
    with name_scope(name, "embedding_lookup") as scope:
        idx = M.cast(convert_to_tensor(sparse_ids.indices), int64)
        shape = M.cast(convert_to_tensor(sparse_ids.dense_shape), int64)
        ids = convert_to_tensor(sparse_ids.values)
        lead = [shape[k] for k in range(rank - 1)]
        row = idx[:, 0]
        for k in range(1, rank - 1):
            row = M.add(M.multiply(row, lead[k]), idx[:, k])
        num_rows = lead[0]
        for d in lead[1:]:
            num_rows = M.multiply(num_rows, d)
        zero = M.multiply(ids, 0)
        valid = M.greater_equal(ids, zero)
        if wvals is not None and combiner != "sum":
            valid = M.logical_and(valid, M.greater(wvals, M.multiply(wvals, 0)))
        emb = _float_embeddings(lookup(tables, where(valid, ids, zero), partition_strategy,
                                       max_norm))
        on = M.cast(valid, emb.dtype)
        w = on if wvals is None else M.multiply(M.cast(wvals, emb.dtype), on)
        rows32 = M.cast(row, int32)
        n = M.cast(num_rows, int32)
        total = _segment_sum(M.multiply(emb, _per_row(w, emb)), rows32, n)
        if combiner != "sum":
            den = _segment_sum(_per_row(w if combiner == "mean" else M.square(w), emb),
                               rows32, n)
            den = where(M.greater(den, 0.0), den, M.add(M.multiply(den, 0.0), 1.0))
            total = M.truediv(total, den if combiner == "mean" else M.sqrt(den))
        if default_id is not None:               # total is 0 on empty rows: add the default
            count = _segment_sum(_per_row(on, emb), rows32, n)
            empty = M.cast(M.equal(count, 0.0), emb.dtype)
            dflt = _float_embeddings(lookup(tables, constant(np.asarray([default_id],
                                                                        ids.dtype.np)),
                                            partition_strategy, max_norm))
            total = M.add(total, M.multiply(empty, dflt))
        if rank == 2:
            return identity(total, name=scope)
        from .extra_ops import concat
        trail = [int(d) for d in total.shape.dims[1:]]
        out_shape = concat([M.cast(shape[:rank - 1], int32),
                            constant(np.asarray(trail, np.int32))], 0)
        out = reshape(total, out_shape, name=scope)
        known = static_value(shape)
        out.set_shape([None if known is None else int(known[k]) for k in range(rank - 1)]
                      + trail)
        return out


def contrib_safe_embedding_lookup_sparse(embedding_weights: Any, sparse_ids: Any,
                                         sparse_weights: Any = None,
                                         combiner: Optional[str] = None,
                                         default_id: Any = None, name: Optional[str] = None,
                                         partition_strategy: str = "div",
                                         max_norm: Any = None) -> Tensor:
    """``tf.contrib.layers.safe_embedding_lookup_sparse``: the same, but ``combiner``
    defaults to None (TF1: "mean", with a warning)."""
    return safe_embedding_lookup_sparse(embedding_weights, sparse_ids, sparse_weights,
                                        combiner, default_id, name, partition_strategy,
                                        max_norm)
