"""Helpers for tests of tf.keras layers: run a layer on the llvm backend, and compare the
gradients w.r.t. its input and its weights with central finite differences (float64)."""
from __future__ import annotations

from typing import Callable

import numpy as np

import jitflow.compat.v1 as tf

BACKEND = "llvm"


def run_layer(layer, x: np.ndarray, weights=None, **call_kwargs):
    """(output, [weight values]) of ``layer`` on ``x`` (weights loaded when given)."""
    ph = tf.placeholder(tf.as_dtype(x.dtype), [None] + list(x.shape[1:]))
    out = layer(ph, **call_kwargs)
    with tf.Session(backend=BACKEND) as s:
        s.run(tf.global_variables_initializer())
        for v, w in zip(layer.weights, weights or []):
            v.load(np.asarray(w, x.dtype), s)
        return s.run(out, {ph: x}), s.run(layer.weights)


def check_layer_gradients(make: Callable, x: np.ndarray, eps: float = 1e-6, rtol: float = 1e-5,
                          atol: float = 1e-6, seed: int = 0) -> None:
    """d sum(layer(x) * W) / d(x and each weight) vs central differences; the weights get
    random values first so that zero-initialized ones (PReLU's alpha) are exercised."""
    tf.reset_default_graph()
    x = np.asarray(x, np.float64)
    ph = tf.placeholder(tf.float64, x.shape)
    layer = make()
    out = layer(ph)
    r = np.random.RandomState(seed)
    w = r.randn(*out.shape.as_list())
    loss = tf.reduce_sum(out * tf.constant(w))
    targets = [ph] + list(layer.trainable_weights)
    grads = tf.gradients(loss, targets)
    assert all(g is not None for g in grads), grads
    with tf.Session(backend=BACKEND) as s:
        s.run(tf.global_variables_initializer())
        values = [x] + [r.randn(*v.shape.as_list()) * 0.5 for v in layer.trainable_weights]
        for v, val in zip(layer.trainable_weights, values[1:]):
            v.load(val, s)
        got = s.run(grads, {ph: x})

        def f(i: int, val: np.ndarray) -> float:
            if i == 0:
                return float(s.run(loss, {ph: val}))
            targets[i].load(val, s)
            res = float(s.run(loss, {ph: x}))
            targets[i].load(values[i], s)
            return res
        for i, a in enumerate(values):
            num = np.zeros_like(a)
            for j in range(a.size):
                hi, lo = a.copy(), a.copy()
                hi.flat[j] += eps
                lo.flat[j] -= eps
                num.flat[j] = (f(i, hi) - f(i, lo)) / (2 * eps)
            np.testing.assert_allclose(got[i], num, rtol=rtol, atol=atol,
                                       err_msg=f"gradient w.r.t. {targets[i].name}")
