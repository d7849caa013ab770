"""TensorArrays through tf.cond (frontend/tensor_array_cond.py): a TensorArray returned by
the branches outside loops, and a while loop's TensorArray written (or read) inside a cond
of its body: both branches writing, one branch writing (the other's rows masked out), the
array read before the cond (dense) or first inside a branch. Values vs NumPy, gradients vs
finite differences, llvm == reference."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf

from test_tensor_array import session_fd

BACKENDS = ["llvm", "reference"]
XV = np.array([0.5, -1.5, 2.0, -0.25, 1.25, -3.0])


def _loop(body, ta, n=6):
    _, out = tf.while_loop(lambda i, ta: i < n, body, [tf.constant(0), ta])
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_both_branches_write_each_trip(backend):
    """ta.write(i, 2x_i) where x_i > 0 else ta.write(i, -x_i^2): the loop stacks the cond's
    merged (value, index) pairs; the gradient of the stacked array is each branch's."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [6])

        def body(i, ta):
            xi = x[i]
            return i + 1, tf.cond(xi > 0, lambda: ta.write(i, 2.0 * xi),
                                  lambda: ta.write(i, -xi * xi))
        st = _loop(body, tf.TensorArray(tf.float64, size=6)).stack()
        loss = tf.reduce_sum(st * tf.constant(np.arange(1.0, 7.0)))
        gx = tf.gradients(loss, x)[0]
        with tf.Session(backend=backend) as s:
            got, g = s.run([st, gx], {x: XV})
            fd = session_fd(s, loss, {}, x, XV)
    np.testing.assert_allclose(got, np.where(XV > 0, 2 * XV, -XV ** 2))
    np.testing.assert_allclose(g, np.arange(1.0, 7.0) * np.where(XV > 0, 2.0, -2 * XV))
    np.testing.assert_allclose(g, fd, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("writer", ["true", "false"])
def test_one_branch_writes(backend, writer):
    """Only one branch writes (the other returns the array as it was): the rows of the trips
    that did not write stay as they were (zeros), whichever branch is the writer."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [6])

        def body(i, ta):
            xi = x[i]
            write = lambda: ta.write(i, xi * xi + 1.0)       # noqa: E731
            keep = lambda: ta                                 # noqa: E731
            fns = (write, keep) if writer == "true" else (keep, write)
            return i + 1, tf.cond(xi > 0, *fns)
        st = _loop(body, tf.TensorArray(tf.float64, size=6, element_shape=[])).stack()
        loss = tf.reduce_sum(st * st)
        gx = tf.gradients(loss, x)[0]
        with tf.Session(backend=backend) as s:
            got, g = s.run([st, gx], {x: XV})
            fd = session_fd(s, loss, {}, x, XV)
    hit = XV > 0 if writer == "true" else XV <= 0
    want = np.where(hit, XV ** 2 + 1.0, 0.0)
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(g, np.where(hit, 2 * want * 2 * XV, 0.0))
    np.testing.assert_allclose(g, fd, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_uneven_writes_and_a_dynamic_size_array(backend):
    """The true branch writes two rows, the false branch one; a dynamic_size array whose size
    is set by the rows actually written (the masked padding row does not count)."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [4])

        def body(i, ta):
            xi = x[i]
            return i + 1, tf.cond(xi > 0,
                                  lambda: ta.write(2 * i, xi).write(2 * i + 1, 10.0 * xi),
                                  lambda: ta.write(2 * i, -xi))
        ta = _loop(body, tf.TensorArray(tf.float32, size=0, dynamic_size=True), n=4)
        st, n = ta.stack(), ta.size()
        xv = np.array([1.0, 2.0, -3.0, -4.0], np.float32)
        with tf.Session(backend=backend) as s:
            got, size = s.run([st, n], {x: xv})
    np.testing.assert_allclose(got, [1, 10, 2, 20, 3, 0, 4])   # the last trip wrote row 6 only
    assert size == 7


@pytest.mark.parametrize("backend", BACKENDS)
def test_array_read_before_the_cond_and_written_in_it(backend):
    """The body reads the previous row (the array is carried densely), then a cond writes
    the new row in either branch: y_i = y_{i-1} * x_i or y_{i-1} + x_i."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [6])
        ta0 = tf.TensorArray(tf.float64, size=7, element_shape=[]).write(0, tf.constant(1.0,
                                                                                        tf.float64))

        def body(i, ta):
            prev, xi = ta.read(i), x[i]
            return i + 1, tf.cond(xi > 0, lambda: ta.write(i + 1, prev * xi),
                                  lambda: ta.write(i + 1, prev + xi))
        st = _loop(body, ta0).stack()
        loss = tf.reduce_sum(st)
        gx = tf.gradients(loss, x)[0]
        with tf.Session(backend=backend) as s:
            got, g = s.run([st, gx], {x: XV})
            fd = session_fd(s, loss, {}, x, XV)
    want = [1.0]
    for v in XV:
        want.append(want[-1] * v if v > 0 else want[-1] + v)
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(g, fd, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_first_read_in_one_branch_write_in_the_other(backend):
    """One branch reads the array (it becomes dense there), the other writes: the writing
    branch's rows are scattered into the dense array too, so both agree after the cond."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [6])

        def body(i, acc, ta):
            xi = x[i]
            ta = ta.write(i, xi * 3.0)
            got = tf.cond(tf.equal(i % 2, 1), lambda: (ta.read(i - 1), ta),
                          lambda: (tf.constant(0.0, tf.float64), ta.write(i, xi)))
            return i + 1, acc + got[0], got[1]
        _, acc, ta = tf.while_loop(lambda i, *a: i < 6, body,
                                   [tf.constant(0), tf.constant(0.0, tf.float64),
                                    tf.TensorArray(tf.float64, size=6, element_shape=[])])
        st = ta.stack()
        loss = acc + tf.reduce_sum(st * st)
        gx = tf.gradients(loss, x)[0]
        with tf.Session(backend=backend) as s:
            a, got, g = s.run([acc, st, gx], {x: XV})
            fd = session_fd(s, loss, {}, x, XV)
    rows = np.where(np.arange(6) % 2 == 1, 3 * XV, XV)
    np.testing.assert_allclose(got, rows)
    np.testing.assert_allclose(a, sum(rows[i - 1] for i in (1, 3, 5)))
    np.testing.assert_allclose(g, fd, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tensor_array_returned_by_the_branches_outside_loops(backend):
    """Outside loops the branches' arrays are dense buffers: the cond merges them, in a
    nested structure beside a tensor."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3, 2])
        p = tf.placeholder(tf.bool, [])
        ta = tf.TensorArray(tf.float32, size=3).unstack(x)
        out, ta2 = tf.cond(p, lambda: (tf.reduce_sum(x), ta.write(1, -x[1])),
                           lambda: (tf.constant(0.0), ta.write(0, 2.0 * x[0])))
        st = ta2.stack()
        gx = tf.gradients(tf.reduce_sum(st) + out, x)[0]
        xv = np.arange(6, dtype=np.float32).reshape(3, 2)
        with tf.Session(backend=backend) as s:
            for pv in (True, False):
                o, got, g = s.run([out, st, gx], {x: xv, p: pv})
                want = xv.copy()
                if pv:
                    want[1] = -xv[1]
                else:
                    want[0] = 2 * xv[0]
                np.testing.assert_allclose(got, want)
                np.testing.assert_allclose(o, xv.sum() if pv else 0.0)
                gw = np.full_like(xv, 2.0 if pv else 1.0)   # sum(stack) (+ sum(x))
                gw[1 if pv else 0] = 0.0 if pv else 2.0        # -x1 (+ x1); 2 x0
                np.testing.assert_allclose(g, gw)


def test_uneven_writes_of_unknown_element_shape_are_a_clear_error():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, None])

        def body(i, ta):
            return i + 1, tf.cond(i > 0, lambda: ta.write(i, x[i]), lambda: ta)
        with pytest.raises(NotImplementedError, match="static element shape"):
            _loop(body, tf.TensorArray(tf.float32, size=6))


def test_branches_returning_different_arrays_are_a_clear_error():
    with tf.Graph().as_default():
        a = tf.TensorArray(tf.float32, size=2, element_shape=[])
        b = tf.TensorArray(tf.float32, size=2, element_shape=[])

        def body(i, a, b):
            return (i + 1,) + tf.cond(i > 0, lambda: (a, b), lambda: (b, a))
        with pytest.raises(ValueError, match="same TensorArray"):
            tf.while_loop(lambda i, a, b: i < 2, body, [tf.constant(0), a, b])


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_enclosing_loops_array_as_a_nested_loop_variable(backend):
    """The outer loop's array is a loop variable of an inner loop that writes row i*3 + j:
    the outer loop carries it densely, the inner one scatters its trips' rows into it."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [2, 3])

        def outer(i, ta):
            def inner(j, ta):
                return j + 1, ta.write(i * 3 + j, x[i, j] * tf.cast(j + 1, tf.float64))
            _, ta = tf.while_loop(lambda j, ta: j < 3, inner, [tf.constant(0), ta])
            return i + 1, ta
        ta = tf.while_loop(lambda i, ta: i < 2, outer,
                           [tf.constant(0), tf.TensorArray(tf.float64, size=6,
                                                           element_shape=[])])[1]
        st = ta.stack()
        loss = tf.reduce_sum(st * st)
        gx = tf.gradients(loss, x)[0]
        xv = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]])
        with tf.Session(backend=backend) as s:
            got, g = s.run([st, gx], {x: xv})
            fd = session_fd(s, loss, {}, x, xv)
    scale = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(got, (xv * scale).ravel())
    np.testing.assert_allclose(g, 2 * xv * scale ** 2)
    np.testing.assert_allclose(g, fd, rtol=1e-6)
