"""tf.contrib.opt against NumPy re-implementations of TF1's update formulas: AdamW and
MomentumW (decoupled weight decay, decay_var_list through minimize and apply_gradients),
extend_with_decoupled_weight_decay on GradientDescent/Momentum/ProximalGradientDescent,
LazyAdam (= Adam on dense gradients), Nadam, AdaMax and MovingAverageOptimizer with its
swapping saver; on llvm and reference."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.compat.v1._namespace import NotImplementedInJitflow

W0 = np.array([1.0, -2.0, 0.5])
B0 = 0.75
TARGET = np.array([3.0, 1.0, -1.0])
STEPS = 4


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


@pytest.fixture(params=["llvm", "reference"])
def backend(request):
    return request.param


def build_problem():
    """loss = sum((w - t)^2) + (2b)^2 + sum(w) * b: coupled, with a non-trivial gradient."""
    w = tf.Variable(W0.astype(np.float32), name="w")
    b = tf.Variable(np.float32(B0), name="b")
    loss = (tf.reduce_sum(tf.square(w - TARGET.astype(np.float32))) + tf.square(b * 2.0)
            + tf.reduce_sum(w) * b)
    return w, b, loss


def np_grads(w, b):
    return [2 * (w - TARGET) + b, 8 * b + w.sum()]


def run(train, fetch, backend, steps=STEPS):
    out = []
    with tf.Session(backend=backend) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            sess.run(train)
            out.append(sess.run(fetch))
    return out


def np_adam(decay, lr=0.001, b1=0.9, b2=0.999, eps=1e-8, steps=STEPS, nesterov=False):
    """TF's ApplyAdam after ``var -= decay[i] * var`` (the gradient taken at the old var)."""
    vs = [W0.copy(), np.float64(B0)]
    m = [np.zeros_like(v) for v in vs]
    s = [np.zeros_like(v) for v in vs]
    out = []
    for t in range(1, steps + 1):
        gs = np_grads(*vs)
        lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for i, g in enumerate(gs):
            vs[i] = vs[i] - decay[i] * vs[i]
            m[i] = m[i] + (g - m[i]) * (1 - b1)
            s[i] = s[i] + (g * g - s[i]) * (1 - b2)
            step = (m[i] * b1 + (1 - b1) * g) if nesterov else m[i]
            vs[i] = vs[i] - lr_t * step / (np.sqrt(s[i]) + eps)
        out.append([v.copy() for v in vs])
    return out


def np_momentum(decay, lr, mom, nesterov=False, steps=STEPS):
    vs = [W0.copy(), np.float64(B0)]
    acc = [np.zeros_like(v) for v in vs]
    out = []
    for _ in range(steps):
        gs = np_grads(*vs)
        for i, g in enumerate(gs):
            vs[i] = vs[i] - decay[i] * vs[i]
            acc[i] = acc[i] * mom + g
            vs[i] = vs[i] - (lr * g + lr * mom * acc[i] if nesterov else lr * acc[i])
        out.append([v.copy() for v in vs])
    return out


def check(got, want, rtol=2e-5, atol=1e-6):
    assert len(got) == len(want)
    for step, (g, w) in enumerate(zip(got, want)):
        for a, b in zip(g, w):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"step {step + 1}")


def test_adamw_decays_every_variable_then_applies_adam(backend):
    w, b, loss = build_problem()
    opt = tf.contrib.opt.AdamWOptimizer(0.05, learning_rate=0.1)
    train = opt.minimize(loss)
    got = run(train, [w, b], backend)
    check(got, np_adam([0.05, 0.05], lr=0.1))
    assert opt.get_name() == "AdamW"
    assert opt.get_slot(w, "m").op.name.startswith("w/AdamW")
    assert sorted(opt.get_slot_names()) == ["m", "v"]


def test_adamw_decay_var_list_through_minimize(backend):
    w, b, loss = build_problem()
    opt = tf.contrib.opt.AdamWOptimizer(0.1, learning_rate=0.05, beta1=0.8, beta2=0.99,
                                        epsilon=1e-6)
    gstep = tf.train.get_or_create_global_step()
    train = opt.minimize(loss, global_step=gstep, decay_var_list=[b])
    got = run(train, [w, b], backend)
    check(got, np_adam([0.0, 0.1], lr=0.05, b1=0.8, b2=0.99, eps=1e-6))
    with tf.Session(backend=backend) as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        sess.run(train)
        assert sess.run(gstep) == 2


def test_decay_var_list_through_apply_gradients_and_tensor_decay(backend):
    w, b, loss = build_problem()
    wd = tf.placeholder_with_default(np.float32(0.2), [])
    opt = tf.contrib.opt.MomentumWOptimizer(wd, learning_rate=0.05, momentum=0.9)
    gvs = opt.compute_gradients(loss)
    train = opt.apply_gradients(gvs, decay_var_list=[w])
    check(run(train, [w, b], backend), np_momentum([0.2, 0.0], 0.05, 0.9))


def test_momentumw_nesterov_and_callable_decay(backend):
    w, b, loss = build_problem()
    opt = tf.contrib.opt.MomentumWOptimizer(lambda: 0.03, 0.02, 0.5, use_nesterov=True)
    train = opt.minimize(loss)
    check(run(train, [w, b], backend), np_momentum([0.03, 0.03], 0.02, 0.5, nesterov=True))
    assert opt.get_name() == "MomentumW"


def test_extend_gradient_descent(backend):
    SGDW = tf.contrib.opt.extend_with_decoupled_weight_decay(tf.train.GradientDescentOptimizer)
    assert issubclass(SGDW, tf.train.GradientDescentOptimizer)
    assert issubclass(SGDW, tf.contrib.opt.DecoupledWeightDecayExtension)
    w, b, loss = build_problem()
    opt = SGDW(0.1, 0.05)      # weight_decay first, then the base class's arguments
    train = opt.minimize(loss)
    want, vs = [], [W0.copy(), np.float64(B0)]
    for _ in range(STEPS):
        gs = np_grads(*vs)
        vs = [v - 0.1 * v - 0.05 * g for v, g in zip(vs, gs)]
        want.append(vs)
    check(run(train, [w, b], backend), want)
    assert opt.get_name() == "GradientDescent"


def test_extend_momentum_equals_momentumw(backend):
    MomW = tf.contrib.opt.extend_with_decoupled_weight_decay(tf.train.MomentumOptimizer)
    w, b, loss = build_problem()
    train = MomW(weight_decay=0.04, learning_rate=0.03, momentum=0.7).minimize(
        loss, decay_var_list=[w])
    check(run(train, [w, b], backend), np_momentum([0.04, 0.0], 0.03, 0.7))


def test_extend_proximal_sees_the_decayed_variable(backend):
    """TF decays before the base update, which then reads the decayed var (the documented
    caveat for updates that depend on var): prox = (1 - wd) var - lr g, / (1 + lr l2)."""
    ProxW = tf.contrib.opt.extend_with_decoupled_weight_decay(
        tf.train.ProximalGradientDescentOptimizer)
    w, b, loss = build_problem()
    train = ProxW(0.1, 0.05, l2_regularization_strength=0.5).minimize(loss)
    want, vs = [], [W0.copy(), np.float64(B0)]
    for _ in range(STEPS):
        gs = np_grads(*vs)
        vs = [((1 - 0.1) * v - 0.05 * g) / (1 + 0.05 * 0.5) for v, g in zip(vs, gs)]
        want.append(vs)
    check(run(train, [w, b], backend), want)


def test_extend_refuses_a_non_optimizer():
    with pytest.raises(TypeError, match="optimizer class.*got <class 'int'>"):
        tf.contrib.opt.extend_with_decoupled_weight_decay(int)


def test_lazy_adam_is_adam_on_dense_gradients(backend):
    w, b, loss = build_problem()
    opt = tf.contrib.opt.LazyAdamOptimizer(0.1)
    assert opt.get_name() == "Adam"
    check(run(opt.minimize(loss), [w, b], backend), np_adam([0, 0], lr=0.1))


def test_lazy_adam_with_a_gather_gradient(backend):
    """An embedding lookup's gradient is dense here: every row's moments move (TF's dense
    path), the untouched rows by zero gradients."""
    emb = tf.Variable(np.arange(8, dtype=np.float32).reshape(4, 2))
    loss = tf.reduce_sum(tf.square(tf.gather(emb, [1, 3, 1])))
    train = tf.contrib.opt.LazyAdamOptimizer(0.1).minimize(loss)
    got = run(train, [emb], backend, steps=2)
    e = np.arange(8, dtype=np.float64).reshape(4, 2)
    m, v = np.zeros_like(e), np.zeros_like(e)
    for t in (1, 2):
        g = np.zeros_like(e)
        for i in (1, 3, 1):
            g[i] += 2 * e[i]
        m += (g - m) * 0.1
        v += (g * g - v) * 0.001
        e = e - 0.1 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 1e-8)
        np.testing.assert_allclose(got[t - 1][0], e, rtol=2e-5, atol=1e-6)
    np.testing.assert_array_equal(got[-1][0][[0, 2]], [[0, 1], [4, 5]])


def test_nadam(backend):
    w, b, loss = build_problem()
    opt = tf.contrib.opt.NadamOptimizer(0.1, beta1=0.8)
    check(run(opt.minimize(loss), [w, b], backend),
          np_adam([0, 0], lr=0.1, b1=0.8, nesterov=True))


def test_adamax(backend):
    w, b, loss = build_problem()
    opt = tf.contrib.opt.AdaMaxOptimizer(0.1, beta1=0.8, beta2=0.95)
    got = run(opt.minimize(loss), [w, b], backend)
    vs = [W0.copy(), np.float64(B0)]
    m = [np.zeros_like(x) for x in vs]
    u = [np.zeros_like(x) for x in vs]
    want = []
    for t in range(1, STEPS + 1):
        gs = np_grads(*vs)
        for i, g in enumerate(gs):
            m[i] = m[i] + (g - m[i]) * 0.2
            u[i] = np.maximum(0.95 * u[i], np.abs(g))
            vs[i] = vs[i] - 0.1 / (1 - 0.8 ** t) * m[i] / (u[i] + 1e-8)
        want.append([x.copy() for x in vs])
    check(got, want)
    names = sorted(v.op.name for v in opt.variables())
    assert "beta1_power" in names and "beta2_power" not in names


def test_moving_average_optimizer_and_swapping_saver(backend, tmp_path):
    w, b, loss = build_problem()
    opt = tf.contrib.opt.MovingAverageOptimizer(tf.train.GradientDescentOptimizer(0.05),
                                                average_decay=0.5)
    train = opt.minimize(loss)
    saver = opt.swapping_saver()
    avg_w = [v for v in tf.global_variables() if v.op.name == "w/ExponentialMovingAverage"][0]
    vs, avg = [W0.copy(), np.float64(B0)], [W0.copy(), np.float64(B0)]
    with tf.Session(backend=backend) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train)
            gs = np_grads(*vs)
            vs = [v - 0.05 * g for v, g in zip(vs, gs)]
            avg = [a - 0.5 * (a - v) for a, v in zip(avg, vs)]   # after the update
            got_w, got_avg = sess.run([w, avg_w])
            np.testing.assert_allclose(got_w, vs[0], rtol=1e-5)
            np.testing.assert_allclose(got_avg, avg[0], rtol=1e-5)
        path = saver.save(sess, os.path.join(str(tmp_path), "model.ckpt"))
    with tf.Session(backend=backend) as sess:
        tf.train.Saver().restore(sess, path)      # a plain saver gets the averages
        np.testing.assert_allclose(sess.run(w), avg[0], rtol=1e-5)
        np.testing.assert_allclose(sess.run(avg_w), vs[0], rtol=1e-5)


def test_swapping_saver_needs_apply_gradients_first():
    opt = tf.contrib.opt.MovingAverageOptimizer(tf.train.GradientDescentOptimizer(0.1))
    with pytest.raises(RuntimeError, match="apply_gradients or minimize"):
        opt.swapping_saver()


def test_namespace_and_missing_names():
    for n in ("AdamWOptimizer", "MomentumWOptimizer", "extend_with_decoupled_weight_decay",
              "LazyAdamOptimizer", "DecoupledWeightDecayExtension", "NadamOptimizer",
              "AdaMaxOptimizer", "MovingAverageOptimizer"):
        assert callable(getattr(tf.contrib.opt, n))
    with pytest.raises(NotImplementedInJitflow, match="tf.contrib.opt.ElasticAverageOptimizer"):
        tf.contrib.opt.ElasticAverageOptimizer


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3),
       wd=st.floats(0.0, 0.5), lr=st.floats(1e-3, 0.5), seed=st.integers(0, 2 ** 16))
def test_adamw_hypothesis(shape, wd, lr, seed):
    """AdamW on random shapes and hyperparameters: loss = sum(c * v^2) + sum(d * v)."""
    rng = np.random.RandomState(seed)
    v0, c, d = (np.asarray(rng.randn(*shape)) for _ in range(3))
    with tf.Graph().as_default():
        v = tf.Variable(v0.astype(np.float32))
        loss = tf.reduce_sum(np.float32(c) * tf.square(v)) + tf.reduce_sum(np.float32(d) * v)
        train = tf.contrib.opt.AdamWOptimizer(wd, learning_rate=lr).minimize(loss)
        with tf.Session(backend="reference") as sess:
            sess.run(tf.global_variables_initializer())
            got = []
            for _ in range(3):
                sess.run(train)
                got.append(sess.run(v))
    x, m, s = v0.astype(np.float64), np.zeros(shape), np.zeros(shape)
    for t in range(1, 4):
        g = 2 * c * x + d
        x = x - wd * x
        m += (g - m) * 0.1
        s += (g * g - s) * 0.001
        x = x - lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(s) + 1e-8)
        np.testing.assert_allclose(got[t - 1], x, rtol=1e-4, atol=1e-5)
