"""Window arithmetic shared by convolution and pooling, as TensorFlow does it: NHWC
input, HWIO filter; ``strides``, ``ksize`` and ``dilations`` attributes are (height, width)
pairs; ``padding`` is ``"SAME"`` or ``"VALID"`` with TF's ``GetWindowedOutputSize`` arithmetic
(SAME: ``out = ceil(in / s)``, the odd pad at the end)."""
from __future__ import annotations

import numpy as np

from ..ir.types import ShapeMismatch, TensorType


PADDINGS = ("SAME", "VALID")


def window_geometry(size: int, k: int, s: int, d: int, padding: str) -> tuple[int, int, int]:
    """(output size, pad before, pad after) of one spatial axis, as TF computes them."""
    eff = (k - 1) * d + 1
    if padding == "VALID":
        n = size - eff + s
        out = n // s if n >= 0 else -((-n) // s)      # C++ division truncates toward zero
        if out < 0:
            raise ShapeMismatch(f"Computed output size would be negative: {out} [input_size: "
                                f"{size}, effective_filter_size: {eff}, stride: {s}]")
        return out, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    return out, total // 2, total - total // 2


def _check_padding(padding) -> None:
    if padding not in PADDINGS:
        raise ShapeMismatch(f"padding must be 'SAME' or 'VALID', got {padding!r}")


def _check_pair(a: dict, key: str) -> tuple[int, int]:
    v = a[key]
    if not isinstance(v, tuple) or len(v) != 2 or any(x < 1 for x in v):
        raise ShapeMismatch(f"{key} must be a (height, width) pair of positive ints, got {v!r}")
    return v


def _out_dim(size, k, s, d, padding):
    if isinstance(size, int) and isinstance(k, int):
        if size < 0:
            raise ShapeMismatch(f"negative input size {size}")
        return window_geometry(size, k, s, d, padding)[0]
    return None


def _rank4(t: TensorType, what: str) -> tuple:
    if t.shape is None:
        return (None,) * 4
    if t.rank != 4:
        raise ShapeMismatch(f"{what} must be rank 4, but is rank {t.rank} (shape {list(t.shape)})")
    return t.shape


def _geometry(hw, khw, strides, dilations, padding):
    return [window_geometry(n, k, s, d, padding)
            for n, k, s, d in zip(hw, khw, strides, dilations)]


def _padded(x: np.ndarray, geo, fill=0) -> np.ndarray:
    (_, pt, pb), (_, pl, pr) = geo
    if pt == pb == pl == pr == 0:
        return x
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)


def _window_slice(i: int, j: int, geo, strides, dilations=(1, 1)):
    """Index of the (i, j) window offset across all outputs: xp[key] has shape (N,oh,ow,C)."""
    (oh, _, _), (ow, _, _) = geo
    sh, sw = strides
    dh, dw = dilations
    return (slice(None), slice(i * dh, i * dh + (oh - 1) * sh + 1, sh),
            slice(j * dw, j * dw + (ow - 1) * sw + 1, sw), slice(None))


def _crop(xp: np.ndarray, geo, h: int, w: int) -> np.ndarray:
    (_, pt, _), (_, pl, _) = geo
    return xp[:, pt:pt + h, pl:pl + w, :]

def _check_g_static(gs, out):
    for i, (p, q) in enumerate(zip(gs, out)):
        if isinstance(p, int) and isinstance(q, int) and p != q:
            raise ShapeMismatch(f"out_backprop dim {i} is {p} but the convolution gives {q}")
