"""``tf.contrib.seq2seq`` decoding (TF 1.15): ``BasicDecoder`` (a cell, a helper, an optional
output layer) and ``dynamic_decode``, TF's decoding loop as one ``tf.while_loop``.

The loop carries (time, one TensorArray per output, state, inputs, finished, lengths) and
stops when every sequence is finished or at ``maximum_iterations``. A sequence's length is
the number of steps taken up to and including the one that finished it; with
``impute_finished`` a finished sequence emits zeros and keeps its state. The per-step outputs
are written to dynamic-size TensorArrays (stacked by the loop, scattered once after it) and
transposed to batch-major unless ``output_time_major``. The decoder's variables are made by
one step traced before the loop (as ``dynamic_rnn`` probes its cell), under ``scope``
("decoder"): ``decoder/basic_lstm_cell/kernel``, ``decoder/dense/kernel``."""
from __future__ import annotations

import collections
from typing import Any, Optional

from . import math_ops as M
from .array_ops import select, transpose, zeros
from .graph import TensorShape, name_scope
from .op_builder import convert_to_tensor
from .rnn_cell import RNNCell, flatten, map_structure
from .variables import variable_scope


def rnn_output_size(cell: Any, output_layer: Any) -> Any:
    """The size of a decoder's ``rnn_output``: the cell's output size, or the output layer's
    units in its structure."""
    size = cell.output_size
    if output_layer is None:
        return size
    units = getattr(output_layer, "units", None)
    if units is None:
        raise TypeError(f"output_layer must have `units` (a Dense layer), got "
                        f"{type(output_layer).__name__}")
    return map_structure(lambda _: int(units), size)


class BasicDecoderOutput(collections.namedtuple("BasicDecoderOutput",
                                                ("rnn_output", "sample_id"))):
    """One step's (or the stacked) cell outputs and sampled ids."""


class Decoder:
    """Interface of ``dynamic_decode``'s decoders: ``batch_size``, ``output_size``,
    ``output_dtype``, ``initialize()``, ``step(time, inputs, state)``."""

    @property
    def tracks_own_finished(self) -> bool:
        return False

    def finalize(self, outputs: Any, final_state: Any, sequence_lengths: Any) -> tuple:
        raise NotImplementedError


class BasicDecoder(Decoder):
    """``cell`` driven by ``helper`` from ``initial_state``; ``output_layer`` (a Dense layer)
    maps the cell output to ``rnn_output``."""

    def __init__(self, cell: RNNCell, helper: Any, initial_state: Any,
                 output_layer: Any = None) -> None:
        if not isinstance(cell, RNNCell):
            raise TypeError(f"cell must be an RNNCell, received: {type(cell).__name__}")
        for m in ("initialize", "sample", "next_inputs"):
            if not callable(getattr(helper, m, None)):
                raise TypeError(f"helper must be a Helper (with {m}()), received: "
                                f"{type(helper).__name__}")
        if output_layer is not None and not callable(output_layer):
            raise TypeError(f"output_layer must be a Layer, received: "
                            f"{type(output_layer).__name__}")
        self._cell = cell
        self._helper = helper
        self._initial_state = map_structure(_as_state, initial_state)
        self._output_layer = output_layer

    @property
    def batch_size(self) -> Any:
        return self._helper.batch_size

    def _rnn_output_size(self) -> Any:
        return rnn_output_size(self._cell, self._output_layer)

    @property
    def output_size(self) -> BasicDecoderOutput:
        return BasicDecoderOutput(rnn_output=self._rnn_output_size(),
                                  sample_id=self._helper.sample_ids_shape)

    @property
    def output_dtype(self) -> BasicDecoderOutput:
        dtype = flatten(self._initial_state)[0].dtype    # TF: the first state tensor's
        return BasicDecoderOutput(map_structure(lambda _: dtype, self._rnn_output_size()),
                                  self._helper.sample_ids_dtype)

    def initialize(self, name: Optional[str] = None) -> tuple:
        """``(finished, first_inputs, initial_state)``."""
        return tuple(self._helper.initialize()) + (self._initial_state,)

    def step(self, time: Any, inputs: Any, state: Any, name: Optional[str] = None) -> tuple:
        """``(BasicDecoderOutput, next_state, next_inputs, finished)``."""
        with name_scope(name, "BasicDecoderStep"):
            cell_outputs, cell_state = self._cell(inputs, state)
            if self._output_layer is not None:
                cell_outputs = self._output_layer(cell_outputs)
            sample_ids = self._helper.sample(time=time, outputs=cell_outputs, state=cell_state)
            finished, next_inputs, next_state = self._helper.next_inputs(
                time=time, outputs=cell_outputs, state=cell_state, sample_ids=sample_ids)
        return BasicDecoderOutput(cell_outputs, sample_ids), next_state, next_inputs, finished


def _as_state(x: Any) -> Any:
    from .tensor_array import TensorArray
    return x if isinstance(x, TensorArray) else convert_to_tensor(x)


def _shape_list(size: Any) -> list:
    if isinstance(size, TensorShape):
        return list(size.dims or [])
    if isinstance(size, (list, tuple)):
        return [int(s) for s in size]
    return [int(size)]


def _zero_outputs(size: Any, dtype: Any, batch: Any) -> Any:
    def leaf(s, d):
        return zeros([batch] + _shape_list(s), dtype=d)
    return _map_pairs(leaf, size, dtype)


def _map_pairs(fn: Any, size: Any, dtype: Any) -> Any:
    """``fn(size_leaf, dtype_leaf)`` over ``output_size`` (TensorShapes and ints are leaves)."""
    if isinstance(size, tuple) and not isinstance(size, TensorShape):
        vals = [_map_pairs(fn, s, d) for s, d in zip(size, dtype)]
        return type(size)(*vals) if hasattr(size, "_fields") else type(size)(vals)
    return fn(size, dtype)


def _copy_finished(finished: Any, new: Any, cur: Any) -> Any:
    """TF's ``_maybe_copy_state``: a finished sequence keeps ``cur``; TensorArrays and
    scalars pass through."""
    from .tensor_array import TensorArray
    if isinstance(new, TensorArray) or convert_to_tensor(new).shape.ndims == 0:
        return new
    return select(finished, cur, new)


def _batch_time(x: Any) -> Any:
    x = convert_to_tensor(x)
    if x.shape.ndims is None or x.shape.ndims < 2:
        return x
    return transpose(x, [1, 0] + list(range(2, x.shape.ndims)))


def dynamic_decode(decoder: Decoder, output_time_major: bool = False,
                   impute_finished: bool = False, maximum_iterations: Any = None,
                   parallel_iterations: int = 32, swap_memory: bool = False,
                   scope: Any = None) -> tuple:
    """``(final_outputs, final_state, final_sequence_lengths)`` of ``decoder`` run until all
    sequences are finished (or ``maximum_iterations`` steps); outputs [batch, time, ...]."""
    from .control_flow import while_loop
    from .extra_ops import reduce_all
    from .tensor_array import TensorArray
    if not isinstance(decoder, Decoder):
        raise TypeError(f"Expected decoder to be type Decoder, but saw: "
                        f"{type(decoder).__name__}")
    with variable_scope(scope or "decoder"):
        max_iter = None
        if maximum_iterations is not None:
            max_iter = convert_to_tensor(maximum_iterations, dtype="int32")
            if max_iter.shape.ndims not in (None, 0):
                raise ValueError(f"maximum_iterations must be a scalar, got shape "
                                 f"{max_iter.shape}")
        init_finished, init_inputs, init_state = decoder.initialize()
        init_finished = convert_to_tensor(init_finished)
        with name_scope("probe"):      # the first step makes the variables, outside the loop
            decoder.step(convert_to_tensor(0, dtype="int32"), init_inputs, init_state)
        batch = decoder.batch_size
        zero_out = _zero_outputs(decoder.output_size, decoder.output_dtype, batch)
        if max_iter is not None:
            init_finished = M.logical_or(init_finished, M.greater_equal(0, max_iter))
        init_lengths = M.cast(M.logical_and(init_finished, M.logical_not(init_finished)),
                              "int32")
        tas = map_structure(lambda z: TensorArray(z.dtype, size=0, dynamic_size=True,
                                                  element_shape=z.shape.dims[1:]), zero_out)

        def cond(time, tas, state, inputs, finished, lengths):
            return M.logical_not(reduce_all(finished))

        def body(time, tas, state, inputs, finished, lengths):
            outputs, dec_state, next_inputs, dec_finished = decoder.step(time, inputs, state)
            if decoder.tracks_own_finished:
                next_finished = convert_to_tensor(dec_finished)
            else:
                next_finished = M.logical_or(dec_finished, finished)
            next_lengths = select(M.logical_not(finished),
                                  M.add(M.multiply(lengths, 0), M.add(time, 1)), lengths)
            if max_iter is not None:
                next_finished = M.logical_or(next_finished,
                                             M.greater_equal(M.add(time, 1), max_iter))
            if impute_finished:
                emit = map_structure(lambda o, z: select(finished, z, o), outputs, zero_out)
                dec_state = map_structure(lambda n, c: _copy_finished(finished, n, c),
                                          dec_state, state)
            else:
                emit = outputs
            tas = map_structure(lambda ta, o: ta.write(time, o), tas, emit)
            return (M.add(time, 1), tas, dec_state, next_inputs, next_finished, next_lengths)

        res = while_loop(cond, body, (convert_to_tensor(0, dtype="int32"), tas, init_state,
                                      init_inputs, init_finished, init_lengths),
                         parallel_iterations=parallel_iterations,
                         maximum_iterations=max_iter, swap_memory=swap_memory)
        final_outputs = map_structure(lambda ta: ta.stack(), res[1])
        final_state, final_lengths = res[2], res[5]
        if type(decoder).finalize is not Decoder.finalize:    # an error in it is not hidden
            final_outputs, final_state = decoder.finalize(final_outputs, final_state,
                                                          final_lengths)
        if not output_time_major:
            final_outputs = map_structure(_batch_time, final_outputs)
    return final_outputs, final_state, final_lengths


__all__ = ["BasicDecoderOutput", "Decoder", "BasicDecoder", "dynamic_decode"]
