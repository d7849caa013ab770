"""Keras masks (frontend/keras_mask.py, keras_rnn_state.masked_rnn): Embedding(mask_zero) and
Masking make them, supports_masking layers pass them on (Sequential and functional),
SimpleRNN/LSTM/GRU/Bidirectional consume them (outputs and states against NumPy loops of
Keras's equations written here: a masked step keeps the state and repeats the previous
output, masks with holes in the middle), gradients through the masked loop against central
differences, and fit/evaluate weight the loss by the output's mask as TF 1.15 does."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf


def hsig(z):
    return np.clip(0.2 * z + 0.5, 0.0, 1.0)


def sig(z):
    return 1 / (1 + np.exp(-z))


def masked_loop(step, x, mask, states, zero_output=False):
    """Keras's K.rnn with a mask: (outputs [B, T, u], last output, final states)."""
    B, T, _ = x.shape
    prev = np.zeros((B, states[0].shape[1]))
    outs = []
    for t in range(T):
        out, new = step(x[:, t], states)
        m = mask[:, t][:, None].astype(bool)
        states = [np.where(m, n, o) for n, o in zip(new, states)]
        prev = np.where(m, out, 0.0 if zero_output else prev)
        outs.append(prev)
    return np.stack(outs, 1), prev, states


def simple_step(W, U, b):
    def step(x, st):
        h = np.tanh(x @ W + st[0] @ U + b)
        return h, [h]
    return step


def lstm_step(W, U, b, rec=hsig):
    def step(x, st):
        h, c = st
        i, f, g, o = np.split(x @ W + h @ U + b, 4, axis=1)
        c = rec(f) * c + rec(i) * np.tanh(g)
        h = rec(o) * np.tanh(c)
        return h, [h, c]
    return step


def gru_step(W, U, b):
    u = U.shape[0]

    def step(x, st):
        h = st[0]
        xz, xr, xh = np.split(x @ W + b, 3, axis=1)
        z = hsig(xz + h @ U[:, :u])
        r = hsig(xr + h @ U[:, u:2 * u])
        hh = np.tanh(xh + (r * h) @ U[:, 2 * u:])
        h = z * h + (1 - z) * hh
        return h, [h]
    return step


def zeros(B, u, n=1):
    return [np.zeros((B, u)) for _ in range(n)]


IDS = np.array([[3, 0, 5, 1, 0, 0],      # holes in the middle and trailing padding
                [0, 0, 2, 7, 0, 4],      # leading padding
                [1, 2, 3, 4, 5, 6],      # nothing masked
                [0, 0, 0, 0, 0, 0]])     # everything masked


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_embedding_mask_zero_simple_rnn(backend):
    tf.reset_default_graph()
    ids = tf.placeholder(tf.int32, [None, 6])
    emb = tf.keras.layers.Embedding(8, 3, mask_zero=True)
    e = emb(ids)
    rnn = tf.keras.layers.SimpleRNN(4, return_sequences=True, return_state=True,
                                    bias_initializer="random_normal")
    seq, h = rnn(e)
    assert e._keras_mask is not None and e._keras_mask.dtype == tf.bool
    assert seq._keras_mask is e._keras_mask and h._keras_mask is None
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        got_seq, got_h, got_m, E, W, U, b = s.run(
            [seq, h, e._keras_mask] + emb.weights + rnn.weights, {ids: IDS})
    np.testing.assert_array_equal(got_m, IDS != 0)
    want_seq, _, (want_h,) = masked_loop(simple_step(W, U, b), E[IDS], IDS != 0, zeros(4, 4))
    np.testing.assert_allclose(got_seq, want_seq, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got_seq[3], 0.0)          # all masked: zeros
    np.testing.assert_array_equal(got_seq[0, 1], got_seq[0, 0])   # a hole repeats
    np.testing.assert_array_equal(got_seq[0, 5], got_seq[0, 3])


@pytest.mark.parametrize("go_backwards", [False, True])
def test_masking_layer_lstm_states(go_backwards):
    tf.reset_default_graph()
    rng = np.random.RandomState(1)
    xv = rng.randn(3, 5, 2)
    xv[0, 1] = 0.0
    xv[0, 3] = 0.0
    xv[1, 4] = 0.0
    xv[2, 0] = 0.0
    xv[2, 2, 0] = 0.0                          # only one feature zero: not masked
    x = tf.placeholder(tf.float64, [None, 5, 2])
    masked = tf.keras.layers.Masking(mask_value=0.0)(x)
    lstm = tf.keras.layers.LSTM(3, return_sequences=True, return_state=True,
                                go_backwards=go_backwards, bias_initializer="random_normal",
                                dtype=tf.float64)
    seq, h, c = lstm(masked)
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        got, m, W, U, b = s.run([[seq, h, c], masked._keras_mask] + lstm.weights, {x: xv})
    mask = np.any(xv != 0.0, axis=-1)
    np.testing.assert_array_equal(m, mask)
    xs, ms = (xv[:, ::-1], mask[:, ::-1]) if go_backwards else (xv, mask)
    want_seq, _, (want_h, want_c) = masked_loop(lstm_step(W, U, b), xs, ms, zeros(3, 3, 2))
    for a, w in zip(got, [want_seq, want_h, want_c]):
        np.testing.assert_allclose(a, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_gru_explicit_mask_and_last_output(backend):
    """A bool mask tensor given as ``mask=``; return_sequences=False gives the last unmasked
    output; an initial_state is kept through masked leading steps."""
    tf.reset_default_graph()
    rng = np.random.RandomState(2)
    xv = rng.randn(3, 6, 2).astype(np.float32)
    mv = rng.rand(3, 6) > 0.4
    mv[0] = [True, False, False, True, False, False]
    h0v = rng.randn(3, 4).astype(np.float32) * 0.5
    x = tf.placeholder(tf.float32, [None, 6, 2])
    m = tf.placeholder(tf.bool, [None, 6])
    h0 = tf.placeholder(tf.float32, [None, 4])
    gru = tf.keras.layers.GRU(4, return_state=True, bias_initializer="random_normal")
    last, h = gru(x, mask=m, initial_state=h0)
    assert last._keras_mask is None
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        got_last, got_h, W, U, b = s.run([last, h] + gru.weights, {x: xv, m: mv, h0: h0v})
    _, want_last, (want_h,) = masked_loop(gru_step(W, U, b), xv.astype(np.float64), mv,
                                          [h0v.astype(np.float64)])
    np.testing.assert_allclose(got_last, want_last, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-5, atol=1e-6)


def test_masked_lstm_gradients_vs_finite_differences():
    tf.reset_default_graph()
    rng = np.random.RandomState(3)
    xv = rng.randn(2, 4, 2)
    mv = np.array([[True, False, True, True], [False, True, True, False]])
    x = tf.placeholder(tf.float64, [2, 4, 2])
    lstm = tf.keras.layers.LSTM(3, return_sequences=True, recurrent_activation="sigmoid",
                                bias_initializer="random_normal", dtype=tf.float64)
    seq = lstm(x, mask=tf.constant(mv))
    w = rng.randn(2, 4, 3)
    grads = tf.gradients(tf.reduce_sum(seq * tf.constant(w)), [x] + lstm.weights)
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        (gx, gW, gU, gb), (W, U, b) = s.run([grads, lstm.weights], {x: xv})

    def f(xx, WW, UU, bb):
        out = masked_loop(lstm_step(WW, UU, bb, rec=sig), xx, mv, zeros(2, 3, 2))[0]
        return float(np.sum(out * w))

    def fd(fn, a, eps=1e-6):
        g = np.zeros_like(a)
        for j in range(a.size):
            hi, lo = a.copy(), a.copy()
            hi.flat[j] += eps
            lo.flat[j] -= eps
            g.flat[j] = (fn(hi) - fn(lo)) / (2 * eps)
        return g
    tol = dict(rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gx, fd(lambda a: f(a, W, U, b), xv), **tol)
    np.testing.assert_array_equal(gx[0, 1], 0.0)               # a masked step's input
    np.testing.assert_allclose(gW, fd(lambda a: f(xv, a, U, b), W), **tol)
    np.testing.assert_allclose(gU, fd(lambda a: f(xv, W, a, b), U), **tol)
    np.testing.assert_allclose(gb, fd(lambda a: f(xv, W, U, a), b), **tol)


def test_bidirectional_mask_zeroes_masked_sequence_steps():
    tf.reset_default_graph()
    xv = np.random.RandomState(4).randn(2, 5, 3)
    mv = np.array([[True, True, False, True, False], [False, True, True, True, True]])
    x = tf.placeholder(tf.float64, [None, 5, 3])
    bi = tf.keras.layers.Bidirectional(
        tf.keras.layers.SimpleRNN(2, return_sequences=True, bias_initializer="random_normal",
                                  dtype=tf.float64))
    y = bi(x, mask=tf.constant(mv))
    assert y._keras_mask is not None
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        got, ym, (Wf, Uf, bf, Wb, Ub, bb) = s.run([y, y._keras_mask, bi.weights], {x: xv})
    np.testing.assert_array_equal(ym, mv)
    fw = masked_loop(simple_step(Wf, Uf, bf), xv, mv, zeros(2, 2), zero_output=True)[0]
    bw = masked_loop(simple_step(Wb, Ub, bb), xv[:, ::-1], mv[:, ::-1], zeros(2, 2),
                     zero_output=True)[0][:, ::-1]
    np.testing.assert_allclose(got, np.concatenate([fw, bw], -1), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(got[0, 2], 0.0)


def test_mask_propagation_rules():
    tf.reset_default_graph()
    ids = tf.keras.Input(shape=(6,), dtype=tf.int32)
    e = tf.keras.layers.Embedding(8, 3, mask_zero=True)(ids)
    m = e._keras_mask
    d = tf.keras.layers.Dropout(0.5)(e)
    a = tf.keras.layers.Activation("tanh")(d)
    td = tf.keras.layers.TimeDistributed(tf.keras.layers.Dense(2))(a)
    dense = tf.keras.layers.Dense(2)(td)
    for t in (d, a, td, dense):
        assert t._keras_mask is m
    assert tf.keras.layers.LSTM(2)(dense)._keras_mask is None   # no sequence: no mask
    flat_layer = tf.keras.layers.Flatten()
    assert not flat_layer.supports_masking
    assert flat_layer(dense)._keras_mask is None          # TF 1.15 drops it silently ...
    with pytest.raises(TypeError, match="does not support masking"):
        flat_layer.compute_mask(dense, m)                  # ... and compute_mask refuses it
    assert tf.keras.layers.Embedding(8, 3)(ids)._keras_mask is None
    assert tf.keras.layers.Embedding(8, 3, mask_zero=True).compute_mask(ids) is not None


def test_functional_and_sequential_models_carry_the_mask():
    tf.reset_default_graph()
    ids = tf.keras.Input(shape=(6,), dtype=tf.int32)
    h = tf.keras.layers.Embedding(8, 3, mask_zero=True)(ids)
    h = tf.keras.layers.SimpleRNN(4, return_sequences=True)(h)
    out = tf.keras.layers.Dense(1)(h)
    model = tf.keras.Model(ids, out)
    other = tf.placeholder(tf.int32, [None, 6])
    again = model(other)                  # a second application: the mask follows it
    assert out._keras_mask is not None and again._keras_mask is not None
    seq = tf.keras.Sequential([tf.keras.layers.Embedding(8, 3, mask_zero=True,
                                                         input_shape=(6,)),
                               tf.keras.layers.LSTM(2, return_sequences=True)])
    assert seq.output._keras_mask is not None
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(s.run(again._keras_mask, {other: IDS}), IDS != 0)
        a, b = s.run([out, again], {ids: IDS, other: IDS})
    np.testing.assert_allclose(a, b)


def _seq_model():
    tf.reset_default_graph()
    tf.set_random_seed(1)
    model = tf.keras.Sequential([
        tf.keras.layers.Embedding(8, 3, mask_zero=True, input_shape=(6,)),
        tf.keras.layers.SimpleRNN(4, return_sequences=True),
        tf.keras.layers.TimeDistributed(tf.keras.layers.Dense(2))])
    model.compile(tf.train.GradientDescentOptimizer(0.5), "mse", metrics=["mae"])
    return model


def test_loss_is_weighted_by_the_output_mask():
    model = _seq_model()
    rng = np.random.RandomState(5)
    y = rng.randn(4, 6, 2).astype(np.float32)
    loss, mae = model.evaluate(IDS, y, batch_size=4, verbose=0)
    pred = model.predict(IDS, batch_size=4).astype(np.float64)
    mask = (IDS != 0).astype(np.float64)
    per = np.mean((pred - y) ** 2, axis=-1)             # [batch, time]
    np.testing.assert_allclose(loss, np.sum(per * mask) / per.size, rtol=1e-5)
    per_mae = np.mean(np.abs(pred - y), axis=-1)
    np.testing.assert_allclose(mae, np.sum(per_mae * mask) / mask.sum(), rtol=1e-5)
    y2 = y.copy()
    y2[IDS == 0] += 100.0                               # targets of masked steps: ignored
    np.testing.assert_allclose(model.evaluate(IDS, y2, batch_size=4, verbose=0), [loss, mae],
                               rtol=1e-6)


def test_fit_ignores_masked_targets():
    """One SGD step with garbage targets at masked steps changes the weights exactly as one
    with other garbage there."""
    rng = np.random.RandomState(6)
    y = rng.randn(4, 6, 2).astype(np.float32)
    after = []
    for shift in (0.0, 50.0):
        model = _seq_model()
        sess = tf.keras.backend.get_session()
        start = [rng.randn(*v.shape.as_list()).astype(np.float32) * 0.3
                 for v in model.weights] if not after else after[0][1]
        model.set_weights(start)
        yy = y.copy()
        yy[IDS == 0] += shift
        model.fit(IDS, yy, batch_size=4, epochs=1, shuffle=False, verbose=0)
        after.append((model.get_weights(sess), start))
    for a, b in zip(after[0][0], after[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(np.abs(a - s).max() > 1e-4 for a, s in zip(after[0][0], after[0][1]))


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(0, 2 ** 18 - 1), st.booleans())
def test_any_mask_pattern_lstm_llvm(batch, steps, bits, backwards):
    """Masks of any pattern, batch and length (one graph, fed: the time dim is unknown)."""
    g = _any_mask_graph()
    mv = np.array([(bits >> i) & 1 for i in range(batch * steps)], bool).reshape(batch, steps)
    xv = np.random.RandomState(bits % 1000).randn(batch, steps, 2).astype(np.float32)
    s, (x, m, outs, layers) = g
    seq, h, c = s.run(outs[backwards], {x: xv, m: mv})
    W, U, b = (w.astype(np.float64) for w in s.run(layers[backwards].weights))
    xs, ms = (xv[:, ::-1], mv[:, ::-1]) if backwards else (xv, mv)
    want = masked_loop(lstm_step(W, U, b), xs.astype(np.float64), ms, zeros(batch, 3, 2))
    for a, w in zip([seq, h, c], [want[0], want[2][0], want[2][1]]):
        np.testing.assert_allclose(a, w, rtol=1e-5, atol=1e-6)


_GRAPH: list = []


def _any_mask_graph():
    if not _GRAPH:
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [None, None, 2])
            m = tf.placeholder(tf.bool, [None, None])
            layers = [tf.keras.layers.LSTM(3, return_sequences=True, return_state=True,
                                           go_backwards=gb, bias_initializer="random_normal")
                      for gb in (False, True)]
            outs = [layer(x, mask=m) for layer in layers]
            s = tf.Session(backend="llvm", graph=g)
            s.run(tf.global_variables_initializer())
        _GRAPH.append((s, (x, m, outs, layers)))
    return _GRAPH[0]


IDS2 = np.array([[1, 1, 0, 2, 0, 3],
                 [0, 4, 4, 0, 0, 1],
                 [5, 0, 0, 0, 6, 6],
                 [2, 2, 2, 2, 2, 2]])


def test_merge_layers_and_lambda_pass_masks_as_tf_1_15():
    """Add/Multiply/...: the AND of the inputs' masks; Concatenate: the inputs' masks (all
    true for an unmasked input) concatenated along the axis and ANDed over the last; Dot:
    none; Lambda(mask=) a callable's or a given mask. A masked LSTM after the Add consumes
    the AND (its last output is that of the last step both sequences keep)."""
    tf.reset_default_graph()
    a_ids = tf.keras.Input(shape=(6,), dtype=tf.int32)
    b_ids = tf.keras.Input(shape=(6,), dtype=tf.int32)
    ea = tf.keras.layers.Embedding(8, 3, mask_zero=True)(a_ids)
    eb = tf.keras.layers.Embedding(8, 3, mask_zero=True)(b_ids)
    plain = tf.keras.layers.Dense(3)(tf.keras.layers.Embedding(8, 3)(a_ids))   # no mask
    added = tf.keras.layers.Add()([ea, eb])
    mult = tf.keras.layers.multiply([ea, plain])
    cat_feat = tf.keras.layers.Concatenate()([ea, plain])            # along the features
    cat_time = tf.keras.layers.Concatenate(axis=1)([ea, eb])          # along time
    dot = tf.keras.layers.Dot(axes=(2, 2))([ea, eb])
    lam_fn = tf.keras.layers.Lambda(lambda x: x * 2.0,
                                    mask=lambda x, m: tf.logical_not(m))(ea)
    lam_t = tf.keras.layers.Lambda(lambda x: x + 0.0,
                                   mask=tf.constant(np.ones((4, 6), bool)))(ea)
    lam_none = tf.keras.layers.Lambda(lambda x: x * 1.0)(ea)   # a new tensor: no mask
    assert dot._keras_mask is None and lam_none._keras_mask is None
    assert tf.keras.layers.Add()([plain, plain])._keras_mask is None
    lstm = tf.keras.layers.LSTM(2)
    out = lstm(added)                                   # the mask the Add passed on
    ref = lstm(tf.identity(added), mask=tf.logical_and(ea._keras_mask, eb._keras_mask))
    unmasked = lstm(tf.identity(added))
    with pytest.raises(ValueError, match="should be a list"):
        tf.keras.layers.Add().compute_mask([ea, eb], ea._keras_mask)
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        feed = {a_ids: IDS, b_ids: IDS2}
        got = s.run([added._keras_mask, mult._keras_mask, cat_feat._keras_mask,
                     cat_time._keras_mask, lam_fn._keras_mask, lam_t._keras_mask], feed)
        ma, mb = IDS != 0, IDS2 != 0
        for g, want in zip(got, [ma & mb, ma, ma, np.concatenate([ma, mb], 1), ~ma,
                                 np.ones((4, 6), bool)]):
            np.testing.assert_array_equal(g, want)
        o, r, u = s.run([out, ref, unmasked], feed)
    np.testing.assert_allclose(o, r, rtol=1e-6)
    assert not np.allclose(o, u)                        # the mask changed the result


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_global_average_pooling_1d_averages_the_unmasked_steps(backend):
    """GlobalAveragePooling1D after a masking Embedding: the mean over the kept steps only
    (TF 1.15's), no output mask; without a mask the plain mean."""
    tf.reset_default_graph()
    tf.set_random_seed(3)
    ids = tf.keras.Input(shape=(6,), dtype=tf.int32)
    emb = tf.keras.layers.Embedding(8, 3, mask_zero=True)
    e = emb(ids)
    pooled = tf.keras.layers.GlobalAveragePooling1D()(e)
    plain = tf.keras.layers.GlobalAveragePooling1D()(e * 1.0)      # a new tensor: no mask
    assert pooled._keras_mask is None
    rows = IDS[:3]                                                   # every row keeps a step
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        w = s.run(emb.weights[0])
        got, mean = s.run([pooled, plain], {ids: rows})
    x, m = w[rows], (rows != 0)[..., None]
    x = x.astype(np.float64)           # float32 sums: an absolute bound for values near 0
    np.testing.assert_allclose(got, (x * m).sum(1) / m.sum(1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(mean, x.mean(1), rtol=1e-5, atol=1e-7)
