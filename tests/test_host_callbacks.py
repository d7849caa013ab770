"""Host callbacks: tf.py_func / tf.numpy_function / tf.Print / tf.print run Python in the
middle of a compiled run (a host segment between llvm segments), with TF1's semantics: result
types from Tout and set_shape, TF's error classes, no gradient through py_func, Print's
gradient passed to its input."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow.runtime.placement import PartitionedExecutable


@pytest.fixture(autouse=True)
def _graph():
    with tf.Graph().as_default():
        yield


def test_py_func_runs_between_compiled_parts_and_results_flow_on():
    calls = []

    def f(a, b):
        calls.append(a.shape)
        return (a * b + 1.0).astype(np.float32)

    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.py_func(f, [tf.exp(x), 2.0 * tf.ones([3])], tf.float32)
    assert y.shape.ndims is None
    y.set_shape([None, 3])
    z = tf.reduce_sum(tf.sqrt(y), axis=1)
    v = np.random.RandomState(0).rand(4, 3).astype(np.float32)
    with tf.Session() as s:
        got = s.run(z, {x: v})
        got2 = s.run(z, {x: v[:2]})
        exe = next(iter(s._cache.values())).executable
    np.testing.assert_allclose(got, np.sqrt(np.exp(v) * 2 + 1).sum(1), rtol=1e-5)
    np.testing.assert_allclose(got2, got[:2], rtol=1e-6)
    assert calls == [(4, 3), (2, 3)]           # once per run, stateful: never cached
    assert isinstance(exe, PartitionedExecutable)
    kinds = [st.device.kind for st in exe.steps if hasattr(st, "device")]
    assert kinds.count("host") == 1 and "cpu" in kinds


def test_py_func_with_a_list_of_dtypes_returns_a_list():
    x = tf.constant([1.0, 4.0, 9.0])
    a, b = tf.py_func(lambda v: [np.sqrt(v), np.int32(v.size)], [x], [tf.float32, tf.int32])
    a.set_shape([3])
    b.set_shape([])
    with tf.Session() as s:
        va, vb = s.run([a * 2.0, b + 1])
    assert va.tolist() == [2.0, 4.0, 6.0] and vb == 4
    op = tf.py_func(lambda v: None, [x], [])    # no results: run for its effect
    assert isinstance(op, tf.Operation)


def test_numpy_function_and_int_results():
    x = tf.placeholder(tf.int32, [None])
    y = tf.numpy_function(lambda v: np.cumsum(v).astype(np.int32), [x], tf.int32)
    y.set_shape([None])
    with tf.Session() as s:
        assert s.run(y * 2, {x: [1, 2, 3]}).tolist() == [2, 6, 12]


def test_py_func_errors_follow_tf():
    x = tf.constant([1.0, 2.0])
    wrong_dtype = tf.py_func(lambda v: v.astype(np.float64), [x], tf.float32)
    wrong_count = tf.py_func(lambda v: [v, v], [x], [tf.float32])
    raises = tf.py_func(lambda v: (_ for _ in ()).throw(ValueError("bad value 7")), [x],
                        tf.float32)
    crashes = tf.py_func(lambda v: 1 / 0, [x], tf.float32)
    stops = tf.py_func(lambda v: next(iter([])), [x], tf.float32)
    shaped = tf.py_func(lambda v: np.zeros(5, np.float32), [x], tf.float32)
    shaped.set_shape([2])
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError, match="is float64, but expects float32"):
            s.run(wrong_dtype)
        with pytest.raises(tf.errors.InvalidArgumentError, match="returns 2 values, but expects"):
            s.run(wrong_count)
        with pytest.raises(tf.errors.InvalidArgumentError, match="ValueError: bad value 7"):
            s.run(raises)
        with pytest.raises(tf.errors.UnknownError, match="ZeroDivisionError"):
            s.run(crashes)
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(stops)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"has shape \[5\].*f32\[2\]"):
            s.run(shaped)


def test_an_unshaped_py_func_result_used_by_compiled_ops_says_to_set_its_shape():
    y = tf.py_func(lambda v: v, [tf.constant([1.0])], tf.float32)
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(y), [1.0])     # fetched alone: fine
        with pytest.raises(tf.errors.InvalidArgumentError, match="unknown shape: give it one with .*set_shape"):
            s.run(y * 2.0)


def test_no_gradient_through_py_func():
    x = tf.placeholder(tf.float32, [3])
    y = tf.py_func(lambda a: a * 2, [x], tf.float32)
    y.set_shape([3])
    assert tf.gradients(tf.reduce_sum(y), x) == [None]
    g = tf.gradients(tf.reduce_sum(y * x), x)[0]
    with tf.Session() as s:
        assert s.run(g, {x: [1.0, 2.0, 3.0]}).tolist() == [2.0, 4.0, 6.0]


def test_print_passes_value_and_gradient_and_prints_first_n(capfd):
    w = tf.Variable([1.0, 2.0])
    x = tf.constant([3.0, 4.0])
    printed = tf.Print(w * x, [w, tf.shape(w)], message="w, shape: ", first_n=2, summarize=1)
    loss = tf.reduce_sum(tf.square(printed))
    plain = tf.reduce_sum(tf.square(w * x))
    assert printed.shape.as_list() == [2]
    g_print, g_plain = tf.gradients(loss, w)[0], tf.gradients(plain, w)[0]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(3):
            a, b = s.run([g_print, g_plain])
            np.testing.assert_allclose(a, b)
    err = capfd.readouterr().err
    assert err.count("w, shape: [1...][2]") == 2            # first_n=2 of 3 runs


def test_print_in_a_training_step_trains_exactly_as_without():
    def train(with_print):
        with tf.Graph().as_default():
            x = tf.constant(np.linspace(-1, 1, 8, dtype=np.float32).reshape(8, 1))
            w1 = tf.Variable(np.linspace(-1, 1, 4, dtype=np.float32).reshape(1, 4))
            w2 = tf.Variable(np.linspace(1, -0.5, 4, dtype=np.float32).reshape(4, 1))
            h = tf.nn.tanh(tf.matmul(x, w1))
            if with_print:
                h = tf.Print(h, [tf.reduce_mean(h)], "mean h ")
            loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) - x * x))
            step = tf.train.AdamOptimizer(0.05).minimize(loss)
            with tf.Session() as s:
                s.run(tf.global_variables_initializer())
                for _ in range(20):
                    s.run(step)
                return s.run([loss, w1, w2])
    for a, b in zip(train(True), train(False)):
        np.testing.assert_array_equal(a, b)


def test_tf_print_streams_and_formats(capsys, tmp_path):
    x = tf.placeholder(tf.int32, [None])
    out = tmp_path / "log.txt"
    p1 = tf.print("x =", x, "sum", tf.reduce_sum(x), output_stream=sys.stdout)
    p2 = tf.print(x, summarize=2, output_stream="file://" + str(out))
    with tf.Session() as s:
        s.run([p1, p2], {x: list(range(10))})
    assert capsys.readouterr().out == "x = [0 1 2 ... 7 8 9] sum 45\n"     # TF: 3 at each end
    assert out.read_text() == "[0 1 ... 8 9]\n"
    with pytest.raises(ValueError, match="output_stream"):
        tf.print(x, output_stream=42)


def test_print_output_has_tfs_name():
    assert tf.Print(tf.constant(1.0), [tf.constant(2.0)]).name == "Print:0"
    assert tf.Print(tf.constant(1.0), [], name="show").name == "show:0"
