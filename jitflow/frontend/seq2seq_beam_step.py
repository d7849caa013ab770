"""One step of ``BeamSearchDecoder`` (TF 1.15's ``_beam_search_step``): scores of the
``beam_width * vocab`` continuations, the top ``beam_width`` per batch entry, and the state
gathered by parent beam. Shapes: logits [batch, beam, vocab], state tensors [batch, beam, ...]."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import math_ops as M
from .array_ops import expand_dims, reshape, select
from .extra_ops import argmax, concat, gather, one_hot
from .graph import Tensor
from .nn import log_softmax
from .op_builder import convert_to_tensor, static_value
from .rnn_cell import map_structure


def static_float(x: Any) -> Optional[float]:
    """A Python or graph-constant scalar as a float; None when known only at run time."""
    v = static_value(x) if isinstance(x, Tensor) else x
    return None if v is None else float(np.asarray(v).reshape(()))


def batch_offsets(batch_size: Any, range_size: int) -> Tensor:
    """[batch, 1] first flat row of each batch entry: ``range(batch) * range_size``."""
    if isinstance(batch_size, int):
        return convert_to_tensor((np.arange(batch_size, dtype=np.int32) * range_size)
                                 .reshape(-1, 1))
    from .control_flow import range as range_
    return expand_dims(M.multiply(M.cast(range_(batch_size), "int32"), range_size), 1)


def gather_beams(indices: Tensor, x: Any, batch_size: Any, range_size: int,
                 min_rank: int = 2) -> Any:
    """TF's ``_tensor_gather_helper``: ``out[b, j, ...] = x[b, indices[b, j], ...]`` where
    ``x``'s first two dims flatten to ``batch * range_size`` rows; TensorArrays and tensors of
    rank below ``min_rank`` pass through."""
    from .tensor_array import TensorArray
    if isinstance(x, TensorArray):
        return x
    x = convert_to_tensor(x)
    if x.shape.ndims is None:
        raise ValueError(f"Expected tensor ({x.name}) to have known rank, but ndims == None.")
    if x.shape.ndims < min_rank:
        return x
    rest = x.shape.dims[2:]
    if any(d is None for d in rest):
        raise NotImplementedError(f"BeamSearchDecoder: a state tensor needs static dims after "
                                  f"[batch, beam], got {x.shape}")
    rows = reshape(M.add(indices, batch_offsets(batch_size, range_size)), [-1])
    flat = reshape(x, [-1] + [int(d) for d in rest])
    k = indices.shape.dims[1]
    return reshape(gather(flat, rows), [-1, int(k)] + [int(d) for d in rest])


def top_k_rounds(x: Tensor, k: int) -> tuple:
    """``top_k(x, k)`` of [batch, n] scores (largest first, ties: the lower index first, as
    TF) as k rounds of max + first-index argmax over the entries not yet taken: O(k * n)
    where ``sort_ops.top_k`` (a rank composition) is O(n^2), and n = beam_width * vocab."""
    n = int(x.shape.dims[-1])
    cols = convert_to_tensor(np.arange(n, dtype=np.int32))
    neg_inf = convert_to_tensor(-np.inf, x.dtype)
    taken = M.less(cols, 0)                                      # [n] all False
    vals, idxs = [], []
    for _ in range(k):
        best = M.reduce_max(select(taken, neg_inf, x), [1], keepdims=True)
        hit = M.logical_and(M.equal(x, best), M.logical_not(taken))
        idx = M.cast(argmax(M.cast(hit, "int32"), axis=1), "int32")
        vals.append(best)
        idxs.append(expand_dims(idx, 1))
        taken = M.logical_or(taken, M.equal(cols, expand_dims(idx, 1)))
    return concat(vals, 1), concat(idxs, 1)


def mask_probs(probs: Tensor, eos_token: Tensor, finished: Tensor) -> Tensor:
    """Finished beams put all their mass on ``eos_token`` (0 there, the dtype's lowest value
    elsewhere); the others keep ``probs``."""
    vocab = int(probs.shape.dims[2])
    lowest = float(np.finfo(probs.dtype.np).min)
    finished_row = one_hot(eos_token, vocab, on_value=convert_to_tensor(0.0, probs.dtype),
                           off_value=convert_to_tensor(lowest, probs.dtype), dtype=probs.dtype)
    return select(expand_dims(finished, 2), finished_row, probs)


def length_penalty(sequence_lengths: Tensor, penalty_factor: Any) -> Any:
    """``((5 + length) / 6) ** penalty_factor`` (float32), or 1.0 for a static 0."""
    static = static_float(penalty_factor)
    if static is not None and static == 0:
        return 1.0
    w = convert_to_tensor(penalty_factor, dtype="float32", name="penalty_factor")
    if w.shape.ndims not in (None, 0):
        raise ValueError(f"length_penalty_weight must be a scalar, got shape {w.shape}")
    return M.truediv(M.pow(M.add(5.0, M.cast(sequence_lengths, "float32")), w),
                     M.pow(convert_to_tensor(6.0), w))


def get_scores(log_probs: Tensor, sequence_lengths: Tensor, length_penalty_weight: Any,
               coverage_penalty_weight: Any, finished: Tensor,
               accumulated_attention_probs: Any) -> Tensor:
    """``log_probs / length_penalty`` plus, with a coverage penalty, ``weight * sum(log(min(
    accumulated attention, 1)))`` over the memory for finished beams (zero attention counts
    as 1: masked memory)."""
    lp = length_penalty(sequence_lengths, length_penalty_weight)
    scores = M.truediv(log_probs, lp if isinstance(lp, float) else M.cast(lp, log_probs.dtype))
    cw = convert_to_tensor(coverage_penalty_weight, name="coverage_penalty_weight")
    if cw.shape.ndims != 0:
        raise ValueError(f"coverage_penalty_weight should be a scalar, but saw shape: "
                         f"{cw.shape}")
    if static_float(cw) == 0.0:
        return scores
    if accumulated_attention_probs is None:
        raise ValueError("accumulated_attention_probs can be None only if coverage penalty is "
                         "disabled.")
    acc = accumulated_attention_probs
    acc = select(M.equal(acc, 0.0), convert_to_tensor(1.0, acc.dtype), acc)
    cov = M.reduce_sum(M.log(M.minimum(acc, 1.0)), [2])
    cov = M.multiply(cov, M.cast(finished, cov.dtype))
    return M.add(scores, expand_dims(M.multiply(cov, M.cast(cw, cov.dtype)), 2))


def beam_search_step(logits: Tensor, next_cell_state: Any, beam_state: Any, batch_size: Any,
                     beam_width: int, end_token: Tensor, length_penalty_weight: Any,
                     coverage_penalty_weight: Any) -> tuple:
    """``(BeamSearchDecoderOutput, BeamSearchDecoderState)`` of one step."""
    from .seq2seq_beam import BeamSearchDecoderOutput, BeamSearchDecoderState, \
        get_attention_probs
    logits = convert_to_tensor(logits)
    vocab = logits.shape.dims[-1]
    if vocab is None:
        raise NotImplementedError(f"BeamSearchDecoder needs the vocabulary size (the logits' "
                                  f"last dim) known, got logits {logits.shape}")
    vocab = int(vocab)
    lengths, prev_finished = beam_state.lengths, beam_state.finished
    not_finished = M.logical_not(prev_finished)
    step_log_probs = mask_probs(log_softmax(logits), end_token, prev_finished)
    total_probs = M.add(expand_dims(beam_state.log_probs, 2), step_log_probs)
    # a continuation's length: +1 for an unfinished beam, except by end_token
    grow = M.cast(M.not_equal(convert_to_tensor(np.arange(vocab, dtype=np.int32)), end_token),
                  "int64")
    new_lengths = M.add(M.multiply(grow, expand_dims(M.cast(not_finished, "int64"), 2)),
                        expand_dims(lengths, 2))
    accumulated = None
    attention_probs = get_attention_probs(next_cell_state, coverage_penalty_weight)
    if attention_probs is not None:
        attention_probs = M.multiply(attention_probs, expand_dims(
            M.cast(not_finished, attention_probs.dtype), 2))
        accumulated = M.add(beam_state.accumulated_attention_probs, attention_probs)
    scores = get_scores(total_probs, new_lengths, length_penalty_weight,
                        coverage_penalty_weight, prev_finished, accumulated)
    scores_flat = reshape(scores, [-1, beam_width * vocab])
    next_scores, word_indices = top_k_rounds(scores_flat, beam_width)
    next_probs = reshape(gather(reshape(total_probs, [-1]), reshape(M.add(
        word_indices, batch_offsets(batch_size, beam_width * vocab)), [-1])),
        [-1, beam_width])
    next_word_ids = M.cast(M.mod(word_indices, vocab), "int32")
    next_beam_ids = M.cast(M.floordiv(word_indices, vocab), "int32")
    gathered_finished = gather_beams(next_beam_ids, prev_finished, batch_size, beam_width)
    next_finished = M.logical_or(gathered_finished, M.equal(next_word_ids, end_token))
    next_lengths = M.add(gather_beams(next_beam_ids, lengths, batch_size, beam_width),
                         M.cast(M.logical_not(gathered_finished), "int64"))
    next_accumulated: Any = ()
    if accumulated is not None:
        next_accumulated = gather_beams(next_beam_ids, accumulated, batch_size, beam_width)
    next_cell_state = map_structure(
        lambda x: gather_beams(next_beam_ids, x, batch_size, beam_width), next_cell_state)
    state = BeamSearchDecoderState(cell_state=next_cell_state, log_probs=next_probs,
                                   finished=next_finished, lengths=next_lengths,
                                   accumulated_attention_probs=next_accumulated)
    output = BeamSearchDecoderOutput(scores=next_scores, predicted_ids=next_word_ids,
                                     parent_ids=next_beam_ids)
    return output, state
