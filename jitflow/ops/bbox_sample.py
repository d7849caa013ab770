"""``sample_distorted_bounding_box``: TF's SampleDistortedBoundingBox(V2) on the host, a seeded
sampler as in ``ops/random_host.py`` (operand 0 the run step, Philox keyed by the seed pair).

TF's algorithm, step for step (pixel rectangles in ints, areas and ratios in float32):
the boxes (``[ymin, xmin, ymax, xmax]`` in [0, 1]) are truncated to pixels; with none given
and ``use_image`` the whole image is the one box. Then up to ``max_attempts`` times: an
aspect ratio uniform in ``aspect_ratio_range``; a height uniform in the integers between
``round(sqrt(min_area / ratio))`` and the largest height whose width ``round(h * ratio)``
fits (areas from ``area_range`` times the image's), nudged once up or down when rounding put
the area outside the range; an offset uniform where the crop fits; accepted when it holds at
least one pixel and covers ``min_object_covered`` of some box of at least one pixel. When no
attempt is accepted the crop is the whole image. Results: ``begin = [y, x, 0]``,
``size = [h, w, -1]`` (the dtype of image_size) and ``bboxes`` ``[1, 1, 4]`` (float32, the
crop normalized).
"""
from __future__ import annotations

import numpy as np

from .. import errors
from ..ir.dtypes import float32
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType
from .random_host import _check_step, stream

_F = np.float32
_INT_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16")


def _rint(v) -> int:
    return int(np.rint(_F(v)))              # lrintf: to nearest, ties to even


def random_crop(width: int, height: int, min_rel: float, max_rel: float, ratio: float,
                rng: np.random.Generator):
    """One attempt of TF's GenerateRandomCrop: ``(x, y, w, h)`` or None."""
    if max_rel <= 0 or ratio <= 0 or width <= 0 or height <= 0 or min_rel > max_rel:
        return None
    min_area = _F(min_rel) * _F(width) * _F(height)
    max_area = _F(max_rel) * _F(width) * _F(height)
    h = _rint(np.sqrt(_F(min_area / _F(ratio))))
    max_h = _rint(np.sqrt(_F(max_area / _F(ratio))))
    if _rint(_F(max_h) * _F(ratio)) > width:
        max_h = int((width + 0.5 - 1e-7) / _F(ratio))
    max_h = min(max_h, height)
    h = min(h, max_h)
    if h < max_h:
        h += int(rng.integers(max_h - h + 1))
    w = _rint(_F(h) * _F(ratio))
    area = _F(w * h)
    if area < min_area:
        h += 1
        w = _rint(_F(h) * _F(ratio))
        area = _F(w * h)
    if area > max_area:
        h -= 1
        w = _rint(_F(h) * _F(ratio))
        area = _F(w * h)
    if area < min_area or area > max_area or w > width or h > height or w <= 0 or h <= 0:
        return None
    y = int(rng.integers(height - h)) if h < height else 0
    x = int(rng.integers(width - w)) if w < width else 0
    return x, y, w, h


def _covers(crop, covered: float, boxes: list) -> bool:
    """TF's SatisfiesOverlapConstraints on pixel rectangles ``(x0, y0, x1, y1)``."""
    x0, y0, x1, y1 = crop
    if _F((x1 - x0) * (y1 - y0)) < 1:
        return False
    for bx0, by0, bx1, by1 in boxes:
        area = _F((bx1 - bx0) * (by1 - by0))
        if area < 1:
            continue
        ix0, iy0, ix1, iy1 = max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1)
        inter = 0 if ix0 > ix1 or iy0 > iy1 else (ix1 - ix0) * (iy1 - iy0)
        if _F(inter) / area >= _F(covered):
            return True
    return False


def _infer(types, a):
    if len(types) != 4:
        raise ShapeMismatch(f"sample_distorted_bounding_box takes (step, image_size, "
                            f"bounding_boxes, min_object_covered), got {len(types)} operands")
    step, size, boxes, covered = types
    _check_step(step, "sample_distorted_bounding_box")
    if size.dtype.name not in _INT_TYPES:
        raise TypeError(f"sample_distorted_bounding_box: image_size must be one of "
                        f"{list(_INT_TYPES)}, got {size.dtype.name}")
    if size.shape is not None and (len(size.shape) != 1 or size.shape[0] not in (None, 3)):
        raise ShapeMismatch(f"image_size must be a vector of 3 elements [height, width, "
                            f"channels], got {size}")
    if boxes.dtype is not float32 or boxes.shape is None or len(boxes.shape) != 3 or \
            boxes.shape[2] not in (None, 4):
        raise ShapeMismatch(f"bounding_boxes must be float32 of shape [batch, N, 4], got "
                            f"{boxes}")
    if covered.dtype is not float32 or covered.shape not in ((), None):
        raise ShapeMismatch(f"min_object_covered must be a float32 scalar, got {covered}")
    return [TensorType(size.dtype, (3,)), TensorType(size.dtype, (3,)),
            TensorType(float32, (1, 1, 4))]


def _reference(step, image_size, boxes, covered, *, seed, seed2, aspect_lo, aspect_hi, area_lo,
               area_hi, max_attempts, use_image):
    what = "sample_distorted_bounding_box"
    size = np.asarray(image_size).reshape(-1)
    if size.size != 3:
        raise errors.InvalidArgumentError(f"image_size must contain 3 elements, got shape "
                                          f"{list(np.shape(image_size))}")
    height, width = int(size[0]), int(size[1])
    if not (0 <= height < 2 ** 31 - 1 and 0 <= width < 2 ** 31 - 1):
        raise errors.InvalidArgumentError(f"{what}: image height and width must be in "
                                          f"[0, int32 max), got {height} x {width}")
    covered = float(np.asarray(covered))
    if not covered >= 0:
        raise errors.InvalidArgumentError(f"Min object covered must be non-negative: {covered}")
    flat = np.asarray(boxes, np.float32).reshape(-1, 4)
    bad = flat[~((flat >= 0) & (flat <= 1))]
    if bad.size:
        raise errors.InvalidArgumentError(f"All bounding box coordinates must be in "
                                          f"[0.0, 1.0]: {bad[0]}")
    rects = [(int(_F(b[1]) * _F(width)), int(_F(b[0]) * _F(height)),
              int(_F(b[3]) * _F(width)), int(_F(b[2]) * _F(height))) for b in flat]
    whole = (0, 0, width, height)
    if not rects:
        if not use_image:
            raise errors.InvalidArgumentError(
                "No bounding boxes provided as input. One must enable "
                "use_image_if_no_bounding_boxes if you wish to not provide any bounding boxes.")
        rects = [whole]
    rng = stream(seed, seed2, step)
    crop = whole
    for _ in range(max_attempts):
        ratio = _F(rng.random(dtype=np.float32)) * _F(aspect_hi - aspect_lo) + _F(aspect_lo)
        got = random_crop(width, height, area_lo, area_hi, float(ratio), rng)
        if got is not None:
            x, y, w, h = got
            if _covers((x, y, x + w, y + h), covered, rects):
                crop = (x, y, x + w, y + h)
                break
    x0, y0, x1, y1 = crop
    dt = np.asarray(image_size).dtype
    begin = np.array([y0, x0, 0], dt)
    out_size = np.array([y1 - y0, x1 - x0, -1]).astype(dt)
    norm = np.array([[[_F(y0) / _F(height) if height else 0, _F(x0) / _F(width) if width else 0,
                       _F(y1) / _F(height) if height else 0,
                       _F(x1) / _F(width) if width else 0]]], np.float32)
    return begin, out_size, norm


defop("sample_distorted_bounding_box", kind="host", num_inputs=4, infer=_infer,
      reference=_reference, differentiable=False, stateful=True,
      attrs={"seed": Attr("int", 0), "seed2": Attr("int", 0), "aspect_lo": Attr("float", 0.75),
             "aspect_hi": Attr("float", 1.33), "area_lo": Attr("float", 0.05),
             "area_hi": Attr("float", 1.0), "max_attempts": Attr("int", 100),
             "use_image": Attr("bool", False)},
      unlowered_on=dict.fromkeys(("llvm", "cuda"), "a rejection sampler of crops, seeded per "
                                 "run: the Session runs it on the host"),
      doc="(begin, size, bboxes) of a random crop covering enough of a box, as TF's "
          "SampleDistortedBoundingBoxV2; operands (step, image_size, bounding_boxes, "
          "min_object_covered)")
