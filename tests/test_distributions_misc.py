"""tf.distributions (Normal, Uniform, Bernoulli, Categorical, kl_divergence), small math
helpers (math_extra), contrib.layers.layer_norm / one_hot_encoding and HParams."""
from __future__ import annotations

import math

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients, run

rng = np.random.RandomState(0)


def test_normal():
    mu, sd = np.array([0.5, -1.0]), np.array([1.5, 0.3])
    x = np.array([[0.1, -0.9], [2.0, -1.2]])
    tf.reset_default_graph()
    d = tf.distributions.Normal(loc=mu, scale=sd)
    lp, p, m, v, e, s = run([d.log_prob(x), d.prob(x), d.mean(), d.variance(), d.entropy(),
                             d.sample(2000, seed=1)])
    ref = -0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(lp, ref, rtol=1e-12)
    np.testing.assert_allclose(p, np.exp(ref), rtol=1e-12)
    np.testing.assert_allclose(m, mu) and np.testing.assert_allclose(v, sd ** 2)
    np.testing.assert_allclose(e, 0.5 + 0.5 * math.log(2 * math.pi) + np.log(sd))
    assert s.shape == (2000, 2)
    np.testing.assert_allclose(s.mean(0), mu, atol=0.1)
    np.testing.assert_allclose(s.std(0), sd, rtol=0.1)
    check_gradients(lambda a, b: tf.distributions.Normal(a, b).log_prob(x), [mu, sd])


def test_kl_divergence():
    tf.reset_default_graph()
    a = tf.distributions.Normal(np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    b = tf.distributions.Normal(np.array([0.5, 0.0]), np.array([1.5, 1.0]))
    kl = run(tf.distributions.kl_divergence(a, b))
    ref = np.log([1.5, 1.0] / np.array([1.0, 2.0])) + (np.array([1.0, 4.0]) +
                                                       np.array([0.25, 1.0])) / (
        2 * np.array([2.25, 1.0])) - 0.5
    np.testing.assert_allclose(kl, ref, rtol=1e-12)
    la, lb = np.log([[0.2, 0.8]]), np.log([[0.5, 0.5]])
    ca, cb = tf.distributions.Categorical(logits=la), tf.distributions.Categorical(logits=lb)
    np.testing.assert_allclose(run(tf.distributions.kl_divergence(ca, cb)),
                               [0.2 * np.log(0.4) + 0.8 * np.log(1.6)], rtol=1e-10)


def test_bernoulli_categorical_uniform():
    tf.reset_default_graph()
    be = tf.distributions.Bernoulli(logits=np.array([0.3, -2.0]))
    ber_p = tf.distributions.Bernoulli(probs=np.array([0.25, 0.9]))
    cat = tf.distributions.Categorical(probs=np.array([[0.2, 0.5, 0.3]]))
    un = tf.contrib.distributions.Uniform(1.0, 3.0)
    got = run([be.log_prob([1, 0]), be.entropy(), ber_p.sample(1000, seed=3),
               cat.log_prob([[1]]), cat.entropy(), cat.sample(500, seed=4),
               un.log_prob([2.0, 4.0]), un.sample(200, seed=5), un.mean()])
    p = 1 / (1 + np.exp(-np.array([0.3, -2.0])))
    np.testing.assert_allclose(got[0], [np.log(p[0]), np.log(1 - p[1])], rtol=1e-10)
    np.testing.assert_allclose(got[1], -(p * np.log(p) + (1 - p) * np.log(1 - p)), rtol=1e-10)
    assert got[2].dtype == np.int32 and got[2].shape == (1000, 2)
    np.testing.assert_allclose(got[2].mean(0), [0.25, 0.9], atol=0.05)
    np.testing.assert_allclose(got[3], [[np.log(0.5)]], rtol=1e-10)
    pc = np.array([0.2, 0.5, 0.3])
    np.testing.assert_allclose(got[4], [-(pc * np.log(pc)).sum()], rtol=1e-10)
    assert got[5].shape == (500, 1)
    np.testing.assert_allclose(np.bincount(got[5][:, 0], minlength=3) / 500, pc, atol=0.07)
    np.testing.assert_allclose(got[6], [-np.log(2.0), -np.inf])
    assert (got[7] >= 1).all() and (got[7] < 3).all() and got[8] == 2.0


def test_math_extra():
    x = rng.randn(3, 4)
    y = np.array([[1.0, 0.0, 2.0, 0.0]])
    tf.reset_default_graph()
    got = run([tf.nn.swish(x), tf.nn.zero_fraction([0.0, 1.0, 0.0, 3.0]),
               tf.math.reduce_std(x, 1), tf.math.reduce_variance(x, 0, keepdims=True),
               tf.div_no_nan(x, y), tf.logical_xor([True, False, True], [True, True, False]),
               tf.accumulate_n([x, x, x]), tf.scalar_mul(2.0, x),
               tf.nn.weighted_moments(x, [1], np.array([[1.0, 2.0, 0.0, 1.0]]))])
    np.testing.assert_allclose(got[0], x / (1 + np.exp(-x)), rtol=1e-12)
    assert got[1] == 0.5
    np.testing.assert_allclose(got[2], x.std(1), rtol=1e-12)
    np.testing.assert_allclose(got[3], x.var(0, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(got[4], np.where(y == 0, 0, x / np.where(y == 0, 1, y)))
    assert list(got[5]) == [False, True, True]
    np.testing.assert_allclose(got[6], 3 * x) and np.testing.assert_allclose(got[7], 2 * x)
    w = np.array([1.0, 2.0, 0.0, 1.0])
    mean = (x * w).sum(1) / w.sum()
    np.testing.assert_allclose(got[8][0], mean, rtol=1e-12)
    np.testing.assert_allclose(got[8][1], ((x - mean[:, None]) ** 2 * w).sum(1) / w.sum(),
                               rtol=1e-12)
    check_gradients(lambda t: tf.div_no_nan(t, y), [x])
    check_gradients(lambda t: tf.math.reduce_std(t, 1), [x])


def test_image_extras():
    img = rng.rand(4, 5, 3)
    batch = rng.rand(2, 4, 5, 1)
    tf.reset_default_graph()
    t, r1, r3, tv, tvb, ps = run([tf.image.transpose_image(img), tf.image.rot90(img),
                                  tf.image.rot90(batch, 3), tf.image.total_variation(img),
                                  tf.image.total_variation(batch),
                                  tf.image.psnr(img, img * 0.9, 1.0)])
    np.testing.assert_array_equal(t, img.transpose(1, 0, 2))
    np.testing.assert_array_equal(r1, np.rot90(img))
    np.testing.assert_array_equal(r3, np.rot90(batch, 3, axes=(1, 2)))
    ref_tv = np.abs(np.diff(img, axis=0)).sum() + np.abs(np.diff(img, axis=1)).sum()
    assert tv == pytest.approx(ref_tv)
    np.testing.assert_allclose(tvb, np.abs(np.diff(batch, axis=1)).sum((1, 2, 3)) +
                               np.abs(np.diff(batch, axis=2)).sum((1, 2, 3)))
    assert ps == pytest.approx(10 * np.log10(1 / ((img * 0.1) ** 2).mean()))


def test_layer_norm_and_one_hot_encoding():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 2, 3])
    y = tf.contrib.layers.layer_norm(x)
    y2 = tf.contrib.layers.layer_norm(x, begin_norm_axis=-1, center=False)
    oh = tf.contrib.layers.one_hot_encoding([0, 2], 3)
    assert [v.op.name for v in tf.global_variables()] == ["LayerNorm/gamma", "LayerNorm/beta",
                                                          "LayerNorm_1/gamma"]
    xv = rng.randn(4, 2, 3).astype(np.float32)
    a, b, o = run([y, y2, oh], {x: xv})
    m, v = xv.mean((1, 2), keepdims=True), xv.var((1, 2), keepdims=True)
    np.testing.assert_allclose(a, (xv - m) / np.sqrt(v + 1e-12), rtol=1e-4, atol=1e-5)
    m2, v2 = xv.mean(-1, keepdims=True), xv.var(-1, keepdims=True)
    np.testing.assert_allclose(b, (xv - m2) / np.sqrt(v2 + 1e-12), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(o, np.eye(3, dtype=np.float32)[[0, 2]])


def test_hparams():
    hp = tf.contrib.training.HParams(learning_rate=0.1, layers=3, name="m", use_bn=False)
    hp.parse("learning_rate=0.01,layers=5,use_bn=true")
    assert (hp.learning_rate, hp.layers, hp.use_bn, hp.name) == (0.01, 5, True, "m")
    hp.set_hparam("layers", 7)
    hp.add_hparam("dropout", 0.5)
    assert hp.values() == {"learning_rate": 0.01, "layers": 7, "name": "m", "use_bn": True,
                           "dropout": 0.5}
    assert '"layers": 7' in hp.to_json() and "dropout" in hp
    with pytest.raises(ValueError, match="Unknown"):
        hp.parse("nope=1")
    with pytest.raises(ValueError):
        hp.add_hparam("layers", 1)
