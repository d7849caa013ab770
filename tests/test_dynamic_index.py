"""Indexing with bounds computed at run time (frontend/dynamic_index.py): ``x[i]``, ``x[:, t]``,
``x[i:j:step]``, ``tf.slice``/``tf.strided_slice`` with tensor bounds — values vs NumPy's
indexing on llvm and the reference, gradients vs finite differences, inside a while loop,
and TF's errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError

from _tfcheck import check_gradients


def _key_strategy(shape):
    """A NumPy basic-indexing key for ``shape`` and which of its ints are fed at run time."""
    @st.composite
    def key(draw):
        entries = []
        k = draw(st.integers(1, len(shape)))
        ellipsis = draw(st.sampled_from(["none", "before", "after"]))
        for n in (shape[len(shape) - k:] if ellipsis == "before" else shape[:k]):
            kind = draw(st.sampled_from(["int", "slice", "full", "newaxis"]))
            if kind == "int":
                entries.append(draw(st.integers(-n, n - 1)))
            elif kind == "slice":
                step = draw(st.sampled_from([None, 1, 2, -1, -2]))
                lo = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
                hi = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
                entries.append(slice(lo, hi, step))
            elif kind == "full":
                entries.append(slice(None))
            else:
                entries.append(None)
                entries.append(slice(None))   # newaxis consumes no dim: keep one slice too
        if ellipsis != "none":
            entries.insert(0 if ellipsis == "before" else len(entries), Ellipsis)
        feed_mask = draw(st.lists(st.booleans(), min_size=len(entries), max_size=len(entries)))
        return tuple(entries), feed_mask
    return key()


@st.composite
def _case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    key, mask = draw(_key_strategy(shape))
    return shape, key, mask


def _symbolic(key, mask, feeds):
    """``key`` with the masked ints (and slice bounds) replaced by fed int32 scalars."""
    out = []
    for k, m in zip(key, mask):
        def ph(v):
            if v is None or not m:
                return v
            p = tf.placeholder(tf.int32, [])
            feeds[p] = np.int32(v)
            return p
        if isinstance(k, slice):
            out.append(slice(ph(k.start), ph(k.stop), k.step))
        elif isinstance(k, int):
            out.append(ph(k))
        else:
            out.append(k)
    return tuple(out)


@pytest.mark.parametrize("backend", ["reference", "llvm"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_case())
def test_computed_bounds_index_as_numpy(backend, case):
    shape, key, mask = case
    tf.reset_default_graph()
    xv = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    x = tf.placeholder(tf.float32, shape)
    feeds = {x: xv}
    y = x[_symbolic(key, mask, feeds)]
    want = xv[key]
    assert y.shape.ndims == want.ndim
    assert all(d is None or d == w for d, w in zip(y.shape.as_list(), want.shape))
    with tf.Session(backend=backend) as s:
        got = s.run(y, feeds)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_open_and_clamped_slice_bounds(backend):
    """Omitted bounds, bounds past either end, negative steps: Python's rules, as TF's."""
    xv = np.arange(7, dtype=np.float32)
    x = tf.placeholder(tf.float32, [7])
    i, j = tf.placeholder(tf.int32, []), tf.placeholder(tf.int32, [])
    cases = {"i:": (x[i:], lambda a, b: xv[a:]), ":j": (x[:j], lambda a, b: xv[:b]),
             "i::-1": (x[i::-1], lambda a, b: xv[a::-1]),
             ":j:-2": (x[:j:-2], lambda a, b: xv[:b:-2]),
             "i:j": (x[i:j], lambda a, b: xv[a:b]), "i:j:-1": (x[i:j:-1], lambda a, b: xv[a:b:-1])}
    with tf.Session(backend=backend) as s:
        for a, b in [(2, 5), (-3, 9), (9, -9), (0, 0), (-1, 3), (6, -8)]:
            got = s.run({k: v for k, (v, _) in cases.items()}, {x: xv, i: a, j: b})
            for k, (_, ref) in cases.items():
                np.testing.assert_array_equal(got[k], ref(a, b), err_msg=f"x[{k}] at {a}, {b}")


def test_an_int_index_keeps_the_other_dims_static():
    x = tf.placeholder(tf.float32, [5, 4, 3])
    i = tf.placeholder(tf.int32, [])
    assert x[i].shape.as_list() == [4, 3]
    assert x[:, i].shape.as_list() == [5, 3]
    assert x[..., i].shape.as_list() == [5, 4]
    assert x[i, 1:].shape.as_list() == [3, 3]
    assert x[i:i + 2].shape.as_list() == [None, 4, 3]     # as TF: a computed size


def test_slice_and_strided_slice_with_computed_begin():
    xv = np.random.RandomState(0).rand(5, 4, 3).astype(np.float32)
    x = tf.placeholder(tf.float32, [5, 4, 3])
    i = tf.placeholder(tf.int32, [])
    a = tf.slice(x, [i, 0, 1], [2, -1, 2])
    b = tf.slice(x, tf.stack([0, i, 0]), [-1, -1, 2])
    c = tf.strided_slice(x, [i, 0], [i + 2, 3])
    d = tf.strided_slice(x, [0, i], [5, 0], shrink_axis_mask=2)
    assert a.shape.as_list() == [2, 4, 2]          # static size: static dims
    for backend in ("reference", "llvm"):
        with tf.Session(backend=backend) as s:
            got = s.run([a, b, c, d], {x: xv, i: 1})
        np.testing.assert_array_equal(got[0], xv[1:3, :, 1:3])
        np.testing.assert_array_equal(got[1], xv[:, 1:, 0:2])
        np.testing.assert_array_equal(got[2], xv[1:3, 0:3])
        np.testing.assert_array_equal(got[3], xv[:, 1])


def test_gradients_of_computed_indices():
    def fn(x):
        zero = tf.cast(tf.reduce_sum(x * 0.0), tf.int32)    # 0, known only at run time
        j = zero + 2
        k = zero - 1                    # -1: counts from the end
        return tf.reshape(tf.concat([tf.reshape(x[j], [-1]), tf.reshape(x[:, k], [-1]),
                                     tf.reshape(x[j - 1:j + 2:2], [-1]),     # rows 1 and 3
                                     tf.reshape(tf.slice(x, [j, k + 2], [1, 1]), [-1])], 0),
                          [5 + 4 + 10 + 1])
    check_gradients(fn, [np.random.RandomState(1).rand(4, 5)])
    check_gradients(fn, [np.random.RandomState(1).rand(4, 5)], backend="llvm")


def test_rows_read_by_a_loop_counter_and_trained():
    """The everyday TF1 loop: ``x[t]`` at the loop's counter, with a gradient, on llvm."""
    xv = np.random.RandomState(2).rand(6, 3).astype(np.float32)
    x = tf.placeholder(tf.float32, [6, 3])
    w = tf.Variable(np.ones((3, 3), np.float32))

    def body(t, h):
        return t + 1, tf.tanh(tf.matmul(tf.expand_dims(x[t], 0), w) + h)
    _, h = tf.while_loop(lambda t, h: t < 6, body, [0, tf.zeros([1, 3])])
    loss = tf.reduce_sum(h * h)
    gw = tf.gradients(loss, w)[0]
    want_h = np.zeros((1, 3), np.float64)
    hs = [want_h]
    for t in range(6):
        want_h = np.tanh(xv[t:t + 1] @ np.ones((3, 3)) + want_h)
        hs.append(want_h)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        got_h, got_g = s.run([h, gw], {x: xv})
        np.testing.assert_allclose(got_h, want_h, rtol=1e-5)
        # the gradient vs central differences of the loss in w
        eps, num = 1e-2, np.zeros((3, 3))
        for a in range(3):
            for b in range(3):
                wv = np.ones((3, 3))
                for sgn in (1, -1):
                    wv[a, b] = 1 + sgn * eps
                    hh = np.zeros((1, 3))
                    for t in range(6):
                        hh = np.tanh(xv[t:t + 1] @ wv + hh)
                    num[a, b] += sgn * np.sum(hh * hh) / (2 * eps)
        np.testing.assert_allclose(got_g, num, rtol=2e-3, atol=1e-4)


def test_out_of_range_index_is_a_run_time_error_and_bad_keys_are_build_errors():
    x = tf.placeholder(tf.float32, [5, 4])
    i = tf.placeholder(tf.int32, [])
    y = x[i]
    with tf.Session() as s:
        with pytest.raises(InvalidArgumentError, match="not in \\[0, 5\\)"):
            s.run(y, {x: np.zeros((5, 4)), i: 7})
        with pytest.raises(InvalidArgumentError):
            s.run(y, {x: np.zeros((5, 4)), i: -6})
        np.testing.assert_array_equal(s.run(y, {x: np.eye(5, 4), i: -5}), np.eye(5, 4)[0])
    with pytest.raises(TypeError, match="must be an integer"):
        x[tf.placeholder(tf.float32, [])]
    with pytest.raises(TypeError, match="must be a scalar"):
        x[tf.placeholder(tf.int32, [2])]
    with pytest.raises(NotImplementedError, match="step must be known"):
        x[::tf.placeholder(tf.int32, [])]
    with pytest.raises(ValueError, match="one entry per dimension"):
        tf.slice(x, [i], [1])


def test_range_counts_down_with_a_computed_limit():
    a, b = tf.placeholder(tf.int32, []), tf.placeholder(tf.int32, [])
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(tf.range(a, b, -1), {a: 3, b: -1}), [3, 2, 1, 0])
        np.testing.assert_array_equal(s.run(tf.range(a, b, 2), {a: 1, b: 6}), [1, 3, 5])
        d = tf.placeholder(tf.int32, [])
        np.testing.assert_array_equal(s.run(tf.range(a, b, d), {a: 4, b: 0, d: -2}), [4, 2])
        np.testing.assert_array_equal(s.run(tf.range(a, b, d), {a: 0, b: 3, d: 1}), [0, 1, 2])
    with pytest.raises(ValueError, match="delta != 0"):
        tf.range(a, b, 0)


@st.composite
def _slice_case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    begin, size = [], []
    for n in shape:
        b = draw(st.integers(0, n))
        begin.append(b)
        size.append(draw(st.sampled_from([-1, draw(st.integers(0, n - b))])))
    fed = draw(st.sampled_from(["both", "size", "entries"]))
    return shape, begin, size, fed


@pytest.mark.parametrize("backend", ["reference", "llvm"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_slice_case())
def test_slice_of_a_computed_size_as_numpy(backend, case):
    """``tf.slice`` with ``size`` (and ``begin``) fed at run time, -1 entries included: a
    vector placeholder, or a list of fed scalars mixed with ints."""
    shape, begin, size, fed = case
    tf.reset_default_graph()
    xv = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    x = tf.placeholder(tf.float32, shape)
    feeds = {x: xv}
    if fed == "entries":                 # size entries on even axes fed, begin static
        sz = []
        for k, n in enumerate(size):
            if k % 2:
                sz.append(n)
            else:
                p = tf.placeholder(tf.int32, [])
                feeds[p] = n
                sz.append(p)
        y = tf.slice(x, begin, sz)
    else:
        s = tf.placeholder(tf.int32, [len(shape)])
        feeds[s] = np.array(size, np.int32)
        b = begin
        if fed == "both":
            b = tf.placeholder(tf.int32, [len(shape)])
            feeds[b] = np.array(begin, np.int32)
        y = tf.slice(x, b, s)
    want = xv[tuple(slice(b, None if n == -1 else b + n) for b, n in zip(begin, size))]
    with tf.Session(backend=backend) as sess:
        got = sess.run(y, feeds)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_slice_sized_from_the_shape_of_a_fed_placeholder(backend):
    """The everyday case: ``size`` computed from ``tf.shape`` of a batch of unknown size."""
    x = tf.placeholder(tf.float32, [None, 4, 3])
    sh = tf.shape(x)
    a = tf.slice(x, [1, 0, 1], tf.stack([sh[0] - 2, -1, 2]))
    b = tf.slice(x, [0, 1, 0], sh - [1, 1, 0])
    c = tf.slice(x, tf.zeros([3], tf.int32), [sh[0] // 2, 2, -1])
    assert a.shape.as_list() == [None, 4, 2]     # the static entries stay static
    with tf.Session(backend=backend) as s:
        for n in (3, 6):
            xv = np.random.RandomState(n).rand(n, 4, 3).astype(np.float32)
            ga, gb, gc = s.run([a, b, c], {x: xv})
            np.testing.assert_array_equal(ga, xv[1:n - 1, :, 1:3])
            np.testing.assert_array_equal(gb, xv[:n - 1, 1:, :])
            np.testing.assert_array_equal(gc, xv[:n // 2, :2, :])


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_gradient_of_a_slice_of_computed_size(backend):
    """The slice's gradient (the gathers' scatter-adds) vs central differences, with begin
    and size known only at run time (-1 among them)."""
    def fn(x):
        zero = tf.cast(tf.reduce_sum(x * 0.0), tf.int32)      # 0, known only at run time
        begin = tf.stack([zero + 1, zero])
        size = tf.stack([zero + 2, zero - 1])                   # [2, -1]
        part = tf.slice(x, begin, size)
        tail = tf.slice(x, [2, 1], tf.stack([-1, zero + 3]))   # static begin, computed size
        return tf.concat([tf.reshape(part, [10]), tf.reshape(tail, [6])], 0)
    check_gradients(fn, [np.random.RandomState(3).rand(4, 5)], backend=backend)


def test_slice_of_computed_size_out_of_range_fails_at_run_time():
    x = tf.placeholder(tf.float32, [5, 4])
    s = tf.placeholder(tf.int32, [2])
    b = tf.placeholder(tf.int32, [2])
    y = tf.slice(x, b, s)
    xv = np.zeros((5, 4), np.float32)
    with tf.Session() as sess:
        for bv, sv in (([1, 0], [5, 4]), ([0, 0], [-2, 4]), ([6, 0], [0, 4]), ([-1, 0], [1, 1])):
            with pytest.raises(InvalidArgumentError, match=r"size\[0\] in \[0, dim - begin\]"):
                sess.run(y, {x: xv, b: bv, s: sv})
        assert sess.run(y, {x: xv, b: [5, 4], s: [0, 0]}).shape == (0, 0)
        assert sess.run(y, {x: xv, b: [2, 1], s: [-1, -1]}).shape == (3, 3)
    with pytest.raises(ValueError, match=r"size\[1\]"):
        tf.slice(x, b, [1, -3])
