"""``tf.keras.layers`` used as graph-mode layers inside TF1 code: Dense, Conv2D,
MaxPooling2D/AveragePooling2D, Flatten, Dropout, Activation.

They are the ``tf.layers`` classes with Keras's argument conventions: activations and
initializers may be given by name (``activation="relu"``, ``kernel_initializer="he_normal"``;
Keras's ``random_normal``/``random_uniform``/``truncated_normal`` use its 0.05 scale), pooling
defaults to ``pool_size=(2, 2)``, ``input_shape``/``input_dim`` are accepted (a
``Sequential`` whose first layer has one is built when it is made: keras_models.py), layers
are named when they are made (dense, dense_1, ...), and ``Dropout`` and
``BatchNormalization`` called without ``training`` run in inference mode (Keras's learning
phase defaults to inference in TF1 graphs). Keras's BatchNormalization keeps its moving-average
updates in ``layer.updates`` only (not in ``tf.GraphKeys.UPDATE_OPS``, unlike tf.layers').
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from . import initializers as I
from . import layers_core as L
from . import math_ops as M
from .layer_base import Layer
from .layers_norm import BatchNormalization as _TFBatchNorm
from .layers_norm import Dropout as _TFDropout

__all__ = ["Dense", "Conv2D", "Convolution2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D",
           "AvgPool2D", "Flatten", "Dropout", "Activation", "BatchNormalization", "Embedding",
           "get_activation", "get_initializer", "keras_l1", "keras_l2", "keras_l1_l2"]

_SHAPE_KWARGS = ("input_shape", "input_dim", "batch_input_shape", "batch_size")


def batch_input_shape(kwargs: dict) -> Optional[tuple]:
    """The ``batch_input_shape`` that Keras's ``input_shape``/``input_dim``/
    ``batch_input_shape``/``batch_size`` arguments give (None without them)."""
    if kwargs.get("batch_input_shape") is not None:
        return tuple(kwargs["batch_input_shape"])
    batch = kwargs.get("batch_size")
    if kwargs.get("input_shape") is not None:
        return (batch,) + tuple(kwargs["input_shape"])
    if kwargs.get("input_dim") is not None:
        return (batch, int(kwargs["input_dim"]))
    return None


def _drop_shape_kwargs(kwargs: dict) -> dict:
    """The layer's arguments without Keras's shape ones, which become ``_batch_input_shape``
    (the base Layer keeps it for ``Sequential``), and ``_keras_named``: the base Layer names
    it when it is made, as Keras does (dense, dense_1, ... per graph)."""
    kw = {k: v for k, v in kwargs.items() if k not in _SHAPE_KWARGS}
    kw["_keras_named"] = True
    shape = batch_input_shape(kwargs)
    if shape is not None:
        kw["_batch_input_shape"] = shape
    return kw


def get_activation(activation: Any) -> Optional[Callable]:
    """A Keras activation: None/'linear' (identity), a name, or a callable."""
    if activation is None or callable(activation):
        return activation
    from . import nn
    from .math_unary import selu, softsign
    from .keras_rnn import hard_sigmoid
    table = {"linear": None, "relu": nn.relu if hasattr(nn, "relu") else M.relu,
             "sigmoid": M.sigmoid, "tanh": M.tanh, "softmax": nn.softmax, "elu": nn.elu,
             "softplus": nn.softplus, "selu": selu, "softsign": softsign, "relu6": nn.relu6,
             "exponential": M.exp, "hard_sigmoid": hard_sigmoid}
    if activation not in table:
        raise ValueError(f"Unknown activation function: {activation!r}; jitflow knows "
                         f"{sorted(table)}")
    return table[activation]


def get_initializer(init: Any) -> Any:
    """A Keras initializer: None, a name (Keras's defaults), or an initializer object."""
    if init is None or not isinstance(init, str):
        return init
    table = {"glorot_uniform": I.GlorotUniform, "glorot_normal": I.GlorotNormal,
             "zeros": I.Zeros, "ones": I.Ones, "he_normal": I.he_normal,
             "he_uniform": I.he_uniform, "lecun_normal": I.lecun_normal,
             "random_normal": lambda: I.RandomNormal(0.0, 0.05),
             "random_uniform": lambda: I.RandomUniform(-0.05, 0.05),
             "truncated_normal": lambda: I.TruncatedNormal(0.0, 0.05),
             "orthogonal": I.Orthogonal}
    if init not in table:
        raise ValueError(f"Unknown initializer: {init!r}; jitflow knows {sorted(table)}")
    return table[init]()


def _keras_kwargs(kwargs: dict) -> dict:
    kw = _drop_shape_kwargs(kwargs)
    if "activation" in kw:
        kw["activation"] = get_activation(kw["activation"])
    for k in ("kernel_initializer", "bias_initializer"):
        if k in kw:
            kw[k] = get_initializer(kw[k])
    return kw


class Dense(L.Dense):
    supports_masking = True     # applied per step: the mask passes on

    def __init__(self, units: int, activation: Any = None, **kwargs: Any) -> None:
        super().__init__(units, **_keras_kwargs(dict(kwargs, activation=activation)))


class Conv2D(L.Conv2D):
    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1),
                 padding: str = "valid", activation: Any = None, **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         **_keras_kwargs(dict(kwargs, activation=activation)))


Convolution2D = Conv2D


class MaxPooling2D(L.MaxPooling2D):
    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid",
                 data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format or "channels_last",
                         **_drop_shape_kwargs(kwargs))


class AveragePooling2D(L.AveragePooling2D):
    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid",
                 data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format or "channels_last",
                         **_drop_shape_kwargs(kwargs))


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class Flatten(L.Flatten):
    def __init__(self, data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(data_format=data_format or "channels_last", **_drop_shape_kwargs(kwargs))


class Dropout(_TFDropout):
    """Drops ``rate`` of the inputs when called with ``training`` true (a bool or a bool
    tensor); without ``training`` it is the identity (inference)."""

    supports_masking = True

    def __init__(self, rate: Any, noise_shape: Any = None, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **_drop_shape_kwargs(kwargs))

    def call(self, inputs: Any, training: Any = None) -> Any:
        return super().call(inputs, training=False if training is None else training)


class Activation(Layer):
    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.activation = get_activation(activation)

    def call(self, inputs: Any) -> Any:
        return inputs if self.activation is None else self.activation(inputs)


class BatchNormalization(_TFBatchNorm):
    """Keras defaults (momentum 0.99, epsilon 1e-3, center and scale); inference unless
    called with ``training``; updates in ``self.updates`` (run them with the train op)."""

    supports_masking = True

    def __init__(self, axis: Any = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", **kwargs: Any) -> None:
        super().__init__(axis=axis, momentum=momentum, epsilon=epsilon, center=center,
                         scale=scale, beta_initializer=get_initializer(beta_initializer),
                         gamma_initializer=get_initializer(gamma_initializer),
                         moving_mean_initializer=get_initializer(moving_mean_initializer),
                         moving_variance_initializer=get_initializer(
                             moving_variance_initializer), **_drop_shape_kwargs(kwargs))

    def add_update(self, updates: Any, inputs: Any = None) -> None:
        self._updates.extend(updates if isinstance(updates, (list, tuple)) else [updates])

    def call(self, inputs: Any, training: Any = None) -> Any:
        return super().call(inputs, training=False if training is None else training)


class Embedding(Layer):
    """``embeddings`` [input_dim, output_dim] (Keras's uniform(-0.05, 0.05) by default); the
    output is ``embedding_lookup(embeddings, ids)``; with ``mask_zero`` its mask is
    ``ids != 0`` (keras_mask.py)."""

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, mask_zero: bool = False,
                 input_length: Any = None, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.mask_zero = bool(mask_zero)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        init = "random_uniform" if embeddings_initializer == "uniform" else \
            embeddings_initializer
        self.embeddings_initializer = get_initializer(init)
        self.embeddings_regularizer = embeddings_regularizer

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        from .op_builder import convert_to_tensor
        from ..ir.dtypes import float32
        ids = convert_to_tensor(inputs)
        if self.dtype is None or not self.dtype.is_floating:
            self.dtype = float32          # the ids' integer dtype is not the weights'
        return super().__call__(ids, *args, **kwargs)

    def build(self, input_shape) -> None:
        self.embeddings = self.add_weight("embeddings", [self.input_dim, self.output_dim],
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return M.not_equal(inputs, 0) if self.mask_zero else None

    def call(self, inputs: Any) -> Any:
        from .nn import embedding_lookup
        from .math_ops import cast
        ids = inputs if inputs.dtype.is_integer else cast(inputs, "int32")
        return embedding_lookup(self.embeddings, ids)


def keras_l1_l2(l1: float = 0.0, l2: float = 0.0) -> Callable:
    """``tf.keras.regularizers.l1_l2``: ``l1 * sum(|w|) + l2 * sum(w**2)`` (no 1/2, unlike
    tf.contrib.layers.l2_regularizer)."""
    def reg(w: Any) -> Any:
        from .op_builder import convert_to_tensor
        t = convert_to_tensor(w)
        total = None
        if l1:
            total = M.multiply(M.reduce_sum(M.abs(t)), float(l1))
        if l2:
            sq = M.multiply(M.reduce_sum(M.square(t)), float(l2))
            total = sq if total is None else M.add(total, sq)
        if total is None:
            total = M.multiply(M.reduce_sum(t), 0.0)
        return total
    return reg


def keras_l1(l: float = 0.01) -> Callable:  # noqa: E741 - Keras's argument name
    return keras_l1_l2(l1=l)


def keras_l2(l: float = 0.01) -> Callable:  # noqa: E741
    return keras_l1_l2(l2=l)
