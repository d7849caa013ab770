"""RNN API behaviour beyond the TF value checks: errors, gradients against finite
differences (float64, reference backend), dropout wrapper masks."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf


def test_unknown_time_dimension_names_the_users_line_and_tf_while_loop():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, None, 3])
    with pytest.raises(NotImplementedError) as e:
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), x, dtype=tf.float32)
    assert "test_rnn_api.py" in str(e.value) and "tf.while_loop" in str(e.value)


def test_missing_dtype_and_initial_state_is_a_value_error():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2, 3, 3])
    with pytest.raises(ValueError, match="dtype"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicRNNCell(2), x)


def test_dynamic_rnn_gradient_matches_finite_differences_float64():
    tf.reset_default_graph()
    rng = np.random.RandomState(0)
    xv = rng.randn(2, 3, 2)
    x = tf.placeholder(tf.float64, [2, 3, 2])
    cell = tf.nn.rnn_cell.LSTMCell(3, use_peepholes=True)
    out, st = tf.nn.dynamic_rnn(cell, x, sequence_length=[3, 2], dtype=tf.float64)
    loss = tf.reduce_sum(out * out) + tf.reduce_sum(st.c)
    kernel = tf.global_variables()[0]
    gx, gk = tf.gradients(loss, [x, kernel])
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        ax, ak = s.run([gx, gk], {x: xv})
        eps = 1e-6
        for idx in [(0, 0, 0), (1, 2, 1), (1, 1, 0)]:
            d = np.zeros_like(xv)
            d[idx] = eps
            num = (s.run(loss, {x: xv + d}) - s.run(loss, {x: xv - d})) / (2 * eps)
            np.testing.assert_allclose(ax[idx], num, rtol=1e-5, atol=1e-8)
        assert ax[1, 2].tolist() == [0.0, 0.0]          # past the length: no gradient
        k0 = s.run(kernel)
        for idx in [(0, 0), (4, 7)]:
            vals = []
            for sign in (1, -1):
                k = k0.copy()
                k[idx] += sign * eps
                kernel.load(k, s)
                vals.append(s.run(loss, {x: xv}))
            kernel.load(k0, s)
            np.testing.assert_allclose(ak[idx], (vals[0] - vals[1]) / (2 * eps), rtol=1e-5)
