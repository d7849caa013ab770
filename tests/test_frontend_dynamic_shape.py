"""Shapes computed from tf.shape(x): tf.zeros/ones/fill and the random ops (the denoising and
variational autoencoders of the handson-ml ch15 corpus: ``X + noise * tf.random_normal(tf.shape(X))``,
``mu + sigma * tf.random_normal(tf.shape(sigma))``)."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield


def _graph():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    outs = {
        "zeros": tf.zeros(tf.shape(x)),
        "ones_int": tf.ones([tf.shape(x)[0], 5], dtype=tf.int32),
        "fill": tf.fill(tf.concat([tf.shape(x)[:1], [2]], 0), 7.0),
        "fill_rev": tf.zeros(tf.stack([4, tf.shape(x)[0]])),
        "normal": tf.random_normal(tf.shape(x), seed=1),
        "uniform": tf.random_uniform(tf.stack([tf.shape(x)[0], 4]), seed=2),
        "truncated": tf.truncated_normal([tf.shape(x)[-1], tf.shape(x)[0]], seed=3),
    }
    return x, outs


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_shapes_follow_the_fed_batch(backend):
    x, outs = _graph()
    assert outs["zeros"].shape.as_list() == [None, 3]
    assert outs["fill_rev"].shape.as_list() == [4, None]
    with tf.Session(backend=backend) as sess:
        for n in (4, 1, 7):
            got = sess.run(outs, {x: np.ones((n, 3), np.float32)})
            assert got["zeros"].shape == (n, 3) and not got["zeros"].any()
            assert got["ones_int"].shape == (n, 5) and got["ones_int"].dtype == np.int32
            assert (got["ones_int"] == 1).all()
            assert got["fill"].shape == (n, 2) and (got["fill"] == 7.0).all()
            assert got["fill_rev"].shape == (4, n)
            assert got["normal"].shape == (n, 3) and got["normal"].dtype == np.float32
            assert got["uniform"].shape == (n, 4)
            assert ((got["uniform"] >= 0) & (got["uniform"] < 1)).all()
            assert got["truncated"].shape == (3, n) and (np.abs(got["truncated"]) <= 2).all()


def test_random_values_with_a_dynamic_shape_agree_across_backends():
    x, outs = _graph()
    feed = {x: np.zeros((6, 3), np.float32)}
    fetch = [outs["normal"], outs["uniform"], outs["truncated"]]
    with tf.Session(backend="reference") as ref, tf.Session(backend="llvm") as native:
        for a, b in zip(ref.run(fetch, feed), native.run(fetch, feed)):
            assert a.tobytes() == b.tobytes()


def test_denoising_autoencoder_trains_with_noise_shaped_like_its_input():
    rng = np.random.RandomState(0)
    data = rng.rand(64, 8).astype(np.float32)
    X = tf.placeholder(tf.float32, [None, 8])
    noisy = X + 0.05 * tf.random_normal(tf.shape(X), seed=4)
    hidden = tf.layers.dense(noisy, 4, activation=tf.nn.relu)
    out = tf.layers.dense(hidden, 8)
    loss = tf.reduce_mean(tf.square(out - X))
    train = tf.train.AdamOptimizer(0.01).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {X: data})
        for _ in range(200):
            sess.run(train, {X: data})
        assert sess.run(loss, {X: data}) < 0.5 * first


def test_reparameterization_gradients_use_the_sampled_noise():
    mu = tf.Variable(np.zeros((5, 2), np.float32))
    log_sigma = tf.Variable(np.full((5, 2), 0.5, np.float32))
    eps = tf.random_normal(tf.shape(log_sigma), seed=5)
    z = mu + tf.exp(log_sigma) * eps
    g_mu, g_ls = tf.gradients(tf.reduce_sum(z), [mu, log_sigma])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        e, gm, gl = sess.run([eps, g_mu, g_ls])          # one run: one sample
        np.testing.assert_allclose(gm, np.ones((5, 2)))
        np.testing.assert_allclose(gl, np.exp(0.5) * e, rtol=1e-6)


def test_arithmetic_on_dims_runs_on_the_host():
    """Shapes from arithmetic on dims are values the graph computes: zeros_of_shape, run on
    the host (tests/test_computed_shapes.py has the rest)."""
    x = tf.placeholder(tf.float32, [None, 3])
    z = tf.zeros([tf.shape(x)[0] * 2, 3])
    r = tf.random_normal(tf.shape(x) + 1)
    assert z.shape.as_list() == [None, 3] and r.shape.as_list() == [None, None]
    with tf.Session() as s:
        zv, rv = s.run([z, r], {x: np.zeros((4, 3), np.float32)})
    assert zv.shape == (8, 3) and not zv.any() and rv.shape == (5, 4)


def test_unknown_rank_is_a_clear_error():
    x = tf.placeholder(tf.float32)
    with pytest.raises(ValueError, match="length known at graph build .the result's rank"):
        tf.zeros(tf.shape(x))


def test_static_shapes_keep_the_fill_op():
    x = tf.placeholder(tf.float32, [2, 3])
    z = tf.zeros(tf.shape(x))                       # fully known: tf.shape folds to a constant
    assert z.op.type == "Fill" and z.shape.as_list() == [2, 3]
    assert tf.zeros([2, 3]).op.type == "Fill"


def test_cuda_backend_follows_the_dynamic_shape():
    from _cuda_util import usable_or_skip
    usable_or_skip()
    x, outs = _graph()
    feed = {x: np.zeros((3, 3), np.float32)}
    fetch = [outs["zeros"], outs["fill"], outs["normal"], outs["uniform"]]
    with tf.Session(backend="reference") as ref, tf.Session(backend="cuda") as dev:
        for a, b in zip(ref.run(fetch, feed), dev.run(fetch, feed)):
            assert a.shape == b.shape
            assert a.tobytes() == np.asarray(b).tobytes()


# ------------------------------------------------------------------ property-based ---------
from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def _shape_exprs(draw):
    """A rank-3 input shape and a shape expression over tf.shape(x): a list of pieces, each a
    constant, an index (possibly negative) or a slice (with steps) of the shape vector."""
    dims = draw(st.lists(st.integers(0, 4), min_size=3, max_size=3))
    pieces = draw(st.lists(st.one_of(
        st.tuples(st.just("const"), st.integers(0, 3)),
        st.tuples(st.just("index"), st.integers(-3, 2)),
        st.tuples(st.just("slice"), st.one_of(st.none(), st.integers(-3, 3)),
                  st.one_of(st.none(), st.integers(-3, 3)), st.sampled_from([1, 2, -1]))),
        min_size=1, max_size=4))
    return dims, pieces


@settings(max_examples=40, deadline=None)
@given(_shape_exprs())
def test_shapes_built_from_tf_shape_match_numpy(case):
    tf.reset_default_graph()
    dims, pieces = case
    x = tf.placeholder(tf.float32, [None, None, None])
    s = tf.shape(x)
    want_dims = np.array(dims)
    parts, want = [], []
    for p in pieces:
        if p[0] == "const":
            parts.append(tf.constant([p[1]]))
            want.append(p[1])
        elif p[0] == "index":
            parts.append(tf.stack([s[p[1]]]))
            want.append(int(want_dims[p[1]]))
        else:
            parts.append(s[p[1]:p[2]:p[3]])
            want.extend(int(d) for d in want_dims[p[1]:p[2]:p[3]])
    shape = tf.concat(parts, 0)
    if not want:
        return                                   # a rank-0 result: nothing to compare
    z = tf.zeros(shape)
    r = tf.random_uniform(shape, seed=1)
    with tf.Session() as sess:
        zv, rv = sess.run([z, r], {x: np.zeros(dims, np.float32)})
    assert zv.shape == tuple(want) and rv.shape == tuple(want)
