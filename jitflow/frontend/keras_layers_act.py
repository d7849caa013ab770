"""``tf.keras.layers``' advanced activations (LeakyReLU, PReLU, ELU, ReLU, Softmax,
ThresholdedReLU), noise layers (SpatialDropout1D/2D, GaussianNoise) and LayerNormalization,
built from existing frontend ops. Names, defaults and weights follow TF 1.15 Keras
(``leaky_re_lu`` with alpha 0.3, ``p_re_lu/alpha`` shaped like the input without its batch
dim, ``layer_normalization/gamma``); the noise layers act only when called with ``training``
true, like keras_layers.Dropout.
"""
from __future__ import annotations

from typing import Any, Optional

from . import array_ops as A
from . import math_ops as M
from .graph import Tensor
from .keras_layers import _drop_shape_kwargs, get_initializer
from .keras_layers_more import _data_format, _spatial_axes
from .layer_base import Layer, _training_value
from .layers_norm import _dropped

__all__ = ["LeakyReLU", "PReLU", "ELU", "ReLU", "Softmax", "ThresholdedReLU",
           "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "LayerNormalization",
           "keras_relu"]


# ---------------------------------------------------------------------- activations --------

class LeakyReLU(Layer):
    def __init__(self, alpha: float = 0.3, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.alpha = float(alpha)

    def call(self, inputs: Tensor) -> Tensor:
        from .nn import leaky_relu
        return leaky_relu(inputs, alpha=self.alpha)


class PReLU(Layer):
    """``relu(x) - alpha * relu(-x)``; ``alpha`` is shaped like the input without its batch
    dim, with size 1 on ``shared_axes``."""

    def __init__(self, alpha_initializer: Any = "zeros", alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, shared_axes: Any = None,
                 **kwargs: Any) -> None:
        if alpha_constraint is not None:
            raise NotImplementedError("PReLU(alpha_constraint=...) is not supported by jitflow")
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.alpha_initializer = get_initializer(alpha_initializer)
        self.alpha_regularizer = alpha_regularizer
        if shared_axes is None:
            self.shared_axes: list = []
        else:
            self.shared_axes = [int(a) for a in (shared_axes if isinstance(
                shared_axes, (list, tuple)) else [shared_axes])]

    def build(self, input_shape) -> None:
        dims = input_shape.dims
        if dims is None or any(d is None for d in dims[1:]):
            raise ValueError(f"PReLU needs the input's non-batch dims to be known, got shape "
                             f"{input_shape}")
        shape = list(dims[1:])
        for a in self.shared_axes:
            shape[a - 1] = 1
        self.alpha = self.add_weight("alpha", shape, initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer)

    def call(self, inputs: Tensor) -> Tensor:
        return M.subtract(M.relu(inputs), M.multiply(self.alpha, M.relu(M.negative(inputs))))


def _elu(x: Tensor, alpha: float) -> Tensor:
    from . import nn
    if alpha == 1.0:
        return nn.elu(x)
    return A.select(M.greater(x, 0.0), x, M.multiply(M.subtract(M.exp(x), 1.0), alpha))


class ELU(Layer):
    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.alpha = float(alpha)

    def call(self, inputs: Tensor) -> Tensor:
        return _elu(inputs, self.alpha)


def keras_relu(x: Tensor, alpha: float = 0.0, max_value: Optional[float] = None,
               threshold: float = 0.0) -> Tensor:
    """TF 1.15's ``K.relu``: x above ``threshold`` (clipped at ``max_value``), else
    ``alpha * (x - threshold)``."""
    from . import nn
    if alpha != 0.0 and max_value is None and threshold == 0.0:
        return nn.leaky_relu(x, alpha=alpha)
    neg = None
    if alpha != 0.0:
        neg = M.relu(M.add(M.negative(x), threshold) if threshold else M.negative(x))
    if threshold != 0.0:
        y = M.multiply(x, M.cast(M.greater(x, threshold), x.dtype))
    else:
        y = M.relu(x)
    if max_value is not None:
        y = M.minimum(M.maximum(y, 0.0), float(max_value))
    if neg is not None:
        y = M.subtract(y, M.multiply(neg, alpha))
    return y


class ReLU(Layer):
    def __init__(self, max_value: Optional[float] = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        if max_value is not None and max_value < 0:
            raise ValueError(f"max_value of Relu layer cannot be negative value: {max_value}")
        if negative_slope < 0:
            raise ValueError(f"negative_slope of Relu layer cannot be negative value: "
                             f"{negative_slope}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def call(self, inputs: Tensor) -> Tensor:
        return keras_relu(inputs, self.negative_slope, self.max_value, self.threshold)


class Softmax(Layer):
    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.axis = int(axis)

    def call(self, inputs: Tensor) -> Tensor:
        from . import nn
        return nn.softmax(inputs, axis=self.axis)


class ThresholdedReLU(Layer):
    """``x`` where ``x > theta``, else 0."""

    def __init__(self, theta: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        if theta is None or theta < 0:
            raise ValueError(f"Theta of a Thresholded ReLU layer cannot be None or negative, "
                             f"got {theta}")
        self.theta = float(theta)

    def call(self, inputs: Tensor) -> Tensor:
        return M.multiply(inputs, M.cast(M.greater(inputs, self.theta), inputs.dtype))


# ---------------------------------------------------------------------- noise --------------

class _TrainingOnly(Layer):
    """Identity unless called with ``training`` true (a bool or a bool tensor)."""

    def _noisy(self, inputs: Tensor) -> Tensor:
        raise NotImplementedError

    def call(self, inputs: Tensor, training: Any = None) -> Tensor:
        tr = _training_value(training)
        if tr is False:
            return A.identity(inputs)
        noisy = self._noisy(inputs)
        return noisy if tr is True else A.select(tr, noisy, inputs)


class SpatialDropout1D(_TrainingOnly):
    """Drops whole channels: one keep/drop draw per (sample, channel)."""

    _rank = 1

    def __init__(self, rate: float, data_format: Optional[str] = None, seed: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        if not 0 <= float(rate) < 1:
            raise ValueError(f"Invalid value received for `rate`, expected a value between 0 "
                             f"and 1, got: {rate}")
        self.rate, self.seed = float(rate), seed
        self.data_format = _data_format(data_format, type(self).__name__)

    def _noisy(self, inputs: Tensor) -> Tensor:
        if self.rate == 0:
            return inputs
        idx: list = [slice(None)] * (self._rank + 2)
        for ax in _spatial_axes(self._rank, self.data_format):
            idx[ax] = slice(0, 1)
        mask = _dropped(A.ones_like(inputs[tuple(idx)]), self.rate, None, self.seed)
        return M.multiply(inputs, mask)


class SpatialDropout2D(SpatialDropout1D):
    _rank = 2


class GaussianNoise(_TrainingOnly):
    """Adds N(0, stddev^2) noise while training."""

    def __init__(self, stddev: float, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.stddev = float(stddev)

    def _noisy(self, inputs: Tensor) -> Tensor:
        from .random_ops import random_normal
        return M.add(inputs, random_normal(A.shape(inputs), stddev=self.stddev,
                                           dtype=inputs.dtype))


# ---------------------------------------------------------------------- normalization ------

class LayerNormalization(Layer):
    """Normalizes over ``axis`` of each sample: ``gamma * (x - mean) / sqrt(var + eps) +
    beta``; ``gamma``/``beta`` are shaped like the normalized dims."""

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.axis = [int(a) for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
        self.epsilon, self.center, self.scale = float(epsilon), center, scale
        self.beta_initializer = get_initializer(beta_initializer)
        self.gamma_initializer = get_initializer(gamma_initializer)
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.gamma = self.beta = None

    def build(self, input_shape) -> None:
        nd = input_shape.ndims
        if nd is None:
            raise ValueError("LayerNormalization needs an input of known rank")
        self._axes = sorted(a % nd for a in self.axis)
        if any(a == 0 for a in self._axes):
            raise ValueError(f"LayerNormalization: axis {self.axis} includes the batch axis")
        shape = [input_shape.dims[a] for a in self._axes]
        if any(d is None for d in shape):
            raise ValueError(f"LayerNormalization: the normalized dims {self._axes} of "
                             f"{input_shape} must be known")
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer)
        if self.center:
            self.beta = self.add_weight("beta", shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer)

    def call(self, inputs: Tensor) -> Tensor:
        nd = inputs.shape.ndims
        bshape = [inputs.shape.dims[a] if a in self._axes else 1 for a in range(nd)]
        mean = M.reduce_mean(inputs, axis=self._axes, keepdims=True)
        centred = M.subtract(inputs, mean)
        var = M.reduce_mean(M.square(centred), axis=self._axes, keepdims=True)
        y = M.multiply(centred, M.rsqrt(M.add(var, self.epsilon)))
        if self.gamma is not None:
            y = M.multiply(y, A.reshape(self.gamma, bshape))
        if self.beta is not None:
            y = M.add(y, A.reshape(self.beta, bshape))
        return y
