"""Stateful Keras recurrent layers (frontend/keras_rnn_state.py): the final states of a run
become the next run's initial states (non-trainable variables outside ``layer.weights``), so
two predicts on the halves of a sequence equal one non-stateful predict on all of it (and a
NumPy loop of Keras's equations); ``reset_states`` to zeros or given values (layer and
model); fit with shuffle=False carries the states from batch to batch; a stateful layer
without a fixed batch size is refused."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf


def hsig(z):
    return np.clip(0.2 * z + 0.5, 0.0, 1.0)


def np_run(kind, x, W, U, b, h=None, c=None):
    """(outputs [B, T, u], h, c) of Keras's SimpleRNN / LSTM / GRU equations."""
    B, T, _ = x.shape
    u = U.shape[0]
    h = np.zeros((B, u)) if h is None else h
    c = np.zeros((B, u)) if c is None else c
    outs = []
    for t in range(T):
        z = x[:, t] @ W + b
        if kind == "SimpleRNN":
            h = np.tanh(z + h @ U)
        elif kind == "LSTM":
            i, f, g, o = np.split(z + h @ U, 4, axis=1)
            c = hsig(f) * c + hsig(i) * np.tanh(g)
            h = hsig(o) * np.tanh(c)
        else:
            xz, xr, xh = np.split(z, 3, axis=1)
            zz = hsig(xz + h @ U[:, :u])
            r = hsig(xr + h @ U[:, u:2 * u])
            h = zz * h + (1 - zz) * np.tanh(xh + (r * h) @ U[:, 2 * u:])
        outs.append(h)
    return np.stack(outs, 1), h, c


def _layer(kind, **kw):
    return getattr(tf.keras.layers, kind)(3, return_sequences=True,
                                          bias_initializer="random_normal", **kw)


@pytest.mark.parametrize("kind,backend", [("SimpleRNN", "llvm"), ("LSTM", "reference"),
                                          ("LSTM", "llvm"), ("GRU", "reference")])
def test_halves_equal_the_whole_sequence(kind, backend):
    tf.reset_default_graph()
    with tf.Session(backend=backend) as sess:
        tf.keras.backend.set_session(sess)
        rng = np.random.RandomState(0)
        x = rng.randn(2, 6, 2).astype(np.float32)
        stateful = tf.keras.Sequential([_layer(kind, stateful=True,
                                               batch_input_shape=(2, 3, 2))])
        whole = tf.keras.Sequential([_layer(kind, input_shape=(6, 2))])
        sess.run(tf.global_variables_initializer())
        whole.set_weights(stateful.get_weights())
        first = stateful.predict(x[:, :3], batch_size=2)
        second = stateful.predict(x[:, 3:], batch_size=2)
        full = whole.predict(x, batch_size=2)
        W, U, b = (w.astype(np.float64) for w in stateful.get_weights())
    np.testing.assert_allclose(np.concatenate([first, second], 1), full, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(full, np_run(kind, x.astype(np.float64), W, U, b)[0],
                               rtol=1e-5, atol=1e-6)
    assert np.abs(second - stateful_free(kind, x[:, 3:], W, U, b)).max() > 1e-3


def stateful_free(kind, x, W, U, b):
    return np_run(kind, x.astype(np.float64), W, U, b)[0]


def test_reset_states_zeros_and_given_values():
    tf.reset_default_graph()
    rng = np.random.RandomState(1)
    x = rng.randn(2, 4, 2).astype(np.float32)
    inp = tf.keras.Input(batch_shape=(2, 4, 2))
    lstm = tf.keras.layers.LSTM(3, stateful=True, return_state=True,
                                bias_initializer="random_normal")
    out, h, c = lstm(inp)
    model = tf.keras.Model(inp, out)
    sess = tf.keras.backend.get_session()
    assert lstm.weights == lstm.trainable_weights and len(lstm.weights) == 3
    assert len(lstm.states) == 2 and not any(s in tf.trainable_variables()
                                             for s in lstm.states)
    assert [s.shape.as_list() for s in lstm.states] == [[2, 3], [2, 3]]
    W, U, b = (w.astype(np.float64) for w in lstm.get_weights())
    fresh = model.predict(x, batch_size=2)
    np.testing.assert_allclose(fresh, np_run("LSTM", x.astype(np.float64), W, U, b)[1],
                               rtol=1e-5, atol=1e-6)
    carried = model.predict(x, batch_size=2)
    assert np.abs(carried - fresh).max() > 1e-4
    model.reset_states()
    np.testing.assert_array_equal(sess.run(lstm.states), np.zeros((2, 2, 3)))
    np.testing.assert_allclose(model.predict(x, batch_size=2), fresh, rtol=1e-6)
    h0, c0 = rng.randn(2, 3), rng.randn(2, 3)
    lstm.reset_states([h0, c0])                           # Keras's order: [h, c]
    want = np_run("LSTM", x.astype(np.float64), W, U, b, h=h0, c=c0)
    got_h, got_c = sess.run([h, c], {inp: x})
    np.testing.assert_allclose(got_h, want[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_c, want[2], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="expects 2 states, but it received 1"):
        lstm.reset_states([h0])
    with pytest.raises(ValueError, match=r"expected shape=\(2, 3\), found shape=\(3, 3\)"):
        lstm.reset_states([np.zeros((3, 3)), c0])
    with pytest.raises(AttributeError, match="Layer must be stateful"):
        tf.keras.layers.GRU(2).reset_states()


def test_fit_without_shuffle_carries_states_across_batches():
    """With a zero learning rate the weights stay; the states after one epoch are those of
    batch 2 started from batch 1's final states."""
    tf.reset_default_graph()
    rng = np.random.RandomState(2)
    x = rng.randn(4, 5, 2).astype(np.float32)
    y = rng.randn(4, 1).astype(np.float32)
    model = tf.keras.Sequential([
        tf.keras.layers.SimpleRNN(3, stateful=True, batch_input_shape=(2, 5, 2)),
        tf.keras.layers.Dense(1)])
    model.compile(tf.train.GradientDescentOptimizer(0.0), "mse")
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    rnn = model.layers[0]
    W, U, b = (w.astype(np.float64) for w in rnn.get_weights())
    h1 = np_run("SimpleRNN", x[:2].astype(np.float64), W, U, b)[1]
    h2 = np_run("SimpleRNN", x[2:].astype(np.float64), W, U, b, h=h1)[1]
    (got,) = tf.keras.backend.get_session().run(rnn.states)
    np.testing.assert_allclose(got, h2, rtol=1e-5, atol=1e-6)
    model.reset_states()
    first = model.predict(x[:2], batch_size=2)        # predict starts from the reset zeros
    W2, b2 = model.layers[1].get_weights()
    np.testing.assert_allclose(first, h1 @ W2 + b2, rtol=1e-5, atol=1e-6)


def test_stateful_needs_a_batch_size():
    tf.reset_default_graph()
    with pytest.raises(ValueError, match="needs to know its batch size"):
        tf.keras.layers.LSTM(3, stateful=True)(tf.placeholder(tf.float32, [None, 4, 2]))
    with pytest.raises(ValueError, match="batch_input_shape"):
        tf.keras.Sequential([tf.keras.layers.GRU(2, stateful=True, input_shape=(4, 2))])
