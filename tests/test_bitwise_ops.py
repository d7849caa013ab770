"""tf.bitwise (ops/bitwise.py) on llvm and the reference, against NumPy; shift amounts are
clamped to [0, bits - 1] as TF's kernels do."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitflow.compat.v1 as tf

BACKENDS = ("reference", "llvm")
DTYPES = {"int32": tf.int32, "int64": tf.int64, "uint8": tf.uint8, "int16": tf.int16}


def _run(backend, dtype, build, *arrays):
    with tf.Graph().as_default():
        ps = [tf.placeholder(dtype, [None]) for _ in arrays]
        out = build(*ps)
        with tf.Session(backend=backend) as sess:
            return sess.run(out, dict(zip(ps, arrays)))


def _ints(np_dtype):
    info = np.iinfo(np_dtype)
    return st.integers(int(info.min), int(info.max))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(DTYPES))
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_binary_and_invert_match_numpy(backend, name, data):
    dt = np.dtype(name)
    n = data.draw(st.integers(1, 6))
    x = np.array(data.draw(st.lists(_ints(dt), min_size=n, max_size=n)), dt)
    y = np.array(data.draw(st.lists(_ints(dt), min_size=n, max_size=n)), dt)
    bw = tf.bitwise
    got = _run(backend, DTYPES[name], lambda a, b: [bw.bitwise_and(a, b), bw.bitwise_or(a, b),
                                                    bw.bitwise_xor(a, b), bw.invert(a)], x, y)
    for g, want in zip(got, [x & y, x | y, x ^ y, ~x]):
        assert g.dtype == dt
        np.testing.assert_array_equal(g, want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(DTYPES))
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_shifts_match_numpy_with_clamped_amounts(backend, name, data):
    dt = np.dtype(name)
    bits = dt.itemsize * 8
    n = data.draw(st.integers(1, 6))
    x = np.array(data.draw(st.lists(_ints(dt), min_size=n, max_size=n)), dt)
    lo = 0 if dt.kind == "u" else -3
    y = np.array(data.draw(st.lists(st.integers(lo, bits + 5), min_size=n, max_size=n)), dt)
    got = _run(backend, DTYPES[name], lambda a, b: [tf.bitwise.left_shift(a, b),
                                                    tf.bitwise.right_shift(a, b)], x, y)
    c = np.clip(y, 0, bits - 1).astype(dt)
    np.testing.assert_array_equal(got[0], np.left_shift(x, c).astype(dt))
    np.testing.assert_array_equal(got[1], np.right_shift(x, c).astype(dt))


def test_right_shift_is_arithmetic_for_signed_and_broadcasts():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, [2, None])
        got = tf.Session(backend="llvm").run(tf.bitwise.right_shift(x, [1, 2, 31]),
                                             {x: [[-8, -8, -8], [8, 8, 8]]})
    np.testing.assert_array_equal(got, [[-4, -2, -1], [4, 2, 0]])


def test_floats_are_refused_with_the_dtype_named():
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="integer.*float32"):
            tf.bitwise.bitwise_and(tf.constant([1.0]), tf.constant([2.0]))
        with pytest.raises(TypeError, match="float32"):
            tf.bitwise.invert(tf.constant([1.0]))


def test_bitwise_ops_have_no_gradient():
    from jitflow.ir import OPS
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift",
                 "right_shift"):
        assert not OPS[name].differentiable


def test_bitwise_ops_round_trip_through_a_graph_def():
    from jitflow.interop import tf_protos as P
    x_np = np.array([5, -7, 12], np.int32)
    y_np = np.array([3, 1, 10], np.int32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, [None], name="x")
        y = tf.placeholder(tf.int32, [None], name="y")
        out = tf.add_n([tf.bitwise.bitwise_and(x, y), tf.bitwise.bitwise_or(x, y),
                        tf.bitwise.bitwise_xor(x, y) * 3, tf.bitwise.invert(x) * 7,
                        tf.bitwise.left_shift(x, y), tf.bitwise.right_shift(x, y)], name="out")
        with tf.Session() as s:
            want = s.run(out, {x: x_np, y: y_np})
            gd = s.graph_def
    assert {"BitwiseAnd", "BitwiseOr", "BitwiseXor", "Invert", "LeftShift", "RightShift"} <= \
        {n.op for n in gd.node}
    with tf.Graph().as_default():
        o, = tf.import_graph_def(P.graph_pb2.GraphDef.FromString(gd.SerializeToString()),
                                 return_elements=["out:0"], name="")
        got = tf.Session(backend="llvm").run(o, {"x:0": x_np, "y:0": y_np})
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(want, (x_np & y_np) + (x_np | y_np) + 3 * (x_np ^ y_np)
                                  + 7 * ~x_np + np.left_shift(x_np, y_np)
                                  + np.right_shift(x_np, y_np))
