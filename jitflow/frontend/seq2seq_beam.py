"""``tf.contrib.seq2seq`` beam search (TF 1.15): ``BeamSearchDecoder`` under ``dynamic_decode``,
``gather_tree`` and the state/output tuples.

The decoder keeps ``beam_width`` hypotheses per batch entry. Its cell runs on the merged
``[batch * beam_width, ...]`` state (an AttentionWrapper's memory must be ``tile_batch``'d);
between steps every state tensor is split to ``[batch, beam_width, ...]``. A step adds the
log-softmax of the logits to each beam's log-probability (a finished beam only extends with
``end_token``, at zero cost: its other words get the dtype's lowest value), divides by the
length penalty ``((5 + length) / 6) ** length_penalty_weight`` (plus the coverage penalty of
the accumulated attention, for finished beams), and keeps the ``beam_width`` best of the
``beam_width * vocab`` candidates of each batch entry: ``parent = index // vocab``, ``word =
index % vocab``; the cell state, log-probabilities, finished flags and lengths are gathered by
parent, and a beam's length grows while it is not finished. At the start only beam 0 is live
(the others have log-probability -inf and count as finished), so the first step expands beam
0 alone. ``finalize`` backtracks the parents with ``gather_tree``: ``predicted_ids`` [batch,
time, beam_width], best beam first; TensorArrays in the final cell state (an
``alignment_history``) are reordered along the beams and returned stacked, as TF does."""
from __future__ import annotations

import collections
from typing import Any, Optional

import numpy as np

from . import math_ops as M
from .array_ops import expand_dims, reshape, select, shape, zeros
from .extra_ops import concat, gather, one_hot, reduce_all, tile
from .graph import Tensor, TensorShape, name_scope
from .nn import embedding_lookup
from .op_builder import convert_to_tensor, make_op
from .rnn_cell import RNNCell, flatten, map_structure
from .seq2seq_beam_step import beam_search_step, static_float
from .seq2seq_decoder import Decoder, rnn_output_size


class BeamSearchDecoderState(collections.namedtuple(
        "BeamSearchDecoderState", ("cell_state", "log_probs", "finished", "lengths",
                                   "accumulated_attention_probs"))):
    """The loop's state: the split cell state, [batch, beam] log_probs, finished, lengths
    (int64), and the accumulated attention (``()`` without a coverage penalty)."""


class BeamSearchDecoderOutput(collections.namedtuple(
        "BeamSearchDecoderOutput", ("scores", "predicted_ids", "parent_ids"))):
    """One step's [batch, beam] scores, word ids and parent beams (stacked: [.., time, ..])."""


class FinalBeamSearchDecoderOutput(collections.namedtuple(
        "FinalBeamDecoderOutput", ("predicted_ids", "beam_search_decoder_output"))):
    """``predicted_ids`` [batch, time, beam] (gather_tree'd) and the raw step outputs."""


def gather_tree(step_ids: Any, parent_ids: Any, max_sequence_lengths: Any, end_token: Any,
                name: Optional[str] = None) -> Tensor:
    """TF's GatherTree: whole beams [max_time, batch, beam] from each step's ids and parent
    beams, backtracked from step ``min(max_time, max_sequence_lengths[b]) - 1``; positions
    after that, and after a beam's first ``end_token``, are ``end_token``. A host op
    (``ops/gather_tree.py`` says why)."""
    with name_scope(name, "GatherTree"):
        args = [convert_to_tensor(x, dtype="int32", name=n)
                for x, n in ((step_ids, "step_ids"), (parent_ids, "parent_ids"),
                             (max_sequence_lengths, "max_sequence_lengths"),
                             (end_token, "end_token"))]
        return make_op("GatherTree", "gather_tree", args).outputs[0]


def _check_ndims(t: Tensor) -> None:
    if t.shape.ndims is None:
        raise ValueError(f"Expected tensor ({t.name}) to have known rank, but ndims == None.")


def _is_ta(x: Any) -> bool:
    from .tensor_array import TensorArray
    return isinstance(x, TensorArray)


def _rest_shape(dims: list, t: Tensor, start: int) -> Any:
    """``dims`` + t's dims from ``start`` as a reshape's shape (a tensor if one is unknown)."""
    rest = t.shape.dims[start:]
    if all(d is not None for d in rest):
        return dims + [int(d) for d in rest]
    return concat([convert_to_tensor(np.asarray(dims, np.int32)), shape(t)[start:]], 0)


def get_attention_probs(next_cell_state: Any, coverage_penalty_weight: Any) -> Any:
    """The alignments [batch, beam, memory] of the AttentionWrapperStates in the cell state
    (averaged over several), or None without a coverage penalty."""
    from .seq2seq_attention import AttentionWrapperState
    if static_float(coverage_penalty_weight) == 0.0:
        return None

    def from_state(s):
        probs = s.alignments
        if isinstance(probs, tuple):
            probs = M.reduce_mean(concat([expand_dims(p, -1) for p in probs], -1), [-1])
        return probs
    if isinstance(next_cell_state, AttentionWrapperState):
        per = [from_state(next_cell_state)]
    elif isinstance(next_cell_state, tuple):
        per = [from_state(s) for s in next_cell_state if isinstance(s, AttentionWrapperState)]
    else:
        per = []
    if not per:
        raise ValueError("coverage_penalty_weight must be 0.0 if no cell is attentional.")
    if len(per) == 1:
        return per[0]
    return M.reduce_mean(concat([expand_dims(p, -1) for p in per], -1), [-1])


class BeamSearchDecoder(Decoder):
    """Beam search over ``cell`` (an RNNCell whose state has batch ``batch * beam_width``)
    from ``start_tokens`` [batch] until ``end_token``; ``embedding`` is a [vocab, depth]
    tensor/variable or a callable of the ids; ``output_layer`` maps the cell output to the
    logits. Use with ``dynamic_decode``; inference only."""

    def __init__(self, cell: RNNCell, embedding: Any, start_tokens: Any, end_token: Any,
                 initial_state: Any, beam_width: int, output_layer: Any = None,
                 length_penalty_weight: Any = 0.0, coverage_penalty_weight: Any = 0.0,
                 reorder_tensor_arrays: bool = True) -> None:
        if not isinstance(cell, RNNCell):
            raise TypeError(f"cell must be an RNNCell, received: {type(cell).__name__}")
        if output_layer is not None and not callable(output_layer):
            raise TypeError(f"output_layer must be a Layer, received: "
                            f"{type(output_layer).__name__}")
        if isinstance(beam_width, bool) or not isinstance(beam_width, (int, np.integer)) \
                or beam_width < 1:
            raise ValueError(f"beam_width must be a Python int >= 1, got {beam_width!r}")
        self._cell = cell
        self._output_layer = output_layer
        self._reorder_tensor_arrays = reorder_tensor_arrays
        self._embedding_fn = embedding if callable(embedding) else (
            lambda ids: embedding_lookup(embedding, ids))
        self._start_tokens = M.cast(convert_to_tensor(start_tokens, name="start_tokens"),
                                    "int32")
        if self._start_tokens.shape.ndims != 1:
            raise ValueError(f"start_tokens must be a vector, got shape "
                             f"{self._start_tokens.shape}")
        self._end_token = M.cast(convert_to_tensor(end_token, name="end_token"), "int32")
        if self._end_token.shape.ndims != 0:
            raise ValueError(f"end_token must be a scalar, got shape {self._end_token.shape}")
        self._beam_width = int(beam_width)
        self._length_penalty_weight = length_penalty_weight
        self._coverage_penalty_weight = coverage_penalty_weight
        b = self._start_tokens.shape.dim(0)
        self._batch_size = int(b) if b is not None else shape(self._start_tokens)[0]
        self._initial_cell_state = map_structure(self._maybe_split_batch_beams, initial_state)
        self._start_tokens = tile(expand_dims(self._start_tokens, 1), [1, self._beam_width])
        self._start_inputs = self._embedding_fn(self._start_tokens)
        self._finished = one_hot(zeros([self._batch_size], "int32"), depth=self._beam_width,
                                 on_value=False, off_value=True, dtype="bool")

    # ------------------------------------------------------------------ properties -------

    @property
    def batch_size(self) -> Any:
        return self._batch_size

    @property
    def tracks_own_finished(self) -> bool:
        """The decoder's finished flags are gathered by parent beam each step, so
        ``dynamic_decode`` must take them as they are (not or-ed with the last step's)."""
        return True

    def _rnn_output_size(self) -> Any:
        return rnn_output_size(self._cell, self._output_layer)

    @property
    def output_size(self) -> BeamSearchDecoderOutput:
        k = TensorShape([self._beam_width])
        return BeamSearchDecoderOutput(scores=k, predicted_ids=k, parent_ids=k)

    @property
    def output_dtype(self) -> BeamSearchDecoderOutput:
        from ..ir.dtypes import int32
        dtype = flatten(self._initial_cell_state)[0].dtype
        return BeamSearchDecoderOutput(
            scores=map_structure(lambda _: dtype, self._rnn_output_size()),
            predicted_ids=int32, parent_ids=int32)

    # -------------------------------------------------------------- batch <-> beams -------

    def _merge_batch_beams(self, t: Tensor) -> Tensor:
        """[batch, beam, ...] -> [batch * beam, ...]."""
        return reshape(t, _rest_shape([-1], t, 2))

    def _split_batch_beams(self, t: Tensor) -> Tensor:
        """[batch * beam, ...] -> [batch, beam, ...]."""
        t = convert_to_tensor(t)
        n, b, k = t.shape.dims[0], self._batch_size, self._beam_width
        if n is not None and isinstance(b, int) and n != b * k:
            raise ValueError(
                f"Unexpected behavior when reshaping between beam width and batch size.  The "
                f"tensor to reshape has shape: {t.shape}.  We expected its first dim to be "
                f"batch_size * beam_width = {b} * {k} = {b * k}, to reshape it to (batch_size,"
                f" beam_width, depth) == ({b}, {k}, ...).  Perhaps you forgot to create a "
                f"zero_state with batch_size=encoder_batch_size * beam_width?")
        return reshape(t, _rest_shape([-1, k], t, 1))

    def _maybe_split_batch_beams(self, t: Any) -> Any:
        if _is_ta(t):
            return t
        t = convert_to_tensor(t)
        _check_ndims(t)
        return self._split_batch_beams(t) if t.shape.ndims >= 1 else t

    def _maybe_merge_batch_beams(self, t: Any) -> Any:
        if _is_ta(t):
            return t
        t = convert_to_tensor(t)
        _check_ndims(t)
        return self._merge_batch_beams(t) if t.shape.ndims >= 2 else t

    # ------------------------------------------------------------------- decoding --------

    def initialize(self, name: Optional[str] = None) -> tuple:
        """``(finished, start_inputs, initial_state)``: beam 0 live with log-probability 0,
        the other beams finished with -inf."""
        with name_scope(name, "BeamSearchDecoderInitialize"):
            dtype = flatten(self._initial_cell_state)[0].dtype
            log_probs = one_hot(zeros([self._batch_size], "int32"), depth=self._beam_width,
                                on_value=convert_to_tensor(0.0, dtype=dtype),
                                off_value=convert_to_tensor(-np.inf, dtype=dtype), dtype=dtype)
            attn = get_attention_probs(self._initial_cell_state,
                                       self._coverage_penalty_weight)
            state = BeamSearchDecoderState(
                cell_state=self._initial_cell_state, log_probs=log_probs,
                finished=self._finished,
                lengths=zeros([self._batch_size, self._beam_width], "int64"),
                accumulated_attention_probs=() if attn is None else attn)
        return self._finished, self._start_inputs, state

    def step(self, time: Any, inputs: Any, state: BeamSearchDecoderState,
             name: Optional[str] = None) -> tuple:
        """``(BeamSearchDecoderOutput, next_state, next_inputs, finished)``."""
        with name_scope(name, "BeamSearchDecoderStep"):
            inputs = map_structure(lambda x: self._merge_batch_beams(convert_to_tensor(x)),
                                   inputs)
            cell_state = map_structure(self._maybe_merge_batch_beams, state.cell_state)
            cell_outputs, next_cell_state = self._cell(inputs, cell_state)
            cell_outputs = map_structure(self._split_batch_beams, cell_outputs)
            next_cell_state = map_structure(self._maybe_split_batch_beams, next_cell_state)
            if self._output_layer is not None:
                cell_outputs = self._output_layer(cell_outputs)
            output, next_state = beam_search_step(
                logits=cell_outputs, next_cell_state=next_cell_state, beam_state=state,
                batch_size=self._batch_size, beam_width=self._beam_width,
                end_token=self._end_token, length_penalty_weight=self._length_penalty_weight,
                coverage_penalty_weight=self._coverage_penalty_weight)
            finished = next_state.finished
            next_inputs = select(reduce_all(finished), self._start_inputs,
                                 self._embedding_fn(output.predicted_ids))
        return output, next_state, next_inputs, finished

    def finalize(self, outputs: BeamSearchDecoderOutput, final_state: BeamSearchDecoderState,
                 sequence_lengths: Any) -> tuple:
        """``(FinalBeamSearchDecoderOutput, final_state)`` of the time-major step outputs:
        the beams backtracked to the longest beam of each batch entry."""
        with name_scope(None, "BeamSearchDecoderFinalize"):
            max_lens = M.cast(M.reduce_max(final_state.lengths, axis=[1]), "int32")
            predicted_ids = gather_tree(outputs.predicted_ids, outputs.parent_ids,
                                        max_sequence_lengths=max_lens,
                                        end_token=self._end_token)
            if self._reorder_tensor_arrays:
                final_state = final_state._replace(cell_state=map_structure(
                    lambda t: self._maybe_sort_array_beams(t, outputs.parent_ids,
                                                           final_state.lengths),
                    final_state.cell_state))
        return FinalBeamSearchDecoderOutput(predicted_ids=predicted_ids,
                                            beam_search_decoder_output=outputs), final_state

    def _maybe_sort_array_beams(self, t: Any, parent_ids: Tensor, lengths: Tensor) -> Any:
        """A TensorArray of [batch * beam, ...] (or [batch, beam, ...]) elements, stacked and
        reordered along the beams; anything else as it is (TF warns for an array it cannot
        sort and returns it)."""
        from .tf_logging import warning
        if not _is_ta(t):
            return t
        dims = t.element_shape.dims
        b, k = self._batch_size, self._beam_width
        if dims is None or len(dims) < 1:
            warning(f"The TensorArray {t} in the cell state is not amenable to sorting based on "
                    f"the beam search result. For a TensorArray to be sorted, its elements "
                    f"shape must be defined and have at least a rank of 1, but saw shape: "
                    f"{t.element_shape}")
            return t
        if isinstance(b, int) and not (dims[0] == b * k or (
                len(dims) >= 2 and dims[0] == b and dims[1] == k)):
            warning(f"TensorArray reordering expects elements to be reshapable to "
                    f"[batch_size, beam_size, -1] which is incompatible with the dynamic "
                    f"shape of {t} elements: {t.element_shape}. Consider setting "
                    f"reorder_tensor_arrays to False to disable TensorArray reordering during "
                    f"the beam search.")
            return t
        return gather_tree_from_array(t.stack(), parent_ids, lengths)


def gather_tree_from_array(t: Any, parent_ids: Tensor, sequence_length: Tensor) -> Tensor:
    """The stacked array ``t`` [max_time, batch * beam (or batch, beam), ...] with each step's
    beams put in the order of the backtracked beams (``gather_tree`` of the beam indices);
    steps past a beam's length keep their own beam."""
    t = convert_to_tensor(t)
    parent_ids = convert_to_tensor(parent_ids)
    _, batch, beam = parent_ids.shape.dims
    if beam is None:
        raise ValueError(f"gather_tree_from_array needs a static beam width, got parent_ids "
                         f"{parent_ids.shape}")
    beam = int(beam)
    from .control_flow import range as range_
    from .seq2seq_beam_step import batch_offsets
    n = int(batch) if batch is not None else shape(parent_ids)[1]
    steps = M.cast(range_(shape(parent_ids)[0]), "int32")
    beam_ids = M.add(M.multiply(parent_ids, 0), np.arange(beam, dtype=np.int32))
    max_lens = M.cast(M.reduce_max(sequence_length, axis=[1]), "int32")
    sorted_ids = gather_tree(beam_ids, parent_ids, max_lens, beam + 1)
    in_bound = M.less(M.cast(reshape(steps, [-1, 1, 1]), "int64"),
                      expand_dims(M.cast(sequence_length, "int64"), 0))
    sorted_ids = select(in_bound, sorted_ids, beam_ids)
    # the row of (time, batch, beam) in t's rows of [time * batch * beam, ...]
    rows = M.add(M.add(sorted_ids, expand_dims(batch_offsets(n, beam), 0)),
                 reshape(M.multiply(steps, M.multiply(n, beam)), [-1, 1, 1]))
    dims = t.shape.dims
    # [time, batch, beam, ...] or [time, batch * beam, ...]; with a run-time batch a rank-3
    # [time, ?, beam] is taken as the latter (an AttentionWrapper's history over beam columns)
    split = len(dims) > 2 and dims[2] == beam and (
        dims[1] == batch if batch is not None else len(dims) > 3)
    rest = dims[3:] if split else dims[2:]
    if any(d is None for d in rest):
        raise ValueError(f"gather_tree_from_array needs static element dims, got {t.shape}")
    ordered = gather(reshape(t, [-1] + [int(d) for d in rest]), reshape(rows, [-1]))
    return reshape(ordered, shape(t))


__all__ = ["BeamSearchDecoder", "BeamSearchDecoderState", "BeamSearchDecoderOutput",
           "FinalBeamSearchDecoderOutput", "gather_tree"]
