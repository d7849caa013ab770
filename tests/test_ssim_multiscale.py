"""tf.image.ssim_multiscale and tf.image.ssim over [..., h, w, c] images against a NumPy/SciPy
MS-SSIM written from Wang et al.'s definition with TF's choices (a normalized Gaussian window,
VALID; 2x2 average pooling between scales, an odd side first extended by repeating its last
row/column; relu of each scale's cs and of the last scale's ssim; channel mean), on llvm and
reference; gradients against central differences of the NumPy reference; the errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.signal import correlate2d

import jitflow.compat.v1 as tf

BACKENDS = ["llvm", "reference"]
rng = np.random.RandomState(0)


def np_window(size, sigma):
    d = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2.0 * sigma ** 2))
    return g / g.sum()


def np_ssim_cs(a, b, max_val, size, sigma, k1, k2):
    """(ssim, cs) per channel of two [h, w, c] images."""
    win = np_window(size, sigma)

    def local_mean(z):
        return np.stack([correlate2d(z[..., ch], win, "valid") for ch in range(z.shape[-1])], -1)
    mu_a, mu_b = local_mean(a), local_mean(b)
    var_a = local_mean(a * a) - mu_a ** 2
    var_b = local_mean(b * b) - mu_b ** 2
    cov = local_mean(a * b) - mu_a * mu_b
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    lum = (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1)
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    return (lum * cs).mean((0, 1)), cs.mean((0, 1))


def np_half(a):
    """2x2 average pooling; an odd height or width first gets its last row/column again."""
    h, w, _ = a.shape
    a = np.pad(a, [(0, h % 2), (0, w % 2), (0, 0)], mode="symmetric")
    h2, w2 = a.shape[0] // 2, a.shape[1] // 2
    return a.reshape(h2, 2, w2, 2, -1).mean((1, 3))


def np_msssim_one(a, b, max_val=1.0, factors=(0.0448, 0.2856, 0.3001, 0.2363, 0.1333),
                  size=11, sigma=1.5, k1=0.01, k2=0.03):
    terms = []
    for k, p in enumerate(factors):
        if k:
            a, b = np_half(a), np_half(b)
        s, cs = np_ssim_cs(a, b, max_val, size, sigma, k1, k2)
        last = k == len(factors) - 1
        terms.append(np.maximum(s if last else cs, 0) ** p)
    return np.prod(terms, 0).mean()


def np_batched(fn, a, b, **kw):
    """``fn`` over every image of two broadcast batches [..., h, w, c]."""
    lead = np.broadcast_shapes(a.shape[:-3], b.shape[:-3])
    a = np.broadcast_to(a, lead + a.shape[-3:]).reshape((-1,) + a.shape[-3:])
    b = np.broadcast_to(b, lead + b.shape[-3:]).reshape((-1,) + b.shape[-3:])
    return np.array([fn(x, y, **kw) for x, y in zip(a, b)]).reshape(lead)


def np_ssim_one(a, b, max_val=1.0, size=11, sigma=1.5, k1=0.01, k2=0.03):
    return np_ssim_cs(a, b, max_val, size, sigma, k1, k2)[0].mean()


def noisy_pair(shape, noise=0.08, seed=0):
    r = np.random.RandomState(seed)
    a = r.rand(*shape)
    return a, np.clip(a + r.randn(*shape) * noise, 0, 1)


def run(fetches, feed=None, backend="reference"):
    with tf.Session(backend=backend) as sess:
        return sess.run(fetches, feed)


@pytest.mark.parametrize("backend", BACKENDS)
def test_default_five_scales_match_numpy(backend):
    """TF's defaults (11x11 window, five scales) on images whose sides become odd on the
    way down (181 -> 91 -> 46 -> 23 -> 12; 176 -> 88 -> 44 -> 22 -> 11)."""
    a, b = noisy_pair((2, 176, 181, 2))
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2, 176, 181, 2])
    y = tf.placeholder(tf.float32, [2, 176, 181, 2])
    ms = tf.image.ssim_multiscale(x, y, 1.0)
    same = tf.image.ssim_multiscale(x, x, 1.0)
    assert ms.shape.as_list() == [2] and ms.dtype == tf.float32
    got, one = run([ms, same], {x: a, y: b}, backend)
    np.testing.assert_allclose(got, np_batched(np_msssim_one, a, b), rtol=2e-4)
    np.testing.assert_allclose(one, 1.0, rtol=1e-5)
    assert np.all(got < 0.999) and np.all(got > 0.1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_dims_uint8_and_small_filters(backend):
    """[2, 3, h, w, c] batches, broadcast batch dims [2, 1] x [3], a single image, uint8
    images with max_val 255, and non-default filter, scale and k arguments."""
    kw = dict(power_factors=(0.3, 0.5, 0.2), filter_size=3, filter_sigma=0.8, k1=0.02,
              k2=0.05)
    npkw = dict(factors=(0.3, 0.5, 0.2), size=3, sigma=0.8, k1=0.02, k2=0.05)
    a, b = noisy_pair((2, 3, 13, 17, 2), seed=1)
    c, d = noisy_pair((2, 1, 13, 17, 2), seed=2)
    e = noisy_pair((3, 13, 17, 2), seed=3)[1]
    u1, u2 = (a[0, 0] * 255).astype(np.uint8), (b[0, 0] * 255).astype(np.uint8)
    tf.reset_default_graph()
    f32 = [tf.constant(v.astype(np.float32)) for v in (a, b, c, e)]
    ms5 = tf.image.ssim_multiscale(f32[0], f32[1], 1.0, **kw)
    msb = tf.image.ssim_multiscale(f32[2], f32[3], 1.0, **kw)
    ms3 = tf.image.ssim_multiscale(f32[0][1, 2], f32[1][1, 2], 1.0, **kw)
    ms8 = tf.image.ssim_multiscale(tf.constant(u1), tf.constant(u2), 255, **kw)
    s5 = tf.image.ssim(f32[0], f32[1], 1.0, filter_size=3, filter_sigma=0.8)
    sb = tf.image.ssim(f32[2], f32[3], 1.0, filter_size=3, filter_sigma=0.8)
    assert ms5.shape.as_list() == [2, 3] and msb.shape.as_list() == [2, 3]
    assert ms3.shape.as_list() == [] and s5.shape.as_list() == [2, 3]
    g5, gb, g3, g8, t5, tb = run([ms5, msb, ms3, ms8, s5, sb], backend=backend)
    a32, b32, c32, e32 = (v.astype(np.float32).astype(np.float64) for v in (a, b, c, e))
    np.testing.assert_allclose(g5, np_batched(np_msssim_one, a32, b32, **npkw), rtol=2e-4)
    np.testing.assert_allclose(gb, np_batched(np_msssim_one, c32, e32, **npkw), rtol=2e-4)
    np.testing.assert_allclose(g3, g5[1, 2], rtol=1e-5)
    np.testing.assert_allclose(g8, np_msssim_one(u1 / 255.0, u2 / 255.0, **npkw), rtol=2e-4)
    ssim_kw = dict(size=3, sigma=0.8)
    np.testing.assert_allclose(t5, np_batched(np_ssim_one, a32, b32, **ssim_kw), rtol=2e-4)
    np.testing.assert_allclose(tb, np_batched(np_ssim_one, c32, e32, **ssim_kw), rtol=2e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_time_batch_dims(backend):
    """Batch dims known only at run time: [?, ?, h, w, c] images."""
    a, b = noisy_pair((2, 3, 12, 15, 1), seed=4)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, None, 12, 15, 1])
    y = tf.placeholder(tf.float32, [None, None, 12, 15, 1])
    ms = tf.image.ssim_multiscale(x, y, 1.0, power_factors=(0.5, 0.5), filter_size=5)
    s = tf.image.ssim(x, y, 1.0, filter_size=5)
    assert ms.shape.as_list() == [None, None]
    g, t = run([ms, s], {x: a, y: b}, backend)
    a32, b32 = a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(g, np_batched(np_msssim_one, a32, b32, factors=(0.5, 0.5),
                                             size=5), rtol=2e-4)
    np.testing.assert_allclose(t, np_batched(np_ssim_one, a32, b32, size=5), rtol=2e-4)


@settings(max_examples=10, deadline=None)
@given(h=st.integers(5, 14), w=st.integers(5, 14), c=st.integers(1, 3),
       scales=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_varying_sizes_match_numpy(h, w, c, scales, seed):
    size, n, hh, ww = 3, 1, h, w
    while n < scales and min(-(-hh // 2), -(-ww // 2)) >= size:    # the coarsest scale
        hh, ww, n = -(-hh // 2), -(-ww // 2), n + 1                # must hold the window
    scales = n
    r = np.random.RandomState(seed)
    factors = tuple(r.uniform(0.1, 0.6, scales))
    a, b = noisy_pair((2, h, w, c), seed=seed)
    a = a.astype(np.float32).astype(np.float64)
    b = b.astype(np.float32).astype(np.float64)
    tf.reset_default_graph()
    ms = tf.image.ssim_multiscale(a.astype(np.float32), b.astype(np.float32), 1.0,
                                  power_factors=factors, filter_size=size, filter_sigma=1.0)
    got = run(ms)
    want = np_batched(np_msssim_one, a, b, factors=factors, size=size, sigma=1.0)
    np.testing.assert_allclose(got, want, rtol=3e-4, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_finite_differences(backend):
    """d MS-SSIM / d img1 (and d SSIM / d img1) against central differences of the NumPy
    reference in float64; odd sides at every downscale (13 -> 7 -> 4, 11 -> 6 -> 3)."""
    a, b = noisy_pair((1, 13, 11, 2), noise=0.1, seed=5)
    a = a.astype(np.float32).astype(np.float64)
    b = b.astype(np.float32).astype(np.float64)
    kw = dict(power_factors=(0.2, 0.5, 0.3), filter_size=3, filter_sigma=1.0)
    npkw = dict(factors=(0.2, 0.5, 0.3), size=3, sigma=1.0)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, a.shape)
    ms = tf.image.ssim_multiscale(x, tf.constant(b.astype(np.float32)), 1.0, **kw)
    s = tf.image.ssim(x, tf.constant(b.astype(np.float32)), 1.0, filter_size=3,
                      filter_sigma=1.0)
    g_ms, g_s = tf.gradients(tf.reduce_sum(ms), x)[0], tf.gradients(tf.reduce_sum(s), x)[0]
    got_ms, got_s = run([g_ms, g_s], {x: a.astype(np.float32)}, backend)
    eps = 1e-5
    picks = [(0, 0, 0, 0), (0, 12, 10, 1), (0, 6, 5, 0), (0, 3, 9, 1), (0, 12, 0, 0),
             (0, 0, 10, 1), (0, 9, 2, 0)]
    for fn, got in ((lambda z: np_msssim_one(z[0], b[0], **npkw), got_ms),
                    (lambda z: np_ssim_one(z[0], b[0], size=3, sigma=1.0), got_s)):
        scale = np.abs(got).max()
        assert scale > 0
        for p in picks:
            hi, lo = a.copy(), a.copy()
            hi[p] += eps
            lo[p] -= eps
            num = (fn(hi) - fn(lo)) / (2 * eps)
            np.testing.assert_allclose(got[p], num, rtol=2e-3, atol=2e-3 * scale)


def test_errors_say_what_was_given():
    tf.reset_default_graph()
    img = tf.zeros([2, 40, 40, 3])
    with pytest.raises(ValueError, match="rank at least 3"):
        tf.image.ssim_multiscale(tf.zeros([40, 40]), tf.zeros([40, 40]), 1.0)
    with pytest.raises(ValueError, match="incompatible"):
        tf.image.ssim_multiscale(img, tf.zeros([2, 40, 40, 1]), 1.0)
    with pytest.raises(ValueError, match="not compatible"):
        tf.image.ssim(img, tf.zeros([3, 40, 40, 3]), 1.0)
    with pytest.raises(ValueError, match=r"scale 2\).*smaller than the 11x11 filter"):
        tf.image.ssim_multiscale(img, img, 1.0)        # 40 -> 20 -> 10 < 11
    with pytest.raises(ValueError, match="at least one scale"):
        tf.image.ssim_multiscale(img, img, 1.0, power_factors=())
    with pytest.raises(NotImplementedError, match="static height and width"):
        x = tf.placeholder(tf.float32, [1, None, None, 1])
        tf.image.ssim_multiscale(x, x, 1.0, filter_size=3)
