"""``tf.nn`` convolutions and normalizations built from conv2d/matmul: conv1d (a conv2d of
height 1), atrous_conv2d (dilated conv2d), depthwise_conv2d (one conv2d per input channel,
concatenated), separable_conv2d (depthwise then a 1x1 conv2d), lrn (a band matrix product
over channels), and the ``tf.layers`` 1-D conv/pooling and SeparableConv2D built on them."""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from . import math_ops as M
from .array_ops import expand_dims, identity, squeeze
from .extra_ops import concat
from .graph import Tensor, name_scope
from .initializers import Zeros
from .layer_base import Layer, _activity, _bias_add, _no_constraints, _padding, _pair
from .op_builder import constant, convert_to_tensor

__all__ = ["max_pool_with_argmax", "conv1d", "atrous_conv2d", "depthwise_conv2d", "separable_conv2d", "lrn",
           "local_response_normalization", "Conv1D", "conv1d_layer", "MaxPooling1D",
           "AveragePooling1D", "max_pooling1d", "average_pooling1d", "SeparableConv2D",
           "separable_conv2d_layer"]


def _int(v: Any, what: str) -> int:
    if isinstance(v, (list, tuple)):
        vals = [int(x) for x in v]
        if len(vals) == 3:          # [1, s, 1] in NWC
            return vals[1]
        if len(vals) != 1:
            raise ValueError(f"{what} must be an int or a list of 1 or 3 ints, got {v}")
        return vals[0]
    return int(v)


def _dilations(r: Any) -> list:
    """rate/dilations as an NHWC 4-list: None, an int, (h, w) or [1, h, w, 1]."""
    if r is None:
        return [1, 1, 1, 1]
    if isinstance(r, (int, np.integer)):
        return [1, int(r), int(r), 1]
    vals = [int(v) for v in r]
    if len(vals) == 2:
        return [1, vals[0], vals[1], 1]
    if len(vals) == 4:
        return vals
    raise ValueError(f"rate/dilations must be an int, 2 or 4 ints, got {r}")


def conv1d(value: Any = None, filters: Any = None, stride: Any = 1, padding: Any = None,
           use_cudnn_on_gpu: Any = None, data_format: Optional[str] = None,
           name: Optional[str] = None, input: Any = None, dilations: Any = None) -> Tensor:
    """NWC input ``[batch, width, in]``, filter ``[k, in, out]``: conv2d on a height of 1."""
    from .nn import conv2d
    if data_format not in (None, "NWC"):
        raise NotImplementedError(f"conv1d: data_format={data_format!r}; jitflow uses NWC")
    x = convert_to_tensor(value if value is not None else input, name="value")
    w = convert_to_tensor(filters, name="filters")
    s = _int(stride, "stride")
    d = 1 if dilations is None else _int(dilations, "dilations")
    with name_scope(name, "conv1d") as scope:
        y = conv2d(expand_dims(x, 1), expand_dims(w, 0), strides=[1, 1, s, 1], padding=padding,
                   dilations=[1, 1, d, 1])
        return squeeze(y, [1], name=scope)


def atrous_conv2d(value: Any, filters: Any, rate: int, padding: str,
                  name: Optional[str] = None) -> Tensor:
    """conv2d with the filter dilated by ``rate``."""
    from .nn import conv2d
    if int(rate) < 1:
        raise ValueError(f"rate {rate} cannot be less than one")
    return conv2d(value, filters, strides=[1, 1, 1, 1], padding=padding,
                  dilations=[1, int(rate), int(rate), 1], name=name or "convolution")


def depthwise_conv2d(input: Any, filter: Any, strides: Any, padding: str, rate: Any = None,
                     name: Optional[str] = None, data_format: Optional[str] = None,
                     dilations: Any = None) -> Tensor:
    """Filter ``[kh, kw, in, multiplier]``: input channel c convolved with its own
    ``multiplier`` filters gives output channels ``c*multiplier ... c*multiplier + m - 1``."""
    from .nn import conv2d
    if data_format not in (None, "NHWC"):
        raise NotImplementedError("depthwise_conv2d: NHWC only")
    x = convert_to_tensor(input, name="input")
    w = convert_to_tensor(filter, name="filter")
    wd = w.shape.dims
    if wd is None or len(wd) != 4 or None in wd:
        raise ValueError(f"depthwise_conv2d needs a static [kh, kw, in, multiplier] filter, got "
                         f"{w.shape}")
    cin = wd[2]
    if x.shape.dims is not None and x.shape.dims[-1] not in (None, cin):
        raise ValueError(f"depthwise_conv2d: input has {x.shape.dims[-1]} channels, the filter "
                         f"{cin}")
    dil = _dilations(rate if rate is not None else dilations)
    with name_scope(name, "depthwise") as scope:
        outs = [conv2d(x[..., c:c + 1], w[:, :, c:c + 1, :], strides=strides, padding=padding,
                       dilations=dil) for c in range(cin)]
        return concat(outs, axis=3, name=scope) if cin > 1 else identity(outs[0], name=scope)


def separable_conv2d(input: Any, depthwise_filter: Any, pointwise_filter: Any, strides: Any,
                     padding: str, rate: Any = None, name: Optional[str] = None,
                     data_format: Optional[str] = None, dilations: Any = None) -> Tensor:
    """depthwise_conv2d followed by a 1x1 conv2d with ``pointwise_filter``
    ``[1, 1, in*multiplier, out]``."""
    from .nn import conv2d
    with name_scope(name, "separable_conv2d") as scope:
        dw = depthwise_conv2d(input, depthwise_filter, strides, padding, rate=rate,
                              data_format=data_format, dilations=dilations)
        return conv2d(dw, pointwise_filter, strides=[1, 1, 1, 1], padding="VALID", name=scope)


def lrn(input: Any, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0,
        beta: float = 0.5, name: Optional[str] = None) -> Tensor:
    """``x / (bias + alpha * sum_{|c'-c| <= r} x[c']**2) ** beta`` over the channels (last
    dim), the window sum being a product with a 0/1 band matrix."""
    with name_scope(name, "LRN") as scope:
        x = convert_to_tensor(input, name="input")
        dims = x.shape.dims
        if dims is None or len(dims) != 4 or dims[-1] is None:
            raise ValueError(f"lrn needs a 4-D input with static channels, got {x.shape}")
        c = dims[-1]
        i, j = np.arange(c)[:, None], np.arange(c)[None, :]
        band = constant((np.abs(i - j) <= int(depth_radius)).astype(x.dtype.np), name="band")
        from .array_ops import reshape
        sq = reshape(M.square(x), [-1, c])
        lead = [-1 if d is None else d for d in dims[:-1]]
        window = reshape(M.matmul(sq, band), lead + [c])
        denom = M.pow(M.add(M.multiply(window, float(alpha)), float(bias)), float(beta))
        return M.truediv(x, denom, name=scope)


local_response_normalization = lrn


def max_pool_with_argmax(input: Any, ksize: Any, strides: Any, padding: str,
                         data_format: str = "NHWC", Targmax: Any = None, output_dtype: Any = None,
                         include_batch_in_index: bool = False,
                         name: Optional[str] = None) -> tuple[Tensor, Tensor]:
    """``(max_pool(input), argmax)`` with argmax the flattened index ``(y * W + x) * C + c``
    (``+ b * H * W * C`` with include_batch_in_index) of each window's first maximum in
    row-major order, as TF's kernel; static shapes. The windows are strided slices of the
    input padded with -inf, one per kernel offset."""
    from ..ops.window import window_geometry
    from .array_ops import select as where
    from .extra_ops import pad
    if data_format != "NHWC":
        raise NotImplementedError("max_pool_with_argmax: NHWC only")
    out_dt = Targmax if Targmax is not None else (output_dtype or "int64")
    with name_scope(name, "MaxPoolWithArgmax") as scope:
        x = convert_to_tensor(input, name="input")
        dims = x.shape.dims
        if dims is None or len(dims) != 4 or None in dims[1:] or (
                include_batch_in_index and dims[0] is None):
            raise NotImplementedError(f"max_pool_with_argmax needs static H, W, C, got {x.shape}")
        n, h, w, c = dims
        kh, kw = (ksize[1], ksize[2]) if len(ksize) == 4 else _pair(ksize, "ksize")
        sh, sw = (strides[1], strides[2]) if len(strides) == 4 else _pair(strides, "strides")
        p = str(padding).upper()
        oh, ph, _ = window_geometry(h, kh, sh, 1, p)
        ow, pw, _ = window_geometry(w, kw, sw, 1, p)
        need_h, need_w = (oh - 1) * sh + kh, (ow - 1) * sw + kw
        xp = pad(x, [[0, 0], [ph, max(need_h - h - ph, 0)], [pw, max(need_w - w - pw, 0)],
                     [0, 0]], constant_values=-np.inf) if p == "SAME" else x
        oy, ox, cc = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(c), indexing="ij")
        vals = idx = None
        for dy in range(kh):
            for dx in range(kw):
                win = xp[:, dy:dy + (oh - 1) * sh + 1:sh, dx:dx + (ow - 1) * sw + 1:sw, :]
                flat = ((oy * sh + dy - ph) * w + (ox * sw + dx - pw)) * c + cc
                zeros = M.cast(M.greater(win, win), "int64")     # int64 zeros, window shape
                here = M.add(zeros, constant(flat.astype(np.int64)))
                if vals is None:
                    vals, idx = win, here
                    continue
                better = M.greater(win, vals)        # strictly: the first maximum is kept
                vals = where(better, win, vals)
                idx = where(better, here, idx)
        if include_batch_in_index:
            off = constant((np.arange(n) * h * w * c).reshape(n, 1, 1, 1).astype(np.int64))
            idx = M.add(idx, off)
        from .array_ops import identity
        return identity(vals, name=scope), M.cast(idx, out_dt)


# ---------------------------------------------------------------------- layers -------------

class Conv1D(Layer):
    """``tf.layers.Conv1D``: kernel ``[k, in, filters]``, NWC."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str = "channels_last", dilation_rate: Any = 1,
                 activation: Optional[Callable] = None, use_bias: bool = True,
                 kernel_initializer: Any = None, bias_initializer: Any = None,
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, trainable: bool = True, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        _no_constraints(kernel_constraint, bias_constraint)
        if data_format not in ("channels_last", None):
            raise NotImplementedError("conv1d: channels_last only")
        self.filters, self.kernel_size = int(filters), _int(kernel_size, "kernel_size")
        self.strides, self.dilation_rate = _int(strides, "strides"), _int(dilation_rate,
                                                                            "dilation_rate")
        self.padding = _padding(padding)
        self.activation, self.use_bias = activation, use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer if bias_initializer is not None else Zeros()
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.kernel = self.bias = None

    def build(self, input_shape) -> None:
        dims = input_shape.dims
        if dims is None or len(dims) != 3 or dims[-1] is None:
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: "
                             f"expected ndim=3 with known channels, found shape {input_shape}")
        self.kernel = self.add_weight("kernel", [self.kernel_size, dims[-1], self.filters],
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", [self.filters], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)

    def call(self, inputs: Tensor) -> Tensor:
        out = conv1d(inputs, self.kernel, stride=self.strides, padding=self.padding,
                     dilations=self.dilation_rate)
        if self.use_bias:
            out = _bias_add(out, self.bias)
        if self.activation is not None:
            out = self.activation(out)
        _activity(self, out)
        return out


def conv1d_layer(inputs: Any, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: str = "channels_last",
                 dilation_rate: Any = 1, activation: Optional[Callable] = None,
                 use_bias: bool = True, kernel_initializer: Any = None,
                 bias_initializer: Any = None, kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 trainable: bool = True, name: Optional[str] = None, reuse: Any = None) -> Tensor:
    """``tf.layers.conv1d``."""
    return Conv1D(filters, kernel_size, strides, padding, data_format, dilation_rate,
                  activation, use_bias, kernel_initializer, bias_initializer,
                  kernel_regularizer, bias_regularizer, activity_regularizer,
                  trainable=trainable, name=name, _reuse=reuse).apply(inputs)


class _Pooling1D(Layer):
    _fn = ""

    def __init__(self, pool_size: Any, strides: Any, padding: str = "valid",
                 data_format: str = "channels_last", name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.pool_size = _int(pool_size, "pool_size")
        self.strides = _int(strides if strides is not None else pool_size, "strides")
        self.padding = _padding(padding)

    def call(self, inputs: Tensor) -> Tensor:
        from . import nn
        fn = getattr(nn, self._fn)
        y = fn(expand_dims(inputs, 1), ksize=[1, 1, self.pool_size, 1],
               strides=[1, 1, self.strides, 1], padding=self.padding)
        return squeeze(y, [1])


class MaxPooling1D(_Pooling1D):
    _fn = "max_pool"


class AveragePooling1D(_Pooling1D):
    _fn = "avg_pool"


def max_pooling1d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                  data_format: str = "channels_last", name: Optional[str] = None) -> Tensor:
    return MaxPooling1D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling1d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                      data_format: str = "channels_last", name: Optional[str] = None) -> Tensor:
    return AveragePooling1D(pool_size, strides, padding, data_format, name=name).apply(inputs)


class SeparableConv2D(Layer):
    """``tf.layers.SeparableConv2D``: ``depthwise_kernel`` [kh, kw, in, multiplier],
    ``pointwise_kernel`` [1, 1, in*multiplier, filters], ``bias``."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1),
                 padding: str = "valid", data_format: str = "channels_last",
                 dilation_rate: Any = (1, 1), depth_multiplier: int = 1,
                 activation: Optional[Callable] = None, use_bias: bool = True,
                 depthwise_initializer: Any = None, pointwise_initializer: Any = None,
                 bias_initializer: Any = None, depthwise_regularizer: Any = None,
                 pointwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, trainable: bool = True,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.filters, self.kernel_size = int(filters), _pair(kernel_size, "kernel_size")
        self.strides, self.dilation_rate = _pair(strides, "strides"), _pair(dilation_rate,
                                                                             "dilation_rate")
        self.padding, self.depth_multiplier = _padding(padding), int(depth_multiplier)
        self.activation, self.use_bias = activation, use_bias
        self.inits = (depthwise_initializer, pointwise_initializer,
                      bias_initializer if bias_initializer is not None else Zeros())
        self.regs = (depthwise_regularizer, pointwise_regularizer, bias_regularizer)
        self.activity_regularizer = activity_regularizer

    def build(self, input_shape) -> None:
        dims = input_shape.dims
        if dims is None or len(dims) != 4 or dims[-1] is None:
            raise ValueError(f"SeparableConv2D needs NHWC inputs with known channels, got "
                             f"{input_shape}")
        (kh, kw), cin, m = self.kernel_size, dims[-1], self.depth_multiplier
        self.depthwise_kernel = self.add_weight("depthwise_kernel", [kh, kw, cin, m],
                                                initializer=self.inits[0], regularizer=self.regs[0])
        self.pointwise_kernel = self.add_weight("pointwise_kernel", [1, 1, cin * m, self.filters],
                                                initializer=self.inits[1], regularizer=self.regs[1])
        self.bias = self.add_weight("bias", [self.filters], initializer=self.inits[2],
                                    regularizer=self.regs[2]) if self.use_bias else None

    def call(self, inputs: Tensor) -> Tensor:
        sh, sw = self.strides
        out = separable_conv2d(inputs, self.depthwise_kernel, self.pointwise_kernel,
                               [1, sh, sw, 1], self.padding, rate=self.dilation_rate)
        if self.bias is not None:
            out = _bias_add(out, self.bias)
        if self.activation is not None:
            out = self.activation(out)
        _activity(self, out)
        return out


def separable_conv2d_layer(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1),
                           padding: str = "valid", data_format: str = "channels_last",
                           dilation_rate: Any = (1, 1), depth_multiplier: int = 1,
                           activation: Optional[Callable] = None, use_bias: bool = True,
                           name: Optional[str] = None, reuse: Any = None,
                           **kwargs: Any) -> Tensor:
    """``tf.layers.separable_conv2d``."""
    return SeparableConv2D(filters, kernel_size, strides, padding, data_format, dilation_rate,
                           depth_multiplier, activation, use_bias, name=name, _reuse=reuse,
                           **kwargs).apply(inputs)
