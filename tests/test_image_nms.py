"""tf.image.non_max_suppression (the host op non_max_suppression, TF's NonMaxSuppressionV3)
against the textbook greedy loop: take the best remaining box, drop every remaining box that
overlaps it by more than the threshold, repeat."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _tfcheck import run

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _iou(a, b):
    f = np.float32
    ay0, ay1 = sorted((f(a[0]), f(a[2])))
    ax0, ax1 = sorted((f(a[1]), f(a[3])))
    by0, by1 = sorted((f(b[0]), f(b[2])))
    bx0, bx1 = sorted((f(b[1]), f(b[3])))
    area_a, area_b = (ay1 - ay0) * (ax1 - ax0), (by1 - by0) * (bx1 - bx0)
    if area_a <= 0 or area_b <= 0:
        return f(0)
    inter = max(min(ay1, by1) - max(ay0, by0), f(0)) * max(min(ax1, bx1) - max(ax0, bx0), f(0))
    return inter / (area_a + area_b - inter)


def _nms_ref(boxes, scores, k, iou_t, score_t):
    remaining = [i for i in range(len(scores)) if np.float32(scores[i]) > np.float32(score_t)]
    out = []
    while remaining and len(out) < k:
        best = max(remaining, key=lambda i: (scores[i], -i))   # ties: the lower index
        out.append(best)
        remaining = [i for i in remaining
                     if i != best and not _iou(boxes[i], boxes[best]) > np.float32(iou_t)]
    return out


@SETTINGS
@given(n=st.integers(0, 12), k=st.integers(0, 8), iou=st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]),
       score_t=st.sampled_from([float("-inf"), 0.2, 0.5]), seed=st.integers(0, 999),
       ties=st.booleans())
def test_nms_matches_the_greedy_loop(n, k, iou, score_t, seed, ties):
    rng = np.random.RandomState(seed)
    corners = rng.uniform(0, 1, (n, 4)).astype(np.float32)    # either corner order
    scores = rng.uniform(0, 1, n).astype(np.float32)
    if ties:
        scores = np.round(scores * 3) / 3                        # many equal scores
    tf.reset_default_graph()
    got = run(tf.image.non_max_suppression(corners, scores, k, iou, score_t))
    assert got.dtype == np.int32
    assert got.tolist() == _nms_ref(corners, scores, k, iou, score_t)


def test_nms_feeds_compiled_ops_and_takes_run_time_arguments():
    boxes = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11],
                      [0, 10.1, 1, 11.1], [0, 100, 1, 101]], np.float32)
    scores = np.array([0.9, 0.95, 0.75, 0.6, 0.5, 0.3], np.float32)
    tf.reset_default_graph()
    b = tf.placeholder(tf.float32, [None, 4])
    s = tf.placeholder(tf.float32, [None])
    k = tf.placeholder(tf.int32, [])
    sel = tf.image.non_max_suppression(b, s, k, iou_threshold=0.5)
    assert sel.shape.as_list() == [None]
    kept = tf.gather(b, sel) * 2.0                                 # compiled, after the host op
    want = _nms_ref(boxes, scores, 3, 0.5, float("-inf"))
    for backend in ("reference", "llvm"):
        got, kv = run([sel, kept], {b: boxes, s: scores, k: 3}, backend=backend)
        assert got.tolist() == want
        np.testing.assert_array_equal(kv, boxes[want] * 2)
    assert run(sel, {b: boxes, s: scores, k: 10}).tolist() == _nms_ref(boxes, scores, 10, 0.5,
                                                                     float("-inf"))


def test_nms_padded_with_scores_and_overlaps():
    rng = np.random.RandomState(4)
    boxes = rng.uniform(0, 1, (9, 4)).astype(np.float32)
    scores = rng.uniform(0, 1, 9).astype(np.float32)
    want = _nms_ref(boxes, scores, 8, 0.1, 0.1)
    assert 0 < len(want) < 8                        # some padding to see
    overlaps = rng.uniform(0, 1, (9, 9)).astype(np.float32)
    want_ov = []                                    # the greedy loop on the given matrix
    for i in sorted(range(9), key=lambda i: (-scores[i], i)):
        if len(want_ov) < 4 and all(overlaps[i, j] <= 0.6 for j in want_ov):
            want_ov.append(i)
    tf.reset_default_graph()
    sel, valid = tf.image.non_max_suppression_padded(boxes, scores, 8, 0.1, 0.1,
                                                     pad_to_max_output_size=True)
    assert sel.shape.as_list() == [8]
    sel_np, valid_np = tf.image.non_max_suppression_padded(boxes, scores, 8, 0.1, 0.1)
    ws, wscores = tf.image.non_max_suppression_with_scores(boxes, scores, 8, 0.1, 0.1)
    ov = tf.image.non_max_suppression_overlaps(overlaps, scores, 4, 0.6)
    a, v, b, vb, c, cs, d = run([sel, valid, sel_np, valid_np, ws, wscores, ov])
    assert a.tolist() == want + [0] * (8 - len(want)) and int(v) == len(want)
    assert b.tolist() == want and int(vb) == len(want)
    assert c.tolist() == want
    np.testing.assert_array_equal(cs, scores[want])
    assert d.tolist() == want_ov
    with pytest.raises(NotImplementedError, match="Soft-NMS"):
        tf.image.non_max_suppression_with_scores(boxes, scores, 6, soft_nms_sigma=0.5)


def test_nms_refuses_bad_arguments():
    boxes = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="iou_threshold"):
        tf.image.non_max_suppression(boxes, np.zeros(3, np.float32), 2, iou_threshold=1.5)
    with pytest.raises(ValueError, match=r"\[num_boxes, 4\]"):
        tf.image.non_max_suppression(np.zeros((3, 3), np.float32), np.zeros(3, np.float32), 2)
    tf.reset_default_graph()
    s = tf.placeholder(tf.float32, [None])
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected as many"):
        run(tf.image.non_max_suppression(boxes, s, 2), {s: np.zeros(2, np.float32)})
    tf.reset_default_graph()
    b = tf.placeholder(tf.float32, [None, 4])
    y = tf.image.non_max_suppression(b, tf.ones([1]), 1)
    g = tf.gradients(tf.reduce_sum(tf.cast(y, tf.float32)), [b])
    assert g == [None]                              # TF registers no gradient either


# ---------------------------------------------------------------- draw_bounding_boxes ------

TABLE = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 1], [0, 1, 0, 1], [0.5, 0, 0.5, 1],
                  [0.5, 0.5, 0, 1], [0.5, 0, 0, 1], [0, 0, 0.5, 1], [0, 1, 1, 1], [1, 0, 1, 1]])


def _draw_ref(images, boxes, table):
    """TF's DrawBoundingBoxes loop: box by box, its four sides where they lie in the image."""
    out = images.copy()
    n, h, w, d = images.shape
    for b in range(n):
        for k, box in enumerate(np.asarray(boxes[b], np.float32)):
            r0, c0 = int(box[0] * np.float32(h - 1)), int(box[1] * np.float32(w - 1))
            r1, c1 = int(box[2] * np.float32(h - 1)), int(box[3] * np.float32(w - 1))
            if r0 > r1 or c0 > c1 or r0 >= h or r1 < 0 or c0 >= w or c1 < 0:
                continue
            color = table[k % len(table), :d]
            rc0, rc1, cc0, cc1 = max(r0, 0), min(r1, h - 1), max(c0, 0), min(c1, w - 1)
            if r0 >= 0:
                out[b, r0, cc0:cc1 + 1] = color
            if r1 < h:
                out[b, r1, cc0:cc1 + 1] = color
            if c0 >= 0:
                out[b, rc0:rc1 + 1, c0] = color
            if c1 < w:
                out[b, rc0:rc1 + 1, c1] = color
    return out


@pytest.mark.parametrize("depth", [1, 3, 4])
def test_draw_bounding_boxes_matches_tf_loop(depth):
    rng = np.random.RandomState(depth)
    images = rng.rand(2, 9, 11, depth).astype(np.float32) * 0.1
    boxes = rng.uniform(-0.4, 1.4, (2, 13, 4)).astype(np.float32)   # some invalid or outside
    boxes[0, 0] = [0.1, 0.2, 0.6, 0.7]
    tf.reset_default_graph()
    got = run(tf.image.draw_bounding_boxes(images, boxes))
    table = TABLE.copy()
    if depth == 1:
        table[:, 0] = 1
    np.testing.assert_array_equal(got, _draw_ref(images, boxes, table))
    assert (got != images).any()
    colors = rng.rand(3, 4)
    tf.reset_default_graph()
    got = run(tf.image.draw_bounding_boxes(images, boxes, colors=colors), backend="llvm")
    np.testing.assert_allclose(got, _draw_ref(images, boxes, colors.astype(np.float32)))


# ---------------------------------------------------------- combined_non_max_suppression ---

def _combined_ref(boxes, scores, per, total, iou_t, score_t, pad_per_class, clip):
    n, _, q, _ = boxes.shape
    k = scores.shape[2]
    t = min(total, per * k) if pad_per_class else total
    res = [np.zeros((n, t, 4)), np.zeros((n, t)), np.zeros((n, t)), np.zeros(n, np.int32)]
    for i in range(n):
        found = []
        for c in range(k):
            bx = boxes[i, :, c if q > 1 else 0]
            for rank, j in enumerate(_nms_ref(bx, scores[i, :, c], per, iou_t, score_t)):
                found.append((-scores[i, j, c], c, rank, bx[j]))
        found.sort(key=lambda e: e[:3])
        for r, (neg, c, _, bx) in enumerate(found[:t]):
            res[0][i, r] = np.clip(bx, 0, 1) if clip else bx
            res[1][i, r], res[2][i, r] = -neg, c
        res[3][i] = min(len(found), t)
    return res


@pytest.mark.parametrize("q, pad_per_class, clip", [(1, False, True), (3, True, False),
                                                     (3, False, True)])
def test_combined_non_max_suppression(q, pad_per_class, clip):
    rng = np.random.RandomState(q)
    boxes = rng.uniform(-0.1, 1.1, (2, 7, q, 4)).astype(np.float32)
    scores = rng.uniform(0, 1, (2, 7, 3)).astype(np.float32)
    want = _combined_ref(boxes, scores, 2, 8, 0.4, 0.3, pad_per_class, clip)
    assert (want[3] < want[1].shape[1]).any() or pad_per_class          # padding is exercised
    tf.reset_default_graph()
    ph = tf.placeholder(tf.float32, [None, 7, q, 4])
    out = tf.image.combined_non_max_suppression(ph, scores, 2, 8, 0.4, 0.3,
                                                pad_per_class=pad_per_class, clip_boxes=clip)
    assert out[0].shape.as_list() == [None, want[0].shape[1], 4]
    got = run(list(out), {ph: boxes}, backend="llvm")
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w)
    assert got[3].dtype == np.int32
