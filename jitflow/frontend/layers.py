"""``tf.layers``: dense, conv2d, pooling, flatten, dropout, batch_normalization.

TF1's naming rules (checked against TensorFlow 2.21's ``tf.compat.v1.layers``):

* a layer opens a *variable scope* named ``name`` (explicit names are not uniquified, so a
  second ``dense(..., name="hidden1")`` raises ``ValueError: Variable hidden1/kernel already
  exists, disallowed...`` unless ``reuse=True``/``tf.AUTO_REUSE``) or, unnamed, the snake-case
  class name made unique (``dense``, ``dense_1``, ...);
* its variables (``hidden1/kernel:0``, ``hidden1/bias:0``) depend only on the variable scope, so
  they ignore an enclosing ``tf.name_scope``, while its ops do not (``dnn/hidden1/MatMul``,
  ``dnn/hidden1/BiasAdd``, ``dnn/hidden1/Relu``); a reused layer's ops go to a fresh name scope
  (``dnn/hidden1_1/MatMul``);
* kernels default to glorot_uniform (the variable scope's default), biases to zeros; a
  ``kernel_regularizer``'s loss is added to ``REGULARIZATION_LOSSES`` once, when the variable is
  created (``dnn/hidden1/kernel/Regularizer/...``).

``dropout`` and ``batch_normalization`` accept ``training`` as a Python bool or a bool tensor
(usually ``tf.placeholder_with_default(False, shape=())``); a tensor selects between both
branches with ``tf.where`` instead of ``tf.cond``. Batch normalization's moving statistics are
non-trainable variables updated only by the ops it puts in ``tf.GraphKeys.UPDATE_OPS``
(``moving -= (moving - batch_stat) * (1 - momentum)``). As in TensorFlow, 4-D inputs normalized
over channels take the "fused" path, whose moving variance is updated with the unbiased
(n/(n-1)) batch variance; other inputs use the biased one.
"""
from __future__ import annotations

import contextlib
import re
from typing import Any, Callable, Iterator, Optional

import numpy as np

from ..ir.dtypes import as_dtype, bool_, float32
from . import math_ops as M
from .array_ops import expand_dims, identity, reshape, where
from .graph import GraphKeys, Tensor, get_default_graph
from .initializers import Ones, Zeros
from .op_builder import convert_to_tensor, make_op, static_value
from .variables import Variable, assign_sub, get_variable, variable_scope

__all__ = [
    "Layer", "Dense", "Conv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D",
    "Flatten", "Dropout", "BatchNormalization", "dense", "conv2d", "conv2d_transpose",
    "max_pooling2d", "average_pooling2d", "flatten",
    "dropout", "batch_normalization", "l1_regularizer", "l2_regularizer", "l1_l2_regularizer",
    "sum_regularizer", "apply_regularization",
]


def _snake(name: str) -> str:
    """TF's ``to_snake_case``: Dense -> dense, MaxPooling2D -> max_pooling2d."""
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return s if s[0] != "_" else "private" + s


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
        with self._call_scope():
            if not self.built:
                self.build(inputs.shape)
                self.built = True
            return self.call(inputs, *args, **kwargs)

    apply = __call__

    def build(self, input_shape) -> None:
        self.built = True

    def call(self, inputs: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return inputs

    def get_weights(self, session=None) -> list:
        from .default_session import session_for as _session_for
        return _session_for(session, "get_weights()").run(self.weights)


# ---------------------------------------------------------------------- dense --------------

class Dense(Layer):
    """``outputs = activation(inputs @ kernel + bias)``; rank > 2 inputs contract the last axis."""

    def __init__(self, units: int, activation: Optional[Callable] = None, use_bias: bool = True,
                 kernel_initializer: Any = None, bias_initializer: Any = None,
                 kernel_regularizer: Optional[Callable] = None,
                 bias_regularizer: Optional[Callable] = None,
                 activity_regularizer: Optional[Callable] = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, trainable: bool = True, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        _no_constraints(kernel_constraint, bias_constraint)
        self.units = int(units)
        if self.units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive "
                             f"integer, got {units}.")
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer if bias_initializer is not None else Zeros()
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.kernel = self.bias = None

    def build(self, input_shape) -> None:
        dims = input_shape.dims
        if dims is None or dims[-1] is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. "
                             "Found `None`.")
        self.kernel = self.add_weight("kernel", [dims[-1], self.units],
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, trainable=True)
        if self.use_bias:
            self.bias = self.add_weight("bias", [self.units], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, trainable=True)

    def call(self, inputs: Tensor) -> Tensor:
        rank = inputs.shape.ndims
        if rank is None:
            raise ValueError(f"Dense needs inputs of known rank, got {inputs}")
        if rank == 2:
            outputs = M.matmul(inputs, self.kernel)
        elif rank < 2:
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: "
                             f"expected min_ndim=2, found ndim={rank}. Full shape received: "
                             f"{inputs.shape}")
        else:
            outputs = _tensordot_last(inputs, self.kernel, self.units)
        if self.use_bias:
            outputs = _bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        _activity(self, outputs)
        return outputs


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


def _activity(layer: Layer, outputs: Tensor) -> None:
    reg = getattr(layer, "activity_regularizer", None)
    if reg is not None:
        g = get_default_graph()
        with g.name_scope("ActivityRegularizer"):
            loss = reg(outputs)
        if loss is not None:
            layer._losses.append(loss)
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)


def dense(inputs: Any, units: int, activation: Optional[Callable] = None, use_bias: bool = True,
          kernel_initializer: Any = None, bias_initializer: Any = None,
          kernel_regularizer: Optional[Callable] = None,
          bias_regularizer: Optional[Callable] = None,
          activity_regularizer: Optional[Callable] = None, kernel_constraint: Any = None,
          bias_constraint: Any = None, trainable: bool = True, name: Optional[str] = None,
          reuse: Any = None) -> Tensor:
    """``tf.layers.dense``: variables ``<name>/kernel`` [in, units] and ``<name>/bias`` [units]."""
    layer = Dense(units, activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                  kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                  activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                  bias_constraint=bias_constraint, trainable=trainable, name=name, _reuse=reuse)
    return layer.apply(inputs)


# ---------------------------------------------------------------------- conv2d -------------

class Conv2D(Layer):
    """NHWC convolution; kernel ``[kh, kw, in_channels, filters]`` (glorot_uniform with
    fan_in = kh*kw*in, fan_out = kh*kw*filters)."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1),
                 padding: str = "valid", data_format: str = "channels_last",
                 dilation_rate: Any = (1, 1), activation: Optional[Callable] = None,
                 use_bias: bool = True, kernel_initializer: Any = None,
                 bias_initializer: Any = None, kernel_regularizer: Optional[Callable] = None,
                 bias_regularizer: Optional[Callable] = None,
                 activity_regularizer: Optional[Callable] = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, trainable: bool = True, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        _no_constraints(kernel_constraint, bias_constraint)
        _channels_last(data_format, "conv2d")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer if bias_initializer is not None else Zeros()
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.kernel = self.bias = None

    def build(self, input_shape) -> None:
        dims = input_shape.dims
        if dims is None or len(dims) != 4:
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: "
                             f"expected ndim=4, found shape {input_shape}")
        if dims[-1] is None:
            raise ValueError("The channel dimension of the inputs should be defined. "
                             "Found `None`.")
        kh, kw = self.kernel_size
        self.kernel = self.add_weight("kernel", [kh, kw, dims[-1], self.filters],
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, trainable=True)
        if self.use_bias:
            self.bias = self.add_weight("bias", [self.filters], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, trainable=True)

    def call(self, inputs: Tensor) -> Tensor:
        conv = _nn_fn("conv2d", "conv2d")
        sh, sw = self.strides
        kwargs = {}
        if self.dilation_rate != (1, 1):
            kwargs["dilations"] = [1, self.dilation_rate[0], self.dilation_rate[1], 1]
        outputs = conv(inputs, self.kernel, strides=[1, sh, sw, 1], padding=self.padding,
                       **kwargs)
        if self.use_bias:
            outputs = _bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        _activity(self, outputs)
        return outputs


def conv2d(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1),
           padding: str = "valid", data_format: str = "channels_last", dilation_rate: Any = (1, 1),
           activation: Optional[Callable] = None, use_bias: bool = True,
           kernel_initializer: Any = None, bias_initializer: Any = None,
           kernel_regularizer: Optional[Callable] = None,
           bias_regularizer: Optional[Callable] = None,
           activity_regularizer: Optional[Callable] = None, kernel_constraint: Any = None,
           bias_constraint: Any = None, trainable: bool = True, name: Optional[str] = None,
           reuse: Any = None) -> Tensor:
    """``tf.layers.conv2d`` (NHWC; padding "valid"/"same" in any case)."""
    layer = Conv2D(filters, kernel_size, strides=strides, padding=padding,
                   data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                   use_bias=use_bias, kernel_initializer=kernel_initializer,
                   bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                   bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                   kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                   trainable=trainable, name=name, _reuse=reuse)
    return layer.apply(inputs)


class Conv2DTranspose(Conv2D):
    """NHWC transposed convolution; kernel ``[kh, kw, filters, in_channels]``; output size
    ``in * stride`` (same) or ``in * stride + max(k - stride, 0)`` (valid), as TF's."""

    def build(self, input_shape) -> None:
        dims = input_shape.dims
        if dims is None or len(dims) != 4:
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: "
                             f"expected ndim=4, found shape {input_shape}")
        if dims[-1] is None:
            raise ValueError("The channel dimension of the inputs should be defined. "
                             "Found `None`.")
        if self.dilation_rate != (1, 1):
            raise NotImplementedError("conv2d_transpose: dilation_rate is not supported")
        kh, kw = self.kernel_size
        self.kernel = self.add_weight("kernel", [kh, kw, self.filters, dims[-1]],
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, trainable=True)
        if self.use_bias:
            self.bias = self.add_weight("bias", [self.filters], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, trainable=True)

    def call(self, inputs: Tensor) -> Tensor:
        from .array_ops import shape, stack
        (sh, sw), (kh, kw) = self.strides, self.kernel_size

        def length(n, k, s):
            if n is None:
                return None
            return n * s if self.padding == "SAME" else n * s + max(k - s, 0)
        _, h, w, _ = inputs.shape.dims
        oh, ow = length(h, kh, sh), length(w, kw, sw)
        if oh is None or ow is None:
            raise NotImplementedError("conv2d_transpose needs static spatial dims")
        batch = inputs.shape.dims[0]
        out_shape = [batch, oh, ow, self.filters] if batch is not None else \
            stack([shape(inputs)[0], oh, ow, self.filters])
        conv_t = _nn_fn("conv2d_transpose", "conv2d_transpose")
        outputs = conv_t(inputs, self.kernel, out_shape, strides=[1, sh, sw, 1],
                         padding=self.padding)
        if self.use_bias:
            outputs = _bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        _activity(self, outputs)
        return outputs


def conv2d_transpose(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1),
                     padding: str = "valid", data_format: str = "channels_last",
                     activation: Optional[Callable] = None, use_bias: bool = True,
                     kernel_initializer: Any = None, bias_initializer: Any = None,
                     kernel_regularizer: Optional[Callable] = None,
                     bias_regularizer: Optional[Callable] = None,
                     activity_regularizer: Optional[Callable] = None,
                     kernel_constraint: Any = None, bias_constraint: Any = None,
                     trainable: bool = True, name: Optional[str] = None,
                     reuse: Any = None) -> Tensor:
    """``tf.layers.conv2d_transpose`` (NHWC; padding "valid"/"same" in any case)."""
    layer = Conv2DTranspose(filters, kernel_size, strides=strides, padding=padding,
                            data_format=data_format, activation=activation, use_bias=use_bias,
                            kernel_initializer=kernel_initializer,
                            bias_initializer=bias_initializer,
                            kernel_regularizer=kernel_regularizer,
                            bias_regularizer=bias_regularizer,
                            activity_regularizer=activity_regularizer,
                            kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                            trainable=trainable, name=name, _reuse=reuse)
    return layer.apply(inputs)


# ---------------------------------------------------------------------- pooling ------------

class _Pooling2D(Layer):
    _fn = ""

    def __init__(self, pool_size: Any, strides: Any, padding: str = "valid",
                 data_format: str = "channels_last", name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        _channels_last(data_format, _snake(type(self).__name__))
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides if strides is not None else pool_size, "strides")
        self.padding = _padding(padding)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.shape.ndims not in (None, 4):
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: "
                             f"expected ndim=4, found shape {inputs.shape}")
        fn = _nn_fn(self._fn, _snake(type(self).__name__))
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        return fn(inputs, ksize=[1, ph, pw, 1], strides=[1, sh, sw, 1], padding=self.padding)


class MaxPooling2D(_Pooling2D):
    _fn = "max_pool"


class AveragePooling2D(_Pooling2D):
    _fn = "avg_pool"


def max_pooling2d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                  data_format: str = "channels_last", name: Optional[str] = None) -> Tensor:
    """``tf.layers.max_pooling2d`` (op ``max_pooling2d/MaxPool``)."""
    return MaxPooling2D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling2d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                      data_format: str = "channels_last", name: Optional[str] = None) -> Tensor:
    """``tf.layers.average_pooling2d``; SAME divides by the count of real elements."""
    return AveragePooling2D(pool_size, strides, padding, data_format, name=name).apply(inputs)


# ---------------------------------------------------------------------- flatten ------------

class Flatten(Layer):
    """Keep the first (batch) dim, flatten the rest: ``flatten/Reshape``."""

    def __init__(self, data_format: str = "channels_last", name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        _channels_last(data_format, "flatten")

    def call(self, inputs: Tensor) -> Tensor:
        dims = inputs.shape.dims
        if dims is None:
            raise ValueError(f"flatten needs inputs of known rank, got {inputs}")
        if len(dims) == 1:
            return expand_dims(inputs, 1)
        rest = dims[1:]
        if all(d is not None for d in rest):
            return reshape(inputs, [-1, int(np.prod(rest, dtype=np.int64))])
        if dims[0] is not None:
            return reshape(inputs, [dims[0], -1])
        raise NotImplementedError(f"flatten of {inputs} (unknown batch and feature dims) is not "
                                  "supported; give the feature dims a static shape")


def flatten(inputs: Any, name: Optional[str] = None, data_format: str = "channels_last") -> Tensor:
    """``tf.layers.flatten``."""
    return Flatten(data_format=data_format, name=name).apply(inputs)


# ---------------------------------------------------------------------- dropout ------------

def _dropped(x: Tensor, rate: Any, noise_shape: Any, seed: Optional[int]) -> Tensor:
    """``x * mask / (1 - rate)`` with a fresh mask per run (the rate may be a tensor)."""
    from . import nn as _nn
    fn = getattr(_nn, "dropout", None)
    if fn is not None:
        return fn(x, rate=rate, noise_shape=noise_shape, seed=seed)
    from .random_ops import get_seed
    s1, s2 = get_seed(seed)
    with get_default_graph().name_scope("dropout"):
        rate_t = convert_to_tensor(rate, dtype=x.dtype, name="rate")
        if noise_shape is not None:
            from .random_ops import random_uniform
            u = random_uniform(noise_shape, dtype=x.dtype, seed=seed)
        else:
            u = make_op("RandomUniform", "random_uniform", [x],
                        {"dtype": x.dtype, "seed": s1, "seed2": s2}, "random_uniform",
                        rng=True).outputs[0]
        keep = M.greater_equal(u, rate_t, name="GreaterEqual")
        scale = M.truediv(convert_to_tensor(1.0, dtype=x.dtype), M.subtract(1.0, rate_t))
        from .array_ops import zeros_like
        return where(keep, M.multiply(x, scale, name="Mul"), zeros_like(x), name="SelectV2")


class Dropout(Layer):
    """``rate`` is the fraction dropped; identity unless ``training`` (bool or bool tensor)."""

    def __init__(self, rate: Any = 0.5, noise_shape: Any = None, seed: Optional[int] = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if isinstance(rate, (int, float)) and not 0 <= rate < 1:
            raise ValueError(f"Invalid value received for `rate`, expected a value between 0 "
                             f"and 1, got: {rate}")
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        tr = _training_value(training)
        if tr is False or (isinstance(self.rate, (int, float)) and self.rate == 0):
            return identity(inputs, name="Identity")
        if tr is True:
            return _dropped(inputs, self.rate, self.noise_shape, self.seed)
        dropped = _dropped(inputs, self.rate, self.noise_shape, self.seed)
        return where(tr, dropped, inputs, name="Select")


def dropout(inputs: Any, rate: Any = 0.5, noise_shape: Any = None, seed: Optional[int] = None,
            training: Any = False, name: Optional[str] = None) -> Tensor:
    """``tf.layers.dropout``: drops a fraction ``rate`` and scales by ``1/(1-rate)`` when
    ``training`` is true (a Python bool or a bool tensor); the identity otherwise."""
    return Dropout(rate, noise_shape=noise_shape, seed=seed, name=name).apply(inputs,
                                                                              training=training)


# ---------------------------------------------------------------------- batch norm ---------

class BatchNormalization(Layer):
    """Variables ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance``."""

    def __init__(self, axis: Any = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = None,
                 gamma_initializer: Any = None, moving_mean_initializer: Any = None,
                 moving_variance_initializer: Any = None,
                 beta_regularizer: Optional[Callable] = None,
                 gamma_regularizer: Optional[Callable] = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, renorm: bool = False, renorm_clipping: Any = None,
                 renorm_momentum: float = 0.99, fused: Optional[bool] = None,
                 trainable: bool = True, virtual_batch_size: Any = None, adjustment: Any = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        _no_constraints(beta_constraint, gamma_constraint)
        if renorm or virtual_batch_size is not None or adjustment is not None:
            raise NotImplementedError("batch_normalization: renorm, virtual_batch_size and "
                                      "adjustment are not supported")
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center, self.scale = center, scale
        self.beta_initializer = beta_initializer if beta_initializer is not None else Zeros()
        self.gamma_initializer = gamma_initializer if gamma_initializer is not None else Ones()
        self.moving_mean_initializer = (moving_mean_initializer
                                        if moving_mean_initializer is not None else Zeros())
        self.moving_variance_initializer = (moving_variance_initializer
                                            if moving_variance_initializer is not None else Ones())
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.fused = fused
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def _axes(self, rank: int) -> list[int]:
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        out = []
        for a in axes:
            a = int(a) + rank if int(a) < 0 else int(a)
            if not 0 <= a < rank:
                raise ValueError(f"Invalid axis: {self.axis} for input of rank {rank}")
            out.append(a)
        return sorted(set(out))

    def build(self, input_shape) -> None:
        dims = input_shape.dims
        if dims is None:
            raise ValueError(f"Input has undefined rank: {input_shape}")
        self._rank = len(dims)
        self._norm_axes = self._axes(self._rank)
        param = [dims[a] for a in self._norm_axes]
        if any(d is None for d in param):
            raise ValueError(f"Input has undefined `axis` dimension. Input shape: {input_shape}")
        shape = param
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, trainable=True)
        if self.center:
            self.beta = self.add_weight("beta", shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, trainable=True)
        self.moving_mean = self.add_weight("moving_mean", shape,
                                           initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape,
                                               initializer=self.moving_variance_initializer,
                                               trainable=False)
        self._fused_path = (self.fused is not False and self._rank == 4
                            and self._norm_axes in ([3], [1]))

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        x = inputs
        rank = self._rank
        reduce_axes = [a for a in range(rank) if a not in self._norm_axes]
        # shape that broadcasts a parameter against x
        bshape = [1] * rank
        for a in self._norm_axes:
            bshape[a] = x.shape.dims[a]
        needs_reshape = self._norm_axes != [rank - 1]

        def bc(t: Any) -> Any:
            return reshape(t, bshape) if needs_reshape and isinstance(t, (Tensor, Variable)) else t

        tr = _training_value(training)
        g = get_default_graph()
        if tr is False:
            mean, var = self.moving_mean.value(), self.moving_variance.value()
        else:
            with g.name_scope("moments"):
                batch_mean = M.reduce_mean(x, reduce_axes, name="mean")
                centered = M.subtract(x, bc(stop_grad(batch_mean)))
                batch_var = M.reduce_mean(M.square(centered), reduce_axes, name="variance")
            if tr is True:
                mean, var = batch_mean, batch_var
            else:
                mean = where(tr, batch_mean, self.moving_mean.value())
                var = where(tr, batch_var, self.moving_variance.value())
            self._add_moving_updates(x, reduce_axes, mean, var, tr)
        with g.name_scope("batchnorm"):   # TF's op names: add, Rsqrt, mul, mul_1, ..., add_1
            inv = M.rsqrt(M.add(var, convert_to_tensor(self.epsilon, dtype=x.dtype), name="add"))
            if self.gamma is not None:
                inv = M.multiply(inv, self.gamma.value(), name="mul")
            scaled = M.multiply(x, bc(inv), name="mul")
            shift = M.multiply(mean, inv, name="mul")
            shift = (M.subtract(self.beta.value(), shift, name="sub") if self.beta is not None
                     else M.negative(shift))
            out = M.add(scaled, bc(shift), name="add")
        return out

    def _add_moving_updates(self, x: Tensor, reduce_axes: list[int], mean: Tensor, var: Tensor,
                            tr: Any) -> None:
        g = get_default_graph()
        if self._fused_path:
            # TF's fused kernel feeds the moving variance the unbiased batch variance
            n = 1
            dims = x.shape.dims
            if all(dims[a] is not None for a in reduce_axes):
                n = int(np.prod([dims[a] for a in reduce_axes]))
                factor = convert_to_tensor(n / max(n - 1, 1), dtype=x.dtype)
            else:
                from .array_ops import shape as tf_shape
                count = M.cast(M.reduce_prod(_gather_dims(tf_shape(x), reduce_axes)), x.dtype)
                factor = M.truediv(count, M.maximum(M.subtract(count, 1.0), 1.0))
            var_for_update = M.multiply(var, factor) if tr is True else \
                where(tr, M.multiply(var, factor), var)
        else:
            var_for_update = var
        decay = 1.0 - float(self.momentum) if isinstance(self.momentum, (int, float)) else \
            M.subtract(1.0, self.momentum)
        ups = []
        for i, (moving, value) in enumerate(((self.moving_mean, mean),
                                             (self.moving_variance, var_for_update))):
            with g.name_scope("AssignMovingAvg" if i == 0 else "AssignMovingAvg_1") as scope:
                delta = M.multiply(M.subtract(moving.value(), value, name="sub"),
                                   convert_to_tensor(decay, dtype=x.dtype, name="decay")
                                   if not isinstance(decay, Tensor) else decay, name="mul")
                ups.append(assign_sub(moving, delta, name=scope).op)
        self.add_update(ups)


def stop_grad(t: Tensor) -> Tensor:
    from .array_ops import stop_gradient
    return stop_gradient(t, name="StopGradient")


def _gather_dims(shape_t: Tensor, axes: list[int]) -> Tensor:
    from .array_ops import stack
    return stack([shape_t[a] for a in axes])


def batch_normalization(inputs: Any, axis: Any = -1, momentum: float = 0.99,
                        epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                        beta_initializer: Any = None, gamma_initializer: Any = None,
                        moving_mean_initializer: Any = None,
                        moving_variance_initializer: Any = None,
                        beta_regularizer: Optional[Callable] = None,
                        gamma_regularizer: Optional[Callable] = None, beta_constraint: Any = None,
                        gamma_constraint: Any = None, training: Any = False,
                        trainable: bool = True, name: Optional[str] = None, reuse: Any = None,
                        renorm: bool = False, renorm_clipping: Any = None,
                        renorm_momentum: float = 0.99, fused: Optional[bool] = None,
                        virtual_batch_size: Any = None, adjustment: Any = None) -> Tensor:
    """``tf.layers.batch_normalization``. Training uses the batch's mean and (biased) variance;
    inference the moving averages, which change only when the ops in ``UPDATE_OPS`` run."""
    layer = BatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon, center=center,
                               scale=scale, beta_initializer=beta_initializer,
                               gamma_initializer=gamma_initializer,
                               moving_mean_initializer=moving_mean_initializer,
                               moving_variance_initializer=moving_variance_initializer,
                               beta_regularizer=beta_regularizer,
                               gamma_regularizer=gamma_regularizer,
                               beta_constraint=beta_constraint, gamma_constraint=gamma_constraint,
                               renorm=renorm, fused=fused,
                               trainable=trainable, virtual_batch_size=virtual_batch_size,
                               adjustment=adjustment, name=name, _reuse=reuse)
    return layer.apply(inputs, training=training)


# ---------------------------------------------------------------------- regularizers -------

def _scale_tensor(scale: float, w: Any) -> Tensor:
    return convert_to_tensor(scale, dtype=w.dtype, name="scale")


def _check_scale(scale: Any, what: str) -> None:
    if isinstance(scale, (int, float, np.number)):
        if scale < 0.0:
            raise ValueError(f"Setting a scale less than 0 on a regularizer: {scale}")


def l2_regularizer(scale: float, scope: Optional[str] = None) -> Callable:
    """``tf.contrib.layers.l2_regularizer``: ``scale * sum(w**2) / 2`` (None for scale 0)."""
    _check_scale(scale, "l2")
    if isinstance(scale, (int, float)) and scale == 0.0:
        return lambda _: None

    def l2(weights: Any) -> Tensor:
        g = get_default_graph()
        with g.name_scope(scope or "l2_regularizer") as name:
            w = convert_to_tensor(weights)
            from . import nn as _nn
            l2_loss = getattr(_nn, "l2_loss", None)
            if l2_loss is not None:
                half_sq = l2_loss(w)
            else:
                half_sq = M.multiply(M.reduce_sum(M.square(w)), convert_to_tensor(0.5, w.dtype),
                                     name="L2Loss")
            return M.multiply(_scale_tensor(scale, w), half_sq, name=name)
    return l2


def l1_regularizer(scale: float, scope: Optional[str] = None) -> Callable:
    """``tf.contrib.layers.l1_regularizer``: ``scale * sum(|w|)`` (None for scale 0)."""
    _check_scale(scale, "l1")
    if isinstance(scale, (int, float)) and scale == 0.0:
        return lambda _: None

    def l1(weights: Any) -> Tensor:
        g = get_default_graph()
        with g.name_scope(scope or "l1_regularizer") as name:
            w = convert_to_tensor(weights)
            return M.multiply(_scale_tensor(scale, w), M.reduce_sum(M.abs(w)), name=name)
    return l1


def l1_l2_regularizer(scale_l1: float = 1.0, scale_l2: float = 1.0,
                      scope: Optional[str] = None) -> Callable:
    """``tf.contrib.layers.l1_l2_regularizer``: the sum of both."""
    return sum_regularizer([l1_regularizer(scale_l1), l2_regularizer(scale_l2)],
                           scope=scope or "l1_l2_regularizer")


def sum_regularizer(regularizer_list, scope: Optional[str] = None) -> Callable:
    """``tf.contrib.layers.sum_regularizer``."""
    regs = [r for r in regularizer_list if r is not None]

    def total(weights: Any) -> Optional[Tensor]:
        g = get_default_graph()
        with g.name_scope(scope or "sum_regularizer") as name:
            parts = [p for p in (r(weights) for r in regs) if p is not None]
            if not parts:
                return None
            return M.add_n(parts, name=name)
    return total


def apply_regularization(regularizer: Callable, weights_list=None) -> Tensor:
    """``tf.contrib.layers.apply_regularization``: sum of ``regularizer(w)`` over the weights
    (default: the WEIGHTS collection, else the trainable variables); added to
    REGULARIZATION_LOSSES."""
    g = get_default_graph()
    if weights_list is None:
        weights_list = g.get_collection("weights") or g.get_collection(
            GraphKeys.TRAINABLE_VARIABLES)
    if not weights_list:
        raise ValueError("No weights to regularize.")
    with g.name_scope("get_regularization_penalty") as scope:
        penalties = [p for p in (regularizer(w) for w in weights_list) if p is not None]
        if not penalties:
            from .op_builder import constant
            return constant(0.0)
        total = M.add_n(penalties, name=scope)
    g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, total)
    return total

