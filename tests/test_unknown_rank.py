"""Placeholders without a shape (unknown rank), as TF1 tutorials write them: ops accept them
at graph build, each run's fed value fixes the rank (a new rank is a new compilation, a new
batch size is not), and tf.rank / assert_rank / ensure_shape check at run time."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def _graph():
    with tf.Graph().as_default():
        yield


def _softmax_xent(labels, logits):
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -(labels * logp).sum(-1)


def test_softmax_cross_entropy_on_shapeless_placeholders():
    x, y = tf.placeholder(tf.float32), tf.placeholder("float")
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x))
    rng = np.random.RandomState(0)
    logits = rng.randn(5, 4).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)[rng.randint(0, 4, 5)]
    with tf.Session() as s:
        got = s.run(loss, {x: logits, y: labels})
    np.testing.assert_allclose(got, _softmax_xent(labels, logits).mean(), rtol=1e-5)


def test_tutorial_softmax_regression_trains_with_a_shapeless_input():
    """The classic `x = tf.placeholder(tf.float32)` + Variables + GradientDescent program."""
    x, y_ = tf.placeholder(tf.float32), tf.placeholder(tf.float32)
    W = tf.Variable(tf.zeros([3, 2]))
    b = tf.Variable(tf.zeros([2]))
    logits = tf.matmul(x, W) + b
    assert logits.shape.ndims is None            # unknown until a value is fed
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y_, 1)), tf.float32))
    rng = np.random.RandomState(1)
    data = rng.randn(64, 3).astype(np.float32)
    labels = np.eye(2, dtype=np.float32)[(data[:, 0] + data[:, 1] > 0).astype(int)]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        first = s.run(loss, {x: data, y_: labels})
        for _ in range(60):
            s.run(train, {x: data, y_: labels})
        last, a = s.run([loss, acc], {x: data, y_: labels})
    assert last < first * 0.5 and a > 0.9


@pytest.mark.parametrize("build, ref", [
    (lambda x: tf.reduce_sum(x, axis=1), lambda v: v.sum(1)),
    (lambda x: tf.reduce_max(x, axis=-1, keepdims=True), lambda v: v.max(-1, keepdims=True)),
    (lambda x: tf.nn.softmax(x), lambda v: np.exp(v) / np.exp(v).sum(-1, keepdims=True)),
    (lambda x: tf.transpose(x), lambda v: v.T),
    (lambda x: tf.concat([x, x * 2.0], 0), lambda v: np.concatenate([v, v * 2], 0)),
    (lambda x: tf.expand_dims(x, 0)[:, 1:], lambda v: v[None][:, 1:]),
    (lambda x: tf.where(x > 0.5, x, tf.zeros_like(x)), lambda v: np.where(v > 0.5, v, 0)),
    (lambda x: tf.tile(x, [1, 2]), lambda v: np.tile(v, [1, 2])),
    (lambda x: tf.gradients(tf.reduce_sum(tf.square(x) * 3.0), x)[0], lambda v: 6 * v),
])
def test_ops_accept_unknown_rank_and_compute_with_the_fed_rank(build, ref):
    x = tf.placeholder(tf.float32)
    out = build(x)
    v = np.random.RandomState(2).rand(3, 4).astype(np.float32)
    with tf.Session() as s:
        np.testing.assert_allclose(s.run(out, {x: v}), ref(v), rtol=1e-5, atol=1e-6)


def test_static_types_are_kept_where_the_rank_cannot_matter():
    x = tf.placeholder(tf.float32)
    assert tf.reshape(x, [-1, 3]).shape.as_list() == [None, 3]
    assert tf.shape(x).shape.as_list() == [None]
    assert tf.nn.l2_loss(x).shape.as_list() == []
    assert tf.size(x).shape.as_list() == []


def test_a_new_rank_recompiles_a_new_batch_size_does_not():
    x = tf.placeholder(tf.float32)
    y = tf.reduce_sum(x * 2.0)
    with tf.Session() as s:
        assert s.run(y, {x: np.ones((2, 3))}) == 12
        assert s.run(y, {x: np.ones((5, 3))}) == 30
        n = len(s._cache)
        assert s.run(y, {x: np.ones((2, 3, 4))}) == 48
        assert s.run(y, {x: np.ones(7)}) == 14
        assert len(s._cache) == n + 2


def test_rank_is_computed_at_run_time():
    x = tf.placeholder(tf.float32)
    r = tf.rank(x)
    with tf.Session() as s:
        assert s.run(r, {x: np.ones((2, 3))}) == 2
        assert s.run(r, {x: np.ones((2, 3, 1, 1))}) == 4
    assert tf.rank(tf.zeros([2, 5])).op.type == "Const"


def test_assert_rank_of_an_unknown_rank_checks_at_run_time():
    x = tf.placeholder(tf.float32)
    with tf.control_dependencies([tf.assert_rank(x, 2, message="need a matrix")]):
        y = tf.identity(x)
    with tf.Session() as s:
        assert s.run(y, {x: np.ones((2, 2))}).shape == (2, 2)
        with pytest.raises(tf.errors.InvalidArgumentError, match="need a matrix.*must have rank 2"):
            s.run(y, {x: np.ones(3)})
    with pytest.raises(ValueError, match="must have rank 3"):
        tf.assert_rank(tf.zeros([2]), 3)


def test_ensure_shape_sets_the_static_shape_and_checks_the_run():
    x = tf.placeholder(tf.float32)
    y = tf.ensure_shape(x, [None, 3])
    assert y.shape.as_list() == [None, 3]
    z = tf.layers.dense(y, 2)          # the static last dim makes the layer buildable
    assert z.shape.as_list() == [None, 2]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        assert s.run(z, {x: np.ones((4, 3))}).shape == (4, 2)
        with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected"):
            s.run(y, {x: np.ones((4, 5))})
        with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected"):
            s.run(y, {x: np.ones((4, 3, 1))})
    p = tf.placeholder(tf.float32, [None, 4])
    assert tf.ensure_shape(p, [8, None]).shape.as_list() == [8, 4]
    with pytest.raises(ValueError, match="not compatible"):
        tf.ensure_shape(p, [None, 5])


def test_a_real_type_error_still_raises_at_graph_build():
    x = tf.placeholder(tf.int32)
    with pytest.raises(TypeError):
        tf.matmul(x, tf.ones([3, 2]))
    with pytest.raises(ValueError):
        tf.layers.dense(tf.placeholder(tf.float32), 2)   # as in TF: the last dim must be known
