"""tf.image.crop_and_resize against a NumPy loop written from TF's CropAndResize kernel (values,
the gradient to the image as the adjoint of the linear map, to the boxes vs central
differences), and tf.image.resize_image_with_pad / resize_with_crop_or_pad."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _tfcheck import run

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _car_ref(img, boxes, ind, ch, cw, method="bilinear", extrap=0.0, f=np.float32):
    """TF's kernel: coordinates in ``f`` (float32 as TF; float64 for finite differences)."""
    _, h, w, c = img.shape
    out = np.zeros((len(boxes), ch, cw, c))
    for n, (y1, x1, y2, x2) in enumerate(np.asarray(boxes, f)):
        hs = (y2 - y1) * f(h - 1) / f(ch - 1) if ch > 1 else f(0)
        ws = (x2 - x1) * f(w - 1) / f(cw - 1) if cw > 1 else f(0)
        for i in range(ch):
            iy = y1 * f(h - 1) + f(i) * hs if ch > 1 else f(0.5) * (y1 + y2) * f(h - 1)
            for j in range(cw):
                ix = x1 * f(w - 1) + f(j) * ws if cw > 1 else f(0.5) * (x1 + x2) * f(w - 1)
                if not (0 <= iy <= h - 1 and 0 <= ix <= w - 1):
                    out[n, i, j] = extrap
                    continue
                im = img[ind[n]]
                if method == "nearest":
                    out[n, i, j] = im[int(np.floor(iy + 0.5)), int(np.floor(ix + 0.5))]
                    continue
                t, b = int(np.floor(iy)), int(np.ceil(iy))
                l, r = int(np.floor(ix)), int(np.ceil(ix))
                ly, lx = iy - np.floor(iy), ix - np.floor(ix)
                top = im[t, l] + (im[t, r] - im[t, l]) * lx
                bot = im[b, l] + (im[b, r] - im[b, l]) * lx
                out[n, i, j] = top + (bot - top) * ly
    return out


def _boxes(rng, n):
    return rng.uniform(-0.3, 1.3, (n, 4)).astype(np.float32)   # some flipped, some outside


@SETTINGS
@given(h=st.integers(1, 6), w=st.integers(1, 6), ch=st.integers(1, 5), cw=st.integers(1, 5),
       method=st.sampled_from(["bilinear", "nearest"]), seed=st.integers(0, 99))
def test_crop_and_resize_matches_tf_kernel(h, w, ch, cw, method, seed):
    rng = np.random.RandomState(seed)
    img = rng.rand(3, h, w, 2).astype(np.float32)
    boxes, ind = _boxes(rng, 4), rng.randint(0, 3, 4)
    tf.reset_default_graph()
    got = run(tf.image.crop_and_resize(img, boxes, ind, [ch, cw], method=method,
                                       extrapolation_value=-1.5))
    assert got.dtype == np.float32 and got.shape == (4, ch, cw, 2)
    np.testing.assert_allclose(got, _car_ref(img, boxes, ind, ch, cw, method, -1.5),
                               rtol=1e-5, atol=1e-5)


def test_crop_and_resize_llvm_run_time_shapes_and_integer_images():
    rng = np.random.RandomState(1)
    img = rng.randint(0, 256, (2, 6, 5, 3)).astype(np.uint8)
    boxes, ind = _boxes(rng, 5), np.array([0, 1, 1, 0, 1], np.int32)
    tf.reset_default_graph()
    ph = tf.placeholder(tf.uint8, [None, None, None, 3])
    bp = tf.placeholder(tf.float32, [None, 4])
    ip = tf.placeholder(tf.int32, [None])
    y = tf.image.crop_and_resize(ph, bp, box_indices=ip, crop_size=[3, 4])
    assert y.shape.as_list() == [None, 3, 4, 3]
    ref = _car_ref(img.astype(np.float64), boxes, ind, 3, 4)
    for backend in ("reference", "llvm"):
        got = run(y, {ph: img, bp: boxes, ip: ind}, backend=backend)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)


def test_crop_and_resize_gradients():
    rng = np.random.RandomState(2)
    img = rng.rand(2, 4, 5, 1)
    boxes = np.array([[0.1, 0.15, 0.7, 0.9], [0.6, 0.8, 0.05, 0.3]], np.float32)
    ind = np.array([1, 0])
    wts = rng.randn(2, 3, 3, 1)
    basis = np.eye(img.size).reshape(img.size, *img.shape)
    A = np.stack([_car_ref(e, boxes, ind, 3, 3).ravel() for e in basis], axis=1)
    eps = 1e-5
    dbox = np.zeros((2, 4))
    for k in np.ndindex(2, 4):                     # central differences of the float64 kernel
        bp, bm = boxes.astype(np.float64), boxes.astype(np.float64)
        bp[k] += eps
        bm[k] -= eps
        dbox[k] = ((_car_ref(img, bp, ind, 3, 3, f=np.float64) -
                    _car_ref(img, bm, ind, 3, 3, f=np.float64)) * wts).sum() / (2 * eps)
    tf.reset_default_graph()
    ip = tf.placeholder(tf.float32, img.shape)
    bx = tf.placeholder(tf.float32, [2, 4])
    y = tf.image.crop_and_resize(ip, bx, ind, [3, 3])
    gi, gb = tf.gradients(tf.reduce_sum(y * wts.astype(np.float32)), [ip, bx])
    for backend in ("reference", "llvm"):
        vi, vb = run([gi, gb], {ip: img, bx: boxes}, backend=backend)
        np.testing.assert_allclose(vi.ravel(), A.T @ wts.ravel(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(vb, dbox, rtol=1e-3, atol=1e-3)


def test_crop_and_resize_refuses_bad_arguments():
    img = np.zeros((1, 4, 4, 1), np.float32)
    with pytest.raises(ValueError, match="4-D"):
        tf.image.crop_and_resize(img[0], [[0, 0, 1, 1]], [0], [2, 2])
    with pytest.raises(ValueError, match="crop_size"):
        tf.image.crop_and_resize(img, [[0, 0, 1, 1]], [0], [2, 0])
    with pytest.raises(ValueError, match="method"):
        tf.image.crop_and_resize(img, [[0, 0, 1, 1]], [0], [2, 2], method="bicubic")
    with pytest.raises(ValueError, match=r"\[num_boxes, 4\]"):
        tf.image.crop_and_resize(img, [[0, 0, 1]], [0], [2, 2])
    tf.reset_default_graph()
    with pytest.raises(tf.errors.InvalidArgumentError):        # box_ind beyond the batch
        run(tf.image.crop_and_resize(img, [[0, 0, 1, 1]], [3], [2, 2]))


@pytest.mark.parametrize("hw, target", [((10, 20), (8, 8)), ((7, 5), (10, 12)),
                                        ((6, 6), (6, 9)), ((9, 4), (3, 3))])
def test_resize_image_with_pad(hw, target):
    from fractions import Fraction
    h, w = hw
    th, tw = target
    img = np.random.RandomState(3).rand(h, w, 2)
    ratio = max(Fraction(w, tw), Fraction(h, th))
    rh, rw = int(Fraction(h) / ratio), int(Fraction(w) / ratio)      # floors (exact)
    ph, pw = int((th - Fraction(h) / ratio) / 2), int((tw - Fraction(w) / ratio) / 2)
    tf.reset_default_graph()
    got, small = run([tf.image.resize_image_with_pad(img, th, tw),
                      tf.image.resize_images(img, [rh, rw])])
    want = np.zeros((th, tw, 2))
    want[ph:ph + rh, pw:pw + rw] = small
    assert got.shape == (th, tw, 2)
    np.testing.assert_allclose(got, want)
    tf.reset_default_graph()
    a, b = run([tf.image.resize_with_crop_or_pad(img, th, tw),
                tf.image.resize_image_with_crop_or_pad(img, th, tw)])
    np.testing.assert_array_equal(a, b)
