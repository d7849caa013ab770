"""``tf.nn`` and the extra top-level ops through ``import jitflow.compat.v1 as tf`` and a
Session: TF1 signatures, names, static shapes, argument errors, values and gradients."""
from __future__ import annotations

import math

import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def fresh_graph(monkeypatch):
    """The reference backend (the oracle) runs these; other backends test themselves."""
    monkeypatch.setenv("JITFLOW_BACKEND", "reference")
    tf.reset_default_graph()
    yield


def run(fetches, feed=None):
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        return s.run(fetches, feed)


def np_softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ----------------------------------------------------------------------------- the ch13 CNN --

def test_ch13_cnn_shapes_names_and_a_training_step():
    tf.set_random_seed(42)
    X = tf.placeholder(tf.float32, shape=[None, 28 * 28], name="X")
    y = tf.placeholder(tf.int32, shape=[None], name="y")
    Xr = tf.reshape(X, shape=[-1, 28, 28, 1])
    w1 = tf.Variable(tf.truncated_normal([3, 3, 1, 4], stddev=0.1))
    c1 = tf.nn.relu(tf.nn.conv2d(Xr, w1, strides=[1, 1, 1, 1], padding="SAME"))
    w2 = tf.Variable(tf.truncated_normal([3, 3, 4, 8], stddev=0.1))
    b2 = tf.Variable(tf.zeros([8]))
    c2 = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(c1, w2, strides=[1, 2, 2, 1], padding="SAME"), b2))
    assert c2.shape.as_list() == [None, 14, 14, 8]
    with tf.name_scope("pool3"):
        pool = tf.nn.max_pool(c2, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    assert pool.shape.as_list() == [None, 7, 7, 8] and pool.op.name == "pool3/MaxPool"
    assert pool.op.type == "MaxPool" and c1.op.inputs[0].op.type == "Conv2D"
    flat = tf.reshape(pool, [-1, 8 * 7 * 7])
    W = tf.Variable(tf.truncated_normal([8 * 7 * 7, 10], stddev=0.05))
    logits = tf.matmul(flat, W)
    proba = tf.nn.softmax(logits, name="Y_proba")
    assert proba.name == "Y_proba:0"
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    assert xent.name == ("SparseSoftmaxCrossEntropyWithLogits/"
                         "SparseSoftmaxCrossEntropyWithLogits:0")
    assert xent.shape.as_list() == [None]
    loss = tf.reduce_mean(xent)
    acc = tf.reduce_mean(tf.cast(tf.nn.in_top_k(logits, y, 1), tf.float32))
    train = tf.train.AdamOptimizer(0.01).minimize(loss)
    rng = np.random.default_rng(0)
    xb = rng.uniform(size=(20, 784)).astype(np.float32)
    yb = (xb[:, :392].sum(axis=1) > xb[:, 392:].sum(axis=1)).astype(np.int32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        first = s.run(loss, {X: xb, y: yb})
        for _ in range(15):
            s.run(train, {X: xb, y: yb})
        last, a, p = s.run([loss, acc, proba], {X: xb, y: yb})
    assert last < first
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    assert 0 <= a <= 1


# ----------------------------------------------------------------------------- conv / pool --

def test_conv2d_values_strides_dilations_and_nchw():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 5, 3)).astype(np.float32)
    w = rng.normal(size=(3, 2, 3, 4)).astype(np.float32)
    same = tf.nn.conv2d(x, w, strides=[1, 2, 1, 1], padding="SAME")
    assert same.shape.as_list() == [2, 3, 5, 4]
    dil = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="VALID", dilations=[1, 2, 1, 1])
    assert dil.shape.as_list() == [2, 2, 4, 4]
    nchw = tf.nn.conv2d(np.transpose(x, (0, 3, 1, 2)), w, strides=[1, 1, 2, 1],
                        padding="SAME", data_format="NCHW")
    a, d, c = run([same, dil, nchw])
    # SAME along H: in 6, k 3, s 2 -> out 3, pads (0, 1)
    xp = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))
    want = np.zeros((2, 3, 5, 4))
    for i in range(3):
        for j in range(5):
            want[:, i, j] = np.einsum("nabc,abco->no", xp[:, 2 * i:2 * i + 3, j:j + 2], w)
    np.testing.assert_allclose(a, want, rtol=1e-4, atol=1e-4)
    want_d = np.zeros((2, 2, 4, 4))
    for i in range(2):
        for j in range(4):
            want_d[:, i, j] = np.einsum("nabc,abco->no", x[:, i:i + 5:2, j:j + 2], w)
    np.testing.assert_allclose(d, want_d, rtol=1e-4, atol=1e-4)
    want_c = np.transpose(run(tf.nn.conv2d(x, w, strides=[1, 2, 1, 1], padding="SAME")),
                          (0, 3, 1, 2))
    np.testing.assert_allclose(c, want_c, rtol=1e-5, atol=1e-5)


def test_conv_and_pool_argument_errors():
    x = tf.placeholder(tf.float32, [None, 8, 8, 1])
    w = tf.zeros([3, 3, 1, 2])
    with pytest.raises(ValueError, match="padding"):
        tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="same")
    with pytest.raises(ValueError, match="batch and depth"):
        tf.nn.conv2d(x, w, strides=[2, 1, 1, 1], padding="SAME")
    with pytest.raises(ValueError, match="batch and depth"):
        tf.nn.max_pool(x, ksize=[1, 2, 2, 2], strides=[1, 2, 2, 1], padding="VALID")
    with pytest.raises(ValueError, match="Dimensions must be equal, but are 1 and 3"):
        tf.nn.conv2d(x, tf.zeros([3, 3, 3, 2]), strides=[1, 1, 1, 1], padding="SAME")
    with pytest.raises(ValueError, match="negative"):
        tf.nn.conv2d(x, tf.zeros([10, 10, 1, 2]), strides=[1, 1, 1, 1], padding="VALID")
    assert tf.nn.conv2d(x, tf.zeros([9, 9, 1, 2]), strides=[1, 1, 1, 1],
                        padding="VALID").shape.as_list() == [None, 0, 0, 2]   # as TF: empty


def test_pooling_values_and_gradients():
    x = np.array([[1, 5, 2], [5, 0, 3], [4, 4, 9]], np.float32).reshape(1, 3, 3, 1)
    xt = tf.constant(x)
    mp = tf.nn.max_pool(xt, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    ap = tf.nn.avg_pool(xt, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    gm, = tf.gradients(tf.reduce_sum(mp), xt)
    ga, = tf.gradients(tf.reduce_sum(ap), xt)
    m, a, dm, da = run([mp, ap, gm, ga])
    np.testing.assert_array_equal(m[0, :, :, 0], [[5, 3], [4, 9]])
    np.testing.assert_allclose(a[0, :, :, 0], [[11 / 4, 2.5], [4, 9]])
    # ties (5, 5 in the first window; 4, 4 in the third): the first maximum takes the gradient
    np.testing.assert_array_equal(dm[0, :, :, 0], [[0, 1, 0], [0, 0, 1], [1, 0, 1]])
    np.testing.assert_allclose(da[0, :, :, 0], [[.25, .25, .5], [.25, .25, .5], [.5, .5, 1]])


def test_bias_add():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    b = tf.nn.bias_add(x, np.array([1, 2, 3, 4], np.float32))
    bc = tf.nn.bias_add(x, np.array([10, 20, 30], np.float32), data_format="NCHW")
    assert b.op.type == "BiasAdd" and b.op.name == "BiasAdd"
    r, rc = run([b, bc])
    np.testing.assert_array_equal(r, x + [1, 2, 3, 4])
    np.testing.assert_array_equal(rc, x + np.array([10, 20, 30])[:, None])
    with pytest.raises(ValueError):
        tf.nn.bias_add(x, np.zeros(3, np.float32))


# ----------------------------------------------------------------------------- losses -------

def test_sparse_xent_keyword_only_unknown_rank_labels_and_bad_label():
    logits = tf.placeholder(tf.float32, [None, 10])
    y = tf.placeholder(tf.int32, shape=(None))          # unknown rank, as in ch11
    with pytest.raises(ValueError, match="Only call `sparse_softmax_cross_entropy_with_logits` "
                                         "with named arguments"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
    with pytest.raises(ValueError, match="Both labels and logits must be provided"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y)
    with pytest.raises(ValueError, match="Rank mismatch"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.zeros([4, 1], tf.int32),
                                                       logits=logits)
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits, name="xent")
    assert xent.name == "xent/xent:0"
    g, = tf.gradients(tf.reduce_sum(xent), logits)
    z = np.random.default_rng(2).normal(size=(3, 10)).astype(np.float32)
    labels = np.array([1, 0, 9], np.int32)
    with tf.Session() as s:
        loss, grad = s.run([xent, g], {logits: z, y: labels})
        np.testing.assert_allclose(loss, -np.log(np_softmax(z))[np.arange(3), labels], rtol=1e-5)
        np.testing.assert_allclose(grad, np_softmax(z) - np.eye(10)[labels], atol=1e-6)
        with pytest.raises(tf.errors.InvalidArgumentError) as e:
            s.run(xent, {logits: z, y: [1, 10, 2]})
    assert ("Received a label value of 10 which is outside the valid range of [0, 10).  "
            "Label values: 1 10 2") in str(e.value)


def test_softmax_cross_entropy_v1_v2_and_labels_gradient():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(4, 5)).astype(np.float32)
    lab = np_softmax(rng.normal(size=(4, 5))).astype(np.float32)
    zt, lt = tf.constant(z), tf.constant(lab)
    v1 = tf.nn.softmax_cross_entropy_with_logits(labels=lt, logits=zt)
    v2 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lt, logits=zt)
    assert v1.name == "softmax_cross_entropy_with_logits_sg:0"
    assert v2.name == "softmax_cross_entropy_with_logits:0"
    with pytest.raises(ValueError, match="named arguments"):
        tf.nn.softmax_cross_entropy_with_logits(lt, zt)
    g1 = tf.gradients(tf.reduce_sum(v1), [zt, lt])
    g2 = tf.gradients(tf.reduce_sum(v2), [zt, lt])
    assert g1[1] is None and g2[1] is not None          # v1: no gradient into labels
    a1, a2, d1z, d2z, d2l = run([v1, v2, g1[0], g2[0], g2[1]])
    want = -np.sum(lab * np.log(np_softmax(z)), axis=1)
    np.testing.assert_allclose(a1, want, rtol=1e-5)
    np.testing.assert_allclose(a2, want, rtol=1e-5)
    np.testing.assert_allclose(d1z, np_softmax(z) - lab, atol=1e-6)
    np.testing.assert_allclose(d2z, np_softmax(z) - lab, atol=1e-6)
    np.testing.assert_allclose(d2l, -np.log(np_softmax(z)), rtol=1e-5)


def test_softmax_cross_entropy_flattens_outer_dims_and_axis():
    # hunkim: labels [1, N, 7] (from one_hot of an [N, 1] placeholder) against logits [N, 7]
    Y = tf.placeholder(tf.int32, [None, 1])
    Y_one_hot = tf.one_hot(Y, 7)
    assert str(Y_one_hot) == 'Tensor("one_hot:0", shape=(?, 1, 7), dtype=float32)'
    logits = tf.placeholder(tf.float32, [None, 7])
    cost = tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=tf.reshape(Y_one_hot, [1, -1, 7]))
    z = np.random.default_rng(4).normal(size=(3, 7)).astype(np.float32)
    yv = np.array([[0], [6], [3]], np.int32)
    c = run(cost, {Y: yv, logits: z})
    np.testing.assert_allclose(c, -np.log(np_softmax(z))[np.arange(3), yv[:, 0]], rtol=1e-5)
    # dim=0: the class axis first
    c0 = run(tf.nn.softmax_cross_entropy_with_logits_v2(labels=np.eye(7)[yv[:, 0]].T.astype(np.float32),
                                                         logits=z.T, axis=0))
    np.testing.assert_allclose(c0, c, rtol=1e-5)


def test_sigmoid_cross_entropy_with_logits():
    x = np.array([-100.0, -1.0, 0.0, 2.0, 100.0], np.float32)
    z = np.array([0.0, 1.0, 0.5, 0.0, 1.0], np.float32)
    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    assert loss.op.name == "logistic_loss"
    xt = tf.constant(x)
    g, = tf.gradients(tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=xt)), xt)
    v, d = run([loss, g])
    xd = x.astype(np.float64)
    np.testing.assert_allclose(v, np.maximum(xd, 0) - xd * z + np.log1p(np.exp(-np.abs(xd))),
                               rtol=1e-6, atol=1e-40)
    np.testing.assert_allclose(d, 1 / (1 + np.exp(-xd)) - z, atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        tf.nn.sigmoid_cross_entropy_with_logits(labels=np.zeros(3, np.float32), logits=x)
    with pytest.raises(ValueError, match="named arguments"):
        tf.nn.sigmoid_cross_entropy_with_logits(z, x)


def test_softmax_log_softmax_axis_and_dim():
    z = np.random.default_rng(5).normal(size=(2, 3, 4)).astype(np.float32)
    a, b, c = run([tf.nn.softmax(z, axis=1), tf.nn.log_softmax(z, dim=0), tf.nn.softmax(z)])
    np.testing.assert_allclose(a, np_softmax(z, 1), rtol=1e-5)
    np.testing.assert_allclose(b, np.log(np_softmax(z, 0)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c, np_softmax(z, -1), rtol=1e-5)


def test_in_top_k_ties_nonfinite_and_range():
    p = np.array([[0.1, 0.5, 0.5, 0.2], [1, 2, 3, 4], [np.nan, 1, 2, 3], [1, 2, 3, 4],
                  [5, 5, 5, 5]], np.float32)
    t = np.array([1, 3, 3, 7, 0], np.int64)
    got = run([tf.nn.in_top_k(p, t, 1), tf.nn.in_top_k(p, t.astype(np.int32), 2)])
    np.testing.assert_array_equal(got[0], [True, True, False, False, True])
    np.testing.assert_array_equal(got[1], [True, True, False, False, True])
    assert tf.nn.in_top_k(p, t, 1).op.type == "InTopKV2"


def test_l2_loss_and_activations():
    x = np.array([-3.0, -0.5, 0.0, 0.5, 7.0], np.float32)
    out = run([tf.nn.l2_loss(x), tf.nn.elu(x), tf.nn.leaky_relu(x), tf.nn.leaky_relu(x, alpha=0.1),
               tf.nn.softplus(x), tf.nn.relu6(x), tf.nn.relu(x), tf.nn.tanh(x), tf.nn.sigmoid(x)])
    xd = x.astype(np.float64)
    wants = [np.sum(xd ** 2) / 2, np.where(xd > 0, xd, np.expm1(xd)), np.where(xd > 0, xd, .2 * xd),
             np.where(xd > 0, xd, .1 * xd), np.log1p(np.exp(xd)), np.clip(xd, 0, 6),
             np.maximum(xd, 0), np.tanh(xd), 1 / (1 + np.exp(-xd))]
    for got, want in zip(out, wants):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- dropout ------

def test_dropout_keep_prob_placeholder_rate_and_seed():
    x = tf.ones([200, 50])
    keep = tf.placeholder(tf.float32, shape=())
    d1 = tf.nn.dropout(x, keep, seed=7)
    d2 = tf.nn.dropout(x, rate=0.75, seed=7)
    with tf.Session() as s:
        a = s.run(d1, {keep: 0.25})
        b, b2 = s.run(d2), s.run(d2)
        full = s.run(d1, {keep: 1.0})
    for v in (a, b):
        kept = v != 0
        assert 0.2 < kept.mean() < 0.3
        np.testing.assert_allclose(v[kept], 4.0, rtol=1e-6)
    assert not np.array_equal(b, b2)                 # a new mask on every run
    np.testing.assert_array_equal(full, 1.0)
    # the same graph seed and op seed give the same masks in a fresh graph
    tf.reset_default_graph()
    d3 = tf.nn.dropout(tf.ones([200, 50]), keep_prob=0.25, seed=7)
    tf.reset_default_graph()
    d4 = tf.nn.dropout(tf.ones([200, 50]), keep_prob=0.25, seed=7)
    with tf.Session(graph=d3.graph) as s:
        m3 = s.run(d3)
    with tf.Session(graph=d4.graph) as s:
        m4 = s.run(d4)
    np.testing.assert_array_equal(m3, m4)


def test_dropout_argument_checks_and_gradient():
    x = tf.placeholder(tf.float32, [None, 8])
    assert tf.nn.dropout(x, keep_prob=1.0) is x
    with pytest.raises(ValueError, match="keep_prob"):
        tf.nn.dropout(x, keep_prob=1.5)
    with pytest.raises(ValueError, match="rate"):
        tf.nn.dropout(x, rate=1.0)
    with pytest.raises(ValueError, match="Cannot specify both"):
        tf.nn.dropout(x, keep_prob=0.5, rate=0.5)
    with pytest.raises(ValueError):
        tf.nn.dropout(tf.zeros([3], tf.int32), keep_prob=0.5)
    d = tf.nn.dropout(x, keep_prob=0.5, seed=1)
    assert d.shape.as_list() == [None, 8]
    g, = tf.gradients(tf.reduce_sum(d), x)
    out, grad = run([d, g], {x: np.ones((4, 8), np.float32)})
    np.testing.assert_array_equal(grad, out)          # d(x * mask / p)/dx = mask / p
    n = tf.nn.dropout(tf.ones([50, 4]), keep_prob=0.5, noise_shape=[50, 1], seed=3)
    v = run(n)
    assert np.all((v == 0).all(axis=1) | (v == 2).all(axis=1))


# ----------------------------------------------------------------------------- top-level ops -

def test_argmax_argmin():
    x = np.array([[1, 3, 3], [2, 2, 0]], np.float32)
    a = tf.argmax(x, axis=1)
    assert a.dtype == tf.int64 and a.op.type == "ArgMax" and a.shape.as_list() == [2]
    outs = run([a, tf.argmin(x, 1), tf.argmax(x), tf.arg_max(x, 1), tf.argmax(x, dimension=1),
                tf.argmax(x, axis=1, output_type=tf.int32), tf.arg_min(x, 0)])
    np.testing.assert_array_equal(outs[0], [1, 0])         # first index on ties
    np.testing.assert_array_equal(outs[1], [0, 2])
    np.testing.assert_array_equal(outs[2], [1, 0, 0])
    np.testing.assert_array_equal(outs[3], [1, 0])
    np.testing.assert_array_equal(outs[4], [1, 0])
    assert outs[5].dtype == np.int32
    np.testing.assert_array_equal(outs[6], [0, 1, 1])
    with pytest.raises(TypeError):       # int64 argmax vs int32 labels: no implicit promotion
        tf.equal(a, tf.constant([1, 0], tf.int32))
    assert tf.gradients(tf.cast(a, tf.float32), tf.constant(x)) == [None]


def test_one_hot():
    idx = np.array([0, 2, -1, 5], np.int32)
    outs = run([tf.one_hot(idx, 3), tf.one_hot(idx, 3, on_value=5, off_value=-1),
                tf.one_hot(idx, 3, axis=0), tf.one_hot(idx, 3, dtype=tf.float64),
                tf.one_hot(idx, 3, on_value=True, off_value=False)])
    eye = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(outs[0], eye)
    assert outs[0].dtype == np.float32
    np.testing.assert_array_equal(outs[1], np.where(eye == 1, 5, -1))
    assert outs[1].dtype == np.int32
    np.testing.assert_array_equal(outs[2], eye.T)
    assert outs[3].dtype == np.float64 and outs[4].dtype == np.bool_
    with pytest.raises(TypeError):
        tf.one_hot(idx, 3, on_value=tf.constant(1.0), dtype=tf.int32)


def test_concat_split_stack_unstack():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.arange(4, dtype=np.float32).reshape(2, 2)
    c = tf.concat([a, b], axis=1)
    assert c.op.type == "ConcatV2" and c.op.name == "concat" and c.shape.as_list() == [2, 5]
    c_neg = tf.concat([tf.constant(a), b], -1)
    one = tf.concat([a], 0)
    parts = tf.split(c, [1, -1, 2], axis=1)
    halves = tf.split(tf.constant(np.arange(8.0)), 2)
    assert [p.shape.as_list() for p in parts] == [[2, 1], [2, 2], [2, 2]]
    assert parts[0].name == "split:0" and parts[2].name == "split:2"
    out = run([c, c_neg, one, parts, halves])
    np.testing.assert_array_equal(out[0], np.concatenate([a, b], 1))
    np.testing.assert_array_equal(out[1], out[0])
    np.testing.assert_array_equal(out[2], a)
    for got, want in zip(out[3], np.split(out[0], [1, 3], axis=1)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(out[4][1], [4, 5, 6, 7])
    # gradients: concat -> slices, split -> concat (unused pieces give zeros)
    x = tf.constant(np.arange(6.0).reshape(3, 2))
    p0, p1, p2 = tf.split(x, 3)
    g, = tf.gradients(tf.reduce_sum(p1 * 2.0) + tf.reduce_sum(tf.concat([p0, p0], 0)), x)
    np.testing.assert_array_equal(run(g), [[2, 2], [2, 2], [0, 0]])


def test_gather_pad_tile():
    params = tf.Variable(np.arange(12.0, dtype=np.float32).reshape(4, 3))
    ids = tf.placeholder(tf.int32, [None])
    emb = tf.gather(params, ids)
    col = tf.gather(params, [2, 0], axis=1)
    assert emb.op.type == "GatherV2" and emb.shape.as_list() == [None, 3]
    lookup = tf.nn.embedding_lookup(params, ids)
    g, = tf.gradients(tf.reduce_sum(emb), params)
    padded = tf.pad(tf.constant([[1, 2], [3, 4]]), [[1, 0], [0, 2]], constant_values=9)
    tiled = tf.tile(tf.constant([[1, 2]]), [2, 3])
    xt = tf.constant(np.arange(4.0).reshape(2, 2))
    gp, = tf.gradients(tf.reduce_sum(tf.pad(xt, [[1, 1], [2, 0]]) * np.arange(16.0).reshape(4, 4)), xt)
    gt, = tf.gradients(tf.reduce_sum(tf.tile(xt, [2, 1]) * np.arange(8.0).reshape(4, 2)), xt)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        e, cc, lk, gg, pd, tl, gpv, gtv = s.run([emb, col, lookup, g, padded, tiled, gp, gt],
                                                {ids: [3, 1, 3]})
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 4 is not in \[0, 4\)"):
            s.run(emb, {ids: [0, 4]})
    p = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(e, p[[3, 1, 3]])
    np.testing.assert_array_equal(cc, p[:, [2, 0]])
    np.testing.assert_array_equal(lk, e)
    np.testing.assert_array_equal(gg, [[0] * 3, [1] * 3, [0] * 3, [2] * 3])     # scatter-add
    np.testing.assert_array_equal(pd, [[9, 9, 9, 9], [1, 2, 9, 9], [3, 4, 9, 9]])
    np.testing.assert_array_equal(tl, [[1, 2, 1, 2, 1, 2]] * 2)
    np.testing.assert_array_equal(gpv, np.arange(16.0).reshape(4, 4)[1:3, 2:])
    np.testing.assert_array_equal(gtv, [[0 + 4, 1 + 5], [2 + 6, 3 + 7]])


def test_reductions():
    x = np.array([[1000.0, 1000.0], [-np.inf, 0.0]], np.float32)
    b = np.array([[True, False], [True, True]])
    xt = tf.constant(np.array([[1.0, 2.0], [3.0, 0.5]]))
    lse = tf.reduce_logsumexp(xt, axis=1)
    g, = tf.gradients(tf.reduce_sum(lse), xt)
    out = run([tf.reduce_logsumexp(x, axis=1), tf.reduce_logsumexp(x, keepdims=True),
               tf.reduce_all(b, 1), tf.reduce_any(b, axis=0), tf.reduce_all(b), g])
    np.testing.assert_allclose(out[0], [1000 + math.log(2), 0.0], rtol=1e-6)
    assert out[1].shape == (1, 1) and np.isfinite(out[1]).all()
    np.testing.assert_array_equal(out[2], [False, True])
    np.testing.assert_array_equal(out[3], [True, True])
    assert out[4] == np.False_
    np.testing.assert_allclose(out[5], np_softmax(np.array([[1.0, 2.0], [3.0, 0.5]]), 1))


# ----------------------------------------------------------------------------- clipping -----

def test_clip_by_value_gradient_passes_inside_the_closed_range():
    x = tf.constant(np.array([-2.0, -1.0, 0.0, 1.0, 2.0], np.float32))
    y = tf.clip_by_value(x, -1.0, 1.0)
    assert y.op.name == "clip_by_value"
    g, = tf.gradients(tf.reduce_sum(y * 3.0), x)
    v, d = run([y, g])
    np.testing.assert_array_equal(v, [-1, -1, 0, 1, 1])
    np.testing.assert_array_equal(d, [0, 3, 3, 3, 0])     # ties at the bounds go to x (TF1)


def test_clip_by_norm_global_norm_and_clip_by_global_norm():
    a = np.array([3.0, 4.0], np.float32)
    b = np.array([[12.0]], np.float32)
    n = tf.global_norm([a, None, b])
    clipped, norm = tf.clip_by_global_norm([a, None, b], 6.5)
    same, _ = tf.clip_by_global_norm([a], 100.0)
    bad, _ = tf.clip_by_global_norm([a], 1.0, use_norm=tf.constant(np.inf, tf.float32))
    out = run([n, clipped[0], clipped[2], norm, tf.clip_by_norm(a, 1.0), tf.clip_by_norm(a, 10.0),
               tf.clip_by_norm(np.array([[3.0, 0.0], [4.0, 0.0]], np.float32), 1.0, axes=[0]),
               same[0], bad[0]])
    assert clipped[1] is None
    np.testing.assert_allclose(out[0], 13.0)
    np.testing.assert_allclose(out[1], a / 2, rtol=1e-6)
    np.testing.assert_allclose(out[2], b / 2, rtol=1e-6)
    np.testing.assert_allclose(out[3], 13.0)
    np.testing.assert_allclose(out[4], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(out[5], a)
    np.testing.assert_allclose(out[6], [[0.6, 0.0], [0.8, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(out[7], a)
    assert np.isnan(out[8]).all()
    with pytest.raises(TypeError):
        tf.clip_by_global_norm(tf.constant(a), 1.0)


def test_gradient_clipping_in_an_optimizer_step():
    w = tf.Variable([1.0, 2.0])
    loss = tf.reduce_sum(w * w) * 10.0
    opt = tf.train.GradientDescentOptimizer(1.0)
    gvs = opt.compute_gradients(loss)
    capped = [(tf.clip_by_value(g, -1.0, 1.0), v) for g, v in gvs]
    step = opt.apply_gradients(capped)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        s.run(step)
        np.testing.assert_allclose(s.run(w), [0.0, 1.0])


def test_moments_batch_normalization_xw_plus_b():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    mean, var = tf.nn.moments(tf.constant(x), axes=[0])
    bn = tf.nn.batch_normalization(x, mean, var, offset=np.float32(1.0), scale=np.float32(2.0),
                                   variance_epsilon=1e-3)
    w = rng.normal(size=(3, 2)).astype(np.float32)
    xwb = tf.nn.xw_plus_b(x, w, np.array([1.0, -1.0], np.float32))
    m, v, b, l = run([mean, var, bn, xwb])
    np.testing.assert_allclose(m, x.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v, x.var(0), rtol=1e-5)
    np.testing.assert_allclose(b, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) * 2 + 1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(l, x @ w + [1, -1], rtol=1e-5, atol=1e-6)


def test_extra_ops_are_exported_at_top_level():
    from jitflow.frontend import extra_ops
    for name in extra_ops.__all__:
        assert getattr(tf, name) is getattr(extra_ops, name)
    for name in ("conv2d", "max_pool", "avg_pool", "bias_add", "softmax", "log_softmax",
                 "sparse_softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
                 "softmax_cross_entropy_with_logits_v2", "sigmoid_cross_entropy_with_logits",
                 "in_top_k", "l2_loss", "elu", "leaky_relu", "softplus", "relu6", "dropout",
                 "relu", "tanh", "sigmoid"):
        assert callable(getattr(tf.nn, name)), name


# ------------------------------------------------------------------ mirror padding ---------
from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def _mirror_cases(draw):
    mode = draw(st.sampled_from(["REFLECT", "SYMMETRIC"]))
    rank = draw(st.integers(1, 3))
    shape = draw(st.lists(st.integers(2, 4), min_size=rank, max_size=rank))
    edge = 1 if mode == "REFLECT" else 0
    pads = [[draw(st.integers(0, n - edge)), draw(st.integers(0, n - edge))] for n in shape]
    return mode, shape, pads, draw(st.sampled_from(["reference", "llvm"]))


@settings(max_examples=30, deadline=None)
@given(_mirror_cases())
def test_mirror_pad_matches_numpy_and_its_gradient_is_the_adjoint(case):
    mode, shape, pads, backend = case
    tf.reset_default_graph()
    rng = np.random.RandomState(len(shape))
    xv = rng.rand(*shape)
    x = tf.placeholder(tf.float64, shape)                   # fed: no constant folding
    y = tf.pad(x, pads, mode=mode.lower() if len(shape) % 2 else mode)
    weights = rng.rand(*[n + a + b for n, (a, b) in zip(shape, pads)])
    g, = tf.gradients(tf.reduce_sum(y * weights), x)
    with tf.Session(backend=backend) as s:
        yv, gv = s.run([y, g], {x: xv})
    np.testing.assert_array_equal(yv, np.pad(xv, pads, mode=mode.lower()))
    # the adjoint of the padding map: scatter-add the weights back through the same pad
    want = np.zeros(xv.size)
    index = np.pad(np.arange(xv.size).reshape(shape), pads, mode=mode.lower())
    np.add.at(want, index.reshape(-1), weights.reshape(-1))
    np.testing.assert_allclose(gv, want.reshape(shape), rtol=1e-12)


def test_mirror_pad_checks_its_arguments():
    x = tf.placeholder(tf.float32, [None, 3])
    assert tf.pad(x, [[0, 0], [2, 2]], "REFLECT").shape.as_list() == [None, 7]
    with pytest.raises(ValueError, match="REFLECT padding of dimension 1 \\(size 3\\) must be at most 2"):
        tf.pad(x, [[0, 0], [3, 0]], "REFLECT")
    tf.pad(x, [[0, 0], [3, 3]], "SYMMETRIC")                 # the edge counts: up to the size
    with pytest.raises(ValueError, match="must be CONSTANT, REFLECT or SYMMETRIC"):
        tf.pad(x, [[0, 0], [1, 1]], "WRAP")
    with pytest.raises(ValueError, match="shape \\[2, 2\\]"):
        tf.pad(x, [[1, 1]], "SYMMETRIC")
    with tf.Session() as s:                                   # a fed batch: the rows mirror too
        out = s.run(tf.pad(x, [[1, 1], [1, 0]], "SYMMETRIC"),
                    {x: np.arange(6, dtype=np.float32).reshape(2, 3)})
    np.testing.assert_array_equal(out, np.pad(np.arange(6.0).reshape(2, 3), [[1, 1], [1, 0]],
                                              mode="symmetric"))


def test_concat_gradient_with_one_operand_of_symbolic_size():
    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.concat([tf.zeros([2, 2]), x * 3.0, tf.ones([1, 2])], 0)
    w = tf.placeholder(tf.float32, [None, 2])
    g, = tf.gradients(tf.reduce_sum(y * w), x)
    xv = np.ones((4, 2), np.float32)
    wv = np.arange(14, dtype=np.float32).reshape(7, 2)
    for backend in ("reference", "llvm"):
        with tf.Session(backend=backend) as s:
            np.testing.assert_array_equal(s.run(g, {x: xv, w: wv}), 3.0 * wv[2:6])
    two = tf.concat([x * w[:4], x], 0)      # several symbolic sizes: gathers at offsets
    g2, = tf.gradients(tf.reduce_sum(two * w), x)
    w8 = np.arange(16, dtype=np.float32).reshape(8, 2)
    for backend in ("reference", "llvm"):
        with tf.Session(backend=backend) as s:
            np.testing.assert_array_equal(s.run(g2, {x: xv, w: w8}), w8[:4] * w8[:4] + w8[4:])


# ------------------------------------------------------------------ transposed convolution ---

@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["SAME", "VALID"]), st.integers(1, 3), st.integers(1, 4),
       st.integers(3, 6), st.sampled_from(["reference", "llvm"]))
def test_conv2d_transpose_is_the_gradient_of_conv2d(padding, stride, k, size, backend):
    """By definition (and as TensorFlow computes it: checked once against TF 2.21, max abs
    difference 1e-6), conv2d_transpose(v, f, shape) is d conv2d(x, f) / dx applied to v."""
    tf.reset_default_graph()
    rng = np.random.RandomState(size * 10 + k)
    out_h = size * stride if padding == "SAME" else (size - 1) * stride + k
    fv = rng.rand(k, k, 2, 3)
    v = tf.placeholder(tf.float64, [None, size, size, 3])
    y = tf.nn.conv2d_transpose(v, tf.constant(fv), tf.stack([tf.shape(v)[0], out_h, out_h, 2]),
                               [1, stride, stride, 1], padding)
    xi = tf.placeholder(tf.float64, [None, out_h, out_h, 2])
    conv = tf.nn.conv2d(xi, tf.constant(fv), [1, stride, stride, 1], padding)
    assert conv.shape.as_list()[1:3] == [size, size]
    want = tf.gradients(conv, xi, grad_ys=v)[0]
    vv = rng.rand(2, size, size, 3)
    with tf.Session(backend=backend) as s:
        got, ref = s.run([y, want], {v: vv, xi: np.zeros((2, out_h, out_h, 2))})
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_conv2d_transpose_gradients_match_finite_differences():
    rng = np.random.RandomState(0)
    vv, fv = rng.rand(1, 3, 3, 2), rng.rand(3, 3, 2, 2)
    v = tf.placeholder(tf.float64, [1, 3, 3, 2])
    f = tf.placeholder(tf.float64, [3, 3, 2, 2])
    w = rng.rand(1, 6, 6, 2)
    y = tf.reduce_sum(tf.nn.conv2d_transpose(v, f, [1, 6, 6, 2], [1, 2, 2, 1], "SAME") * w)
    gv, gf = tf.gradients(y, [v, f])
    with tf.Session() as s:
        a, b = s.run([gv, gf], {v: vv, f: fv})

        def num(arr, which, eps=1e-6):
            out = np.zeros_like(arr)
            for i in np.ndindex(arr.shape):
                hi, lo = arr.copy(), arr.copy()
                hi[i] += eps
                lo[i] -= eps
                feeds = ({v: hi, f: fv}, {v: lo, f: fv}) if which == "v" else \
                    ({v: vv, f: hi}, {v: vv, f: lo})
                out[i] = (s.run(y, feeds[0]) - s.run(y, feeds[1])) / (2 * eps)
            return out
        np.testing.assert_allclose(a, num(vv, "v"), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(b, num(fv, "f"), rtol=1e-6, atol=1e-8)


def test_conv2d_transpose_layer_shapes_names_and_training():
    x = tf.placeholder(tf.float32, [None, 4, 4, 3])
    same = tf.layers.conv2d_transpose(x, 5, 3, strides=2, padding="same")
    valid = tf.layers.conv2d_transpose(x, 2, 3, strides=2, padding="valid", activation=tf.nn.relu)
    small_k = tf.layers.conv2d_transpose(x, 2, 1, strides=3, padding="valid")
    assert same.shape.as_list() == [None, 8, 8, 5]
    assert valid.shape.as_list() == [None, 9, 9, 2]
    assert small_k.shape.as_list() == [None, 12, 12, 2]        # in*s + max(k - s, 0)
    names = {v.op.name: v.shape.as_list() for v in tf.trainable_variables()}
    assert names["conv2d_transpose/kernel"] == [3, 3, 5, 3]
    assert names["conv2d_transpose/bias"] == [5]
    assert "conv2d_transpose_1/kernel" in names
    target = tf.placeholder(tf.float32, [None, 8, 8, 5])
    loss = tf.reduce_mean(tf.square(same - target))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    rng = np.random.RandomState(1)
    feed = {x: rng.rand(4, 4, 4, 3).astype(np.float32),
            target: rng.rand(4, 8, 8, 5).astype(np.float32)}
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        first = s.run(loss, feed)
        for _ in range(100):
            s.run(train, feed)
        assert s.run(loss, feed) < 0.5 * first
        assert s.run(valid, {x: feed[x][:2]}).shape == (2, 9, 9, 2)


def test_conv2d_transpose_checks_the_output_shape():
    v = tf.placeholder(tf.float32, [1, 3, 3, 2])
    with pytest.raises(Exception, match="out_backprop dim 1 is 3 but the convolution gives 5"):
        tf.nn.conv2d_transpose(v, tf.ones([3, 3, 4, 2]), [1, 10, 10, 4], [1, 2, 2, 1], "SAME")
