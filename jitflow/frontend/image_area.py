"""``tf.image.resize_area``: TF's ResizeArea as a composition of existing ops.

TF's kernel gives output row ``o`` the average of the input over the box
``[o * scale, (o + 1) * scale)`` (``scale`` = ``in / out``, or ``(in - 1) / (out - 1)`` with
align_corners; float32 coordinates), each input pixel ``[i, i + 1)`` weighted by its overlap
with the box and pixels past the last one read as the last one (TF clamps the indices). The
average is separable, so it runs per axis: with ``F(t)``, the integral of the input from 0 to
``t`` (an exclusive cumsum plus the part-pixel ``(t - k) * x[k]``, ``k = min(floor(t), in - 1)``),
the row is ``(F((o + 1) * scale) - F(o * scale)) / scale``: two gathers of the cumsum and two
of the input per axis whatever the scale (up- and down-sampling alike, static or run-time
input sizes), computed in float64 so the difference of two prefix sums loses nothing a
float32 result would keep. The output is float32 for every input dtype, as TF's. A 1-pixel
axis resized with align_corners has scale 0 and empty boxes: 0 * (1 / 0), NaN, as TF's
``sum * (1 / (scale_y * scale_x))``.

Gradient: TF registers none for ResizeArea (``tf.gradients`` raises LookupError there); this
composition is differentiable, so jitflow gives the exact adjoint of the (linear) resize.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import float32, float64
from . import math_ops as M
from .array_ops import expand_dims, shape as shape_of
from .array_extra import cumsum
from .extra_ops import gather
from .graph import Tensor, name_scope
from .image import _Dynamic, _Static, _axis_shape, _named, _scale, _size
from .op_builder import constant, convert_to_tensor

__all__ = ["resize_area"]


def _input(images: Any) -> tuple[Tensor, bool]:
    x = convert_to_tensor(images, name="images")
    if x.shape.ndims not in (3, 4):
        raise ValueError(f"resize_area: 'images' must be of rank 3 or 4 (HWC or NHWC), got "
                         f"shape {x.shape}")
    if not (x.dtype.is_floating or x.dtype.is_integer) or x.dtype.name == "bool":
        raise TypeError(f"resize_area: images must be of an integer or floating type, got "
                        f"{x.dtype.name}")
    batched = x.shape.ndims == 4
    x = M.cast(x, float64) if x.dtype != float64 else x
    return (x if batched else expand_dims(x, 0)), batched


def _edges(x: Tensor, axis: int, out_n: int, align_corners: bool) -> tuple:
    """(tap math, box starts, box ends, float32 scale, input size) along ``axis``; NumPy for
    a static input size, graph tensors for a run-time one. Coordinates are float32 as TF's."""
    n = x.shape.dims[axis]
    o = np.arange(out_n + 1, dtype=np.float32)
    if n is not None:
        s = _scale(out_n, n, align_corners)
        t = o * s
        return _Static, t[:-1], t[1:], s, n
    nf = M.cast(shape_of(x)[axis], float32)
    s = _scale(out_n, nf, align_corners)
    return _Dynamic, M.multiply(constant(o[:-1]), s), M.multiply(constant(o[1:]), s), s, nf


def _integral(x: Tensor, csum: Tensor, xp: Any, t: Any, n: Any, axis: int, out_n: int) -> Tensor:
    """``F(t)`` along ``axis``: the input's integral from 0 to each coordinate of ``t``."""
    k = xp.minimum(xp.floor(t), n - 1)
    idx = xp.index(k)
    part = xp.weight(t - k, float64, _axis_shape(axis, out_n))
    return M.add(gather(csum, idx, axis=axis), M.multiply(gather(x, idx, axis=axis), part))


def _area_axis(x: Tensor, axis: int, out_n: int, align_corners: bool) -> Tensor:
    xp, lo, hi, s, n = _edges(x, axis, out_n, align_corners)
    csum = cumsum(x, axis=axis, exclusive=True)
    box = M.subtract(_integral(x, csum, xp, hi, n, axis, out_n),
                     _integral(x, csum, xp, lo, n, axis, out_n))
    with np.errstate(divide="ignore"):              # scale 0: TF's NaN, see the module doc
        inv = constant(np.float64(1.0) / np.float64(s)) if xp is _Static else \
            M.truediv(1.0, M.cast(s, float64))
    return M.multiply(box, inv)


def resize_area(images: Any, size: Any, align_corners: bool = False,
                name: Optional[str] = None) -> Tensor:
    """``tf.image.resize_area``: [batch,] new_height, new_width, channels float32, each pixel
    the area-weighted average of the input pixels its box covers (see the module doc)."""
    with name_scope(name, "ResizeArea") as scope:
        x, batched = _input(images)
        oh, ow = _size(size)
        out = x
        for axis, o in ((1, oh), (2, ow)):
            out = _area_axis(out, axis, o, align_corners)
        out = M.cast(out, float32)
        return _named(out if batched else out[0], scope)
