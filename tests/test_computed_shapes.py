"""Shapes computed at run time from values, not only from ``tf.shape`` (frontend/dynamic_shape.py,
ops/host.py ``zeros_of_shape``/``reshape_to``): a fed batch size in ``zero_state``/``tf.zeros``/
random ops, ``tf.reshape`` to computed shapes, ``tf.tile``/``tf.pad`` with computed amounts,
``gather_nd`` with a run-time batch dim, and graph-build folding of small constant
computations (``axis=tf.rank(x) - 1``) — values vs NumPy on llvm and the reference, gradients
vs finite differences."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError

from _tfcheck import check_gradients

BACKENDS = ["reference", "llvm"]


def _run(fetches, feed, backend):
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        return s.run(fetches, feed)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_state_of_a_fed_batch_size_runs_dynamic_rnn(backend):
    tf.reset_default_graph()
    bs = tf.placeholder(tf.int32, [])
    x = tf.placeholder(tf.float32, [None, 5, 3])
    cell = tf.nn.rnn_cell.BasicLSTMCell(4)
    state = cell.zero_state(bs, tf.float32)
    assert state.c.shape.as_list() == [None, 4]
    with tf.variable_scope("fed"):
        out, _ = tf.nn.dynamic_rnn(cell, x, initial_state=state)
    with tf.variable_scope("fed", reuse=True):
        ref, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)     # zeros by default
    xv = np.random.RandomState(0).rand(2, 5, 3).astype(np.float32)
    got, want = _run([out, ref], {bs: 2, x: xv}, backend)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert np.abs(got).max() > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_fill_zeros_ones_and_random_of_fed_dims(backend):
    tf.reset_default_graph()
    n = tf.placeholder(tf.int32, [])
    z, o = tf.zeros([n, 3]), tf.ones([2, n], tf.int32)
    f = tf.fill(tf.stack([n, n + 1]), 2.5)
    r = tf.random_uniform([n * 2, 3], seed=1)
    assert z.shape.as_list() == [None, 3] and o.shape.as_list() == [2, None]
    got = _run([z, o, f, r], {n: 3}, backend)
    np.testing.assert_array_equal(got[0], np.zeros((3, 3)))
    np.testing.assert_array_equal(got[1], np.ones((2, 3), np.int32))
    assert got[1].dtype == np.int32
    np.testing.assert_array_equal(got[2], np.full((3, 4), 2.5, np.float32))
    assert got[3].shape == (6, 3) and 0 <= got[3].min() and got[3].max() < 1
    with pytest.raises(InvalidArgumentError, match="must be >= 0"):
        _run(z, {n: -1}, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reshape_to_computed_shapes(backend):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 4, 4])
    b = tf.placeholder(tf.int32, [])
    own = tf.reshape(x, [tf.shape(x)[0], -1])          # native: the IR's own -1
    assert own.shape.as_list() == [None, 16]
    assert own.op.ir_op == "reshape"
    y = tf.placeholder(tf.float32, [None, 2])
    other = tf.reshape(x, [tf.shape(y)[0], -1])        # native: reshape_like, size-checked
    assert other.shape.as_list() == [None, 16]
    fed = tf.reshape(x, [b, 2, -1])                    # a fed dim: the host's reshape_to
    assert fed.shape.as_list() == [None, 2, None] and fed.op.ir_op == "reshape_to"
    arith = tf.reshape(x, tf.stack([tf.shape(x)[0] * 4, 4]))
    xv = np.arange(48, dtype=np.float32).reshape(3, 4, 4)
    got = _run([own, other, fed, arith], {x: xv, y: np.zeros((3, 2)), b: 3}, backend)
    np.testing.assert_array_equal(got[0], xv.reshape(3, 16))
    np.testing.assert_array_equal(got[1], xv.reshape(3, 16))
    np.testing.assert_array_equal(got[2], xv.reshape(3, 2, 8))
    np.testing.assert_array_equal(got[3], xv.reshape(12, 4))
    with pytest.raises(InvalidArgumentError, match="48 values"):
        _run(fed, {x: xv, b: 5}, backend)
    with pytest.raises(Exception):      # tf.shape(y)[0] != x's batch: the size check
        _run(other, {x: xv, y: np.zeros((2, 2))}, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reshape_minus_one_ahead_of_other_tensors_dims(backend):
    """``[-1, tf.shape(t)[1], tf.shape(t)[2]]`` of an x whose unknown dims have nothing to do
    with t's: the -1 is left to the run (it was resolved to 1 at graph build, the run then
    failed "60 values cannot take shape (1, 6, 5)")."""
    tf.reset_default_graph()
    g = tf.placeholder(tf.float32, [None, None])
    t = tf.placeholder(tf.float32, [None, None, None])
    r = tf.reshape(g, tf.concat([[-1], tf.shape(t)[1:]], 0))
    lead = tf.reshape(tf.placeholder(tf.float32, [None, None, 3]), [tf.shape(t)[0], -1])
    gv = np.arange(60, dtype=np.float32).reshape(2, 30)
    got = _run(r, {g: gv, t: np.zeros((7, 6, 5))}, backend)
    np.testing.assert_array_equal(got, gv.reshape(2, 6, 5))
    assert lead.op.ir_op == "reshape_to"       # x's unknown dims do not all lead: the run's


def test_reshape_gradients_through_computed_shapes():
    def fn(x):
        n = tf.cast(tf.reduce_sum(x * 0.0), tf.int32) + 2     # 2, known only at run time
        a = tf.reshape(x, [n, -1])
        return tf.reshape(tf.reshape(a * a, [tf.shape(a)[0], -1]), [12])
    check_gradients(fn, [np.random.RandomState(1).rand(3, 4)])
    check_gradients(fn, [np.random.RandomState(1).rand(3, 4)], backend="llvm")


@pytest.mark.parametrize("backend", BACKENDS)
def test_tile_and_pad_by_computed_amounts(backend):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [None, 4])
    k = tf.placeholder(tf.int32, [])
    t1 = tf.tile(tf.expand_dims(x, 1), [1, tf.shape(y)[0], 1])     # attention-style
    t2 = tf.tile(x, [k, 2])
    p1 = tf.pad(x, [[0, k], [1, tf.shape(y)[0]]])
    p2 = tf.pad(x, [[k, 0], [0, 0]], constant_values=-1.0)
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = _run([t1, t2, p1, p2], {x: xv, y: np.zeros((5, 4)), k: 2}, backend)
    np.testing.assert_array_equal(got[0], np.tile(xv[:, None], [1, 5, 1]))
    np.testing.assert_array_equal(got[1], np.tile(xv, [2, 2]))
    np.testing.assert_array_equal(got[2], np.pad(xv, [[0, 2], [1, 5]]))
    np.testing.assert_array_equal(got[3], np.pad(xv, [[2, 0], [0, 0]], constant_values=-1))


def test_tile_and_pad_gradients():
    def fn(x):
        k = tf.cast(tf.reduce_sum(x * 0.0), tf.int32) + 2
        t = tf.tile(x, [k, 1])
        p = tf.pad(x, [[1, k], [0, 1]])
        return tf.stack([tf.reduce_sum(t * t * t), tf.reduce_sum(tf.sin(p))])
    check_gradients(fn, [np.random.RandomState(2).rand(2, 3)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_gather_nd_with_a_run_time_batch_dim(backend):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 4, 2])
    j = tf.placeholder(tf.int32, [None])
    idx = tf.stack([tf.range(tf.shape(x)[0]), j], axis=1)
    g = tf.gather_nd(x, idx)
    assert g.shape.as_list() == [None, 2]
    xv = np.random.RandomState(3).rand(3, 4, 2).astype(np.float32)
    jv = np.array([3, 0, 2], np.int32)
    np.testing.assert_array_equal(_run(g, {x: xv, j: jv}, backend), xv[np.arange(3), jv])


def test_small_constant_computations_fold_at_graph_build():
    x = tf.placeholder(tf.float32, [None, 6])
    m = tf.reduce_mean(x, axis=tf.rank(x) - 1)             # axis 1, known at build
    assert m.shape.as_list() == [None]
    r = tf.reshape(x, [-1, tf.constant(3) * 2])
    assert r.op.ir_op == "reshape" and r.shape.as_list() == [None, 6]
    from jitflow.frontend.op_builder import static_value
    assert static_value(tf.constant([2, 3]) * 2 + 1).tolist() == [5, 7]
    assert static_value(tf.reduce_sum(x)) is None           # a placeholder: not folded
    assert static_value(tf.random_uniform([2])) is None     # random: never folded
    xv = np.random.RandomState(4).rand(2, 6).astype(np.float32)
    np.testing.assert_allclose(_run(m, {x: xv}, "llvm"), xv.mean(1), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_top_k_of_a_computed_k(backend):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 6])
    k = tf.placeholder(tf.int32, [])
    v, i = tf.nn.top_k(x, k)
    xv = np.random.RandomState(5).rand(2, 6).astype(np.float32)
    gv, gi = _run([v, i], {x: xv, k: 3}, backend)
    order = np.argsort(-xv, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(gi, order)
    np.testing.assert_array_equal(gv, np.take_along_axis(xv, order, 1))


def test_host_ops_inside_loop_bodies_run_on_llvm():
    """Data-dependent and computed shapes inside a while loop / map_fn: the host driver runs
    the host op between the body's compiled segments (backends/hostloop.py)."""
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [6])

    def body(k, acc):
        hits = tf.where(x > tf.cast(k, tf.float32))                   # data-dependent rows
        pad = tf.zeros([k + 1, 2])                                     # computed shape
        return k + 1, acc + tf.cast(tf.shape(hits)[0], tf.float32) + tf.reduce_sum(pad + 1.0)
    _, total = tf.while_loop(lambda k, a: k < 4, body, [0, 0.0])
    kept = tf.map_fn(lambda r: tf.reduce_sum(tf.boolean_mask(r, r > 0.5)),
                     tf.reshape(x, [2, 3]) / 5.0)
    xv = np.arange(6, dtype=np.float32)
    for backend in BACKENDS:
        got_total, got_kept = _run([total, kept], {x: xv}, backend)
        assert got_total == (5 + 4 + 3 + 2) + 2 * (1 + 2 + 3 + 4)
        rows = xv.reshape(2, 3) / 5.0
        np.testing.assert_allclose(got_kept, [r[r > 0.5].sum() for r in rows], rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_range_of_run_time_bounds(backend):
    """tf.range with a computed bound is the host op range_of (np.arange's values, TF's
    dtype: the bounds'), also inside a loop body."""
    tf.reset_default_graph()
    n = tf.placeholder(tf.int32, [])
    f = tf.placeholder(tf.float32, [])
    r = tf.range(n)
    assert r.op.ir_op == "range_of" and r.shape.as_list() == [None]
    rf = tf.range(0.5, f, 0.25)
    down = tf.range(n, -2, -3)
    _, acc = tf.while_loop(lambda k, a: k < n, lambda k, a: (k + 1, a + tf.reduce_sum(tf.range(k))),
                           [0, 0])
    got = _run([r, rf, down, acc], {n: 5, f: 1.5}, backend)
    np.testing.assert_array_equal(got[0], np.arange(5))
    assert got[0].dtype == np.int32 and got[1].dtype == np.float32
    np.testing.assert_array_equal(got[1], np.arange(0.5, 1.5, 0.25, dtype=np.float32))
    np.testing.assert_array_equal(got[2], [5, 2, -1])
    assert got[3] == sum(sum(range(k)) for k in range(5))
    d = tf.placeholder(tf.int32, [])
    with pytest.raises(InvalidArgumentError, match="delta != 0"):
        _run(tf.range(0, n, d), {n: 3, d: 0}, backend)


def test_concat_gradient_of_several_run_time_sizes():
    """Both sides padded by run-time amounts: concat's gradient gathers each operand's rows
    at offsets counted from the run-time shapes (ops/indexing.py)."""
    def fn(x):
        k = tf.cast(tf.reduce_sum(x * 0.0), tf.int32) + 2
        p = tf.pad(x, [[k, k - 1], [0, 0]])                        # two symbolic pieces
        y = tf.concat([x[:k], x, x[k - 1:]], axis=0)               # three
        return tf.stack([tf.reduce_sum(tf.sin(p)), tf.reduce_sum(y * y * tf.range(
            tf.cast(tf.shape(y)[0], tf.float64))[:, None])])
    for backend in BACKENDS:
        check_gradients(fn, [np.random.RandomState(6).rand(4, 3)], backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_hot_of_a_computed_depth(backend):
    tf.reset_default_graph()
    d = tf.placeholder(tf.int32, [])
    idx = tf.constant([[0, 3], [-1, 2]])
    a = tf.one_hot(idx, d)
    b = tf.one_hot(idx, d, on_value=5, off_value=-1, axis=0)
    assert a.shape.as_list() == [2, 2, None] and a.dtype == tf.float32
    ga, gb = _run([a, b], {d: 4}, backend)
    iv = np.array([[0, 3], [-1, 2]])
    want = (iv[..., None] == np.arange(4)).astype(np.float32)     # -1: all off, as TF
    np.testing.assert_array_equal(ga, want)
    np.testing.assert_array_equal(gb, np.where(np.moveaxis(want, -1, 0) > 0, 5, -1))
    assert gb.dtype == np.int32


@settings(max_examples=30, deadline=None)
@given(start=st.integers(-6, 6), limit=st.integers(-6, 6),
       delta=st.integers(-3, 3).filter(bool), rows=st.integers(1, 4))
def test_range_of_and_reshape_to_follow_numpy(start, limit, delta, rows):
    """The host ops' references vs NumPy over random bounds and shapes."""
    from jitflow.ops.host import _range_ref, _reshape_to_ref
    want = np.arange(start, limit, delta, dtype=np.int32)
    got = _range_ref(np.int32(start), np.int32(limit), np.int32(delta))
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int32
    x = np.arange(rows * 6, dtype=np.float32)
    np.testing.assert_array_equal(_reshape_to_ref(x, np.array([rows, -1, 2]), known=()),
                                  x.reshape(rows, -1, 2))
    with pytest.raises(InvalidArgumentError, match="values"):
        _reshape_to_ref(x, np.array([rows * 6 + 1]), known=())
