"""tf.Assert / tf.debugging.assert_* (from check_numerics): a false condition fails the run
with InvalidArgumentError carrying the message; constant operands decide at graph build."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError

CASES = [("assert_equal", [1, 2], [1, 2], [1, 3]), ("assert_none_equal", [1, 2], [0, 0], [1, 0]),
         ("assert_less", [1, 2], [2, 3], [2, 2]), ("assert_less_equal", [1, 2], [1, 2], [0, 2]),
         ("assert_greater", [3, 4], [2, 3], [3, 3]),
         ("assert_greater_equal", [3, 4], [3, 4], [4, 4])]


@pytest.mark.parametrize("backend", ["reference", "llvm"])
@pytest.mark.parametrize("name, x, ok, bad", CASES)
def test_compare_asserts_at_run_time(backend, name, x, ok, bad):
    tf.reset_default_graph()
    a = tf.placeholder(tf.int32, [2])
    b = tf.placeholder(tf.int32, [2])
    check = getattr(tf.debugging, name)(a, b, message="mine")
    assert getattr(tf, name) is getattr(tf.debugging, name)
    with tf.control_dependencies([check]):
        out = tf.identity(a * 2)
    with tf.Session(backend=backend) as s:
        np.testing.assert_array_equal(s.run(out, {a: x, b: ok}), np.array(x) * 2)
        with pytest.raises(InvalidArgumentError, match=f"assertion failed: {name}.*mine"):
            s.run(out, {a: x, b: bad})


@pytest.mark.parametrize("name, good, bad", [("assert_positive", [1.0], [0.0]),
                                             ("assert_negative", [-1.0], [0.0]),
                                             ("assert_non_negative", [0.0], [-1.0]),
                                             ("assert_non_positive", [0.0], [1.0])])
def test_sign_asserts(name, good, bad):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None])
    with tf.control_dependencies([getattr(tf.debugging, name)(x)]):
        y = tf.identity(x)
    with tf.Session(backend="reference") as s:
        assert s.run(y, {x: good}) == good
        with pytest.raises(InvalidArgumentError, match=name):
            s.run(y, {x: bad})


def test_assert_names_its_data_and_constants_decide_at_build():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None], name="x")
    op = tf.Assert(tf.reduce_all(x > 0), ["x must be positive", x], name="check")
    with tf.control_dependencies([op]):
        y = x + 1
    with tf.Session(backend="reference") as s:
        with pytest.raises(InvalidArgumentError,
                           match=r"assertion failed: check \[x must be positive, <x:0>\]"):
            s.run(y, {x: [1.0, -1.0]})
    with pytest.raises(InvalidArgumentError, match="decided at graph build"):
        tf.assert_equal(tf.constant([1, 2]), [1, 3])
    assert tf.assert_equal(tf.constant([1, 2]), [1, 2]).type == "NoOp"
    with pytest.raises(ValueError, match="must be a scalar"):
        tf.Assert(x > 0, [x])


def test_static_asserts():
    x = tf.constant(np.zeros((2, 3), np.float32))
    tf.assert_rank(x, 2)
    with pytest.raises(ValueError, match="must have rank 3"):
        tf.debugging.assert_rank(x, 3)
    tf.debugging.assert_type(x, tf.float32)
    with pytest.raises(TypeError, match="must be of type int32"):
        tf.debugging.assert_type(x, tf.int32)
    with pytest.raises(TypeError, match="integer"):
        tf.debugging.assert_integer(x)


def test_a_missing_name_says_why():
    with pytest.raises(AttributeError, match="tf.estimator is not implemented in jitflow yet "
                                             r"\(tf.estimator is not planned"):
        tf.estimator