"""tf.extract_image_patches / tf.image.extract_patches against a NumPy loop over output
positions and kernel taps (SAME: the zero padding a convolution of the dilated kernel gets)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients, run

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _patches_ref(x, k, s, r, padding):
    n, h, w, c = x.shape
    eff = [(k[i] - 1) * r[i] + 1 for i in range(2)]
    if padding == "VALID":
        out = [(h - eff[0]) // s[0] + 1, (w - eff[1]) // s[1] + 1]
        before = [0, 0]
    else:
        out = [int(np.ceil(h / s[0])), int(np.ceil(w / s[1]))]
        before = [max((out[i] - 1) * s[i] + eff[i] - (h, w)[i], 0) // 2 for i in range(2)]
    res = np.zeros((n, max(out[0], 0), max(out[1], 0), k[0] * k[1] * c))
    for oy in range(out[0]):
        for ox in range(out[1]):
            vals = []
            for ky in range(k[0]):
                for kx in range(k[1]):
                    y, xx = oy * s[0] - before[0] + ky * r[0], ox * s[1] - before[1] + kx * r[1]
                    inside = 0 <= y < h and 0 <= xx < w
                    vals.append(x[:, y, xx] if inside else np.zeros((n, c)))
            res[:, oy, ox] = np.concatenate(vals, axis=1)
    return res


@SETTINGS
@given(h=st.integers(1, 8), w=st.integers(1, 8), k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       r=st.tuples(st.integers(1, 2), st.integers(1, 2)), padding=st.sampled_from(["VALID", "SAME"]),
       seed=st.integers(0, 99))
def test_extract_image_patches_matches_loop(h, w, k, s, r, padding, seed):
    x = np.random.RandomState(seed).rand(2, h, w, 2)
    want = _patches_ref(x, k, s, r, padding)
    tf.reset_default_graph()
    y = tf.extract_image_patches(x, [1, *k, 1], [1, *s, 1], [1, *r, 1], padding)
    assert y.shape.as_list() == list(want.shape)
    if 0 in want.shape:
        return
    np.testing.assert_allclose(run(y), want)


def test_extract_patches_names_llvm_and_gradient():
    x = np.arange(2 * 10 * 10 * 1, dtype=np.float64).reshape(2, 10, 10, 1)
    tf.reset_default_graph()
    a = tf.image.extract_patches(x, sizes=[1, 3, 3, 1], strides=[1, 5, 5, 1],
                                 rates=[1, 1, 1, 1], padding="VALID")
    b = tf.image.extract_image_patches(x, [1, 3, 3, 1], [1, 5, 5, 1], [1, 1, 1, 1], "SAME")
    ga, gb = run([a, b], backend="llvm")
    assert ga.shape == (2, 2, 2, 9)
    np.testing.assert_array_equal(ga[0, 1, 0], x[0, 5:8, 0:3, 0].ravel())   # patch at (5, 0)
    np.testing.assert_allclose(gb, _patches_ref(x, (3, 3), (5, 5), (1, 1), "SAME"))
    check_gradients(lambda t: tf.extract_image_patches(t, [1, 2, 2, 1], [1, 1, 1, 1],
                                                       [1, 1, 1, 1], "SAME"),
                    [x[:1, :3, :4] / 10])
    with pytest.raises(ValueError, match="padding"):
        tf.extract_image_patches(x, [1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "FULL")
    with pytest.raises(ValueError, match=r"\[1, rows, cols, 1\]"):
        tf.extract_image_patches(x, [2, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
