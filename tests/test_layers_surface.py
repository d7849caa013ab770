"""The added losses (cosine_distance, mean_pairwise_squared_error), tf.contrib.layers and
tf.keras.layers as graph-mode layers, and tf.layers.dropout's static shape under a bool
placeholder."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients, run

rng = np.random.RandomState(0)


# ---------------------------------------------------------------------- losses -------------

def test_cosine_distance():
    y = rng.randn(4, 3)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    p = rng.randn(4, 3)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    w = np.array([[1.0], [0.0], [2.0], [0.5]])
    tf.reset_default_graph()
    got, got_w = run([tf.losses.cosine_distance(y, p, axis=1),
                      tf.losses.cosine_distance(y, p, axis=1, weights=w)])
    per = 1 - (y * p).sum(1)
    assert got == pytest.approx(per.mean())
    assert got_w == pytest.approx((per * w[:, 0]).sum() / 3)
    assert tf.get_collection(tf.GraphKeys.LOSSES)
    with pytest.raises(ValueError, match="axis"):
        tf.losses.cosine_distance(y, p)
    check_gradients(lambda a: tf.losses.cosine_distance(y, a, axis=1), [p])


def _pairwise_ref(y, p, w):
    out = 0.0
    for b in range(y.shape[0]):
        d = (p[b] - y[b]).ravel()
        pairs = list(itertools.combinations(range(d.size), 2))
        out += w[b] * np.mean([(d[i] - d[j]) ** 2 for i, j in pairs])
    return out


@pytest.mark.parametrize("shape", [(3, 4), (2, 2, 3)])
def test_mean_pairwise_squared_error(shape):
    y, p = rng.randn(*shape), rng.randn(*shape)
    w = np.array([1.0, 0.5, 2.0][:shape[0]])
    tf.reset_default_graph()
    got, got_w = run([tf.losses.mean_pairwise_squared_error(y, p),
                      tf.losses.mean_pairwise_squared_error(y, p, weights=w)])
    assert got == pytest.approx(_pairwise_ref(y, p, np.ones(shape[0])), rel=1e-10)
    assert got_w == pytest.approx(_pairwise_ref(y, p, w), rel=1e-10)
    check_gradients(lambda a: tf.losses.mean_pairwise_squared_error(y, a, weights=w), [p])


def test_reductions_and_totals_of_the_losses():
    tf.reset_default_graph()
    y, p = rng.randn(3, 2).astype(np.float32), rng.randn(3, 2).astype(np.float32)
    none = tf.losses.huber_loss(y, p, reduction=tf.losses.Reduction.NONE, loss_collection=None)
    summed = tf.losses.absolute_difference(y, p, reduction=tf.losses.Reduction.SUM)
    mean = tf.losses.log_loss(np.abs(y) / 3, 1 / (1 + np.exp(-p)))
    tf.get_variable("w", [2], initializer=tf.ones_initializer(),
                    regularizer=tf.contrib.layers.l2_regularizer(0.5))
    total = tf.losses.get_total_loss()
    reg = tf.losses.get_regularization_loss()
    n, s, m, t, r = run([none, summed, mean, total, reg])
    d = np.abs(p - y)
    np.testing.assert_allclose(n, np.where(d <= 1, 0.5 * d * d, d - 0.5), rtol=1e-6)
    assert s == pytest.approx(d.sum(), rel=1e-6)
    q, z = 1 / (1 + np.exp(-p)), np.abs(y) / 3
    ref_m = np.mean(-z * np.log(q + 1e-7) - (1 - z) * np.log(1 - q + 1e-7))
    assert m == pytest.approx(ref_m, rel=1e-5)
    assert r == pytest.approx(0.5 * 0.5 * 2)
    assert t == pytest.approx(s + m + r, rel=1e-6)


# ---------------------------------------------------------------------- contrib.layers -----

def test_contrib_fully_connected_and_conv2d_names_and_values():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 4])
    h = tf.contrib.layers.fully_connected(x, 3)
    o = tf.contrib.layers.fully_connected(h, 2, activation_fn=None, scope="out")
    img = tf.placeholder(tf.float32, [None, 6, 6, 2])
    c = tf.contrib.layers.conv2d(img, 4, 3, stride=2)
    f = tf.contrib.layers.flatten(c)
    names = [v.op.name for v in tf.global_variables()]
    assert names == ["fully_connected/weights", "fully_connected/biases", "out/weights",
                     "out/biases", "Conv/weights", "Conv/biases"]
    assert [v.op.name for v in tf.get_collection(tf.GraphKeys.MODEL_VARIABLES)] == names
    assert c.shape.as_list() == [None, 3, 3, 4] and f.shape.as_list() == [None, 36]
    xv = rng.randn(5, 4).astype(np.float32)
    iv = rng.randn(2, 6, 6, 2).astype(np.float32)
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        w1, b1, w2, b2, kc, bc = s.run(tf.global_variables())
        out, cv = s.run([o, c], {x: xv, img: iv})
    np.testing.assert_allclose(out, np.maximum(xv @ w1 + b1, 0) @ w2 + b2, rtol=1e-5, atol=1e-6)
    with tf.Graph().as_default():
        ref = tf.nn.relu(tf.nn.conv2d(iv, kc, [1, 2, 2, 1], "SAME") + bc)
        np.testing.assert_allclose(cv, run(ref), rtol=1e-5, atol=1e-5)


def test_contrib_batch_norm_and_dropout():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    is_training = tf.placeholder(tf.bool, [])
    y = tf.contrib.layers.batch_norm(x, is_training=is_training, decay=0.5)
    d = tf.contrib.layers.dropout(y, keep_prob=0.5, is_training=False)
    names = [v.op.name for v in tf.global_variables()]
    assert names == ["BatchNorm/beta", "BatchNorm/moving_mean", "BatchNorm/moving_variance"]
    ups = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(ups) == 2
    xv = rng.randn(8, 3).astype(np.float32) * 2 + 1
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        out, _ = s.run([d, ups], {x: xv, is_training: True})
        mm = s.run("BatchNorm/moving_mean:0")
    np.testing.assert_allclose(out, (xv - xv.mean(0)) / np.sqrt(xv.var(0) + 1e-3), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(mm, 0.5 * xv.mean(0), rtol=1e-5)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    tf.contrib.layers.batch_norm(x, updates_collections=None, scale=True)
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []
    assert "BatchNorm/gamma" in [v.op.name for v in tf.global_variables()]


# ---------------------------------------------------------------------- keras layers -------

def test_keras_layers_in_a_tf1_graph():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 8, 8, 1])
    training = tf.placeholder_with_default(False, [])
    h = tf.keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                               input_shape=(8, 8, 1))(x)
    h = tf.keras.layers.MaxPooling2D()(h)
    h = tf.keras.layers.Flatten()(h)
    h = tf.keras.layers.Dropout(0.5)(h, training=training)
    inference = tf.keras.layers.Dropout(0.5)(h)
    dense = tf.keras.layers.Dense(3, activation="softmax", kernel_initializer="he_normal")
    out = dense(h)
    assert h.shape.as_list() == [None, 64] and out.shape.as_list() == [None, 3]
    assert [v.op.name for v in tf.trainable_variables()] == ["conv2d/kernel", "conv2d/bias",
                                                             "dense/kernel", "dense/bias"]
    assert dense.trainable_weights[0].op.name == "dense/kernel"
    xv = rng.rand(2, 8, 8, 1).astype(np.float32)
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        o, hv, iv = s.run([out, h, inference], {x: xv})
        np.testing.assert_allclose(o.sum(1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(hv, iv)
        dropped = s.run(h, {x: xv, training: True})
        kept = dropped != 0
        np.testing.assert_allclose(dropped[kept], 2 * hv[kept], rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown activation"):
        tf.keras.layers.Dense(2, activation="swishy")
    with pytest.raises(ValueError, match="Unknown initializer"):
        tf.keras.layers.Dense(2, kernel_initializer="magic")


def test_tf_layers_classes():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 5, 5, 2])
    conv = tf.layers.Conv2D(3, 2, name="c")
    y = conv(x)
    dense = tf.layers.Dense(4, name="d")
    z = dense(tf.layers.flatten(y))
    assert conv.kernel.op.name == "c/kernel" and dense.kernel.shape.as_list() == [48, 4]
    assert z.shape.as_list() == [None, 4]


# ---------------------------------------------------------------------- dropout shape ------

def test_dropout_on_a_bool_placeholder_keeps_the_static_shape():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 28, 28, 1])
    training = tf.placeholder(tf.bool)              # no shape: unknown rank, as in tutorials
    d = tf.layers.dropout(x, rate=0.3, training=training)
    assert d.shape.as_list() == [None, 28, 28, 1]
    c = tf.layers.conv2d(d, 2, 3)                  # needs the static rank and channels
    assert c.shape.as_list() == [None, 26, 26, 2]
    xv = rng.rand(1, 28, 28, 1).astype(np.float32)
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        a = s.run(d, {x: xv, training: False})
        b = s.run(d, {x: xv, training: True})
    np.testing.assert_array_equal(a, xv)
    assert 0.5 < (b != 0).mean() < 0.9


# ---------------------------------------------------------------------- init_from_checkpoint

def test_init_from_checkpoint(tmp_path):
    tf.reset_default_graph()
    with tf.variable_scope("old"):
        a = tf.get_variable("a", initializer=np.arange(3.0, dtype=np.float32))
        b = tf.get_variable("b", initializer=np.ones((2, 2), np.float32) * 5)
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        path = tf.train.Saver().save(s, str(tmp_path / "model"))
    tf.reset_default_graph()
    with tf.variable_scope("new"):
        na = tf.get_variable("a", [3])
        nb = tf.get_variable("b", [2, 2])
    other = tf.get_variable("other", [3], initializer=tf.zeros_initializer())
    single = tf.get_variable("single", [2, 2])
    tf.train.init_from_checkpoint(str(tmp_path), {"old/": "new/"})
    tf.train.init_from_checkpoint(path, {"old/b": single, "old/a": "other"})
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        va, vb, vo, vs = s.run([na, nb, other, single])
    np.testing.assert_array_equal(va, [0, 1, 2])
    np.testing.assert_array_equal(vb, np.full((2, 2), 5.0))
    np.testing.assert_array_equal(vo, [0, 1, 2])
    np.testing.assert_array_equal(vs, np.full((2, 2), 5.0))
    with pytest.raises(ValueError, match="doesn't match"):
        tf.train.init_from_checkpoint(path, {"old/a": single})
    with pytest.raises(ValueError, match="not found"):
        tf.train.init_from_checkpoint(path, {"old/zzz": "other"})


def test_keras_activations_initializers_regularizers():
    tf.reset_default_graph()
    x = np.array([-1.0, 0.5, 2.0])
    a = run([tf.keras.activations.relu(x), tf.keras.activations.get("tanh")(x),
             tf.keras.activations.linear(tf.constant(x))])
    np.testing.assert_allclose(a[0], np.maximum(x, 0))
    np.testing.assert_allclose(a[1], np.tanh(x))
    np.testing.assert_array_equal(a[2], x)
    w = tf.get_variable("w", [3, 2], initializer=tf.keras.initializers.Ones(),
                        regularizer=tf.keras.regularizers.l2(0.1))
    v = tf.get_variable("v", [2], initializer=tf.keras.initializers.zeros(),
                        regularizer=tf.keras.regularizers.l1_l2(0.5, 0.25))
    reg = tf.losses.get_regularization_loss()
    assert run(reg) == pytest.approx(0.1 * 6)
    assert w is not None and v is not None
    d = tf.keras.layers.Dense(2, kernel_regularizer=tf.keras.regularizers.l1(0.5),
                              kernel_initializer=tf.keras.initializers.Constant(-2.0))
    d(tf.constant(np.ones((1, 3), np.float32)))
    assert run(tf.losses.get_regularization_loss()) == pytest.approx(0.6 + 0.5 * 12)


def test_contrib_conv2d_transpose_embed_repeat_stack():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3, 3, 2])
    y = tf.contrib.layers.conv2d_transpose(x, 4, 3, stride=2)
    yv = tf.contrib.layers.conv2d_transpose(x, 1, 3, stride=2, padding="VALID",
                                            activation_fn=None)
    assert y.shape.as_list() == [None, 6, 6, 4] and yv.shape.as_list() == [None, 7, 7, 1]
    ids = tf.constant([[1, 2], [0, 3]])
    e = tf.contrib.layers.embed_sequence(ids, vocab_size=5, embed_dim=3)
    z = tf.placeholder(tf.float32, [None, 4])
    r = tf.contrib.layers.repeat(z, 2, tf.contrib.layers.fully_connected, 4, scope="fc")
    s = tf.contrib.layers.stack(z, tf.contrib.layers.fully_connected, [8, 2], scope="st")
    names = [v.op.name for v in tf.global_variables()]
    assert names[:2] == ["Conv2d_transpose/weights", "Conv2d_transpose/biases"]
    assert "EmbedSequence/embeddings" in names
    assert "fc/fc_1/weights" in names and "fc/fc_2/weights" in names
    assert "st/st_1/weights" in names and "st/st_2/biases" in names
    assert e.shape.as_list() == [2, 2, 3] and r.shape.as_list() == [None, 4]
    assert s.shape.as_list() == [None, 2]


def test_contrib_optimize_loss():
    tf.reset_default_graph()
    w = tf.Variable(np.array([3.0, -2.0], np.float32))
    loss = tf.reduce_sum(tf.square(w))
    step = tf.train.get_or_create_global_step()
    train = tf.contrib.layers.optimize_loss(loss, step, 0.1, "SGD", clip_gradients=1.0)
    with tf.Session(backend="reference") as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(loss)
        out = sess.run(train)
        wv, st = sess.run([w, step])
    g = 2 * np.array([3.0, -2.0])
    g = g / max(np.linalg.norm(g), 1.0)
    np.testing.assert_allclose(wv, np.array([3.0, -2.0]) - 0.1 * g, rtol=1e-5)
    assert st == 1 and out == pytest.approx(before)
    with pytest.raises(ValueError, match="Optimizer name"):
        tf.contrib.layers.optimize_loss(loss, step, 0.1, "Nope")
