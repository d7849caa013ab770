"""``tf.layers`` dense, conv2d, conv2d_transpose, pooling and flatten (NHWC)."""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .array_ops import expand_dims, reshape
from .graph import Tensor
from .initializers import Zeros
from .layer_base import (Layer, _activity, _bias_add, _channels_last, _nn_fn, _no_constraints,
                         _pair, _padding, _snake, _tensordot_last)
from . import math_ops as M


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
