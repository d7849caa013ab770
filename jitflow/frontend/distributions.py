"""``tf.distributions`` (also ``tf.contrib.distributions``): Normal, Bernoulli, Categorical,
Uniform with sample / log_prob / prob / mean / stddev / variance / entropy, and
``kl_divergence`` between two Normals or two Categoricals, from existing ops (samples are
reparameterized where TF's are: Normal and Uniform samples carry gradients to the
parameters)."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from . import math_ops as M
from .graph import Tensor, name_scope
from .op_builder import convert_to_tensor, static_ints

__all__ = ["Distribution", "Normal", "Bernoulli", "Categorical", "Uniform", "kl_divergence"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _float(x: Any, name: str, like: Optional[Tensor] = None) -> Tensor:
    if isinstance(x, Tensor) or hasattr(x, "_as_tensor"):
        return convert_to_tensor(x, name=name)
    if isinstance(x, (np.ndarray, np.generic)) and like is None:
        return convert_to_tensor(x, name=name)          # NumPy values keep their dtype
    return convert_to_tensor(x, dtype=like.dtype if like is not None else "float32", name=name)


def _sample_shape(sample_shape: Any) -> list:
    s = static_ints(sample_shape, "sample_shape") if sample_shape not in ((), None) else ()
    return list(s)


def _noise(kind: str, sample_shape: Any, like: Tensor, seed: Optional[int]) -> Tensor:
    """Standard normal/uniform noise of shape ``sample_shape + like.shape``; a batch with
    unknown dims (a placeholder's None) takes its run-time shape when sample_shape is ()."""
    from .array_ops import shape as tf_shape
    from .random_ops import random_normal, random_uniform
    fn = random_normal if kind == "normal" else random_uniform
    ss = _sample_shape(sample_shape)
    if like.shape.dims is not None and like.shape.is_fully_defined():
        return fn(ss + like.shape.as_list(), dtype=like.dtype, seed=seed)
    if ss:
        raise NotImplementedError("sample(sample_shape) of a distribution whose batch shape "
                                  f"{like.shape} is not static is not supported; use sample()")
    return fn(tf_shape(like), dtype=like.dtype, seed=seed)


class Distribution:
    """Base: subclasses give batch_shape, sample, log_prob; prob = exp(log_prob)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def prob(self, value: Any, name: str = "prob") -> Tensor:
        with name_scope(self.name + "/"), name_scope(name):
            return M.exp(self.log_prob(value))

    def stddev(self, name: str = "stddev") -> Tensor:
        with name_scope(self.name + "/"), name_scope(name):
            return M.sqrt(self.variance())


class Normal(Distribution):
    def __init__(self, loc: Any, scale: Any, validate_args: bool = False,
                 allow_nan_stats: bool = True, name: str = "Normal") -> None:
        super().__init__(name)
        with name_scope(name) as scope:
            self.name = scope.rstrip("/")
            self.loc = _float(loc, "loc")
            self.scale = _float(scale, "scale", self.loc)
            self._batch = M.add(M.multiply(self.loc, 0.0), M.multiply(self.scale, 0.0))

    @property
    def batch_shape(self):
        return self._batch.shape

    def sample(self, sample_shape: Any = (), seed: Optional[int] = None,
               name: str = "sample") -> Tensor:
        with name_scope(self.name + "/"), name_scope(name):
            eps = _noise("normal", sample_shape, self._batch, seed)
            return M.add(M.multiply(eps, self.scale), self.loc)

    def log_prob(self, value: Any, name: str = "log_prob") -> Tensor:
        with name_scope(self.name + "/"), name_scope(name):
            z = M.truediv(M.subtract(_float(value, "value", self.loc), self.loc), self.scale)
            return M.subtract(M.multiply(M.square(z), -0.5),
                              M.add(M.log(self.scale), _HALF_LOG_2PI))

    def mean(self, name: str = "mean") -> Tensor:
        return M.add(self.loc, M.multiply(self.scale, 0.0), name=name)

    def variance(self, name: str = "variance") -> Tensor:
        return M.add(M.square(self.scale), M.multiply(self.loc, 0.0), name=name)

    def entropy(self, name: str = "entropy") -> Tensor:
        return M.add(M.add(M.log(self.scale), 0.5 + _HALF_LOG_2PI), M.multiply(self.loc, 0.0),
                     name=name)


class Uniform(Distribution):
    def __init__(self, low: Any = 0.0, high: Any = 1.0, validate_args: bool = False,
                 allow_nan_stats: bool = True, name: str = "Uniform") -> None:
        super().__init__(name)
        with name_scope(name) as scope:
            self.name = scope.rstrip("/")
            self.low = _float(low, "low")
            self.high = _float(high, "high", self.low)
            self._batch = M.add(M.multiply(self.low, 0.0), M.multiply(self.high, 0.0))

    def sample(self, sample_shape: Any = (), seed: Optional[int] = None,
               name: str = "sample") -> Tensor:
        with name_scope(self.name + "/"), name_scope(name):
            u = _noise("uniform", sample_shape, self._batch, seed)
            return M.add(self.low, M.multiply(u, M.subtract(self.high, self.low)))

    def log_prob(self, value: Any, name: str = "log_prob") -> Tensor:
        from .array_ops import select as where
        with name_scope(self.name + "/"), name_scope(name):
            v = _float(value, "value", self.low)
            inside = M.logical_and(M.greater_equal(v, self.low), M.less(v, self.high))
            lp = M.negative(M.log(M.subtract(self.high, self.low)))
            lp = M.add(lp, M.multiply(v, 0.0))
            return where(inside, lp, M.add(M.multiply(lp, 0.0), -np.inf))

    def mean(self, name: str = "mean") -> Tensor:
        return M.multiply(M.add(self.low, self.high), 0.5, name=name)

    def variance(self, name: str = "variance") -> Tensor:
        return M.truediv(M.square(M.subtract(self.high, self.low)), 12.0, name=name)

    def entropy(self, name: str = "entropy") -> Tensor:
        return M.log(M.subtract(self.high, self.low), name=name)


class Bernoulli(Distribution):
    """Given ``logits`` or ``probs``; samples are int32 0/1 (TF's default dtype)."""

    def __init__(self, logits: Any = None, probs: Any = None, dtype: Any = "int32",
                 validate_args: bool = False, allow_nan_stats: bool = True,
                 name: str = "Bernoulli") -> None:
        super().__init__(name)
        if (logits is None) == (probs is None):
            raise ValueError("Must pass probs or logits, but not both.")
        with name_scope(name) as scope:
            self.name = scope.rstrip("/")
            self.dtype = dtype
            if logits is not None:
                self.logits = _float(logits, "logits")
                self.probs = M.sigmoid(self.logits)
            else:
                self.probs = _float(probs, "probs")
                self.logits = M.subtract(M.log(self.probs), M.log(M.subtract(1.0, self.probs)))

    def sample(self, sample_shape: Any = (), seed: Optional[int] = None,
               name: str = "sample") -> Tensor:
        with name_scope(self.name + "/"), name_scope(name):
            u = _noise("uniform", sample_shape, self.probs, seed)
            return M.cast(M.less(u, self.probs), self.dtype)

    def log_prob(self, value: Any, name: str = "log_prob") -> Tensor:
        from .nn import sigmoid_cross_entropy_with_logits
        with name_scope(self.name + "/"), name_scope(name):
            v = M.cast(convert_to_tensor(value), self.logits.dtype)
            logits = M.add(self.logits, M.multiply(v, 0.0))
            v = M.add(v, M.multiply(self.logits, 0.0))
            return M.negative(sigmoid_cross_entropy_with_logits(labels=v, logits=logits))

    def mean(self, name: str = "mean") -> Tensor:
        return M.add(self.probs, 0.0, name=name)

    def variance(self, name: str = "variance") -> Tensor:
        return M.multiply(self.probs, M.subtract(1.0, self.probs), name=name)

    def entropy(self, name: str = "entropy") -> Tensor:
        from .nn import sigmoid_cross_entropy_with_logits
        return sigmoid_cross_entropy_with_logits(labels=self.probs, logits=self.logits,
                                                 name=name)


class Categorical(Distribution):
    """Over the last axis of ``logits`` (or ``probs``); samples are int32 class indices."""

    def __init__(self, logits: Any = None, probs: Any = None, dtype: Any = "int32",
                 validate_args: bool = False, allow_nan_stats: bool = True,
                 name: str = "Categorical") -> None:
        super().__init__(name)
        if (logits is None) == (probs is None):
            raise ValueError("Must pass probs or logits, but not both.")
        from .nn import log_softmax
        with name_scope(name) as scope:
            self.name = scope.rstrip("/")
            self.dtype = dtype
            self.logits = _float(logits, "logits") if logits is not None else \
                M.log(_float(probs, "probs"))
            self._log_p = log_softmax(self.logits)
            self.probs = M.exp(self._log_p)

    def sample(self, sample_shape: Any = (), seed: Optional[int] = None,
               name: str = "sample") -> Tensor:
        from .array_ops import reshape, transpose
        from .sort_ops import multinomial
        with name_scope(self.name + "/"), name_scope(name):
            dims = self.logits.shape.as_list()
            n = int(np.prod(_sample_shape(sample_shape))) if _sample_shape(sample_shape) else 1
            flat = reshape(self.logits, [-1, dims[-1]])
            s = multinomial(flat, n, seed=seed, output_dtype=self.dtype)       # [B, n]
            out = transpose(s, [1, 0])
            return reshape(out, _sample_shape(sample_shape) + dims[:-1])

    def log_prob(self, value: Any, name: str = "log_prob") -> Tensor:
        from .extra_ops import one_hot
        with name_scope(self.name + "/"), name_scope(name):
            v = convert_to_tensor(value)
            hot = one_hot(v, self.logits.shape.as_list()[-1], dtype=self._log_p.dtype)
            return M.reduce_sum(M.multiply(hot, self._log_p), [-1])

    def mean(self, name: str = "mean") -> Tensor:
        raise NotImplementedError("Categorical has no mean")

    def entropy(self, name: str = "entropy") -> Tensor:
        return M.negative(M.reduce_sum(M.multiply(self.probs, self._log_p), [-1]), name=name)


def kl_divergence(distribution_a: Distribution, distribution_b: Distribution,
                  allow_nan_stats: bool = True, name: Optional[str] = None) -> Tensor:
    """KL(a || b) for two Normals or two Categoricals."""
    a, b = distribution_a, distribution_b
    with name_scope(name, "KullbackLeibler") as scope:
        if isinstance(a, Normal) and isinstance(b, Normal):
            ratio = M.square(M.truediv(a.scale, b.scale))
            diff = M.square(M.truediv(M.subtract(a.loc, b.loc), b.scale))
            return M.multiply(M.subtract(M.add(ratio, diff), M.add(M.log(ratio), 1.0)), 0.5,
                              name=scope)
        if isinstance(a, Categorical) and isinstance(b, Categorical):
            return M.reduce_sum(M.multiply(a.probs, M.subtract(a._log_p, b._log_p)), [-1],
                                name=scope)
        raise NotImplementedError(f"kl_divergence({type(a).__name__}, {type(b).__name__}) is "
                                  "not implemented in jitflow yet")

