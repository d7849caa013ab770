"""3-D convolution and pooling (NDHWC) from the 2-D ops: the depth axis is unrolled (static
depth), so ``conv3d`` is a sum over kernel depth of conv2d of depth slices, and pooling is
separable (max over depth of 2-D maxima; the mean over the real depth slices of 2-D means,
which keeps SAME's count of real elements). Also ``tf.layers.conv3d``/``Conv3D`` and
``max/average_pooling3d``."""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from ..ops.window import window_geometry
from . import math_ops as M
from .array_ops import stack
from .extra_ops import pad
from .graph import Tensor, name_scope
from .initializers import Zeros
from .layer_base import Layer, _activity, _bias_add, _no_constraints, _padding
from .op_builder import convert_to_tensor

__all__ = ["conv3d", "max_pool3d", "avg_pool3d", "Conv3D", "conv3d_layer", "MaxPooling3D",
           "AveragePooling3D", "max_pooling3d", "average_pooling3d"]


def _triple(v: Any, what: str, five: bool = False) -> tuple[int, int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v), int(v)
    vals = [int(x) for x in v]
    if five and len(vals) == 5:
        if vals[0] != 1 or vals[4] != 1:
            raise ValueError(f"{what} must be 1 in the batch and channel dims, got {list(v)}")
        return vals[1], vals[2], vals[3]
    if len(vals) == 1:
        return vals[0], vals[0], vals[0]
    if len(vals) != 3:
        raise ValueError(f"{what} must be an int or 3 ints (or 5 with ones at the ends), got {v}")
    return vals[0], vals[1], vals[2]


def _depth(x: Tensor, what: str) -> int:
    dims = x.shape.dims
    if dims is None or len(dims) != 5 or dims[1] is None:
        raise ValueError(f"{what} needs NDHWC input with a static depth, got {x.shape}")
    return dims[1]


def conv3d(input: Any, filter: Any = None, strides: Any = None, padding: Any = None,
           data_format: str = "NDHWC", dilations: Any = None, name: Optional[str] = None,
           filters: Any = None) -> Tensor:
    """NDHWC input, filter ``[kd, kh, kw, in, out]``."""
    from .nn import conv2d
    if data_format != "NDHWC":
        raise NotImplementedError(f"conv3d: data_format={data_format!r}; jitflow uses NDHWC")
    if dilations is not None and _triple(dilations, "dilations", True) != (1, 1, 1):
        raise NotImplementedError("conv3d with dilations is not supported")
    with name_scope(name, "Conv3D") as scope:
        x = convert_to_tensor(input, name="input")
        w = convert_to_tensor(filter if filter is not None else filters, name="filter")
        wd = w.shape.dims
        if wd is None or len(wd) != 5 or None in wd:
            raise ValueError(f"conv3d needs a static [kd, kh, kw, in, out] filter, got {w.shape}")
        sd, sh, sw = _triple(strides, "strides", True)
        p = str(padding).upper()
        d = _depth(x, "conv3d")
        od, before, after = window_geometry(d, wd[0], sd, 1, p)
        if before or after:
            x = pad(x, [[0, 0], [before, after], [0, 0], [0, 0], [0, 0]])
        outs = []
        for o in range(od):
            terms = [conv2d(x[:, o * sd + k], w[k], strides=[1, sh, sw, 1], padding=p)
                     for k in range(wd[0])]
            outs.append(terms[0] if len(terms) == 1 else M.add_n(terms))
        return stack(outs, axis=1, name=scope)


def _pool3d(kind: str, input: Any, ksize: Any, strides: Any, padding: Any, data_format: str,
            name: Optional[str]) -> Tensor:
    from . import nn
    if data_format != "NDHWC":
        raise NotImplementedError(f"{kind}: data_format={data_format!r}; jitflow uses NDHWC")
    with name_scope(name, "MaxPool3D" if kind == "max" else "AvgPool3D") as scope:
        x = convert_to_tensor(input, name="input")
        kd, kh, kw = _triple(ksize, "ksize", True)
        sd, sh, sw = _triple(strides, "strides", True)
        p = str(padding).upper()
        d = _depth(x, f"{kind}_pool3d")
        od, before, _ = window_geometry(d, kd, sd, 1, p)
        fn = nn.max_pool if kind == "max" else nn.avg_pool
        planes = [fn(x[:, i], ksize=[1, kh, kw, 1], strides=[1, sh, sw, 1], padding=p)
                  for i in range(d)]
        outs = []
        for o in range(od):
            real = [i for i in range(o * sd - before, o * sd - before + kd) if 0 <= i < d]
            acc = planes[real[0]]
            for i in real[1:]:
                acc = M.maximum(acc, planes[i]) if kind == "max" else M.add(acc, planes[i])
            outs.append(acc if kind == "max" else M.multiply(acc, 1.0 / len(real)))
        return stack(outs, axis=1, name=scope)


def max_pool3d(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NDHWC",
               name: Optional[str] = None) -> Tensor:
    return _pool3d("max", input, ksize, strides, padding, data_format, name)


def avg_pool3d(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NDHWC",
               name: Optional[str] = None) -> Tensor:
    """SAME divides by the number of real (unpadded) elements, as TF."""
    return _pool3d("avg", input, ksize, strides, padding, data_format, name)


class Conv3D(Layer):
    """``tf.layers.Conv3D``: kernel ``[kd, kh, kw, in, filters]``, NDHWC."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1, 1),
                 padding: str = "valid", data_format: str = "channels_last",
                 dilation_rate: Any = (1, 1, 1), activation: Optional[Callable] = None,
                 use_bias: bool = True, kernel_initializer: Any = None,
                 bias_initializer: Any = None, kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None,
                 trainable: bool = True, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        _no_constraints(kernel_constraint, bias_constraint)
        if data_format not in ("channels_last", None):
            raise NotImplementedError("conv3d: channels_last only")
        if _triple(dilation_rate, "dilation_rate") != (1, 1, 1):
            raise NotImplementedError("conv3d with dilation_rate is not supported")
        self.filters = int(filters)
        self.kernel_size = _triple(kernel_size, "kernel_size")
        self.strides = _triple(strides, "strides")
        self.padding = _padding(padding)
        self.activation, self.use_bias = activation, use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer if bias_initializer is not None else Zeros()
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.kernel = self.bias = None

    def build(self, input_shape) -> None:
        dims = input_shape.dims
        if dims is None or len(dims) != 5 or dims[-1] is None:
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: "
                             f"expected ndim=5 with known channels, found shape {input_shape}")
        self.kernel = self.add_weight("kernel", list(self.kernel_size) + [dims[-1], self.filters],
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", [self.filters], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)

    def call(self, inputs: Tensor) -> Tensor:
        out = conv3d(inputs, self.kernel, strides=[1, *self.strides, 1], padding=self.padding)
        if self.use_bias:
            out = _bias_add(out, self.bias)
        if self.activation is not None:
            out = self.activation(out)
        _activity(self, out)
        return out


def conv3d_layer(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1, 1),
                 padding: str = "valid", data_format: str = "channels_last",
                 dilation_rate: Any = (1, 1, 1), activation: Optional[Callable] = None,
                 use_bias: bool = True, kernel_initializer: Any = None,
                 bias_initializer: Any = None, kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 trainable: bool = True, name: Optional[str] = None, reuse: Any = None) -> Tensor:
    """``tf.layers.conv3d``."""
    return Conv3D(filters, kernel_size, strides, padding, data_format, dilation_rate,
                  activation, use_bias, kernel_initializer, bias_initializer,
                  kernel_regularizer, bias_regularizer, activity_regularizer,
                  trainable=trainable, name=name, _reuse=reuse).apply(inputs)


class _Pooling3D(Layer):
    _fn: Callable = max_pool3d

    def __init__(self, pool_size: Any, strides: Any, padding: str = "valid",
                 data_format: str = "channels_last", name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.pool_size = _triple(pool_size, "pool_size")
        self.strides = _triple(strides if strides is not None else pool_size, "strides")
        self.padding = _padding(padding)

    def call(self, inputs: Tensor) -> Tensor:
        return type(self)._fn(inputs, [1, *self.pool_size, 1], [1, *self.strides, 1],
                              self.padding)


class MaxPooling3D(_Pooling3D):
    _fn = staticmethod(max_pool3d)


class AveragePooling3D(_Pooling3D):
    _fn = staticmethod(avg_pool3d)


def max_pooling3d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                  data_format: str = "channels_last", name: Optional[str] = None) -> Tensor:
    return MaxPooling3D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling3d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                      data_format: str = "channels_last", name: Optional[str] = None) -> Tensor:
    return AveragePooling3D(pool_size, strides, padding, data_format, name=name).apply(inputs)
