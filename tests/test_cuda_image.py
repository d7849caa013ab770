"""The tf.image compositions of issue #14 on the cuda backend (Numba's CUDA simulator in CI):
resize_area, half-pixel resizes, crop_and_resize with its gradients, sobel_edges,
draw_bounding_boxes, and non_max_suppression's host op between device segments; each
against the reference backend. Shapes are tiny: the simulator runs each thread in Python."""
from __future__ import annotations

import numpy as np

from _cuda_util import needs_cuda, usable_or_skip
import jitflow.compat.v1 as tf

pytestmark = needs_cuda


def _both(fetches, feed=None):
    with tf.Session(backend="reference") as s:
        ref = s.run(fetches, feed)
    with tf.Session(backend="cuda") as s:
        got = s.run(fetches, feed)
    return ref, got


def test_image_compositions_on_cuda_match_the_reference():
    usable_or_skip()
    rng = np.random.RandomState(0)
    x = rng.rand(2, 5, 6, 3).astype(np.float32)
    boxes = np.array([[0.1, 0.2, 0.8, 0.9], [-0.2, 0.0, 1.3, 0.5]], np.float32)
    tf.reset_default_graph()
    ph = tf.placeholder(tf.float32, x.shape)
    crops = tf.image.crop_and_resize(ph, boxes, [1, 0], [3, 4])
    fetches = [tf.image.resize_area(ph, [3, 4]), tf.image.resize_area(ph, [7, 9]),
               tf.image.resize_bilinear(ph, [4, 9], half_pixel_centers=True),
               tf.image.resize_nearest_neighbor(ph, [4, 9], half_pixel_centers=True),
               crops, tf.gradients(tf.reduce_sum(crops * crops), [ph])[0],
               tf.image.sobel_edges(ph),
               tf.image.draw_bounding_boxes(ph, boxes[None].repeat(2, 0))]
    ref, got = _both(fetches, {ph: x})
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)


def test_non_max_suppression_between_cuda_segments():
    usable_or_skip()
    boxes = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 5, 1, 6]], np.float32)
    scores = np.array([0.5, 0.9, 0.7], np.float32)
    tf.reset_default_graph()
    b = tf.placeholder(tf.float32, [None, 4])
    s = tf.placeholder(tf.float32, [None])
    sel = tf.image.non_max_suppression(b * 1.0, s + 0.0, 3)
    kept = tf.gather(b, sel) + 1.0
    ref, got = _both([sel, kept], {b: boxes, s: scores})
    assert got[0].tolist() == ref[0].tolist() == [1, 2]
    np.testing.assert_array_equal(got[1], boxes[[1, 2]] + 1)
