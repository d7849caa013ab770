"""ops/ctc.py + frontend/ctc_ops.py: tf.nn.ctc_loss (TF1 signature) against a brute-force
oracle (the sum over every frame-wise path that collapses to the label, for tiny T and C;
ctc_merge_repeated / preprocess_collapse_repeated / ignore_longer_outputs_than_inputs),
gradients against central differences of the oracle (scaled by the loss's incoming
gradient), time_major=False, the op on the host between llvm segments, a training run, and
tf.nn.ctc_greedy_decoder against an independent NumPy decoder."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError


def collapse(path, blank, merge):
    if merge:
        path = [k for k, _ in itertools.groupby(path)]
    return tuple(k for k in path if k != blank)


def oracle_loss(x, label, n, merge=True, preprocess=False):
    """-log sum over all paths of length n (classes C, blank C - 1) collapsing to label."""
    x = np.asarray(x[:n], np.float64)
    C = x.shape[-1]
    p = np.exp(x - x.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    if preprocess:
        label = [k for k, _ in itertools.groupby(label)]
    total = 0.0
    for path in itertools.product(range(C), repeat=n):
        if collapse(path, C - 1, merge) == tuple(label):
            total += np.prod(p[np.arange(n), path])
    return -np.log(total) if total > 0 else np.inf


def sparse(labels):
    idx = [(b, i) for b, lab in enumerate(labels) for i in range(len(lab))]
    vals = [c for lab in labels for c in lab]
    longest = max([len(lab) for lab in labels] + [1])
    return tf.SparseTensor(np.asarray(idx, np.int64).reshape(-1, 2),
                           np.asarray(vals, np.int32), np.asarray([len(labels), longest],
                                                                 np.int64))


def need(label, merge):
    return len(label) + (sum(a == b for a, b in zip(label, label[1:])) if merge else 0)


@st.composite
def ctc_cases(draw):
    T, B, C = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(2, 4))
    labels = [draw(st.lists(st.integers(0, C - 2), max_size=3)) for _ in range(B)]
    seq = [draw(st.integers(0, T)) for _ in range(B)]
    flags = draw(st.tuples(st.booleans(), st.booleans()))
    return T, B, C, labels, seq, flags, draw(st.integers(0, 2 ** 16))


@settings(max_examples=30, deadline=None)
@given(ctc_cases())
def test_loss_matches_brute_force(case):
    T, B, C, labels, seq, (merge, preprocess), seed = case
    xv = np.random.RandomState(seed).randn(T, B, C).astype(np.float32)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [T, B, C])
    loss = tf.nn.ctc_loss(sparse(labels), x, seq, preprocess_collapse_repeated=preprocess,
                          ctc_merge_repeated=merge, ignore_longer_outputs_than_inputs=True)
    grad = tf.gradients(tf.reduce_sum(loss), x)[0]
    with tf.Session(backend="reference") as s:
        got, g = s.run([loss, grad], {x: xv})
    for b in range(B):
        lab = [k for k, _ in itertools.groupby(labels[b])] if preprocess else labels[b]
        if need(lab, merge) > seq[b]:            # ignored: loss 0, grad 0
            assert got[b] == 0 and not np.any(g[:, b])
            continue
        want = oracle_loss(xv[:, b], labels[b], seq[b], merge, preprocess)
        np.testing.assert_allclose(got[b], want, rtol=1e-5, atol=1e-5)
        assert not np.any(g[seq[b]:, b])         # frames past the sequence length


def test_merge_repeated_variants_differ_as_tf():
    """Label [0, 0]: with merging the paths need a blank between the two 0s; without, each
    emitted 0 frame is a label (so '0 0' over two frames is the label itself)."""
    xv = np.random.RandomState(1).randn(4, 1, 3).astype(np.float32)
    tf.reset_default_graph()
    x = tf.constant(xv)
    outs = [tf.nn.ctc_loss(sparse([[0, 0]]), x, [4], ctc_merge_repeated=m,
                           preprocess_collapse_repeated=p) for m in (True, False)
            for p in (False, True)]
    with tf.Session(backend="reference") as s:
        got = [v[0] for v in s.run(outs)]
    want = [oracle_loss(xv[:, 0], [0, 0], 4, m, p) for m in (True, False) for p in (False, True)]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert len({round(float(v), 4) for v in got}) == 4


def test_gradient_vs_finite_differences():
    rng = np.random.RandomState(2)
    T, B, C = 5, 2, 4
    xv = rng.randn(T, B, C)
    w = rng.rand(B) + 0.5
    labels, seq = [[1, 2], [0, 0]], [5, 4]
    tf.reset_default_graph()
    x = tf.placeholder(tf.float64, [T, B, C])
    total = tf.reduce_sum(tf.nn.ctc_loss(sparse(labels), x, seq) * tf.constant(w))
    with tf.Session(backend="reference") as s:
        g = s.run(tf.gradients(total, x)[0], {x: xv})

    def f(a):
        return sum(w[b] * oracle_loss(a[:, b], labels[b], seq[b]) for b in range(B))
    num = np.zeros_like(xv)
    eps = 1e-6
    for j in range(xv.size):
        hi, lo = xv.copy(), xv.copy()
        hi.flat[j] += eps
        lo.flat[j] -= eps
        num.flat[j] = (f(hi) - f(lo)) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


def test_time_major_false_and_logits_alias():
    xv = np.random.RandomState(3).randn(2, 4, 3).astype(np.float32)     # [B, T, C]
    tf.reset_default_graph()
    x = tf.constant(xv)
    a = tf.nn.ctc_loss(sparse([[1], [0, 1]]), x, [4, 3], time_major=False)
    b = tf.nn.ctc_loss(sparse([[1], [0, 1]]), logits=tf.transpose(x, [1, 0, 2]),
                       sequence_length=[4, 3])
    with tf.Session(backend="reference") as s:
        va, vb = s.run([a, b])
    np.testing.assert_allclose(va, vb, rtol=1e-6)
    np.testing.assert_allclose(va, [oracle_loss(xv[0], [1], 4), oracle_loss(xv[1], [0, 1], 3)],
                               rtol=1e-5)


def test_errors():
    tf.reset_default_graph()
    x = tf.constant(np.zeros((2, 1, 3), np.float32))
    with tf.Session(backend="reference") as s:
        with pytest.raises(InvalidArgumentError, match="Not enough time"):
            s.run(tf.nn.ctc_loss(sparse([[0, 0]]), x, [2]))       # needs 3 frames
        with pytest.raises(InvalidArgumentError, match="outside"):
            s.run(tf.nn.ctc_loss(sparse([[2]]), x, [2]))          # 2 is the blank
    with pytest.raises(TypeError, match="SparseTensor"):
        tf.nn.ctc_loss(np.array([[0]]), x, [2])


def _net(T, B, C, D):
    x = tf.placeholder(tf.float32, [B, T, D])
    w = tf.Variable(np.random.RandomState(4).randn(D, C).astype(np.float32) * 0.1)
    logits = tf.reshape(tf.matmul(tf.reshape(x, [-1, D]), w), [B, T, C])
    return x, w, logits


def test_session_on_llvm_places_op_on_host():
    T, B, C, D = 6, 3, 4, 5
    tf.reset_default_graph()
    x, w, logits = _net(T, B, C, D)
    loss = tf.reduce_mean(tf.nn.ctc_loss(sparse([[0, 1], [2], [1, 1]]), logits, [6, 5, 4],
                                         time_major=False))
    g = tf.gradients(loss, w)[0]
    xv = np.random.RandomState(5).randn(B, T, D).astype(np.float32)
    res = {}
    for be in ("reference", "llvm"):
        with tf.Session(backend=be) as s:
            s.run(tf.global_variables_initializer())
            res[be] = s.run([loss, g], {x: xv})
    np.testing.assert_allclose(res["llvm"][0], res["reference"][0], rtol=1e-5)
    np.testing.assert_allclose(res["llvm"][1], res["reference"][1], rtol=1e-4, atol=1e-6)


def test_training_reduces_loss_and_greedy_decodes_labels():
    T, B, C, D = 8, 3, 5, 6
    labels = [[0, 1, 2], [3, 3], [2, 0]]
    tf.reset_default_graph()
    x, w, logits = _net(T, B, C, D)
    loss = tf.reduce_mean(tf.nn.ctc_loss(sparse(labels), logits, [T] * B, time_major=False))
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    (dec,), _ = tf.nn.ctc_greedy_decoder(tf.transpose(logits, [1, 0, 2]), [T] * B)
    xv = np.random.RandomState(6).randn(B, T, D).astype(np.float32)
    with tf.Session(backend="llvm") as s:
        s.run(tf.global_variables_initializer())
        first = s.run(loss, {x: xv})
        for _ in range(150):
            s.run(train, {x: xv})
        last, d = s.run([loss, dec], {x: xv})
    assert last < 0.2 * first, (first, last)
    got = [[int(v) for (b, _), v in zip(d.indices, d.values) if b == i] for i in range(B)]
    assert got == labels


def np_greedy(x, seq, merge):
    out, scores = [], []
    for b in range(x.shape[1]):
        best = x[:seq[b], b].argmax(-1)
        out.append(list(collapse(list(best), x.shape[-1] - 1, merge)))
        scores.append(-x[:seq[b], b].max(-1).sum())
    return out, np.asarray(scores)[:, None]


@pytest.mark.parametrize("merge", [True, False])
def test_greedy_decoder(merge):
    """The ctc_greedy_decode op (tf.nn.ctc_greedy_decoder) against a NumPy decoder."""
    rng = np.random.RandomState(7)
    xv = rng.randn(7, 3, 3).astype(np.float32)
    seq = [7, 4, 0]
    tf.reset_default_graph()
    (dec,), score = tf.nn.ctc_greedy_decoder(tf.constant(xv), seq, merge_repeated=merge)
    with tf.Session(backend="reference") as s:
        d, sc = s.run([dec, score])
    want, want_sc = np_greedy(xv, seq, merge)
    got = [[int(v) for (b, _), v in zip(d.indices, d.values) if b == i] for i in range(3)]
    assert got == want
    assert list(d.dense_shape) == [3, max(len(v) for v in want)]
    np.testing.assert_allclose(sc, want_sc, rtol=1e-6)


def test_sparse_placeholder_feeds():
    """tf.sparse_placeholder fed a (indices, values, dense_shape) tuple or a
    SparseTensorValue, on llvm, equals the oracle; a bad feed says what it needs."""
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, None, 3])
    lab = tf.sparse_placeholder(tf.int32)
    seq = tf.placeholder(tf.int32, [None])
    loss = tf.nn.ctc_loss(lab, x, seq)
    xv = np.random.RandomState(8).randn(4, 2, 3).astype(np.float32)
    val = (np.array([[0, 0], [0, 1], [1, 0]]), np.array([0, 1, 1]), np.array([2, 2]))
    want = [oracle_loss(xv[:, 0], [0, 1], 4), oracle_loss(xv[:, 1], [1], 3)]
    with tf.Session(backend="llvm") as s:
        for v in (val, tf.SparseTensorValue(*val)):
            np.testing.assert_allclose(s.run(loss, {x: xv, lab: v, seq: [4, 3]}), want,
                                       rtol=1e-5)
        with pytest.raises(TypeError, match="SparseTensorValue"):
            s.run(loss, {x: xv, lab: np.zeros(3), seq: [4, 3]})


def test_keras_lstm_with_ctc_trains_on_llvm():
    """The usual TF1 speech graph: features -> keras LSTM -> Dense -> ctc_loss(time_major=False)
    fed through a sparse_placeholder; the mean loss falls."""
    rng = np.random.RandomState(9)
    B, T, D, C = 4, 7, 3, 4
    xv = rng.randn(B, T, D).astype(np.float32)
    labels = [[0, 1], [2], [1, 1], [0, 2, 1]]
    idx, vals, shape = (np.asarray([(b, i) for b, lab in enumerate(labels)
                                    for i in range(len(lab))], np.int64),
                        np.asarray([c for lab in labels for c in lab], np.int32),
                        np.asarray([B, 3], np.int64))
    tf.reset_default_graph()
    tf.set_random_seed(1)
    x = tf.placeholder(tf.float32, [None, None, D])
    targets = tf.sparse_placeholder(tf.int32)
    seq = tf.placeholder(tf.int32, [None])
    h = tf.keras.layers.LSTM(16, return_sequences=True)(x)
    logits = tf.keras.layers.Dense(C)(h)
    loss = tf.reduce_mean(tf.nn.ctc_loss(targets, logits, seq, time_major=False))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    feed = {x: xv, targets: (idx, vals, shape), seq: [T] * B}
    with tf.Session(backend="llvm") as s:
        s.run(tf.global_variables_initializer())
        first = s.run(loss, feed)
        for _ in range(80):
            s.run(train, feed)
        last = s.run(loss, feed)
    assert last < 0.3 * first, (first, last)
