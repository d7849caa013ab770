"""Detection ops on the host: ``non_max_suppression`` (TF's NonMaxSuppressionV3), whose
result length depends on the values, so it is of kind ``host`` like ``unique``: the Session
runs it between compiled segments (``runtime/placement.py``) and its reference is the real
implementation.

Semantics (TF's kernel, in float32): the candidates are the boxes whose score is greater than
``score_threshold``, taken by descending score (ties: the lower index first); a candidate is
selected unless its IoU with a box already selected is greater than ``iou_threshold``, until
``max_output_size`` are selected. Boxes are (y1, x1, y2, x2) in either corner order; the IoU
of a box of zero or negative area is 0. With ``overlaps`` the first operand is the [n, n]
overlap matrix itself (NonMaxSuppressionWithOverlaps); with ``pad`` the indices are padded
with zeros to ``max_output_size`` (NonMaxSuppressionV4). The results: the indices and how
many of them are valid. Not differentiable (TF registers no gradient).
"""
from __future__ import annotations

import numpy as np

from .. import errors
from ..ir.dtypes import int32
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType

_HOST_ONLY = dict.fromkeys(("llvm", "cuda"), "a data-dependent result length: the Session runs "
                           "it on the host, between the compiled segments (runtime/placement.py)")


def _nms_infer(types, a):
    boxes, scores, size, iou, thr = types
    if a["overlaps"]:
        if boxes.shape is not None and len(boxes.shape) != 2:
            raise ShapeMismatch(f"non_max_suppression_overlaps: overlaps must be [n, n], got "
                                f"{boxes}")
    elif boxes.shape is not None and (len(boxes.shape) != 2 or boxes.shape[1] not in (None, 4)):
        raise ShapeMismatch(f"non_max_suppression: boxes must be [num_boxes, 4], got {boxes}")
    if scores.shape is not None and len(scores.shape) != 1:
        raise ShapeMismatch(f"non_max_suppression: scores must be 1-D, got {scores}")
    for t, what in ((size, "max_output_size"), (iou, "iou_threshold"),
                    (thr, "score_threshold")):
        if t.shape is not None and len(t.shape) != 0:
            raise ShapeMismatch(f"non_max_suppression: {what} must be a scalar, got {t}")
    return [TensorType(int32, (None,)), TensorType(int32, ())]


def iou_matrix(boxes: np.ndarray) -> np.ndarray:
    """[n, n] float32 IoU of (y1, x1, y2, x2) boxes in either corner order (0 for a box of no
    area), as TF's ``IOU``."""
    b = np.asarray(boxes, np.float32)
    y0, y1 = np.minimum(b[:, 0], b[:, 2]), np.maximum(b[:, 0], b[:, 2])
    x0, x1 = np.minimum(b[:, 1], b[:, 3]), np.maximum(b[:, 1], b[:, 3])
    area = (y1 - y0) * (x1 - x0)
    ih = np.maximum(np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None]), 0)
    iw = np.maximum(np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None]), 0)
    inter = (ih * iw).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (area[:, None] + area[None] - inter)
    bad = (area[:, None] <= 0) | (area[None] <= 0)
    return np.where(bad, np.float32(0), iou).astype(np.float32)


def _nms_ref(boxes, scores, max_output_size, iou_threshold, score_threshold, overlaps, pad):
    n = boxes.shape[0]
    if overlaps and boxes.shape != (n, n):
        raise errors.InvalidArgumentError(f"overlaps must be square, got {list(boxes.shape)}")
    if scores.shape[0] != n:
        raise errors.InvalidArgumentError(f"non_max_suppression: scores has {scores.shape[0]} "
                                          f"elements, boxes {n} rows; expected as many")
    limit = int(max_output_size)
    if limit < 0:
        raise errors.InvalidArgumentError(f"max_output_size must be non-negative, got {limit}")
    iou_t = np.float32(iou_threshold)
    if not overlaps and not 0 <= iou_t <= 1:
        raise errors.InvalidArgumentError(f"iou_threshold must be in [0, 1], got {iou_t}")
    s = np.asarray(scores, np.float32)
    cand = np.flatnonzero(s > np.float32(score_threshold))
    order = cand[np.lexsort((cand, -s[cand]))]             # score down, index up
    if overlaps:
        iou = np.asarray(boxes, np.float32)
    else:
        iou = iou_matrix(boxes) if n else np.zeros((0, 0), np.float32)
    chosen: list = []
    for i in order:
        if len(chosen) >= limit:
            break
        if not chosen or not (iou[i, chosen] > iou_t).any():
            chosen.append(int(i))
    valid = np.int32(len(chosen))
    if pad:
        chosen += [0] * (limit - len(chosen))
    return np.asarray(chosen, np.int32), valid


defop("non_max_suppression", kind="host", num_inputs=5, infer=_nms_infer, reference=_nms_ref,
      attrs={"overlaps": Attr("bool", False), "pad": Attr("bool", False)},
      differentiable=False, unlowered_on=_HOST_ONLY,
      doc="(boxes [n, 4] or overlaps [n, n], scores [n], max_output_size, iou_threshold, "
          "score_threshold) -> (the indices greedy non-max suppression selects by descending "
          "score, padded with zeros to max_output_size with pad; how many are valid)")


# ------------------------------------------------------- combined_non_max_suppression ------

def _combined_size(a) -> int:
    n = a["max_total_size"]
    return min(n, a["max_per_class"] * a["num_classes"]) if a["pad_per_class"] else n


def _combined_infer(types, a):
    boxes, scores, iou, thr = types
    if boxes.shape is None or len(boxes.shape) != 4 or boxes.shape[3] not in (None, 4):
        raise ShapeMismatch(f"combined_non_max_suppression: boxes must be [batch, num_boxes, "
                            f"q, 4], got {boxes}")
    if scores.shape is None or len(scores.shape) != 3:
        raise ShapeMismatch(f"combined_non_max_suppression: scores must be [batch, num_boxes, "
                            f"num_classes], got {scores}")
    b, t = boxes.shape[0], _combined_size(a)
    return [TensorType(boxes.dtype, (b, t, 4)), TensorType(scores.dtype, (b, t)),
            TensorType(scores.dtype, (b, t)), TensorType(int32, (b,))]


def _combined_ref(boxes, scores, iou_threshold, score_threshold, max_per_class,
                  max_total_size, num_classes, pad_per_class, clip_boxes):
    """Per image and class the greedy loop of ``non_max_suppression``; the survivors of all
    classes by descending score (ties: class, then selection order), the best
    ``max_total_size`` kept, boxes clipped to [0, 1] with ``clip_boxes``, zeros after."""
    n, nb, q, _ = boxes.shape
    if scores.shape[:2] != (n, nb) or scores.shape[2] != num_classes or q not in (1, num_classes):
        raise errors.InvalidArgumentError(
            f"combined_non_max_suppression: boxes {list(boxes.shape)} and scores "
            f"{list(scores.shape)} disagree (expected [b, n, 1 or classes, 4] and "
            f"[b, n, classes])")
    t = _combined_size({"max_total_size": max_total_size, "max_per_class": max_per_class,
                        "num_classes": num_classes, "pad_per_class": pad_per_class})
    out_b = np.zeros((n, t, 4), np.float32)
    out_s = np.zeros((n, t), np.float32)
    out_c = np.zeros((n, t), np.float32)
    valid = np.zeros(n, np.int32)
    for i in range(n):
        found = []
        for c in range(num_classes):
            bx = boxes[i, :, c if q > 1 else 0]
            sel, k = _nms_ref(bx, scores[i, :, c], max_per_class, iou_threshold,
                              score_threshold, False, False)
            found += [(-float(scores[i, j, c]), c, r, j) for r, j in enumerate(sel[:k])]
        found.sort()
        for r, (neg, c, _, j) in enumerate(found[:t]):
            bx = boxes[i, j, c if q > 1 else 0]
            out_b[i, r] = np.clip(bx, 0, 1) if clip_boxes else bx
            out_s[i, r], out_c[i, r] = -neg, c
        valid[i] = min(len(found), t)
    return out_b.astype(boxes.dtype), out_s.astype(scores.dtype), out_c.astype(scores.dtype), valid


defop("combined_non_max_suppression", kind="host", num_inputs=4, infer=_combined_infer,
      reference=_combined_ref, differentiable=False, unlowered_on=_HOST_ONLY,
      attrs={"max_per_class": Attr("int"), "max_total_size": Attr("int"),
             "num_classes": Attr("int"), "pad_per_class": Attr("bool", False),
             "clip_boxes": Attr("bool", True)},
      doc="(boxes [b, n, q, 4], scores [b, n, classes], iou_threshold, score_threshold) -> "
          "(boxes [b, t, 4], scores [b, t], classes [b, t], valid [b]): per-class greedy "
          "suppression, the best of all classes kept, zero-padded")
