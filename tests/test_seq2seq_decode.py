"""tf.contrib.seq2seq decoding: BasicDecoder + TrainingHelper / GreedyEmbeddingHelper under
dynamic_decode, against NumPy transcriptions of TF 1.15's loop with the session's weights;
and a tiny encoder-decoder trained with sequence_loss on llvm."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf

s2s = tf.contrib.seq2seq
B, T, D, H, V = 3, 5, 4, 6, 7


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_lstm(x, c, h, k, b):
    """BasicLSTMCell (forget_bias 1): gates i, j, f, o of [x, h] @ kernel + bias."""
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ k + b, 4, axis=1)
    c2 = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    return np.tanh(c2) * sigmoid(o), c2


def np_rnn(x, h, k, b):
    return np.tanh(np.concatenate([x, h], 1) @ k + b)


def np_training_decode(x, lens, k, b, dk, db, impute, max_iter=None):
    """TF 1.15 dynamic_decode with a TrainingHelper over an LSTM + Dense decoder."""
    n = x.shape[0]
    c, h = np.zeros((n, H)), np.zeros((n, H))
    finished = lens == 0
    if max_iter is not None:
        finished |= max_iter <= 0
    lengths = np.zeros(n, np.int32)
    inp = x[:, 0] if not finished.all() else np.zeros_like(x[:, 0])
    outs, ids, t = [], [], 0
    while not finished.all():
        h2, c2 = np_lstm(inp, c, h, k, b)
        logits = h2 @ dk + db
        sid = logits.argmax(-1)
        dec_fin = t + 1 >= lens
        nxt_fin = dec_fin | finished
        lengths = np.where(~finished, t + 1, lengths)
        if max_iter is not None:
            nxt_fin |= t + 1 >= max_iter
        if impute:
            logits = np.where(finished[:, None], 0.0, logits)
            sid = np.where(finished, 0, sid)
            h2 = np.where(finished[:, None], h, h2)
            c2 = np.where(finished[:, None], c, c2)
        outs.append(logits)
        ids.append(sid)
        c, h, finished = c2, h2, nxt_fin
        inp = x[:, min(t + 1, x.shape[1] - 1)] if not dec_fin.all() else np.zeros_like(inp)
        t += 1
    if not outs:
        return np.zeros((n, 0, V)), np.zeros((n, 0), np.int64), (c, h), lengths
    return np.stack(outs, 1), np.stack(ids, 1), (c, h), lengths


def build_training(impute, max_iter=None, time_major=False):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [B, T, D], name="x")
    lens = tf.placeholder(tf.int32, [B], name="lens")
    cell = tf.nn.rnn_cell.BasicLSTMCell(H)
    inp = tf.transpose(x, [1, 0, 2]) if time_major else x
    helper = s2s.TrainingHelper(inp, lens, time_major=time_major)
    dec = s2s.BasicDecoder(cell, helper, cell.zero_state(B, tf.float32),
                           output_layer=tf.layers.Dense(V))
    res = s2s.dynamic_decode(dec, impute_finished=impute, maximum_iterations=max_iter,
                             output_time_major=time_major)
    return x, lens, dec, res


def weights(sess):
    names = ["decoder/basic_lstm_cell/kernel", "decoder/basic_lstm_cell/bias",
             "decoder/dense/kernel", "decoder/dense/bias"]
    by = {v.op.name: v for v in tf.global_variables()}
    rng = np.random.RandomState(3)
    for n in names:                 # nonzero biases, so imputed zeros differ from outputs
        v = by[n]
        v.load(rng.uniform(-0.8, 0.8, v.shape.as_list()).astype(np.float32), sess)
    return [sess.run(by[n]) for n in names]


def test_names_sizes_and_dtypes():
    _, _, dec, (out, st, lengths) = build_training(False)
    assert [v.op.name for v in tf.global_variables()] == [
        "decoder/basic_lstm_cell/kernel", "decoder/basic_lstm_cell/bias",
        "decoder/dense/kernel", "decoder/dense/bias"]
    assert dec.output_size.rnn_output == V
    assert dec.output_size.sample_id.as_list() == []
    assert dec.output_dtype == s2s.BasicDecoderOutput(tf.float32, tf.int32)
    assert isinstance(out, s2s.BasicDecoderOutput)
    assert out.rnn_output.shape.as_list() == [B, None, V]
    assert out.sample_id.dtype == tf.int32 and lengths.dtype == tf.int32
    assert isinstance(st, tf.nn.rnn_cell.LSTMStateTuple)


@pytest.mark.parametrize("impute,max_iter,time_major,backend", [
    (False, None, False, "llvm"), (True, None, False, "llvm"), (True, 3, True, "llvm"),
    (False, 0, False, "llvm"), (True, 4, False, "reference")])
def test_training_decode_matches_numpy(impute, max_iter, time_major, backend):
    x, lens, _, (out, st, lengths) = build_training(impute, max_iter, time_major)
    xv = np.random.RandomState(0).randn(B, T, D).astype(np.float32)
    lv = np.array([4, 2, 5], np.int32)
    with tf.Session(backend=backend) as sess:
        sess.run(tf.global_variables_initializer())
        w = weights(sess)
        o, s, n = sess.run([out, st, lengths], {x: xv, lens: lv})
    logits, ids, (c, h), ln = np_training_decode(xv, lv, *w, impute, max_iter)
    rnn_out, sid = o.rnn_output, o.sample_id
    if time_major:
        rnn_out, sid = rnn_out.transpose(1, 0, 2), sid.T
    assert rnn_out.shape == logits.shape
    np.testing.assert_array_equal(n, ln)
    np.testing.assert_allclose(rnn_out, logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(sid, ids)
    np.testing.assert_allclose(s.c, c, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.h, h, rtol=1e-4, atol=1e-5)


def np_greedy(emb, start, end, k, b, dk, db, max_iter):
    n = len(start)
    h = np.zeros((n, H))
    inp = emb[start]
    finished = np.zeros(n, bool)
    lengths = np.zeros(n, np.int32)
    outs, ids, t = [], [], 0
    while not finished.all():
        h = np_rnn(inp, h, k, b)
        logits = h @ dk + db
        sid = logits.argmax(-1)
        lengths = np.where(~finished, t + 1, lengths)
        finished = finished | (sid == end) | (t + 1 >= max_iter)
        outs.append(logits)
        ids.append(sid)
        inp = emb[sid]
        t += 1
    return np.stack(outs, 1), np.stack(ids, 1), h, lengths


@pytest.mark.parametrize("fn_embedding", [False, True])
def test_greedy_embedding_stops_at_end_token(fn_embedding):
    tf.reset_default_graph()
    n, end, max_iter = 6, 2, 9
    emb = tf.get_variable("embedding", [V, D])
    start = tf.placeholder(tf.int32, [n], name="start")
    cell = tf.nn.rnn_cell.BasicRNNCell(H)
    e = (lambda ids: tf.nn.embedding_lookup(emb, ids)) if fn_embedding else emb
    helper = s2s.GreedyEmbeddingHelper(e, start, end)
    dec = s2s.BasicDecoder(cell, helper, cell.zero_state(n, tf.float32),
                           output_layer=tf.layers.Dense(V))
    out, st, lengths = s2s.dynamic_decode(dec, maximum_iterations=max_iter)
    assert sorted(v.op.name for v in tf.global_variables()) == [
        "decoder/basic_rnn_cell/bias", "decoder/basic_rnn_cell/kernel",
        "decoder/dense/bias", "decoder/dense/kernel", "embedding"]
    sv = np.array([0, 1, 3, 4, 5, 6], np.int32)
    rng = np.random.RandomState(8)     # weights where some sequences stop early (asserted)
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        by = {v.op.name: v for v in tf.global_variables()}
        for v in by.values():
            v.load(rng.uniform(-1.5, 1.5, v.shape.as_list()).astype(np.float32), sess)
        w = [sess.run(by[k]) for k in ("embedding", "decoder/basic_rnn_cell/kernel",
                                       "decoder/basic_rnn_cell/bias", "decoder/dense/kernel",
                                       "decoder/dense/bias")]
        o, s, ln = sess.run([out, st, lengths], {start: sv})
    logits, ids, h, ref_len = np_greedy(w[0], sv, end, *w[1:], max_iter)
    # the case is only a test of stopping if some sequences end early and others do not
    assert ref_len.min() < ref_len.max(), ref_len
    np.testing.assert_array_equal(ln, ref_len)
    np.testing.assert_array_equal(o.sample_id, ids)
    for i in range(n):          # each sequence's last sample is end_token unless cut off
        assert ids[i, ref_len[i] - 1] == end or ref_len[i] == max_iter
    np.testing.assert_allclose(o.rnn_output, logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s, h, rtol=1e-4, atol=1e-5)


def test_sample_embedding_helper_runs_within_vocab():
    tf.reset_default_graph()
    emb = tf.get_variable("embedding", [V, D])
    cell = tf.nn.rnn_cell.GRUCell(H)
    helper = s2s.SampleEmbeddingHelper(emb, tf.zeros([4], tf.int32), 1, seed=5)
    dec = s2s.BasicDecoder(cell, helper, cell.zero_state(4, tf.float32), tf.layers.Dense(V))
    out, _, lengths = s2s.dynamic_decode(dec, maximum_iterations=6)
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        ids, ln = sess.run([out.sample_id, lengths])
    assert ids.shape[0] == 4 and 1 <= ids.shape[1] <= 6
    assert ids.min() >= 0 and ids.max() < V
    for i in range(4):      # a sequence ends at its first end_token (id 1) or at the cap
        first = list(ids[i]).index(1) + 1 if 1 in ids[i] else 6
        assert ln[i] == first


def test_errors_say_what_was_given():
    tf.reset_default_graph()
    cell = tf.nn.rnn_cell.BasicRNNCell(H)
    x = tf.zeros([B, T, D])
    with pytest.raises(TypeError, match="helper must be a Helper"):
        s2s.BasicDecoder(cell, object(), cell.zero_state(B, tf.float32))
    with pytest.raises(TypeError, match="cell must be an RNNCell"):
        s2s.BasicDecoder("cell", s2s.TrainingHelper(x, [T] * B), None)
    with pytest.raises(ValueError, match="sequence_length to be a vector"):
        s2s.TrainingHelper(x, 3)
    with pytest.raises(TypeError, match="Expected decoder to be type Decoder"):
        s2s.dynamic_decode(cell)


def test_tiny_seq2seq_trains_on_llvm():
    """Copy task: an encoder LSTM reads the source, the decoder (TrainingHelper, teacher
    forcing with a GO token) must emit it; sequence_loss with the length mask falls."""
    tf.reset_default_graph()
    rng = np.random.RandomState(0)
    n, S, vocab, go = 8, 4, 6, 0
    src = rng.randint(1, vocab, (n, S)).astype(np.int32)
    tgt_len = rng.randint(2, S + 1, n).astype(np.int32)
    tgt_len[0] = S               # the decoded length is the longest target
    dec_in = np.concatenate([np.full((n, 1), go, np.int32), src[:, :-1]], 1)
    src_t, dec_t = tf.constant(src), tf.constant(dec_in)
    emb = tf.get_variable("embedding", [vocab, 8])
    with tf.variable_scope("encoder"):
        enc_cell = tf.nn.rnn_cell.BasicLSTMCell(16)
        _, enc_state = tf.nn.dynamic_rnn(enc_cell, tf.nn.embedding_lookup(emb, src_t),
                                         dtype=tf.float32)
    cell = tf.nn.rnn_cell.BasicLSTMCell(16)
    helper = s2s.TrainingHelper(tf.nn.embedding_lookup(emb, dec_t), tgt_len)
    dec = s2s.BasicDecoder(cell, helper, enc_state, output_layer=tf.layers.Dense(vocab))
    out, _, lengths = s2s.dynamic_decode(dec, impute_finished=True)
    mask = tf.sequence_mask(lengths, S, dtype=tf.float32)
    loss = s2s.sequence_loss(out.rnn_output, src_t, mask)
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss)
        for _ in range(60):
            sess.run(train)
        last, ln = sess.run([loss, lengths])
    np.testing.assert_array_equal(ln, tgt_len)
    assert first > 1.0 and last < 0.5 * first, (first, last)


def test_custom_and_inference_helpers_match_their_builtin_twins():
    """A CustomHelper written as TF's TrainingHelper, and an InferenceHelper written as
    GreedyEmbeddingHelper, decode the same values as the built-in helpers."""
    tf.reset_default_graph()
    n, end = 4, 2
    x = tf.constant(np.random.RandomState(2).randn(n, T, D).astype(np.float32))
    lens = tf.constant([5, 1, 3, 2])
    emb = tf.get_variable("embedding", [V, D])
    cell = tf.nn.rnn_cell.BasicRNNCell(H)
    proj = tf.layers.Dense(V)
    zero = cell.zero_state(n, tf.float32)
    xt = tf.transpose(x, [1, 0, 2])

    def init_fn():
        return tf.equal(lens, 0), xt[0]

    def next_fn(time, outputs, state, sample_ids):
        fin = tf.greater_equal(time + 1, lens)
        return fin, tf.gather(xt, tf.minimum(time + 1, T - 1)), state

    def argmax_fn(time, outputs, state):
        return tf.cast(tf.argmax(outputs, -1), tf.int32)

    runs = []
    with tf.variable_scope("dec", reuse=tf.AUTO_REUSE) as sc:
        for helper in (s2s.TrainingHelper(x, lens),
                       s2s.CustomHelper(init_fn, argmax_fn, next_fn),
                       s2s.GreedyEmbeddingHelper(emb, tf.zeros([n], tf.int32), end),
                       s2s.InferenceHelper(lambda o: tf.cast(tf.argmax(o, -1), tf.int32), [],
                                           tf.int32, tf.nn.embedding_lookup(emb, tf.zeros(
                                               [n], tf.int32)), lambda ids: tf.equal(ids, end),
                                           lambda ids: tf.nn.embedding_lookup(emb, ids))):
            out, _, ln = s2s.dynamic_decode(s2s.BasicDecoder(cell, helper, zero, proj),
                                            maximum_iterations=6, scope=sc)
            runs.append((out.rnn_output, out.sample_id, ln))
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        vals = sess.run(runs)
    np.testing.assert_array_equal(vals[0][2], [5, 1, 3, 2])
    for a, b in ((0, 1), (2, 3)):
        for u, v in zip(vals[a], vals[b]):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("prob", [0.0, 1.0])
def test_scheduled_embedding_training_helper(prob):
    """p = 0 feeds the true inputs (ids -1); p = 1 feeds the embedding of the sampled id,
    which a dominant output bias makes class k: checked against a NumPy loop."""
    tf.reset_default_graph()
    n, k = 3, 4
    xv = np.random.RandomState(4).randn(n, T, D).astype(np.float32)
    lv = np.array([5, 2, 4], np.int32)
    emb = tf.get_variable("embedding", [V, D])
    cell = tf.nn.rnn_cell.BasicRNNCell(H)
    helper = s2s.ScheduledEmbeddingTrainingHelper(tf.constant(xv), lv, emb, prob, seed=1,
                                                  scheduling_seed=2)
    dec = s2s.BasicDecoder(cell, helper, cell.zero_state(n, tf.float32), tf.layers.Dense(V))
    out, _, ln = s2s.dynamic_decode(dec)
    by = {v.op.name: v for v in tf.global_variables()}
    rng = np.random.RandomState(5)
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        for v in by.values():
            val = rng.uniform(-0.5, 0.5, v.shape.as_list()).astype(np.float32)
            if v.op.name == "decoder/dense/bias":
                val[k] = 60.0
            v.load(val, sess)
        w = {name: sess.run(v) for name, v in by.items()}
        o, ids, lens = sess.run([out.rnn_output, out.sample_id, ln])
    np.testing.assert_array_equal(lens, lv)
    np.testing.assert_array_equal(ids, np.full((n, 5), -1 if prob == 0 else k))
    h, inp, ref = np.zeros((n, H)), xv[:, 0], []
    for t in range(5):
        h = np_rnn(inp, h, w["decoder/basic_rnn_cell/kernel"], w["decoder/basic_rnn_cell/bias"])
        ref.append(h @ w["decoder/dense/kernel"] + w["decoder/dense/bias"])
        inp = xv[:, min(t + 1, T - 1)] if prob == 0 else np.repeat(w["embedding"][k:k + 1], n, 0)
    np.testing.assert_allclose(o, np.stack(ref, 1), rtol=1e-4, atol=1e-4)


def test_decoder_gradients_match_finite_differences():
    """d/dW of sum(rnn_output * R) + sum(final h) through the decode loop (impute_finished,
    varying lengths) and into the inputs, against central differences of the forward."""
    x, lens, _, (out, st, _) = build_training(True)
    r = tf.constant(np.random.RandomState(9).randn(B, T, V).astype(np.float32))
    loss = tf.reduce_sum(out.rnn_output * r) + tf.reduce_sum(st.h)
    kernel = [v for v in tf.global_variables() if v.op.name.endswith("lstm_cell/kernel")][0]
    gk, gx = tf.gradients(loss, [kernel, x])
    xv = np.random.RandomState(0).randn(B, T, D).astype(np.float32)
    feed = {x: xv, lens: np.array([4, 2, 5], np.int32)}
    picks = [(0, 0), (3, 5), (7, 11), (9, 23), (2, 17)]
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        weights(sess)
        k0 = sess.run(kernel)
        g_k, g_x = sess.run([gk, gx], feed)
        eps = 1e-2
        for i, j in picks:
            vals = []
            for sgn in (1, -1):
                k = k0.copy()
                k[i, j] += sgn * eps
                kernel.load(k, sess)
                vals.append(float(sess.run(loss, feed)))
            np.testing.assert_allclose(g_k[i, j], (vals[0] - vals[1]) / (2 * eps),
                                       rtol=2e-2, atol=2e-3)
        kernel.load(k0, sess)
        for b, t, d in [(0, 0, 1), (1, 1, 2), (1, 3, 0), (2, 4, 3)]:
            vals = []
            for sgn in (1, -1):
                xp = xv.copy()
                xp[b, t, d] += sgn * eps
                vals.append(float(sess.run(loss, {x: xp, lens: feed[lens]})))
            np.testing.assert_allclose(g_x[b, t, d], (vals[0] - vals[1]) / (2 * eps),
                                       rtol=2e-2, atol=2e-3)
    assert np.abs(g_x[1, 2:]).max() == 0.0      # past length 2 an input is never read
