"""Small ``tf.image`` names composed of existing ops, as TF 1.15 defines them:
``adjust_gamma`` (``gain * x ** gamma`` on float32, integer images converted there and back
with saturation), ``image_gradients`` (forward differences, a zero last row/column),
``sobel_edges`` (the two 3x3 Sobel kernels on the REFLECT-padded image, as shifted slices),
and the linear colour spaces ``rgb_to_yuv`` / ``yuv_to_rgb`` / ``rgb_to_yiq`` /
``yiq_to_rgb`` (TF's 3x3 matrices on the last axis). ``ssim`` and ``ssim_multiscale`` are in
image_ssim.py."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.dtypes import float16, float32
from . import math_ops as M
from .array_ops import identity, stack
from .composite_ops import tensordot
from .extra_ops import pad
from .graph import Tensor, name_scope
from .image_color import convert_image_dtype
from .op_builder import constant, convert_to_tensor, static_value

__all__ = ["adjust_gamma", "image_gradients", "sobel_edges", "rgb_to_yuv", "yuv_to_rgb",
           "rgb_to_yiq", "yiq_to_rgb"]


def adjust_gamma(image: Any, gamma: Any = 1, gain: Any = 1) -> Tensor:
    """``gain * image ** gamma`` (TF: float16/float32 as they are, other dtypes through
    float32 by convert_image_dtype, back with saturation); a static negative gamma is a
    ValueError."""
    with name_scope(None, "adjust_gamma") as scope:
        x = convert_to_tensor(image, name="image")
        g = static_value(gamma)
        if g is not None and float(np.asarray(g).reshape(())) < 0:
            raise ValueError(f"Gamma should be a non-negative real number, got {g}")
        orig = x.dtype
        flt = x if orig in (float16, float32) else convert_image_dtype(x, float32)
        gm = convert_to_tensor(gamma, dtype=flt.dtype, name="gamma")
        gn = convert_to_tensor(gain, dtype=flt.dtype, name="gain")
        out = M.multiply(gn, M.pow(flt, gm))
        return convert_image_dtype(out, orig, saturate=True, name=scope)


def _four_d(image: Any, what: str) -> Tensor:
    x = convert_to_tensor(image, name="image")
    if x.shape.ndims != 4:
        raise ValueError(f"{what} expects a 4D tensor [batch_size, h, w, d], not {x.shape}")
    return x


def image_gradients(image: Any) -> tuple[Tensor, Tensor]:
    """(dy, dx): ``image[:, 1:] - image[:, :-1]`` with a zero last row, and likewise along
    the width; both of the image's shape."""
    x = _four_d(image, "image_gradients")
    dy = pad(M.subtract(x[:, 1:], x[:, :-1]), [[0, 0], [0, 1], [0, 0], [0, 0]])
    dx = pad(M.subtract(x[:, :, 1:], x[:, :, :-1]), [[0, 0], [0, 0], [0, 1], [0, 0]])
    return dy, dx


_SOBEL = (((-1, -2, -1), (0, 0, 0), (1, 2, 1)),        # d/dy
          ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1)))        # d/dx


def sobel_edges(image: Any) -> Tensor:
    """[batch, h, w, d, 2]: the Sobel responses (dy, dx) of each channel, the image
    REFLECT-padded by one pixel (TF: a depthwise correlation, VALID)."""
    x = _four_d(image, "sobel_edges")
    p = pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
    h, w = x.shape.dims[1], x.shape.dims[2]

    def window(i: int, j: int) -> Tensor:
        hs = slice(i, i + h) if h is not None else slice(i, (i - 2) or None)
        ws = slice(j, j + w) if w is not None else slice(j, (j - 2) or None)
        return p[:, hs, ws]
    outs = []
    for kernel in _SOBEL:
        acc = None
        for i, row in enumerate(kernel):
            for j, k in enumerate(row):
                if k:
                    term = M.multiply(window(i, j), constant(np.asarray(k, x.dtype.np)))
                    acc = term if acc is None else M.add(acc, term)
        outs.append(acc)
    return stack(outs, axis=-1)


_RGB_TO_YUV = ((0.299, -0.14714119, 0.61497538), (0.587, -0.28886916, -0.51496512),
               (0.114, 0.43601035, -0.10001026))
_YUV_TO_RGB = ((1, 1, 1), (0, -0.394642334, 2.03206185), (1.13988303, -0.58062185, 0))
_RGB_TO_YIQ = ((0.299, 0.59590059, 0.21153661), (0.587, -0.27455667, -0.52273617),
               (0.114, -0.32134392, 0.31119955))
_YIQ_TO_RGB = ((1, 1, 1), (0.95598634, -0.27201283, -1.10674021),
               (0.6208248, -0.64720424, 1.70423049))


def _linear(images: Any, kernel: tuple, what: str) -> Tensor:
    with name_scope(None, what) as scope:
        x = convert_to_tensor(images, name="images")
        if not x.dtype.is_floating:
            raise TypeError(f"{what}: float images only, got {x.dtype.name}")
        if x.shape.dims is None or x.shape.dims[-1] != 3:
            raise ValueError(f"{what} needs 3 channels last, got {x.shape}")
        k = constant(np.asarray(kernel, x.dtype.np), name="kernel")
        return identity(tensordot(x, k, axes=[[x.shape.ndims - 1], [0]]), name=scope)


def rgb_to_yuv(images: Any) -> Tensor:
    """YUV (BT.601: Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615])."""
    return _linear(images, _RGB_TO_YUV, "rgb_to_yuv")


def yuv_to_rgb(images: Any) -> Tensor:
    return _linear(images, _YUV_TO_RGB, "yuv_to_rgb")


def rgb_to_yiq(images: Any) -> Tensor:
    """YIQ (NTSC: Y in [0, 1], I in [-0.5957, 0.5957], Q in [-0.5226, 0.5226])."""
    return _linear(images, _RGB_TO_YIQ, "rgb_to_yiq")


def yiq_to_rgb(images: Any) -> Tensor:
    return _linear(images, _YIQ_TO_RGB, "yiq_to_rgb")
