"""``tf.image.crop_and_resize`` and ``tf.image.resize_image_with_pad`` as compositions of
existing ops (so they compile on every backend and differentiate).

crop_and_resize is TF's CropAndResize kernel: box ``n`` = (y1, x1, y2, x2), normalized, of
image ``box_ind[n]``; crop row ``i`` samples ``in_y = y1 * (H - 1) + i * (y2 - y1) * (H - 1) /
(crop_h - 1)`` (one row: ``(y1 + y2) / 2 * (H - 1)``), columns likewise, in float32; a sample
outside ``[0, H - 1] x [0, W - 1]`` is ``extrapolation_value``; inside, bilinear between
``floor`` and ``ceil`` (or the nearest pixel, C's ``round``). The samples are gathers from the
images flattened to [batch * H * W, C] at indices computed in the graph from the boxes, so the
gradient reaches the image (TF's CropAndResizeGradImage) and the boxes (CropAndResizeGradBoxes:
through the interpolation weights; the floors and the in-image test have none). Output
float32 [num_boxes, crop_h, crop_w, C], as TF's.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import float32, int32
from . import math_ops as M
from . import math_unary as U
from .array_ops import reshape, shape as shape_of, where_v2
from .extra_ops import gather
from .graph import Tensor, name_scope
from .image import ResizeMethod, _hw, _image, pad_to_bounding_box, resize_images
from .op_builder import constant, convert_to_tensor, static_ints

__all__ = ["crop_and_resize", "resize_image_with_pad"]


def _crop_size(crop_size: Any) -> tuple[int, int]:
    s = static_ints(crop_size, "crop_size")
    if s is None or len(s) != 2 or min(s) <= 0:
        raise ValueError(f"crop_and_resize: crop_size must be 2 positive static ints "
                         f"(crop_height, crop_width), got {crop_size}")
    return s[0], s[1]


def _samples(lo: Tensor, hi: Tensor, n_in: Any, n_out: int) -> Tensor:
    """[num_boxes, n_out] float32 source coordinates along one axis (TF's formula)."""
    last = M.cast(M.subtract(n_in, 1), float32)
    if n_out == 1:
        return M.multiply(M.multiply(M.add(lo, hi), 0.5), last)[:, None]
    step = M.truediv(M.multiply(M.subtract(hi, lo), last), float(n_out - 1))
    k = constant(np.arange(n_out, dtype=np.float32)[None, :])
    return M.add(M.multiply(lo, last)[:, None], M.multiply(k, step[:, None]))


def crop_and_resize(image: Any, boxes: Any, box_ind: Any = None, crop_size: Any = None,
                    method: str = "bilinear", extrapolation_value: float = 0.0,
                    name: Optional[str] = None, box_indices: Any = None) -> Tensor:
    """``tf.image.crop_and_resize``: [num_boxes, crop_h, crop_w, C] float32 crops of ``image``
    [batch, H, W, C] at ``boxes`` [num_boxes, 4] (normalized y1, x1, y2, x2) of the images
    ``box_ind`` (``box_indices``) [num_boxes]; ``method`` 'bilinear' or 'nearest'."""
    if method not in ("bilinear", "nearest"):
        raise ValueError(f"crop_and_resize: method must be 'bilinear' or 'nearest', got "
                         f"{method!r}")
    ind = box_indices if box_ind is None else box_ind
    if ind is None or crop_size is None:
        raise TypeError("crop_and_resize needs box_ind (box_indices) and crop_size")
    ch, cw = _crop_size(crop_size)
    with name_scope(name, "CropAndResize") as scope:
        x = convert_to_tensor(image, name="image")
        dims = x.shape.dims
        if dims is None or len(dims) != 4:
            raise ValueError(f"crop_and_resize: image must be 4-D [batch, height, width, "
                             f"depth], got shape {x.shape}")
        if dims[3] is None:
            raise NotImplementedError(f"crop_and_resize needs a static depth, got {x.shape}")
        if not (x.dtype.is_floating or x.dtype.is_integer) or x.dtype.name == "bool":
            raise TypeError(f"crop_and_resize: image must be of a real type, got "
                            f"{x.dtype.name}")
        b = M.cast(convert_to_tensor(boxes, name="boxes"), float32)
        if b.shape.dims is not None and (len(b.shape.dims) != 2 or b.shape.dims[1] not in
                                         (None, 4)):
            raise ValueError(f"crop_and_resize: boxes must be [num_boxes, 4], got {b.shape}")
        idx = M.cast(convert_to_tensor(ind, name="box_ind"), int32)
        xf = M.cast(x, float32) if x.dtype != float32 else x
        h = dims[1] if dims[1] is not None else shape_of(x)[1]
        w = dims[2] if dims[2] is not None else shape_of(x)[2]
        ys = _samples(b[:, 0], b[:, 2], h, ch)                 # [N, ch]
        xs = _samples(b[:, 1], b[:, 3], w, cw)                 # [N, cw]
        hl, wl = M.cast(M.subtract(h, 1), float32), M.cast(M.subtract(w, 1), float32)
        inside = M.logical_and(
            M.logical_and(M.greater_equal(ys, 0.0), M.less_equal(ys, hl))[:, :, None],
            M.logical_and(M.greater_equal(xs, 0.0), M.less_equal(xs, wl))[:, None, :])
        flat = reshape(xf, [-1, dims[3]])
        base = M.multiply(M.multiply(idx, h), w)[:, None, None]        # [N, 1, 1]

        def clamp(v: Tensor, top: Tensor) -> Tensor:
            return M.cast(M.minimum(M.maximum(v, 0.0), top), int32)

        def at(yi: Tensor, xi: Tensor) -> Tensor:               # [N, ch] x [N, cw] -> pixels
            flat_idx = M.add(M.add(base, M.multiply(yi, w)[:, :, None]), xi[:, None, :])
            return gather(flat, flat_idx, axis=0)              # [N, ch, cw, C]
        if method == "nearest":
            out = at(clamp(U.floor(M.add(ys, 0.5)), hl), clamp(U.floor(M.add(xs, 0.5)), wl))
        else:
            fy, fx = U.floor(ys), U.floor(xs)
            y0, y1 = clamp(fy, hl), clamp(U.ceil(ys), hl)
            x0, x1 = clamp(fx, wl), clamp(U.ceil(xs), wl)
            ly = M.subtract(ys, fy)[:, :, None, None]
            lx = M.subtract(xs, fx)[:, None, :, None]
            tl, tr, bl, br = at(y0, x0), at(y0, x1), at(y1, x0), at(y1, x1)
            top = M.add(tl, M.multiply(M.subtract(tr, tl), lx))
            bottom = M.add(bl, M.multiply(M.subtract(br, bl), lx))
            out = M.add(top, M.multiply(M.subtract(bottom, top), ly))
        fill = constant(np.float32(extrapolation_value))
        return where_v2(inside[:, :, :, None], out, fill, name=scope)


def resize_image_with_pad(image: Any, target_height: int, target_width: int,
                          method: int = ResizeMethod.BILINEAR,
                          align_corners: bool = False) -> Tensor:
    """``tf.image.resize_image_with_pad``: resized (keeping the aspect ratio) to fit
    target_height x target_width, then zero-padded to it, centred (TF's float64 arithmetic:
    ``ratio = max(w / tw, h / th)``, size ``floor(side / ratio)``, offset
    ``floor((target - side / ratio) / 2)``)."""
    x, batched = _image(image, "resize_image_with_pad")
    h, w = _hw(x, batched, "resize_image_with_pad")
    th, tw = int(target_height), int(target_width)
    if th <= 0 or tw <= 0:
        raise ValueError(f"resize_image_with_pad: target size must be positive, got "
                         f"{th}x{tw}")
    ratio = max(w / tw, h / th)
    rh, rw = h / ratio, w / ratio
    ph = max(0, int(np.floor((th - rh) / 2)))
    pw = max(0, int(np.floor((tw - rw) / 2)))
    resized = resize_images(x, [int(np.floor(rh)), int(np.floor(rw))], method, align_corners)
    return pad_to_bounding_box(resized, ph, pw, th, tw)
