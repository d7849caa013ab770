"""Random ops inside tf.while_loop / tf.scan / tf.cond / dynamic_rnn (frontend/graph_to_ir.py
``lower_region_op``): every trip draws new numbers (the trip counter mixes into the step a
random op sees), the numbers are the same on llvm and the reference (one counter-based
generator), a new run draws new ones, and a gradient's replay of a trip sees the very numbers
the forward trip drew. A DropoutWrapper cell runs inside dynamic_rnn's loop (it was unrolled
over static time before: 52 s to compile at 50 steps)."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf

BACKENDS = ["llvm", "reference"]


def session(backend: str):
    return tf.Session(backend=backend)


def scan_of_uniforms(n: int):
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(3)
        elems = tf.placeholder(tf.float32, [None])
        ys = tf.scan(lambda acc, e: tf.random_uniform([3]) + 0.0 * e, elems,
                     initializer=tf.zeros([3]))
    return g, elems, ys


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_trip_draws_new_numbers_and_each_run_too(backend):
    g, elems, ys = scan_of_uniforms(6)
    with g.as_default(), session(backend) as s:
        a = s.run(ys, {elems: np.zeros(6, np.float32)})
        b = s.run(ys, {elems: np.zeros(6, np.float32)})
    assert a.shape == (6, 3) and np.all((a >= 0) & (a < 1))
    assert len({tuple(r) for r in a}) == 6                 # no two trips alike
    assert not np.array_equal(a, b)                        # a new run, new numbers


def test_llvm_and_the_reference_draw_the_same_numbers():
    out = []
    for backend in BACKENDS:
        g, elems, ys = scan_of_uniforms(5)
        with g.as_default(), session(backend) as s:
            out.append([s.run(ys, {elems: np.zeros(5, np.float32)}) for _ in range(2)])
    np.testing.assert_array_equal(out[0], out[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_gradient_replays_the_trips_numbers(backend):
    """x_{t+1} = x_t * u_t, u_t ~ U(0.5, 1.5) drawn in the loop: d x_T / d x_0 = prod u_t, with
    the u_t of that same run (stacked by the loop)."""
    g = tf.Graph()
    with g.as_default():
        x0 = tf.placeholder(tf.float32, [4])
        elems = tf.placeholder(tf.float32, [None])

        def fn(acc, e):
            u = tf.random_uniform([4], 0.5, 1.5)
            return acc[0] * u + 0.0 * e, u
        xs, us = tf.scan(fn, elems, initializer=(x0, tf.zeros([4])))
        dx0 = tf.gradients(tf.reduce_sum(xs[-1]), x0)[0]
    with g.as_default(), session(backend) as s:
        for trips in (1, 7):
            u, d, x = s.run([us, dx0, xs], {x0: np.full(4, 2.0, np.float32),
                                           elems: np.zeros(trips, np.float32)})
            assert u.shape == (trips, 4)
            np.testing.assert_allclose(d, np.prod(u, axis=0), rtol=1e-5)
            np.testing.assert_allclose(x[-1], 2.0 * np.prod(u, axis=0), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_ops_inside_a_cond(backend):
    g = tf.Graph()
    with g.as_default():
        p = tf.placeholder(tf.bool, [])
        y = tf.cond(p, lambda: tf.random_uniform([5]), lambda: -tf.random_uniform([5]))
    with g.as_default(), session(backend) as s:
        a, b = s.run(y, {p: True}), s.run(y, {p: False})
    assert np.all((a >= 0) & (a < 1)) and np.all((b <= 0) & (b > -1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_wrapper_runs_inside_the_dynamic_rnn_loop(backend):
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32, [None, None, 4])           # time unknown: a loop
        cell = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicRNNCell(64),
                                             output_keep_prob=0.5)
        out, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        loss = tf.reduce_mean(tf.square(out))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        assert any(op.type == "While" for op in g.get_operations())
    with g.as_default(), session(backend) as s:
        s.run(tf.global_variables_initializer())
        xs = np.random.RandomState(0).uniform(0.5, 1, (3, 20, 4)).astype(np.float32)
        o = s.run(out, {x: xs})
        zeros = np.mean(o == 0)
        assert 0.4 < zeros < 0.6                           # keep_prob 0.5
        masks = {tuple((o[0, t] == 0).tolist()) for t in range(20)}
        assert len(masks) == 20                            # a new mask every step
        l0 = s.run(loss, {x: xs})
        for _ in range(3):
            s.run(train, {x: xs})
        assert np.isfinite(s.run(loss, {x: xs})) and np.isfinite(l0)
