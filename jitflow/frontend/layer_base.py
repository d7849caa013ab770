"""The ``tf.layers.Layer`` base class and the argument helpers the layers share."""
from __future__ import annotations

import contextlib
import re
from typing import Any, Callable, Iterator, Optional

import numpy as np

from ..ir.dtypes import as_dtype, bool_, float32
from . import math_ops as M
from .array_ops import reshape
from .graph import GraphKeys, Tensor, get_default_graph
from .op_builder import convert_to_tensor, static_value
from .variables import Variable, get_variable, variable_scope


def _snake(name: str) -> str:
    """TF's ``to_snake_case``: Dense -> dense, MaxPooling2D -> max_pooling2d."""
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return s if s[0] != "_" else "private" + s


def keras_uid(base: str, zero_based: bool = True) -> str:
    """Keras's per-graph unique object name: dense, dense_1, ... (input_1, input_2, ... when
    not ``zero_based``)."""
    counts = get_default_graph().__dict__.setdefault("_keras_uids", {})
    n = counts.get(base, 0) + (0 if zero_based else 1)
    counts[base] = counts.get(base, 0) + 1
    return f"{base}_{n}" if n else base


def _pair(v: Any, what: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    t = tuple(int(x) for x in v)
    if len(t) == 1:
        return t[0], t[0]
    if len(t) != 2:
        raise ValueError(f"The `{what}` argument must be a tuple of 2 integers. Received: {v}")
    return t


def _padding(p: str) -> str:
    if not isinstance(p, str) or p.lower() not in ("same", "valid"):
        raise ValueError(f"The `padding` argument must be one of 'valid', 'same'. Received: {p}")
    return p.upper()


def _channels_last(data_format: str, what: str) -> None:
    if data_format not in ("channels_last", "NHWC", None):
        raise NotImplementedError(f"{what}: data_format={data_format!r} is not supported; "
                                  "jitflow uses channels_last (NHWC)")


def _no_constraints(*constraints: Any) -> None:
    if any(c is not None for c in constraints):
        raise NotImplementedError("kernel_constraint/bias_constraint are not supported by "
                                  "jitflow's tf.layers")


def _nn_fn(name: str, layer: str) -> Callable:
    from . import nn as _nn
    fn = getattr(_nn, name, None)
    if fn is None:
        raise NotImplementedError(f"tf.layers.{layer} needs tf.nn.{name}, which this build of "
                                  "jitflow does not provide")
    return fn


def _bias_add(x: Tensor, b: Any) -> Tensor:
    from . import nn as _nn
    fn = getattr(_nn, "bias_add", None)
    if fn is not None:
        return fn(x, b)
    return M.add(x, b, name="BiasAdd")


def _training_value(training: Any) -> Any:
    """A Python bool (or None) stays one; a constant tensor folds; else a bool tensor."""
    if training is None:
        return False
    if isinstance(training, (bool, np.bool_, int, np.integer)):
        return bool(training)
    t = convert_to_tensor(training)
    sv = static_value(t)
    if sv is not None and np.asarray(sv).size == 1:
        return bool(np.asarray(sv).reshape(()))
    if t.dtype is not bool_:
        raise TypeError(f"`training` must be a Python bool or a bool tensor, got {t!r}")
    if t.shape.ndims not in (None, 0):
        raise ValueError(f"`training` must be a scalar, got shape {t.shape}")
    if t.shape.ndims is None:   # tf.placeholder(tf.bool): a scalar, so the select keeps shapes
        t = reshape(t, [], name="training_scalar")
    return t


# ---------------------------------------------------------------------- base ---------------

class Layer:
    """TF1 ``tf.layers.Layer``: owns a variable scope; variables are made at the first call."""

    def __init__(self, trainable: bool = True, name: Optional[str] = None, dtype: Any = None,
                 _reuse: Any = None, **kwargs: Any) -> None:
        self.trainable = trainable
        self._given_name = name
        self._base_name = name or _snake(type(self).__name__)
        self.name = name or self._base_name
        self._reuse = kwargs.pop("reuse", _reuse)
        self._batch_input_shape = kwargs.pop("_batch_input_shape", None)   # Keras's input_shape
        if kwargs.pop("_keras_named", False) and not name:    # Keras names layers when made
            self._base_name = self.name = keras_uid(self._base_name)
        self.dtype = as_dtype(dtype) if dtype is not None else None
        self._scope = None
        self.built = False
        self._trainable_weights: list[Variable] = []
        self._non_trainable_weights: list[Variable] = []
        self._updates: list = []
        self._losses: list = []
        self.input_spec = None

    # -------------------------------------------------------------- properties ------------
    @property
    def trainable_weights(self) -> list:
        return list(self._trainable_weights) if self.trainable else []

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list:
        if self.trainable:
            return list(self._non_trainable_weights)
        return self._trainable_weights + self._non_trainable_weights

    non_trainable_variables = non_trainable_weights

    @property
    def weights(self) -> list:
        return self._trainable_weights + self._non_trainable_weights

    variables = weights

    @property
    def updates(self) -> list:
        return list(self._updates)

    @property
    def losses(self) -> list:
        return list(self._losses)

    @property
    def scope_name(self) -> str:
        if self._scope is None:
            raise ValueError("No name available for layer scope because the layer "
                             f"\"{self.name}\" has not been used yet.")
        return self._scope.name

    # -------------------------------------------------------------- variables -------------
    def add_weight(self, name: str, shape, dtype: Any = None, initializer: Any = None,
                   regularizer: Optional[Callable] = None, trainable: bool = True,
                   constraint: Any = None, **kwargs: Any) -> Variable:
        g = get_default_graph()
        existing = set(id(v) for v in g.get_collection(GraphKeys.GLOBAL_VARIABLES))
        trainable = bool(trainable and self.trainable)
        v = get_variable(name, shape=shape, dtype=dtype or self.dtype or float32,
                         initializer=initializer, trainable=trainable)
        new = id(v) not in existing
        if trainable:
            self._trainable_weights.append(v)
        else:
            self._non_trainable_weights.append(v)
        if regularizer is not None and new:
            with g.name_scope(f"{name}/Regularizer"):
                loss = regularizer(v)
            if loss is not None:
                self._losses.append(loss)
                g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
        return v

    add_variable = add_weight

    def add_update(self, updates: Any, inputs: Any = None) -> None:
        ups = updates if isinstance(updates, (list, tuple)) else [updates]
        g = get_default_graph()
        for u in ups:
            self._updates.append(u)
            g.add_to_collection(GraphKeys.UPDATE_OPS, u)

    # -------------------------------------------------------------- calling ---------------
    def _capture_scope(self) -> None:
        if self._scope is not None:
            return
        if self._reuse:
            cm = variable_scope(self._base_name, reuse=self._reuse)
        elif self._given_name:
            cm = variable_scope(self._given_name)
        else:
            cm = variable_scope(None, default_name=self._base_name)
        with cm as vs:
            self._scope = vs
        self.name = vs.name.rsplit("/", 1)[-1]

    @contextlib.contextmanager
    def _call_scope(self) -> Iterator[None]:
        """The layer's variable scope (reusing after the first build) and, for its ops, the
        name scope that the variable scope opened when the layer was first called."""
        g = get_default_graph()
        self._capture_scope()
        reuse = True if self.built else self._reuse
        with variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False):
            with g.name_scope(self._scope.original_name_scope or None):
                yield

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("scope", None)
        inputs = convert_to_tensor(inputs)
        if self.dtype is None:
            self.dtype = inputs.dtype
        from .keras_mask import call_mask, set_mask_metadata
        call_kwargs = dict(kwargs)       # the recorded call keeps the given arguments only
        mask = call_mask(self, inputs, args, call_kwargs)
        with self._call_scope():
            if not self.built:
                self.build(inputs.shape)
                self.built = True
            outputs = self.call(inputs, *args, **call_kwargs)
            set_mask_metadata(self, inputs, outputs, mask)
        _record_call(self, inputs, outputs, args, kwargs)
        return outputs

    apply = __call__

    def build(self, input_shape) -> None:
        self.built = True

    def call(self, inputs: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return inputs

    supports_masking = False      # Keras: whether the layer passes its input mask on

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras's default: the input mask for a layer that ``supports_masking``; a layer
        that does not raises TypeError when given one (keras_mask.py)."""
        from .keras_mask import default_compute_mask
        return default_compute_mask(self, mask)

    compute_mask._is_default = True  # type: ignore[attr-defined]

    def get_weights(self, session: Any = None) -> list:
        """The weights' values, from ``session`` or Keras's session (the default session if
        one is registered: tf.keras.backend.get_session), as TF1's layers read them."""
        from .keras_backend import get_session
        return (session or get_session()).run(self.weights)

    def set_weights(self, weights: list, session: Any = None) -> None:
        """Loads ``weights`` (NumPy arrays in ``self.weights``' order) into the variables."""
        from .keras_backend import get_session
        ws = self.weights
        if len(weights) != len(ws):
            raise ValueError(f"You called `set_weights(weights)` on layer {self.name} with a "
                             f"weight list of length {len(weights)}, but the layer was "
                             f"expecting {len(ws)} weights.")
        sess = session or get_session()
        for v, w in zip(ws, weights):
            w = np.asarray(w)
            if tuple(w.shape) != tuple(v.shape.as_list()):
                raise ValueError(f"set_weights: {v.name} has shape {tuple(v.shape.as_list())}, "
                                 f"got a value of shape {w.shape}")
            v.load(w, sess)


def _record_call(layer: Layer, inputs: Tensor, outputs: Any, args: tuple, kwargs: dict) -> None:
    """Remember which layer call made which tensors (``graph._layer_calls``: output tensor id
    -> (layer, input, args, kwargs)), so a functional ``tf.keras.Model`` finds its layers."""
    g = get_default_graph()
    calls = g.__dict__.setdefault("_layer_calls", {})
    for t in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
        if isinstance(t, Tensor):
            calls[id(t)] = (layer, inputs, args, kwargs, t)


def _tensordot_last(x: Tensor, kernel: Variable, units: int) -> Tensor:
    """Contract x's last axis with the kernel: reshape-matmul-reshape (one GEMM) when at most
    one leading dim is unknown, else a broadcast batched matmul."""
    dims = x.shape.dims
    k = dims[-1]
    lead = list(dims[:-1])
    g = get_default_graph()
    with g.name_scope("Tensordot") as scope:
        if sum(d is None for d in lead) <= 1:
            flat = reshape(x, [-1, k])
            prod = M.matmul(flat, kernel)
            return reshape(prod, [-1 if d is None else d for d in lead] + [units], name=scope)
        w = reshape(kernel, [1] * (len(dims) - 2) + [k, units])
        return M.matmul(x, w, name=scope)


# The outermost tf.keras layer/model call in progress (keras_base.py): a loss made during it
# (an activity regularizer's, add_loss) belongs to that call, and fit counts its own call's.
KERAS_CALL: dict = {"token": None, "count": 0}


def _activity(layer: Layer, outputs: Tensor) -> None:
    reg = getattr(layer, "activity_regularizer", None)
    if reg is not None:
        g = get_default_graph()
        with g.name_scope("ActivityRegularizer"):
            loss = reg(outputs)
        if loss is not None:
            loss._keras_call = KERAS_CALL["token"]
            layer._losses.append(loss)
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
