"""tf.bincount, tf.searchsorted, tf.histogram_fixed_width, tf.unravel_index, tf.bitcast
(frontend/count_ops.py) on llvm and the reference, against NumPy."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError

BACKENDS = ("reference", "llvm")


def _np_bincount(a, w=None, minlength=None, maxlength=None):
    n = int(a.max()) + 1 if a.size else 0
    n = max(n, minlength) if minlength is not None else n
    n = min(n, maxlength) if maxlength is not None else n
    keep = a < n
    return np.bincount(a[keep], None if w is None else w[keep], minlength=n)[:n]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=10, deadline=None)
@given(a=st.lists(st.integers(0, 9), max_size=12),
       lengths=st.sampled_from([(None, None), (5, None), (None, 4), (12, 12), (3, 3), (2, 6)]),
       weighted=st.booleans())
def test_bincount_matches_numpy(backend, a, lengths, weighted):
    a = np.array(a, np.int32)
    lo, hi = lengths
    w = np.linspace(0.5, 3.0, a.size).astype(np.float32) if weighted else None
    with tf.Graph().as_default():
        pa = tf.placeholder(tf.int32, [None])
        pw = tf.placeholder(tf.float32, [None]) if weighted else None
        out = tf.math.bincount(pa, weights=pw, minlength=lo, maxlength=hi)
        feed = {pa: a, **({pw: w} if weighted else {})}
        got = tf.Session(backend=backend).run(out, feed)
    want = _np_bincount(a, w, lo, hi)
    assert got.dtype == (np.float32 if weighted else np.int32)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_bincount_static_length_is_compiled_and_counts_2d_input():
    with tf.Graph().as_default():
        a = tf.placeholder(tf.int32, [None, 2])
        out = tf.bincount(a, minlength=4, maxlength=4, dtype=tf.int64)
        assert out.shape.as_list() == [4]
        got = tf.Session(backend="llvm").run(out, {a: [[0, 3], [3, 7]]})
    np.testing.assert_array_equal(got, [1, 0, 0, 2])
    assert got.dtype == np.int64


def test_bincount_refuses_negative_values():
    with tf.Graph().as_default():
        a = tf.placeholder(tf.int32, [None])
        with pytest.raises(InvalidArgumentError, match="non-negative"):
            tf.Session(backend="llvm").run(tf.bincount(a), {a: [1, -2]})


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 3), n=st.integers(1, 6), m=st.integers(1, 5),
       side=st.sampled_from(["left", "right"]), seed=st.integers(0, 1000))
def test_searchsorted_matches_numpy(backend, rows, n, m, side, seed):
    rng = np.random.default_rng(seed)
    seq = np.sort(rng.integers(-4, 5, (rows, n)).astype(np.float32), axis=-1)
    vals = rng.integers(-5, 6, (rows, m)).astype(np.float32)
    with tf.Graph().as_default():
        s = tf.placeholder(tf.float32, [None, None])
        v = tf.placeholder(tf.float32, [None, None])
        out = tf.searchsorted(s, v, side=side, out_type=tf.int64)
        got = tf.Session(backend=backend).run(out, {s: seq, v: vals})
    want = np.stack([np.searchsorted(seq[i], vals[i], side=side) for i in range(rows)])
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


def test_searchsorted_rejects_a_bad_side():
    with pytest.raises(ValueError, match="'left' or 'right'.*'middle'"):
        tf.searchsorted([1.0, 2.0], [1.5], side="middle")


@pytest.mark.parametrize("backend", BACKENDS)
def test_histogram_fixed_width_matches_numpy_and_clamps_outliers(backend):
    x = np.array([-1.0, 0.0, 0.5, 1.99, 2.0, 2.5, 4.9, 5.0, 7.0], np.float32)
    with tf.Graph().as_default():
        p = tf.placeholder(tf.float32, [None])
        got = tf.Session(backend=backend).run(
            tf.histogram_fixed_width(p, [0.0, 5.0], nbins=5), {p: x})
    inside = np.histogram(np.clip(x, 0.0, 5.0), bins=5, range=(0.0, 5.0))[0]
    np.testing.assert_array_equal(got, inside)
    assert got.dtype == np.int32


@pytest.mark.parametrize("backend", BACKENDS)
def test_unravel_index_matches_numpy(backend):
    with tf.Graph().as_default():
        i = tf.placeholder(tf.int32, [None])
        dims = tf.placeholder(tf.int32, [3])
        outs = [tf.unravel_index(i, dims), tf.unravel_index(tf.constant(17), [2, 3, 4])]
        got = tf.Session(backend=backend).run(outs, {i: [0, 5, 17, 23], dims: [2, 3, 4]})
    np.testing.assert_array_equal(got[0], np.stack(np.unravel_index([0, 5, 17, 23], (2, 3, 4))))
    np.testing.assert_array_equal(got[1], np.unravel_index(17, (2, 3, 4)))


def test_bitcast_views_the_bytes():
    x = np.array([[1.5, -2.0], [0.0, 3.25]], np.float32)
    with tf.Graph().as_default():
        p = tf.placeholder(tf.float32, [2, 2])
        to_int = tf.bitcast(p, tf.int32)
        to_bytes = tf.bitcast(p, tf.uint8)
        back = tf.bitcast(to_bytes, tf.float32)
        assert to_bytes.shape.as_list() == [2, 2, 4] and back.shape.as_list() == [2, 2]
        got = tf.Session(backend="llvm").run([to_int, to_bytes, back], {p: x})
    np.testing.assert_array_equal(got[0], x.view(np.int32))
    np.testing.assert_array_equal(got[1], x.view(np.uint8).reshape(2, 2, 4))
    np.testing.assert_array_equal(got[2], x)
    with pytest.raises(ValueError, match="last dim must be 4"):
        tf.bitcast(tf.constant(np.zeros((2, 3), np.uint8)), tf.float32)


def test_counting_ops_on_the_cuda_backend():
    from _cuda_util import HAVE_NUMBA_CUDA, usable_or_skip
    if not HAVE_NUMBA_CUDA:
        pytest.skip("numba-cuda is not installed")
    usable_or_skip()
    a_np = np.array([1, 1, 4, 2], np.int32)
    with tf.Graph().as_default():
        a = tf.placeholder(tf.int32, [None])
        s = tf.placeholder(tf.float32, [None])
        v = tf.placeholder(tf.float32, [None])
        outs = [tf.bincount(a), tf.bincount(a, minlength=6, maxlength=6),
                tf.searchsorted(s, v, side="right"),
                tf.bitwise.left_shift(a, tf.constant([1, 2, 3, 40]))]
        with tf.Session(backend="cuda") as sess:
            got = sess.run(outs, {a: a_np, s: [0.0, 1.0, 1.0, 3.0], v: [1.0, -1.0, 5.0]})
    np.testing.assert_array_equal(got[0], np.bincount(a_np))
    np.testing.assert_array_equal(got[1], np.bincount(a_np, minlength=6))
    np.testing.assert_array_equal(got[2], np.searchsorted([0, 1, 1, 3], [1, -1, 5], "right"))
    np.testing.assert_array_equal(got[3], np.left_shift(a_np, np.array([1, 2, 3, 31], np.int32)))
