"""``tf.contrib.crf``: a linear-chain CRF layer (TF 1.15's names and arguments), composed of
jitflow's frontend ops.

Shapes: ``inputs`` / ``potentials`` are ``[batch_size, max_seq_len, num_tags]`` unary scores,
``tag_indices`` ``[batch_size, max_seq_len]``, ``sequence_lengths`` ``[batch_size]``,
``transition_params`` ``[num_tags, num_tags]`` (``[i, j]``: the score of tag j after tag i).
Every dim but ``num_tags`` may be known only at run time. As in TF, a ``max_seq_len`` of 1
skips the recurrences: chosen at graph build when that dim is static, else by a ``tf.cond``
on ``tf.shape(inputs)[1]``. Sequences of length <= 0 get a score, norm and log-likelihood of 0.

The recurrences are ``dynamic_rnn`` loops over the steps after the first, with
``sequence_length = max(0, len - 1)`` (a sequence past its length copies its state through):
``crf_forward`` (the log-partition's alphas, ``CrfForwardRnnCell``) and ``crf_decode``
(Viterbi: ``CrfDecodeForwardRnnCell`` keeps the max scores and gives back-pointers,
``CrfDecodeBackwardRnnCell`` follows them from the last step's argmax).

Two deliberate differences from TF 1.15: ``crf_forward`` returns the alphas after
``len - 1`` transitions (TF 1.13-1.15 read index ``max(0, len - 2)`` of its scan: a
sequence of length 1 in a batch with ``max_seq_len > 1`` got one transition too many and a
log-likelihood that could be positive, tensorflow/addons#778; TF 1.12's dynamic_rnn form and
TF Addons' fix give this value); and the sequence masks of ``crf_unary_score`` /
``crf_binary_score`` take the scores' dtype (TF: float32 only), so float64 CRFs work.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from ...ir.dtypes import bool_, int32, int64
from .. import math_ops as M
from ..array_extra import gather_nd, reverse_sequence
from ..array_ops import expand_dims, fill, reshape, select, shape, squeeze, zeros_like
from ..composite_ops import sequence_mask
from ..control_flow import cond, range as tf_range
from ..extra_ops import argmax, concat, gather, one_hot, reduce_logsumexp
from ..graph import Tensor
from ..op_builder import constant, convert_to_tensor
from ..rnn import dynamic_rnn
from ..rnn_cell import RNNCell
from ..variables import get_variable

__all__ = ["crf_sequence_score", "crf_multitag_sequence_score", "crf_log_norm",
           "crf_log_likelihood", "crf_unary_score", "crf_binary_score", "crf_forward",
           "viterbi_decode", "crf_decode", "CrfForwardRnnCell", "CrfDecodeForwardRnnCell",
           "CrfDecodeBackwardRnnCell"]


# ------------------------------------------------------------------------ helpers ----------

def _tensor(x: Any, what: str, rank: Optional[int] = None) -> Tensor:
    t = convert_to_tensor(x)
    if rank is not None and t.shape.ndims is not None and t.shape.ndims != rank:
        raise ValueError(f"{what} must have rank {rank}, got shape {t.shape}")
    return t


def _num_tags(x: Tensor, axis: int, what: str) -> int:
    n = x.shape.dims[axis] if x.shape.ndims is not None else None
    if n is None:
        raise ValueError(f"{what}: the number of tags (dim {axis} of {x.name}, shape "
                         f"{x.shape}) must be known at graph build")
    return int(n)


def _one_step_cond(x: Tensor, single: Callable, multi: Callable) -> Any:
    """TF's ``smart_cond(max_seq_len == 1, single, multi)``: decided at graph build when dim 1
    of ``x`` is static, else a ``tf.cond`` on its run-time size."""
    steps = x.shape.dims[1] if x.shape.ndims is not None else None
    if steps is not None:
        return single() if steps == 1 else multi()
    return cond(M.equal(shape(x)[1], 1), single, multi)


def _less_one(lengths: Tensor) -> Tensor:
    """``max(0, lengths - 1)``: the steps after the first (never negative)."""
    return M.maximum(constant(0, dtype=lengths.dtype), M.subtract(lengths, 1))


def _mask_empty(lengths: Tensor, values: Tensor) -> Tensor:
    """``values`` with 0 for the sequences of length <= 0."""
    return select(M.less_equal(lengths, 0), zeros_like(values), values)


# ------------------------------------------------------------------------ scores -----------

def crf_unary_score(tag_indices: Any, sequence_lengths: Any, inputs: Any) -> Tensor:
    """The unary scores of tag sequences: ``sum_t inputs[b, t, tag_indices[b, t]]`` over each
    sequence's first ``sequence_lengths[b]`` steps; ``[batch_size]``."""
    tag_indices = _tensor(tag_indices, "crf_unary_score: tag_indices", 2)
    inputs = _tensor(inputs, "crf_unary_score: inputs", 3)
    dims = shape(inputs)
    batch_size, max_seq_len, num_tags = dims[0], dims[1], dims[2]
    flattened_inputs = reshape(inputs, [-1])
    offsets = expand_dims(M.multiply(M.multiply(tf_range(batch_size), max_seq_len), num_tags), 1)
    offsets = M.add(offsets, expand_dims(M.multiply(tf_range(max_seq_len), num_tags), 0))
    if tag_indices.dtype is int64:
        offsets = M.cast(offsets, int64)
    flattened_tag_indices = reshape(M.add(offsets, tag_indices), [-1])
    unary_scores = reshape(gather(flattened_inputs, flattened_tag_indices),
                           shape(tag_indices))                  # [batch_size, max_seq_len]
    masks = sequence_mask(sequence_lengths, maxlen=shape(tag_indices)[1],
                          dtype=unary_scores.dtype)
    return M.reduce_sum(M.multiply(unary_scores, masks), 1)


def crf_binary_score(tag_indices: Any, sequence_lengths: Any, transition_params: Any) -> Tensor:
    """The binary scores of tag sequences: ``sum_t transition_params[tag[t], tag[t + 1]]``
    over each sequence's transitions (``sequence_lengths[b] - 1`` of them); ``[batch_size]``."""
    tag_indices = _tensor(tag_indices, "crf_binary_score: tag_indices", 2)
    transition_params = _tensor(transition_params, "crf_binary_score: transition_params", 2)
    num_tags = transition_params.shape.dims[0]
    if num_tags is None:
        num_tags = M.cast(shape(transition_params)[0], tag_indices.dtype)
    start_tag_indices = tag_indices[:, :-1]
    end_tag_indices = tag_indices[:, 1:]
    flattened_transition_indices = M.add(M.multiply(start_tag_indices, num_tags),
                                         end_tag_indices)
    flattened_transition_params = reshape(transition_params, [-1])
    binary_scores = gather(flattened_transition_params, flattened_transition_indices)
    masks = sequence_mask(sequence_lengths, maxlen=shape(tag_indices)[1],
                          dtype=binary_scores.dtype)
    truncated_masks = masks[:, 1:]
    return M.reduce_sum(M.multiply(binary_scores, truncated_masks), 1)


def crf_sequence_score(inputs: Any, tag_indices: Any, sequence_lengths: Any,
                       transition_params: Any) -> Tensor:
    """The unnormalized score of each tag sequence (unary plus binary scores);
    ``[batch_size]``."""
    inputs = _tensor(inputs, "crf_sequence_score: inputs", 3)
    tag_indices = _tensor(tag_indices, "crf_sequence_score: tag_indices", 2)
    sequence_lengths = _tensor(sequence_lengths, "crf_sequence_score: sequence_lengths", 1)

    def _single_seq_fn() -> Tensor:
        batch_size = M.cast(shape(inputs)[0], tag_indices.dtype)
        example_inds = reshape(tf_range(batch_size), [-1, 1])
        first_tags = reshape(tag_indices[:, :1], [-1, 1])      # all of them: max_seq_len is 1
        scores = gather_nd(squeeze(inputs, [1]), concat([example_inds, first_tags], axis=1))
        return _mask_empty(sequence_lengths, scores)

    def _multi_seq_fn() -> Tensor:
        unary_scores = crf_unary_score(tag_indices, sequence_lengths, inputs)
        binary_scores = crf_binary_score(tag_indices, sequence_lengths, transition_params)
        return M.add(unary_scores, binary_scores)

    return _one_step_cond(inputs, _single_seq_fn, _multi_seq_fn)


def crf_multitag_sequence_score(inputs: Any, tag_bitmap: Any, sequence_lengths: Any,
                                transition_params: Any) -> Tensor:
    """The log-sum-exp of the scores of every tag sequence allowed by ``tag_bitmap``
    ([batch_size, max_seq_len, num_tags] bool: the active tags of each step); ``[batch_size]``."""
    inputs = _tensor(inputs, "crf_multitag_sequence_score: inputs", 3)
    tag_bitmap = M.cast(_tensor(tag_bitmap, "crf_multitag_sequence_score: tag_bitmap", 3),
                        bool_)
    sequence_lengths = M.cast(_tensor(sequence_lengths, "sequence_lengths", 1), int32)
    filtered_inputs = select(tag_bitmap, inputs,
                             fill(shape(inputs), constant(float("-inf"), dtype=inputs.dtype)))

    def _single_seq_fn() -> Tensor:
        return reduce_logsumexp(filtered_inputs, axis=[1, 2], keepdims=False)

    def _multi_seq_fn() -> Tensor:
        return crf_log_norm(inputs=filtered_inputs, sequence_lengths=sequence_lengths,
                            transition_params=transition_params)

    return _one_step_cond(inputs, _single_seq_fn, _multi_seq_fn)


# ------------------------------------------------------------------------ normalization ----

class _TransitionCell(RNNCell):
    """A cell over [num_tags] states driven by ``transition_params`` [num_tags, num_tags]
    (kept as [1, num_tags, num_tags] to broadcast over the batch)."""

    def __init__(self, transition_params: Any) -> None:
        super().__init__()
        what = type(self).__name__
        transition_params = _tensor(transition_params, f"{what}: transition_params", 2)
        self._transition_params = expand_dims(transition_params, 0)
        self._num_tags = _num_tags(transition_params, 0, what)

    @property
    def state_size(self) -> int:
        return self._num_tags

    @property
    def output_size(self) -> int:
        return self._num_tags


class CrfForwardRnnCell(_TransitionCell):
    """Computes the alpha values in a linear-chain CRF: ``alpha_t[j] = inputs_t[j] +
    logsumexp_i(alpha_{t-1}[i] + transition_params[i, j])``; state and output are both the
    new alphas (see http://www.cs.columbia.edu/~mcollins/fb.pdf)."""

    def __call__(self, inputs: Any, state: Any, scope: Any = None) -> tuple:
        state = expand_dims(state, 2)                                    # [B, O, 1]
        transition_scores = M.add(state, self._transition_params)       # [B, O, O]
        new_alphas = M.add(inputs, reduce_logsumexp(transition_scores, [1]))
        return new_alphas, new_alphas


def crf_forward(inputs: Any, state: Any, transition_params: Any, sequence_lengths: Any
                ) -> Tensor:
    """The alpha values after each sequence's last step: ``inputs`` are the unary scores of
    the steps after the first ([batch_size, max_seq_len - 1, num_tags]), ``state`` the first
    step's ([batch_size, num_tags]), ``sequence_lengths`` the true lengths of the whole
    sequences. Returns ``[batch_size, num_tags]`` (``state`` for lengths <= 1)."""
    inputs = _tensor(inputs, "crf_forward: inputs", 3)
    state = _tensor(state, "crf_forward: state", 2)
    sequence_lengths = _tensor(sequence_lengths, "crf_forward: sequence_lengths", 1)
    _, alphas = dynamic_rnn(cell=CrfForwardRnnCell(transition_params), inputs=inputs,
                            sequence_length=_less_one(sequence_lengths), initial_state=state,
                            dtype=inputs.dtype)
    return alphas


def crf_log_norm(inputs: Any, sequence_lengths: Any, transition_params: Any) -> Tensor:
    """The log of each sequence's partition function: the log-sum-exp of the scores of all
    tag sequences of its length; ``[batch_size]``."""
    inputs = _tensor(inputs, "crf_log_norm: inputs", 3)
    sequence_lengths = _tensor(sequence_lengths, "crf_log_norm: sequence_lengths", 1)
    first_input = squeeze(inputs[:, :1, :], [1])

    def _single_seq_fn() -> Tensor:
        return _mask_empty(sequence_lengths, reduce_logsumexp(first_input, [1]))

    def _multi_seq_fn() -> Tensor:
        rest_of_input = inputs[:, 1:, :]
        alphas = crf_forward(rest_of_input, first_input, transition_params, sequence_lengths)
        return _mask_empty(sequence_lengths, reduce_logsumexp(alphas, [1]))

    return _one_step_cond(inputs, _single_seq_fn, _multi_seq_fn)


def crf_log_likelihood(inputs: Any, tag_indices: Any, sequence_lengths: Any,
                       transition_params: Any = None) -> tuple:
    """``(log_likelihood [batch_size], transition_params)``: the log-likelihood of each tag
    sequence under the CRF. Without ``transition_params`` the variable ``transitions``
    ([num_tags, num_tags], ``tf.get_variable``'s default initializer) is made in the current
    variable scope and returned."""
    inputs = _tensor(inputs, "crf_log_likelihood: inputs", 3)
    num_tags = _num_tags(inputs, 2, "crf_log_likelihood")
    if transition_params is None:
        transition_params = get_variable("transitions", [num_tags, num_tags])
    sequence_scores = crf_sequence_score(inputs, tag_indices, sequence_lengths,
                                         transition_params)
    log_norm = crf_log_norm(inputs, sequence_lengths, transition_params)
    return M.subtract(sequence_scores, log_norm), transition_params


# ------------------------------------------------------------------------ decoding ---------

def viterbi_decode(score: np.ndarray, transition_params: np.ndarray) -> tuple:
    """Decode the highest scoring sequence of tags outside of TensorFlow (NumPy arrays:
    ``score`` [seq_len, num_tags], ``transition_params`` [num_tags, num_tags]). Returns
    ``(viterbi, viterbi_score)``: a list of ``seq_len`` tag indices and its score."""
    score = np.asarray(score)
    transition_params = np.asarray(transition_params)
    trellis = np.zeros_like(score)
    backpointers = np.zeros_like(score, dtype=np.int32)
    trellis[0] = score[0]
    for t in range(1, score.shape[0]):
        v = np.expand_dims(trellis[t - 1], 1) + transition_params
        trellis[t] = score[t] + np.max(v, 0)
        backpointers[t] = np.argmax(v, 0)
    viterbi = [np.argmax(trellis[-1])]
    for bp in reversed(backpointers[1:]):
        viterbi.append(bp[viterbi[-1]])
    viterbi.reverse()
    viterbi_score = np.max(trellis[-1])
    return viterbi, viterbi_score


class CrfDecodeForwardRnnCell(_TransitionCell):
    """The forward pass of Viterbi decoding: the state is the best score ending in each tag,
    the output the back-pointers (int32 [batch_size, num_tags]: the best previous tag)."""

    def __call__(self, inputs: Any, state: Any, scope: Any = None) -> tuple:
        state = expand_dims(state, 2)                                    # [B, O, 1]
        transition_scores = M.add(state, self._transition_params)       # [B, O, O]
        new_state = M.add(inputs, M.reduce_max(transition_scores, [1]))  # [B, O]
        backpointers = M.cast(argmax(transition_scores, 1), int32)      # [B, O]
        return backpointers, new_state


class CrfDecodeBackwardRnnCell(RNNCell):
    """The backward pass of Viterbi decoding: from the state (int32 [batch_size, 1], the tag
    of the step after), the tag its back-pointers ``inputs`` ([batch_size, num_tags]) name;
    state and output are both that tag ([batch_size, 1])."""

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self._num_tags = int(num_tags)

    @property
    def state_size(self) -> int:
        return 1

    @property
    def output_size(self) -> int:
        return 1

    def __call__(self, inputs: Any, state: Any, scope: Any = None) -> tuple:
        inputs = convert_to_tensor(inputs)
        state = squeeze(state, axis=[1])                                 # [B]
        # inputs[b, state[b]] as a one-hot selection: no range over the batch in the loop
        pick = one_hot(state, self._num_tags, dtype=inputs.dtype)        # [B, O]
        new_tags = expand_dims(M.reduce_sum(M.multiply(inputs, pick), 1), axis=-1)
        return new_tags, new_tags


def crf_decode(potentials: Any, transition_params: Any, sequence_length: Any) -> tuple:
    """Decode the highest scoring sequence of tags in the graph. Returns ``(decode_tags,
    best_score)``: int32 [batch_size, max_seq_len] (0 after each sequence's length) and the
    best sequences' scores [batch_size]."""
    potentials = _tensor(potentials, "crf_decode: potentials", 3)
    sequence_length = _tensor(sequence_length, "crf_decode: sequence_length", 1)

    def _single_seq_fn() -> tuple:
        squeezed_potentials = squeeze(potentials, [1])
        decode_tags = expand_dims(argmax(squeezed_potentials, axis=1), 1)
        best_score = M.reduce_max(squeezed_potentials, axis=1)
        return M.cast(decode_tags, int32), best_score

    def _multi_seq_fn() -> tuple:
        num_tags = _num_tags(potentials, 2, "crf_decode")
        crf_fwd_cell = CrfDecodeForwardRnnCell(transition_params)
        initial_state = squeeze(potentials[:, :1, :], axis=[1])                  # [B, O]
        inputs = potentials[:, 1:, :]                                            # [B, T-1, O]
        sequence_length_less_one = _less_one(sequence_length)
        backpointers, last_score = dynamic_rnn(                                  # [B, T-1, O]
            crf_fwd_cell, inputs=inputs, sequence_length=sequence_length_less_one,
            initial_state=initial_state, time_major=False, dtype=int32)
        backpointers = reverse_sequence(backpointers, sequence_length_less_one, seq_axis=1,
                                        batch_axis=0)
        crf_bwd_cell = CrfDecodeBackwardRnnCell(num_tags)
        initial_state = expand_dims(M.cast(argmax(last_score, axis=1), int32), axis=-1)
        decode_tags, _ = dynamic_rnn(                                            # [B, T-1, 1]
            crf_bwd_cell, inputs=backpointers, sequence_length=sequence_length_less_one,
            initial_state=initial_state, time_major=False, dtype=int32)
        decode_tags = squeeze(decode_tags, axis=[2])                             # [B, T-1]
        decode_tags = concat([initial_state, decode_tags], axis=1)               # [B, T]
        decode_tags = reverse_sequence(decode_tags, sequence_length, seq_axis=1, batch_axis=0)
        best_score = M.reduce_max(last_score, axis=1)                            # [B]
        return decode_tags, best_score

    return _one_step_cond(potentials, _single_seq_fn, _multi_seq_fn)
