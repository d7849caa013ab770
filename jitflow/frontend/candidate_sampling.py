"""TF1's candidate samplers ``tf.nn.log_uniform_candidate_sampler`` and
``tf.nn.uniform_candidate_sampler`` on existing ops.

Each returns ``(sampled_candidates [num_sampled] int64, true_expected_count [batch, num_true]
float32, sampled_expected_count [num_sampled] float32)`` as TF does. A draw inverts the
distribution's CDF on a counter-based uniform (``random_uniform`` with TF1's seed rule), so
the same graph and op seeds give the same candidates run after run of fresh sessions, and each
``sess.run`` draws new ones. With ``unique=True`` the candidates are drawn as TF draws them:
one at a time, a repeat rejected, in a ``while_loop`` that counts the tries; the expected
count of a class of probability p is then ``-expm1(num_tries * log1p(-p))`` (TF's formula),
else ``p * num_sampled``. (TF's exact random stream is not reproduced.)"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ..ir.dtypes import float32, int32, int64
from . import math_ops as M
from . import math_unary as U
from .array_ops import reshape, stop_gradient
from .control_flow import while_loop
from .extra_ops import reduce_any
from .graph import Tensor, name_scope
from .op_builder import constant, convert_to_tensor
from .random_ops import random_uniform

__all__ = ["log_uniform_candidate_sampler", "uniform_candidate_sampler"]


def _draw(dist: str, range_max: int, shape: list, seed: Optional[int]) -> Tensor:
    """int64 ids in [0, range_max) from the distribution, by the inverse CDF."""
    u = random_uniform(shape, seed=seed)
    if dist == "log_uniform":        # P(k) = log((k + 2) / (k + 1)) / log(range_max + 1)
        k = M.subtract(M.exp(M.multiply(u, math.log(range_max + 1.0))), 1.0)
    else:
        k = M.multiply(u, float(range_max))
    k = M.minimum(M.maximum(U.floor(k), 0.0), float(range_max - 1))
    return M.cast(k, int64)


def _prob(dist: str, range_max: int, ids: Tensor) -> Tensor:
    """float32 probability of each id."""
    if dist == "log_uniform":
        k = M.cast(ids, float32)
        return M.truediv(U.log1p(M.truediv(1.0, M.add(k, 1.0))), math.log(range_max + 1.0))
    return M.add(M.multiply(M.cast(ids, float32), 0.0), 1.0 / range_max)


def _unique(dist: str, range_max: int, num_sampled: int, seed: Optional[int]):
    """TF's rejection loop: (candidates [num_sampled] int64, number of tries int32)."""
    slots = constant(np.arange(num_sampled, dtype=np.int64))
    classes = constant(np.arange(range_max, dtype=np.int64))

    def body(count, tries, samples, taken):
        k = _draw(dist, range_max, [], seed)
        is_k = M.equal(classes, k)
        new = M.logical_not(reduce_any(M.logical_and(taken, is_k)))
        put = M.cast(M.logical_and(new, M.equal(slots, M.cast(count, int64))), int64)
        samples = M.add(samples, M.multiply(put, M.subtract(k, samples)))
        return (M.add(count, M.cast(new, int32)), M.add(tries, 1), samples,
                M.logical_or(taken, is_k))

    init = (constant(np.int32(0)), constant(np.int32(0)),
            constant(np.zeros(num_sampled, np.int64)), constant(np.zeros(range_max, bool)))
    _, tries, samples, _ = while_loop(lambda c, t, s, k: M.less(c, num_sampled), body, init,
                                      back_prop=False)
    return samples, tries


def _sampler(dist: str, what: str, true_classes: Any, num_true: int, num_sampled: int,
             unique: bool, range_max: int, seed: Optional[int], name: Optional[str]):
    num_true, num_sampled, range_max = int(num_true), int(num_sampled), int(range_max)
    if range_max < 1 or num_sampled < 1:
        raise ValueError(f"{what}: range_max ({range_max}) and num_sampled ({num_sampled}) "
                         f"must be positive")
    if unique and num_sampled > range_max:
        raise ValueError(f"{what}: unique=True needs num_sampled <= range_max, got "
                         f"num_sampled={num_sampled}, range_max={range_max}")
    with name_scope(name, what):
        t = convert_to_tensor(true_classes, name="true_classes")
        if t.dtype is not int64:
            t = M.cast(t, int64)
        if t.shape.ndims is not None and (t.shape.ndims != 2 or t.shape.dims[1] not in
                                          (None, num_true)):
            raise ValueError(f"{what}: true_classes must be [batch_size, num_true="
                             f"{num_true}], got shape {t.shape}")
        if unique:
            sampled, tries = _unique(dist, range_max, num_sampled, seed)
            n = M.cast(tries, float32)

            def count(p):
                return M.negative(U.expm1(M.multiply(n, U.log1p(M.negative(p)))))
        else:
            sampled = _draw(dist, range_max, [num_sampled], seed)

            def count(p):
                return M.multiply(p, float(num_sampled))
        true_count = count(_prob(dist, range_max, t))
        sampled_count = count(_prob(dist, range_max, sampled))
        return (stop_gradient(sampled), stop_gradient(true_count),
                stop_gradient(sampled_count))


def log_uniform_candidate_sampler(true_classes: Any, num_true: int, num_sampled: int,
                                  unique: bool, range_max: int, seed: Optional[int] = None,
                                  name: Optional[str] = None):
    """Candidates from the log-uniform (Zipfian) distribution over [0, range_max):
    ``P(k) = log((k + 2) / (k + 1)) / log(range_max + 1)``."""
    return _sampler("log_uniform", "LogUniformCandidateSampler", true_classes, num_true,
                    num_sampled, unique, range_max, seed, name)


def uniform_candidate_sampler(true_classes: Any, num_true: int, num_sampled: int, unique: bool,
                              range_max: int, seed: Optional[int] = None,
                              name: Optional[str] = None):
    """Candidates drawn uniformly from [0, range_max)."""
    return _sampler("uniform", "UniformCandidateSampler", true_classes, num_true, num_sampled,
                    unique, range_max, seed, name)
