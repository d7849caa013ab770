"""tf.nn.log_uniform_candidate_sampler / uniform_candidate_sampler, tf.nn.nce_loss and
tf.nn.sampled_softmax_loss (frontend/candidate_sampling.py, frontend/sampled_losses.py):
samplers' shapes, ranges, uniqueness, seeding and distribution; losses against a NumPy
re-computation from the candidates fetched in the same run; remove_accidental_hits;
gradients (finite differences, and that they reach weights, biases and inputs); sharded
weights; llvm equal to the reference; a small word2vec-style training run."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients

FLT_MAX = np.finfo(np.float32).max


def _run(fetches, feed=None, backend="reference", n=1):
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        return [s.run(fetches, feed) for _ in range(n)]


def _p(dist, k, r):
    k = np.asarray(k, np.float64)
    return np.log1p(1 / (k + 1)) / np.log(r + 1) if dist == "log" else np.full(k.shape, 1 / r)


SAMPLERS = {"log": "log_uniform_candidate_sampler", "uniform": "uniform_candidate_sampler"}


@pytest.mark.parametrize("dist", sorted(SAMPLERS))
@pytest.mark.parametrize("unique", [True, False])
@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_sampler_shapes_range_counts_and_seeds(dist, unique, backend):
    r, s, labels = 40, 12, np.array([[3, 0], [39, 7], [5, 5]], np.int64)

    def build():
        tf.reset_default_graph()
        tf.set_random_seed(11)
        return getattr(tf.nn, SAMPLERS[dist])(labels, 2, s, unique, r, seed=4)

    out = build()
    assert [o.dtype for o in out] == [tf.int64, tf.float32, tf.float32]
    (c1, t1, e1), (c2, _, _) = _run(list(out), backend=backend, n=2)
    assert c1.shape == (s,) and t1.shape == (3, 2) and e1.shape == (s,)
    assert c1.min() >= 0 and c1.max() < r
    assert not np.array_equal(c1, c2), "each run draws new candidates"
    again = _run(list(build()), backend=backend)[0]
    np.testing.assert_array_equal(again[0], c1)      # same seeds, fresh session: same draw
    if unique:
        assert len(set(c1.tolist())) == s
        # one number of tries T >= s explains every expected count: -expm1(T log1p(-p))
        p = _p(dist, c1, r)
        tries = np.log1p(-e1.astype(np.float64)) / np.log1p(-p)
        assert tries.min() >= s - 1e-3 and np.ptp(tries) < 1e-2 * tries.max()
        t = tries.mean()
        np.testing.assert_allclose(t1, -np.expm1(t * np.log1p(-_p(dist, labels, r))),
                                   rtol=1e-4)
    else:
        np.testing.assert_allclose(e1, _p(dist, c1, r) * s, rtol=1e-5)
        np.testing.assert_allclose(t1, _p(dist, labels, r) * s, rtol=1e-5)


def test_unique_expected_counts_use_the_number_of_tries():
    """The T behind -expm1(T log1p(-p)) is a whole number of draws, and over many runs its
    mean is the coupon collector's expectation sum_i R / (R - i) for s distinct of R."""
    r, s = 40, 12
    tf.reset_default_graph()
    c, _, e = tf.nn.uniform_candidate_sampler(np.zeros((1, 1), np.int64), 1, s, True, r,
                                              seed=8)
    runs = _run(e, backend="llvm", n=200)
    tries = np.array([np.log1p(-x[0].astype(np.float64)) / np.log1p(-1 / r) for x in runs])
    np.testing.assert_allclose(tries, np.round(tries), atol=2e-3 * tries.max())
    want = sum(r / (r - i) for i in range(s))
    sd = np.sqrt(sum((i / r) / (1 - i / r) ** 2 for i in range(s)) / len(runs))
    assert abs(tries.mean() - want) < 4 * sd, (tries.mean(), want, sd)


@pytest.mark.parametrize("dist", sorted(SAMPLERS))
def test_sampler_follows_its_distribution(dist):
    r, s = 10, 4000
    tf.reset_default_graph()
    c, _, _ = getattr(tf.nn, SAMPLERS[dist])(np.zeros((1, 1), np.int64), 1, s, False, r,
                                             seed=2)
    ids = _run(c, backend="llvm")[0]
    freq = np.bincount(ids, minlength=r) / s
    want = _p(dist, np.arange(r), r)
    assert np.abs(freq - want).max() < 4 * np.sqrt(want.max() / s)


def _np_logits(w, b, x, labels, sampled, tc, sc, hits, num_true):
    true_logits = np.einsum("bd,btd->bt", x, w[labels]) + b[labels] - np.log(tc)
    sl = x @ w[sampled].T + b[sampled]
    if hits:
        sl = sl + (labels[:, :, None] == sampled[None, None, :]).any(1) * -FLT_MAX
    sl = sl - np.log(sc)
    logits = np.concatenate([true_logits, sl], 1)
    lab = np.concatenate([np.full(true_logits.shape, 1 / num_true), np.zeros(sl.shape)], 1)
    return logits, lab


def _problem(rng, n_cls=30, dim=5, batch=6, num_true=2):
    return (rng.randn(n_cls, dim).astype(np.float32), rng.randn(n_cls).astype(np.float32),
            rng.randn(batch, dim).astype(np.float32),
            rng.randint(0, n_cls, (batch, num_true)).astype(np.int64))


@pytest.mark.parametrize("loss", ["nce", "softmax"])
@pytest.mark.parametrize("hits", [True, False])
@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_losses_match_numpy_given_the_sampled_ids(loss, hits, backend):
    w, b, x, labels = _problem(np.random.RandomState(1))
    tf.reset_default_graph()
    sv = tf.nn.log_uniform_candidate_sampler(labels, 2, 25, True, 30, seed=3)
    fn = tf.nn.nce_loss if loss == "nce" else tf.nn.sampled_softmax_loss
    out = fn(tf.constant(w), tf.constant(b), labels, tf.constant(x), 25, 30, num_true=2,
             sampled_values=sv, remove_accidental_hits=hits)
    assert out.shape.as_list() == [6]
    got, sampled, tc, sc = _run([out] + list(sv), backend=backend)[0]
    logits, lab = _np_logits(w.astype(np.float64), b.astype(np.float64), x.astype(np.float64),
                             labels, sampled, tc, sc, hits, 2)
    if loss == "nce":
        want = (np.maximum(logits, 0) - logits * lab + np.log1p(np.exp(-np.abs(logits)))).sum(1)
    else:
        m = logits.max(1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(logits - m).sum(1))
        want = -(lab * logits).sum(1) + lse
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_remove_accidental_hits_masks_the_true_ids():
    """With every class sampled, each true class is also a sampled one: with the hits
    removed the softmax loss is that of the true logits alone over the other classes."""
    w, b, x, labels = _problem(np.random.RandomState(2), n_cls=8, num_true=1)
    tf.reset_default_graph()
    sv = tf.nn.uniform_candidate_sampler(labels, 1, 8, True, 8, seed=1)
    kept = tf.nn.sampled_softmax_loss(w, b, labels, x, 8, 8, sampled_values=sv)
    hit = tf.nn.sampled_softmax_loss(w, b, labels, x, 8, 8, sampled_values=sv,
                                     remove_accidental_hits=False)
    got, with_hits, sampled = _run([kept, hit, sv[0]])[0]
    assert sorted(sampled.tolist()) == list(range(8))
    # subtract_log_q shifts every logit by the same log(1) = 0 (all counts are 1 here)
    z = x.astype(np.float64) @ w.T + b                         # [batch, 8]
    true = z[np.arange(6), labels[:, 0]]
    want = -true + np.logaddexp(true, np.log(np.exp(z).sum(1) - np.exp(true)))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert np.all(with_hits > got)        # the duplicate true logit adds to the partition


@pytest.mark.parametrize("loss", ["nce", "softmax"])
def test_gradients_match_finite_differences(loss):
    w, b, x, labels = _problem(np.random.RandomState(3), n_cls=10, dim=3, batch=4)
    sampled = np.array([1, 4, 7, 2, 9], np.int64)
    tc, sc = np.full((4, 2), 0.3, np.float32), np.full(5, 0.4, np.float32)
    fn = tf.nn.nce_loss if loss == "nce" else tf.nn.sampled_softmax_loss

    def f(wt, bt, xt):
        sv = (tf.constant(sampled), tf.constant(tc), tf.constant(sc))     # float32 counts
        return fn(wt, bt, labels, xt, 5, 10, num_true=2, sampled_values=sv,
                  remove_accidental_hits=True)

    check_gradients(f, [w, b, x], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_sharded_weights_match_one_matrix(strategy):
    w, b, x, labels = _problem(np.random.RandomState(4), n_cls=11)
    n = 11
    if strategy == "mod":
        idx = [np.arange(i, n, 3) for i in range(3)]
    else:
        idx = np.array_split(np.arange(n), 3)
    tf.reset_default_graph()
    sv = tf.nn.log_uniform_candidate_sampler(labels, 2, 6, True, n, seed=9)
    one = tf.nn.nce_loss(w, b, labels, x, 6, n, num_true=2, sampled_values=sv)
    ws = [tf.Variable(w[i]) for i in idx]
    bs = [tf.Variable(b[i]) for i in idx]
    shard = tf.nn.nce_loss(ws, bs, labels, x, 6, n, num_true=2, sampled_values=sv,
                           partition_strategy=strategy)
    grads = tf.gradients(tf.reduce_sum(shard), ws)
    a, c, g = _run([one, shard, grads])[0]
    np.testing.assert_allclose(c, a, rtol=1e-6)
    assert any(np.abs(gi).sum() > 0 for gi in g)


def test_gradients_reach_weights_biases_and_inputs_and_word2vec_trains():
    """Skip-gram on a toy corpus where word i's context is word (i + 1) % V: the NCE and the
    sampled softmax losses both fall, on llvm."""
    v, dim, batch = 40, 8, 32
    rng = np.random.RandomState(5)
    tf.reset_default_graph()
    tf.set_random_seed(7)
    center = tf.placeholder(tf.int32, [batch])
    context = tf.placeholder(tf.int64, [batch, 1])
    emb = tf.Variable(tf.random_uniform([v, dim], -1.0, 1.0))
    nce_w = tf.Variable(tf.truncated_normal([v, dim], stddev=0.3))
    nce_b = tf.Variable(tf.zeros([v]))
    x = tf.nn.embedding_lookup(emb, center)
    nce = tf.reduce_mean(tf.nn.nce_loss(nce_w, nce_b, context, x, 8, v))
    ssm = tf.reduce_mean(tf.nn.sampled_softmax_loss(nce_w, nce_b, context, x, 8, v))
    grads = tf.gradients(nce + ssm, [nce_w, nce_b, x])
    assert all(g is not None for g in grads)
    step = tf.train.AdamOptimizer(0.05).minimize(nce + ssm)
    with tf.Session(backend="llvm") as s:
        s.run(tf.global_variables_initializer())
        hist = []
        for i in range(150):
            c = rng.randint(0, v, batch)
            feed = {center: c, context: ((c + 1) % v)[:, None]}
            if i == 0:
                gv = s.run(grads, feed)
                assert all(np.abs(np.asarray(g)).sum() > 0 for g in gv)
            hist.append(s.run([nce, ssm, step], feed)[:2])
    first, last = np.mean(hist[:10], 0), np.mean(hist[-10:], 0)
    assert np.all(last < 0.5 * first), (first, last)


def test_argument_errors():
    with pytest.raises(ValueError, match="num_sampled <= range_max"):
        tf.nn.uniform_candidate_sampler(np.zeros((2, 1), np.int64), 1, 5, True, 4)
    with pytest.raises(ValueError, match="num_true"):
        tf.nn.log_uniform_candidate_sampler(np.zeros((2, 3), np.int64), 1, 2, True, 4)
    with pytest.raises(ValueError, match="partition_strategy"):
        tf.nn.nce_loss([tf.zeros([2, 3]), tf.zeros([2, 3])], [tf.zeros([2]), tf.zeros([2])],
                       np.zeros((1, 1), np.int64), tf.zeros([1, 3]), 2, 4,
                       partition_strategy="bad")
