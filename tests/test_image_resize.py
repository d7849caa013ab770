"""tf.image.resize_area (TF's ResizeArea) and half_pixel_centers of resize_bilinear /
resize_nearest_neighbor, against NumPy loops written from TF's kernels and, for area, an
independent supersampling of each output pixel's box."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _tfcheck import run

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
f32 = np.float32


def _scale(o, i, align):
    return f32(i - 1) / f32(o - 1) if align and o > 1 else f32(i) / f32(o)


def _area_ref(x, oh, ow, align):
    """TF's ResizeArea loop: box [o * scale, (o + 1) * scale) per axis (float32), each pixel
    i in [floor(start), ceil(end)) weighted by its overlap, its index clamped to the image,
    the sum divided by scale_y * scale_x."""
    n, h, w, c = x.shape
    sy, sx = _scale(oh, h, align), _scale(ow, w, align)

    def taps(o, s, size):
        a, b = f32(o) * s, f32(o + 1) * s
        out = []
        for i in range(int(np.floor(a)), int(np.ceil(b))):
            wgt = min(f32(i + 1), b) - max(f32(i), a)
            out.append((min(max(i, 0), size - 1), float(wgt)))
        return out
    res = np.zeros((n, oh, ow, c))
    for y in range(oh):
        for xx in range(ow):
            acc = np.zeros((n, c))
            for iy, wy in taps(y, sy, h):
                for ix, wx in taps(xx, sx, w):
                    acc += wy * wx * x[:, iy, ix]
            res[:, y, xx] = acc / (float(sy) * float(sx))
    return res


def _area_supersampled(x, oh, ow, align):
    """Each output pixel the plain mean of the input at the midpoints of a fine grid over its
    box (exact scales as fractions; the grid has ``p`` steps per box for a scale p/q, so pixel
    edges fall on grid lines and the midpoint rule is exact for the piecewise-constant image)."""
    n, h, w, c = x.shape

    def samples(o, size, out):
        s = Fraction(size - 1, out - 1) if align and out > 1 else Fraction(size, out)
        m = 2 * s.numerator
        pts = [(o * s + (j + Fraction(1, 2)) * s / m) for j in range(m)]
        return [min(int(p), size - 1) for p in pts]      # floor of a positive fraction
    res = np.zeros((n, oh, ow, c))
    for y in range(oh):
        ys = samples(y, h, oh)
        for xx in range(ow):
            xs = samples(xx, w, ow)
            res[:, y, xx] = x[:, ys][:, :, xs].mean(axis=(1, 2))
    return res


@SETTINGS
@given(h=st.integers(1, 8), w=st.integers(1, 8), oh=st.integers(1, 9), ow=st.integers(1, 9),
       align=st.booleans(), seed=st.integers(0, 99))
def test_resize_area_matches_tf_loop_and_supersampling(h, w, oh, ow, align, seed):
    x = np.random.RandomState(seed).rand(2, h, w, 2) * 10
    tf.reset_default_graph()
    got = run(tf.image.resize_area(x, [oh, ow], align_corners=align))
    if align and (h == 1 < oh or w == 1 < ow):      # scale 0: empty boxes, NaN (TF's too)
        assert np.isnan(got).all()
        return
    assert got.dtype == np.float32 and got.shape == (2, oh, ow, 2)
    np.testing.assert_allclose(got, _area_ref(x, oh, ow, align), rtol=2e-6, atol=1e-5)
    np.testing.assert_allclose(got, _area_supersampled(x, oh, ow, align), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", [(2, 3), (9, 4), (5, 7)])
def test_resize_area_llvm_dynamic_sizes_and_integer_images(size):
    x = np.random.RandomState(1).randint(0, 256, (1, 5, 7, 3)).astype(np.uint8)
    ref = _area_ref(x.astype(np.float64), *size, False)
    tf.reset_default_graph()
    ph = tf.placeholder(tf.uint8, [None, None, None, 3])
    y = tf.image.resize_area(ph, size)
    single = tf.image.resize_area(x[0], size)          # rank 3, static
    assert y.shape.as_list() == [None, *size, 3] and single.shape.as_list() == [*size, 3]
    for backend in ("reference", "llvm"):
        got, one = run([y, single], {ph: x}, backend=backend)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=1e-5)
        np.testing.assert_allclose(one, ref[0], rtol=1e-5)


def test_resize_area_names_and_its_gradient_is_the_adjoint():
    x = np.random.RandomState(2).rand(1, 4, 6, 1)
    tf.reset_default_graph()
    m = tf.image.ResizeMethod
    a, b, c = run([tf.image.resize_area(x, [3, 4]),
                   tf.image.resize_images(x, [3, 4], method=m.AREA),
                   tf.image.resize(x, [3, 4], method="area")])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    # the resize is linear: its matrix from the reference on unit images, the gradient A^T w
    basis = np.eye(24).reshape(24, 1, 4, 6, 1)
    A = np.stack([_area_ref(e, 3, 4, False).ravel() for e in basis], axis=1)   # [12, 24]
    wts = np.random.RandomState(3).randn(1, 3, 4, 1)
    tf.reset_default_graph()
    ph = tf.placeholder(tf.float64, x.shape)
    y = tf.image.resize_area(ph, [3, 4])
    g, = tf.gradients(tf.reduce_sum(tf.cast(y, tf.float64) * wts), [ph])
    for backend in ("reference", "llvm"):
        gv = run(g, {ph: x}, backend=backend)
        np.testing.assert_allclose(gv.ravel(), A.T @ wts.ravel(), rtol=1e-6, atol=1e-7)


def test_resize_area_refuses_bad_arguments():
    with pytest.raises(ValueError, match="rank 3 or 4"):
        tf.image.resize_area(np.zeros((4, 4)), [2, 2])
    with pytest.raises(ValueError, match="2 positive elements"):
        tf.image.resize_area(np.zeros((4, 4, 1)), [2, 0])
    with pytest.raises(TypeError, match="integer or floating"):
        tf.image.resize_area(np.zeros((4, 4, 1), bool), [2, 2])
    with pytest.raises(ValueError, match="ResizeMethod"):
        tf.image.resize_images(np.zeros((4, 4, 1)), [2, 2], method=7)


# ---------------------------------------------------------------- half_pixel_centers --------

def _half_pixel_ref(x, oh, ow, method):
    """TF 1.15's kernels with half_pixel_centers: bilinear samples ``(o + 0.5) * scale - 0.5``
    between ``max(floor, 0)`` and ``min(ceil, in - 1)``; nearest takes
    ``clamp(floor((o + 0.5) * scale), 0, in - 1)``."""
    n, h, w, c = x.shape
    sy, sx = _scale(oh, h, False), _scale(ow, w, False)
    out = np.zeros((n, oh, ow, c))
    for y in range(oh):
        for xx in range(ow):
            if method == "nearest":
                iy = max(min(int(np.floor((f32(y) + f32(0.5)) * sy)), h - 1), 0)
                ix = max(min(int(np.floor((f32(xx) + f32(0.5)) * sx)), w - 1), 0)
                out[:, y, xx] = x[:, iy, ix]
                continue
            fy = (f32(y) + f32(0.5)) * sy - f32(0.5)
            fx = (f32(xx) + f32(0.5)) * sx - f32(0.5)
            y0, x0 = max(int(np.floor(fy)), 0), max(int(np.floor(fx)), 0)
            y1, x1 = min(int(np.ceil(fy)), h - 1), min(int(np.ceil(fx)), w - 1)
            ly, lx = fy - np.floor(fy), fx - np.floor(fx)
            top = x[:, y0, x0] * (1 - lx) + x[:, y0, x1] * lx
            bot = x[:, y1, x0] * (1 - lx) + x[:, y1, x1] * lx
            out[:, y, xx] = top * (1 - ly) + bot * ly
    return out


@SETTINGS
@given(h=st.integers(1, 7), w=st.integers(1, 7), oh=st.integers(1, 9), ow=st.integers(1, 9),
       method=st.sampled_from(["bilinear", "nearest"]), seed=st.integers(0, 99))
def test_half_pixel_centers(h, w, oh, ow, method, seed):
    x = np.random.RandomState(seed).rand(2, h, w, 2)
    fn = tf.image.resize_bilinear if method == "bilinear" else tf.image.resize_nearest_neighbor
    tf.reset_default_graph()
    got = run(fn(x, [oh, ow], half_pixel_centers=True))
    np.testing.assert_allclose(got, _half_pixel_ref(x, oh, ow, method), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_half_pixel_centers_dynamic_llvm_and_gradient(method):
    x = np.random.RandomState(4).rand(1, 5, 3, 2)
    ref = _half_pixel_ref(x, 7, 2, method)
    fn = tf.image.resize_bilinear if method == "bilinear" else tf.image.resize_nearest_neighbor
    tf.reset_default_graph()
    ph = tf.placeholder(tf.float64, [None, None, None, 2])
    y = fn(ph, [7, 2], half_pixel_centers=True)
    wts = np.random.RandomState(5).randn(1, 7, 2, 2)
    g, = tf.gradients(tf.reduce_sum(y * wts), [ph])
    basis = np.eye(x.size).reshape(x.size, *x.shape)
    A = np.stack([_half_pixel_ref(e, 7, 2, method).ravel() for e in basis], axis=1)
    for backend in ("reference", "llvm"):
        got, gv = run([y, g], {ph: x}, backend=backend)
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(gv.ravel(), A.T @ wts.ravel(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fn", [tf.image.resize_bilinear, tf.image.resize_nearest_neighbor])
def test_align_corners_with_half_pixel_centers_is_an_error(fn):
    with pytest.raises(ValueError, match="half_pixel_centers.*align_corners"):
        fn(np.zeros((1, 4, 4, 1)), [2, 2], align_corners=True, half_pixel_centers=True)


def _keys(d, a=-0.5):
    """Keys' cubic convolution kernel at distance d."""
    d = abs(d)
    if d <= 1:
        return ((a + 2) * d - (a + 3)) * d * d + 1
    if d < 2:
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return 0.0


def _bicubic_half_pixel_ref(x, oh, ow):
    """TF 1.15's resize_bicubic(half_pixel_centers=True): source (o + 0.5) * scale - 0.5, its
    fraction rounded to 1/1024, Keys a = -0.5 over the 4 neighbours inside the image,
    renormalized; separable (rows, then columns)."""
    def matrix(o_n, i_n):
        m = np.zeros((o_n, i_n))
        s = f32(i_n) / f32(o_n)
        for o in range(o_n):
            src = (f32(o) + f32(0.5)) * s - f32(0.5)
            base = int(np.floor(src))
            t = np.rint((src - base) * 1024) / 1024
            taps = {base + k: _keys(t - k) for k in (-1, 0, 1, 2) if 0 <= base + k < i_n}
            total = sum(taps.values())
            for i, wgt in taps.items():
                m[o, i] += wgt / total
        return m
    my, mx = matrix(oh, x.shape[1]), matrix(ow, x.shape[2])
    return np.einsum("oh,nhwc,pw->nopc", my, x, mx)


@SETTINGS
@given(h=st.integers(1, 7), w=st.integers(1, 7), oh=st.integers(1, 9), ow=st.integers(1, 9),
       seed=st.integers(0, 99))
def test_bicubic_half_pixel_centers(h, w, oh, ow, seed):
    x = np.random.RandomState(seed).rand(2, h, w, 2)
    tf.reset_default_graph()
    got = run(tf.image.resize_bicubic(x, [oh, ow], half_pixel_centers=True))
    np.testing.assert_allclose(got, _bicubic_half_pixel_ref(x, oh, ow), rtol=1e-5, atol=1e-6)


def test_bicubic_half_pixel_centers_dynamic_on_llvm():
    x = np.random.RandomState(6).rand(1, 6, 4, 1)
    tf.reset_default_graph()
    ph = tf.placeholder(tf.float64, [None, None, None, 1])
    y = tf.image.resize_bicubic(ph, [9, 3], half_pixel_centers=True)
    got = run(y, {ph: x}, backend="llvm")
    np.testing.assert_allclose(got, _bicubic_half_pixel_ref(x, 9, 3), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="half_pixel_centers"):
        tf.image.resize_bicubic(x, [2, 2], align_corners=True, half_pixel_centers=True)
