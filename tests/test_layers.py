"""tf.layers and tf.losses: TF1 naming, initializers, regularizers, values against NumPy
(formulas checked against TensorFlow 2.21's tf.compat.v1.layers/losses), training behaviour."""
import math
import re

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow.frontend import layers as L
from jitflow.frontend import nn as _nn


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _ops(prefix=""):
    return [o.name for o in tf.get_default_graph().get_operations() if o.name.startswith(prefix)]


def _run(fetches, feed=None, init=True):
    with tf.Session() as s:
        if init:
            s.run(tf.global_variables_initializer())
        return s.run(fetches, feed)


needs_conv = pytest.mark.skipif(not hasattr(_nn, "conv2d"), reason="tf.nn.conv2d not available")
needs_pool = pytest.mark.skipif(not hasattr(_nn, "max_pool"), reason="tf.nn.max_pool not available")
needs_xent = pytest.mark.skipif(not hasattr(_nn, "sparse_softmax_cross_entropy_with_logits"),
                                reason="tf.nn cross-entropy ops not available")


# ---------------------------------------------------------------------- naming -------------

def test_dense_names_follow_tf1():
    X = tf.placeholder(tf.float32, (None, 4), name="X")
    with tf.name_scope("dnn"):
        h = tf.layers.dense(X, 3, activation=tf.nn.relu, name="hidden1")
        d = tf.layers.dense(h, 2)
        d2 = tf.layers.dense(d, 2)
    assert [v.name for v in tf.global_variables()] == [
        "hidden1/kernel:0", "hidden1/bias:0", "dense/kernel:0", "dense/bias:0",
        "dense_1/kernel:0", "dense_1/bias:0"]
    assert [v.name for v in tf.trainable_variables()] == [v.name for v in tf.global_variables()]
    assert h.name == "dnn/hidden1/Relu:0"
    assert d.name == "dnn/dense/BiasAdd:0" and d2.name == "dnn/dense_1/BiasAdd:0"
    names = _ops("dnn/")
    assert names == ["dnn/hidden1/MatMul", "dnn/hidden1/BiasAdd", "dnn/hidden1/Relu",
                     "dnn/dense/MatMul", "dnn/dense/BiasAdd", "dnn/dense_1/MatMul",
                     "dnn/dense_1/BiasAdd"]
    g = tf.get_default_graph()
    assert g.get_operation_by_name("hidden1/kernel/Assign").type == "Assign"
    assert g.get_tensor_by_name("hidden1/kernel/read:0") is not None
    assert any(n.startswith("hidden1/kernel/Initializer/") for n in _ops("hidden1/"))
    kernel = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="hidden1")[0]
    assert kernel.shape.as_list() == [4, 3]


def test_duplicate_name_raises_unless_reuse():
    X = tf.placeholder(tf.float32, (None, 4), name="X")
    with tf.name_scope("dnn"):
        h = tf.layers.dense(X, 3, name="h")
        with pytest.raises(ValueError, match=r"Variable h/kernel already exists, disallowed. "
                                             r"Did you mean to set reuse=True"):
            tf.layers.dense(X, 3, name="h")
        h_again = tf.layers.dense(X, 3, name="h", reuse=True)
        h_auto = tf.layers.dense(X, 3, name="h", reuse=tf.AUTO_REUSE)
        new = tf.layers.dense(X, 3, name="h_new", reuse=tf.AUTO_REUSE)
    assert [v.name for v in tf.global_variables()] == ["h/kernel:0", "h/bias:0",
                                                       "h_new/kernel:0", "h_new/bias:0"]
    assert new.op.name == "dnn/h_new/BiasAdd"
    assert re.fullmatch(r"dnn/h_\d/BiasAdd", h_again.op.name)
    x = np.random.RandomState(0).randn(5, 4).astype(np.float32)
    a, b, c = _run([h, h_again, h_auto], {X: x})
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    with pytest.raises(ValueError, match="does not exist"):
        tf.layers.dense(X, 3, name="never_made", reuse=True)


def test_layer_object_called_twice_shares_variables():
    X = tf.placeholder(tf.float32, (None, 4), name="X")
    layer = tf.layers.Dense(3, name="shared")
    y1 = layer(X)
    y2 = layer.apply(X * 2.0)
    assert len(tf.global_variables()) == 2
    assert [v.name for v in layer.trainable_weights] == ["shared/kernel:0", "shared/bias:0"]
    assert layer.kernel.name == "shared/kernel:0"
    x = np.ones((2, 4), np.float32)
    a, b = _run([y1, y2], {X: x})
    assert not np.allclose(a, b)


# ---------------------------------------------------------------------- dense values -------

def test_dense_values_initializers_and_rank3():
    rng = np.random.RandomState(1)
    k = rng.randn(3, 4).astype(np.float32)
    b = rng.randn(4).astype(np.float32)
    X = tf.placeholder(tf.float32, (None, 3))
    X3 = tf.placeholder(tf.float32, (None, 5, 3))
    X3u = tf.placeholder(tf.float32, (None, None, 3))
    kw = dict(kernel_initializer=tf.constant_initializer(k), bias_initializer=tf.constant_initializer(b))
    y = tf.layers.dense(X, 4, activation=tf.nn.relu, **kw)
    y3 = tf.layers.dense(X3, 4, **kw)
    y3u = tf.layers.dense(X3u, 4, **kw)
    assert y3.shape.as_list() == [None, 5, 4]
    assert y3u.shape.as_list() == [None, None, 4]
    assert "dense_1/Tensordot/MatMul" in _ops("dense_1/")
    x = rng.randn(6, 3).astype(np.float32)
    x3 = rng.randn(2, 5, 3).astype(np.float32)
    out, out3, out3u = _run([y, y3, y3u], {X: x, X3: x3, X3u: x3})
    np.testing.assert_allclose(out, np.maximum(x @ k + b, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out3, np.tensordot(x3, k, [[2], [0]]) + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out3u, out3, rtol=1e-5, atol=1e-6)


def test_dense_default_initializers_glorot_uniform_and_zero_bias():
    tf.set_random_seed(3)
    X = tf.placeholder(tf.float32, (None, 300))
    tf.layers.dense(X, 200, name="big")
    kernel, bias = tf.global_variables()
    kv, bv = _run([kernel, bias])
    limit = math.sqrt(6.0 / (300 + 200))
    assert np.all(np.abs(kv) <= limit) and np.abs(kv).max() > 0.95 * limit
    assert abs(kv.std() - limit / math.sqrt(3)) < 0.05 * limit
    assert abs(kv.mean()) < 0.01
    np.testing.assert_array_equal(bv, np.zeros(200, np.float32))


def test_dense_errors_and_options():
    with pytest.raises(ValueError, match="last dimension of the inputs to `Dense` should be defined"):
        tf.layers.dense(tf.placeholder(tf.float32, (None, None)), 3)
    X = tf.placeholder(tf.float32, (None, 2))
    y = tf.layers.dense(X, 3, use_bias=False, trainable=False, name="frozen")
    assert [v.name for v in tf.global_variables()] == ["frozen/kernel:0"]
    assert tf.trainable_variables() == []
    assert y.op.type == "MatMul"


# ---------------------------------------------------------------------- regularizers -------

def test_kernel_regularizer_collection_and_value():
    X = tf.placeholder(tf.float32, (None, 3))
    k = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    with tf.name_scope("dnn"):
        tf.layers.dense(X, 4, kernel_initializer=tf.constant_initializer(k),
                        kernel_regularizer=L.l2_regularizer(0.3), name="h")
        tf.layers.dense(X, 4, name="h", reuse=True)      # reuse adds no second loss
        tf.layers.dense(X, 2, kernel_regularizer=L.l1_regularizer(0.5), name="h2")
        tf.layers.dense(X, 2, kernel_regularizer=L.l2_regularizer(0.0), name="h3")
    regs = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(regs) == 2
    assert regs[0].name.startswith("dnn/h/kernel/Regularizer/")
    total = tf.losses.get_regularization_loss()
    assert total.name == "total_regularization_loss:0"
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        r0, r1, t, k2 = s.run([regs[0], regs[1], total, tf.global_variables()[2]])
    assert r0 == pytest.approx(0.3 * 0.5 * float((k ** 2).sum()), rel=1e-5)
    assert r1 == pytest.approx(0.5 * float(np.abs(k2).sum()), rel=1e-5)
    assert t == pytest.approx(r0 + r1, rel=1e-5)
    # scoped query and the empty case
    assert len(tf.losses.get_regularization_losses(scope="dnn/h2")) == 1
    tf.reset_default_graph()
    assert _run(tf.losses.get_regularization_loss(), init=False) == 0.0


def test_regularizer_helpers():
    w = tf.constant([[1.0, -2.0], [3.0, -4.0]])
    l1, l2, both = L.l1_regularizer(0.1)(w), L.l2_regularizer(0.2)(w), \
        L.l1_l2_regularizer(0.1, 0.2)(w)
    a, b, c = _run([l1, l2, both], init=False)
    assert a == pytest.approx(1.0) and b == pytest.approx(3.0) and c == pytest.approx(4.0)
    with pytest.raises(ValueError):
        L.l2_regularizer(-1.0)
    assert L.l2_regularizer(0.0)(w) is None


# ---------------------------------------------------------------------- conv / pool --------

def _tf_pad(n, k, s, padding):
    if padding == "VALID":
        return (n - k) // s + 1, 0
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2


def _np_conv(x, w, s, padding):
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    oh, pt = _tf_pad(h, kh, s, padding)
    ow, pl = _tf_pad(wd, kw, s, padding)
    xp = np.zeros((n, h + 2 * kh, wd + 2 * kw, c), x.dtype)
    xp[:, pt:pt + h, pl:pl + wd] = x
    out = np.zeros((n, oh, ow, f), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * s:i * s + kh, j * s:j * s + kw, :]
            out[:, i, j, :] = np.tensordot(patch, w, [[1, 2, 3], [0, 1, 2]])
    return out


def _np_pool(x, k, s, padding, mode):
    n, h, wd, c = x.shape
    oh, pt = _tf_pad(h, k, s, padding)
    ow, pl = _tf_pad(wd, k, s, padding)
    out = np.zeros((n, oh, ow, c), np.float64)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - pt, j * s - pl
            win = x[:, max(r0, 0):min(r0 + k, h), max(c0, 0):min(c0 + k, wd), :]
            out[:, i, j, :] = win.max(axis=(1, 2)) if mode == "max" else win.mean(axis=(1, 2))
    return out


@needs_conv
def test_conv2d_layer_names_shapes_and_values():
    rng = np.random.RandomState(2)
    kc = rng.randn(3, 3, 2, 4).astype(np.float32)
    bc = rng.randn(4).astype(np.float32)
    img = tf.placeholder(tf.float32, (None, 7, 7, 2), name="img")
    with tf.name_scope("cnn"):
        c1 = tf.layers.conv2d(img, filters=4, kernel_size=3, strides=2, padding="SAME",
                              activation=tf.nn.relu, kernel_initializer=tf.constant_initializer(kc),
                              bias_initializer=tf.constant_initializer(bc), name="conv1")
        c2 = tf.layers.conv2d(img, 4, (3, 3), kernel_initializer=tf.constant_initializer(kc))
    assert [v.name for v in tf.global_variables()] == [
        "conv1/kernel:0", "conv1/bias:0", "conv2d/kernel:0", "conv2d/bias:0"]
    assert tf.global_variables()[0].shape.as_list() == [3, 3, 2, 4]
    assert c1.name == "cnn/conv1/Relu:0" and c1.shape.as_list() == [None, 4, 4, 4]
    assert "cnn/conv1/Conv2D" in _ops("cnn/") and "cnn/conv1/BiasAdd" in _ops("cnn/")
    assert c2.shape.as_list() == [None, 5, 5, 4]
    x = rng.randn(2, 7, 7, 2).astype(np.float32)
    o1, o2 = _run([c1, c2], {img: x})
    np.testing.assert_allclose(o1, np.maximum(_np_conv(x, kc, 2, "SAME") + bc, 0), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(o2, _np_conv(x, kc, 1, "VALID"), rtol=1e-4, atol=1e-4)


@needs_conv
def test_conv2d_glorot_fans():
    tf.set_random_seed(5)
    img = tf.placeholder(tf.float32, (None, 8, 8, 16))
    tf.layers.conv2d(img, 32, 5)
    kv = _run(tf.global_variables()[0])
    limit = math.sqrt(6.0 / (5 * 5 * 16 + 5 * 5 * 32))
    assert np.abs(kv).max() <= limit and np.abs(kv).max() > 0.95 * limit


@needs_pool
def test_pooling_and_flatten_layers():
    rng = np.random.RandomState(3)
    img = tf.placeholder(tf.float32, (None, 5, 5, 3), name="img")
    mp = tf.layers.max_pooling2d(img, 2, 2)
    mps = tf.layers.max_pooling2d(img, pool_size=(2, 2), strides=2, padding="same")
    ap = tf.layers.average_pooling2d(img, 2, 2, padding="same")
    fl = tf.layers.flatten(ap)
    assert mp.name == "max_pooling2d/MaxPool:0" and mp.shape.as_list() == [None, 2, 2, 3]
    assert mps.shape.as_list() == [None, 3, 3, 3]
    assert ap.name == "average_pooling2d/AvgPool:0"
    assert fl.name == "flatten/Reshape:0" and fl.shape.as_list() == [None, 27]
    x = rng.randn(2, 5, 5, 3).astype(np.float32)
    a, b, c, d = _run([mp, mps, ap, fl], {img: x}, init=False)
    np.testing.assert_allclose(a, _np_pool(x, 2, 2, "VALID", "max"), rtol=1e-6)
    np.testing.assert_allclose(b, _np_pool(x, 2, 2, "SAME", "max"), rtol=1e-6)
    np.testing.assert_allclose(c, _np_pool(x, 2, 2, "SAME", "avg"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d, c.reshape(2, -1), rtol=1e-6)


def test_flatten_rank2_and_1():
    v = tf.placeholder(tf.float32, (None,))
    x = tf.placeholder(tf.float32, (4, None, 3))
    assert tf.layers.flatten(v).shape.as_list() == [None, 1]
    assert tf.layers.flatten(x).shape.as_list() == [4, None]


# ---------------------------------------------------------------------- dropout ------------

def test_dropout_training_modes():
    X = tf.placeholder(tf.float32, (None, 1000))
    training = tf.placeholder_with_default(False, shape=(), name="training")
    off = tf.layers.dropout(X, rate=0.3)
    on = tf.layers.dropout(X, rate=0.3, training=True)
    fed = tf.layers.dropout(X, rate=0.3, training=training)
    assert off.op.name == "dropout/Identity"
    x = np.random.RandomState(0).rand(50, 1000).astype(np.float32) + 0.5
    with tf.Session() as s:
        o_off, o_on, o_fed = s.run([off, on, fed], {X: x})
        np.testing.assert_array_equal(o_off, x)
        np.testing.assert_array_equal(o_fed, x)           # default False: identity
        kept = o_on != 0
        assert abs(kept.mean() - 0.7) < 0.02
        np.testing.assert_allclose(o_on[kept], x[kept] / 0.7, rtol=1e-6)
        o_fed_t, o_on2 = s.run([fed, on], {X: x, training: True})
        kept_t = o_fed_t != 0
        assert abs(kept_t.mean() - 0.7) < 0.02
        np.testing.assert_allclose(o_fed_t[kept_t], x[kept_t] / 0.7, rtol=1e-6)
        assert not np.array_equal(o_on2 != 0, kept)       # a new mask every run
    with pytest.raises(TypeError):
        tf.layers.dropout(X, 0.5, training=tf.placeholder(tf.float32, ()))


# ---------------------------------------------------------------------- batch norm ---------

def _bn_ref(x, axes, mean, var, gamma=1.0, beta=0.0, eps=1e-3):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def test_batch_norm_variables_and_update_ops():
    X = tf.placeholder(tf.float32, (None, 3))
    tf.layers.dense(X, 3, name="hidden1")
    bn = tf.layers.batch_normalization(X, training=True)
    bn2 = tf.layers.batch_normalization(X)
    assert [v.name for v in tf.trainable_variables()] == [
        "hidden1/kernel:0", "hidden1/bias:0", "batch_normalization/gamma:0",
        "batch_normalization/beta:0", "batch_normalization_1/gamma:0",
        "batch_normalization_1/beta:0"]
    assert [v.name for v in tf.global_variables()][2:6] == [
        "batch_normalization/gamma:0", "batch_normalization/beta:0",
        "batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0"]
    ups = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert [u.name for u in ups] == ["batch_normalization/AssignMovingAvg",
                                     "batch_normalization/AssignMovingAvg_1"]
    assert bn.shape.as_list() == [None, 3] and bn2.shape.as_list() == [None, 3]


def test_batch_norm_2d_training_inference_and_moving_averages():
    rng = np.random.RandomState(0)
    x = (rng.randn(8, 3) * 2 + 1).astype(np.float32)
    X = tf.placeholder(tf.float32, (None, 3))
    training = tf.placeholder_with_default(False, shape=(), name="training")
    out = tf.layers.batch_normalization(X, training=training, momentum=0.9,
                                        gamma_initializer=tf.constant_initializer(1.5),
                                        beta_initializer=tf.constant_initializer(0.25))
    ups = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    mm, mv = [v for v in tf.global_variables() if "moving" in v.name]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        inf0 = s.run(out, {X: x})
        np.testing.assert_allclose(inf0, _bn_ref(x, 0, 0.0, 1.0, 1.5, 0.25), rtol=1e-5)
        s.run(ups, {X: x})      # training defaults to False: the moving stats stay
        np.testing.assert_array_equal(s.run(mm), np.zeros(3, np.float32))
        tr, _ = s.run([out, ups], {X: x, training: True})
        np.testing.assert_allclose(tr, _bn_ref(x, 0, x.mean(0), x.var(0), 1.5, 0.25),
                                   rtol=1e-4, atol=1e-5)
        s.run(ups, {X: x, training: True})
        m, v = s.run([mm, mv])
        # two updates: m = 0.19 * mean; v = 0.81 + 0.19 * biased var (non-fused path)
        np.testing.assert_allclose(m, 0.19 * x.mean(0), rtol=1e-5)
        np.testing.assert_allclose(v, 0.81 + 0.19 * x.var(0), rtol=1e-5)
        inf = s.run(out, {X: x})
        np.testing.assert_allclose(inf, _bn_ref(x, 0, m, v, 1.5, 0.25), rtol=1e-4, atol=1e-5)


def test_batch_norm_4d_fused_uses_unbiased_moving_variance_and_axis1():
    rng = np.random.RandomState(1)
    x = (rng.randn(2, 5, 5, 2) * 2 + 1).astype(np.float32)
    X = tf.placeholder(tf.float32, (None, 5, 5, 2))
    out = tf.layers.batch_normalization(X, training=True, momentum=0.9)
    out1 = tf.layers.batch_normalization(X, axis=1, training=True, momentum=0.8)
    ups = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    mv = [v for v in tf.global_variables() if "moving_variance" in v.name]
    assert mv[1].shape.as_list() == [5]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        o, o1, _ = s.run([out, out1, ups], {X: x})
        v, v1 = s.run(mv)
    flat = x.reshape(-1, 2)
    np.testing.assert_allclose(o, _bn_ref(x, 0, flat.mean(0), flat.var(0)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(v, 0.9 + 0.1 * flat.var(0, ddof=1), rtol=1e-5)
    m1 = x.mean(axis=(0, 2, 3)).reshape(1, 5, 1, 1)
    v1_batch = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(o1, _bn_ref(x, 0, m1, v1_batch.reshape(1, 5, 1, 1)), rtol=1e-4,
                               atol=1e-4)
    n = 2 * 5 * 2
    np.testing.assert_allclose(v1, 0.8 + 0.2 * v1_batch * n / (n - 1), rtol=1e-5)


def test_small_net_with_bn_and_dropout_trains():
    tf.set_random_seed(7)
    rng = np.random.RandomState(7)
    xd = rng.randn(256, 6).astype(np.float32)
    yd = (xd[:, 0] + xd[:, 1] > 0).astype(np.int32)
    X = tf.placeholder(tf.float32, (None, 6))
    y = tf.placeholder(tf.int32, (None,))
    training = tf.placeholder_with_default(False, shape=(), name="training")
    h = tf.layers.dense(X, 16, name="h1")
    h = tf.nn.relu(tf.layers.batch_normalization(h, training=training, momentum=0.9))
    h = tf.layers.dropout(h, 0.2, training=training)
    logits = tf.layers.dense(h, 2, name="out")
    loss = tf.reduce_mean(tf.square(logits[:, 1] - logits[:, 0] - (tf.cast(y, tf.float32) * 2 - 1)))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    mm = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        first = s.run(loss, {X: xd, y: yd})
        for _ in range(60):
            s.run(train_op, {X: xd, y: yd, training: True})
        last = s.run(loss, {X: xd, y: yd})
        assert np.abs(s.run(mm)).sum() > 0       # the update ops ran with the train op
    assert last < 0.6 * first


# ---------------------------------------------------------------------- losses -------------

def _np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


@needs_xent
def test_losses_values_weights_and_collections():
    rng = np.random.RandomState(0)
    z = rng.randn(6, 4).astype(np.float32)
    labels = np.array([0, 2, 1, 3, 3, 0], np.int32)
    w = np.array([1, 0, 2, 1, 0, 1], np.float32)
    oh = np.eye(4, dtype=np.float32)[labels]
    Z = tf.constant(z)
    Y = tf.placeholder(tf.int32, (None,))
    l_sp = tf.losses.sparse_softmax_cross_entropy(labels=Y, logits=Z)
    l_spw = tf.losses.sparse_softmax_cross_entropy(labels=Y, logits=Z, weights=w)
    l_sm = tf.losses.softmax_cross_entropy(oh, Z, label_smoothing=0.1)
    l_mse = tf.losses.mean_squared_error(oh, Z, weights=tf.constant(w[:, None]))
    l_sum = tf.losses.mean_squared_error(oh, Z, weights=2.0, reduction=tf.losses.Reduction.SUM)
    l_mean = tf.losses.mean_squared_error(oh, Z, weights=tf.constant(w[:, None]),
                                          reduction=tf.losses.Reduction.MEAN)
    l_zero = tf.losses.mean_squared_error(oh, Z, weights=0.0)
    total = tf.losses.get_total_loss()
    l_none = tf.losses.absolute_difference(oh, Z, reduction=tf.losses.Reduction.NONE)
    assert l_sp.op.name == "sparse_softmax_cross_entropy_loss/value"
    assert len(tf.get_collection(tf.GraphKeys.LOSSES)) == 8
    assert l_none.shape.as_list() == [6, 4]
    r = _run([l_sp, l_spw, l_sm, l_mse, l_sum, l_mean, l_zero, total, l_none], {Y: labels},
             init=False)
    nll = -_np_log_softmax(z)[np.arange(6), labels]
    assert r[0] == pytest.approx(nll.mean(), rel=1e-5)
    assert r[1] == pytest.approx((nll * w).sum() / np.count_nonzero(w), rel=1e-5)
    smooth = oh * 0.9 + 0.1 / 4
    assert r[2] == pytest.approx((-(smooth * _np_log_softmax(z)).sum(1)).mean(), rel=1e-5)
    sq = (z - oh) ** 2
    assert r[3] == pytest.approx((sq * w[:, None]).sum() / (np.count_nonzero(w) * 4), rel=1e-5)
    assert r[4] == pytest.approx(2 * sq.sum(), rel=1e-5)
    assert r[5] == pytest.approx((sq * w[:, None]).sum() / (w.sum() * 4), rel=1e-5)
    assert r[6] == 0.0
    assert r[7] == pytest.approx(sum(r[:7]), rel=1e-5)
    np.testing.assert_allclose(r[8], np.abs(z - oh), rtol=1e-6)


@needs_xent
def test_losses_gradients_finite_with_zero_weights():
    z = tf.Variable(np.ones((3, 2), np.float32))
    loss = tf.losses.sparse_softmax_cross_entropy(labels=[0, 1, 1], logits=z, weights=0.0)
    g = tf.gradients(loss, [z])[0]
    gv = _run(g)
    assert np.all(np.isfinite(gv)) and np.all(gv == 0)


def test_add_loss_and_reduction_validation():
    t = tf.constant(2.5)
    tf.losses.add_loss(t)
    assert tf.losses.get_losses() == [t]
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        tf.losses.mean_squared_error([1.0], [2.0], reduction="bogus")
    with pytest.raises(ValueError, match="incompatible"):
        tf.losses.mean_squared_error(tf.zeros([2, 3]), tf.zeros([3, 2]))
