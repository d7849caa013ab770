"""tf.image on float images vs NumPy (and TF1's resize formulas), gradients where the op is
differentiable, and the random ops' distributions."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients, run

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
rng = np.random.RandomState(0)
IMG = rng.rand(5, 6, 3)
BATCH = rng.rand(2, 4, 5, 3)


def test_flips_and_gradients():
    tf.reset_default_graph()
    lr, ud, blr = run([tf.image.flip_left_right(IMG), tf.image.flip_up_down(IMG),
                       tf.image.flip_left_right(BATCH)])
    np.testing.assert_array_equal(lr, IMG[:, ::-1])
    np.testing.assert_array_equal(ud, IMG[::-1])
    np.testing.assert_array_equal(blr, BATCH[:, :, ::-1])
    check_gradients(tf.image.flip_left_right, [IMG[:2, :3]])


@pytest.mark.parametrize("fn, axis", [(tf.image.random_flip_left_right, 1),
                                      (tf.image.random_flip_up_down, 0)])
def test_random_flips_are_a_fair_coin_per_image(fn, axis):
    tf.reset_default_graph()
    x = tf.constant(BATCH)
    y = fn(x, seed=3)
    flips = []
    with tf.Session(backend="reference") as s:
        for _ in range(40):
            out = s.run(y)
            for i in range(2):
                flipped = np.flip(BATCH[i], axis)
                assert np.array_equal(out[i], BATCH[i]) or np.array_equal(out[i], flipped)
                flips.append(np.array_equal(out[i], flipped))
    assert 20 < sum(flips) < 60
    single = fn(tf.constant(IMG))
    assert single.shape.as_list() == [5, 6, 3]


@SETTINGS
@given(seed=st.integers(0, 1000), batched=st.booleans())
def test_per_image_standardization(seed, batched):
    x = np.random.RandomState(seed).rand(*((2, 3, 4, 2) if batched else (3, 4, 2))) * 5
    tf.reset_default_graph()
    got = run(tf.image.per_image_standardization(tf.constant(x)))
    axes = (1, 2, 3) if batched else (0, 1, 2)
    n = np.prod(x.shape[-3:])
    mean = x.mean(axes, keepdims=True)
    std = np.maximum(x.std(axes, keepdims=True), 1 / np.sqrt(n))
    np.testing.assert_allclose(got, (x - mean) / std, rtol=1e-10)


def test_per_image_standardization_gradient():
    check_gradients(tf.image.per_image_standardization, [rng.rand(2, 3, 2)])


@pytest.mark.parametrize("frac", [0.5, 0.33, 0.8, 1.0])
def test_central_crop(frac):
    tf.reset_default_graph()
    got = run(tf.image.central_crop(IMG, frac))
    h, w = IMG.shape[:2]
    sh, sw = int((h - h * frac) / 2), int((w - w * frac) / 2)
    np.testing.assert_array_equal(got, IMG[sh:h - sh, sw:w - sw])


def test_crop_and_pad_to_bounding_box():
    tf.reset_default_graph()
    c, p, bc, rcp = run([tf.image.crop_to_bounding_box(IMG, 1, 2, 3, 4),
                         tf.image.pad_to_bounding_box(IMG, 1, 2, 8, 9),
                         tf.image.crop_to_bounding_box(BATCH, 0, 1, 2, 2),
                         tf.image.resize_image_with_crop_or_pad(IMG, 3, 8)])
    np.testing.assert_array_equal(c, IMG[1:4, 2:6])
    ref = np.zeros((8, 9, 3))
    ref[1:6, 2:8] = IMG
    np.testing.assert_array_equal(p, ref)
    np.testing.assert_array_equal(bc, BATCH[:, 0:2, 1:3])
    ref2 = np.zeros((3, 8, 3))
    ref2[:, 1:7] = IMG[1:4]
    np.testing.assert_array_equal(rcp, ref2)
    with pytest.raises(ValueError, match="does not fit"):
        tf.image.crop_to_bounding_box(IMG, 3, 0, 3, 2)
    check_gradients(lambda t: tf.image.pad_to_bounding_box(t, 1, 0, 4, 3), [IMG[:2, :2]])


def test_grayscale_brightness_contrast():
    tf.reset_default_graph()
    g, rgb, b, c, bc = run([tf.image.rgb_to_grayscale(IMG),
                            tf.image.grayscale_to_rgb(IMG[..., :1]),
                            tf.image.adjust_brightness(IMG, 0.25),
                            tf.image.adjust_contrast(IMG, 1.7),
                            tf.image.adjust_contrast(BATCH, 0.3)])
    np.testing.assert_allclose(g, (IMG * [0.2989, 0.5870, 0.1140]).sum(-1, keepdims=True))
    np.testing.assert_array_equal(rgb, np.repeat(IMG[..., :1], 3, -1))
    np.testing.assert_allclose(b, IMG + 0.25)
    m = IMG.mean((0, 1), keepdims=True)
    np.testing.assert_allclose(c, (IMG - m) * 1.7 + m)
    mb = BATCH.mean((1, 2), keepdims=True)
    np.testing.assert_allclose(bc, (BATCH - mb) * 0.3 + mb)
    check_gradients(lambda t: tf.image.adjust_contrast(t, 1.7), [IMG[:2, :2]])
    check_gradients(tf.image.rgb_to_grayscale, [IMG[:2, :2]])


def test_random_brightness_contrast_ranges():
    tf.reset_default_graph()
    x = tf.constant(IMG)
    rb = tf.image.random_brightness(x, 0.2)
    rc = tf.image.random_contrast(x, 0.5, 1.5)
    m = IMG.mean((0, 1), keepdims=True)
    with tf.Session(backend="reference") as s:
        for _ in range(10):
            a, c = s.run([rb, rc])
            d = (a - IMG).ravel()
            assert np.allclose(d, d[0]) and -0.2 <= d[0] < 0.2
            f = ((c - m) / (IMG - m)).ravel()
            assert np.allclose(f, f[0]) and 0.5 <= f[0] < 1.5


def test_random_crop_offsets_cover_the_image():
    tf.reset_default_graph()
    x = np.arange(6 * 5, dtype=np.float64).reshape(6, 5, 1)
    y = tf.random_crop(tf.constant(x), [3, 5, 1], seed=7)
    assert y.shape.as_list() == [3, 5, 1]
    starts = set()
    with tf.Session(backend="reference") as s:
        for _ in range(40):
            out = s.run(y)
            r0 = int(out[0, 0, 0]) // 5
            np.testing.assert_array_equal(out, x[r0:r0 + 3])
            starts.add(r0)
    assert starts == {0, 1, 2, 3}
    # the gradient (in the same run as the crop) routes the weights to the cropped window
    xp = tf.placeholder(tf.float64, [6, 5, 1])
    z = tf.image.random_crop(xp, [2, 3, 1])
    w = np.random.RandomState(1).randn(2, 3, 1)
    g, = tf.gradients(tf.reduce_sum(z * w), [xp])
    with tf.Session(backend="reference") as s:
        for _ in range(5):
            out, gv = s.run([z, g], {xp: x})
            r0, c0 = int(out[0, 0, 0]) // 5, int(out[0, 0, 0]) % 5
            ref = np.zeros_like(x)
            ref[r0:r0 + 2, c0:c0 + 3] = w
            np.testing.assert_array_equal(gv, ref)


def _tf1_resize_ref(x, oh, ow, method, align):
    """TF1's resize kernels (half_pixel_centers=False) on NHWC."""
    n, h, w, c = x.shape

    def scale(o, i):            # float32, as TF computes the coordinates
        f = np.float32
        return f(i - 1) / f(o - 1) if align and o > 1 else f(i) / f(o)
    sy, sx = scale(oh, h), scale(ow, w)
    out = np.zeros((n, oh, ow, c))
    for y in range(oh):
        for xx in range(ow):
            fy, fx = np.float32(y) * sy, np.float32(xx) * sx
            if method == "nearest":
                # C's roundf: halves away from zero (Python's round would go to even)
                iy = min(int(np.floor(fy + 0.5) if align else np.floor(fy)), h - 1)
                ix = min(int(np.floor(fx + 0.5) if align else np.floor(fx)), w - 1)
                out[:, y, xx] = x[:, iy, ix]
            else:
                y0, x0 = int(np.floor(fy)), int(np.floor(fx))
                y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
                ly, lx = fy - y0, fx - x0
                top = x[:, y0, x0] * (1 - lx) + x[:, y0, x1] * lx
                bot = x[:, y1, x0] * (1 - lx) + x[:, y1, x1] * lx
                out[:, y, xx] = top * (1 - ly) + bot * ly
    return out


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
@pytest.mark.parametrize("size", [(8, 10), (2, 3), (4, 5), (7, 2)])
@pytest.mark.parametrize("align", [False, True])
def test_resize(method, size, align):
    tf.reset_default_graph()
    fn = tf.image.resize_bilinear if method == "bilinear" else tf.image.resize_nearest_neighbor
    got = run(fn(BATCH, size, align_corners=align))
    # TF's coordinates and weights are float32: the float64 images agree to float32 rounding
    np.testing.assert_allclose(got, _tf1_resize_ref(BATCH, *size, method, align), rtol=1e-6,
                               atol=1e-6)


def test_resize_images_and_gradient():
    tf.reset_default_graph()
    m = tf.image.ResizeMethod
    a, b = run([tf.image.resize_images(IMG, [7, 9]),
                tf.image.resize_images(IMG, [3, 3], method=m.NEAREST_NEIGHBOR)])
    np.testing.assert_allclose(a, _tf1_resize_ref(IMG[None], 7, 9, "bilinear", False)[0])
    np.testing.assert_allclose(b, _tf1_resize_ref(IMG[None], 3, 3, "nearest", False)[0])
    # preserve_aspect_ratio: 5x6 into 4x4 is min(4/5, 4/6) = 2/3: round(3.33), round(4) -> 3x4
    c, d = run([tf.image.resize_images(IMG, [4, 4], method=m.AREA, preserve_aspect_ratio=True),
                tf.image.resize(IMG, [10, 24], preserve_aspect_ratio=True)])
    assert c.shape == (3, 4, 3) and d.shape == (10, 12, 3)
    np.testing.assert_allclose(d, _tf1_resize_ref(IMG[None], 10, 12, "bilinear", False)[0],
                               rtol=1e-6)
    check_gradients(lambda t: tf.image.resize_bilinear(t, [3, 4]), [BATCH[:1, :2, :3, :1]])


def test_integer_images_are_refused_with_a_hint():
    with pytest.raises(TypeError, match="float32/float64 images"):
        tf.image.flip_left_right(tf.constant(np.zeros((2, 2, 1), np.int32)))


def test_hsv_round_trip_saturation_hue_against_colorsys():
    import colorsys
    x = np.random.RandomState(3).rand(4, 5, 3)
    x[0, 0] = [0.5, 0.5, 0.5]          # grey: hue 0, saturation 0
    x[0, 1] = [0.0, 0.0, 0.0]          # black
    tf.reset_default_graph()
    hsv, back, sat, hue = run([tf.image.rgb_to_hsv(x), tf.image.hsv_to_rgb(tf.image.rgb_to_hsv(x)),
                               tf.image.adjust_saturation(x, 0.4), tf.image.adjust_hue(x, 0.3)])
    ref = np.array([[colorsys.rgb_to_hsv(*p) for p in row] for row in x])
    np.testing.assert_allclose(hsv, ref, atol=1e-12)
    np.testing.assert_allclose(back, x, atol=1e-12)

    def via(fn):
        return np.array([[colorsys.hsv_to_rgb(*fn(*colorsys.rgb_to_hsv(*p))) for p in row]
                         for row in x])
    np.testing.assert_allclose(sat, via(lambda h, s, v: (h, min(s * 0.4, 1.0), v)), atol=1e-12)
    np.testing.assert_allclose(hue, via(lambda h, s, v: ((h + 0.3) % 1.0, s, v)), atol=1e-12)


def test_convert_image_dtype_and_resize_names():
    tf.reset_default_graph()
    a, b, c, d = run([tf.image.convert_image_dtype(np.array([0, 2**31 - 1], np.int32),
                                                   tf.float32),
                      tf.image.convert_image_dtype(np.array([0.5, 1.0]), tf.float32),
                      tf.image.resize(IMG, [7, 9]),
                      tf.image.resize(IMG, [3, 3], method="nearest")])
    np.testing.assert_allclose(a, [0.0, 1.0])
    assert b.dtype == np.float32
    np.testing.assert_allclose(c, _tf1_resize_ref(IMG[None], 7, 9, "bilinear", False)[0])
    np.testing.assert_allclose(d, _tf1_resize_ref(IMG[None], 3, 3, "nearest", False)[0])
    tf.reset_default_graph()
    x = tf.constant(IMG)
    rs, rh = tf.image.random_saturation(x, 0.5, 1.5), tf.image.random_hue(x, 0.1)
    assert rs.shape.as_list() == [5, 6, 3] and rh.shape.as_list() == [5, 6, 3]
    with pytest.raises(ValueError, match="max_delta"):
        tf.image.random_hue(x, 0.7)
