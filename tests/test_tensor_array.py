"""tf.TensorArray (frontend/tensor_array.py): dense outside loops; as a tf.while_loop
variable its writes are stacked by the loop (value and index per trip) and scattered once
after it, or carried densely when the body also reads it; split; dynamic_size growth.
Values vs NumPy, gradients vs finite differences, llvm == reference."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf

BACKENDS = ["llvm", "reference"]


def session_fd(s, loss, feeds: dict, x, xv: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of the fetched scalar ``loss`` w.r.t. the feed ``x`` at
    ``xv`` (the other ``feeds`` held)."""
    fd = np.zeros_like(xv)
    for k in range(xv.size):
        e = np.zeros_like(xv)
        e.flat[k] = eps
        fd.flat[k] = (s.run(loss, {**feeds, x: xv + e}) -
                      s.run(loss, {**feeds, x: xv - e})) / (2 * eps)
    return fd


@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_operations_outside_loops(backend):
    x = np.arange(24, dtype=np.float32).reshape(4, 2, 3)
    g = tf.Graph()
    with g.as_default():
        ta = tf.TensorArray(tf.float32, size=4).unstack(tf.constant(x))
        ta2 = ta.write(1, tf.fill([2, 3], -1.0)).scatter([0, 3], tf.zeros([2, 2, 3]))
        fresh = tf.TensorArray(tf.float32, size=3).write(2, tf.ones([2]))
        out = [ta.read(2), ta.gather([3, 0]), ta.stack(), ta.size(), ta2.stack(),
               ta.concat(), fresh.stack()]
    with g.as_default(), tf.Session(backend=backend) as s:
        r2, gath, st, size, st2, cat, fr = s.run(out)
    np.testing.assert_array_equal(r2, x[2])
    np.testing.assert_array_equal(gath, x[[3, 0]])
    np.testing.assert_array_equal(st, x)
    assert size == 4
    want = x.copy()
    want[1], want[0], want[3] = -1, 0, 0
    np.testing.assert_array_equal(st2, want)
    np.testing.assert_array_equal(cat, x.reshape(8, 3))
    np.testing.assert_array_equal(fr, [[0, 0], [0, 0], [1, 1]])


def rnn_with_arrays(steps: int):
    """h_t = tanh(h_{t-1} @ W + x_t), x_t read from an input TensorArray; h_t and 2 h_t
    written to two output arrays (the second at index 2t+1 of a twice-as-long one, with
    h_t at 2t: two writes a trip)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [None, 3])
        h0 = tf.placeholder(tf.float64, [3])
        w = tf.constant(np.random.RandomState(1).uniform(-1, 1, (3, 3)))
        n = tf.shape(x)[0]
        xs = tf.TensorArray(tf.float64, size=n).unstack(x)
        hs = tf.TensorArray(tf.float64, size=n)
        both = tf.TensorArray(tf.float64, size=2 * n)

        def body(t, h, xs, hs, both):
            h = tf.tanh(tf.matmul(h[None], w)[0] + xs.read(t))
            return t + 1, h, xs, hs.write(t, h), both.write(2 * t, h).write(2 * t + 1, 2 * h)
        _, hT, _, hs, both = tf.while_loop(lambda t, *a: t < n, body, [0, h0, xs, hs, both])
        H, B = hs.stack(), both.stack()
        loss = tf.reduce_sum(H * H) + tf.reduce_sum(B)
        grads = tf.gradients(loss, [x, h0])
    return g, x, h0, w, H, B, loss, grads


def numpy_rnn(x, h0, w):
    hs, h = [], h0
    for t in range(len(x)):
        h = np.tanh(h @ w + x[t])
        hs.append(h)
    return np.array(hs).reshape(len(x), 3)


@pytest.mark.parametrize("steps", [1, 6])
def test_arrays_written_and_read_inside_a_loop(steps):
    rng = np.random.RandomState(steps)
    xv, hv = rng.uniform(-1, 1, (steps, 3)), rng.uniform(-1, 1, 3)
    got = {}
    for backend in BACKENDS:
        g, x, h0, w, H, B, loss, grads = rnn_with_arrays(steps)
        with g.as_default(), tf.Session(backend=backend) as s:
            got[backend] = s.run([H, B, loss] + grads, {x: xv, h0: hv})
            wv = s.run(w)
            fd = session_fd(s, loss, {h0: hv}, x, xv)
        H_, B_, _, gx, gh = got[backend]
        want = numpy_rnn(xv, hv, wv)
        np.testing.assert_allclose(H_, want, rtol=1e-12)
        inter = np.empty((2 * steps, 3))
        inter[0::2], inter[1::2] = want, 2 * want
        np.testing.assert_allclose(B_, inter, rtol=1e-12)
        np.testing.assert_allclose(gx, fd, rtol=1e-5, atol=1e-7)
    for a, b in zip(got["llvm"], got["reference"]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def recurrence_on_arrays():
    """h_0 = x, h_i = tanh(w h_{i-1} + i/10) for i = 1..n (n fed): h_{i-1} read from the
    array the loop writes (a fixed array of n + 1 rows), h_i written and read back in the
    same trip; 2 h_i also written at i - 1 to an array of n rows with no write before the
    loop (element_shape given), read back at once."""
    g = tf.Graph()
    with g.as_default():
        n = tf.placeholder(tf.int32, [])
        x = tf.placeholder(tf.float64, [3])
        w = tf.constant([0.5, -1.5, 2.0], tf.float64)
        hs = tf.TensorArray(tf.float64, size=n + 1).write(0, x)
        ds = tf.TensorArray(tf.float64, size=n, element_shape=[3])

        def body(i, acc, hs, ds):
            h = tf.tanh(w * hs.read(i - 1) + tf.cast(i, tf.float64) / 10)
            hs = hs.write(i, h)
            ds = ds.write(i - 1, 2 * h)
            return i + 1, acc + tf.reduce_sum(hs.read(i)) + tf.reduce_sum(ds.read(i - 1)), hs, ds
        _, acc, hs, ds = tf.while_loop(lambda i, *a: i <= n, body,
                                       [1, tf.constant(0.0, tf.float64), hs, ds])
        outs = [hs.stack(), ds.stack(), acc, ds.size()]
        loss = tf.reduce_sum(outs[0] ** 2) + acc + tf.reduce_sum(tf.sin(outs[1]))
        outs += tf.gradients(loss, [x])
    return g, n, x, outs, loss


@pytest.mark.parametrize("trips", [0, 1, 5])
def test_reading_inside_the_loop_what_earlier_trips_wrote(trips):
    xv = np.random.RandomState(trips).uniform(-1, 1, 3)
    w = np.array([0.5, -1.5, 2.0])
    h = [xv]
    for i in range(1, trips + 1):
        h.append(np.tanh(w * h[-1] + i / 10))
    h = np.array(h)
    got = {}
    for backend in BACKENDS:
        g, n, x, outs, loss = recurrence_on_arrays()
        with g.as_default(), tf.Session(backend=backend) as s:
            got[backend] = s.run(outs, {n: trips, x: xv})
            fd = session_fd(s, loss, {n: trips}, x, xv)
        st, dst, acc, dsize, gx = got[backend]
        np.testing.assert_allclose(st, h, rtol=1e-12)
        np.testing.assert_allclose(dst, 2 * h[1:].reshape(trips, 3), rtol=1e-12)
        np.testing.assert_allclose(acc, 3 * h[1:].sum(), rtol=1e-12, atol=1e-15)
        assert dsize == trips
        np.testing.assert_allclose(gx, fd, rtol=1e-6, atol=1e-8)
    for a, b in zip(got["llvm"], got["reference"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def dynamic_read_written(back_prop):
    ds = tf.TensorArray(tf.float32, size=1, dynamic_size=True).write(0, [1.0, 2.0])
    n = tf.placeholder(tf.int32, [])
    _, ds = tf.while_loop(lambda i, ds: i <= n,
                          lambda i, ds: (i + 1, ds.write(i, ds.read(i - 1) * 3.0)), [1, ds],
                          back_prop=back_prop)
    return n, ds


def test_dynamic_size_array_read_and_written_in_a_loop_runs_without_back_prop():
    for backend in BACKENDS:
        with tf.Graph().as_default():
            n, ds = dynamic_read_written(back_prop=False)
            with tf.Session(backend=backend) as s:
                for trips in (0, 3):
                    st = s.run(ds.stack(), {n: trips})
                    np.testing.assert_allclose(st, [np.array([1.0, 2.0]) * 3.0 ** k
                                                    for k in range(trips + 1)])
    with tf.Graph().as_default():
        with pytest.raises(NotImplementedError, match="give it a size, or pass back_prop"):
            dynamic_read_written(back_prop=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reads_inside_a_cond_in_the_loop(backend):
    """An input array read only in one branch of a tf.cond in the body; an array written
    each trip and read (the previous trip's row) in a cond branch."""
    xv = np.array([1.0, 2.0, 3.0, 4.0])
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [4])
        xs = tf.TensorArray(tf.float64, size=4).unstack(x)
        ys = tf.TensorArray(tf.float64, size=4, element_shape=[])

        def body(i, acc, xs, ys):
            v = tf.cond(i > 1, lambda: xs.read(i), lambda: tf.constant(0.0, tf.float64))
            p = tf.cond(i > 0, lambda: ys.read(i - 1), lambda: tf.constant(1.0, tf.float64))
            return i + 1, acc + v, xs, ys.write(i, p * xs.read(i))
        _, acc, _, ys = tf.while_loop(lambda i, *a: i < 4, body,
                                      [0, tf.constant(0.0, tf.float64), xs, ys])
        gx = tf.gradients(acc + tf.reduce_sum(ys.stack()), x)[0]
        with tf.Session(backend=backend) as s:
            a, st, g = s.run([acc, ys.stack(), gx], {x: xv})
    np.testing.assert_allclose(a, xv[2:].sum())
    np.testing.assert_allclose(st, np.cumprod(xv))
    # d/dx_k [x_2 + x_3 + sum_j prod_{i<=j} x_i]
    want = np.array([sum(np.prod(np.delete(xv[:j + 1], k)) for j in range(k, 4))
                     for k in range(4)]) + np.array([0, 0, 1, 1])
    np.testing.assert_allclose(g, want, rtol=1e-12)


def test_reading_in_the_loop_an_array_of_unknown_element_shape_is_a_clear_error():
    with tf.Graph().as_default():
        ta = tf.TensorArray(tf.float32, size=3)
        with pytest.raises(ValueError, match="needs a fully defined element_shape"):
            tf.while_loop(lambda i, ta: i < 3,
                          lambda i, ta: (i + 1, ta.write(i, ta.read(i - 1) + 1.0)), [1, ta])


def test_dtype_and_size_errors():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="Size must be provided"):
            tf.TensorArray(tf.float32)
        with pytest.raises((TypeError, ValueError), match="dtype float32"):
            tf.TensorArray(tf.float32, size=2).write(0, tf.constant([1, 2]))


def dynamic_arrays():
    """Three dynamic_size arrays written in a loop of n trips (n fed at run time): one
    written at 0 before the loop and at t+1 inside, one written at 2t (the unwritten odd
    rows stay zero), one of initial size 2 written at t (at least 2 rows)."""
    g = tf.Graph()
    with g.as_default():
        n = tf.placeholder(tf.int32, [])
        x = tf.placeholder(tf.float64, [3])
        pre = tf.TensorArray(tf.float64, size=1, dynamic_size=True).write(0, -x)
        sparse = tf.TensorArray(tf.float64, size=0, dynamic_size=True)
        two = tf.TensorArray(tf.float64, size=2, dynamic_size=True)

        def body(t, pre, sparse, two):
            v = tf.sin(x * tf.cast(t + 1, tf.float64))
            return t + 1, pre.write(t + 1, v), sparse.write(2 * t, v * v), two.write(t, 3 * v)
        _, pre, sparse, two = tf.while_loop(lambda t, *a: t < n, body, [0, pre, sparse, two])
        outs = [pre.stack(), sparse.stack(), two.stack(), pre.size(), sparse.size(),
                two.size()]
        loss = sum(tf.reduce_sum(o * o) for o in outs[:3])
        outs += tf.gradients(loss, [x])
    return g, n, x, outs, loss


def numpy_dynamic(n, x):
    vs = [np.sin(x * (t + 1)) for t in range(n)]
    pre = np.array([-x] + vs).reshape(n + 1, 3)
    sparse = np.zeros((max(2 * n - 1, 0), 3))
    sparse[0::2] = np.array(vs).reshape(n, 3) ** 2
    two = np.zeros((max(n, 2), 3))
    two[:n] = 3 * np.array(vs).reshape(n, 3)
    return pre, sparse, two


@pytest.mark.parametrize("trips", [0, 1, 4])
def test_dynamic_size_arrays_grow_to_a_run_time_trip_count(trips):
    xv = np.random.RandomState(trips).uniform(-1, 1, 3)
    got = {}
    for backend in BACKENDS:
        g, n, x, outs, loss = dynamic_arrays()
        with g.as_default(), tf.Session(backend=backend) as s:
            got[backend] = s.run(outs, {n: trips, x: xv})
            fd = session_fd(s, loss, {n: trips}, x, xv)
        pre, sparse, two, s_pre, s_sparse, s_two, gx = got[backend]
        want = numpy_dynamic(trips, xv)
        for a, b in zip((pre, sparse, two), want):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        assert (s_pre, s_sparse, s_two) == tuple(len(w) for w in want)
        np.testing.assert_allclose(gx, fd, rtol=1e-6, atol=1e-8)
    for a, b in zip(got["llvm"], got["reference"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_dynamic_size_array_written_past_its_end_outside_a_loop():
    with tf.Graph().as_default():
        ta = tf.TensorArray(tf.float32, size=1, dynamic_size=True).write(0, [1.0, 2.0])
        ta = ta.write(3, [5.0, 6.0])
        fixed = tf.TensorArray(tf.float32, size=2).write(0, [1.0, 2.0])
        with tf.Session() as s:
            st, size, fx = s.run([ta.stack(), ta.size(), fixed.stack()])
    np.testing.assert_array_equal(st, [[1, 2], [0, 0], [0, 0], [5, 6]])
    assert size == 4
    np.testing.assert_array_equal(fx, [[1, 2], [0, 0]])


def split_graph(lengths, width):
    """An array split from a fed value by ``lengths``; every element read, element 1
    rewritten, the array concatenated; a loss of all of them."""
    g = tf.Graph()
    with g.as_default():
        v = tf.placeholder(tf.float64, [None, width])
        ta = tf.TensorArray(tf.float64, size=len(lengths)).split(v, lengths)
        reads = [ta.read(i) for i in range(len(lengths))]
        ta2 = ta.write(1, tf.fill([lengths[1], width], tf.constant(2.0, tf.float64)))
        outs = reads + [ta.concat(), ta2.concat(), ta.size()]
        loss = (sum(tf.reduce_sum(tf.sin(r) * (k + 1)) for k, r in enumerate(reads)) +
                tf.reduce_sum(ta.concat() ** 2) + tf.reduce_sum(ta2.concat() ** 3))
        outs += tf.gradients(loss, [v])
    return g, v, outs, loss


@pytest.mark.parametrize("lengths", [[1, 3, 0, 2], [2, 2, 2]])
def test_split_values_gradients_and_backends(lengths):
    width = 2
    xv = np.random.RandomState(len(lengths)).uniform(-1, 1, (sum(lengths), width))
    offs = np.concatenate([[0], np.cumsum(lengths)])
    pieces = [xv[offs[i]:offs[i + 1]] for i in range(len(lengths))]
    rewritten = np.concatenate([pieces[0], np.full((lengths[1], width), 2.0)] + pieces[2:])
    # d loss / d v: the reads' (k+1) cos, the concat's 2 v, the rewritten concat's 3 v^2
    # except on element 1 (replaced by a constant)
    gwant = (np.concatenate([(k + 1) * np.cos(p) for k, p in enumerate(pieces)]) + 2 * xv +
             np.concatenate([3 * p ** 2 if k != 1 else 0 * p for k, p in enumerate(pieces)]))
    got = {}
    for backend in BACKENDS:
        g, v, outs, loss = split_graph(lengths, width)
        with g.as_default(), tf.Session(backend=backend) as s:
            got[backend] = s.run(outs, {v: xv})
            fd = session_fd(s, loss, {}, v, xv)
        r = got[backend]
        for a, b in zip(r[:len(lengths)], pieces):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(r[len(lengths)], xv)
        np.testing.assert_array_equal(r[len(lengths) + 1], rewritten)
        assert r[len(lengths) + 2] == len(lengths)
        np.testing.assert_allclose(r[-1], gwant, rtol=1e-12)
        np.testing.assert_allclose(r[-1], fd, rtol=1e-5, atol=1e-7)
    for a, b in zip(got["llvm"], got["reference"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_split_of_equal_lengths_is_dense_and_varying_lengths_refuse_stack():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    with tf.Graph().as_default():
        even = tf.TensorArray(tf.float32, size=4).split(tf.constant(x), [2, 2, 2])
        ragged = tf.TensorArray(tf.float32, size=2).split(tf.constant(x), [4, 2])
        with tf.Session() as s:
            st, idx = s.run([even.stack(), even.read(tf.constant(1))])
        np.testing.assert_array_equal(st[:3], x.reshape(3, 2, 2))
        np.testing.assert_array_equal(st[3], 0)                  # element 3 never written
        np.testing.assert_array_equal(idx, x[2:4])
        assert ragged.element_shape.as_list() == [None, 2]
        with pytest.raises(ValueError, match=r"lengths \[4, 2\].*use concat"):
            ragged.stack()
        with pytest.raises(NotImplementedError, match="static scalar index"):
            ragged.read(tf.placeholder(tf.int32, []))
        with pytest.raises(ValueError, match="sum to 5 but the value has 6 rows"):
            tf.TensorArray(tf.float32, size=2).split(tf.constant(x), [3, 2])
        with pytest.raises(ValueError, match="3 lengths for an array of size 2"):
            tf.TensorArray(tf.float32, size=2).split(tf.constant(x), [2, 2, 2])
        with pytest.raises(NotImplementedError, match="lengths known at graph build"):
            tf.TensorArray(tf.float32, size=2).split(tf.constant(x),
                                                     tf.placeholder(tf.int32, [2]))
        with pytest.raises(NotImplementedError, match="as a tf.while_loop variable"):
            tf.while_loop(lambda i, ta: i < 2, lambda i, ta: (i + 1, ta), [0, ragged])


def test_recurrence_on_an_array_in_a_loop_nested_in_another():
    """Outer trip j: an array of 4 rows, row 0 = (j + 1) x, row i = sin(row i - 1) in an
    inner loop; the outer loop sums every row. Value and gradient vs NumPy/finite
    differences, llvm == reference."""
    xv = np.array([0.1, -0.7, 0.3])

    def f(x):
        t = 0.0
        for j in range(2):
            h = x * (j + 1)
            t += h.sum()
            for _ in range(3):
                h = np.sin(h)
                t += h.sum()
        return t
    fd = np.array([(f(xv + e) - f(xv - e)) / 2e-6 for e in np.eye(3) * 1e-6])
    got = []
    for backend in BACKENDS:
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float64, [3])

            def outer(j, acc):
                ta = tf.TensorArray(tf.float64, size=4).write(0, x * tf.cast(j + 1, tf.float64))
                _, ta = tf.while_loop(lambda i, ta: i < 4,
                                      lambda i, ta: (i + 1, ta.write(i, tf.sin(ta.read(i - 1)))),
                                      [1, ta])
                return j + 1, acc + tf.reduce_sum(ta.stack())
            _, acc = tf.while_loop(lambda j, a: j < 2, outer, [0, tf.constant(0.0, tf.float64)])
            with tf.Session(backend=backend) as s:
                got.append(s.run([acc, tf.gradients(acc, x)[0]], {x: xv}))
        np.testing.assert_allclose(got[-1][0], f(xv), rtol=1e-12)
        np.testing.assert_allclose(got[-1][1], fd, rtol=1e-6)
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-12)
