"""tf.image.sample_distorted_bounding_box (ops/bbox_sample.py, a seeded host sampler): the crop
satisfies TF's constraints (inside the image, area and aspect ratio within their ranges,
covering enough of a box), falls back to the whole image, is reproducible under its seeds and
new every run, and feeds tf.slice (a begin and size known only at run time), on llvm and the
reference."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError

BACKENDS = ["reference", "llvm"]


def _pixels(box, h, w):
    """A normalized [ymin, xmin, ymax, xmax] as TF's pixel rectangle (x0, y0, x1, y1)."""
    f = np.float32
    return (int(f(box[1]) * f(w)), int(f(box[0]) * f(h)), int(f(box[3]) * f(w)),
            int(f(box[2]) * f(h)))


def _coverage(crop, rect):
    x0, y0, x1, y1 = crop
    bx0, by0, bx1, by1 = rect
    iw, ih = min(x1, bx1) - max(x0, bx0), min(y1, by1) - max(y0, by0)
    return max(iw, 0) * max(ih, 0) / ((bx1 - bx0) * (by1 - by0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_crops_satisfy_the_constraints(backend):
    h, w = 60, 80
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0.55, 0.05, 0.95, 0.4]]], np.float32)
    covered, aspect, area = 0.6, (0.5, 2.0), (0.1, 0.7)
    begin, size, bbox = tf.image.sample_distorted_bounding_box(
        [h, w, 3], boxes, seed=1, seed2=2, min_object_covered=covered,
        aspect_ratio_range=aspect, area_range=area, max_attempts=50)
    assert begin.shape.as_list() == [3] and size.shape.as_list() == [3]
    assert begin.dtype == tf.int32 and bbox.dtype == tf.float32
    assert bbox.shape.as_list() == [1, 1, 4]
    rects = [_pixels(b, h, w) for b in boxes[0]]
    seen = set()
    with tf.Session(backend=backend) as s:
        for _ in range(200):
            bv, sv, bb = s.run([begin, size, bbox])
            y, x, c = bv
            ch, cw, cc = sv
            assert c == 0 and cc == -1
            assert 0 <= y and 0 <= x and y + ch <= h and x + cw <= w and ch > 0 and cw > 0
            crop = (x, y, x + cw, y + ch)
            seen.add(crop)
            if crop == (0, 0, w, h):                          # the fallback: whole image
                continue
            assert area[0] * h * w <= ch * cw <= area[1] * h * w
            # width = round(height * ratio), the ratio drawn in the range
            assert aspect[0] - 0.5 / ch - 1e-6 <= cw / ch <= aspect[1] + 0.5 / ch + 1e-6
            assert max(_coverage(crop, r) for r in rects) >= covered - 1e-6
            np.testing.assert_allclose(bb[0, 0], [y / h, x / w, (y + ch) / h, (x + cw) / w],
                                       rtol=1e-6)
    assert len(seen) > 150                                    # a new crop (almost) every run


@pytest.mark.parametrize("backend", BACKENDS)
def test_seeds_reproduce_and_backends_agree(backend):
    def draws(seed, seed2, runs=3):
        tf.reset_default_graph()
        out = tf.image.sample_distorted_bounding_box(
            tf.constant([30, 40, 1], tf.int64), [[[0.0, 0.0, 1.0, 1.0]]], seed=seed,
            seed2=seed2, min_object_covered=0.2)
        assert out[0].dtype == tf.int64
        with tf.Session(backend=backend) as s:
            return [np.concatenate(s.run(out[:2])) for _ in range(runs)]
    a = draws(5, 6)
    np.testing.assert_array_equal(a, draws(5, 6))             # same seeds, same sequence
    assert not all(np.array_equal(a[0], v) for v in a[1:])    # each run a new crop
    assert not all(np.array_equal(u, v) for u, v in zip(a, draws(5, 7)))
    tf.reset_default_graph()
    out = tf.image.sample_distorted_bounding_box([30, 40, 1], [[[0.0, 0.0, 1.0, 1.0]]],
                                                 seed=5, seed2=6, min_object_covered=0.2)
    with tf.Session(backend="reference") as s:
        want = [np.concatenate(s.run(out[:2])) for _ in range(3)]
    np.testing.assert_array_equal(np.array(a)[:, [0, 1, 3, 4]],
                                  np.array(want)[:, [0, 1, 3, 4]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_falls_back_to_the_whole_image(backend):
    """No crop of at most 10% of the image can cover all of a box spanning the image."""
    out = tf.image.sample_distorted_bounding_box(
        [20, 30, 3], [[[0.0, 0.0, 1.0, 1.0]]], seed=3, min_object_covered=1.0,
        area_range=(0.05, 0.1), max_attempts=20)
    with tf.Session(backend=backend) as s:
        for _ in range(5):
            b, sz, bb = s.run(out)
            np.testing.assert_array_equal(b, [0, 0, 0])
            np.testing.assert_array_equal(sz, [20, 30, -1])
            np.testing.assert_array_equal(bb, [[[0.0, 0.0, 1.0, 1.0]]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_crop_an_image_with_tf_slice(backend):
    """TF's recipe: tf.slice(image, begin, size) with the sampled begin and size, the image's
    size from tf.shape of a fed placeholder; no boxes: the whole image is the box."""
    image = tf.placeholder(tf.float32, [None, None, 3])
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        tf.shape(image), tf.zeros([1, 0, 4]), seed=9, use_image_if_no_bounding_boxes=True,
        min_object_covered=0.0)
    crop = tf.slice(image, begin, size)
    assert crop.shape.ndims == 3
    img = np.random.RandomState(0).rand(24, 32, 3).astype(np.float32)
    with tf.Session(backend=backend) as s:
        for _ in range(4):
            c, b, sz = s.run([crop, begin, size], {image: img})
            np.testing.assert_array_equal(c, img[b[0]:b[0] + sz[0], b[1]:b[1] + sz[1], :])


def test_v2_pairs_its_seed_with_the_graph_seed():
    def draw():
        tf.reset_default_graph()
        tf.set_random_seed(4)
        out = tf.image.sample_distorted_bounding_box_v2([50, 50, 3], [[[0.2, 0.2, 0.8, 0.8]]],
                                                        seed=8)
        with tf.Session() as s:
            return np.concatenate(s.run(out[:2]))
    np.testing.assert_array_equal(draw(), draw())


def test_errors():
    with pytest.raises(InvalidArgumentError, match="Area range must be less then or equal"):
        tf.image.sample_distorted_bounding_box([5, 5, 1], [[[0, 0, 1, 1]]], area_range=(0.1, 2))
    with pytest.raises(InvalidArgumentError, match="Aspect ratio range must be non-negative"):
        tf.image.sample_distorted_bounding_box([5, 5, 1], [[[0, 0, 1, 1]]],
                                               aspect_ratio_range=(0, 1))
    with pytest.raises(InvalidArgumentError, match="Max attempts"):
        tf.image.sample_distorted_bounding_box([5, 5, 1], [[[0, 0, 1, 1]]], max_attempts=0)
    with pytest.raises(InvalidArgumentError, match="Min object covered"):
        tf.image.sample_distorted_bounding_box([5, 5, 1], [[[0, 0, 1, 1]]],
                                               min_object_covered=-0.5)
    with pytest.raises(ValueError, match=r"\[batch, N, 4\]"):
        tf.image.sample_distorted_bounding_box([5, 5, 1], [[0, 0, 1, 1]])
    boxes = tf.placeholder(tf.float32, [1, None, 4])
    out = tf.image.sample_distorted_bounding_box([5, 5, 1], boxes, seed=1)
    with tf.Session() as s:
        with pytest.raises(InvalidArgumentError, match=r"must be in \[0.0, 1.0\]"):
            s.run(out, {boxes: [[[0, 0, 1.5, 1]]]})
        with pytest.raises(InvalidArgumentError, match="No bounding boxes provided"):
            s.run(out, {boxes: np.zeros((1, 0, 4), np.float32)})
