"""``tf.keras.layers`` used as graph-mode layers inside TF1 code: Dense, Conv2D,
MaxPooling2D/AveragePooling2D, Flatten, Dropout, Activation.

They are the ``tf.layers`` classes with Keras's argument conventions: activations and
initializers may be given by name (``activation="relu"``, ``kernel_initializer="he_normal"``;
Keras's ``random_normal``/``random_uniform``/``truncated_normal`` use its 0.05 scale), pooling
defaults to ``pool_size=(2, 2)``, ``input_shape``/``input_dim`` are accepted (they matter to
``Sequential`` models, which jitflow does not have), and ``Dropout`` called without
``training`` is the identity (Keras's learning phase defaults to inference in TF1 graphs).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from . import initializers as I
from . import layers_core as L
from . import math_ops as M
from .layer_base import Layer
from .layers_norm import Dropout as _TFDropout

__all__ = ["Dense", "Conv2D", "Convolution2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D",
           "AvgPool2D", "Flatten", "Dropout", "Activation", "get_activation", "get_initializer"]

_SHAPE_KWARGS = ("input_shape", "input_dim", "batch_input_shape", "batch_size")


def _drop_shape_kwargs(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k not in _SHAPE_KWARGS}


def get_activation(activation: Any) -> Optional[Callable]:
    """A Keras activation: None/'linear' (identity), a name, or a callable."""
    if activation is None or callable(activation):
        return activation
    from . import nn
    from .composite_ops import selu, softsign
    table = {"linear": None, "relu": nn.relu if hasattr(nn, "relu") else M.relu,
             "sigmoid": M.sigmoid, "tanh": M.tanh, "softmax": nn.softmax, "elu": nn.elu,
             "softplus": nn.softplus, "selu": selu, "softsign": softsign, "relu6": nn.relu6,
             "exponential": M.exp}
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
             "truncated_normal": lambda: I.TruncatedNormal(0.0, 0.05)}
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

    def __init__(self, rate: Any, noise_shape: Any = None, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **_drop_shape_kwargs(kwargs))

    def call(self, inputs: Any, training: Any = None) -> Any:
        return super().call(inputs, training=False if training is None else training)


class Activation(Layer):
    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.activation = get_activation(activation)

    def call(self, inputs: Any) -> Any:
        return inputs if self.activation is None else self.activation(inputs)
