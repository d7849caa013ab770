"""ops/ctc_beam.py + frontend/ctc_ops.py: tf.nn.ctc_beam_search_decoder (the
ctc_beam_search_decode op) and ctc_beam_search_decoder_v2.

A wide beam against a brute-force oracle (every frame-wise path over the softmax, collapsed
and summed per labeling, for tiny T and C): the top-k labelings and their log-probabilities;
a narrow beam gives lower bounds and, at width 1, an independent single-prefix search; TF's
own test vector for a width-2 beam; per-example sequence lengths; the outputs' shapes and
order; TF's merge_repeated quirk; TF's errors; the op on the host inside an llvm graph; and
agreement with tf.nn.ctc_loss, on random logits and on a tiny trained model."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.errors import FailedPreconditionError, InvalidArgumentError


def log_softmax(x):
    x = np.asarray(x, np.float64)
    z = x - x.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def brute_force(x, n):
    """{labeling: log P(labeling)} over all n-frame paths of x [T, C] (blank C - 1)."""
    lp = log_softmax(x[:n])
    C = x.shape[-1]
    probs: dict = {}
    for path in itertools.product(range(C), repeat=n):
        lab = tuple(k for k, _ in itertools.groupby(path) if k != C - 1)
        probs[lab] = probs.get(lab, 0.0) + math.exp(sum(lp[t, k] for t, k in enumerate(path)))
    return {k: math.log(v) for k, v in probs.items() if v > 0}


def merged(lab):
    return tuple(k for k, _ in itertools.groupby(lab))


def rows(sp, batch):
    """A SparseTensorValue's rows as lists, checking TF's layout: (b, 0..len-1) in order."""
    out = [[] for _ in range(batch)]
    for (b, i), v in zip(sp.indices.tolist(), sp.values.tolist()):
        assert i == len(out[b])
        out[b].append(v)
    assert sp.indices.tolist() == sorted(sp.indices.tolist())
    assert sp.indices.dtype == np.int64 and sp.values.dtype == np.int64
    assert sp.dense_shape.tolist() == [batch, max(len(r) for r in out)]
    return [tuple(r) for r in out]


def decode(xv, seq, backend="reference", **kw):
    tf.reset_default_graph()
    fn = kw.pop("fn", tf.nn.ctc_beam_search_decoder)
    dec, lp = fn(tf.constant(xv), seq, **kw)
    with tf.Session(backend=backend) as s:
        d, p = s.run([dec, lp])
    return [rows(sp, xv.shape[1]) for sp in d], p


@st.composite
def cases(draw):
    T, B, C = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(2, 4))
    seq = [draw(st.integers(0, T)) for _ in range(B)]
    return T, B, C, seq, draw(st.integers(1, 4)), draw(st.integers(0, 2 ** 16))


@settings(max_examples=25, deadline=None)
@given(cases())
def test_wide_beam_is_the_brute_force_top_k(case):
    """A beam holding every prefix (width 400 > the 364 prefixes of T = 5, C = 4) is exact:
    the v2 decoder's top k labelings are the brute-force top k with their log-probabilities;
    v1 (merge_repeated=True) returns the same beams with repeats collapsed."""
    T, B, C, seq, k, seed = case
    xv = np.random.RandomState(seed).randn(T, B, C).astype(np.float32)
    want = [brute_force(xv[:, b], seq[b]) for b in range(B)]
    k = min([k] + [len(w) for w in want])
    got, lp = decode(xv, seq, fn=tf.nn.ctc_beam_search_decoder_v2, beam_width=400, top_paths=k)
    assert lp.shape == (B, k) and lp.dtype == np.float32
    for b in range(B):
        top = sorted(want[b].values(), reverse=True)[:k]
        np.testing.assert_allclose(lp[b], top, rtol=1e-5, atol=1e-6)
        for j in range(k):
            np.testing.assert_allclose(lp[b, j], want[b][got[j][b]], rtol=1e-5, atol=1e-6)
        assert len({got[j][b] for j in range(k)}) == k
    got1, lp1 = decode(xv, seq, beam_width=400, top_paths=k)
    np.testing.assert_allclose(lp1, lp, rtol=1e-6)
    assert got1 == [[merged(lab) for lab in g] for g in got]


@settings(max_examples=20, deadline=None)
@given(cases(), st.integers(1, 3))
def test_narrow_beam_gives_lower_bounds_best_first(case, width):
    """A pruned beam loses alignments, never adds any: each beam's log-probability is at most
    its labeling's brute-force value, and the beams come best first."""
    T, B, C, seq, _, seed = case
    xv = np.random.RandomState(seed).randn(T, B, C).astype(np.float32)
    want = [brute_force(xv[:, b], seq[b]) for b in range(B)]
    k = min([width] + [len(w) for w in want])
    got, lp = decode(xv, seq, fn=tf.nn.ctc_beam_search_decoder_v2, beam_width=width,
                     top_paths=k)
    for b in range(B):
        assert np.all(np.diff(lp[b]) <= 0)
        for j in range(k):
            assert lp[b, j] <= want[b][got[j][b]] + 1e-5


def single_prefix_search(x, n):
    """beam_width=1 written out: keep one prefix; each frame, keep it (blank or its own last
    label) unless one more label scores strictly higher (the first such label wins); a new
    prefix starts with no blank-ending mass and, its parent gone, continues alone."""
    lp = log_softmax(x[:n])
    blank = x.shape[-1] - 1
    prefix, pb, pl = (), 0.0, -np.inf
    for t in range(n):
        tot = np.logaddexp(pb, pl)
        last = prefix[-1] if prefix else None
        sb, sl = tot + lp[t, blank], (pl + lp[t, last] if prefix else -np.inf)
        best, pick = np.logaddexp(sb, sl), None
        for c in range(blank):
            ext = (pb if c == last else tot) + lp[t, c]
            if ext > best:
                best, pick = ext, c
        if pick is None:
            pb, pl = sb, sl
        else:
            prefix, pb, pl = prefix + (pick,), -np.inf, best
    return prefix, float(np.logaddexp(pb, pl))


@pytest.mark.parametrize("seed", range(4))
def test_beam_width_one_is_a_single_prefix_search(seed):
    rng = np.random.RandomState(seed)
    xv = (rng.randn(7, 3, 4) * 2).astype(np.float32)
    seq = [7, 5, 2]
    for merge in (False, True):
        (got,), lp = decode(xv, seq, beam_width=1, merge_repeated=merge)
        for b in range(3):
            prefix, want = single_prefix_search(xv[:, b], seq[b])
            assert got[b] == (merged(prefix) if merge else prefix)
            np.testing.assert_allclose(lp[b, 0], want, rtol=1e-5)


def test_graves_example_width_one_keeps_the_blank_path_width_two_finds_the_label():
    """Graves' thesis fig. 7.5 (TF's header comment): P(a) = 0.58 beats P(-) = 0.42, which
    the best path (and a one-prefix beam) picks."""
    p = np.array([[0.3, 0.7], [0.4, 0.6]])
    xv = np.log(p)[:, None, :].astype(np.float32)
    (w1,), l1 = decode(xv, [2], beam_width=1)
    (w2,), l2 = decode(xv, [2], beam_width=2)
    assert w1 == [()] and w2 == [(0,)]
    np.testing.assert_allclose([l1[0, 0], l2[0, 0]], np.log([0.7 * 0.6, 1 - 0.7 * 0.6]),
                               rtol=1e-6)
    tf.reset_default_graph()
    (g,), _ = tf.nn.ctc_greedy_decoder(tf.constant(xv), [2])
    with tf.Session(backend="reference") as s:
        assert s.run(g).values.size == 0


def test_tf_width_two_test_vector():
    """TF's ctc_decoder_ops_test (testCTCDecoderBeamSearch): logits (probabilities + 2) for
    5 of 7 frames, beam_width=2, top_paths=2 gives [1, 0] and [1] with TF's log-probabilities;
    a wide beam finds the brute-force top three instead."""
    m = np.asarray([
        [0.30999, 0.309938, 0.0679938, 0.0673362, 0.0708352, 0.173908],
        [0.215136, 0.439699, 0.0370931, 0.0393967, 0.0381581, 0.230517],
        [0.199959, 0.489485, 0.0233221, 0.0251417, 0.0233289, 0.238763],
        [0.279611, 0.452966, 0.0204795, 0.0209126, 0.0194803, 0.20655],
        [0.51286, 0.288951, 0.0243026, 0.0220788, 0.0219297, 0.129878]], np.float32) + 2.0
    xv = np.concatenate([m, np.zeros((2, 6), np.float32)])[:, None, :]
    got, lp = decode(xv, [5], beam_width=2, top_paths=2)
    assert got == [[(1, 0)], [(1,)]]
    np.testing.assert_allclose(lp, [[-5.811451, -6.63339]], atol=1e-6)
    want = brute_force(xv[:, 0], 5)
    got, lp = decode(xv, [5], beam_width=100, top_paths=3)
    top = sorted(want.items(), key=lambda kv: -kv[1])[:3]
    assert [g[0] for g in got] == [lab for lab, _ in top]
    np.testing.assert_allclose(lp[0], [v for _, v in top], rtol=1e-5)


def test_zero_probabilities_beat_the_best_path():
    """TF's greedy-decoder test matrices as log-probabilities (log 0 = -inf logits): the beam
    finds [0, 2, 1] (p = 0.576) where the best path gives [0, 1]; both examples' top two
    equal the brute force."""
    p0 = [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.4, 0.6], [0.0, 0.0, 0.4, 0.6],
          [0.0, 0.9, 0.1, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    p1 = [[0.1, 0.9, 0.0, 0.0], [0.0, 0.9, 0.1, 0.0], [0.0, 0.0, 0.1, 0.9],
          [0.0, 0.9, 0.1, 0.1], [0.9, 0.1, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    with np.errstate(divide="ignore"):
        xv = np.log(np.stack([p0, p1], 1)).astype(np.float32)
    seq = [4, 5]
    got, lp = decode(xv, seq, beam_width=10, top_paths=2)
    assert got[0][0] == (0, 2, 1)
    for b in range(2):
        want = brute_force(xv[:, b], seq[b])
        top = sorted(want, key=want.get, reverse=True)[:2]
        assert [g[b] for g in got] == [merged(t) for t in top]
        np.testing.assert_allclose(lp[b], [want[t] for t in top], rtol=1e-5)
    np.testing.assert_allclose(np.exp(lp[0, 0]), 0.4 * 0.4 * 0.9 + 2 * 0.4 * 0.6 * 0.9,
                               rtol=1e-5)


def test_sequence_lengths_per_example():
    """Frames past an example's length are ignored (garbage there changes nothing); length 0
    decodes to the empty labeling with log-probability 0."""
    rng = np.random.RandomState(3)
    xv = rng.randn(5, 4, 3).astype(np.float32)
    seq = [5, 3, 0, 1]
    for b, n in enumerate(seq):
        xv[n:, b] = 50.0 * rng.randn(5 - n, 3)
    (got,), lp = decode(xv, seq, beam_width=50)
    for b, n in enumerate(seq):
        want = brute_force(xv[:, b], n)
        best = max(want, key=want.get)
        assert got[b] == best
        np.testing.assert_allclose(lp[b, 0], want[best], rtol=1e-5, atol=1e-6)
    assert got[2] == () and lp[2, 0] == 0.0


def test_top_paths_outputs_shapes_and_order():
    """TF's output layout: top_paths SparseTensors (indices [N, 2] int64 rows (batch, i),
    values int64, dense_shape [batch, longest beam j]) and log_probability [batch, top_paths],
    best first per example; float64 inputs give float64 log-probabilities."""
    rng = np.random.RandomState(4)
    xv = rng.randn(5, 3, 4)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float64, [5, 3, 4])
    dec, lp = tf.nn.ctc_beam_search_decoder(x, [5, 4, 2], beam_width=8, top_paths=3)
    assert len(dec) == 3 and lp.dtype == tf.float64 and lp.get_shape().as_list() == [3, 3]
    for sp in dec:
        assert sp.indices.get_shape().as_list() == [None, 2]
        assert sp.values.get_shape().as_list() == [None]
        assert sp.dense_shape.get_shape().as_list() == [2]
        assert sp.values.dtype == tf.int64
    with tf.Session(backend="reference") as s:
        d, p = s.run([dec, lp], {x: xv})
    assert p.dtype == np.float64 and p.shape == (3, 3)
    assert np.all(np.diff(p, axis=1) <= 0)
    paths = [rows(sp, 3) for sp in d]                      # rows() checks the layout
    for b, n in enumerate([5, 4, 2]):
        want = brute_force(xv[:, b], n)
        for j in range(3):
            assert p[b, j] <= want[paths[j][b]] + 1e-9
    one, lp1 = tf.nn.ctc_beam_search_decoder(x, [5, 4, 2], beam_width=8)
    assert len(one) == 1 and lp1.get_shape().as_list() == [3, 1]


def test_merge_repeated_collapses_beams_as_tf_does():
    """Label 0, blank 1 over three frames: beams "0" and "0 0" (0, blank, 0) are the top two.
    v2 returns both; v1's merge_repeated collapses "0 0" to "0", so TF's quirk: the same
    labeling twice, each beam with its own probability (not their sum)."""
    p0 = np.array([0.6, 0.3, 0.6])
    xv = np.log(np.stack([p0, 1 - p0], -1))[:, None, :].astype(np.float32)
    want = brute_force(xv[:, 0], 3)
    assert sorted(want, key=want.get, reverse=True)[:2] == [(0,), (0, 0)]
    got2, lp2 = decode(xv, [3], fn=tf.nn.ctc_beam_search_decoder_v2, beam_width=10,
                       top_paths=2)
    got1, lp1 = decode(xv, [3], beam_width=10, top_paths=2)
    assert [g[0] for g in got2] == [(0,), (0, 0)]
    assert [g[0] for g in got1] == [(0,), (0,)]
    np.testing.assert_allclose(lp1[0], [want[(0,)], want[(0, 0)]], rtol=1e-5)
    np.testing.assert_allclose(lp2, lp1, rtol=1e-6)


def test_errors_as_tf():
    xv = np.random.RandomState(5).randn(3, 2, 3).astype(np.float32)
    tf.reset_default_graph()
    x = tf.constant(xv)
    with tf.Session(backend="reference") as s:
        dec, lp = tf.nn.ctc_beam_search_decoder(x, [3, 3], beam_width=2, top_paths=3)
        with pytest.raises(InvalidArgumentError, match="requested more paths than the beam "
                                                       "width.*top_paths = 3, beam_width = 2"):
            s.run(lp)
        dec, lp = tf.nn.ctc_beam_search_decoder(x, [3, 0], beam_width=5, top_paths=2)
        with pytest.raises(InvalidArgumentError, match="Less leaves in the beam search"):
            s.run(lp)                                     # length 0: only the empty prefix
        _, lp = tf.nn.ctc_beam_search_decoder(x, [4, 3])
        with pytest.raises(FailedPreconditionError, match=r"sequence_length\(0\) = 4 must be "
                                                          r"in \[0, max_time = 3\]"):
            s.run(lp)
        seq = tf.placeholder(tf.int32, [None])
        _, lp = tf.nn.ctc_beam_search_decoder(x, seq)
        with pytest.raises(FailedPreconditionError, match="len\\(sequence_length\\) != "
                                                          "batch_size"):
            s.run(lp, {seq: [3, 3, 3]})
    with pytest.raises(ValueError, match="rank 3"):
        tf.nn.ctc_beam_search_decoder(tf.constant(xv[0]), [3, 3])
    with pytest.raises(ValueError, match="rank 1"):
        tf.nn.ctc_beam_search_decoder(x, [[3, 3]])
    with pytest.raises(ValueError, match="len\\(sequence_length\\) != batch_size: 3 vs. 2"):
        tf.nn.ctc_beam_search_decoder(x, [3, 3, 3])
    for kw in ({"beam_width": 0}, {"top_paths": 0}, {"top_paths": 1.5}):
        with pytest.raises(ValueError, match="must be an int >= 1"):
            tf.nn.ctc_beam_search_decoder(x, [3, 3], **kw)
    with pytest.raises(TypeError, match="floating"):
        tf.nn.ctc_beam_search_decoder(tf.constant(np.zeros((3, 2, 3), np.int32)), [3, 3])


def _net(T, B, C, D, seed):
    x = tf.placeholder(tf.float32, [B, T, D])
    w = tf.Variable(np.random.RandomState(seed).randn(D, C).astype(np.float32) * 0.1)
    logits = tf.reshape(tf.matmul(tf.reshape(x, [-1, D]), w), [B, T, C])
    return x, w, logits


@pytest.mark.parametrize("backend", ["llvm", "cuda"])
def test_runs_on_the_host_inside_a_native_graph(backend):
    """matmul -> transpose -> beam search -> to_dense and edit_distance, on llvm (and cuda, on
    Numba's simulator without a GPU): the decoder leaves the native segments (it runs on the
    host device's ReferenceExecutable); values equal the all-reference run and the
    brute-force decode of the fetched logits."""
    if backend == "cuda":
        from _cuda_util import usable_or_skip
        usable_or_skip()
    from jitflow.runtime import compile as compile_mod
    from jitflow.runtime.placement import Segment
    T, B, C, D = 4, 3, 3, 5
    tf.reset_default_graph()
    x, _, logits = _net(T, B, C, D, 6)
    tm = tf.transpose(logits * 3.0, [1, 0, 2])
    seq = tf.placeholder(tf.int32, [None])
    dec, lp = tf.nn.ctc_beam_search_decoder(tm, seq, beam_width=40, top_paths=2)
    dense = tf.sparse_tensor_to_dense(dec[0], default_value=-1)
    truth = tf.SparseTensor(np.array([[0, 0], [1, 0], [2, 0]], np.int64),
                            np.array([0, 1, 0], np.int64), np.array([3, 1], np.int64))
    ler = tf.reduce_mean(tf.edit_distance(dec[0], truth))
    fetches = [tm, dense, lp, ler, dec[1]]
    xv = np.random.RandomState(7).randn(B, T, D).astype(np.float32) * 3
    feed = {x: xv, seq: [4, 3, 2]}
    events: list = []
    compile_mod.COMPILE_HOOKS.append(events.append)
    try:
        res = {}
        for be in (backend, "reference"):
            with tf.Session(backend=be) as s:
                s.run(tf.global_variables_initializer())
                res[be] = s.run(fetches, feed)
    finally:
        compile_mod.COMPILE_HOOKS.remove(events.append)
    ev = [e for e in events if e.backend.startswith("partitioned(")]
    assert ev, [e.backend for e in events]
    segs = [(type(st.executable).__name__, {op.opname for op in st.function.ops})
            for st in ev[-1].executable.steps if isinstance(st, Segment)]
    host = set().union(*(ops for kind, ops in segs if kind == "ReferenceExecutable"))
    native = set().union(*(ops for kind, ops in segs if kind != "ReferenceExecutable"))
    assert "ctc_beam_search_decode" in host and "ctc_beam_search_decode" not in native, segs
    assert native, segs
    got, ref = res[backend], res["reference"]
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-5)
    np.testing.assert_allclose(got[3], ref[3], rtol=1e-6)
    for b, n in enumerate([4, 3, 2]):
        want = brute_force(got[0][:, b], n)
        top = sorted(want, key=want.get, reverse=True)[:2]
        row = tuple(v for v in got[1][b] if v >= 0)
        assert merged(top[0]) == row
        np.testing.assert_allclose(got[2][b], [want[t] for t in top], rtol=1e-5)


def sparse(labels):
    idx = [(b, i) for b, lab in enumerate(labels) for i in range(len(lab))]
    vals = [c for lab in labels for c in lab]
    return tf.SparseTensor(np.asarray(idx, np.int64).reshape(-1, 2),
                           np.asarray(vals, np.int32),
                           np.asarray([len(labels), max([len(v) for v in labels] + [1])],
                                      np.int64))


def test_wide_beam_log_probabilities_are_minus_ctc_loss():
    """Each returned beam's log-probability is minus tf.nn.ctc_loss of its labeling (two
    independent dynamic programs over the same softmax)."""
    xv = np.random.RandomState(8).randn(4, 2, 3).astype(np.float32)
    seq = [4, 3]
    got, lp = decode(xv, seq, fn=tf.nn.ctc_beam_search_decoder_v2, beam_width=100,
                     top_paths=3)
    tf.reset_default_graph()
    losses = [tf.nn.ctc_loss(sparse([list(got[j][b]) for b in range(2)]), tf.constant(xv), seq)
              for j in range(3)]
    with tf.Session(backend="reference") as s:
        loss = np.stack(s.run(losses), axis=1)
    np.testing.assert_allclose(lp, -loss, rtol=1e-5)


def test_decodes_a_tiny_trained_ctc_model():
    """Train a linear model with ctc_loss on llvm; the v2 beam search decodes the targets, with
    a log-probability at most minus the loss (a pruned beam's lower bound) and close to it.
    v1's merge_repeated (TF1's default) decodes the same beams with "2 2" collapsed to "2":
    TF's behaviour, why TF 2 dropped the flag."""
    T, B, C, D = 6, 3, 4, 5
    labels = [[0, 1, 2], [2, 2], [1]]
    tf.reset_default_graph()
    x, _, logits = _net(T, B, C, D, 9)
    per = tf.nn.ctc_loss(sparse(labels), logits, [T] * B, time_major=False)
    train = tf.train.AdamOptimizer(0.1).minimize(tf.reduce_mean(per))
    tm = tf.transpose(logits, [1, 0, 2])
    dec2, lp2 = tf.nn.ctc_beam_search_decoder_v2(tm, [T] * B, beam_width=10)
    dec1, lp1 = tf.nn.ctc_beam_search_decoder(tm, [T] * B, beam_width=10)
    xv = np.random.RandomState(10).randn(B, T, D).astype(np.float32)
    with tf.Session(backend="llvm") as s:
        s.run(tf.global_variables_initializer())
        for _ in range(120):
            s.run(train, {x: xv})
        loss, d2, p2, d1, p1 = s.run([per, dec2[0], lp2, dec1[0], lp1], {x: xv})
    assert rows(d2, B) == [tuple(v) for v in labels]
    assert rows(d1, B) == [merged(v) for v in labels] == [(0, 1, 2), (2,), (1,)]
    np.testing.assert_allclose(p1, p2, rtol=1e-6)
    assert np.all(p2[:, 0] <= -loss + 1e-4) and np.all(p2[:, 0] > -loss - 0.05), (p2, loss)
