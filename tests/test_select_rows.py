"""TF1 ``tf.where(cond, x, y)`` / the ``Select`` op: a rank-1 condition picks rows of rank > 1
branches, other shapes must match exactly (``where_v2`` broadcasts); the GraphDef importer
follows the same rule and the export writes Select/SelectV2 so that it reads back the same."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitflow.compat.v1 as tf
from jitflow import errors
from jitflow.interop import tf_protos as P


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _rows_expected(mask, x, y):
    out = np.empty_like(x)
    for i, keep in enumerate(mask):          # row by row, independent of np.where broadcasting
        out[i] = x[i] if keep else y[i]
    return out


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 4), st.sampled_from([(3,), (2, 3)]), st.integers(0, 2**31 - 1))
def test_rank1_condition_picks_rows_of_rank2_and_rank3_operands(n, tail, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random(n) < 0.5
    xv = rng.standard_normal((n,) + tail).astype(np.float32)
    yv = rng.standard_normal((n,) + tail).astype(np.float32)
    c = tf.placeholder(tf.bool, [n])
    x = tf.placeholder(tf.float32, (n,) + tail)
    y = tf.placeholder(tf.float32, (n,) + tail)
    w = tf.where(c, x, y)
    assert w.shape.as_list() == [n, *tail]
    feed = {c: mask, x: xv, y: yv}
    with tf.Session(backend="llvm") as s:
        got = s.run(w, feed)
    with tf.Session(backend="reference") as s:
        ref = s.run(w, feed)
    np.testing.assert_array_equal(got, _rows_expected(mask, xv, yv))
    np.testing.assert_array_equal(got, ref)


def test_same_shape_and_scalar_conditions_still_work():
    xv = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    m = np.array([[True, False, True], [False, False, True]])
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(tf.where(m, xv, -xv)), np.where(m, xv, -xv))
        np.testing.assert_array_equal(s.run(tf.where(False, xv, -xv)), -xv)
        v = np.array([True, False, True])
        np.testing.assert_array_equal(s.run(tf.where(v, xv[0], xv[1])),
                                      np.where(v, xv[0], xv[1]))


def test_row_pick_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    mask = np.array([True, False, True, False])
    xv, yv, wts = (rng.standard_normal((4, 3)) for _ in range(3))
    x = tf.placeholder(tf.float64, (4, 3))
    y = tf.placeholder(tf.float64, (4, 3))
    loss = tf.reduce_sum(tf.where(tf.constant(mask), x, y) * wts)
    gx, gy = tf.gradients(loss, [x, y])
    with tf.Session() as s:
        gxv, gyv = s.run([gx, gy], {x: xv, y: yv})

    def f(a, b):
        return float(np.sum(_rows_expected(mask, a, b) * wts))

    eps = 1e-6
    fd_x, fd_y = np.zeros_like(xv), np.zeros_like(yv)
    for idx in np.ndindex(xv.shape):
        d = np.zeros_like(xv)
        d[idx] = eps
        fd_x[idx] = (f(xv + d, yv) - f(xv - d, yv)) / (2 * eps)
        fd_y[idx] = (f(xv, yv + d) - f(xv, yv - d)) / (2 * eps)
    np.testing.assert_allclose(gxv, fd_x, atol=1e-6)
    np.testing.assert_allclose(gyv, fd_y, atol=1e-6)
    # each branch gets the cotangent on its own rows only
    np.testing.assert_allclose(gxv[~mask], 0.0)
    np.testing.assert_allclose(gyv[mask], 0.0)


@pytest.mark.parametrize("cond_shape,x_shape,y_shape", [
    ((2,), (3, 2), (3, 2)),        # a vector of the wrong length
    ((1, 2), (3, 2), (3, 2)),      # a rank-2 condition that would only broadcast
    ((3, 2), (3, 2), (2,)),        # branches of different shapes
    ((2,), (), ()),                # a vector condition on scalar branches
])
def test_mismatched_shapes_raise_naming_the_shapes(cond_shape, x_shape, y_shape):
    c = tf.placeholder(tf.bool, cond_shape)
    x = tf.placeholder(tf.float32, x_shape)
    y = tf.placeholder(tf.float32, y_shape)
    fmt = lambda s: "[" + ",".join(map(str, s)) + "]"   # noqa: E731
    with pytest.raises(ValueError, match="Inputs to operation Select must have the same shape") \
            as e:
        tf.where(c, x, y)
    for s in (cond_shape, x_shape, y_shape):
        assert fmt(s) in str(e.value)


def test_where_v2_broadcasts_what_select_refuses():
    m = np.array([[True, False]])
    xv = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(tf.where_v2(m, xv, -xv)), np.where(m, xv, -xv))


def test_one_argument_where_still_returns_indices():
    with tf.Session() as s:
        got = s.run(tf.where(tf.constant([[True, False], [False, True]])))
    np.testing.assert_array_equal(got, np.argwhere([[True, False], [False, True]]))
    assert got.dtype == np.int64


def _placeholder(gd, name, dtype_enum, shape):
    n = gd.node.add(name=name, op="Placeholder")
    n.attr["dtype"].type = dtype_enum
    for d in shape:
        n.attr["shape"].shape.dim.add().size = d
    return n


def _select_graph_def(cond_len, rows=3, cols=2, op="Select"):
    gd = P.graph_pb2.GraphDef()
    _placeholder(gd, "c", 10, (cond_len,))          # DT_BOOL
    _placeholder(gd, "x", 1, (rows, cols))           # DT_FLOAT
    _placeholder(gd, "y", 1, (rows, cols))
    s = gd.node.add(name="pick", op=op, input=["c", "x", "y"])
    s.attr["T"].type = 1
    return gd


def test_hand_built_graph_def_select_with_vector_condition_picks_rows():
    out, = tf.import_graph_def(_select_graph_def(3), return_elements=["pick:0"], name="g")
    assert out.shape.as_list() == [3, 2]
    assert out.op.type == "Select"
    xv = np.arange(6, dtype=np.float32).reshape(3, 2)
    mask = np.array([False, True, True])
    feed = {"g/c:0": mask, "g/x:0": xv, "g/y:0": -xv}
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(out, feed), _rows_expected(mask, xv, -xv))


def test_hand_built_select_of_mismatched_shapes_is_refused():
    with pytest.raises(errors.InvalidArgumentError,
                       match=r"node pick \(Select\): Inputs to operation Select.*"
                             r"condition \[2\], x \[3,2\]"):
        tf.import_graph_def(_select_graph_def(2), name="g")


def test_hand_built_select_v2_broadcasts_right_aligned():
    gd = _select_graph_def(2, rows=2, cols=2, op="SelectV2")
    out, = tf.import_graph_def(gd, return_elements=["pick:0"], name="g")
    xv = np.arange(4, dtype=np.float32).reshape(2, 2)
    mask = np.array([True, False])
    with tf.Session() as s:
        got = s.run(out, {"g/c:0": mask, "g/x:0": xv, "g/y:0": -xv})
    np.testing.assert_array_equal(got, np.where(mask[None, :], xv, -xv))


def test_export_writes_select_or_select_v2_and_reads_back_the_same():
    c = tf.placeholder(tf.bool, [3], name="c")
    m = tf.placeholder(tf.bool, [3, 2], name="m")
    x = tf.placeholder(tf.float32, [3, 2], name="x")
    rows = tf.where(c, x, -x, name="rows")
    same = tf.where(m, x, -x, name="same")
    bcast = tf.where_v2(tf.constant([True, False]), x, 0.0, name="bcast")
    gd = tf.get_default_graph().as_graph_def()
    ops = {n.name: n.op for n in gd.node}
    assert ops["same"] == "Select"
    assert ops["rows"] == "SelectV2"      # its input is the condition reshaped to [3, 1]
    assert ops["bcast"] == "SelectV2"
    rng = np.random.default_rng(0)
    feed = {"c:0": rng.random(3) < 0.5, "m:0": rng.random((3, 2)) < 0.5,
            "x:0": rng.standard_normal((3, 2)).astype(np.float32)}
    with tf.Session() as s:
        want = s.run([rows, same, bcast], feed)
    with tf.Graph().as_default():
        got_t = tf.import_graph_def(gd, return_elements=["rows:0", "same:0", "bcast:0"], name="")
        with tf.Session() as s:
            got = s.run(got_t, feed)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(want[0], _rows_expected(feed["c:0"], feed["x:0"], -feed["x:0"]))
