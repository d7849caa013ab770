"""tf.random.gamma / tf.random_gamma and tf.random.poisson / tf.random_poisson (the seeded host
samplers of ops/random_host.py): shapes and dtypes, TF1's seed rules (reproducible under
tf.set_random_seed, new values every run), moments and Kolmogorov-Smirnov / chi-square tests
against SciPy's distributions, the gamma sample's gradient in alpha (RandomGammaGrad) against
SciPy's inverse CDF, on llvm and the reference."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

import jitflow.compat.v1 as tf
from jitflow.ir.opdef import OPS

BACKENDS = ["reference", "llvm"]


def _run(fetches, feeds=None, backend="reference", runs=1):
    with tf.Session(backend=backend) as s:
        return [s.run(fetches, feeds) for _ in range(runs)]


def test_names_and_output_shapes():
    assert tf.random_gamma is tf.random.gamma and tf.random_poisson is tf.random.poisson
    alpha = tf.constant([[1.0], [2.0]])                  # [2, 1]
    beta = tf.constant([1.0, 2.0, 3.0])                  # [3]
    assert tf.random.gamma([5, 4], alpha, beta).shape.as_list() == [5, 4, 2, 3]
    assert tf.random.gamma([7], 2.0).shape.as_list() == [7]
    assert tf.random.gamma(tf.constant([2, 3]), [1.0, 2.0]).shape.as_list() == [2, 3, 2]
    assert tf.random.poisson([1.0, 2.0], [6]).shape.as_list() == [6, 2]
    assert tf.random.poisson(3.0, [2, 3]).shape.as_list() == [2, 3]
    for dt in (tf.float16, tf.float32, tf.float64):
        assert tf.random.gamma([2], 1.0, dtype=dt).dtype == dt
    for dt in (tf.float16, tf.float32, tf.float64, tf.int32, tf.int64):
        assert tf.random.poisson(2.0, [3], dtype=dt).dtype == dt
    with pytest.raises(TypeError, match="float16, float32 or float64"):
        tf.random.gamma([2], 1.0, dtype=tf.int32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_shapes_and_dtypes_at_run_time(backend):
    x = tf.placeholder(tf.float32, [None, 2])
    g = tf.random.gamma(tf.shape(x), [1.0, 3.0], dtype=tf.float64)   # a computed shape
    p = tf.random.poisson([0.5, 4.0], [tf.shape(x)[0]], dtype=tf.int64)
    h = tf.random.gamma([3], 2.0, beta=4.0, dtype=tf.float16)
    with tf.Session(backend=backend) as s:
        for n in (3, 5):
            gv, pv, hv = s.run([g, p, h], {x: np.zeros((n, 2), np.float32)})
            assert gv.shape == (n, 2, 2) and gv.dtype == np.float64 and (gv > 0).all()
            assert pv.shape == (n, 2) and pv.dtype == np.int64 and (pv >= 0).all()
            assert hv.shape == (3,) and hv.dtype == np.float16 and (hv > 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_seeds_reproduce_and_runs_differ(backend):
    def build():
        tf.reset_default_graph()
        tf.set_random_seed(42)
        return tf.random.gamma([4], [0.5, 2.0]), tf.random.poisson(3.0, [6])
    g, p = build()
    first = _run([g, p], backend=backend, runs=2)
    assert not np.array_equal(first[0][0], first[1][0])      # a new draw every run
    assert not np.array_equal(first[0][1], first[1][1])
    g, p = build()
    again = _run([g, p], backend=backend, runs=2)              # same seeds: same sequence
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    tf.reset_default_graph()
    tf.set_random_seed(42)
    g1 = tf.random.gamma([4], [0.5, 2.0], seed=1)
    g2 = tf.random.gamma([4], [0.5, 2.0], seed=2)
    v1, v2 = _run([g1, g2], backend=backend)[0]
    assert not np.array_equal(v1, v2)                          # op seeds: their own streams
    tf.reset_default_graph()
    many = tf.random.gamma([300], 1.5)
    runs = _run(many, backend=backend, runs=3)
    for a, b in zip(runs, runs[1:]):            # consecutive runs' streams do not overlap
        assert not set(a.tolist()) & set(b.tolist())
    tf.reset_default_graph()
    tf.set_random_seed(42)
    np.testing.assert_array_equal(_run(tf.random.gamma([4], [0.5, 2.0], seed=1),
                                       backend=backend)[0], v1)


def test_backends_draw_the_same_values():
    tf.set_random_seed(7)
    g = tf.random.gamma([50], [0.3, 5.0], beta=2.0)
    p = tf.random.poisson([2.0, 30.0], [50], dtype=tf.int32)
    ref = _run([g, p], backend="reference", runs=2)
    native = _run([g, p], backend="llvm", runs=2)
    for a, b in zip(ref, native):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_gamma_moments_and_ks_against_scipy(backend):
    tf.set_random_seed(3)
    alpha = np.array([0.2, 1.0, 4.5, 60.0], np.float32)
    beta = np.array([1.0, 0.5, 3.0, 10.0], np.float32)
    n = 20000
    g = tf.random.gamma([n], alpha, beta=beta)
    x = _run(g, backend=backend)[0].astype(np.float64)
    assert x.shape == (n, 4)
    mean, var = alpha / beta, alpha / beta ** 2
    # the sample mean's standard error is sqrt(var / n); its variance's ~ var sqrt(2/n (1+3/a))
    assert np.all(np.abs(x.mean(0) - mean) < 5 * np.sqrt(var / n))
    assert np.all(np.abs(x.var(0) - var) < 5 * var * np.sqrt((2 + 6 / alpha) / n))
    for k in range(4):
        p = stats.kstest(x[:, k], stats.gamma(alpha[k], scale=1 / beta[k]).cdf).pvalue
        assert p > 1e-3, (alpha[k], beta[k], p)
    wrong = stats.kstest(x[:, 2], stats.gamma(alpha[2] * 1.1, scale=1 / beta[2]).cdf).pvalue
    assert wrong < 1e-6                                      # the test can tell


@pytest.mark.parametrize("backend", BACKENDS)
def test_poisson_moments_and_chi_square_against_scipy(backend):
    tf.set_random_seed(5)
    lam = np.array([0.3, 4.0, 25.0], np.float32)
    n = 20000
    p = tf.random.poisson(lam, [n], dtype=tf.int32)
    x = _run(p, backend=backend)[0]
    assert x.dtype == np.int32 and x.shape == (n, 3)
    assert np.all(np.abs(x.mean(0) - lam) < 5 * np.sqrt(lam / n))
    assert np.all(np.abs(x.var(0) - lam) < 5 * lam * np.sqrt((2 + 1 / lam) / n))
    for k in range(3):
        dist = stats.poisson(lam[k])
        hi = int(dist.ppf(0.999))
        counts = np.bincount(np.minimum(x[:, k], hi + 1), minlength=hi + 2)
        probs = np.append(dist.pmf(np.arange(hi + 1)), dist.sf(hi))
        keep = probs * n >= 5                                # chi-square's usual condition
        obs = np.append(counts[keep], counts[~keep].sum())
        exp = np.append(probs[keep], probs[~keep].sum()) * n
        obs, exp = obs[exp > 0], exp[exp > 0]
        assert stats.chisquare(obs, exp).pvalue > 1e-3, lam[k]


@pytest.mark.parametrize("backend", BACKENDS)
def test_poisson_edge_rates(backend):
    p = tf.random.poisson([0.0, -1.0, np.inf, np.nan], [3])
    x = _run(p, backend=backend)[0]
    np.testing.assert_array_equal(x[:, :2], 0)
    assert np.isposinf(x[:, 2]).all() and np.isnan(x[:, 3]).all()
    q = tf.random.poisson(tf.constant([2, 7]), [4], dtype=tf.int64)     # an int32 rate
    assert _run(q, backend=backend)[0].shape == (4, 2)


def test_gamma_grad_matches_the_implicit_derivative_of_scipys_inverse_cdf():
    """The op random_gamma_grad (TF's RandomGammaGrad): d P^-1(a, u) / da at the sample's u, vs central differences of
    SciPy's gammaincinv (independent of the series jitflow sums)."""
    rng = np.random.default_rng(0)
    for a in (0.05, 0.7, 1.0, 3.5, 40.0, 400.0):
        x = rng.standard_gamma(a, 400)
        u = special.gammainc(a, x)
        ok = (u > 1e-10) & (u < 1 - 1e-10)
        h = 1e-5 * a
        num = (special.gammaincinv(a + h, u) - special.gammaincinv(a - h, u)) / (2 * h)
        got = OPS["random_gamma_grad"].reference(np.float64(a), x)
        np.testing.assert_allclose(got[ok], num[ok], rtol=1e-5, atol=1e-12, err_msg=str(a))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_in_alpha_and_beta(backend):
    tf.set_random_seed(11)
    alpha = tf.placeholder(tf.float64, [3])
    beta = tf.placeholder(tf.float64, [3])
    g = tf.random.gamma([200], alpha, beta=beta, dtype=tf.float64)
    w = np.random.RandomState(0).rand(200, 3)
    loss = tf.reduce_sum(g * w)
    da, db = tf.gradients(loss, [alpha, beta])
    av, bv = np.array([0.4, 2.0, 9.0]), np.array([1.0, 2.0, 0.5])
    with tf.Session(backend=backend) as s:
        x, gda, gdb = s.run([g, da, db], {alpha: av, beta: bv})
    std = x * bv                                             # the standard gamma samples
    u = special.gammainc(av, std)
    h = 1e-6 * av
    dxda = (special.gammaincinv(av + h, u) - special.gammaincinv(av - h, u)) / (2 * h)
    np.testing.assert_allclose(gda, np.sum(w * dxda / bv, 0), rtol=1e-5)
    np.testing.assert_allclose(gdb, np.sum(-w * std / bv ** 2, 0), rtol=1e-9)
    assert tf.gradients(tf.reduce_sum(tf.random.poisson(alpha, [2], dtype=tf.float64)),
                        alpha)[0] is None                  # TF: not differentiable


@pytest.mark.parametrize("backend", BACKENDS)
def test_gamma_in_a_loop_draws_per_trip(backend):
    tf.set_random_seed(2)

    def body(i, acc):
        return i + 1, tf.concat([acc[1:], tf.random.gamma([1], 2.0)], 0)
    _, out = tf.while_loop(lambda i, acc: i < 4, body, [0, tf.zeros([4])])
    v = _run(out, backend=backend)[0]
    assert len(set(v.tolist())) == 4 and (v > 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_of_gamma_drawn_in_a_loop(backend):
    """The loop's gradient replays each trip's draw: d(sum of trips' samples)/d alpha is the
    sum of their implicit derivatives."""
    tf.set_random_seed(3)
    a = tf.placeholder(tf.float64, [])

    def body(i, acc, xs):
        x = tf.random.gamma([], a, dtype=tf.float64)
        return i + 1, acc + x, tf.concat([xs[1:], tf.reshape(x, [1])], 0)
    _, acc, xs = tf.while_loop(lambda i, acc, xs: i < 3, body,
                               [0, tf.constant(0.0, tf.float64), tf.zeros([3], tf.float64)])
    g = tf.gradients(acc, a)[0]
    with tf.Session(backend=backend) as s:
        accv, xv, gv = s.run([acc, xs, g], {a: 2.5})
    assert len(set(xv.tolist())) == 3 and np.isclose(accv, xv.sum())
    u = special.gammainc(2.5, xv)
    h = 1e-6
    num = (special.gammaincinv(2.5 + h, u) - special.gammaincinv(2.5 - h, u)) / (2 * h)
    np.testing.assert_allclose(gv, num.sum(), rtol=1e-6)


def test_graph_def_round_trip():
    """RandomGamma / RandomPoissonV2 nodes (TF's types and attrs) out and back in: the
    imported graph draws the same values (same seeds, a computed shape included)."""
    tf.set_random_seed(1)
    x = tf.placeholder(tf.float32, [None], name="x")
    tf.random.gamma([3], [1.0, 2.0], name="g")
    tf.random.poisson(2.0, tf.shape(x), dtype=tf.int64, name="p")
    feed = {"x:0": np.zeros(4, np.float32)}
    want = _run(["g:0", "p:0"], feed)[0]
    gd = tf.get_default_graph().as_graph_def()
    ops = {nd.op: nd for nd in gd.node}
    assert ops["RandomGamma"].attr["T"].type == 1 and ops["RandomGamma"].attr["seed"].i == 1
    assert ops["RandomPoissonV2"].attr["dtype"].type == 9          # DT_INT64
    tf.reset_default_graph()
    tf.import_graph_def(gd, name="")
    got = _run(["g:0", "p:0"], feed)[0]
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
