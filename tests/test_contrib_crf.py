"""tf.contrib.crf (jitflow/frontend/contrib/crf.py) against brute force: every tag sequence of
each example enumerated in NumPy gives the scores, the partition function and the best path.
Log-likelihoods with variable sequence lengths (0, 1, the longest) and a max_seq_len of 1
known at graph build or only at run time; gradients against central differences; crf_decode
against viterbi_decode and the enumeration's argmax; the multitag score; the cells; a zero-step
forward recurrence with a fed batch; training that raises the likelihood; on the reference
and llvm backends (cuda, under Numba's simulator, for the run-time shapes)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _cuda_util import usable_or_skip   # selects Numba's CUDA simulator unless set
import jitflow.compat.v1 as tf
from _tfcheck import check_gradients

crf = tf.contrib.crf
SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield


# ------------------------------------------------------------------ brute force -----------

def path_score(x: np.ndarray, trans: np.ndarray, tags, length: int) -> float:
    """Unary plus binary score of ``tags`` over the first ``length`` steps of ``x`` [T, O]."""
    return (sum(x[t, tags[t]] for t in range(length))
            + sum(trans[tags[t], tags[t + 1]] for t in range(length - 1)))


def all_paths(length: int, num_tags: int, allowed=None):
    for p in itertools.product(range(num_tags), repeat=length):
        if allowed is None or all(allowed[t, p[t]] for t in range(length)):
            yield p


def log_norm(x, trans, length, allowed=None) -> float:
    if length <= 0:
        return 0.0
    s = np.array([path_score(x, trans, p, length)
                  for p in all_paths(length, x.shape[1], allowed)])
    if not s.size:
        return -np.inf
    return float(np.max(s) + np.log(np.sum(np.exp(s - np.max(s)))))


def best_path(x, trans, length):
    paths = list(all_paths(length, x.shape[1]))
    scores = [path_score(x, trans, p, length) for p in paths]
    k = int(np.argmax(scores))
    return list(paths[k]), scores[k]


def problem(rng, batch, steps, num_tags, lengths=None):
    x = rng.randn(batch, steps, num_tags) * 1.5
    trans = rng.randn(num_tags, num_tags)
    tags = rng.randint(0, num_tags, (batch, steps))
    lens = np.asarray(lengths if lengths is not None else rng.randint(0, steps + 1, batch))
    return x, trans, tags, lens


def log_likelihood_ref(x, trans, tags, lens):
    return np.array([path_score(x[b], trans, tags[b], lens[b]) - log_norm(x[b], trans, lens[b])
                     for b in range(len(lens))])


def graph(shape, int_dtype=tf.int32):
    """Placeholders for (inputs, tags, lengths); ``shape`` [batch, steps, num_tags], entries
    None where only the run knows them."""
    return (tf.placeholder(tf.float64, shape), tf.placeholder(int_dtype, shape[:2]),
            tf.placeholder(int_dtype, shape[:1]))


# ------------------------------------------------------------------ log-likelihood --------

@SETTINGS
@given(batch=st.integers(1, 3), steps=st.integers(1, 4), num_tags=st.integers(1, 3),
       static=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_log_likelihood_and_its_parts_match_brute_force(batch, steps, num_tags, static, seed):
    tf.reset_default_graph()
    x, trans, tags, lens = problem(np.random.RandomState(seed), batch, steps, num_tags)
    xp, tp, lp = graph([batch, steps, num_tags] if static else [None, None, num_tags])
    trp = tf.constant(trans)
    ll, trans_out = crf.crf_log_likelihood(xp, tp, lp, trp)
    assert trans_out is trp and ll.shape.as_list() == [batch if static else None]
    outs = [ll, crf.crf_sequence_score(xp, tp, lp, trp), crf.crf_log_norm(xp, lp, trp),
            crf.crf_unary_score(tp, lp, xp), crf.crf_binary_score(tp, lp, trp)]
    with tf.Session(backend="reference") as s:
        got = s.run(outs, {xp: x, tp: tags, lp: lens})
    score = [path_score(x[b], trans, tags[b], lens[b]) for b in range(batch)]
    norm = [log_norm(x[b], trans, lens[b]) for b in range(batch)]
    np.testing.assert_allclose(got[0], np.subtract(score, norm), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got[1], score, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[2], norm, rtol=1e-10, atol=1e-12)
    unary = [sum(x[b, t, tags[b, t]] for t in range(lens[b])) for b in range(batch)]
    np.testing.assert_allclose(got[3], unary, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[4], np.subtract(score, unary), rtol=1e-10, atol=1e-12)
    assert np.all(got[0] <= 1e-12)          # a log-probability (length 1 included)


@pytest.mark.parametrize("backend", ["reference", "llvm", "cuda"])
def test_log_likelihood_decode_and_gradients_with_run_time_shapes(backend):
    """One graph with batch and max_seq_len fed: runs of max_seq_len 4 (lengths 4, 1, 0, 2)
    and of max_seq_len 1 (the tf.cond's other branch), int64 tags and lengths."""
    if backend == "cuda":
        usable_or_skip()
    rng = np.random.RandomState(3)
    xp, tp, lp = graph([None, None, 3], tf.int64)
    trp = tf.placeholder(tf.float64, [3, 3])
    ll, _ = crf.crf_log_likelihood(xp, tp, lp, trp)
    tags_out, best = crf.crf_decode(xp, trp, lp)
    gx, gt = tf.gradients(tf.reduce_sum(ll), [xp, trp])
    with tf.Session(backend=backend) as s:
        for steps, lengths in ((4, [4, 1, 0, 2]), (1, [1, 0, 1, 1])):
            x, trans, tags, lens = problem(rng, 4, steps, 3, lengths)
            feed = {xp: x, tp: tags, lp: lens, trp: trans}
            llv, dv, bv, gxv, gtv = s.run([ll, tags_out, best, gx, gt], feed)
            np.testing.assert_allclose(llv, log_likelihood_ref(x, trans, tags, lens),
                                       rtol=1e-10, atol=1e-10)
            assert dv.dtype == np.int32 and dv.shape == (4, steps)
            for b, n in enumerate(lens):
                if n == 0:
                    continue
                want, score = best_path(x[b], trans, n)
                assert dv[b, :n].tolist() == want and not dv[b, n:].any()
                np.testing.assert_allclose(bv[b], score, rtol=1e-12)
            # d ll / d x is the one-hot tags minus the marginals; d ll / d transitions the
            # observed minus the expected transition counts: check against the enumeration
            for b, n in enumerate(lens):
                paths = list(all_paths(n, 3)) if n else []
                p = np.exp([path_score(x[b], trans, q, n) - log_norm(x[b], trans, n)
                            for q in paths])
                want_x = np.zeros((steps, 3))
                for q, pq in zip(paths, p):
                    for t in range(n):
                        want_x[t, q[t]] -= pq
                for t in range(n):
                    want_x[t, tags[b, t]] += 1
                np.testing.assert_allclose(gxv[b], want_x, atol=1e-10)
            assert gtv.shape == (3, 3)


def test_gradients_match_finite_differences():
    x, trans, tags, lens = problem(np.random.RandomState(5), 3, 3, 3, [3, 1, 2])

    def log_likelihood(xv, tv):
        return crf.crf_log_likelihood(xv, tf.constant(tags), tf.constant(lens), tv)[0]
    check_gradients(log_likelihood, [x, trans], rtol=1e-6, atol=1e-8)
    bitmap = np.random.RandomState(6).rand(3, 3, 3) > 0.4
    bitmap[:, :, 0] = True                  # every step allows a tag
    check_gradients(lambda xv, tv: crf.crf_multitag_sequence_score(
        xv, tf.constant(bitmap), tf.constant(lens), tv), [x, trans], rtol=1e-6, atol=1e-8)


def test_transitions_variable_is_made_when_none_is_given():
    xp = tf.placeholder(tf.float32, [None, 5, 4])
    tp = tf.placeholder(tf.int32, [None, 5])
    lp = tf.placeholder(tf.int32, [None])
    with tf.variable_scope("crf_layer"):
        ll, trans = crf.crf_log_likelihood(xp, tp, lp)
    assert trans.name == "crf_layer/transitions:0" and trans.shape.as_list() == [4, 4]
    assert trans in tf.trainable_variables() and trans.dtype.base_dtype == tf.float32
    assert ll.dtype == tf.float32
    with pytest.raises(ValueError, match="number of tags"):
        crf.crf_log_likelihood(tf.placeholder(tf.float32, [2, 5, None]), tp, lp)
    with pytest.raises(ValueError, match="inputs must have rank 3, got shape"):
        crf.crf_log_norm(tf.placeholder(tf.float32, [2, 5]), lp, trans)


# ------------------------------------------------------------------ decoding --------------

@SETTINGS
@given(batch=st.integers(1, 3), steps=st.integers(1, 5), num_tags=st.integers(1, 4),
       static=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_crf_decode_matches_viterbi_decode_and_brute_force(batch, steps, num_tags, static,
                                                           seed):
    tf.reset_default_graph()
    x, trans, _, lens = problem(np.random.RandomState(seed), batch, steps, num_tags)
    xp, _, lp = graph([batch, steps, num_tags] if static else [None, None, num_tags])
    tags_out, best = crf.crf_decode(xp, tf.constant(trans), lp)
    with tf.Session(backend="reference") as s:
        dv, bv = s.run([tags_out, best], {xp: x, lp: lens})
    assert dv.shape == (batch, steps) and dv.dtype == np.int32
    for b, n in enumerate(lens):
        if n == 0:           # TF: the first step's argmax (the state before any step), then 0
            assert dv[b, 0] == np.argmax(x[b, 0]) and not dv[b, 1:].any()
            np.testing.assert_allclose(bv[b], np.max(x[b, 0]))
            continue
        vit, vscore = crf.viterbi_decode(x[b, :n], trans)
        want, score = best_path(x[b], trans, n)
        assert isinstance(vit, list) and [int(v) for v in vit] == want
        assert dv[b, :n].tolist() == want and not dv[b, n:].any()
        np.testing.assert_allclose([bv[b], vscore], [score, score], rtol=1e-12)


def test_viterbi_decode_is_tfs_numpy_function():
    score = np.array([[1.0, 0.0], [0.0, 2.0], [0.5, 0.4]])
    trans = np.array([[0.0, -3.0], [1.0, 0.0]])
    path, best = crf.viterbi_decode(score, trans)     # 0 + 2 + 0.5 + trans[1,1] + trans[1,0]
    assert [int(p) for p in path] == [1, 1, 0] and best == pytest.approx(3.5)
    assert best_path(score, trans, 3) == ([1, 1, 0], 3.5)
    path, best = crf.viterbi_decode(score[:1], trans)
    assert [int(p) for p in path] == [0] and best == 1.0


def test_the_cells_in_dynamic_rnn():
    trans = np.array([[0.2, -0.5], [0.7, 0.1]])
    x = np.random.RandomState(2).randn(2, 3, 2)
    fwd = crf.CrfForwardRnnCell(tf.constant(trans))
    dec = crf.CrfDecodeForwardRnnCell(tf.constant(trans))
    bwd = crf.CrfDecodeBackwardRnnCell(2)
    assert (fwd.state_size, fwd.output_size, dec.state_size, bwd.state_size,
            bwd.output_size) == (2, 2, 2, 1, 1)
    xp = tf.placeholder(tf.float64, [None, 3, 2])
    alphas, last = tf.nn.dynamic_rnn(fwd, xp[:, 1:], initial_state=xp[:, 0])
    bps, best = tf.nn.dynamic_rnn(dec, xp[:, 1:], initial_state=xp[:, 0])
    picked, _ = tf.nn.dynamic_rnn(bwd, bps, initial_state=tf.zeros([2, 1], tf.int32))
    with tf.Session(backend="reference") as s:
        av, lv, bpv, bv, pv = s.run([alphas, last, bps, best, picked], {xp: x})
    a, m, bp = x[:, 0], x[:, 0], []
    for t in (1, 2):
        v = a[:, :, None] + trans[None]
        a = x[:, t] + np.log(np.exp(v).sum(1))
        w = m[:, :, None] + trans[None]
        m, k = x[:, t] + w.max(1), w.argmax(1)
        np.testing.assert_allclose(av[:, t - 1], a, rtol=1e-12)
        bp.append(k)
    np.testing.assert_allclose(lv, a, rtol=1e-12)
    np.testing.assert_allclose(bv, m, rtol=1e-12)
    assert bpv.dtype == np.int32 and bpv.tolist() == np.stack(bp, 1).tolist()
    tag0 = bp[0][:, 0]                       # the back-pointers of tag 0, then of that tag
    assert pv[:, :, 0].tolist() == np.stack([tag0, bp[1][np.arange(2), tag0]], 1).tolist()


# ------------------------------------------------------------------ edges -----------------

@pytest.mark.parametrize("backend, steps", [("reference", None), ("llvm", None),
                                            ("cuda", None), ("reference", 0), ("llvm", 0)])
def test_crf_forward_over_no_step_with_a_fed_batch(backend, steps):
    """crf_forward of inputs with no step after the first (a zero-trip loop with a fed batch
    size; the time dim fed or a static 0) is the first step's state, and its gradient passes
    straight to that state."""
    if backend == "cuda":
        usable_or_skip()
    rest = tf.placeholder(tf.float64, [None, steps, 3])
    first = tf.placeholder(tf.float64, [None, 3])
    lens = tf.placeholder(tf.int32, [None])
    alphas = crf.crf_forward(rest, first, tf.constant(np.eye(3)), lens)
    g, = tf.gradients(tf.reduce_sum(alphas * alphas), first)
    fv = np.arange(6.0).reshape(2, 3)
    with tf.Session(backend=backend) as s:
        av, gv = s.run([alphas, g], {rest: np.zeros((2, 0, 3)), first: fv, lens: [1, 0]})
    np.testing.assert_array_equal(av, fv)
    np.testing.assert_array_equal(gv, 2 * fv)


def test_multitag_sequence_score_sums_over_the_allowed_sequences():
    x, trans, _, lens = problem(np.random.RandomState(8), 3, 3, 3, [3, 2, 1])
    bitmap = np.random.RandomState(9).rand(3, 3, 3) > 0.5
    bitmap[:, :, 1] = True
    for shape in ([3, 3, 3], [None, None, 3]):
        tf.reset_default_graph()
        xp = tf.placeholder(tf.float64, shape)
        out = crf.crf_multitag_sequence_score(xp, tf.constant(bitmap), tf.constant(lens),
                                              tf.constant(trans))
        with tf.Session(backend="reference") as s:
            got = s.run(out, {xp: x})
        want = [log_norm(x[b], trans, lens[b], bitmap[b]) for b in range(3)]
        np.testing.assert_allclose(got, want, rtol=1e-10)
    tf.reset_default_graph()        # one step: the logsumexp of the allowed unary scores
    one = crf.crf_multitag_sequence_score(tf.constant(x[:, :1]), tf.constant(bitmap[:, :1]),
                                          tf.constant([1, 1, 1]), tf.constant(trans))
    with tf.Session(backend="reference") as s:
        got = s.run(one)
    want = [np.log(np.exp(x[b, 0][bitmap[b, 0]]).sum()) for b in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_training_raises_the_log_likelihood_on_llvm():
    """A linear layer under a CRF learns noisy tag sequences that cycle 0 -> 1 -> 2 -> 0: the
    learned transitions decode them better than each step's best unary score alone."""
    rng = np.random.RandomState(0)
    batch, steps, num_tags = 16, 6, 3
    tags = (rng.randint(0, num_tags, (batch, 1)) + np.arange(steps)[None]) % num_tags
    feat = (np.eye(num_tags)[tags] + rng.randn(batch, steps, num_tags)).astype(np.float32)
    lens = rng.randint(1, steps + 1, batch).astype(np.int32)
    xp = tf.placeholder(tf.float32, [None, None, num_tags])
    tp = tf.placeholder(tf.int32, [None, None])
    lp = tf.placeholder(tf.int32, [None])
    unary = tf.layers.dense(xp, num_tags)
    ll, trans = crf.crf_log_likelihood(unary, tp, lp)
    loss = -tf.reduce_mean(ll)
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    decoded, _ = crf.crf_decode(unary, trans, lp)
    feed = {xp: feat, tp: tags, lp: lens}
    with tf.Session(backend="llvm") as s:
        s.run(tf.global_variables_initializer())
        losses = [s.run([train, loss], feed)[1] for _ in range(40)]
        dv, uv = s.run([decoded, unary], feed)
    assert losses[-1] < 0.3 * losses[0], losses
    mask = np.arange(steps)[None] < lens[:, None]
    crf_acc = (dv == tags)[mask].mean()
    unary_acc = (np.argmax(uv, -1) == tags)[mask].mean()
    assert crf_acc > 0.95 and crf_acc > unary_acc + 0.05, (crf_acc, unary_acc)


def test_the_namespace_and_its_imports():
    from jitflow.compat import tensorflow_alias as ta
    from jitflow.compat.v1.contrib import crf as crf_module
    assert crf_module.crf_decode is crf.crf_decode
    with ta.aliased():
        from tensorflow.contrib import crf as aliased
        from tensorflow.contrib.crf import crf_log_likelihood
    assert aliased.viterbi_decode is crf.viterbi_decode
    assert crf_log_likelihood is crf.crf_log_likelihood
    with pytest.raises(AttributeError, match="tf.contrib.crf.CRF is not implemented"):
        crf.CRF
