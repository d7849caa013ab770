"""``tf.extract_image_patches`` (``tf.image.extract_image_patches``, ``extract_patches``) as
gathers: each kernel offset (ky, kx) takes the rows ``oy * stride + ky * rate`` and columns
alike of the (SAME: zero-padded as a convolution pads) image, and the offsets' [.., C] slices
are concatenated in (ky, kx, channel) order, TF's layout of the last axis. Static height and
width; differentiable (the gathers' scatter-adds)."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .extra_ops import concat, gather, pad
from .graph import Tensor, name_scope
from .op_builder import constant, convert_to_tensor, static_ints

__all__ = ["extract_image_patches"]


def _four(v: Any, what: str) -> tuple[int, int]:
    s = static_ints(v, what)
    if s is None or len(s) != 4 or s[0] != 1 or s[3] != 1 or min(s) <= 0:
        raise ValueError(f"extract_image_patches: {what} must be [1, rows, cols, 1] of positive "
                         f"ints, got {v}")
    return s[1], s[2]


def _axis(n: int, k: int, s: int, r: int, padding: str) -> tuple[int, int, int]:
    """(output size, padding before, padding after) along one axis."""
    eff = (k - 1) * r + 1
    if padding == "VALID":
        return max((n - eff) // s + 1, 0), 0, 0
    out = -(-n // s)
    total = max((out - 1) * s + eff - n, 0)
    return out, total // 2, total - total // 2


def extract_image_patches(images: Any, ksizes: Any = None, strides: Any = None,
                          rates: Any = None, padding: str = "VALID", name: Optional[str] = None,
                          sizes: Any = None) -> Tensor:
    """[batch, out_rows, out_cols, ksize_rows * ksize_cols * depth] patches of ``images``
    [batch, in_rows, in_cols, depth] (``sizes`` is TF2's name for ``ksizes``)."""
    ks = ksizes if ksizes is not None else sizes
    if ks is None or strides is None:
        raise TypeError("extract_image_patches needs ksizes (sizes) and strides")
    pad_mode = str(padding).upper()
    if pad_mode not in ("VALID", "SAME"):
        raise ValueError(f"extract_image_patches: padding must be 'VALID' or 'SAME', got "
                         f"{padding!r}")
    kh, kw = _four(ks, "ksizes")
    sh, sw = _four(strides, "strides")
    rh, rw = _four(rates if rates is not None else [1, 1, 1, 1], "rates")
    with name_scope(name, "ExtractImagePatches") as scope:
        x = convert_to_tensor(images, name="images")
        dims = x.shape.dims
        if dims is None or len(dims) != 4:
            raise ValueError(f"extract_image_patches: images must be 4-D [batch, rows, cols, "
                             f"depth], got shape {x.shape}")
        if dims[1] is None or dims[2] is None:
            raise NotImplementedError(f"extract_image_patches needs static rows and cols, "
                                      f"got {x.shape}")
        oh, t, b = _axis(dims[1], kh, sh, rh, pad_mode)
        ow, lft, rgt = _axis(dims[2], kw, sw, rw, pad_mode)
        if t or b or lft or rgt:
            x = pad(x, [[0, 0], [t, b], [lft, rgt], [0, 0]])
        pieces = []
        for ky in range(kh):
            rows = gather(x, constant(np.arange(oh, dtype=np.int32) * sh + ky * rh), axis=1)
            for kx in range(kw):
                idx = constant(np.arange(ow, dtype=np.int32) * sw + kx * rw)
                pieces.append(gather(rows, idx, axis=2))
        return concat(pieces, axis=3, name=scope) if len(pieces) > 1 else pieces[0]
