"""tf.image.adjust_gamma, image_gradients, sobel_edges and the YUV/YIQ colour spaces vs NumPy
written from their definitions (Sobel: a direct 3x3 correlation loop on a mirrored image)."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients, run

rng = np.random.RandomState(0)
IMG = rng.rand(2, 5, 6, 3)


def test_adjust_gamma_float_and_integer_images():
    u8 = rng.randint(0, 256, (4, 5, 3)).astype(np.uint8)
    tf.reset_default_graph()
    a, b, c = run([tf.image.adjust_gamma(IMG.astype(np.float32), 2.2, 1.5),
                   tf.image.adjust_gamma(u8, 0.5),
                   tf.image.adjust_gamma(u8, 1.0, 3.0)])
    assert a.dtype == np.float32 and b.dtype == np.uint8
    np.testing.assert_allclose(a, 1.5 * IMG.astype(np.float32) ** 2.2, rtol=1e-5)
    # uint8 -> float32 by /255, back by * 255.5 truncated and saturated (convert_image_dtype)
    f = u8.astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(b, np.clip(f ** 0.5 * 255.5, 0, 255).astype(np.uint8))
    np.testing.assert_array_equal(c, np.clip(f * 3.0 * 255.5, 0, 255).astype(np.uint8))
    with pytest.raises(ValueError, match="non-negative"):
        tf.image.adjust_gamma(IMG, -1.0)


def test_image_gradients_and_gradient():
    tf.reset_default_graph()
    dy, dx = run(list(tf.image.image_gradients(IMG)))
    want_dy, want_dx = np.zeros_like(IMG), np.zeros_like(IMG)
    want_dy[:, :-1] = IMG[:, 1:] - IMG[:, :-1]
    want_dx[:, :, :-1] = IMG[:, :, 1:] - IMG[:, :, :-1]
    np.testing.assert_allclose(dy, want_dy)
    np.testing.assert_allclose(dx, want_dx)
    check_gradients(lambda t: tf.image.image_gradients(t)[1], [IMG[:1, :3, :4, :1]])
    with pytest.raises(ValueError, match="4D tensor"):
        tf.image.image_gradients(IMG[0])


def _sobel_ref(x):
    ky = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float64)
    kx = ky.T
    p = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    n, h, w, c = x.shape
    out = np.zeros((n, h, w, c, 2))
    for y in range(h):
        for xx in range(w):
            win = p[:, y:y + 3, xx:xx + 3]                  # [n, 3, 3, c]
            out[:, y, xx, :, 0] = np.einsum("nijc,ij->nc", win, ky)
            out[:, y, xx, :, 1] = np.einsum("nijc,ij->nc", win, kx)
    return out


def test_sobel_edges_static_and_dynamic_shapes():
    tf.reset_default_graph()
    ph = tf.placeholder(tf.float64, [None, None, None, 3])
    s_static, s_dyn = tf.image.sobel_edges(IMG), tf.image.sobel_edges(ph)
    assert s_static.shape.as_list() == [2, 5, 6, 3, 2]
    for backend in ("reference", "llvm"):
        a, b = run([s_static, s_dyn], {ph: IMG}, backend=backend)
        np.testing.assert_allclose(a, _sobel_ref(IMG), atol=1e-12)
        np.testing.assert_allclose(b, _sobel_ref(IMG), atol=1e-12)
    check_gradients(tf.image.sobel_edges, [IMG[:1, :3, :4, :1]])


def test_yuv_and_yiq():
    x = rng.rand(4, 5, 3)
    x[0, :] = rng.rand(5, 1)                                # grey pixels: no chroma
    tf.reset_default_graph()
    yuv, back, yiq, back2 = run([tf.image.rgb_to_yuv(x), tf.image.yuv_to_rgb(tf.image.rgb_to_yuv(x)),
                                 tf.image.rgb_to_yiq(x), tf.image.yiq_to_rgb(tf.image.rgb_to_yiq(x))])
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b                   # BT.601 luma
    np.testing.assert_allclose(yuv[..., 0], y, atol=1e-12)
    np.testing.assert_allclose(yuv[..., 1], 0.492111 * (b - y), atol=1e-6)
    np.testing.assert_allclose(yuv[..., 2], 0.877283 * (r - y), atol=1e-6)
    np.testing.assert_allclose(yiq[..., 0], y, atol=1e-12)
    np.testing.assert_allclose(yuv[0, :, 1:], 0, atol=1e-7)
    np.testing.assert_allclose(yiq[0, :, 1:], 0, atol=1e-7)
    np.testing.assert_allclose(back, x, atol=1e-6)
    np.testing.assert_allclose(back2, x, atol=1e-6)
    with pytest.raises(ValueError, match="3 channels"):
        tf.image.rgb_to_yuv(np.zeros((2, 2, 4)))


def _ssim_ref(a, b, max_val, size=11, sigma=1.5, k1=0.01, k2=0.03):
    """Wang et al.'s SSIM with a normalized Gaussian window, VALID, per channel, averaged."""
    d = np.arange(size) - (size - 1) / 2
    win = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * sigma ** 2))
    win /= win.sum()
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    n, h, w, c = a.shape
    out = np.zeros(n)
    for i in range(n):
        vals = []
        for y in range(h - size + 1):
            for x in range(w - size + 1):
                pa, pb = a[i, y:y + size, x:x + size], b[i, y:y + size, x:x + size]
                mu_a = np.einsum("ij,ijc->c", win, pa)
                mu_b = np.einsum("ij,ijc->c", win, pb)
                var_a = np.einsum("ij,ijc->c", win, pa ** 2) - mu_a ** 2
                var_b = np.einsum("ij,ijc->c", win, pb ** 2) - mu_b ** 2
                cov = np.einsum("ij,ijc->c", win, pa * pb) - mu_a * mu_b
                vals.append((2 * mu_a * mu_b + c1) * (2 * cov + c2) /
                            ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))
        out[i] = np.mean(vals)
    return out


def test_ssim_matches_its_definition():
    a = rng.rand(2, 14, 13, 3)
    b = np.clip(a + rng.randn(*a.shape) * 0.1, 0, 1)
    tf.reset_default_graph()
    got, same, one, small = run([tf.image.ssim(a, b, 1.0), tf.image.ssim(a, a, 1.0),
                                 tf.image.ssim(a[0], b[0], 1.0),
                                 tf.image.ssim(a, b, 1.0, filter_size=5, filter_sigma=0.8)])
    np.testing.assert_allclose(got, _ssim_ref(a, b, 1.0), rtol=2e-4)
    np.testing.assert_allclose(same, 1.0, rtol=1e-5)
    np.testing.assert_allclose(one, got[0], rtol=1e-6)
    np.testing.assert_allclose(small, _ssim_ref(a, b, 1.0, 5, 0.8), rtol=2e-4)
    u8a, u8b = (a * 255).astype(np.uint8), (b * 255).astype(np.uint8)
    tf.reset_default_graph()
    g8 = run(tf.image.ssim(u8a, u8b, 255), backend="llvm")
    np.testing.assert_allclose(g8, _ssim_ref(u8a / 255.0, u8b / 255.0, 1.0), rtol=2e-4)
    with pytest.raises(ValueError, match="smaller than"):
        tf.image.ssim(a[:, :5], b[:, :5], 1.0)
