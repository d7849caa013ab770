"""Helpers for tests of TF1 names built from existing ops: run a graph, and compare
``tf.gradients`` with central finite differences (float64, reference backend)."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

import jitflow.compat.v1 as tf


def run(fetches, feed=None, backend: str = "reference"):
    with tf.Session(backend=backend) as s:
        s.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        return s.run(fetches, feed)


def check_gradients(fn: Callable, arrays: Sequence[np.ndarray], eps: float = 1e-6,
                    rtol: float = 1e-5, atol: float = 1e-6, seed: int = 0,
                    backend: str = "reference") -> None:
    """Gradients of ``sum(fn(*xs) * W)`` w.r.t. each x vs central differences."""
    tf.reset_default_graph()
    arrays = [np.asarray(a, np.float64) for a in arrays]
    phs = [tf.placeholder(tf.float64, a.shape) for a in arrays]
    out = fn(*phs)
    shape = tuple(out.shape.as_list())
    w = np.asarray(np.random.RandomState(seed).randn(*shape), np.float64)
    loss = tf.reduce_sum(out * tf.constant(w))
    grads = tf.gradients(loss, phs)
    assert all(g is not None for g in grads), f"a gradient is None: {grads}"
    feed = dict(zip(phs, arrays))
    with tf.Session(backend=backend) as s:
        got = s.run(grads, feed)
        for i, a in enumerate(arrays):
            num = np.zeros_like(a)
            for j in range(a.size):
                hi, lo = a.copy(), a.copy()
                hi.flat[j] += eps
                lo.flat[j] -= eps
                f_hi = s.run(loss, {**feed, phs[i]: hi})
                f_lo = s.run(loss, {**feed, phs[i]: lo})
                num.flat[j] = (f_hi - f_lo) / (2 * eps)
            np.testing.assert_allclose(got[i], num, rtol=rtol, atol=atol,
                                       err_msg=f"gradient of input {i}")
