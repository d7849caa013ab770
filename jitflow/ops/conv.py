"""conv2d and its two backprops, each an op with its own gradient rule (so higher-order
gradients work): ``conv2d_backprop_input(g, w, like_x)`` / ``conv2d_backprop_filter(x, g,
like_w)`` (``like`` operands give run-time shapes; their values are not read).

References are vectorized NumPy: convolution is im2col + one GEMM, its input backprop a GEMM +
col2im over the kh*kw window offsets.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import InvalidArgumentError
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType
from .common import require_dtype, require_same_dtype
from .window import (_check_g_static, _check_padding, _check_pair, _crop, _geometry, _out_dim,
                     _padded, _rank4, _window_slice)


CONV_ATTRS = {"strides": Attr("ints", (1, 1)), "padding": Attr("str", "VALID"),
              "dilations": Attr("ints", (1, 1))}


def _conv_attrs(a):
    _check_padding(a["padding"])
    return _check_pair(a, "strides"), _check_pair(a, "dilations")


def _conv_out_shape(xs, ws, a):
    (sh, sw), (dh, dw) = _conv_attrs(a)
    cin, win = xs[3], ws[2]
    if isinstance(cin, int) and isinstance(win, int) and cin != win:
        raise ShapeMismatch(f"Dimensions must be equal, but are {cin} and {win} (input depth "
                            f"and the filter's input depth)")
    return (xs[0], _out_dim(xs[1], ws[0], sh, dh, a["padding"]),
            _out_dim(xs[2], ws[1], sw, dw, a["padding"]), ws[3])


def _conv_infer(types, a):
    x, w = types
    dt = require_same_dtype(types, "conv2d operands")
    require_dtype(x, "f", "conv2d input")
    return TensorType(dt, _conv_out_shape(_rank4(x, "input"), _rank4(w, "filter"), a))


def _conv_geometry(x_shape, w_shape, strides, padding, dilations):
    if x_shape[3] != w_shape[2]:
        raise InvalidArgumentError(f"input depth must be evenly divisible by filter depth: "
                                   f"{x_shape[3]} vs {w_shape[2]}")
    try:
        return _geometry(x_shape[1:3], w_shape[:2], strides, dilations, padding)
    except ShapeMismatch as e:
        raise InvalidArgumentError(str(e)) from None


def _im2col(x, kh, kw, geo, strides, dilations) -> np.ndarray:
    """Windows of x as (N, oh, ow, kh, kw, C) (a strided view of the padded input)."""
    xp = np.ascontiguousarray(_padded(x, geo))
    n, _, _, c = xp.shape
    (oh, _, _), (ow, _, _) = geo
    s_n, s_h, s_w, s_c = xp.strides
    return as_strided(xp, (n, oh, ow, kh, kw, c),
                      (s_n, s_h * strides[0], s_w * strides[1], s_h * dilations[0],
                       s_w * dilations[1], s_c), writeable=False)


def _conv_ref(x, w, strides, padding, dilations):
    geo = _conv_geometry(x.shape, w.shape, strides, padding, dilations)
    kh, kw, c, o = w.shape
    n = x.shape[0]
    (oh, _, _), (ow, _, _) = geo
    cols = _im2col(x, kh, kw, geo, strides, dilations).reshape(n * oh * ow, kh * kw * c)
    return np.matmul(cols, w.reshape(kh * kw * c, o)).reshape(n, oh, ow, o).astype(x.dtype, copy=False)


def _check_out_backprop(g_shape, expected):
    if tuple(g_shape) != tuple(expected):
        raise InvalidArgumentError(f"Conv2D backprop: out_backprop has shape {list(g_shape)} but "
                                   f"the convolution's output has shape {list(expected)}")


def _conv_backprop_input_ref(g, w, like, strides, padding, dilations):
    x_shape = like.shape
    geo = _conv_geometry(x_shape, w.shape, strides, padding, dilations)
    kh, kw, c, o = w.shape
    n, h, wd, _ = x_shape
    (oh, pt, pb), (ow, pl, pr) = geo
    _check_out_backprop(g.shape, (n, oh, ow, o))
    dxp = np.zeros((n, h + pt + pb, wd + pl + pr, c), dtype=g.dtype)
    if g.size and w.size:
        dcols = np.matmul(g.reshape(-1, o), w.reshape(kh * kw * c, o).T).reshape(n, oh, ow, kh, kw, c)
        for i in range(kh):
            for j in range(kw):
                dxp[_window_slice(i, j, geo, strides, dilations)] += dcols[:, :, :, i, j, :]
    return np.ascontiguousarray(_crop(dxp, geo, h, wd))


def _conv_backprop_filter_ref(x, g, like, strides, padding, dilations):
    w_shape = like.shape
    geo = _conv_geometry(x.shape, w_shape, strides, padding, dilations)
    kh, kw, c, o = w_shape
    n = x.shape[0]
    (oh, _, _), (ow, _, _) = geo
    _check_out_backprop(g.shape, (n, oh, ow, o))
    cols = _im2col(x, kh, kw, geo, strides, dilations).reshape(n * oh * ow, kh * kw * c)
    return np.matmul(cols.T, g.reshape(n * oh * ow, o)).reshape(kh, kw, c, o).astype(x.dtype, copy=False)


def _conv_grad(b, op, g):
    x, w = op.operands
    return [b.conv2d_backprop_input(g[0], w, x, **op.attrs),
            b.conv2d_backprop_filter(x, g[0], w, **op.attrs)]


def _bpi_infer(types, a):
    g, w, like = types
    dt = require_same_dtype([g, w], "conv2d_backprop_input operands")
    require_dtype(g, "f", "conv2d_backprop_input gradient")
    xs = _rank4(like, "input (like)")
    ws = _rank4(w, "filter")
    gs = _rank4(g, "out_backprop")
    out = _conv_out_shape(xs, ws, a)
    _check_g_static(gs, out)
    return TensorType(dt, xs)



def _bpi_grad(b, op, g):
    # z = A_w^T gy is linear in gy and in w:  d/dgy = conv(gz, w);  d/dw = bpf(gz, gy)
    gy, w, like = op.operands
    return [b.conv2d(g[0], w, **op.attrs), b.conv2d_backprop_filter(g[0], gy, w, **op.attrs), None]


def _bpf_infer(types, a):
    x, g, like = types
    dt = require_same_dtype([x, g], "conv2d_backprop_filter operands")
    require_dtype(x, "f", "conv2d_backprop_filter input")
    xs = _rank4(x, "input")
    ws = _rank4(like, "filter (like)")
    gs = _rank4(g, "out_backprop")
    _check_g_static(gs, _conv_out_shape(xs, ws, a))
    return TensorType(dt, ws)


def _bpf_grad(b, op, g):
    # z = bpf(x, gy):  <gz, z> = <conv(x, gz), gy>  ->  d/dx = bpi(gy, gz), d/dgy = conv(x, gz)
    x, gy, like = op.operands
    return [b.conv2d_backprop_input(gy, g[0], x, **op.attrs), b.conv2d(x, g[0], **op.attrs), None]


defop("conv2d", kind="library", infer=_conv_infer, reference=_conv_ref, grad=_conv_grad, attrs=CONV_ATTRS,
      num_inputs=2, doc="NHWC input, HWIO filter; strides/dilations (h, w); SAME or VALID")
defop("conv2d_backprop_input", kind="library", shape_only={2}, infer=_bpi_infer, reference=_conv_backprop_input_ref,
      grad=_bpi_grad, attrs=CONV_ATTRS, num_inputs=3,
      doc="operands (out_backprop, filter, like_input); like's values are not read")
defop("conv2d_backprop_filter", kind="library", shape_only={2}, infer=_bpf_infer, reference=_conv_backprop_filter_ref,
      grad=_bpf_grad, attrs=CONV_ATTRS, num_inputs=3,
      doc="operands (input, out_backprop, like_filter); like's values are not read")

