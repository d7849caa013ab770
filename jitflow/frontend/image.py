"""``tf.image`` on float images (HWC or NHWC) from existing ops: flips (random ones select
between the image and its reversed slice), crops and pads with static boxes, random_crop (a
gather of random offsets), per_image_standardization, rgb_to_grayscale, brightness and
contrast, and resize by nearest neighbour, bilinear or bicubic interpolation (TF1's kernels,
``align_corners`` either way, or ``half_pixel_centers``) as gathers of
precomputed rows/columns (computed in the graph when the input's height or width is known only
at run time); area averaging: ``image_area.py``.

Images may be uint8 (or any integer or float type): ``convert_image_dtype`` (``image_color.py``)
scales between them as TF1 does. Decoding and encoding files (``decode_png``, ``encode_png``,
``decode_jpeg``, ``decode_image``, ``tf.read_file``) are host ops on strings:
``data/image_codecs.py``."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import float32, int32
from . import math_ops as M
from . import math_unary as U
from .array_ops import expand_dims, select as where
from .extra_ops import gather, pad, tile
from .graph import Tensor, name_scope
from .op_builder import constant, convert_to_tensor, static_ints, static_value
from .random_ops import random_uniform

__all__ = ["flip_left_right", "flip_up_down", "random_flip_left_right", "random_flip_up_down",
           "per_image_standardization", "central_crop", "crop_to_bounding_box",
           "pad_to_bounding_box", "rgb_to_grayscale", "grayscale_to_rgb", "adjust_brightness",
           "adjust_contrast", "random_brightness", "random_contrast", "random_crop",
           "resize_images", "resize_nearest_neighbor", "resize_bilinear", "resize_bicubic",
           "ResizeMethod",
           "resize_image_with_crop_or_pad"]


def _image(image: Any, what: str) -> tuple[Tensor, bool]:
    """The image as a float tensor and whether it is a batch (rank 4)."""
    x = convert_to_tensor(image, name="image")
    r = x.shape.ndims
    if r not in (3, 4):
        raise ValueError(f"{what}: 'image' must be of rank 3 or 4 (HWC or NHWC), got shape "
                         f"{x.shape}")
    if not x.dtype.is_floating:
        raise TypeError(f"{what}: jitflow's tf.image works on float32/float64 images, got "
                        f"{x.dtype.name} (convert with tf.cast(image, tf.float32) / 255)")
    return x, r == 4


def _hw(x: Tensor, batched: bool, what: str) -> tuple[int, int]:
    dims = x.shape.dims
    h, w = (dims[1], dims[2]) if batched else (dims[0], dims[1])
    if h is None or w is None:
        raise NotImplementedError(f"{what} needs static height and width, got {x.shape}")
    return h, w


def _flip(image: Any, axis3: int, name: Optional[str], default: str) -> Tensor:
    with name_scope(name, default) as scope:
        x, batched = _image(image, default)
        a = axis3 + (1 if batched else 0)
        idx = [slice(None)] * x.shape.ndims
        idx[a] = slice(None, None, -1)
        return _named(x[tuple(idx)], scope)


def _named(t: Tensor, scope: str) -> Tensor:
    from .array_ops import identity
    return identity(t, name=scope)


def flip_left_right(image: Any, name: Optional[str] = None) -> Tensor:
    return _flip(image, 1, name, "flip_left_right")


def flip_up_down(image: Any, name: Optional[str] = None) -> Tensor:
    return _flip(image, 0, name, "flip_up_down")


def _random_flip(image: Any, axis3: int, seed: Optional[int], default: str) -> Tensor:
    with name_scope(None, default) as scope:
        x, batched = _image(image, default)
        flipped = _flip(x, axis3, None, "flip")
        n = x.shape.dims[0] if batched else None
        if batched and n is None:
            raise NotImplementedError(f"{default} of a batch needs a static batch size")
        u = random_uniform([n] if batched else [], dtype=x.dtype, seed=seed)
        return where(M.less(u, 0.5), flipped, x, name=scope)


def random_flip_left_right(image: Any, seed: Optional[int] = None) -> Tensor:
    """Each image mirrored left-right with probability 1/2 (a fresh draw per run)."""
    return _random_flip(image, 1, seed, "random_flip_left_right")


def random_flip_up_down(image: Any, seed: Optional[int] = None) -> Tensor:
    """Each image flipped upside down with probability 1/2 (a fresh draw per run)."""
    return _random_flip(image, 0, seed, "random_flip_up_down")


def per_image_standardization(image: Any) -> Tensor:
    """``(x - mean) / max(stddev, 1/sqrt(num_elements))`` per image."""
    with name_scope(None, "per_image_standardization") as scope:
        x, batched = _image(image, "per_image_standardization")
        dims = x.shape.dims[1:] if batched else x.shape.dims
        if any(d is None for d in dims):
            raise NotImplementedError("per_image_standardization needs a static image shape")
        n = float(np.prod(dims))
        axes = [1, 2, 3] if batched else [0, 1, 2]
        mean = M.reduce_mean(x, axes, keepdims=True)
        var = M.reduce_mean(M.square(M.subtract(x, mean)), axes, keepdims=True)
        std = M.maximum(M.sqrt(var), convert_to_tensor(1.0 / np.sqrt(n), dtype=x.dtype))
        return M.truediv(M.subtract(x, mean), std, name=scope)


def crop_to_bounding_box(image: Any, offset_height: int, offset_width: int, target_height: int,
                         target_width: int) -> Tensor:
    """The box of ``target_height x target_width`` at (offset_height, offset_width)."""
    with name_scope(None, "crop_to_bounding_box") as scope:
        x, batched = _image(image, "crop_to_bounding_box")
        h, w = _hw(x, batched, "crop_to_bounding_box")
        oh, ow, th, tw = (int(np.asarray(static_value(v)).reshape(())) for v in
                          (offset_height, offset_width, target_height, target_width))
        if oh < 0 or ow < 0 or th <= 0 or tw <= 0 or oh + th > h or ow + tw > w:
            raise ValueError(f"crop_to_bounding_box: box ({oh}, {ow}) + ({th}, {tw}) does not "
                             f"fit an image of {h}x{w}")
        hs, ws = slice(oh, oh + th), slice(ow, ow + tw)
        key = (slice(None), hs, ws) if batched else (hs, ws)
        return _named(x[key], scope)


def pad_to_bounding_box(image: Any, offset_height: int, offset_width: int, target_height: int,
                        target_width: int) -> Tensor:
    """The image placed at (offset_height, offset_width) in a zero image of the target size."""
    with name_scope(None, "pad_to_bounding_box") as scope:
        x, batched = _image(image, "pad_to_bounding_box")
        h, w = _hw(x, batched, "pad_to_bounding_box")
        oh, ow, th, tw = (int(np.asarray(static_value(v)).reshape(())) for v in
                          (offset_height, offset_width, target_height, target_width))
        after_h, after_w = th - oh - h, tw - ow - w
        if oh < 0 or ow < 0 or after_h < 0 or after_w < 0:
            raise ValueError(f"pad_to_bounding_box: an image of {h}x{w} at ({oh}, {ow}) does "
                             f"not fit {th}x{tw}")
        pads = [[oh, after_h], [ow, after_w], [0, 0]]
        return pad(x, ([[0, 0]] if batched else []) + pads, name=scope)


def resize_image_with_crop_or_pad(image: Any, target_height: int, target_width: int) -> Tensor:
    """Centrally crop and/or zero-pad to the target size."""
    x, batched = _image(image, "resize_image_with_crop_or_pad")
    h, w = _hw(x, batched, "resize_image_with_crop_or_pad")
    th, tw = int(target_height), int(target_width)
    ch, cw = max((h - th) // 2, 0), max((w - tw) // 2, 0)
    x = crop_to_bounding_box(x, ch, cw, min(th, h), min(tw, w))
    ph, pw = max((th - h) // 2, 0), max((tw - w) // 2, 0)
    return pad_to_bounding_box(x, ph, pw, th, tw)


def central_crop(image: Any, central_fraction: float) -> Tensor:
    """The central ``central_fraction`` of each side (TF's rounding:
    ``start = int((h - h*fraction) / 2)``, ``size = h - 2*start``)."""
    f = float(central_fraction)
    if f <= 0.0 or f > 1.0:
        raise ValueError("central_fraction must be within (0, 1]")
    x, batched = _image(image, "central_crop")
    if f == 1.0:
        return x
    h, w = _hw(x, batched, "central_crop")
    sh, sw = int((h - h * f) / 2), int((w - w * f) / 2)
    return crop_to_bounding_box(x, sh, sw, h - 2 * sh, w - 2 * sw)


_GRAY = (0.2989, 0.5870, 0.1140)


def rgb_to_grayscale(images: Any, name: Optional[str] = None) -> Tensor:
    """``0.2989 R + 0.5870 G + 0.1140 B``, keeping a channel dim of 1."""
    with name_scope(name, "rgb_to_grayscale") as scope:
        x = convert_to_tensor(images, name="images")
        if not x.dtype.is_floating:
            raise TypeError(f"rgb_to_grayscale: float images only, got {x.dtype.name}")
        if x.shape.dims is None or x.shape.dims[-1] != 3:
            raise ValueError(f"rgb_to_grayscale needs 3 channels last, got {x.shape}")
        w = constant(np.asarray(_GRAY, dtype=x.dtype.np), name="rgb_weights")
        return M.reduce_sum(M.multiply(x, w), [-1], keepdims=True, name=scope)


def grayscale_to_rgb(images: Any, name: Optional[str] = None) -> Tensor:
    """The single channel repeated three times."""
    with name_scope(name, "grayscale_to_rgb") as scope:
        x = convert_to_tensor(images, name="images")
        if x.shape.dims is None or x.shape.dims[-1] != 1:
            raise ValueError(f"grayscale_to_rgb needs 1 channel last, got {x.shape}")
        return tile(x, [1] * (x.shape.ndims - 1) + [3], name=scope)


def adjust_brightness(image: Any, delta: Any) -> Tensor:
    """``image + delta``."""
    with name_scope(None, "adjust_brightness") as scope:
        x, _ = _image(image, "adjust_brightness")
        return M.add(x, convert_to_tensor(delta, dtype=x.dtype, name="delta"), name=scope)


def adjust_contrast(images: Any, contrast_factor: Any) -> Tensor:
    """``(x - mean) * factor + mean`` with the mean over each image's pixels, per channel."""
    with name_scope(None, "adjust_contrast") as scope:
        x, batched = _image(images, "adjust_contrast")
        axes = [1, 2] if batched else [0, 1]
        mean = M.reduce_mean(x, axes, keepdims=True)
        f = convert_to_tensor(contrast_factor, dtype=x.dtype, name="contrast_factor")
        return M.add(M.multiply(M.subtract(x, mean), f), mean, name=scope)


def random_brightness(image: Any, max_delta: float, seed: Optional[int] = None) -> Tensor:
    """``adjust_brightness`` by a delta drawn from [-max_delta, max_delta)."""
    if max_delta < 0:
        raise ValueError("max_delta must be non-negative.")
    x, _ = _image(image, "random_brightness")
    delta = random_uniform([], -max_delta, max_delta, dtype=x.dtype, seed=seed)
    return adjust_brightness(x, delta)


def random_contrast(image: Any, lower: float, upper: float, seed: Optional[int] = None) -> Tensor:
    """``adjust_contrast`` by a factor drawn from [lower, upper)."""
    if upper <= lower:
        raise ValueError("upper must be > lower.")
    if lower < 0:
        raise ValueError("lower must be non-negative.")
    x, _ = _image(image, "random_contrast")
    return adjust_contrast(x, random_uniform([], lower, upper, dtype=x.dtype, seed=seed))


def random_crop(value: Any, size: Any, seed: Optional[int] = None,
                name: Optional[str] = None) -> Tensor:
    """A ``size`` slice of ``value`` at a uniformly random offset (a fresh one per run), as
    a gather of ``offset + arange(size)`` along each dimension that shrinks."""
    with name_scope(name, "random_crop") as scope:
        x = convert_to_tensor(value, name="value")
        dims = x.shape.dims
        sz = static_ints(size, "size")
        if dims is None or len(sz) != len(dims) or any(d is None for d in dims):
            raise ValueError(f"random_crop: size {list(sz)} must match the static rank and "
                             f"shape of value {x.shape}")
        out = x
        for a, (d, s) in enumerate(zip(dims, sz)):
            if s > d or s < 0:
                raise ValueError(f"random_crop: size {list(sz)} exceeds the shape {x.shape}")
            if s == d:
                continue
            u = random_uniform([], dtype=float32, seed=None if seed is None else seed + a)
            off = M.minimum(M.cast(M.multiply(u, float(d - s + 1)), int32), d - s)
            idx = M.add(constant(np.arange(s, dtype=np.int32)), off)
            out = gather(out, idx, axis=a)
        return _named(out, scope)


# ---------------------------------------------------------------------- resize -------------

class ResizeMethod:
    BILINEAR = 0
    NEAREST_NEIGHBOR = 1
    BICUBIC = 2
    AREA = 3


def _size(size: Any) -> tuple[int, int]:
    s = static_ints(size, "size")
    if s is None or len(s) != 2 or min(s) <= 0:
        raise ValueError(f"'size' must be a 1-D int32 Tensor of 2 positive elements: "
                         f"new_height, new_width; got {size}")
    return s[0], s[1]


def _batch(images: Any, what: str) -> tuple[Tensor, bool]:
    x, batched = _image(images, what)
    return (x if batched else expand_dims(x, 0)), batched


def _scale(out_n: int, in_n: Any, align_corners: bool) -> Any:
    """TF's ``CalculateResizeScale``: ``(in - 1) / (out - 1)`` with align_corners (and more
    than one output), else ``in / out``; a float32 NumPy scalar for a static ``in_n``, a
    float32 graph scalar for a dynamic one."""
    f = np.float32
    align = align_corners and out_n > 1
    if isinstance(in_n, (int, np.integer)):
        return f(in_n - 1) / f(out_n - 1) if align else f(in_n) / f(out_n)
    if align:
        return M.truediv(M.subtract(in_n, 1.0), float(out_n - 1))
    return M.truediv(in_n, float(out_n))


def _source(out_n: int, in_n: int, align_corners: bool, half_pixel: str = "") -> np.ndarray:
    """The source coordinate of each output row/column, in float32 as TF's kernels compute
    it (``LegacyScaler`` ``o * scale``; ``half_pixel`` "bilinear": ``HalfPixelScaler``
    ``(o + 0.5) * scale - 0.5``, "nearest": ``HalfPixelScalerForNN`` ``(o + 0.5) * scale``)
    so a static and a dynamic size agree."""
    f = np.float32
    scale = _scale(out_n, in_n, align_corners)
    o = np.arange(out_n, dtype=np.float32)
    if half_pixel == "bilinear":
        return (o + f(0.5)) * scale - f(0.5)
    if half_pixel == "nearest":
        return (o + f(0.5)) * scale
    return o * scale


class _Static:
    """Tap math on a static input size: NumPy on float32 coordinates, into constants."""
    floor, ceil, rint, minimum, maximum = np.floor, np.ceil, np.rint, np.minimum, np.maximum

    @staticmethod
    def index(a: Any) -> Tensor:
        return constant(np.asarray(a).astype(np.int32))

    @staticmethod
    def weight(a: Any, dtype: Any, shape: list) -> Tensor:
        return constant(np.asarray(a).astype(dtype.np).reshape(shape))

    @staticmethod
    def inside(v: Any, n: Any) -> Any:
        """1 where the coordinate ``v`` is a pixel of an axis of ``n``, else 0 (float32)."""
        return ((v >= 0) & (v <= n - 1)).astype(np.float32)


class _Dynamic:
    """Tap math on a size known only at run time: graph ops in float32 (as TF's kernels)."""
    floor, ceil, rint, minimum, maximum = U.floor, U.ceil, U.round, M.minimum, M.maximum

    @staticmethod
    def index(a: Any) -> Tensor:
        return M.cast(a, int32)

    @staticmethod
    def weight(a: Any, dtype: Any, shape: list) -> Tensor:
        from .array_ops import reshape
        return reshape(M.cast(a, dtype), shape)

    @staticmethod
    def inside(v: Any, n: Any) -> Any:
        return M.cast(M.logical_and(M.greater_equal(v, 0.0), M.less_equal(v, n - 1)), float32)


def _axis(x: Tensor, axis: int, out_n: int, align_corners: bool,
          half_pixel: str = "") -> tuple[Any, Any, Any]:
    """(tap math, source coordinates [out_n], input size) along ``axis`` of ``x``: NumPy
    values when the input size is static, float32 graph tensors when it is not (a decoded
    image's height and width)."""
    n = x.shape.dims[axis]
    if n is not None:
        return _Static, _source(out_n, n, align_corners, half_pixel), n
    from .array_ops import shape
    nf = M.cast(shape(x)[axis], float32)
    scale = _scale(out_n, nf, align_corners)
    o = constant(np.arange(out_n, dtype=np.float32))
    if half_pixel == "bilinear":
        return _Dynamic, M.subtract(M.multiply(M.add(o, 0.5), scale), 0.5), nf
    if half_pixel == "nearest":
        return _Dynamic, M.multiply(M.add(o, 0.5), scale), nf
    return _Dynamic, M.multiply(o, scale), nf


def _centers(what: str, align_corners: bool, half_pixel_centers: bool) -> None:
    if align_corners and half_pixel_centers:
        raise ValueError(f"{what}: if half_pixel_centers is True, align_corners must be False "
                         f"(got align_corners=True, half_pixel_centers=True)")


def _axis_shape(axis: int, out_n: int) -> list:
    shape = [1, 1, 1, 1]
    shape[axis] = out_n
    return shape


def _resize(images: Any, size: Any, what: str, scope: str, step: Any) -> Tensor:
    """Resize rows (axis 1), then columns (axis 2), of an image or batch by ``step(out,
    axis, out_n)``; the input height and width may be dynamic."""
    x, batched = _batch(images, what)
    oh, ow = _size(size)
    out = x
    for axis, o in ((1, oh), (2, ow)):
        out = step(out, axis, o)
    return _named(out if batched else out[0], scope)


def resize_nearest_neighbor(images: Any, size: Any, align_corners: bool = False,
                            name: Optional[str] = None, half_pixel_centers: bool = False) -> Tensor:
    """TF1's kernel: source ``floor(o * scale)`` (``round`` with align_corners, halves away
    from zero as C's roundf), clamped to the image; ``half_pixel_centers``:
    ``floor((o + 0.5) * scale)`` clamped to ``[0, in - 1]`` (TF 1.15)."""
    _centers("resize_nearest_neighbor", align_corners, half_pixel_centers)

    def step(out: Tensor, axis: int, o: int) -> Tensor:
        xp, src, n = _axis(out, axis, o, align_corners, "nearest" if half_pixel_centers else "")
        idx = xp.minimum(xp.floor(src + 0.5) if align_corners else xp.floor(src), n - 1)
        if half_pixel_centers:
            idx = xp.maximum(idx, 0.0)
        return gather(out, xp.index(idx), axis=axis)
    with name_scope(name, "ResizeNearestNeighbor") as scope:
        return _resize(images, size, "resize_nearest_neighbor", scope, step)


def resize_bilinear(images: Any, size: Any, align_corners: bool = False,
                    name: Optional[str] = None, half_pixel_centers: bool = False) -> Tensor:
    """TF1's kernel: source ``s = o * scale`` (``half_pixel_centers``: ``(o + 0.5) * scale
    - 0.5``), taps ``max(floor(s), 0)`` and ``min(ceil(s), in - 1)``, weight
    ``s - floor(s)``."""
    _centers("resize_bilinear", align_corners, half_pixel_centers)

    def step(out: Tensor, axis: int, o: int) -> Tensor:
        xp, src, n = _axis(out, axis, o, align_corners, "bilinear" if half_pixel_centers else "")
        fl = xp.floor(src)
        lo = xp.maximum(fl, 0.0)
        hi = xp.minimum(xp.ceil(src), n - 1)
        a = gather(out, xp.index(lo), axis=axis)
        b = gather(out, xp.index(hi), axis=axis)
        t = xp.weight(src - fl, out.dtype, _axis_shape(axis, o))
        return M.add(a, M.multiply(M.subtract(b, a), t))
    with name_scope(name, "ResizeBilinear") as scope:
        return _resize(images, size, "resize_bilinear", scope, step)


_CUBIC_A = -0.75
_KEYS_A = -0.5
_CUBIC_TABLE = 1024


def _cubic_taps(xp: Any, src: Any, n: Any, keys: bool = False) -> tuple[list, list]:
    """TF's bicubic taps: the 4 neighbours ``floor - 1 .. floor + 2`` of the source clamped
    to the image, and Keys' cubic weights at the fraction rounded to 1/1024 as TF's weight
    table does; legacy: a = -0.75; ``keys`` (half_pixel_centers): a = -0.5, a tap outside the
    image weighs 0 and the four weights are renormalized to sum to 1."""
    base = xp.floor(src)
    t = xp.rint((src - base) * float(_CUBIC_TABLE)) / float(_CUBIC_TABLE)
    a = _KEYS_A if keys else _CUBIC_A

    def near(d: Any) -> Any:                                # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: Any) -> Any:                                 # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    idx = [xp.minimum(xp.maximum(base + k, 0), n - 1) for k in (-1, 0, 1, 2)]
    if keys:
        weights = [w * xp.inside(base + k, n) for w, k in zip(weights, (-1, 0, 1, 2))]
        total = weights[0] + weights[1] + weights[2] + weights[3]
        weights = [w / total for w in weights]
    return idx, weights


def resize_bicubic(images: Any, size: Any, align_corners: bool = False,
                   name: Optional[str] = None, half_pixel_centers: bool = False) -> Tensor:
    """TF1's ``tf.image.resize_bicubic``: per axis, the weighted sum of 4 gathered
    rows/columns at clamped indices (so it compiles and has a gradient); the legacy kernel
    samples ``o * scale``, ``half_pixel_centers`` ``(o + 0.5) * scale - 0.5`` with Keys'
    a = -0.5 and no weight outside the image (TF 1.15)."""
    _centers("resize_bicubic", align_corners, half_pixel_centers)

    def step(out: Tensor, axis: int, o: int) -> Tensor:
        xp, src, n = _axis(out, axis, o, align_corners, "bilinear" if half_pixel_centers else "")
        idx, wts = _cubic_taps(xp, src, n, keys=half_pixel_centers)
        acc = None
        for i, w in zip(idx, wts):
            term = M.multiply(gather(out, xp.index(i), axis=axis),
                              xp.weight(w, out.dtype, _axis_shape(axis, o)))
            acc = term if acc is None else M.add(acc, term)
        return acc
    with name_scope(name, "ResizeBicubic") as scope:
        return _resize(images, size, "resize_bicubic", scope, step)


def _aspect_size(images: Any, size: Any) -> list:
    """TF's preserve_aspect_ratio size: the input scaled by ``min(new_h / h, new_w / w)``,
    each side rounded half to even (tf.round), in float32; a static height and width."""
    x = convert_to_tensor(images, name="images")
    if x.shape.ndims not in (3, 4):
        raise ValueError(f"resize_images: 'images' must be of rank 3 or 4, got {x.shape}")
    h, w = _hw(x, x.shape.ndims == 4, "resize_images(preserve_aspect_ratio=True)")
    oh, ow = _size(size)
    f = np.float32
    scale = min(f(oh) / f(h), f(ow) / f(w))
    return [int(np.rint(scale * f(h))), int(np.rint(scale * f(w)))]


def resize_images(images: Any, size: Any, method: int = ResizeMethod.BILINEAR,
                  align_corners: bool = False, preserve_aspect_ratio: bool = False) -> Tensor:
    """TF1's ``tf.image.resize_images``: bilinear (default), nearest neighbour, bicubic or
    area (``resize_area``: float32 output); ``preserve_aspect_ratio`` fits the image into
    ``size`` keeping its proportions."""
    if preserve_aspect_ratio:
        size = _aspect_size(images, size)
    if method == ResizeMethod.BILINEAR:
        return resize_bilinear(images, size, align_corners)
    if method == ResizeMethod.NEAREST_NEIGHBOR:
        return resize_nearest_neighbor(images, size, align_corners)
    if method == ResizeMethod.BICUBIC:
        return resize_bicubic(images, size, align_corners)
    if method == ResizeMethod.AREA:
        from .image_area import resize_area
        return resize_area(images, size, align_corners)
    raise ValueError(f"resize_images: method must be a tf.image.ResizeMethod (0 bilinear, "
                     f"1 nearest neighbor, 2 bicubic, 3 area), got {method!r}")
