"""RNN API behaviour beyond the TF value checks: errors, gradients against finite
differences (float64, reference backend), dropout wrapper masks."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_unknown_time_dimension_runs_as_a_while_loop(backend):
    """dynamic_rnn is one while loop: a time dimension known only at run time works, and
    gives what the same cell over a static time dimension gives (lengths masked)."""
    rng = np.random.RandomState(1)
    xv = rng.randn(3, 5, 4).astype(np.float32)
    tf.reset_default_graph()
    cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.GRUCell(3), tf.nn.rnn_cell.LSTMCell(2)])
    fetches, feeds = [], []
    for dims in ([3, 5, 4], [None, None, 4]):       # the same cell (variables) twice
        x = tf.placeholder(tf.float32, dims)
        out, st = tf.nn.dynamic_rnn(cell, x, sequence_length=[5, 2, 4], dtype=tf.float32)
        assert out.shape.as_list()[1:] == [dims[1], 2]
        loss = tf.reduce_sum(out * out) + tf.reduce_sum(st[0])
        fetches.append([out, st[1].h] + tf.gradients(loss, tf.trainable_variables() + [x]))
        feeds.append(x)
    assert len(tf.trainable_variables()) == 6
    assert [op.type for op in tf.get_default_graph().get_operations()].count("While") == 2
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        static, dynamic = (s.run(f, {x: xv}) for f, x in zip(fetches, feeds))
    for a, b in zip(static, dynamic):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.all(dynamic[0][1, 2:] == 0)              # past the length: zero outputs
    assert np.all(dynamic[-1][1, 2:] == 0)             # and no gradient


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
