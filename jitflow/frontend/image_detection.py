"""``tf.image.draw_bounding_boxes`` (a composition: masks of box outlines) and
``tf.image.non_max_suppression``: the host op ``non_max_suppression`` (``ops/detection.py``:
TF's NonMaxSuppressionV3) on float32 boxes and scores; its int32 result has a run-time length
that compiled ops after it take as a symbolic dim (``tf.gather(boxes, selected)``)."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import float32, int32
from . import math_ops as M
from .graph import Tensor, name_scope
from .op_builder import convert_to_tensor, make_op, static_value

__all__ = ["non_max_suppression", "non_max_suppression_padded",
           "non_max_suppression_with_scores", "non_max_suppression_overlaps",
           "combined_non_max_suppression", "draw_bounding_boxes"]


def _nms(what: str, boxes: Any, scores: Any, max_output_size: Any, threshold: Any,
         score_threshold: Any, name: Optional[str], overlaps: bool = False,
         pad: bool = False) -> tuple:
    with name_scope(name, what) as scope:
        b = convert_to_tensor(boxes, name="overlaps" if overlaps else "boxes")
        s = convert_to_tensor(scores, name="scores")
        if not (b.dtype.is_floating and s.dtype.is_floating):
            raise TypeError(f"{what}: boxes (overlaps) and scores must be float, got "
                            f"{b.dtype.name} and {s.dtype.name}")
        t = static_value(threshold)
        if not overlaps and t is not None and not 0.0 <= float(np.asarray(t).reshape(())) <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {t}")
        args = [M.cast(b, float32) if b.dtype != float32 else b,
                M.cast(s, float32) if s.dtype != float32 else s,
                M.cast(convert_to_tensor(max_output_size, name="max_output_size"), int32),
                convert_to_tensor(threshold, dtype=float32, name="iou_threshold"),
                convert_to_tensor(score_threshold, dtype=float32, name="score_threshold")]
        op = make_op("NonMaxSuppressionV4" if pad else "NonMaxSuppressionV3",
                     "non_max_suppression", args, {"overlaps": overlaps, "pad": pad}, name=scope)
        return op.outputs[0], op.outputs[1], args[1]


def non_max_suppression(boxes: Any, scores: Any, max_output_size: Any, iou_threshold: Any = 0.5,
                        score_threshold: Any = float("-inf"),
                        name: Optional[str] = None) -> Tensor:
    """The indices (int32, at most ``max_output_size``) of the boxes [num_boxes, 4] that
    greedy non-max suppression keeps, by descending score: a box whose IoU with a kept one
    exceeds ``iou_threshold`` is dropped, and so is one scoring no more than
    ``score_threshold``."""
    return _nms("non_max_suppression", boxes, scores, max_output_size, iou_threshold,
                score_threshold, name)[0]


def non_max_suppression_padded(boxes: Any, scores: Any, max_output_size: Any,
                               iou_threshold: Any = 0.5, score_threshold: Any = float("-inf"),
                               pad_to_max_output_size: bool = False,
                               name: Optional[str] = None) -> tuple[Tensor, Tensor]:
    """(selected indices, number valid): with ``pad_to_max_output_size`` the indices are
    padded with zeros to ``max_output_size`` (TF's NonMaxSuppressionV4)."""
    sel, valid, _ = _nms("non_max_suppression_padded", boxes, scores, max_output_size,
                         iou_threshold, score_threshold, name, pad=bool(pad_to_max_output_size))
    k = static_value(max_output_size)
    if pad_to_max_output_size and k is not None:
        sel.set_shape([int(np.asarray(k).reshape(()))])
    return sel, valid


def non_max_suppression_with_scores(boxes: Any, scores: Any, max_output_size: Any,
                                    iou_threshold: Any = 0.5,
                                    score_threshold: Any = float("-inf"),
                                    soft_nms_sigma: float = 0.0,
                                    name: Optional[str] = None) -> tuple[Tensor, Tensor]:
    """(selected indices, their scores); hard suppression only (``soft_nms_sigma`` 0)."""
    if float(soft_nms_sigma) != 0.0:
        raise NotImplementedError("non_max_suppression_with_scores(soft_nms_sigma > 0): "
                                  "Soft-NMS is not implemented in jitflow")
    from .extra_ops import gather
    sel, _, s = _nms("non_max_suppression_with_scores", boxes, scores, max_output_size,
                     iou_threshold, score_threshold, name)
    return sel, gather(s, sel)


def non_max_suppression_overlaps(overlaps: Any, scores: Any, max_output_size: Any,
                                 overlap_threshold: Any = 0.5,
                                 score_threshold: Any = float("-inf"),
                                 name: Optional[str] = None) -> Tensor:
    """Greedy suppression with a given [n, n] overlap matrix: a candidate whose overlap with
    a selected box exceeds ``overlap_threshold`` is dropped."""
    return _nms("non_max_suppression_overlaps", overlaps, scores, max_output_size,
                overlap_threshold, score_threshold, name, overlaps=True)[0]


def combined_non_max_suppression(boxes: Any, scores: Any, max_output_size_per_class: Any,
                                 max_total_size: Any, iou_threshold: Any = 0.5,
                                 score_threshold: Any = float("-inf"),
                                 pad_per_class: bool = False, clip_boxes: bool = True,
                                 name: Optional[str] = None) -> tuple:
    """(nmsed_boxes [batch, T, 4], nmsed_scores [batch, T], nmsed_classes [batch, T],
    valid_detections [batch]): greedy suppression per image and class (boxes [batch, n, q, 4]
    with q 1 or num_classes, scores [batch, n, num_classes]), then the ``max_total_size``
    best of all classes by score, zero-padded; T is max_total_size, or with
    ``pad_per_class`` at most max_output_size_per_class * num_classes. The sizes and the
    class count must be static."""
    with name_scope(name, "combined_non_max_suppression") as scope:
        b = convert_to_tensor(boxes, name="boxes")
        s = convert_to_tensor(scores, name="scores")
        per, total = static_value(max_output_size_per_class), static_value(max_total_size)
        if per is None or total is None:
            raise NotImplementedError("combined_non_max_suppression needs static "
                                      "max_output_size_per_class and max_total_size")
        per, total = int(np.asarray(per).reshape(())), int(np.asarray(total).reshape(()))
        if per <= 0 or total <= 0:
            raise ValueError(f"combined_non_max_suppression: the sizes must be positive, got "
                             f"{per} and {total}")
        if s.shape.dims is None or len(s.shape.dims) != 3 or s.shape.dims[2] is None:
            raise ValueError(f"combined_non_max_suppression: scores must be [batch, num_boxes, "
                             f"num_classes] with a static num_classes, got {s.shape}")
        t = static_value(iou_threshold)
        if t is not None and not 0.0 <= float(np.asarray(t).reshape(())) <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {t}")
        args = [M.cast(b, float32) if b.dtype != float32 else b,
                M.cast(s, float32) if s.dtype != float32 else s,
                convert_to_tensor(iou_threshold, dtype=float32, name="iou_threshold"),
                convert_to_tensor(score_threshold, dtype=float32, name="score_threshold")]
        op = make_op("CombinedNonMaxSuppression", "combined_non_max_suppression", args,
                     {"max_per_class": per, "max_total_size": total,
                      "num_classes": s.shape.dims[2], "pad_per_class": bool(pad_per_class),
                      "clip_boxes": bool(clip_boxes)}, name=scope)
        return tuple(op.outputs)


#: TF's default colour table (RGBA): yellow, blue, red, lime, purple, olive, maroon, navy,
#: aqua, fuchsia
_COLORS = ((1, 1, 0, 1), (0, 0, 1, 1), (1, 0, 0, 1), (0, 1, 0, 1), (0.5, 0, 0.5, 1),
           (0.5, 0.5, 0, 1), (0.5, 0, 0, 1), (0, 0, 0.5, 1), (0, 1, 1, 1), (1, 0, 1, 1))


def draw_bounding_boxes(images: Any, boxes: Any, name: Optional[str] = None,
                        colors: Any = None) -> Tensor:
    """TF's DrawBoundingBoxes: the one-pixel outline of each box [batch, num_boxes, 4]
    (normalized y1, x1, y2, x2; rows ``int(y * (h - 1))`` truncated, as TF's casts) drawn on
    its image in colour ``box % num_colors`` of ``colors`` (default: TF's table; a 1-channel
    image gets 1 in its channel), later boxes over earlier ones; sides outside the image are
    not drawn, nor are boxes with y1 > y2 or x1 > x2 or wholly outside."""
    from .array_ops import where_v2
    from .extra_ops import gather
    from .op_builder import constant
    with name_scope(name, "draw_bounding_boxes") as scope:
        x = convert_to_tensor(images, name="images")
        dims = x.shape.dims
        if dims is None or len(dims) != 4 or dims[3] not in (1, 3, 4):
            raise ValueError(f"draw_bounding_boxes: images must be [batch, height, width, "
                             f"depth] with depth 1, 3 or 4, got {x.shape}")
        if not x.dtype.is_floating:
            raise TypeError(f"draw_bounding_boxes: float images only, got {x.dtype.name}")
        h, w, depth = dims[1], dims[2], dims[3]
        if h is None or w is None:
            raise NotImplementedError(f"draw_bounding_boxes needs a static height and width, "
                                      f"got {x.shape}")
        if colors is None:
            table = np.asarray(_COLORS, np.float64)
            if depth == 1:
                table[:, 0] = 1.0
        else:
            table = np.asarray(static_value(colors), np.float64)
            if table.ndim != 2 or table.shape[1] < depth:
                raise ValueError(f"draw_bounding_boxes: colors must be [num_colors, >= "
                                 f"{depth}], got shape {list(table.shape)}")
        b = M.cast(convert_to_tensor(boxes, name="boxes"), float32)
        if b.shape.dims is None or len(b.shape.dims) != 3 or b.shape.dims[2] != 4 or \
                b.shape.dims[1] is None:
            raise ValueError(f"draw_bounding_boxes: boxes must be [batch, num_boxes, 4] with "
                             f"a static num_boxes, got {b.shape}")
        nb = b.shape.dims[1]

        def scaled(k: int, n: int) -> Tensor:             # [batch, boxes, 1, 1] int32
            return M.cast(M.multiply(b[:, :, k], float(n - 1)), int32)[:, :, None, None]
        r0, c0, r1, c1 = scaled(0, h), scaled(1, w), scaled(2, h), scaled(3, w)
        rows = constant(np.arange(h, dtype=np.int32)[:, None])
        cols = constant(np.arange(w, dtype=np.int32)[None, :])
        A, L, E = M.logical_and, M.less_equal, M.equal
        in_cols = A(L(M.maximum(c0, 0), cols), L(cols, M.minimum(c1, w - 1)))
        in_rows = A(L(M.maximum(r0, 0), rows), L(rows, M.minimum(r1, h - 1)))
        top = A(A(E(rows, r0), M.greater_equal(r0, 0)), in_cols)
        bottom = A(A(E(rows, r1), M.less(r1, h)), in_cols)
        left = A(A(E(cols, c0), M.greater_equal(c0, 0)), in_rows)
        right = A(A(E(cols, c1), M.less(c1, w)), in_rows)
        ok = A(A(L(r0, r1), L(c0, c1)),
               A(A(M.less(r0, h), M.greater_equal(r1, 0)), A(M.less(c0, w), M.greater_equal(c1, 0))))
        drawn = A(ok, M.logical_or(M.logical_or(top, bottom), M.logical_or(left, right)))
        order = constant(np.arange(1, nb + 1, dtype=np.int32)[None, :, None, None])
        last = M.reduce_max(where_v2(drawn, order, 0), [1])          # [batch, h, w]: 0 = none
        palette = np.zeros((nb + 1, depth))
        palette[1:] = table[np.arange(nb) % len(table), :depth]
        color = gather(constant(palette.astype(x.dtype.np)), last)     # [batch, h, w, depth]
        return where_v2(M.greater(last, 0)[:, :, :, None], color, x, name=scope)
