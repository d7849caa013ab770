"""TF1's ``tf.Dimension`` from TensorShape indexing and iteration (frontend/dimension.py):
``x.get_shape()[1].value``, ``[d.value for d in x.shape]``, ``tf.Dimension(None)``, the
TF1 comparison rules, and that jitflow's own code keeps working on the plain dims."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf


def test_indexing_and_iterating_a_shape_give_dimensions():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 5, 3])
        s = x.get_shape()
        assert s[1].value == 5 and s[-1].value == 3 and s[0].value is None
        assert [d.value for d in s] == [None, 5, 3]
        assert isinstance(s[1], int) and s[1] * 2 == 10 and int(s[2]) == 3
        assert s.dims == (None, 5, 3) and s.as_list() == [None, 5, 3]
        assert str(s[0]) == "?" and repr(s[0]) == "Dimension(None)"
        assert (x.shape[0] == None) is None       # noqa: E711  (TF1: unknown)
        assert tf.TensorShape(None)[0].value is None
        # the idioms TF1 programs build weights and reshapes with
        w = tf.get_variable("w", [x.get_shape()[-1].value, 4])
        flat = tf.reshape(x, [-1, s[1].value * s[2].value])
        assert w.shape.as_list() == [3, 4] and flat.shape.as_list() == [None, 15]
        assert tf.TensorShape([s[0], s[1], 7]).as_list() == [None, 5, 7]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got = sess.run(tf.matmul(tf.reshape(x, [-1, 3]), w),
                           {x: np.ones((2, 5, 3), np.float32)})
        assert got.shape == (10, 4)


def test_dimension_rules():
    d, u = tf.Dimension(3), tf.Dimension(None)
    assert d.value == 3 and u.value is None and tf.Dimension(d) is d
    assert (u == 3) is None and (u != 3) is None and (u < 3) is None
    assert (u + 1).value is None and (2 * u).value is None
    assert d.is_compatible_with(3) and d.is_compatible_with(u) and not d.is_compatible_with(4)
    assert u.merge_with(d).value == 3 and d.merge_with(None) == 3
    with pytest.raises(ValueError, match="not compatible"):
        d.merge_with(4)
    with pytest.raises(ValueError, match=">= 0"):
        tf.Dimension(-1)
    with pytest.raises(TypeError):
        int(u)
    assert tf.dimension_value(d) == 3 and tf.compat.dimension_value(u) is None
    assert tf.compat.dimension_value(7) == 7 and tf.compat.dimension_value(None) is None
    assert tf.compat.dimension_at_index(tf.TensorShape([2, None]), 1).value is None
    assert tf.compat.dimension_at_index(tf.TensorShape(None), 0).value is None


def test_a_dimension_in_an_op_attribute_is_a_plain_int():
    """A shape built from Dimensions reaches the IR as ints (the IR text and the compile
    cache see no int subclass)."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2, 6])
        y = tf.reshape(x, [x.shape[0], 3, x.shape[1] // 3])
        attrs = y.op.attrs.get("shape")
        assert attrs is not None and all(type(v) is int for v in attrs)
        with tf.Session(backend="llvm") as s:
            assert s.run(y, {x: np.zeros((2, 6), np.float32)}).shape == (2, 3, 2)


def test_v2_tensorshape_gives_ints_and_nones():
    """tf.enable_v2_tensorshape (process-wide, as TF's): indexing and iterating give TF2's
    ints and Nones; tf.disable_v2_tensorshape brings the Dimensions back."""
    with tf.Graph().as_default():
        s = tf.placeholder(tf.float32, [None, 4]).shape
        tf.enable_v2_tensorshape()
        try:
            assert s[0] is None and type(s[1]) is int and list(s) == [None, 4]
            assert tf.TensorShape(None)[0] is None
        finally:
            tf.disable_v2_tensorshape()
        assert s[0].value is None and s[1].value == 4
