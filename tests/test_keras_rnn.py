"""frontend/keras_rnn.py: tf.keras.layers.LSTM / GRU / SimpleRNN in TF1 graph code. Outputs
against NumPy implementations of Keras's equations with the layer's own weights
(return_sequences, return_state, go_backwards, time_major, initial_state), gradients w.r.t.
the inputs and every weight against central differences of the NumPy oracle, Keras's weight
names/shapes/defaults (unit_forget_bias, orthogonal recurrent kernel), dropout only in
training, and a small sequence task trained on llvm."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf


def hsig(z):
    return np.clip(0.2 * z + 0.5, 0.0, 1.0)


def np_lstm(x, W, U, b, h=None, c=None, rec=hsig):
    B, T, _ = x.shape
    u = U.shape[0]
    h = np.zeros((B, u)) if h is None else h
    c = np.zeros((B, u)) if c is None else c
    outs = []
    for t in range(T):
        i, f, g, o = np.split(x[:, t] @ W + h @ U + b, 4, axis=1)
        c = rec(f) * c + rec(i) * np.tanh(g)
        h = rec(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def np_gru(x, W, U, b, reset_after=False, rec=hsig):
    B, T, _ = x.shape
    u = U.shape[0]
    h = np.zeros((B, u))
    outs = []
    for t in range(T):
        if reset_after:
            xz, xr, xh = np.split(x[:, t] @ W + b[0], 3, axis=1)
            iz, ir, ih = np.split(h @ U + b[1], 3, axis=1)
            z, r = rec(xz + iz), rec(xr + ir)
            hh = np.tanh(xh + r * ih)
        else:
            xz, xr, xh = np.split(x[:, t] @ W + b, 3, axis=1)
            z = rec(xz + h @ U[:, :u])
            r = rec(xr + h @ U[:, u:2 * u])
            hh = np.tanh(xh + (r * h) @ U[:, 2 * u:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1), h


def np_simple(x, W, U, b):
    h = np.zeros((x.shape[0], U.shape[0]))
    outs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ W + h @ U + b)
        outs.append(h)
    return np.stack(outs, 1), h


def _run(fetches, feed, backend="reference"):
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        return s.run(fetches, feed)


def test_lstm_weights_names_and_defaults():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 4, 3])
    layer = tf.keras.layers.LSTM(5)
    y = layer(x)
    assert [v.name for v in layer.weights] == ["lstm/kernel:0", "lstm/recurrent_kernel:0",
                                              "lstm/bias:0"]
    assert layer.trainable_weights == layer.weights
    assert y.shape.as_list() == [None, 5]
    W, U, b = _run(layer.weights, {})
    assert W.shape == (3, 20) and U.shape == (5, 20) and b.shape == (20,)
    np.testing.assert_array_equal(b, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    np.testing.assert_allclose(U @ U.T, np.eye(5), atol=1e-5)      # orthogonal rows
    limit = np.sqrt(6.0 / (3 + 20))
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.3 * limit


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("time_major", [False, True])
def test_lstm_matches_keras_equations(go_backwards, time_major):
    tf.reset_default_graph()
    rng = np.random.RandomState(1)
    xv = rng.randn(3, 6, 4).astype(np.float32)
    shape = [6, None, 4] if time_major else [None, 6, 4]
    x = tf.placeholder(tf.float32, shape)
    layer = tf.keras.layers.LSTM(5, return_sequences=True, return_state=True,
                                 go_backwards=go_backwards, time_major=time_major,
                                 bias_initializer="random_normal")
    seq, h, c = layer(x)
    feed = {x: xv.transpose(1, 0, 2) if time_major else xv}
    got_seq, got_h, got_c, (W, U, b) = _run([seq, h, c, layer.weights], feed)
    if time_major:
        got_seq = got_seq.transpose(1, 0, 2)
    xin = xv[:, ::-1] if go_backwards else xv
    ref_seq, ref_h, ref_c = np_lstm(xin.astype(np.float64), W, U, b)
    np.testing.assert_allclose(got_seq, ref_seq, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_h, ref_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_c, ref_c, rtol=1e-5, atol=1e-6)


def test_lstm_initial_state_and_sigmoid_and_last_output():
    tf.reset_default_graph()
    rng = np.random.RandomState(2)
    xv, h0, c0 = rng.randn(2, 5, 3), rng.randn(2, 4), rng.randn(2, 4)
    x = tf.placeholder(tf.float64, [2, 5, 3])
    layer = tf.keras.layers.LSTM(4, recurrent_activation="sigmoid", dtype=tf.float64)
    y = layer(x, initial_state=[tf.constant(h0), tf.constant(c0)])
    got, (W, U, b) = _run([y, layer.weights], {x: xv})
    _, ref_h, _ = np_lstm(xv, W, U, b, h0, c0, rec=lambda z: 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(got, ref_h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reset_after", [False, True])
def test_gru_matches_keras_equations(reset_after):
    tf.reset_default_graph()
    xv = np.random.RandomState(3).randn(2, 5, 3)
    x = tf.placeholder(tf.float64, [None, 5, 3])
    layer = tf.keras.layers.GRU(4, return_sequences=True, return_state=True,
                                reset_after=reset_after, bias_initializer="random_normal",
                                dtype=tf.float64)
    seq, h = layer(x)
    assert [v.name.split("/")[-1] for v in layer.weights] == ["kernel:0", "recurrent_kernel:0",
                                                             "bias:0"]
    got_seq, got_h, (W, U, b) = _run([seq, h, layer.weights], {x: xv})
    assert b.shape == ((2, 12) if reset_after else (12,))
    ref_seq, ref_h = np_gru(xv, W, U, b, reset_after)
    np.testing.assert_allclose(got_seq, ref_seq, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_h, ref_h, rtol=1e-10, atol=1e-12)


def test_simple_rnn_matches():
    tf.reset_default_graph()
    xv = np.random.RandomState(4).randn(2, 4, 3)
    x = tf.placeholder(tf.float64, [None, 4, 3])
    layer = tf.keras.layers.SimpleRNN(3, return_sequences=True, dtype=tf.float64,
                                      bias_initializer="random_uniform")
    seq = layer(x)
    assert layer.weights[0].name == "simple_rnn/kernel:0"
    got, (W, U, b) = _run([seq, layer.weights], {x: xv})
    np.testing.assert_allclose(got, np_simple(xv, W, U, b)[0], rtol=1e-10, atol=1e-12)


def _fd(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for j in range(a.size):
        hi, lo = a.copy(), a.copy()
        hi.flat[j] += eps
        lo.flat[j] -= eps
        g.flat[j] = (f(hi) - f(lo)) / (2 * eps)
    return g


def test_lstm_gradients_vs_finite_differences():
    """d sum(seq * w) w.r.t. x, kernel, recurrent_kernel and bias; sigmoid recurrent
    activation (hard_sigmoid's kinks would make central differences unreliable)."""
    tf.reset_default_graph()
    rng = np.random.RandomState(5)
    xv = rng.randn(2, 3, 2)
    x = tf.placeholder(tf.float64, [2, 3, 2])
    layer = tf.keras.layers.LSTM(3, return_sequences=True, recurrent_activation="sigmoid",
                                 bias_initializer="random_normal", dtype=tf.float64)
    seq = layer(x)
    w = rng.randn(2, 3, 3)
    loss = tf.reduce_sum(seq * tf.constant(w))
    grads = tf.gradients(loss, [x] + layer.weights)
    got = _run([grads, layer.weights], {x: xv})
    (gx, gW, gU, gb), (W, U, b) = got
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    f = lambda xx, WW, UU, bb: float(np.sum(np_lstm(xx, WW, UU, bb, rec=sig)[0] * w))  # noqa
    tol = dict(rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gx, _fd(lambda a: f(a, W, U, b), xv), **tol)
    np.testing.assert_allclose(gW, _fd(lambda a: f(xv, a, U, b), W), **tol)
    np.testing.assert_allclose(gU, _fd(lambda a: f(xv, W, a, b), U), **tol)
    np.testing.assert_allclose(gb, _fd(lambda a: f(xv, W, U, a), b), **tol)


def test_dropout_only_in_training():
    tf.reset_default_graph()
    xv = np.random.RandomState(6).randn(4, 5, 3).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 5, 3])
    training = tf.placeholder(tf.bool, [])
    layer = tf.keras.layers.LSTM(4, dropout=0.5, recurrent_dropout=0.5)
    y_inf = layer(x)
    y_tr = layer(x, training=training)
    assert len(layer.weights) == 3            # the second call reuses the weights
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        W, U, b = s.run(layer.weights)
        ref = np_lstm(xv.astype(np.float64), W, U, b)[1]
        np.testing.assert_allclose(s.run(y_inf, {x: xv}), ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(s.run(y_tr, {x: xv, training: False}), ref, rtol=1e-5,
                                   atol=1e-6)
        dropped = s.run(y_tr, {x: xv, training: True})
        assert np.abs(dropped - ref).max() > 1e-3


def test_bad_input_rank():
    tf.reset_default_graph()
    with pytest.raises(ValueError, match="batch, time, features"):
        tf.keras.layers.LSTM(3)(tf.placeholder(tf.float32, [None, 3]))


def test_trains_sequence_task_on_llvm():
    """Predict the running mean sign of a sequence from its last LSTM output."""
    tf.reset_default_graph()
    tf.set_random_seed(0)
    rng = np.random.RandomState(7)
    xs = rng.randn(64, 6, 1).astype(np.float32)
    ys = (xs.sum(axis=(1, 2)) > 0).astype(np.float32)[:, None]
    x = tf.placeholder(tf.float32, [None, 6, 1])
    y = tf.placeholder(tf.float32, [None, 1])
    h = tf.keras.layers.LSTM(8)(x)
    logits = tf.keras.layers.Dense(1)(h)
    loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    with tf.Session(backend="llvm") as s:
        s.run(tf.global_variables_initializer())
        first = s.run(loss, {x: xs, y: ys})
        for _ in range(60):
            s.run(train, {x: xs, y: ys})
        last = s.run(loss, {x: xs, y: ys})
    assert last < 0.5 * first, (first, last)


def test_unknown_batch_and_time_llvm_equals_reference():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, None, 3])
    layer = tf.keras.layers.LSTM(4, return_sequences=True, go_backwards=True)
    y = layer(x)
    grads = tf.gradients(tf.reduce_sum(y * y), layer.weights)
    rng = np.random.RandomState(8)
    values = [(rng.randn(*v.shape.as_list()) * 0.5).astype(np.float32) for v in layer.weights]
    xv = rng.randn(2, 5, 3).astype(np.float32)
    res = {}
    for be in ("reference", "llvm"):
        with tf.Session(backend=be) as s:
            s.run([tf.assign(v, a) for v, a in zip(layer.weights, values)])
            res[be] = s.run([y] + grads, {x: xv})
            assert s.run(y, {x: rng.randn(3, 7, 3)}).shape == (3, 7, 4)
    W, U, b = (a.astype(np.float64) for a in values)
    np.testing.assert_allclose(res["reference"][0], np_lstm(xv[:, ::-1], W, U, b)[0],
                               rtol=1e-5, atol=1e-6)
    for a, c in zip(res["reference"], res["llvm"]):
        np.testing.assert_allclose(c, a, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
def test_bidirectional_lstm(merge_mode):
    tf.reset_default_graph()
    xv = np.random.RandomState(9).randn(2, 5, 3)
    x = tf.placeholder(tf.float64, [None, 5, 3])
    bi = tf.keras.layers.Bidirectional(
        tf.keras.layers.LSTM(4, return_sequences=True, return_state=True,
                             bias_initializer="random_normal", dtype=tf.float64),
        merge_mode=merge_mode)
    outs = bi(x)
    assert [v.name for v in bi.weights] == [
        f"bidirectional/{d}_lstm/{w}:0" for d in ("forward", "backward")
        for w in ("kernel", "recurrent_kernel", "bias")]
    got = _run([outs, bi.weights], {x: xv})
    res, (Wf, Uf, bf, Wb, Ub, bb) = got
    f_seq, f_h, f_c = np_lstm(xv, Wf, Uf, bf)
    b_seq, b_h, b_c = np_lstm(xv[:, ::-1], Wb, Ub, bb)
    b_seq = b_seq[:, ::-1]                       # back in input order
    want = {"concat": [np.concatenate([f_seq, b_seq], -1)], "sum": [f_seq + b_seq],
            None: [f_seq, b_seq]}[merge_mode] + [f_h, f_c, b_h, b_c]
    assert len(res) == len(want)
    for a, b in zip(res, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
