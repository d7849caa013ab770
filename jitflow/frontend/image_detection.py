"""``tf.image.non_max_suppression``: the host op ``non_max_suppression`` (``ops/detection.py``:
TF's NonMaxSuppressionV3) on float32 boxes and scores; its int32 result has a run-time length
that compiled ops after it take as a symbolic dim (``tf.gather(boxes, selected)``)."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import float32, int32
from . import math_ops as M
from .graph import Tensor, name_scope
from .op_builder import convert_to_tensor, make_op, static_value

__all__ = ["non_max_suppression"]


def non_max_suppression(boxes: Any, scores: Any, max_output_size: Any, iou_threshold: Any = 0.5,
                        score_threshold: Any = float("-inf"),
                        name: Optional[str] = None) -> Tensor:
    """The indices (int32, at most ``max_output_size``) of the boxes [num_boxes, 4] that
    greedy non-max suppression keeps, by descending score: a box whose IoU with a kept one
    exceeds ``iou_threshold`` is dropped, and so is one scoring no more than
    ``score_threshold``."""
    with name_scope(name, "non_max_suppression") as scope:
        b = convert_to_tensor(boxes, name="boxes")
        s = convert_to_tensor(scores, name="scores")
        if not (b.dtype.is_floating and s.dtype.is_floating):
            raise TypeError(f"non_max_suppression: boxes and scores must be float, got "
                            f"{b.dtype.name} and {s.dtype.name}")
        iou = static_value(iou_threshold)
        if iou is not None and not 0.0 <= float(np.asarray(iou).reshape(())) <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {iou}")
        args = [M.cast(b, float32) if b.dtype != float32 else b,
                M.cast(s, float32) if s.dtype != float32 else s,
                M.cast(convert_to_tensor(max_output_size, name="max_output_size"), int32),
                convert_to_tensor(iou_threshold, dtype=float32, name="iou_threshold"),
                convert_to_tensor(score_threshold, dtype=float32, name="score_threshold")]
        return make_op("NonMaxSuppressionV3", "non_max_suppression", args,
                       name=scope).outputs[0]
