"""tf.image.extract_glimpse against a NumPy loop of Eigen's ExtractGlimpses (the window's
corner from the offsets, truncated toward zero; pixels outside the image are noise): the
inside exactly, the noise by its range (uniform: the image's [min, max]; gaussian: each
channel's [min, max], around its mean; zero)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _tfcheck import run

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
f32 = np.float32


def _glimpse_ref(x, gh, gw, offsets, centered, normalized):
    """(values, inside mask) of each glimpse pixel."""
    n, h, w, c = x.shape
    out = np.zeros((n, gh, gw, c))
    inside = np.zeros((n, gh, gw), bool)
    for i, (oy, ox) in enumerate(np.asarray(offsets, f32)):
        y, xx = oy, ox
        if normalized:
            y, xx = y * f32(h), xx * f32(w)
            if centered:
                y, xx = y / f32(2) + f32(h / 2), xx / f32(2) + f32(w / 2)
                y, xx = y - f32(gh / 2), xx - f32(gw / 2)
        elif centered:
            y, xx = y + f32(h / 2), xx + f32(w / 2)
        y0, x0 = int(y), int(xx)                         # C's cast: toward zero
        for a in range(gh):
            for b in range(gw):
                if 0 <= y0 + a < h and 0 <= x0 + b < w:
                    out[i, a, b] = x[i, y0 + a, x0 + b]
                    inside[i, a, b] = True
    return out, inside


@SETTINGS
@given(gh=st.integers(1, 8), gw=st.integers(1, 8), centered=st.booleans(),
       normalized=st.booleans(), seed=st.integers(0, 99))
def test_extract_glimpse_inside_matches_the_kernel_and_zero_noise(gh, gw, centered, normalized,
                                                                 seed):
    rng = np.random.RandomState(seed)
    x = rng.rand(3, 6, 7, 2).astype(np.float32)
    scale = 1.2 if normalized else 9.0
    offsets = rng.uniform(-scale, scale, (3, 2)).astype(np.float32)
    want, inside = _glimpse_ref(x, gh, gw, offsets, centered, normalized)
    tf.reset_default_graph()
    got = run(tf.image.extract_glimpse(x, [gh, gw], offsets, centered=centered,
                                       normalized=normalized, noise="zero"))
    assert got.dtype == np.float32 and got.shape == (3, gh, gw, 2)
    np.testing.assert_array_equal(got, np.where(inside[..., None], want, 0))


def test_extract_glimpse_noise_kinds_on_llvm():
    rng = np.random.RandomState(1)
    x = (rng.rand(2, 5, 6, 2) * [1.0, 10.0] + [0.0, 5.0]).astype(np.float32)
    offsets = np.array([[0.9, 0.9], [-0.95, 0.2]], np.float32)      # partly outside
    want, inside = _glimpse_ref(x, 4, 4, offsets, True, True)
    assert (~inside).any() and inside.any()
    tf.reset_default_graph()
    ph = tf.placeholder(tf.float32, [None, 5, 6, 2])
    uni = tf.image.extract_glimpse(ph, [4, 4], offsets)             # TF1: uniform_noise=True
    gau = tf.image.extract_glimpse(ph, [4, 4], offsets, uniform_noise=False)
    with tf.Session(backend="llvm") as s:
        draws = [s.run([uni, gau], {ph: x}) for _ in range(3)]
    for u, g in draws:
        np.testing.assert_array_equal(u[inside], want[inside])
        np.testing.assert_array_equal(g[inside], want[inside])
        out = ~inside
        for i in range(2):
            ui = u[i][out[i]]
            assert ui.min() >= x[i].min() and ui.max() <= x[i].max()   # whole-image range
            for ch in range(2):
                gi = g[i][out[i]][:, ch]
                assert gi.min() >= x[i, ..., ch].min() and gi.max() <= x[i, ..., ch].max()
    assert not np.array_equal(draws[0][0], draws[1][0])             # fresh noise each run
    noise_ch1 = np.concatenate([g[i][~inside[i]][:, 1] for g in (d[1] for d in draws)
                                for i in range(2)])
    assert 5.0 < noise_ch1.mean() < 15.0                            # around channel 1's mean
    with pytest.raises(ValueError, match="noise"):
        tf.image.extract_glimpse(x, [2, 2], offsets, noise="pink")
