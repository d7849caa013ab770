"""``tf.image.ssim`` and ``tf.image.ssim_multiscale`` as TF 1.15 defines them.

Images are ``[..., height, width, channels]`` with any number of batch dims (the two
images' batch dims broadcast), converted to float32 (``max_val`` with them). Local
statistics come from a ``filter_size`` square Gaussian window (sigma ``filter_sigma``) by
depthwise VALID convolution over the batch dims flattened. SSIM is the mean over height and
width of luminance x contrast-structure, averaged over channels. MS-SSIM runs SSIM on
``len(power_factors)`` scales, each the previous one average-pooled 2x2 (VALID; an odd height
or width first padded by one SYMMETRIC row/column at its end, as TF's ``do_pad``), and
returns the channel mean of ``prod_k relu(cs_k) ** p_k`` with the last scale's ``relu(ssim)``
in place of its ``cs``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..ir.dtypes import float32
from . import math_ops as M
from .array_ops import identity, reshape, shape, stack
from .graph import Tensor, name_scope
from .image_color import convert_image_dtype
from .op_builder import constant, convert_to_tensor

__all__ = ["ssim", "ssim_multiscale"]

_MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gauss_window(size: int, sigma: float) -> np.ndarray:
    """TF's ``_fspecial_gauss`` in float32: softmax of ``-(dy^2 + dx^2) / (2 sigma^2)``."""
    f = np.float32
    coords = np.arange(size, dtype=f) - f(size - 1) / f(2)
    g = np.square(coords) * (f(-0.5) / np.square(f(sigma)))
    g = (g[None, :] + g[:, None]).reshape(-1)
    e = np.exp(g - g.max())
    return (e / e.sum()).astype(f).reshape(size, size)


def _check_shapes(a: Tensor, b: Tensor, what: str) -> None:
    """TF's ``_verify_compatible_image_shapes``: rank >= 3, the last three dims compatible,
    the batch dims broadcastable; here the channel count must also be static."""
    for t in (a, b):
        if t.shape.ndims is None or t.shape.ndims < 3:
            raise ValueError(f"{what}: Shape {t.shape} must have rank at least 3 "
                             f"([..., height, width, channels])")
    ta, tb = a.shape.dims[-3:], b.shape.dims[-3:]
    if any(x is not None and y is not None and x != y for x, y in zip(ta, tb)):
        raise ValueError(f"{what}: Shapes {a.shape} and {b.shape} are incompatible (the last "
                         f"three dims, [height, width, channels], must match)")
    for x, y in zip(reversed(a.shape.dims[:-3]), reversed(b.shape.dims[:-3])):
        if not (x == 1 or y == 1 or x is None or y is None or x == y):
            raise ValueError(f"{what}: Two images are not compatible: {a.shape} and {b.shape}")
    if ta[-1] is None and tb[-1] is None:
        raise NotImplementedError(f"{what} needs a static channel count, got {a.shape} and "
                                  f"{b.shape}")


def _as_batch(x: Tensor) -> tuple:
    """``x`` [..., h, w, c] as [n, h, w, c], and the function that puts the batch dims back
    on a [n, h', w', c] result."""
    from .array_ops import expand_dims, squeeze
    from .extra_ops import concat
    dims = x.shape.dims
    lead, tail = dims[:-3], dims[-3:]
    if len(lead) == 1:
        return x, lambda y: y
    if not lead:                # one image
        return expand_dims(x, 0), lambda y: squeeze(y, [0])
    if all(d is not None for d in tail):
        flat = reshape(x, [-1] + list(tail))
    else:
        flat = reshape(x, concat([[-1], shape(x)[-3:]], 0))

    def back(y: Tensor) -> Tensor:
        out_tail = y.shape.dims[1:]
        if all(d is not None for d in lead + out_tail):
            return reshape(y, list(lead) + list(out_tail))
        return reshape(y, concat([shape(x)[:-3], shape(y)[1:]], 0))
    return flat, back


def _ssim_per_channel(x: Tensor, y: Tensor, max_val: Tensor, filter_size: int,
                      filter_sigma: float, k1: float, k2: float, what: str) -> tuple:
    """(ssim, cs) per channel, ``[..., channels]`` (TF's ``_ssim_per_channel``)."""
    from .nn_extra import depthwise_conv2d
    for t in (x, y):
        small = [d for d in t.shape.dims[-3:-1] if d is not None and d < filter_size]
        if small:
            raise ValueError(f"{what}: images of {t.shape} are smaller than the "
                             f"{filter_size}x{filter_size} filter")
    c = x.shape.dims[-1] if x.shape.dims[-1] is not None else y.shape.dims[-1]
    win = np.tile(_gauss_window(int(filter_size), float(filter_sigma))[:, :, None, None],
                  (1, 1, int(c), 1))
    kernel = constant(win)

    def reducer(t: Tensor) -> Tensor:
        flat, back = _as_batch(t)
        return back(depthwise_conv2d(flat, kernel, [1, 1, 1, 1], "VALID"))
    c1 = M.square(M.multiply(max_val, float(k1)))
    c2 = M.square(M.multiply(max_val, float(k2)))
    mean0, mean1 = reducer(x), reducer(y)
    num0 = M.multiply(M.multiply(mean0, mean1), 2.0)
    den0 = M.add(M.square(mean0), M.square(mean1))
    luminance = M.truediv(M.add(num0, c1), M.add(den0, c1))
    num1 = M.multiply(reducer(M.multiply(x, y)), 2.0)
    den1 = reducer(M.add(M.square(x), M.square(y)))
    cs = M.truediv(M.add(M.subtract(num1, num0), c2), M.add(M.subtract(den1, den0), c2))
    rank = max(x.shape.ndims, y.shape.ndims)
    axes = [rank - 3, rank - 2]
    return M.reduce_mean(M.multiply(luminance, cs), axes), M.reduce_mean(cs, axes)


def _prepare(img1: Any, img2: Any, max_val: Any, what: str) -> tuple:
    a, b = convert_to_tensor(img1, name="img1"), convert_to_tensor(img2, name="img2")
    _check_shapes(a, b, what)
    mv = convert_image_dtype(M.cast(convert_to_tensor(max_val), a.dtype), float32)
    return convert_image_dtype(a, float32), convert_image_dtype(b, float32), mv


def ssim(img1: Any, img2: Any, max_val: Any, filter_size: int = 11, filter_sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """TF's ``tf.image.ssim``: one value per image, shaped ``broadcast(img1.shape[:-3],
    img2.shape[:-3])``."""
    with name_scope(None, "SSIM") as scope:
        x, y, mv = _prepare(img1, img2, max_val, "ssim")
        per_channel, _ = _ssim_per_channel(x, y, mv, filter_size, filter_sigma, k1, k2, "ssim")
        return identity(M.reduce_mean(per_channel, [-1]), name=scope)


def _downscale(x: Tensor, what: str) -> Tensor:
    """``x`` [..., h, w, c] average-pooled 2x2 VALID, an odd h or w first padded by one
    SYMMETRIC row/column at its end (TF's ``do_pad``)."""
    from .extra_ops import pad
    from .nn import avg_pool
    h, w = x.shape.dims[-3:-1]
    if h is None or w is None:
        raise NotImplementedError(f"{what} needs a static height and width to downscale, got "
                                  f"{x.shape}")
    flat, back = _as_batch(x)
    if h % 2 or w % 2:
        flat = pad(flat, [[0, 0], [0, h % 2], [0, w % 2], [0, 0]], mode="SYMMETRIC")
    return back(avg_pool(flat, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"))


def ssim_multiscale(img1: Any, img2: Any, max_val: Any,
                    power_factors: Sequence[float] = _MSSSIM_WEIGHTS, filter_size: int = 11,
                    filter_sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """TF's ``tf.image.ssim_multiscale`` (MS-SSIM, Wang et al. 2004): one value per image in
    [0, 1], shaped ``broadcast(img1.shape[:-3], img2.shape[:-3])``; ``power_factors`` gives
    the number of scales and their weights."""
    what = "ssim_multiscale"
    factors = [float(p) for p in power_factors]
    if not factors:
        raise ValueError(f"{what}: power_factors must name at least one scale, got "
                         f"{power_factors!r}")
    with name_scope(None, "MS-SSIM") as scope:
        x, y, mv = _prepare(img1, img2, max_val, what)
        mcs, ssim_pc = [], None
        for k in range(len(factors)):
            with name_scope(None, f"Scale{k}"):
                if k > 0:
                    x, y = _downscale(x, what), _downscale(y, what)
                ssim_pc, cs = _ssim_per_channel(x, y, mv, filter_size, filter_sigma, k1, k2,
                                                f"{what} (scale {k})")
                mcs.append(M.relu(cs))
        mcs.pop()       # the last scale contributes its ssim (luminance too), not its cs
        both = stack(mcs + [M.relu(ssim_pc)], axis=-1)
        weights = constant(np.asarray(factors, np.float32))
        ms = M.reduce_prod(M.pow(both, weights), [-1])
        return identity(M.reduce_mean(ms, [-1]), name=scope)
