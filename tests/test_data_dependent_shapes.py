"""Ops whose result shape depends on the values: tf.where(cond), tf.boolean_mask, tf.unique,
tf.dynamic_partition. They run on the host between compiled segments; the compiled ops after
them see a run-time dim; boolean_mask's gradient reaches its tensor."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitflow.compat.v1 as tf

SETTINGS = settings(max_examples=25, deadline=None)


def _run(fetches, feed=None):
    with tf.Session() as s:
        return s.run(fetches, feed)


@SETTINGS
@given(rows=st.integers(0, 7), cols=st.integers(1, 4), seed=st.integers(0, 2 ** 16))
def test_boolean_mask_and_its_gradient_match_numpy(rows, cols, seed):
    rng = np.random.RandomState(seed)
    v = rng.randn(rows, cols).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, cols])
        sel = tf.boolean_mask(x, tf.reduce_sum(x, 1) > 0.0)
        loss = tf.reduce_sum(tf.square(sel) * 3.0)
        g = tf.gradients(loss, x)[0]
        got_sel, got_g = _run([sel * 1.0, g], {x: v})
    keep = v.sum(1) > 0
    np.testing.assert_allclose(got_sel, v[keep], rtol=1e-6)
    np.testing.assert_allclose(got_g, np.where(keep[:, None], 6 * v, 0), rtol=1e-5, atol=1e-6)


def test_boolean_mask_with_a_matrix_mask_and_an_axis():
    v = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    mask = np.array([[True, False, True], [False, True, True]])
    with tf.Graph().as_default():
        a = tf.boolean_mask(tf.constant(v), tf.constant(mask))
        b = tf.boolean_mask(tf.constant(v), tf.constant([True, False, False, True]), axis=2)
        assert a.shape.as_list() == [None, 4] and b.shape.as_list() == [2, 3, None]
        ga, gb = _run([a, b])
    np.testing.assert_array_equal(ga, v[mask])
    np.testing.assert_array_equal(gb, v[:, :, [0, 3]])
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="must be a bool tensor"):
            tf.boolean_mask(tf.constant(v), tf.constant([1, 0]))
        with pytest.raises(ValueError, match="incompatible"):
            tf.boolean_mask(tf.constant(v), tf.constant([True, False, True]))


@SETTINGS
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=3), seed=st.integers(0, 999))
def test_where_of_a_condition_gives_numpy_argwhere(shape, seed):
    c = np.random.RandomState(seed).rand(*shape) > 0.5
    with tf.Graph().as_default():
        p = tf.placeholder(tf.bool, [None] * len(shape))
        w = tf.where(p)
        assert w.dtype == tf.int64 and w.shape.as_list() == [None, len(shape)]
        got = _run(w + 0, {p: c})            # a compiled op after the host one
    np.testing.assert_array_equal(got, np.argwhere(c))


@SETTINGS
@given(values=st.lists(st.integers(-3, 3), max_size=12))
def test_unique_keeps_first_occurrence_order(values):
    first: dict = {}
    for v in values:
        first.setdefault(v, len(first))
    want_y = list(first)
    want_idx = [first[v] for v in values]
    want_count = [values.count(v) for v in want_y]
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, [None])
        y, idx = tf.unique(x)
        _, _, count = tf.unique_with_counts(x, out_idx=tf.int64)
        gy, gi, gc = _run([y * 1, idx, count], {x: np.array(values, np.int32)})
    assert gy.tolist() == want_y and gi.tolist() == want_idx and gc.tolist() == want_count
    assert gi.dtype == np.int32 and gc.dtype == np.int64


def test_dynamic_partition_splits_by_index_and_checks_the_range():
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    parts = np.array([2, 0, 2, 1, 0, 2], np.int32)
    with tf.Graph().as_default():
        p = tf.placeholder(tf.int32, [6])
        outs = tf.dynamic_partition(tf.constant(data), p, 3)
        assert [o.shape.as_list() for o in outs] == [[None, 2]] * 3
        got = _run([o * 2.0 for o in outs], {p: parts})
        for i in range(3):
            np.testing.assert_array_equal(got[i], data[parts == i] * 2)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be in \[0, 3\), got 5"):
            _run(outs, {p: np.array([0, 1, 5, 0, 0, 0], np.int32)})
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="x and y must both be"):
            tf.where(tf.constant([True]), x=tf.constant([1.0]))


@SETTINGS
@given(n=st.integers(1, 8), seed=st.integers(0, 999))
def test_dynamic_stitch_inverts_dynamic_partition(n, seed):
    rng = np.random.RandomState(seed)
    data = rng.randn(n, 3).astype(np.float32)
    parts = rng.randint(0, 3, n).astype(np.int32)
    with tf.Graph().as_default():
        d = tf.placeholder(tf.float32, [None, 3])
        p = tf.placeholder(tf.int32, [None])
        pieces = tf.dynamic_partition(d, p, 3)
        positions = tf.dynamic_partition(tf.range(tf.size(p)), p, 3)
        back = tf.dynamic_stitch(positions, pieces)
        assert back.shape.as_list() == [None, 3]
        got = _run(back + 0.0, {d: data, p: parts})
    np.testing.assert_array_equal(got, data)


def test_dynamic_stitch_later_rows_win_and_setdiff1d_keeps_order():
    with tf.Graph().as_default():
        st_ = tf.dynamic_stitch([tf.constant([0, 1]), tf.constant([1])],
                                [tf.constant([1.0, 2.0]), tf.constant([9.0])])
        out, idx = tf.setdiff1d(tf.constant([5, 1, 4, 1, 3]), tf.constant([1, 7]))
        got = _run([st_, out, idx])
    assert got[0].tolist() == [1.0, 9.0]
    assert got[1].tolist() == [5, 4, 3] and got[2].tolist() == [0, 2, 4]


def _single_op(opname, args, **attrs):
    """``opname`` as a one-op IR Function on the reference interpreter (the host's runner)."""
    from jitflow.backends.reference import ReferenceBackend
    from jitflow.ir.builder import Builder
    from jitflow.ir.core import Function
    from jitflow.ir.dtypes import as_dtype
    from jitflow.ir.types import TensorType
    f = Function("t")
    params = [f.add_param(TensorType(as_dtype(a.dtype), (None,) * a.ndim)) for a in args]
    out = Builder(f.ops).op(opname, *params, **attrs)
    outs = list(out) if isinstance(out, tuple) else [out]
    f.set_results(outs)
    return outs, ReferenceBackend().compile(f).run(list(args))


def test_the_host_ir_ops_give_what_their_type_rules_promise():
    from jitflow.ops.host import register
    c = np.array([[True, False], [True, True]])
    (w,), (gw,) = _single_op("where_indices", [c])
    assert str(w.type) == "i64[?,2]" and gw.tolist() == [[0, 0], [1, 0], [1, 1]]
    outs, got = _single_op("unique", [np.array([4, 4, 2], np.int32)], counts=True)
    assert [str(v.type) for v in outs] == ["i32[?]", "i32[?]", "i32[?]"]
    assert [g.tolist() for g in got] == [[4, 2], [0, 0, 1], [2, 1]]
    outs, got = _single_op("dynamic_partition", [np.arange(3.0), np.array([1, 0, 1], np.int32)],
                           num_partitions=2)
    assert [g.tolist() for g in got] == [[1.0], [0.0, 2.0]]
    (s,), (gs,) = _single_op("dynamic_stitch", [np.array([1, 0], np.int32), np.array([5.0, 6.0])],
                             n=1)
    assert str(s.type) == "f64[?]" and gs.tolist() == [6.0, 5.0]
    key = register(lambda a: a * 3)
    (p,), (gp,) = _single_op("py_call", [np.array([1.0, 2.0])], fn=key, results="f64[?]",
                             single=True)
    assert gp.tolist() == [3.0, 6.0]
