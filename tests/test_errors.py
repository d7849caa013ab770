"""Errors with TF1's classes and messages; each names the op/placeholder/variable and, where the
error concerns graph construction, the user's file:line (not a framework frame)."""
import os
import re
import sys

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow import errors

HERE = os.path.abspath(__file__)
THIS_FILE = os.path.basename(__file__)


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


def _line() -> int:
    """The caller's line number."""
    return sys._getframe(1).f_lineno


def test_error_classes_have_tf_names():
    for name in ["OpError", "InvalidArgumentError", "FailedPreconditionError", "NotFoundError",
                 "OutOfRangeError", "ResourceExhaustedError", "UnimplementedError",
                 "InternalError", "AlreadyExistsError", "CancelledError", "UnknownError"]:
        cls = getattr(tf.errors, name)
        assert cls is getattr(errors, name)
        if name != "OpError":
            assert issubclass(cls, errors.OpError)


def test_build_time_shape_mismatch_names_op_shapes_and_user_line():
    a = tf.placeholder(tf.float32, [2, 3], name="a")
    b = tf.placeholder(tf.float32, [4, 5], name="b")
    with pytest.raises(ValueError) as info:
        line = _line(); tf.matmul(a, b)  # noqa: E702
    msg = str(info.value)
    assert "Dimensions must be equal, but are 3 and 4" in msg
    assert "'MatMul'" in msg
    assert "[2,3], [4,5]" in msg
    assert f"{HERE}:{line}" in msg
    assert "jitflow/frontend" not in msg and "jitflow/ir" not in msg


def test_build_time_broadcast_mismatch_names_axis_and_line():
    a = tf.placeholder(tf.float32, [2, 3], name="a")
    b = tf.placeholder(tf.float32, [2, 4], name="b")
    with pytest.raises(ValueError) as info:
        line = _line(); a + b  # noqa: E702
    msg = str(info.value)
    assert "'add'" in msg
    assert "[2,3], [2,4]" in msg
    assert "3 and 4" in msg and "axis" in msg
    assert f"{THIS_FILE}:{line}" in msg


def test_dtype_mismatch_is_type_error_naming_op():
    f = tf.constant(1.0, name="f")
    i = tf.constant(1, name="i")
    with pytest.raises(TypeError) as info:
        line = _line(); f + i  # noqa: E702
    msg = str(info.value)
    assert ("Input 'y' of 'Add' Op has type int32 that does not match type float32 of "
            "argument 'x'.") in msg
    assert "'add'" in msg
    assert f"{THIS_FILE}:{line}" in msg
    with pytest.raises(TypeError, match="'MatMul'"):
        tf.matmul(tf.ones([2, 2]), tf.ones([2, 2], dtype=tf.int32))


def test_python_scalar_is_converted_to_tensor_dtype_or_rejected():
    i = tf.constant(3, name="i")
    assert (i * 2).dtype == tf.int32
    assert (tf.constant(1.0) * 2).dtype == tf.float32
    with pytest.raises(TypeError, match=re.escape("Expected int32, got 0.5 of type 'float' "
                                                  "instead.")):
        0.5 * i


def test_feed_of_wrong_shape_names_placeholder_and_shapes():
    x = tf.placeholder(tf.float32, shape=(None, 784), name="X")
    y = tf.reduce_sum(x)
    with tf.Session() as sess:
        with pytest.raises(ValueError, match=re.escape(
                "Cannot feed value of shape (2,) for Tensor 'X:0', which has shape '(?, 784)'")):
            sess.run(y, {x: np.zeros(2)})
        with pytest.raises(ValueError, match=re.escape("Cannot feed value of shape (1, 783)")):
            sess.run(y, {"X:0": np.zeros((1, 783))})


def test_feed_of_wrong_dtype_names_placeholder():
    x = tf.placeholder(tf.float32, shape=(None, 2), name="X")
    n = tf.placeholder(tf.int32, shape=[], name="n")
    with tf.Session() as sess:
        with pytest.raises(ValueError) as info:
            sess.run(tf.reduce_sum(x), {x: [["a", "b"]]})
        assert "'X:0'" in str(info.value) and "float32" in str(info.value)
        assert len(str(info.value)) < 300
        with pytest.raises(TypeError, match="not compatible with Tensor type int32 of 'n:0'"):
            sess.run(n, {n: 2 ** 40})
        # like TF1, compatible numeric data is converted with np.asarray(value, dtype)
        assert sess.run(n, {n: np.int64(5)}) == 5
        assert sess.run(tf.reduce_sum(x), {x: np.ones((1, 2), np.float64)}) == 2.0


def test_missing_feed_names_placeholder():
    line = _line(); x = tf.placeholder(tf.float32, shape=(None, 784), name="X")  # noqa: E702
    y = tf.reduce_sum(x)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(
                "You must feed a value for placeholder tensor 'X' with dtype float and shape "
                "[?,784]")) as info:
            sess.run(y)
    assert f"{THIS_FILE}:{line}" in str(info.value)
    i = tf.placeholder(tf.int32, shape=None, name="y")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(
                "You must feed a value for placeholder tensor 'y' with dtype int32")):
            sess.run(i + 1)


def test_uninitialized_variable_names_it():
    with tf.variable_scope("hidden1"):
        kernel = tf.get_variable("kernel", shape=[2, 3])
    out = tf.reduce_sum(kernel * 2.0)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match=re.escape(
                "Attempting to use uninitialized value hidden1/kernel")) as info:
            sess.run(out)
        assert THIS_FILE in str(info.value)
        with pytest.raises(tf.errors.FailedPreconditionError):
            kernel.eval()


def test_closed_session_raises_runtime_error():
    c = tf.constant(1.0)
    sess = tf.Session()
    sess.close()
    with pytest.raises(RuntimeError, match=re.escape("Attempted to use a closed Session.")):
        sess.run(c)
    with tf.Session() as s2:
        pass
    with pytest.raises(RuntimeError, match="closed Session"):
        s2.run(c)


def test_fetching_a_tensor_of_another_graph():
    here = tf.constant(1.0)
    with tf.Graph().as_default():
        other = tf.constant(2.0, name="other")
    with tf.Session() as sess:
        assert sess.run(here) == 1.0
        with pytest.raises(ValueError, match=r"other:0.*is not an element of this graph"):
            sess.run(other)
        with pytest.raises(TypeError, match="Cannot interpret feed_dict key as Tensor"):
            sess.run(here, {other: 3.0})
    with pytest.raises(ValueError, match="must be from the same graph"):
        here + other


def test_feeding_a_variable_update_is_rejected():
    v = tf.Variable(1.0, name="v")
    up = v.assign(5.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        with pytest.raises(ValueError, match=r"Tensor Assign:0 may not be fed.*variable v"):
            sess.run(v + 1.0, {up: 2.0})
        with pytest.raises(ValueError, match="v/Assign:0 may not be fed"):
            sess.run(v.initializer, {v.initializer.outputs[0]: 2.0})


def test_fetch_none_is_type_error():
    c = tf.constant(1.0)
    with tf.Session() as sess:
        with pytest.raises(TypeError, match=re.escape(
                "Fetch argument None has invalid type <class 'NoneType'>")):
            sess.run(None)
        with pytest.raises(TypeError, match="Fetch argument None"):
            sess.run([c, None])
        with pytest.raises(TypeError, match="Fetch argument None"):
            sess.run({"a": None})


def test_fetch_of_unknown_name():
    with tf.Session() as sess:
        with pytest.raises(KeyError, match="nope:0"):
            sess.run("nope:0")
        with pytest.raises(TypeError):
            sess.run(3.5)


def test_eval_and_run_without_default_session():
    c = tf.constant(1.0)
    init = tf.no_op(name="init")
    with pytest.raises(ValueError, match=re.escape(
            "Cannot evaluate tensor using `eval()`: No default session is registered. Use "
            "`with sess.as_default()` or pass an explicit session to `eval(session=sess)`")):
        c.eval()
    with pytest.raises(ValueError, match="No default session is registered"):
        init.run()


def test_runtime_shape_error_names_op_and_user_line():
    a = tf.placeholder(tf.float32, [None, None], name="a")
    b = tf.placeholder(tf.float32, [None, None], name="b")
    line = _line(); m = tf.matmul(a, b)  # noqa: E702
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            sess.run(m, {a: np.ones((1, 2)), b: np.ones((3, 4))})
    msg = str(info.value)
    # TF: "Matrix size-incompatible: In[0]: [1,2], In[1]: [3,4]"; both shapes must be named
    assert "Matrix size-incompatible" in msg or "Dimensions must be equal" in msg
    assert "[1, 2]" in msg and "[3, 4]" in msg
    assert "MatMul" in msg
    assert f"{THIS_FILE}:{line}" in msg


def test_runtime_reshape_error():
    x = tf.placeholder(tf.float32, [None, None], name="x")
    r = tf.reshape(x, [-1, 3])
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Input to reshape is a tensor "
                                                                 "with 4 values"):
            sess.run(r, {x: np.ones((2, 2))})
        assert sess.run(r, {x: np.ones((2, 3))}).shape == (2, 3)  # the session still works


def test_variable_needs_initial_value_and_shape():
    with pytest.raises(ValueError, match="initial_value must be specified"):
        tf.Variable()
    with pytest.raises(ValueError, match="already exists"):
        with tf.variable_scope("dup"):
            tf.get_variable("k", shape=[1])
            tf.get_variable("k", shape=[1])
