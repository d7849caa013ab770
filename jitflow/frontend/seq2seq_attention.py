"""``tf.contrib.seq2seq`` attention (TF 1.15): ``BahdanauAttention`` (additive),
``LuongAttention`` (multiplicative), ``AttentionWrapper`` (a cell attending to a memory
at every step) and ``tile_batch`` (the memory of a cell decoded by ``BeamSearchDecoder``,
seq2seq_beam.py).

The memory is masked past ``memory_sequence_length`` (zeros) and projected once by the
``memory_layer`` (Dense, no bias) into the keys; each step the query (the cell output) is
scored against the keys, scores past a memory's length get -inf, ``softmax`` gives the
alignments, the context is alignments @ values, and the ``attention_layer`` (Dense, no
bias, when ``attention_layer_size``) maps [cell_output, context] to the attention.
Variable names follow TF: ``memory_layer/kernel``, ``.../attention_wrapper/
bahdanau_attention/{query_layer/kernel, attention_v}``, ``.../attention_wrapper/
attention_layer/kernel``."""
from __future__ import annotations

import collections
from typing import Any, Callable, Optional

import numpy as np

from . import math_ops as M
from .array_ops import expand_dims, reshape, select, shape, squeeze, zeros, zeros_like
from .extra_ops import concat, reduce_sum, tile
from .graph import Tensor, TensorShape, name_scope
from .layers_core import Dense
from .nn import softmax
from .op_builder import convert_to_tensor
from .rnn_cell import RNNCell, map_structure
from .variables import get_variable, variable_scope


def _dim(x: Tensor, axis: int) -> Any:
    d = x.shape.dim(axis)
    return int(d) if d is not None else shape(x)[axis]


def _dense(units: int, name: str) -> Dense:
    """A Dense layer without bias named as TF's class layers are: ``name`` uniqued in the
    variable scope at its first call (``memory_layer``, ``memory_layer_1``, ...)."""
    layer = Dense(units, name=name, use_bias=False)
    layer._given_name = None        # the scope comes from default_name=name (uniqued)
    return layer


def _length_mask(lengths: Tensor, maxlen: Any) -> Tensor:
    """``[batch, maxlen]`` bools ``j < lengths[b]``; ``maxlen`` may be a run-time scalar."""
    from .control_flow import range as range_
    cols = range_(maxlen) if isinstance(maxlen, Tensor) else convert_to_tensor(
        np.arange(int(maxlen), dtype=np.int32))
    return M.less(expand_dims(M.cast(cols, "int32"), 0), expand_dims(lengths, 1))


class _BaseAttentionMechanism:
    """Masked memory (``values``), its projection (``keys``) and the masked softmax."""

    def __init__(self, memory: Any, memory_sequence_length: Any, memory_layer: Any,
                 query_layer: Any, probability_fn: Optional[Callable], score_mask_value: Any,
                 name: str) -> None:
        memory = convert_to_tensor(memory)
        if memory.shape.ndims != 3:
            raise ValueError(f"{name}: memory must be [batch, max_time, depth], got shape "
                             f"{memory.shape}")
        self._name = name
        self._query_layer = query_layer
        self._memory_layer = memory_layer
        self._probability_fn = probability_fn or (lambda score: softmax(score))
        self._score_mask_value = (float("-inf") if score_mask_value is None
                                  else float(score_mask_value))
        self._seq = None
        with name_scope(None, "BaseAttentionMechanismInit"):
            self._batch_size = _dim(memory, 0)
            self._alignments_size = _dim(memory, 1)
            if memory_sequence_length is not None:
                self._seq = M.cast(convert_to_tensor(memory_sequence_length), "int32")
                if self._seq.shape.ndims != 1:
                    raise ValueError(f"{name}: memory_sequence_length must be a vector, got "
                                     f"shape {self._seq.shape}")
                self._live = _length_mask(self._seq, self._alignments_size)
                memory = M.multiply(memory, expand_dims(M.cast(self._live, memory.dtype), 2))
            self._values = memory
            self._keys = memory_layer(memory) if memory_layer is not None else memory
        self._scope = None

    @property
    def values(self) -> Tensor:
        return self._values

    @property
    def keys(self) -> Tensor:
        return self._keys

    @property
    def batch_size(self) -> Any:
        return self._batch_size

    @property
    def alignments_size(self) -> Any:
        return self._alignments_size

    @property
    def state_size(self) -> Any:
        return self._alignments_size

    def initial_alignments(self, batch_size: Any, dtype: Any) -> Tensor:
        return zeros([batch_size, self._alignments_size], dtype=dtype)

    def initial_state(self, batch_size: Any, dtype: Any) -> Tensor:
        return self.initial_alignments(batch_size, dtype)

    def _masked_softmax(self, score: Tensor) -> Tensor:
        if self._seq is not None:
            score = select(self._live, score, M.add(zeros_like(score), self._score_mask_value))
        return self._probability_fn(score)

    def _variable_scope(self, default: str):
        """Its scope at the first call (``default``, uniqued), reused at every later call."""
        if self._scope is None:
            return variable_scope(None, default)
        return variable_scope(self._scope, reuse=True)

    def __call__(self, query: Any, state: Any) -> tuple:
        query = convert_to_tensor(query)
        with self._variable_scope(self._default_scope) as vs:
            self._scope = vs
            score = self._score(query)
        alignments = self._masked_softmax(score)
        return alignments, alignments


class BahdanauAttention(_BaseAttentionMechanism):
    """Additive attention: ``score = sum(v * tanh(keys + W_q query), -1)``; ``normalize``
    uses the weight-normalized ``g * v / |v|`` and a bias."""
    _default_scope = "bahdanau_attention"

    def __init__(self, num_units: int, memory: Any, memory_sequence_length: Any = None,
                 normalize: bool = False, probability_fn: Optional[Callable] = None,
                 score_mask_value: Any = None, dtype: Any = None,
                 name: str = "BahdanauAttention") -> None:
        self._num_units = int(num_units)
        self._normalize = normalize
        super().__init__(memory, memory_sequence_length,
                         _dense(num_units, "memory_layer"),
                         _dense(num_units, "query_layer"),
                         probability_fn, score_mask_value, name)

    def _score(self, query: Tensor) -> Tensor:
        pq = expand_dims(self._query_layer(query), 1)
        dt = self._keys.dtype
        v = get_variable("attention_v", [self._num_units], dtype=dt)
        if not self._normalize:
            return reduce_sum(M.multiply(v, M.tanh(M.add(self._keys, pq))), [2])
        from .initializers import Constant, Zeros
        g = get_variable("attention_g", [], dtype=dt,
                         initializer=Constant(float(np.sqrt(1.0 / self._num_units))))
        b = get_variable("attention_b", [self._num_units], dtype=dt,
                         initializer=Zeros())
        normed_v = M.multiply(M.multiply(g, v), M.rsqrt(reduce_sum(M.square(v))))
        return reduce_sum(M.multiply(normed_v, M.tanh(M.add(M.add(self._keys, pq), b))), [2])


class LuongAttention(_BaseAttentionMechanism):
    """Multiplicative attention: ``score = keys @ query`` (the query's depth must be
    ``num_units``); ``scale`` multiplies by a scalar ``attention_g`` (initially 1)."""
    _default_scope = "luong_attention"

    def __init__(self, num_units: int, memory: Any, memory_sequence_length: Any = None,
                 scale: bool = False, probability_fn: Optional[Callable] = None,
                 score_mask_value: Any = None, dtype: Any = None,
                 name: str = "LuongAttention") -> None:
        self._num_units = int(num_units)
        self._scale = scale
        super().__init__(memory, memory_sequence_length,
                         _dense(num_units, "memory_layer"), None,
                         probability_fn, score_mask_value, name)

    def _score(self, query: Tensor) -> Tensor:
        depth = query.shape.dim(-1)
        if depth is not None and int(depth) != self._num_units:
            raise ValueError(f"Incompatible or unknown inner dimensions between query and "
                             f"keys. Query (shape {query.shape}) has units: {depth}. Keys have"
                             f" units: {self._num_units}. Perhaps you need to set num_units "
                             f"to the keys' dimension ({depth})?")
        score = squeeze(M.matmul(expand_dims(query, 1), self._keys, transpose_b=True), [1])
        if self._scale:
            from .initializers import Ones
            g = get_variable("attention_g", [], dtype=score.dtype,
                             initializer=Ones())
            score = M.multiply(g, score)
        return score


class AttentionWrapperState(collections.namedtuple(
        "AttentionWrapperState", ("cell_state", "attention", "time", "alignments",
                                  "alignment_history", "attention_state"))):
    """The AttentionWrapper's state; ``clone(**kwargs)`` replaces fields."""

    def clone(self, **kwargs: Any) -> "AttentionWrapperState":
        return self._replace(**kwargs)


class AttentionWrapper(RNNCell):
    """``cell`` fed ``concat([inputs, previous attention])``; its output queries
    ``attention_mechanism`` (one, or a list: their attentions are concatenated and the
    state's alignment fields become tuples); outputs the attention (``output_attention``) or
    the cell output. ``alignment_history`` keeps every step's alignments in a TensorArray."""

    def __init__(self, cell: RNNCell, attention_mechanism: Any,
                 attention_layer_size: Any = None, alignment_history: bool = False,
                 cell_input_fn: Optional[Callable] = None, output_attention: bool = True,
                 initial_cell_state: Any = None, name: Optional[str] = None,
                 attention_layer: Any = None) -> None:
        super().__init__(name=name)
        if not isinstance(cell, RNNCell):
            raise TypeError(f"cell must be an RNNCell, saw type: {type(cell).__name__}")
        self._multi = isinstance(attention_mechanism, (list, tuple))
        mechs = list(attention_mechanism) if self._multi else [attention_mechanism]
        if not mechs:
            raise ValueError("attention_mechanism must contain at least one mechanism")
        for m in mechs:
            if not isinstance(m, _BaseAttentionMechanism):
                raise TypeError(f"attention_mechanism must be an AttentionMechanism, saw type:"
                                f" {type(m).__name__}")
        if attention_layer_size is not None and attention_layer is not None:
            raise ValueError("Only one of attention_layer_size and attention_layer should be "
                             "set")
        self._cell = cell
        self._mechs = mechs
        self._cell_input_fn = cell_input_fn or (lambda i, a: concat([i, a], -1))
        self._output_attention = output_attention
        self._alignment_history = alignment_history
        self._initial_cell_state = initial_cell_state
        if attention_layer_size is not None:
            sizes = list(attention_layer_size) if isinstance(attention_layer_size,
                                                             (list, tuple)) \
                else [attention_layer_size]
            if len(sizes) != len(mechs):
                raise ValueError(f"If provided, attention_layer_size must contain exactly one "
                                 f"integer per attention_mechanism, saw: {len(sizes)} vs "
                                 f"{len(mechs)}")
            self._layers: Optional[list] = [_dense(int(n), "attention_layer") for n in sizes]
            self._sizes = [int(n) for n in sizes]
        elif attention_layer is not None:
            layers = list(attention_layer) if isinstance(attention_layer, (list, tuple)) \
                else [attention_layer]
            if len(layers) != len(mechs):
                raise ValueError(f"If provided, attention_layer must contain exactly one layer"
                                 f" per attention_mechanism, saw: {len(layers)} vs "
                                 f"{len(mechs)}")
            self._layers, self._sizes = layers, [int(la.units) for la in layers]
        else:
            self._layers = None
            depths = [m.values.shape.dim(-1) for m in mechs]
            if any(d is None for d in depths):
                raise ValueError(f"AttentionWrapper: the memory's depth must be known, got "
                                 f"{depths}")
            self._sizes = [int(d) for d in depths]
        self._attention_size = sum(self._sizes)

    def _item_or_tuple(self, seq: Any) -> Any:
        seq = tuple(seq)
        return seq if self._multi else seq[0]

    @property
    def output_size(self) -> Any:
        return self._attention_size if self._output_attention else self._cell.output_size

    @property
    def state_size(self) -> AttentionWrapperState:
        a = self._item_or_tuple(m.alignments_size for m in self._mechs)
        return AttentionWrapperState(
            cell_state=self._cell.state_size, time=TensorShape([]),
            attention=self._attention_size, alignments=a,
            alignment_history=a if self._alignment_history else (),
            attention_state=self._item_or_tuple(m.state_size for m in self._mechs))

    def zero_state(self, batch_size: Any, dtype: Any = "float32") -> AttentionWrapperState:
        from .tensor_array import TensorArray
        with name_scope(f"{type(self).__name__}ZeroState"):
            if self._initial_cell_state is not None:
                cell_state = self._initial_cell_state
            else:
                cell_state = self._cell.zero_state(batch_size, dtype)
            aligns = [m.initial_alignments(batch_size, dtype) for m in self._mechs]
            history: Any = ()
            if self._alignment_history:
                history = self._item_or_tuple(
                    TensorArray(dtype, size=0, dynamic_size=True,
                                element_shape=a.shape.dims) for a in aligns)
            return AttentionWrapperState(
                cell_state=cell_state, time=zeros([], dtype="int32"),
                attention=zeros([batch_size, self._attention_size], dtype=dtype),
                alignments=self._item_or_tuple(aligns), alignment_history=history,
                attention_state=self._item_or_tuple(m.initial_state(batch_size, dtype)
                                                    for m in self._mechs))

    def build(self, inputs_shape) -> None:
        self.built = True

    def call(self, inputs: Tensor, state: Any) -> tuple:
        if not isinstance(state, AttentionWrapperState):
            raise TypeError(f"Expected state to be instance of AttentionWrapperState. "
                            f"Received type {type(state).__name__} instead.")
        cell_inputs = self._cell_input_fn(inputs, state.attention)
        cell_output, next_cell_state = self._cell(cell_inputs, state.cell_state)
        prev_states = state.attention_state if self._multi else [state.attention_state]
        prev_hist = state.alignment_history if self._multi else [state.alignment_history]
        attns, aligns, states, hists = [], [], [], []
        for i, mech in enumerate(self._mechs):
            alignments, next_attention_state = mech(cell_output, prev_states[i])
            context = squeeze(M.matmul(expand_dims(alignments, 1), mech.values), [1])
            if self._layers is not None:
                attns.append(self._layers[i](concat([cell_output, context], 1)))
            else:
                attns.append(context)
            aligns.append(alignments)
            states.append(next_attention_state)
            if self._alignment_history:
                hists.append(prev_hist[i].write(state.time, alignments))
        attention = concat(attns, 1) if len(attns) > 1 else attns[0]
        next_state = AttentionWrapperState(
            time=M.add(state.time, 1), cell_state=next_cell_state, attention=attention,
            attention_state=self._item_or_tuple(states), alignments=self._item_or_tuple(aligns),
            alignment_history=self._item_or_tuple(hists) if self._alignment_history else ())
        return (attention if self._output_attention else cell_output), next_state


def tile_batch(t: Any, multiplier: int, name: Optional[str] = None) -> Any:
    """Each batch entry of every tensor in ``t`` repeated ``multiplier`` times in a row:
    [batch, ...] -> [batch * multiplier, ...]."""
    m = int(multiplier)

    def one(x: Any) -> Tensor:
        x = convert_to_tensor(x)
        if x.shape.ndims is None or x.shape.ndims < 1:
            raise ValueError(f"tile_batch: t must have rank >= 1, got shape {x.shape}")
        if m == 1:
            return x
        rest = [d for d in x.shape.dims[1:]]
        if any(d is None for d in rest):
            raise NotImplementedError(f"tile_batch needs static non-batch dims, got {x.shape}")
        tiled = tile(expand_dims(x, 1), [1, m] + [1] * len(rest))
        return reshape(tiled, [-1] + [int(d) for d in rest])

    with name_scope(name, "tile_batch"):
        return map_structure(one, t)


__all__ = ["BahdanauAttention", "LuongAttention", "AttentionWrapper", "AttentionWrapperState",
           "tile_batch"]
