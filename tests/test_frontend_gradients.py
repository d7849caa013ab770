"""tf.gradients against NumPy-computed derivatives; TF1's None rules, grad_ys, stop_gradient."""
import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)


def run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def test_gradient_of_elementwise_expression_matches_numpy():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.reduce_sum(tf.square(x) * 3.0 + tf.exp(x) - tf.tanh(x) * x)
    (g,) = tf.gradients(y, [x])
    got = run(g, {x: X})
    t = np.tanh(X)
    want = 6 * X + np.exp(X) - (1 - t ** 2) * X - t
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_gradient_through_matmul_broadcast_and_mean():
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2) / 5.0)
    b = tf.constant([0.5, -0.5])
    z = tf.matmul(x, w) + b
    loss = tf.reduce_mean(tf.square(z))
    gx, gw, gb = tf.gradients(loss, [x, w, b])
    got_x, got_w, got_b = run([gx, gw, gb], {x: X})
    wn = np.arange(6, dtype=np.float32).reshape(3, 2) / 5.0
    zn = X @ wn + np.array([0.5, -0.5], np.float32)
    dz = 2 * zn / zn.size
    np.testing.assert_allclose(got_x, dz @ wn.T, rtol=1e-5)
    np.testing.assert_allclose(got_w, X.T @ dz, rtol=1e-5)
    np.testing.assert_allclose(got_b, dz.sum(axis=0), rtol=1e-5)
    assert gx.shape.as_list() == [None, 3]
    assert gb.shape.as_list() == [2]


def test_disconnected_and_integer_xs_give_none():
    x = tf.placeholder(tf.float32, [3])
    unrelated = tf.placeholder(tf.float32, [3])
    i = tf.placeholder(tf.int32, [3])
    y = tf.reduce_sum(x * 2.0) + tf.reduce_sum(tf.cast(i, tf.float32))
    gx, gu, gi = tf.gradients(y, [x, unrelated, i])
    assert gu is None
    assert gi is None  # integer tensors get no gradient
    np.testing.assert_allclose(run(gx, {x: [1, 2, 3], i: [1, 1, 1]}), [2, 2, 2])
    zero = tf.gradients(y, [unrelated], unconnected_gradients="zero")[0]
    np.testing.assert_array_equal(run(zero, {unrelated: [1, 1, 1]}), [0, 0, 0])


def test_grad_ys_weights_the_output():
    x = tf.placeholder(tf.float32, [3])
    y = tf.square(x)
    (g,) = tf.gradients(y, x, grad_ys=tf.constant([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(run(g, {x: [1.0, 2.0, -1.0]}), [2.0, 0.0, -4.0])
    (g2,) = tf.gradients(y, x, grad_ys=[[3.0, 3.0, 3.0]][0])
    np.testing.assert_allclose(run(g2, {x: [1.0, 2.0, -1.0]}), [6.0, 12.0, -6.0])


def test_multiple_ys_are_summed():
    x = tf.placeholder(tf.float32, [2])
    (g,) = tf.gradients([tf.reduce_sum(x * x), tf.reduce_sum(3.0 * x)], [x])
    np.testing.assert_allclose(run(g, {x: [1.0, -2.0]}), [5.0, -1.0])


def test_stop_gradient_blocks_backprop():
    x = tf.placeholder(tf.float32, [3])
    y = tf.reduce_sum(x * tf.stop_gradient(x))
    (g,) = tf.gradients(y, x)
    np.testing.assert_allclose(run(g, {x: [1.0, 2.0, -1.0]}), [1.0, 2.0, -1.0])
    only_stopped = tf.reduce_sum(tf.stop_gradient(x * 2.0))
    assert tf.gradients(only_stopped, x) == [None]


def test_gradient_wrt_variable_through_value_and_ops():
    v = tf.Variable([1.0, 2.0], name="v")
    w = tf.Variable([[1.0], [0.5]], name="w")
    # v used directly (operators), through v.value(), and through tf ops
    loss = (tf.reduce_sum(v * v) + tf.reduce_sum(tf.exp(v.value()))
            + tf.reduce_sum(tf.matmul(tf.reshape(v, [1, 2]), w)))
    gv, gw = tf.gradients(loss, [v, w])
    (gv_read,) = tf.gradients(loss, [v.value()])
    got_v, got_w, got_read = run([gv, gw, gv_read])
    vn = np.array([1.0, 2.0])
    want_v = 2 * vn + np.exp(vn) + np.array([1.0, 0.5])
    np.testing.assert_allclose(got_v, want_v, rtol=1e-6)
    np.testing.assert_allclose(got_read, want_v, rtol=1e-6)
    np.testing.assert_allclose(got_w, [[1.0], [2.0]])


def test_gradient_of_maximum_ties_go_to_x_and_relu_zero_at_zero():
    x = tf.placeholder(tf.float32, [3])
    y = tf.placeholder(tf.float32, [3])
    gx, gy = tf.gradients(tf.reduce_sum(tf.maximum(x, y)), [x, y])
    got_x, got_y = run([gx, gy], {x: [1.0, 2.0, 3.0], y: [1.0, 5.0, 0.0]})
    np.testing.assert_array_equal(got_x, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(got_y, [0.0, 1.0, 0.0])
    (gr,) = tf.gradients(tf.reduce_sum(tf.nn.relu(x)), x)
    np.testing.assert_array_equal(run(gr, {x: [-1.0, 0.0, 2.0]}), [0.0, 0.0, 1.0])


def test_gradient_through_placeholder_with_default():
    c = tf.constant([1.0, 2.0])
    p = tf.placeholder_with_default(c, shape=[2])
    (g,) = tf.gradients(tf.reduce_sum(p * p), c)
    np.testing.assert_allclose(run(g), [2.0, 4.0])


def test_gradients_are_graph_ops_under_gradients_scope():
    x = tf.placeholder(tf.float32, [2], name="x")
    (g,) = tf.gradients(tf.reduce_sum(x * x), x)
    assert g.name.startswith("gradients")
    assert g.graph is tf.get_default_graph()
    (g2,) = tf.gradients(tf.reduce_sum(x), x)
    assert g2.op.name != g.op.name


def test_gradients_live_under_the_current_name_scope():
    x = tf.placeholder(tf.float32, [2], name="x")
    with tf.name_scope("train"):
        (g,) = tf.gradients(tf.reduce_sum(x * x), x)
    assert g.op.name.startswith("train/gradients")
