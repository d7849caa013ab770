"""ops/sparse.py + frontend/sparse_ops.py: tf.edit_distance against a full-matrix NumPy
Levenshtein (hypothesis; TF's empty-sequence rules), tf.sparse_tensor_to_dense, tf.cast of a
SparseTensor, and a CTC label-error-rate graph fed through tf.sparse_placeholder on llvm."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError


def lev(a, b):
    d = np.zeros((len(a) + 1, len(b) + 1), int)
    d[:, 0], d[0, :] = np.arange(len(a) + 1), np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    return d[-1, -1]


def to_sparse(seqs, width):
    idx = [(b, i) for b, s in enumerate(seqs) for i in range(len(s))]
    vals = [v for s in seqs for v in s]
    return (np.asarray(idx, np.int64).reshape(-1, 2), np.asarray(vals, np.int32),
            np.asarray([len(seqs), width], np.int64))


seqs = st.lists(st.lists(st.integers(0, 3), max_size=5), min_size=1, max_size=4)


@settings(max_examples=25, deadline=None)
@given(seqs, seqs, st.booleans())
def test_edit_distance_matches_levenshtein(hyp, truth, normalize):
    n = max(len(hyp), len(truth))
    hyp, truth = hyp + [[]] * (n - len(hyp)), truth + [[]] * (n - len(truth))
    tf.reset_default_graph()
    h, t = tf.sparse_placeholder(tf.int32), tf.sparse_placeholder(tf.int32)
    d = tf.edit_distance(h, t, normalize=normalize)
    with tf.Session(backend="reference") as s:
        got = s.run(d, {h: to_sparse(hyp, 6), t: to_sparse(truth, 6)})
    want = []
    for a, b in zip(hyp, truth):
        e = float(lev(a, b))
        if normalize:
            e = e / len(b) if b else (np.inf if a else 0.0)
        want.append(e)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_edit_distance_rank3_and_shape_mismatch():
    tf.reset_default_graph()
    h = tf.SparseTensor(np.array([[0, 0, 0], [1, 0, 1]], np.int64), np.array([1, 2], np.int32),
                        np.array([2, 1, 2], np.int64))
    t = tf.SparseTensor(np.array([[0, 0, 0], [0, 0, 1]], np.int64), np.array([1, 3], np.int32),
                        np.array([2, 1, 2], np.int64))
    with tf.Session(backend="reference") as s:
        got = s.run(tf.edit_distance(h, t, normalize=False))
        np.testing.assert_array_equal(got, [[1.0], [1.0]])
        bad = tf.SparseTensor(np.zeros((0, 2), np.int64), np.zeros(0, np.int32),
                              np.array([2, 2], np.int64))
        with pytest.raises(InvalidArgumentError, match="same rank"):
            s.run(tf.edit_distance(h, bad))


def test_sparse_tensor_to_dense_and_cast():
    """The sparse_to_dense op (tf.sparse_tensor_to_dense) after a cast of the values."""
    tf.reset_default_graph()
    sp = tf.SparseTensor(np.array([[0, 1], [2, 0]], np.int64), np.array([5, 7], np.int64),
                         np.array([3, 2], np.int64))
    dense = tf.sparse_tensor_to_dense(tf.cast(sp, tf.int32), default_value=-1)
    assert dense.dtype == tf.int32
    with tf.Session(backend="llvm") as s:
        np.testing.assert_array_equal(s.run(dense), [[-1, 5], [-1, -1], [7, -1]])
        oob = tf.SparseTensor(np.array([[3, 0]], np.int64), np.array([1.0], np.float32),
                              np.array([3, 2], np.int64))
        with pytest.raises(InvalidArgumentError, match="outside dense_shape"):
            s.run(tf.sparse_tensor_to_dense(oob))


def test_ctc_label_error_rate_graph_on_llvm():
    """The usual TF1 CTC evaluation: greedy decode, cast, edit_distance vs the targets."""
    rng = np.random.RandomState(0)
    xv = rng.randn(6, 2, 4).astype(np.float32)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, None, 4])
    targets = tf.sparse_placeholder(tf.int32)
    seq = tf.placeholder(tf.int32, [None])
    decoded, _ = tf.nn.ctc_greedy_decoder(x, seq)
    ler = tf.reduce_mean(tf.edit_distance(tf.cast(decoded[0], tf.int32), targets))
    dense = tf.sparse_tensor_to_dense(decoded[0], default_value=-1)
    truth = [[0, 1], [1]]
    with tf.Session(backend="llvm") as s:
        got, d = s.run([ler, dense], {x: xv, targets: to_sparse(truth, 2), seq: [6, 5]})
    hyp = []
    for b, n in enumerate([6, 5]):
        best = xv[:n, b].argmax(-1)
        merged = [k for i, k in enumerate(best) if i == 0 or k != best[i - 1]]
        hyp.append([int(k) for k in merged if k != 3])
    want = np.mean([lev(a, t) / len(t) for a, t in zip(hyp, truth)])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    for b, hseq in enumerate(hyp):
        assert list(d[b][:len(hseq)]) == hseq and all(v == -1 for v in d[b][len(hseq):])


def test_unknown_rank_placeholder_is_a_matrix_and_says_so():
    tf.reset_default_graph()
    h, t = tf.sparse_placeholder(tf.int32), tf.sparse_placeholder(tf.int32)
    d = tf.edit_distance(h, t)
    assert d.shape.as_list() == [None]
    rank3 = (np.array([[0, 0, 0]], np.int64), np.array([1], np.int32),
             np.array([1, 1, 1], np.int64))
    with tf.Session(backend="reference") as s:
        with pytest.raises(InvalidArgumentError, match="give the placeholder its shape"):
            s.run(d, {h: rank3, t: rank3})
    tf.reset_default_graph()
    h3, t3 = (tf.sparse_placeholder(tf.int32, shape=[None, None, None]) for _ in range(2))
    d3 = tf.edit_distance(h3, t3, normalize=False)
    with tf.Session(backend="reference") as s:
        np.testing.assert_array_equal(s.run(d3, {h3: rank3, t3: rank3}), [[0.0]])
