"""``tf.contrib.seq2seq`` helpers (TF 1.15): what a ``BasicDecoder`` feeds its cell at each
step and how it picks ``sample_id``. ``TrainingHelper`` reads the ground-truth inputs (teacher
forcing), ``GreedyEmbeddingHelper`` feeds back the embedding of the argmax,
``SampleEmbeddingHelper`` of a sample from softmax(logits / temperature),
``ScheduledEmbeddingTrainingHelper`` mixes true inputs and sampled ones.

TF reads the training inputs from a TensorArray under a ``tf.cond``; here step ``t`` gathers
row ``min(t, T - 1)`` of the time-major inputs and a ``tf.where`` puts zeros once every
sequence is finished: the same values, no cond in the loop body."""
from __future__ import annotations

from typing import Any, Callable, Optional

from . import math_ops as M
from .array_ops import select, shape, transpose, zeros_like
from .extra_ops import argmax, gather, reduce_all
from .graph import Tensor, TensorShape, name_scope
from .nn import embedding_lookup
from .op_builder import convert_to_tensor
from .rnn_cell import flatten, pack_as


class Helper:
    """Interface: ``batch_size``, ``sample_ids_shape``, ``sample_ids_dtype``,
    ``initialize() -> (finished, inputs)``, ``sample(time, outputs, state) -> sample_ids``,
    ``next_inputs(time, outputs, state, sample_ids) -> (finished, inputs, state)``."""

    @property
    def batch_size(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define batch_size")

    @property
    def sample_ids_shape(self) -> TensorShape:
        return TensorShape([])

    @property
    def sample_ids_dtype(self):
        from ..ir.dtypes import int32
        return int32


class TrainingHelper(Helper):
    """Feeds ``inputs[:, t]`` ([batch, time, ...], time-major with ``time_major``) at step t;
    sequence b is finished once ``t + 1 >= sequence_length[b]``."""

    def __init__(self, inputs: Any, sequence_length: Any, time_major: bool = False,
                 name: Optional[str] = None) -> None:
        with name_scope(name, "TrainingHelper"):
            flat = [convert_to_tensor(x) for x in flatten(inputs)]
            for x in flat:
                if x.shape.ndims is None or x.shape.ndims < 2:
                    raise ValueError(f"TrainingHelper: inputs must be at least [batch, time], "
                                     f"got shape {x.shape}")
            if not time_major:
                flat = [transpose(x, [1, 0] + list(range(2, x.shape.ndims))) for x in flat]
            self._inputs = inputs
            self._tm = flat
            self._sequence_length = M.cast(convert_to_tensor(sequence_length), "int32")
            if self._sequence_length.shape.ndims != 1:
                raise ValueError(f"Expected sequence_length to be a vector, but received shape:"
                                 f" {self._sequence_length.shape}")
            self._zero_inputs = [zeros_like(gather(x, 0)) for x in flat]
            b = self._sequence_length.shape.dim(0)
            self._batch_size = int(b) if b is not None else shape(self._sequence_length)[0]

    @property
    def inputs(self) -> Any:
        return self._inputs

    @property
    def sequence_length(self) -> Tensor:
        return self._sequence_length

    @property
    def batch_size(self) -> Any:
        return self._batch_size

    def _read(self, time: Tensor, all_finished: Tensor) -> Any:
        rows = []
        for x, z in zip(self._tm, self._zero_inputs):
            last = M.subtract(shape(x)[0], 1)
            rows.append(select(all_finished, z, gather(x, M.maximum(M.minimum(time, last), 0))))
        return pack_as(self._inputs, rows)

    def initialize(self, name: Optional[str] = None) -> tuple:
        with name_scope(name, "TrainingHelperInitialize"):
            finished = M.equal(0, self._sequence_length)
            return finished, self._read(convert_to_tensor(0, dtype="int32"),
                                        reduce_all(finished))

    def sample(self, time: Any, outputs: Tensor, state: Any, name: Optional[str] = None):
        with name_scope(name, "TrainingHelperSample"):
            return M.cast(argmax(outputs, axis=-1), "int32")

    def next_inputs(self, time: Any, outputs: Any, state: Any, sample_ids: Any = None,
                    name: Optional[str] = None) -> tuple:
        with name_scope(name, "TrainingHelperNextInputs"):
            next_time = M.add(time, 1)
            finished = M.greater_equal(next_time, self._sequence_length)
            return finished, self._read(next_time, reduce_all(finished)), state


class ScheduledEmbeddingTrainingHelper(TrainingHelper):
    """A TrainingHelper that, with probability ``sampling_probability`` per sequence and
    step, feeds ``embedding(id)`` of an id drawn from softmax(outputs) instead of the true
    input; ``sample_id`` is that id, or -1 where the true input is fed (TF's rule)."""

    def __init__(self, inputs: Any, sequence_length: Any, embedding: Any,
                 sampling_probability: Any, time_major: bool = False,
                 seed: Optional[int] = None, scheduling_seed: Optional[int] = None,
                 name: Optional[str] = None) -> None:
        self._embedding_fn = embedding if callable(embedding) else (
            lambda ids: embedding_lookup(embedding, ids))
        self._p = convert_to_tensor(sampling_probability, dtype="float32")
        if self._p.shape.ndims not in (0, 1):
            raise ValueError(f"sampling_probability must be either a scalar or a vector. "
                             f"saw shape: {self._p.shape}")
        self._seed, self._scheduling_seed = seed, scheduling_seed
        super().__init__(inputs, sequence_length, time_major, name)

    def sample(self, time: Any, outputs: Any, state: Any, name: Optional[str] = None):
        from .array_ops import fill, reshape
        from .random_ops import random_uniform
        from .sort_ops import categorical
        if not isinstance(self._batch_size, int):
            raise NotImplementedError("ScheduledEmbeddingTrainingHelper needs a static batch "
                                      "size (the sampler draws [batch] numbers)")
        noise = random_uniform([self._batch_size], seed=self._scheduling_seed)
        ids = reshape(categorical(outputs, 1, dtype="int32", seed=self._seed), [-1])
        return select(M.less(noise, self._p), ids, fill([self._batch_size], -1))

    def next_inputs(self, time: Any, outputs: Any, state: Any, sample_ids: Any = None,
                    name: Optional[str] = None) -> tuple:
        finished, base, state = super().next_inputs(time, outputs, state, sample_ids)
        sampled = self._embedding_fn(M.maximum(sample_ids, 0))
        mixed = select(M.greater(sample_ids, -1), sampled, base)
        return finished, select(reduce_all(finished), base, mixed), state


class GreedyEmbeddingHelper(Helper):
    """Feeds ``embedding(argmax(outputs))``; starts from ``embedding(start_tokens)``; a
    sequence is finished when its sample is ``end_token``. ``embedding`` is a [vocab, depth]
    tensor/variable or a callable of the ids."""

    def __init__(self, embedding: Any, start_tokens: Any, end_token: Any) -> None:
        if callable(embedding):
            self._embedding_fn: Callable = embedding
        else:
            self._embedding_fn = lambda ids: embedding_lookup(embedding, ids)
        self._start_tokens = M.cast(convert_to_tensor(start_tokens), "int32")
        self._end_token = M.cast(convert_to_tensor(end_token), "int32")
        if self._start_tokens.shape.ndims != 1:
            raise ValueError(f"start_tokens must be a vector, got shape "
                             f"{self._start_tokens.shape}")
        if self._end_token.shape.ndims != 0:
            raise ValueError(f"end_token must be a scalar, got shape {self._end_token.shape}")
        b = self._start_tokens.shape.dim(0)
        self._batch_size = int(b) if b is not None else shape(self._start_tokens)[0]
        self._start_inputs = self._embedding_fn(self._start_tokens)

    @property
    def batch_size(self) -> Any:
        return self._batch_size

    def initialize(self, name: Optional[str] = None) -> tuple:
        finished = M.not_equal(self._start_tokens, self._start_tokens)    # all False
        return finished, self._start_inputs

    def _check(self, outputs: Any) -> Tensor:
        if not isinstance(outputs, Tensor):
            raise TypeError(f"Expected outputs to be a single Tensor, got: {type(outputs)}")
        return outputs

    def sample(self, time: Any, outputs: Any, state: Any, name: Optional[str] = None):
        return M.cast(argmax(self._check(outputs), axis=-1), "int32")

    def next_inputs(self, time: Any, outputs: Any, state: Any, sample_ids: Any,
                    name: Optional[str] = None) -> tuple:
        finished = M.equal(sample_ids, self._end_token)
        nxt = select(reduce_all(finished), self._start_inputs, self._embedding_fn(sample_ids))
        return finished, nxt, state


class SampleEmbeddingHelper(GreedyEmbeddingHelper):
    """As ``GreedyEmbeddingHelper`` but the id is drawn from softmax(logits / temperature)
    (``tf.random.categorical``: static [batch, vocab] logits)."""

    def __init__(self, embedding: Any, start_tokens: Any, end_token: Any,
                 softmax_temperature: Any = None, seed: Optional[int] = None) -> None:
        super().__init__(embedding, start_tokens, end_token)
        self._temperature = softmax_temperature
        self._seed = seed

    def sample(self, time: Any, outputs: Any, state: Any, name: Optional[str] = None):
        from .array_ops import reshape
        from .sort_ops import categorical
        logits = self._check(outputs)
        if self._temperature is not None:
            logits = M.truediv(logits, self._temperature)
        ids = categorical(logits, 1, dtype="int32", seed=self._seed)
        return reshape(ids, [-1])


class CustomHelper(Helper):
    """A helper from three callables: ``initialize_fn() -> (finished, inputs)``,
    ``sample_fn(time, outputs, state) -> ids``, ``next_inputs_fn(time, outputs, state,
    sample_ids) -> (finished, inputs, state)``."""

    def __init__(self, initialize_fn: Callable, sample_fn: Callable, next_inputs_fn: Callable,
                 sample_ids_shape: Any = None, sample_ids_dtype: Any = None) -> None:
        self._initialize_fn, self._sample_fn = initialize_fn, sample_fn
        self._next_inputs_fn = next_inputs_fn
        self._shape = TensorShape(sample_ids_shape or [])
        self._dtype = sample_ids_dtype
        self._batch_size = None

    @property
    def batch_size(self) -> Any:
        if self._batch_size is None:
            raise ValueError("CustomHelper: batch_size is known only after initialize()")
        return self._batch_size

    @property
    def sample_ids_shape(self) -> TensorShape:
        return self._shape

    @property
    def sample_ids_dtype(self):
        from ..ir.dtypes import as_dtype, int32
        return int32 if self._dtype is None else as_dtype(self._dtype)

    def initialize(self, name: Optional[str] = None) -> tuple:
        finished, inputs = self._initialize_fn()
        finished = convert_to_tensor(finished)
        if self._batch_size is None:
            b = finished.shape.dim(0) if finished.shape.ndims == 1 else None
            self._batch_size = int(b) if b is not None else shape(finished)[0]
        return finished, inputs

    def sample(self, time: Any, outputs: Any, state: Any, name: Optional[str] = None):
        return self._sample_fn(time=time, outputs=outputs, state=state)

    def next_inputs(self, time: Any, outputs: Any, state: Any, sample_ids: Any,
                    name: Optional[str] = None) -> tuple:
        return self._next_inputs_fn(time=time, outputs=outputs, state=state,
                                    sample_ids=sample_ids)


class InferenceHelper(Helper):
    """Feeds ``next_inputs_fn(sample_ids)`` (default: the samples themselves) where
    ``sample_ids = sample_fn(outputs)``; finished where ``end_fn(sample_ids)``."""

    def __init__(self, sample_fn: Callable, sample_shape: Any, sample_dtype: Any,
                 start_inputs: Any, end_fn: Callable, next_inputs_fn: Optional[Callable] = None
                 ) -> None:
        from ..ir.dtypes import as_dtype
        self._sample_fn, self._end_fn = sample_fn, end_fn
        self._next_inputs_fn = next_inputs_fn or (lambda ids: ids)
        self._shape = TensorShape(sample_shape)
        self._dtype = as_dtype(sample_dtype)
        self._start_inputs = convert_to_tensor(start_inputs)
        b = self._start_inputs.shape.dim(0)
        self._batch_size = int(b) if b is not None else shape(self._start_inputs)[0]

    @property
    def batch_size(self) -> Any:
        return self._batch_size

    @property
    def sample_ids_shape(self) -> TensorShape:
        return self._shape

    @property
    def sample_ids_dtype(self):
        return self._dtype

    def initialize(self, name: Optional[str] = None) -> tuple:
        from .array_ops import zeros
        return M.not_equal(zeros([self._batch_size], "int32"), 0), self._start_inputs

    def sample(self, time: Any, outputs: Any, state: Any, name: Optional[str] = None):
        return self._sample_fn(outputs)

    def next_inputs(self, time: Any, outputs: Any, state: Any, sample_ids: Any,
                    name: Optional[str] = None) -> tuple:
        finished = convert_to_tensor(self._end_fn(sample_ids))
        nxt = select(reduce_all(finished), self._start_inputs, self._next_inputs_fn(sample_ids))
        return finished, nxt, state


__all__ = ["Helper", "TrainingHelper", "GreedyEmbeddingHelper", "SampleEmbeddingHelper",
           "ScheduledEmbeddingTrainingHelper", "CustomHelper", "InferenceHelper"]
