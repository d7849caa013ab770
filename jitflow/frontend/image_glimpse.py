"""``tf.image.extract_glimpse`` as TF's kernel (Eigen's ``ExtractGlimpses``) computes it, in
graph ops: the offsets (y, x) of each image become the glimpse's top-left pixel
(normalized: times the image size; centered: from the image centre, half the window
removed when normalized too; truncated toward zero, as the kernel's cast), the glimpse's
pixels are gathered from the image where they lie inside it, and the rest is noise drawn
afresh each run: ``uniform`` (TF1's ``uniform_noise=True``): ``min + U[0, 1) * (max - min)``
of the whole image; ``gaussian`` (TF1's ``uniform_noise=False``): each channel's mean plus
its standard deviation times N(0, 1), clipped to the channel's [min, max]; ``zero``. The
numbers come from jitflow's random stream, not TF's. Float32 output."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import float32, int32
from . import math_ops as M
from .array_extra import cumsum
from .array_ops import ones_like, reshape, shape as shape_of, stack, where_v2
from .extra_ops import gather
from .graph import Tensor, name_scope
from .op_builder import constant, convert_to_tensor, static_ints
from .random_ops import random_normal, random_uniform

__all__ = ["extract_glimpse"]


def _corner(off: Tensor, n: int, g: int, normalized: bool, centered: bool) -> Tensor:
    """[batch] int32 first pixel of the glimpse along one axis (TF's float32 arithmetic)."""
    v = off
    if normalized:
        v = M.multiply(v, float(n))
        if centered:
            v = M.add(M.truediv(v, 2.0), n / 2.0)
            v = M.subtract(v, g / 2.0)
    elif centered:
        v = M.add(v, n / 2.0)
    return M.cast(v, int32)                                  # truncation toward zero


def extract_glimpse(input: Any, size: Any, offsets: Any, centered: bool = True,
                    normalized: bool = True, uniform_noise: bool = True,
                    name: Optional[str] = None, noise: Optional[str] = None) -> Tensor:
    """[batch, glimpse_h, glimpse_w, channels] windows of ``input`` [batch, h, w, channels]
    at ``offsets`` [batch, 2] (y, x); ``noise`` ('uniform', 'gaussian', 'zero': TF2's name)
    overrides ``uniform_noise``."""
    kind = noise if noise is not None else ("uniform" if uniform_noise else "gaussian")
    if kind not in ("uniform", "gaussian", "zero"):
        raise ValueError(f"extract_glimpse: noise must be 'uniform', 'gaussian' or 'zero', got "
                         f"{noise!r}")
    sz = static_ints(size, "size")
    if sz is None or len(sz) != 2 or min(sz) <= 0:
        raise ValueError(f"extract_glimpse: size must be 2 positive static ints (glimpse "
                         f"height, width), got {size}")
    gh, gw = sz
    with name_scope(name, "ExtractGlimpse") as scope:
        x = M.cast(convert_to_tensor(input, name="input"), float32)
        dims = x.shape.dims
        if dims is None or len(dims) != 4 or None in dims[1:]:
            raise ValueError(f"extract_glimpse: input must be 4-D [batch, height, width, "
                             f"channels] of static height, width and channels, got {x.shape}")
        h, w, c = dims[1:]
        off = M.cast(convert_to_tensor(offsets, name="offsets"), float32)
        y0 = _corner(off[:, 0], h, gh, normalized, centered)
        x0 = _corner(off[:, 1], w, gw, normalized, centered)
        ys = M.add(y0[:, None], constant(np.arange(gh, dtype=np.int32)[None, :]))   # [B, gh]
        xs = M.add(x0[:, None], constant(np.arange(gw, dtype=np.int32)[None, :]))   # [B, gw]
        inside = M.logical_and(
            M.logical_and(M.greater_equal(ys, 0), M.less(ys, h))[:, :, None],
            M.logical_and(M.greater_equal(xs, 0), M.less(xs, w))[:, None, :])
        yc = M.minimum(M.maximum(ys, 0), h - 1)
        xc = M.minimum(M.maximum(xs, 0), w - 1)
        batch = shape_of(x)[0]
        rows = M.cast(cumsum(ones_like(off[:, 0]), exclusive=True), int32)        # 0 .. B-1
        base = M.multiply(rows, h * w)
        flat_idx = M.add(M.add(base[:, None, None], M.multiply(yc, w)[:, :, None]),
                         xc[:, None, :])
        got = gather(reshape(x, [-1, c]), flat_idx, axis=0)                          # [B,gh,gw,C]
        out_shape = stack([batch, gh, gw, c])
        if kind == "zero":
            fill = constant(np.float32(0))
        elif kind == "uniform":
            lo = M.reduce_min(x, [1, 2, 3])[:, None, None, None]
            hi = M.reduce_max(x, [1, 2, 3])[:, None, None, None]
            fill = M.add(lo, M.multiply(random_uniform(out_shape), M.subtract(hi, lo)))
        else:
            mean = M.reduce_mean(x, [1, 2], keepdims=True)
            std = M.sqrt(M.reduce_mean(M.square(M.subtract(x, mean)), [1, 2], keepdims=True))
            lo = M.reduce_min(x, [1, 2], keepdims=True)
            hi = M.reduce_max(x, [1, 2], keepdims=True)
            g = M.add(mean, M.multiply(random_normal(out_shape), std))
            fill = M.maximum(M.minimum(g, hi), lo)
        return where_v2(inside[:, :, :, None], got, fill, name=scope)

