"""Max and average pooling and their gradients. Pooling with SAME never lets padding win
(max) or count (average). ``max_pool_grad(x, g)`` routes each window's cotangent to its first
maximum (row-major), ``max_pool_grad_grad(x, gg)`` is its transpose; ``avg_pool_grad(g,
like_x)``. References loop over the window offsets.
"""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType
from .common import require_dtype, require_same_dtype
from .window import (_check_g_static, _check_padding, _check_pair, _crop, _geometry, _out_dim,
                     _padded, _rank4, _window_slice)


POOL_ATTRS = {"ksize": Attr("ints", (1, 1)), "strides": Attr("ints", (1, 1)),
              "padding": Attr("str", "VALID")}


def _pool_shape(xs, a):
    _check_padding(a["padding"])
    kh, kw = _check_pair(a, "ksize")
    sh, sw = _check_pair(a, "strides")
    return (xs[0], _out_dim(xs[1], kh, sh, 1, a["padding"]),
            _out_dim(xs[2], kw, sw, 1, a["padding"]), xs[3])


def _pool_infer(kinds):
    def infer(types, a):
        x = types[0]
        require_dtype(x, kinds, "pooling input")
        return TensorType(x.dtype, _pool_shape(_rank4(x, "pooling input"), a))
    return infer


def _pool_geometry(shape, ksize, strides, padding):
    try:
        return _geometry(shape[1:3], ksize, strides, (1, 1), padding)
    except ShapeMismatch as e:
        raise InvalidArgumentError(str(e)) from None


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _max_pool_ref(x, ksize, strides, padding):
    geo = _pool_geometry(x.shape, ksize, strides, padding)
    (oh, _, _), (ow, _, _) = geo
    xp = _padded(x, geo, _lowest(x.dtype))
    out = np.full((x.shape[0], oh, ow, x.shape[3]), _lowest(x.dtype), dtype=x.dtype)
    if out.size:
        for i in range(ksize[0]):
            for j in range(ksize[1]):
                np.maximum(out, xp[_window_slice(i, j, geo, strides)], out=out)
    return out


def _argmax_masks(x, ksize, strides, padding):
    """Yield (window offset key, mask over outputs) where each output window's first maximum
    (row-major over the window, padding excluded) sits at that offset."""
    geo = _pool_geometry(x.shape, ksize, strides, padding)
    m = _max_pool_ref(x, ksize, strides, padding)
    xp = _padded(x, geo, _lowest(x.dtype))
    valid = _padded(np.ones((1,) + x.shape[1:3] + (1,), dtype=bool), geo, False)
    taken = np.zeros(m.shape, dtype=bool)
    m_nan = np.isnan(m) if x.dtype.kind == "f" else None
    for i in range(ksize[0]):
        for j in range(ksize[1]):
            key = _window_slice(i, j, geo, strides)
            v = xp[key]
            hit = v == m
            if m_nan is not None:
                hit |= m_nan & np.isnan(v)
            hit &= valid[key]
            hit &= ~taken
            taken |= hit
            yield key, hit


def _max_pool_grad_ref(x, g, ksize, strides, padding):
    geo = _pool_geometry(x.shape, ksize, strides, padding)
    (oh, pt, pb), (ow, pl, pr) = geo
    if tuple(g.shape) != (x.shape[0], oh, ow, x.shape[3]):
        raise InvalidArgumentError(f"MaxPoolGrad: gradient has shape {list(g.shape)}, expected "
                                   f"{[x.shape[0], oh, ow, x.shape[3]]}")
    dxp = np.zeros((x.shape[0], x.shape[1] + pt + pb, x.shape[2] + pl + pr, x.shape[3]), g.dtype)
    if g.size:
        zero = np.zeros((), g.dtype)
        for key, hit in _argmax_masks(x, ksize, strides, padding):
            dxp[key] += np.where(hit, g, zero)
    return np.ascontiguousarray(_crop(dxp, geo, x.shape[1], x.shape[2]))


def _max_pool_grad_grad_ref(x, gg, ksize, strides, padding):
    geo = _pool_geometry(x.shape, ksize, strides, padding)
    (oh, _, _), (ow, _, _) = geo
    if tuple(gg.shape) != tuple(x.shape):
        raise InvalidArgumentError(f"MaxPoolGradGrad: gradient has shape {list(gg.shape)}, "
                                   f"expected {list(x.shape)}")
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), gg.dtype)
    if out.size:
        ggp = _padded(gg, geo)
        zero = np.zeros((), gg.dtype)
        for key, hit in _argmax_masks(x, ksize, strides, padding):
            out += np.where(hit, ggp[key], zero)
    return out


def _max_pool_grad_infer(types, a):
    x, g = types
    dt = require_same_dtype(types, "max_pool_grad operands")
    require_dtype(x, "fi", "max_pool_grad input")
    xs = _rank4(x, "max_pool_grad input")
    _check_g_static(_rank4(g, "max_pool_grad gradient"), _pool_shape(xs, a))
    return TensorType(dt, xs)


def _max_pool_grad_grad_infer(types, a):
    x, gg = types
    dt = require_same_dtype(types, "max_pool_grad_grad operands")
    require_dtype(x, "fi", "max_pool_grad_grad input")
    xs = _rank4(x, "max_pool_grad_grad input")
    _check_g_static(_rank4(gg, "max_pool_grad_grad gradient"), xs)
    return TensorType(dt, _pool_shape(xs, a))


def _pool_counts(shape, ksize, strides, geo, dtype):
    """Number of real (non-padded) elements in each output window, shape (1, oh, ow, 1)."""
    counts = []
    for n, k, s, (o, pb, _) in zip(shape[1:3], ksize, strides, geo):
        start = np.arange(o) * s - pb
        counts.append(np.minimum(start + k, n) - np.maximum(start, 0))
    return (counts[0][:, None] * counts[1][None, :]).astype(dtype)[None, :, :, None]


def _avg_pool_ref(x, ksize, strides, padding):
    geo = _pool_geometry(x.shape, ksize, strides, padding)
    (oh, _, _), (ow, _, _) = geo
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)
    if out.size:
        xp = _padded(x, geo)
        for i in range(ksize[0]):
            for j in range(ksize[1]):
                out += xp[_window_slice(i, j, geo, strides)]
        out /= _pool_counts(x.shape, ksize, strides, geo, x.dtype)
    return out


def _avg_pool_grad_ref(g, like, ksize, strides, padding):
    shape = like.shape
    geo = _pool_geometry(shape, ksize, strides, padding)
    (oh, pt, pb), (ow, pl, pr) = geo
    if tuple(g.shape) != (shape[0], oh, ow, shape[3]):
        raise InvalidArgumentError(f"AvgPoolGrad: gradient has shape {list(g.shape)}, expected "
                                   f"{[shape[0], oh, ow, shape[3]]}")
    dxp = np.zeros((shape[0], shape[1] + pt + pb, shape[2] + pl + pr, shape[3]), g.dtype)
    if g.size:
        q = g / _pool_counts(shape, ksize, strides, geo, g.dtype)
        for i in range(ksize[0]):
            for j in range(ksize[1]):
                dxp[_window_slice(i, j, geo, strides)] += q
    return np.ascontiguousarray(_crop(dxp, geo, shape[1], shape[2]))


def _avg_pool_grad_infer(types, a):
    g, like = types
    require_dtype(g, "f", "avg_pool_grad gradient")
    xs = _rank4(like, "avg_pool_grad input (like)")
    _check_g_static(_rank4(g, "avg_pool_grad gradient"), _pool_shape(xs, a))
    return TensorType(g.dtype, xs)


defop("max_pool", kind="library", infer=_pool_infer("fi"), reference=_max_pool_ref, attrs=POOL_ATTRS,
      num_inputs=1, grad=lambda b, op, g: [b.max_pool_grad(op.operands[0], g[0], **op.attrs)],
      doc="NHWC; SAME pads with -inf (padding never wins)")
defop("max_pool_grad", kind="library", infer=_max_pool_grad_infer, reference=_max_pool_grad_ref,
      attrs=POOL_ATTRS, num_inputs=2,
      grad=lambda b, op, g: [None, b.max_pool_grad_grad(op.operands[0], g[0], **op.attrs)],
      doc="operands (x, g): each window's g goes to its first maximum (row-major)")
defop("max_pool_grad_grad", kind="library", infer=_max_pool_grad_grad_infer, reference=_max_pool_grad_grad_ref,
      attrs=POOL_ATTRS, num_inputs=2,
      grad=lambda b, op, g: [None, b.max_pool_grad(op.operands[0], g[0], **op.attrs)],
      doc="operands (x, gg): gg at each window's first maximum (transpose of max_pool_grad)")
defop("avg_pool", kind="library", infer=_pool_infer("f"), reference=_avg_pool_ref, attrs=POOL_ATTRS,
      num_inputs=1, grad=lambda b, op, g: [b.avg_pool_grad(g[0], op.operands[0], **op.attrs)],
      doc="NHWC; SAME divides by the number of real (non-padded) elements")
defop("avg_pool_grad", kind="library", shape_only={1}, infer=_avg_pool_grad_infer, reference=_avg_pool_grad_ref,
      attrs=POOL_ATTRS, num_inputs=2,
      grad=lambda b, op, g: [b.avg_pool(g[0], **op.attrs), None],
      doc="operands (g, like_x); like's values are not read")

