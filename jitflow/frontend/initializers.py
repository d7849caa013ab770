"""Initializers (``tf.*_initializer``, ``tf.initializers.*``): callables shape -> Tensor."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ..ir.dtypes import as_dtype, float32
from .array_ops import fill
from .op_builder import constant
from . import random_ops


def _dims(shape) -> tuple:
    return tuple(int(d) for d in shape)


class Initializer:
    def __call__(self, shape, dtype=None, partition_info=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}


class Zeros(Initializer):
    def __init__(self, dtype: Any = float32) -> None:
        self.dtype = as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dt = as_dtype(dtype or self.dtype)
        from .array_ops import zeros
        return zeros(_dims(shape), dt)


class Ones(Initializer):
    def __init__(self, dtype: Any = float32) -> None:
        self.dtype = as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        from .array_ops import ones
        return ones(_dims(shape), as_dtype(dtype or self.dtype))


class Constant(Initializer):
    def __init__(self, value: Any = 0, dtype: Any = float32, verify_shape: bool = False) -> None:
        self.value = value
        self.dtype = as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dt = as_dtype(dtype or self.dtype)
        arr = np.asarray(self.value)
        if arr.size == 1:
            return fill(_dims(shape), constant(arr.reshape(()), dt), name="Const")
        return constant(self.value, dt, shape=_dims(shape))


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 1.0, seed: Optional[int] = None,
                 dtype: Any = float32) -> None:
        self.mean, self.stddev, self.seed, self.dtype = mean, stddev, seed, as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return random_ops.random_normal(_dims(shape), self.mean, self.stddev,
                                        as_dtype(dtype or self.dtype), self.seed)


class TruncatedNormal(RandomNormal):
    def __call__(self, shape, dtype=None, partition_info=None):
        return random_ops.truncated_normal(_dims(shape), self.mean, self.stddev,
                                           as_dtype(dtype or self.dtype), self.seed)


class RandomUniform(Initializer):
    def __init__(self, minval: float = 0.0, maxval: Optional[float] = None,
                 seed: Optional[int] = None, dtype: Any = float32) -> None:
        self.minval, self.maxval, self.seed, self.dtype = minval, maxval, seed, as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return random_ops.random_uniform(_dims(shape), self.minval,
                                         1.0 if self.maxval is None else self.maxval,
                                         as_dtype(dtype or self.dtype), self.seed)


def compute_fans(shape) -> tuple[float, float]:
    shape = _dims(shape)
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = 1
    for d in shape[:-2]:
        receptive *= d
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class VarianceScaling(Initializer):
    """TF1 semantics: truncated normal has stddev sqrt(scale/n)/0.8796..."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: Optional[int] = None, dtype: Any = float32) -> None:
        if scale <= 0:
            raise ValueError("`scale` must be positive float.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: {mode}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"Invalid `distribution` argument: {distribution}")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed
        self.dtype = as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dt = as_dtype(dtype or self.dtype)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            std = math.sqrt(scale) / 0.87962566103423978
            return random_ops.truncated_normal(_dims(shape), 0.0, std, dt, self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.random_normal(_dims(shape), 0.0, math.sqrt(scale), dt, self.seed)
        limit = math.sqrt(3.0 * scale)
        return random_ops.random_uniform(_dims(shape), -limit, limit, dt, self.seed)


class GlorotUniform(VarianceScaling):
    def __init__(self, seed: Optional[int] = None, dtype: Any = float32) -> None:
        super().__init__(1.0, "fan_avg", "uniform", seed, dtype)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed: Optional[int] = None, dtype: Any = float32) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal", seed, dtype)


def he_normal(seed: Optional[int] = None) -> VarianceScaling:
    return VarianceScaling(2.0, "fan_in", "truncated_normal", seed)


def he_uniform(seed: Optional[int] = None) -> VarianceScaling:
    return VarianceScaling(2.0, "fan_in", "uniform", seed)


def lecun_normal(seed: Optional[int] = None) -> VarianceScaling:
    return VarianceScaling(1.0, "fan_in", "truncated_normal", seed)


def xavier_initializer(uniform: bool = True, seed: Optional[int] = None, dtype: Any = float32):
    return GlorotUniform(seed, dtype) if uniform else GlorotNormal(seed, dtype)


def contrib_variance_scaling_initializer(factor: float = 2.0, mode: str = "FAN_IN",
                                         uniform: bool = False, seed: Optional[int] = None,
                                         dtype: Any = float32) -> VarianceScaling:
    """tf.contrib.layers.variance_scaling_initializer (defaults: He init)."""
    return VarianceScaling(factor, {"FAN_IN": "fan_in", "FAN_OUT": "fan_out", "FAN_AVG": "fan_avg"}[mode],
                           "uniform" if uniform else "truncated_normal", seed, dtype)


class Orthogonal(Initializer):
    """``tf.orthogonal_initializer`` / Keras ``'orthogonal'``: ``gain * Q`` of the QR of a
    normal matrix (rows and columns flattened to [prod(shape[:-1]), shape[-1]]), sign-fixed by
    ``diag(R)`` as TF. The matrix is drawn with NumPy when the graph is built (a constant
    initial value; ``seed`` makes it reproducible), not by a random op in the graph."""

    def __init__(self, gain: float = 1.0, seed: Optional[int] = None,
                 dtype: Any = float32) -> None:
        self.gain, self.seed, self.dtype = float(gain), seed, as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dims = _dims(shape)
        if len(dims) < 2:
            raise ValueError(f"The tensor to initialize must be at least two-dimensional, got "
                             f"shape {list(dims)}")
        rows, cols = int(np.prod(dims[:-1])), dims[-1]
        rng = np.random.RandomState(self.seed) if self.seed is not None else np.random
        a = rng.normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return constant((self.gain * q).reshape(dims), as_dtype(dtype or self.dtype))
