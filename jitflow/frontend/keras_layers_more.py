"""More ``tf.keras.layers`` for TF1 graph code, built from existing frontend ops: Conv1D,
Conv2DTranspose, the 1D poolings, global poolings, Reshape/Permute/RepeatVector, zero padding,
up-sampling and cropping (the activation, noise and normalization layers are in
keras_layers_act.py). Names, defaults and weights follow TF 1.15 Keras (``conv1d/kernel``
[k, in, out], ``global_average_pooling2d``, ...).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import array_ops as A
from . import extra_ops as E
from . import layers_core as L
from . import math_ops as M
from . import nn_extra as NX
from .graph import Tensor
from .keras_layers import _drop_shape_kwargs, _keras_kwargs
from .layer_base import Layer

__all__ = ["Conv1D", "Convolution1D", "Conv2DTranspose", "Convolution2DTranspose",
           "MaxPooling1D", "MaxPool1D", "AveragePooling1D", "AvgPool1D",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D",
           "GlobalMaxPool2D", "Reshape", "Permute", "RepeatVector", "ZeroPadding1D",
           "ZeroPadding2D", "UpSampling1D", "UpSampling2D", "Cropping1D", "Cropping2D"]


def _data_format(df: Optional[str], what: str) -> str:
    df = df or "channels_last"
    if df not in ("channels_last", "channels_first"):
        raise ValueError(f"{what}: `data_format` must be 'channels_last' or 'channels_first', "
                         f"got {df!r}")
    return df


def _static_dims(x: Tensor, what: str) -> list:
    dims = x.shape.dims
    if dims is None or any(d is None for d in dims[1:]):
        raise ValueError(f"{what} needs the input's non-batch dims to be known, got shape "
                         f"{x.shape}")
    return list(dims)


# ---------------------------------------------------------------------- conv ---------------

class Conv1D(NX.Conv1D):
    """Keras's Conv1D: kernel ``[kernel_size, in, filters]`` (glorot_uniform), NWC.
    ``padding='causal'`` left-pads the time axis by ``dilation_rate * (kernel_size - 1)``
    zeros and convolves 'valid', so the output at t sees only inputs at t and before."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str = "channels_last", dilation_rate: Any = 1,
                 activation: Any = None, **kwargs: Any) -> None:
        causal = isinstance(padding, str) and padding.lower() == "causal"
        super().__init__(filters, kernel_size, strides=strides,
                         padding="valid" if causal else padding, data_format=data_format,
                         dilation_rate=dilation_rate,
                         **_keras_kwargs(dict(kwargs, activation=activation)))
        self.causal = causal

    def call(self, inputs: Tensor) -> Tensor:
        if self.causal:
            left = self.dilation_rate * (self.kernel_size - 1)
            inputs = E.pad(inputs, [[0, 0], [left, 0], [0, 0]])
        return super().call(inputs)


class Conv2DTranspose(L.Conv2DTranspose):
    """Keras's Conv2DTranspose: kernel ``[kh, kw, filters, in]``, NHWC."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1),
                 padding: str = "valid", activation: Any = None, **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         **_keras_kwargs(dict(kwargs, activation=activation)))


Convolution1D, Convolution2DTranspose = Conv1D, Conv2DTranspose


# ---------------------------------------------------------------------- pooling ------------

class MaxPooling1D(NX.MaxPooling1D):
    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str = "channels_last", **kwargs: Any) -> None:
        if _data_format(data_format, "MaxPooling1D") != "channels_last":
            raise NotImplementedError("MaxPooling1D: jitflow supports channels_last only")
        super().__init__(pool_size, strides, padding, data_format, **_drop_shape_kwargs(kwargs))


class AveragePooling1D(NX.AveragePooling1D):
    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str = "channels_last", **kwargs: Any) -> None:
        if _data_format(data_format, "AveragePooling1D") != "channels_last":
            raise NotImplementedError("AveragePooling1D: jitflow supports channels_last only")
        super().__init__(pool_size, strides, padding, data_format, **_drop_shape_kwargs(kwargs))


MaxPool1D, AvgPool1D = MaxPooling1D, AveragePooling1D


class _GlobalPooling(Layer):
    _rank = 1
    _reduce = staticmethod(M.reduce_mean)

    def __init__(self, data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.data_format = _data_format(data_format, type(self).__name__)

    def call(self, inputs: Tensor) -> Tensor:
        nd = self._rank + 2
        if inputs.shape.ndims not in (None, nd):
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: "
                             f"expected ndim={nd}, found shape {inputs.shape}")
        first = 1 if self.data_format == "channels_last" else 2
        return self._reduce(inputs, axis=list(range(first, first + self._rank)))


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over the steps; with a Keras mask (keras_mask.py) over the unmasked steps
    only, as TF 1.15's (``sum(x * m) / sum(m)``: a row with every step masked gives NaN, as
    TF's); the output has no mask."""

    supports_masking = True

    def call(self, inputs: Tensor, mask: Any = None) -> Tensor:
        if mask is None:
            return super().call(inputs)
        from .array_ops import expand_dims
        steps = 1 if self.data_format == "channels_last" else 2
        m = expand_dims(M.cast(mask, inputs.dtype), 2 if steps == 1 else 1)
        return M.truediv(M.reduce_sum(M.multiply(inputs, m), axis=steps),
                         M.reduce_sum(m, axis=steps))

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    _rank = 2


class GlobalMaxPooling1D(_GlobalPooling):
    _reduce = staticmethod(M.reduce_max)


class GlobalMaxPooling2D(_GlobalPooling):
    _rank = 2
    _reduce = staticmethod(M.reduce_max)


GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D


# ---------------------------------------------------------------------- shapes -------------

class Reshape(Layer):
    """Reshapes the non-batch dims to ``target_shape`` (one entry may be -1)."""

    def __init__(self, target_shape: Any, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError(f"Reshape: can only specify one unknown dimension, got "
                             f"target_shape={self.target_shape}")

    def call(self, inputs: Tensor) -> Tensor:
        target = list(self.target_shape)
        if -1 in target:
            size = int(np.prod(_static_dims(inputs, "Reshape with a -1 entry")[1:]))
            known = int(np.prod([d for d in target if d != -1]))
            if known == 0 or size % known:
                raise ValueError(f"total size of new array must be unchanged: input shape "
                                 f"{inputs.shape}, target_shape {self.target_shape}")
            target[target.index(-1)] = size // known
        return A.reshape(inputs, [-1] + target)


class Permute(Layer):
    """Permutes the non-batch dims: ``dims`` are 1-based (``(2, 1)`` swaps them)."""

    def __init__(self, dims: Any, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Invalid permutation `dims` for Permute Layer: {dims}. The set of "
                             f"indices in `dims` must be consecutive and start from 1.")

    def call(self, inputs: Tensor) -> Tensor:
        return A.transpose(inputs, [0] + list(self.dims))


class RepeatVector(Layer):
    """[batch, features] -> [batch, n, features]."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.n = int(n)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.shape.ndims not in (None, 2):
            raise ValueError(f"RepeatVector expects a 2D input [batch, features], got shape "
                             f"{inputs.shape}")
        return E.tile(A.expand_dims(inputs, 1), [1, self.n, 1])


def _pairs(v: Any, n: int, what: str) -> list:
    """Keras's padding/cropping: an int, ``n`` ints (symmetric) or ``n`` pairs."""
    if isinstance(v, (int, np.integer)):
        return [(int(v), int(v))] * n
    v = list(v)
    if n == 1 and len(v) == 2 and all(isinstance(e, (int, np.integer)) for e in v):
        return [(int(v[0]), int(v[1]))]
    if len(v) != n:
        raise ValueError(f"`{what}` should be an int, a tuple of {n} ints or a tuple of {n} "
                         f"tuples of 2 ints, got {v}")
    out = []
    for e in v:
        out.append((int(e), int(e)) if isinstance(e, (int, np.integer)) else
                   tuple(int(x) for x in e))
        if len(out[-1]) != 2:
            raise ValueError(f"`{what}`: each entry must be an int or a pair, got {v}")
    return out


def _spatial_axes(rank: int, data_format: str) -> list:
    return list(range(1, rank + 1)) if data_format == "channels_last" else \
        list(range(2, rank + 2))


class _ZeroPadding(Layer):
    _rank = 1

    def __init__(self, padding: Any = 1, data_format: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.padding = _pairs(padding, self._rank, "padding")
        self.data_format = _data_format(data_format, type(self).__name__)

    def call(self, inputs: Tensor) -> Tensor:
        pads = [[0, 0]] * (self._rank + 2)
        for ax, p in zip(_spatial_axes(self._rank, self.data_format), self.padding):
            pads[ax] = list(p)
        return E.pad(inputs, pads)


class ZeroPadding1D(_ZeroPadding):
    def __init__(self, padding: Any = 1, **kwargs: Any) -> None:
        super().__init__(padding, None, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    _rank = 2


class _Cropping(Layer):
    _rank = 1

    def __init__(self, cropping: Any = (1, 1), data_format: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.cropping = _pairs(cropping, self._rank, "cropping")
        self.data_format = _data_format(data_format, type(self).__name__)

    def call(self, inputs: Tensor) -> Tensor:
        idx: list = [slice(None)] * (self._rank + 2)
        for ax, (a, b) in zip(_spatial_axes(self._rank, self.data_format), self.cropping):
            idx[ax] = slice(a, -b if b else None)
        return inputs[tuple(idx)]


class Cropping1D(_Cropping):
    def __init__(self, cropping: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(cropping, None, **kwargs)


class Cropping2D(_Cropping):
    _rank = 2

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(cropping, data_format, **kwargs)


def _repeat(x: Tensor, n: int, axis: int) -> Tensor:
    """``K.repeat_elements``: each entry along ``axis`` repeated ``n`` times."""
    if n == 1:
        return x
    dims = _static_dims(x, "UpSampling")
    y = A.expand_dims(x, axis + 1)
    reps = [1] * (len(dims) + 1)
    reps[axis + 1] = n
    y = E.tile(y, reps)
    new = [-1] + dims[1:]
    new[axis] = dims[axis] * n
    return A.reshape(y, new)


class UpSampling1D(Layer):
    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.size = int(size)

    def call(self, inputs: Tensor) -> Tensor:
        return _repeat(inputs, self.size, 1)


class UpSampling2D(Layer):
    """Nearest-neighbour up-sampling by ``size`` (rows, cols)."""

    def __init__(self, size: Any = (2, 2), data_format: Optional[str] = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))
        if interpolation != "nearest":
            raise NotImplementedError(f"UpSampling2D(interpolation={interpolation!r}): jitflow "
                                      f"supports 'nearest' only")
        self.size = [p[0] for p in _pairs(size, 2, "size")] if not isinstance(size, int) \
            else [int(size)] * 2
        self.data_format = _data_format(data_format, "UpSampling2D")

    def call(self, inputs: Tensor) -> Tensor:
        x = inputs
        for ax, n in zip(_spatial_axes(2, self.data_format), self.size):
            x = _repeat(x, n, ax)
        return x
