"""``tf.nn.nce_loss`` and ``tf.nn.sampled_softmax_loss`` (TF1 semantics) from existing ops:
the true classes' and sampled candidates' logits from rows of ``weights``/``biases`` (a list
of shards looked up with ``partition_strategy`` "mod" or "div"), the sampled candidates from
``log_uniform_candidate_sampler(unique=True)`` unless ``sampled_values`` are given,
``subtract_log_q`` (logits minus the log of the expected counts) and
``remove_accidental_hits`` (a sampled candidate equal to one of the row's true classes gets
the logit ``-FLT_MAX``: it drops out of the loss)."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from ..ir.dtypes import int64
from . import math_ops as M
from .array_ops import expand_dims, ones_like, reshape, stop_gradient, zeros_like
from .candidate_sampling import log_uniform_candidate_sampler
from .extra_ops import concat, gather, reduce_any
from .graph import Tensor, name_scope
from .nn import sigmoid_cross_entropy_with_logits, softmax_cross_entropy_with_logits_v2
from .op_builder import convert_to_tensor

__all__ = ["nce_loss", "sampled_softmax_loss"]

_FLT_MAX = float(np.finfo(np.float32).max)


def _shards(params: Any) -> list:
    if isinstance(params, (list, tuple)):
        if not params:
            raise ValueError("nce_loss/sampled_softmax_loss: weights/biases is an empty list")
        return [convert_to_tensor(p) for p in params]
    return [convert_to_tensor(params)]


def _lookup(params: Sequence[Tensor], ids: Tensor, strategy: str) -> Tensor:
    """Rows ``ids`` of the concatenation of ``params`` as TF shards it: "mod" puts id i in
    shard i % P at row i // P, "div" gives each shard a contiguous range."""
    if len(params) == 1:
        return gather(params[0], ids)
    if strategy not in ("mod", "div"):
        raise ValueError(f"partition_strategy must be 'mod' or 'div', got {strategy!r}")
    sizes = [p.shape.dims[0] if p.shape.dims else None for p in params]
    if None in sizes:
        raise ValueError(f"a sharded lookup needs each shard's row count known at graph "
                         f"build, got {[str(p.shape) for p in params]}")
    n = len(params)
    starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    out = None
    for i, p in enumerate(params):
        if strategy == "mod":
            mine, row = M.equal(M.floormod(ids, n), i), M.floordiv(ids, n)
        else:
            mine = M.logical_and(M.greater_equal(ids, starts[i]), M.less(ids, starts[i + 1]))
            row = M.subtract(ids, starts[i])
        row = M.minimum(M.maximum(row, 0), sizes[i] - 1)
        rows = gather(p, row)
        keep = M.cast(mine, rows.dtype)
        if rows.shape.ndims > 1:
            keep = reshape(keep, [-1] + [1] * (rows.shape.ndims - 1))
        part = M.multiply(rows, keep)
        out = part if out is None else M.add(out, part)
    return out


def _compute_sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes,
                            num_true, sampled_values, subtract_log_q, remove_accidental_hits,
                            partition_strategy, seed=None):
    """(logits [batch, num_true + num_sampled], labels of the same shape) as TF builds them."""
    num_true = int(num_true)
    w, b = _shards(weights), _shards(biases)
    x = convert_to_tensor(inputs, name="inputs")
    labels = convert_to_tensor(labels, name="labels")
    if labels.dtype is not int64:
        labels = M.cast(labels, int64)
    labels = reshape(labels, [-1, num_true])
    if sampled_values is None:
        sampled_values = log_uniform_candidate_sampler(labels, num_true, num_sampled, True,
                                                       num_classes, seed=seed)
    sampled, true_count, sampled_count = (stop_gradient(convert_to_tensor(v))
                                          for v in sampled_values)
    if sampled.dtype is not int64:
        sampled = M.cast(sampled, int64)
    true_count, sampled_count = (c if c.dtype is x.dtype else M.cast(c, x.dtype)
                                 for c in (true_count, sampled_count))
    dim = x.shape.dims[-1] if x.shape.dims else None
    if dim is None:
        raise ValueError(f"inputs must be [batch, dim] with dim known, got {x.shape}")
    true_w = reshape(_lookup(w, reshape(labels, [-1]), partition_strategy),
                     [-1, num_true, dim])
    true_b = reshape(_lookup(b, reshape(labels, [-1]), partition_strategy), [-1, num_true])
    true_logits = M.add(M.reduce_sum(M.multiply(expand_dims(x, 1), true_w), axis=2), true_b)
    sampled_w = _lookup(w, sampled, partition_strategy)                    # [S, dim]
    sampled_b = _lookup(b, sampled, partition_strategy)                    # [S]
    sampled_logits = M.add(M.matmul(x, sampled_w, transpose_b=True), sampled_b)
    if remove_accidental_hits:
        hits = reduce_any(M.equal(expand_dims(labels, 2), reshape(sampled, [1, 1, -1])),
                          axis=1)                                          # [batch, S]
        sampled_logits = M.add(sampled_logits, M.multiply(M.cast(hits, sampled_logits.dtype),
                                                          -_FLT_MAX))
    if subtract_log_q:
        true_logits = M.subtract(true_logits, M.log(true_count))
        sampled_logits = M.subtract(sampled_logits, M.log(sampled_count))
    logits = concat([true_logits, sampled_logits], 1)
    out_labels = concat([M.truediv(ones_like(true_logits), float(num_true)),
                         zeros_like(sampled_logits)], 1)
    return logits, out_labels


def nce_loss(weights: Any, biases: Any, labels: Any, inputs: Any, num_sampled: int,
             num_classes: int, num_true: int = 1, sampled_values: Any = None,
             remove_accidental_hits: bool = False, partition_strategy: str = "mod",
             name: str = "nce_loss") -> Tensor:
    """Noise-contrastive estimation loss per example, [batch]: the sigmoid cross-entropy of
    the true classes (label 1/num_true) and the sampled ones (label 0), summed per row."""
    with name_scope(name, "nce_loss"):
        logits, lab = _compute_sampled_logits(
            weights, biases, labels, inputs, num_sampled, num_classes, num_true,
            sampled_values, True, remove_accidental_hits, partition_strategy)
        losses = sigmoid_cross_entropy_with_logits(labels=lab, logits=logits,
                                                   name="sampled_losses")
        return M.reduce_sum(losses, axis=1)


def sampled_softmax_loss(weights: Any, biases: Any, labels: Any, inputs: Any,
                         num_sampled: int, num_classes: int, num_true: int = 1,
                         sampled_values: Any = None, remove_accidental_hits: bool = True,
                         partition_strategy: str = "mod", name: str = "sampled_softmax_loss",
                         seed: Optional[int] = None) -> Tensor:
    """The softmax cross-entropy over the true and sampled classes per example, [batch]."""
    with name_scope(name, "sampled_softmax_loss"):
        logits, lab = _compute_sampled_logits(
            weights, biases, labels, inputs, num_sampled, num_classes, num_true,
            sampled_values, True, remove_accidental_hits, partition_strategy, seed)
        return softmax_cross_entropy_with_logits_v2(labels=stop_gradient(lab), logits=logits)
