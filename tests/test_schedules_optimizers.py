"""Learning-rate schedules vs TF1's formulas in NumPy at many steps; the added optimizers'
updates vs NumPy transcriptions of TF's kernels over several steps; ExponentialMovingAverage."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf

STEPS = [0, 1, 3, 7, 10, 15, 99, 100, 101, 250, 1000]


def schedule_values(make, steps=STEPS):
    tf.reset_default_graph()
    step = tf.placeholder(tf.int64, [])
    lr = make(step)
    with tf.Session(backend="reference") as s:
        return [float(s.run(lr, {step: k})) for k in steps]


def _cosine(lr, k, ds, alpha):
    k = min(k, ds)
    return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * k / ds)) + alpha)


def _restarts(lr, k, first, t_mul, m_mul, alpha):
    frac = k / first
    if t_mul == 1.0:
        i = math.floor(frac)
        frac -= i
    else:
        i = math.floor(math.log(1 - frac * (1 - t_mul)) / math.log(t_mul))
        sum_r = (1 - t_mul ** i) / (1 - t_mul)
        frac = (frac - sum_r) / t_mul ** i
    cos = 0.5 * m_mul ** i * (1 + math.cos(math.pi * frac))
    return lr * ((1 - alpha) * cos + alpha)


def _linear_cosine(lr, k, ds, periods, alpha, beta):
    k = min(k, ds)
    lin = (ds - k) / ds
    cos = 0.5 * (1 + math.cos(math.pi * 2 * periods * k / ds))
    return lr * ((alpha + lin) * cos + beta)


def _poly(lr, k, ds, end, power, cycle):
    if cycle:
        ds = ds * (math.ceil(k / ds) if k > 0 else 1)
    else:
        k = min(k, ds)
    return (lr - end) * (1 - k / ds) ** power + end


CASES = {
    "natural_exp": (lambda s: tf.train.natural_exp_decay(0.1, s, 10, 0.5),
                    lambda k: 0.1 * math.exp(-0.5 * k / 10)),
    "natural_exp_stair": (lambda s: tf.train.natural_exp_decay(0.1, s, 10, 0.5, staircase=True),
                          lambda k: 0.1 * math.exp(-0.5 * (k // 10))),
    "inverse_time": (lambda s: tf.train.inverse_time_decay(0.1, s, 10, 0.5),
                     lambda k: 0.1 / (1 + 0.5 * k / 10)),
    "inverse_time_stair": (lambda s: tf.train.inverse_time_decay(0.1, s, 10, 0.5, True),
                           lambda k: 0.1 / (1 + 0.5 * (k // 10))),
    "poly": (lambda s: tf.train.polynomial_decay(0.1, s, 100, 0.01, power=2.0),
             lambda k: _poly(0.1, k, 100, 0.01, 2.0, False)),
    "poly_cycle": (lambda s: tf.train.polynomial_decay(0.1, s, 100, 0.01, 0.5, cycle=True),
                   lambda k: _poly(0.1, k, 100, 0.01, 0.5, True)),
    "cosine": (lambda s: tf.train.cosine_decay(0.1, s, 100, alpha=0.1),
               lambda k: _cosine(0.1, k, 100, 0.1)),
    "restarts": (lambda s: tf.train.cosine_decay_restarts(0.1, s, 10, 2.0, 0.5, 0.05),
                 lambda k: _restarts(0.1, k, 10, 2.0, 0.5, 0.05)),
    "restarts_t1": (lambda s: tf.train.cosine_decay_restarts(0.1, s, 10, 1.0, 0.9),
                    lambda k: _restarts(0.1, k, 10, 1.0, 0.9, 0.0)),
    "linear_cosine": (lambda s: tf.train.linear_cosine_decay(0.1, s, 100, 2.5, 0.1, 0.01),
                      lambda k: _linear_cosine(0.1, k, 100, 2.5, 0.1, 0.01)),
    "piecewise": (lambda s: tf.train.piecewise_constant(s, [10, 100], [1.0, 0.5, 0.1]),
                  lambda k: 1.0 if k <= 10 else 0.5 if k <= 100 else 0.1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_schedule_matches_tf_formula(case):
    make, ref = CASES[case]
    got = schedule_values(make)
    np.testing.assert_allclose(got, [ref(k) for k in STEPS], rtol=2e-6, atol=1e-8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=st.floats(-1e3, 1e3, allow_nan=False))
def test_schedules_cosine_helper(x):
    from jitflow.frontend.schedules import _cos
    tf.reset_default_graph()
    t = tf.constant(x, dtype=tf.float64)
    with tf.Session(backend="reference") as s:
        assert float(s.run(_cos(t))) == pytest.approx(math.cos(x), abs=1e-11)


def test_piecewise_constant_checks_lengths():
    with pytest.raises(ValueError, match="1 less"):
        tf.train.piecewise_constant(tf.constant(1), [1, 2], [1.0, 2.0])


# ---------------------------------------------------------------------- optimizers ---------

def _np_adadelta(var, grads, lr, rho, eps):
    acc, acc_up = np.zeros_like(var), np.zeros_like(var)
    for g in grads:
        acc = rho * acc + (1 - rho) * g * g
        upd = np.sqrt(acc_up + eps) / np.sqrt(acc + eps) * g
        acc_up = rho * acc_up + (1 - rho) * upd * upd
        var = var - lr * upd
    return var, {"accum": acc, "accum_update": acc_up}


def _np_ftrl(var, grads, lr, power, init, l1, l2, shrink):
    acc, lin = np.full_like(var, init), np.zeros_like(var)
    p = -power
    for g in grads:
        acc_new = acc + g * g
        g_lin = g + 2 * shrink * var
        lin = lin + g_lin - (acc_new ** p - acc ** p) / lr * var
        quad = acc_new ** p / lr + 2 * l2
        var = np.where(np.abs(lin) > l1, (np.sign(lin) * l1 - lin) / quad, 0.0)
        acc = acc_new
    return var, {"accum": acc, "linear": lin}


def _np_prox_gd(var, grads, lr, l1, l2):
    for g in grads:
        p = var - lr * g
        var = np.sign(p) * np.maximum(np.abs(p) - lr * l1, 0) / (1 + lr * l2)
    return var, {}


def _np_prox_adagrad(var, grads, lr, init, l1, l2):
    acc = np.full_like(var, init)
    for g in grads:
        acc = acc + g * g
        lr_t = lr / np.sqrt(acc)
        p = var - lr_t * g
        var = np.sign(p) * np.maximum(np.abs(p) - lr_t * l1, 0) / (1 + lr_t * l2)
    return var, {"accumulator": acc}


OPTIMIZERS = {
    "adadelta": (lambda: tf.train.AdadeltaOptimizer(0.5, rho=0.9, epsilon=1e-6),
                 lambda v, gs: _np_adadelta(v, gs, 0.5, 0.9, 1e-6), ["Adadelta", "Adadelta_1"]),
    "ftrl": (lambda: tf.train.FtrlOptimizer(0.3, l1_regularization_strength=0.05,
                                            l2_regularization_strength=0.1),
             lambda v, gs: _np_ftrl(v, gs, 0.3, -0.5, 0.1, 0.05, 0.1, 0.0), ["Ftrl", "Ftrl_1"]),
    "ftrl_power_shrink": (lambda: tf.train.FtrlOptimizer(
        0.3, learning_rate_power=-0.3, initial_accumulator_value=0.5,
        l2_shrinkage_regularization_strength=0.2),
        lambda v, gs: _np_ftrl(v, gs, 0.3, -0.3, 0.5, 0.0, 0.0, 0.2), ["Ftrl", "Ftrl_1"]),
    "proximal_gd": (lambda: tf.train.ProximalGradientDescentOptimizer(0.2, 0.1, 0.3),
                    lambda v, gs: _np_prox_gd(v, gs, 0.2, 0.1, 0.3), []),
    "proximal_gd_l2": (lambda: tf.train.ProximalGradientDescentOptimizer(0.2, 0.0, 0.3),
                       lambda v, gs: _np_prox_gd(v, gs, 0.2, 0.0, 0.3), []),
    "proximal_adagrad": (lambda: tf.train.ProximalAdagradOptimizer(0.4, 0.2, 0.05, 0.1),
                         lambda v, gs: _np_prox_adagrad(v, gs, 0.4, 0.2, 0.05, 0.1),
                         ["ProximalAdagrad"]),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_match_tf_kernels(name):
    make, ref, slot_suffixes = OPTIMIZERS[name]
    tf.reset_default_graph()
    v0 = np.array([0.5, -1.2, 2.0, 0.05], np.float64)
    target = np.array([1.0, 0.0, -1.0, 0.3])
    var = tf.Variable(v0, name="w")
    loss = tf.reduce_sum(tf.square(var - target) * np.array([1.0, 2.0, 0.5, 3.0]))
    opt = make()
    train = opt.minimize(loss)
    slots = sorted(v.op.name for v in tf.global_variables() if v is not var)
    assert slots == sorted(f"w/{s}" for s in slot_suffixes)
    grads_seen, cur = [], v0.copy()
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        for _ in range(5):
            grads_seen.append(2 * (cur - target) * np.array([1.0, 2.0, 0.5, 3.0]))
            s.run(train)
            cur = s.run(var)
            expect, _ = ref(v0.copy(), grads_seen)
            np.testing.assert_allclose(cur, expect, rtol=1e-10, atol=1e-12)
        _, slot_ref = ref(v0.copy(), grads_seen)
        for key, val in slot_ref.items():
            np.testing.assert_allclose(s.run(opt.get_slot(var, key)), val, rtol=1e-10)


def test_exponential_moving_average():
    tf.reset_default_graph()
    w = tf.Variable(1.0, name="w")
    step = tf.Variable(0, trainable=False, name="step")
    ema = tf.train.ExponentialMovingAverage(0.9, num_updates=step)
    with tf.control_dependencies([tf.assign_add(w, 1.0)]):
        bump = tf.identity(w)
    avg_op = ema.apply([w])
    shadow = ema.average(w)
    assert shadow.op.name == "w/ExponentialMovingAverage" and not shadow.trainable
    assert ema.average_name(w) == "w/ExponentialMovingAverage"
    assert tf.get_collection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES) == [w]
    restore = ema.variables_to_restore()
    assert restore["w/ExponentialMovingAverage"] is w and restore["step"] is step
    with pytest.raises(ValueError, match="already computed"):
        ema.apply([w])
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        assert s.run(shadow) == 1.0
        sh, wv = 1.0, 1.0
        for n in range(4):
            s.run(bump)
            wv += 1
            s.run(tf.assign(step, n))
            s.run(avg_op)
            d = min(0.9, (1 + n) / (10 + n))
            sh -= (1 - d) * (sh - wv)
            assert s.run(shadow) == pytest.approx(sh, rel=1e-6)
