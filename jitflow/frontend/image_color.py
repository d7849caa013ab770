"""``tf.image`` colour ops on float RGB images in [0, 1] from existing ops: rgb_to_hsv,
hsv_to_rgb, adjust_saturation/hue and their random versions, convert_image_dtype (float and
int32 images), and ``resize`` with TF's method names."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import as_dtype
from . import math_ops as M
from .array_ops import stack, unstack, select as where, zeros_like
from .graph import Tensor, name_scope
from .op_builder import convert_to_tensor

__all__ = ["rgb_to_hsv", "hsv_to_rgb", "adjust_saturation", "adjust_hue", "random_saturation",
           "random_hue", "convert_image_dtype", "resize"]


def _channels(images: Any, what: str) -> tuple[Tensor, list]:
    x = convert_to_tensor(images)
    if not x.dtype.is_floating:
        raise TypeError(f"{what}: float images only (values in [0, 1]), got {x.dtype.name}")
    if x.shape.dims is None or x.shape.dims[-1] != 3:
        raise ValueError(f"{what} needs 3 channels last, got {x.shape}")
    return x, unstack(x, axis=-1)


def rgb_to_hsv(images: Any, name: Optional[str] = None) -> Tensor:
    """Hue in [0, 1) (0 for greys), saturation ``(max - min) / max`` (0 for black), value
    ``max``."""
    with name_scope(name, "rgb_to_hsv") as scope:
        x, (r, g, b) = _channels(images, "rgb_to_hsv")
        v = M.maximum(M.maximum(r, g), b)
        mn = M.minimum(M.minimum(r, g), b)
        c = M.subtract(v, mn)
        zero = zeros_like(v)
        c_pos = M.greater(c, zero)
        safe_c = where(c_pos, c, M.add(zero, 1.0))
        hr = M.floormod(M.truediv(M.subtract(g, b), safe_c), 6.0)
        hg = M.add(M.truediv(M.subtract(b, r), safe_c), 2.0)
        hb = M.add(M.truediv(M.subtract(r, g), safe_c), 4.0)
        h = where(M.equal(v, r), hr, where(M.equal(v, g), hg, hb))
        h = where(c_pos, M.truediv(h, 6.0), zero)
        v_pos = M.greater(v, zero)
        s = where(v_pos, M.truediv(c, where(v_pos, v, M.add(zero, 1.0))), zero)
        return stack([h, s, v], axis=-1, name=scope)


def hsv_to_rgb(images: Any, name: Optional[str] = None) -> Tensor:
    """The inverse of rgb_to_hsv: ``f(n) = v - v*s*clip(min(k, 4 - k), 0, 1)`` with
    ``k = (n + 6h) mod 6`` for n = 5, 3, 1."""
    with name_scope(name, "hsv_to_rgb") as scope:
        x, (h, s, v) = _channels(images, "hsv_to_rgb")

        def f(n: float) -> Tensor:
            k = M.floormod(M.add(M.multiply(h, 6.0), n), 6.0)
            t = M.minimum(M.minimum(k, M.subtract(4.0, k)), 1.0)
            t = M.maximum(t, 0.0)
            return M.subtract(v, M.multiply(M.multiply(v, s), t))
        return stack([f(5.0), f(3.0), f(1.0)], axis=-1, name=scope)


def adjust_saturation(image: Any, saturation_factor: Any, name: Optional[str] = None) -> Tensor:
    """Saturation scaled by the factor (clipped to [0, 1]) in HSV space."""
    with name_scope(name, "adjust_saturation") as scope:
        h, s, v = unstack(rgb_to_hsv(image), axis=-1)
        f = convert_to_tensor(saturation_factor, dtype=h.dtype)
        s = M.minimum(M.maximum(M.multiply(s, f), 0.0), 1.0)
        return hsv_to_rgb(stack([h, s, v], axis=-1), name=scope)


def adjust_hue(image: Any, delta: Any, name: Optional[str] = None) -> Tensor:
    """Hue rotated by ``delta`` (in [-1, 1]; a full turn is 1)."""
    with name_scope(name, "adjust_hue") as scope:
        h, s, v = unstack(rgb_to_hsv(image), axis=-1)
        d = convert_to_tensor(delta, dtype=h.dtype)
        h = M.floormod(M.add(h, d), 1.0)
        return hsv_to_rgb(stack([h, s, v], axis=-1), name=scope)


def random_saturation(image: Any, lower: float, upper: float,
                      seed: Optional[int] = None) -> Tensor:
    from .random_ops import random_uniform
    if upper <= lower:
        raise ValueError("upper must be > lower.")
    if lower < 0:
        raise ValueError("lower must be non-negative.")
    x = convert_to_tensor(image)
    return adjust_saturation(x, random_uniform([], lower, upper, dtype=x.dtype, seed=seed))


def random_hue(image: Any, max_delta: float, seed: Optional[int] = None) -> Tensor:
    from .random_ops import random_uniform
    if not 0 <= max_delta <= 0.5:
        raise ValueError("max_delta must be in the interval [0, 0.5].")
    x = convert_to_tensor(image)
    return adjust_hue(x, random_uniform([], -max_delta, max_delta, dtype=x.dtype, seed=seed))


def saturate_cast(value: Any, dtype: Any, name: Optional[str] = None) -> Tensor:
    """``tf.saturate_cast``: ``value`` clipped to ``dtype``'s range (where it is narrower
    than ``value``'s own), then cast."""
    dt = as_dtype(dtype)
    with name_scope(name, "saturate_cast") as scope:
        x = convert_to_tensor(value)
        if x.dtype.is_complex or dt.is_complex or x.dtype.is_bool or dt.is_bool:
            return M.cast(x, dt, name=scope)
        if float(x.dtype.min) < float(dt.min):
            x = M.maximum(x, M.cast(np.asarray(dt.min, np.float64), x.dtype))
        if float(x.dtype.max) > float(dt.max):
            x = M.minimum(x, M.cast(np.asarray(dt.max, np.float64), x.dtype))
        return M.cast(x, dt, name=scope)


def convert_image_dtype(image: Any, dtype: Any, saturate: bool = False,
                        name: Optional[str] = None) -> Tensor:
    """TF1's rules: float to float is a cast; integer to integer divides (to a narrower type,
    ``//``) or multiplies (to a wider one) by the ratio of the ranges; integer to float
    multiplies by ``1 / max``; float to integer multiplies by ``max + 0.5`` and truncates
    (``saturate``: clipped to the range first)."""
    dt = as_dtype(dtype)
    with name_scope(name, "convert_image") as scope:
        x = convert_to_tensor(image)
        src = x.dtype
        if src is dt:
            return x
        for d in (src, dt):
            if not (d.is_floating or d.is_integer):
                raise TypeError(f"convert_image_dtype: {d.name} images are not supported "
                                "(expected an integer or floating type)")
        cast = saturate_cast if saturate else (lambda v, d, name=None: M.cast(v, d, name=name))
        if src.is_integer and dt.is_integer:
            s_in, s_out = int(src.max), int(dt.max)
            if s_in > s_out:
                scale = (s_in + 1) // (s_out + 1)
                return cast(M.floordiv(x, M.cast(scale, src)), dt, name=scope)
            scale = (s_out + 1) // (s_in + 1)
            return M.multiply(cast(x, dt), M.cast(scale, dt), name=scope)
        if src.is_floating and dt.is_floating:
            return M.cast(x, dt, name=scope)
        if src.is_integer:
            return M.multiply(M.cast(x, dt), M.cast(1.0 / float(src.max), dt), name=scope)
        scaled = M.multiply(x, M.cast(float(dt.max) + 0.5, src))
        return cast(scaled, dt, name=scope)


def resize(images: Any, size: Any, method: Any = "bilinear", preserve_aspect_ratio: bool = False,
           antialias: bool = False, name: Optional[str] = None) -> Tensor:
    """``tf.image.resize`` with ``method`` 'bilinear', 'nearest' or 'bicubic' (or a ResizeMethod)."""
    from .image import ResizeMethod, resize_images
    if antialias:
        raise NotImplementedError("tf.image.resize(antialias=True)")
    m = {"bilinear": ResizeMethod.BILINEAR, "nearest": ResizeMethod.NEAREST_NEIGHBOR,
         "bicubic": ResizeMethod.BICUBIC, "area": ResizeMethod.AREA}.get(method, method)
    return resize_images(images, size, method=m, preserve_aspect_ratio=preserve_aspect_ratio)
