"""tf.train optimizers against NumPy re-implementations of TF1's exact kernels
(TF1_API.md rows 7, 13, 14, 41, 42 and §5.7): every variable and every slot after each of
three steps, slot naming, var_list freezing, global_step, compute/apply_gradients, tensor
learning rates and the "No gradients" error."""
import re

import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


W0 = np.array([1.0, -2.0, 0.5])
B0 = 0.75
TARGET = np.array([3.0, 1.0, -1.0])


def build_problem():
    """loss = sum((w - t)^2) + (2b)^2 + sum(w) * b: coupled, with a non-trivial gradient."""
    w = tf.Variable(W0.astype(np.float32), name="w")
    b = tf.Variable(np.float32(B0), name="b")
    loss = (tf.reduce_sum(tf.square(w - TARGET.astype(np.float32))) + tf.square(b * 2.0)
            + tf.reduce_sum(w) * b)
    return w, b, loss


def np_grads(w, b):
    return 2 * (w - TARGET) + b, 8 * b + w.sum()


def run_steps(opt, slot_names, steps=3, extra=None):
    """Run ``steps`` minimize steps; return per step the values of w, b, and each slot."""
    w, b, loss = build_problem()
    train = opt.minimize(loss)
    fetch = {"w": w, "b": b}
    for name in slot_names:
        fetch[f"w.{name}"] = opt.get_slot(w, name)
        fetch[f"b.{name}"] = opt.get_slot(b, name)
    for name in extra or []:
        fetch[name] = [v for v in tf.global_variables() if v.op.name == name][0]
    out = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out.append(sess.run(fetch))
        for _ in range(steps):
            sess.run(train)
            out.append(sess.run(fetch))
    return out


def check(got_steps, want_steps):
    for step, (got, want) in enumerate(zip(got_steps, want_steps)):
        assert set(got) == set(want)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=2e-5, atol=1e-6,
                                       err_msg=f"{k} after step {step}")


def reference(update, state, steps=3):
    """Run a NumPy update rule; ``state`` holds w, b and slots (keyed 'w.x'/'b.x')."""
    out = [{k: np.array(v, dtype=np.float64) for k, v in state.items()}]
    for _ in range(steps):
        gw, gb = np_grads(state["w"], state["b"])
        update(state, {"w": gw, "b": gb})
        out.append({k: np.array(v, dtype=np.float64) for k, v in state.items()})
    return out


def test_gradient_descent_matches_numpy():
    lr = 0.1

    def update(s, g):
        for v in ("w", "b"):
            s[v] = s[v] - lr * g[v]
    want = reference(update, {"w": W0.copy(), "b": B0})
    check(run_steps(tf.train.GradientDescentOptimizer(lr), []), want)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_numpy(nesterov):
    lr, mom = 0.05, 0.9

    def update(s, g):
        for v in ("w", "b"):
            s[f"{v}.momentum"] = s[f"{v}.momentum"] * mom + g[v]
            if nesterov:
                s[v] = s[v] - (g[v] * lr + s[f"{v}.momentum"] * mom * lr)
            else:
                s[v] = s[v] - lr * s[f"{v}.momentum"]
    want = reference(update, {"w": W0.copy(), "b": B0, "w.momentum": np.zeros(3),
                              "b.momentum": 0.0})
    opt = tf.train.MomentumOptimizer(lr, mom, use_nesterov=nesterov)
    check(run_steps(opt, ["momentum"]), want)


def test_adam_matches_tf1_kernel():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8

    def update(s, g):
        alpha = lr * np.sqrt(1 - s["beta2_power"]) / (1 - s["beta1_power"])
        for v in ("w", "b"):
            s[f"{v}.m"] = s[f"{v}.m"] + (g[v] - s[f"{v}.m"]) * (1 - b1)
            s[f"{v}.v"] = s[f"{v}.v"] + (g[v] * g[v] - s[f"{v}.v"]) * (1 - b2)
            s[v] = s[v] - alpha * s[f"{v}.m"] / (np.sqrt(s[f"{v}.v"]) + eps)
        s["beta1_power"] = s["beta1_power"] * b1   # advanced after the updates
        s["beta2_power"] = s["beta2_power"] * b2
    want = reference(update, {"w": W0.copy(), "b": B0, "w.m": np.zeros(3), "b.m": 0.0,
                              "w.v": np.zeros(3), "b.v": 0.0, "beta1_power": b1,
                              "beta2_power": b2})
    got = run_steps(tf.train.AdamOptimizer(lr), ["m", "v"], extra=["beta1_power", "beta2_power"])
    check(got, want)


@pytest.mark.parametrize("centered,momentum", [(False, 0.0), (False, 0.5), (True, 0.5)])
def test_rmsprop_matches_tf1_kernel(centered, momentum):
    lr, decay, eps = 0.01, 0.9, 1e-10

    def update(s, g):
        for v in ("w", "b"):
            s[f"{v}.rms"] = s[f"{v}.rms"] + (g[v] * g[v] - s[f"{v}.rms"]) * (1 - decay)
            denom = s[f"{v}.rms"]
            if centered:
                s[f"{v}.mg"] = s[f"{v}.mg"] + (g[v] - s[f"{v}.mg"]) * (1 - decay)
                denom = denom - s[f"{v}.mg"] ** 2
            s[f"{v}.momentum"] = (s[f"{v}.momentum"] * momentum
                                  + lr * g[v] / np.sqrt(denom + eps))
            s[v] = s[v] - s[f"{v}.momentum"]
    # the mean-square slot starts at ONES in TF1
    state = {"w": W0.copy(), "b": B0, "w.rms": np.ones(3), "b.rms": 1.0,
             "w.momentum": np.zeros(3), "b.momentum": 0.0}
    slots = ["rms", "momentum"]
    if centered:
        state.update({"w.mg": np.zeros(3), "b.mg": 0.0})
        slots.append("mg")
    want = reference(update, state)
    opt = tf.train.RMSPropOptimizer(lr, decay=decay, momentum=momentum, centered=centered)
    check(run_steps(opt, slots), want)


def test_adagrad_matches_tf1_kernel():
    lr = 0.5

    def update(s, g):
        for v in ("w", "b"):
            s[f"{v}.accumulator"] = s[f"{v}.accumulator"] + g[v] * g[v]
            s[v] = s[v] - lr * g[v] / np.sqrt(s[f"{v}.accumulator"])
    want = reference(update, {"w": W0.copy(), "b": B0, "w.accumulator": np.full(3, 0.1),
                              "b.accumulator": 0.1})
    check(run_steps(tf.train.AdagradOptimizer(lr), ["accumulator"]), want)


# ---------------------------------------------------------------- naming -------------------

def _var_names():
    return [v.op.name for v in tf.global_variables()]


def test_adam_slot_and_op_names():
    w, b, loss = build_problem()
    opt = tf.train.AdamOptimizer()
    train = opt.minimize(loss)
    assert _var_names() == ["w", "b", "beta1_power", "beta2_power", "w/Adam", "w/Adam_1",
                            "b/Adam", "b/Adam_1"]
    assert opt.get_slot(w, "m").op.name == "w/Adam"
    assert opt.get_slot(w, "v").op.name == "w/Adam_1"
    assert sorted(opt.get_slot_names()) == ["m", "v"]
    assert isinstance(train, tf.Operation)
    assert train.name == "Adam"
    assert tf.trainable_variables() == [w, b]  # slots are not trainable


def test_momentum_rmsprop_adagrad_slot_names():
    w, b, loss = build_problem()
    tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
    tf.train.RMSPropOptimizer(0.1).minimize(loss)
    tf.train.AdagradOptimizer(0.1).minimize(loss)
    names = _var_names()
    for n in ["w/Momentum", "b/Momentum", "w/RMSProp", "w/RMSProp_1", "b/RMSProp",
              "b/RMSProp_1", "w/Adagrad", "b/Adagrad"]:
        assert n in names
    assert "w/RMSProp_2" not in names


def test_rmsprop_centered_slot_order():
    w, b, loss = build_problem()
    opt = tf.train.RMSPropOptimizer(0.1, centered=True)
    opt.minimize(loss)
    assert opt.get_slot(w, "rms").op.name == "w/RMSProp"
    assert opt.get_slot(w, "mg").op.name == "w/RMSProp_1"
    assert opt.get_slot(w, "momentum").op.name == "w/RMSProp_2"


def test_minimize_op_names_and_name_scope():
    w, b, loss = build_problem()
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    assert train.name == "GradientDescent"
    ops = [op.name for op in tf.get_default_graph().get_operations()]
    assert any(n.startswith("GradientDescent/update_w/") for n in ops)
    assert any(n.startswith("gradients") for n in ops)
    assert tf.get_default_graph().get_operation_by_name("GradientDescent") is train
    with tf.name_scope("train"):
        t2 = tf.train.AdamOptimizer().minimize(loss)
    assert t2.name == "train/Adam"


# ---------------------------------------------------------------- behaviour ----------------

def test_var_list_freezes_other_variables():
    w, b, loss = build_problem()
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=[w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train)
        assert sess.run(b) == np.float32(B0)
        assert not np.allclose(sess.run(w), W0)


def test_var_list_from_collection_scope_regex():
    with tf.variable_scope("hidden1"):
        h1 = tf.get_variable("kernel", initializer=tf.constant([1.0, 2.0]))
    with tf.variable_scope("hidden3"):
        h3 = tf.get_variable("kernel", initializer=tf.constant([1.0, 2.0]))
    loss = tf.reduce_sum(tf.square(h1)) + tf.reduce_sum(tf.square(h3))
    train_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="hidden[34]|outputs")
    assert train_vars == [h3]
    train = tf.train.GradientDescentOptimizer(0.25).minimize(loss, var_list=train_vars)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        np.testing.assert_allclose(sess.run(h1), [1.0, 2.0])
        np.testing.assert_allclose(sess.run(h3), [0.5, 1.0])


def test_global_step_increments():
    w, b, loss = build_problem()
    step = tf.train.get_or_create_global_step()
    assert step.op.name == "global_step"
    assert step.dtype == tf.int64
    assert tf.train.get_or_create_global_step() is step
    train = tf.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
    plain = tf.Variable(0, trainable=False, name="my_step")
    train2 = tf.train.GradientDescentOptimizer(0.01).minimize(loss, global_step=plain)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train)
        sess.run(train2)
        assert sess.run(step) == 3
        assert sess.run(plain) == 1
        b1p = [v for v in tf.global_variables() if v.op.name == "beta1_power"][0]
        np.testing.assert_allclose(sess.run(b1p), 0.9 ** 4, rtol=1e-6)


def test_compute_and_apply_gradients_with_clipping():
    w, b, loss = build_problem()
    opt = tf.train.GradientDescentOptimizer(0.1)
    gvs = opt.compute_gradients(loss)
    assert [v for _, v in gvs] == [w, b]
    threshold = 1.0
    clipped = [(tf.minimum(tf.maximum(g, -threshold), threshold), v) for g, v in gvs]
    train = opt.apply_gradients(clipped)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        gw, gb = sess.run([gvs[0][0], gvs[1][0]])
        want_gw, want_gb = np_grads(W0, B0)
        np.testing.assert_allclose(gw, want_gw, rtol=1e-5)
        np.testing.assert_allclose(gb, want_gb, rtol=1e-5)
        sess.run(train)
        np.testing.assert_allclose(sess.run(w), W0 - 0.1 * np.clip(want_gw, -1, 1), rtol=1e-6)
        np.testing.assert_allclose(sess.run(b), B0 - 0.1 * np.clip(want_gb, -1, 1), rtol=1e-6)


def test_compute_gradients_pairs_none_and_apply_skips_it():
    w, b, loss = build_problem()
    unused = tf.Variable(5.0, name="unused")
    opt = tf.train.GradientDescentOptimizer(0.1)
    gvs = opt.compute_gradients(loss)
    assert gvs[2] == (None, unused)
    train = opt.apply_gradients(gvs)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        assert sess.run(unused) == 5.0


def test_learning_rate_placeholder():
    w, b, loss = build_problem()
    lr = tf.placeholder(tf.float32, shape=[], name="lr")
    train = tf.train.MomentumOptimizer(lr, 0.9).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {lr: 0.0})
        np.testing.assert_allclose(sess.run(w), W0)   # lr 0: no move (accum still grows)
        sess.run(train, {lr: 0.1})
        gw, _ = np_grads(W0, B0)
        np.testing.assert_allclose(sess.run(w), W0 - 0.1 * (gw * 0.9 + gw), rtol=1e-5)


def test_learning_rate_tensor_schedule():
    w, b, loss = build_problem()
    step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(0.1, step, decay_steps=1, decay_rate=0.5)
    train = tf.train.GradientDescentOptimizer(lr).minimize(loss, var_list=[b], global_step=step)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        b_val = B0
        for k in range(3):
            _, gb = np_grads(W0, b_val)
            b_val = b_val - 0.1 * 0.5 ** k * gb
            sess.run(train)
        np.testing.assert_allclose(sess.run(b), b_val, rtol=1e-5)


def test_minimize_without_connected_variables_raises():
    w, b, loss = build_problem()
    other = tf.placeholder(tf.float32, [], name="p")
    with pytest.raises(ValueError, match=re.escape("No gradients provided for any variable")):
        tf.train.GradientDescentOptimizer(0.1).minimize(other * 2.0)
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        tf.train.AdamOptimizer().minimize(tf.reduce_sum(w), var_list=[b])


def test_slots_exist_after_minimize_and_are_initialized_by_init():
    w, b, loss = build_problem()
    before = set(_var_names())
    opt = tf.train.AdamOptimizer(0.1)
    train = opt.minimize(loss)
    init = tf.global_variables_initializer()
    assert set(_var_names()) - before == {"beta1_power", "beta2_power", "w/Adam", "w/Adam_1",
                                          "b/Adam", "b/Adam_1"}
    with tf.Session() as sess:
        sess.run(init)
        np.testing.assert_array_equal(sess.run(opt.get_slot(w, "m")), np.zeros(3))
        _, l0 = sess.run([train, loss])
        l1 = sess.run(loss)
        assert l1 < l0


def test_train_ops_are_collected():
    w, b, loss = build_problem()
    t1 = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    t2 = tf.train.AdamOptimizer().minimize(loss, global_step=tf.train.get_or_create_global_step())
    assert tf.get_collection(tf.GraphKeys.TRAIN_OP) == [t1, t2]


def test_train_global_step_helper():
    step = tf.train.get_or_create_global_step()
    inc = tf.assign_add(step, 5)
    with tf.Session() as sess:
        sess.run(step.initializer)
        sess.run(inc)
        got = tf.train.global_step(sess, step)
    assert got == 5 and type(got) is int
