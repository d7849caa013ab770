"""``tf.contrib.seq2seq.sequence_loss``: weighted per-step softmax cross-entropy, averaged or
summed over time and/or batch as in TF 1.15."""
from __future__ import annotations

from typing import Any, Callable, Optional

from . import math_ops as M
from .array_ops import reshape, select as where, zeros_like, ones_like
from .graph import Tensor, name_scope
from .nn import sparse_softmax_cross_entropy_with_logits
from .op_builder import convert_to_tensor


def _div_no_nan(x: Tensor, y: Tensor) -> Tensor:
    zero = M.equal(y, zeros_like(y))
    return where(zero, zeros_like(x), M.truediv(x, where(zero, ones_like(y), y)))


def _count_nonzero(w: Tensor, axis: Any, dtype) -> Tensor:
    return M.reduce_sum(M.cast(M.not_equal(w, zeros_like(w)), dtype), axis=axis)


def sequence_loss(logits: Any, targets: Any, weights: Any,
                  average_across_timesteps: bool = True, average_across_batch: bool = True,
                  sum_over_timesteps: bool = False, sum_over_batch: bool = False,
                  softmax_loss_function: Optional[Callable] = None,
                  name: Optional[str] = None) -> Tensor:
    """logits [batch, time, classes], integer targets [batch, time], weights [batch, time].
    Averages divide by the summed weights, sums by the count of nonzero weights (0 where that
    is 0); with no reduction the result is [batch, time]."""
    logits = convert_to_tensor(logits)
    targets = convert_to_tensor(targets)
    weights = convert_to_tensor(weights, dtype=logits.dtype)
    if logits.shape.ndims != 3:
        raise ValueError("Logits must be a [batch_size x sequence_length x logits] tensor, got "
                         f"shape {logits.shape}")
    if targets.shape.ndims != 2:
        raise ValueError("Targets must be a [batch_size x sequence_length] tensor, got shape "
                         f"{targets.shape}")
    if weights.shape.ndims != 2:
        raise ValueError("Weights must be a [batch_size x sequence_length] tensor, got shape "
                         f"{weights.shape}")
    if average_across_timesteps and sum_over_timesteps:
        raise ValueError("average_across_timesteps and sum_over_timesteps cannot be set to "
                         "True at same time.")
    if average_across_batch and sum_over_batch:
        raise ValueError("average_across_batch and sum_over_batch cannot be set to True at "
                         "same time.")
    classes = logits.shape.dim(2)
    if classes is None:
        raise ValueError(f"sequence_loss: the number of classes (logits.shape[2]) must be known,"
                         f" got shape {logits.shape}")
    with name_scope(name, "sequence_loss"):
        flat_logits = reshape(logits, [-1, int(classes)])
        flat_targets = reshape(targets, [-1])
        if softmax_loss_function is None:
            ce = sparse_softmax_cross_entropy_with_logits(labels=flat_targets, logits=flat_logits)
        else:
            ce = softmax_loss_function(labels=flat_targets, logits=flat_logits)
        ce = M.multiply(ce, reshape(weights, [-1]))
        if average_across_timesteps and average_across_batch:
            return _div_no_nan(M.reduce_sum(ce), M.reduce_sum(weights))
        if sum_over_timesteps and sum_over_batch:
            return _div_no_nan(M.reduce_sum(ce), _count_nonzero(weights, None, ce.dtype))
        b, t = logits.shape.dim(0), logits.shape.dim(1)
        if b is None and t is None:
            raise NotImplementedError("sequence_loss without a full reduction needs the batch "
                                      f"or the time dimension known, got {logits.shape}")
        ce = reshape(ce, [-1, int(t)] if t is not None else [int(b), -1])
        if average_across_timesteps or average_across_batch:
            axis = [0] if average_across_batch else [1]
            return _div_no_nan(M.reduce_sum(ce, axis=axis), M.reduce_sum(weights, axis=axis))
        if sum_over_timesteps or sum_over_batch:
            axis = [0] if sum_over_batch else [1]
            return _div_no_nan(M.reduce_sum(ce, axis=axis),
                               _count_nonzero(weights, axis, ce.dtype))
        return ce
