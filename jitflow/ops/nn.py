"""Neural-network ops: conv2d and its two backprops, max/avg pooling and their gradients,
bias_add, softmax / log_softmax, the cross-entropies, in_top_k, activations (elu, leaky_relu,
softplus, relu6), l2_loss, and the array ops the TF1 models use (argmax/argmin, one_hot,
gather, split, pad, tile, reduce_logsumexp, reduce_all/any).

Layouts and arithmetic follow TensorFlow: NHWC input, HWIO filter; ``strides``, ``ksize`` and
``dilations`` attributes are (height, width) pairs; ``padding`` is ``"SAME"`` or ``"VALID"``
with TF's ``GetWindowedOutputSize`` arithmetic (SAME: ``out = ceil(in / s)``, the odd pad at
the end). Pooling with SAME never lets padding win (max) or count (average).

Backprops are ordinary ops with their own gradient rules, so higher-order gradients work:

* ``conv2d_backprop_input(g, w, like_x)`` / ``conv2d_backprop_filter(x, g, like_w)``
  (``like`` operands give run-time shapes; their values are not read);
* ``max_pool_grad(x, g)`` routes each window's cotangent to its first maximum (row-major),
  ``max_pool_grad_grad(x, gg)`` is its transpose;
* ``avg_pool_grad(g, like_x)``, ``gather_grad(g, indices, like)`` (a scatter-add),
  ``tile_grad(g, like)`` (sums the tiles).

Reference implementations are vectorized NumPy: convolution is im2col + one GEMM, its input
backprop a GEMM + col2im over the kh*kw window offsets, pooling a loop over window offsets.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import InvalidArgumentError
from ..ir.dtypes import bool_, int32, int64
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType, broadcast_shapes, normalize_axes
from .common import require_dtype, require_same_dtype, unbroadcast
from .reduce import REDUCE_ATTRS, reduce_infer, reduced_axes

# =============================================================== window arithmetic ===========

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


# =============================================================== conv2d ======================

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


def _check_g_static(gs, out):
    for i, (p, q) in enumerate(zip(gs, out)):
        if isinstance(p, int) and isinstance(q, int) and p != q:
            raise ShapeMismatch(f"out_backprop dim {i} is {p} but the convolution gives {q}")


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

# =============================================================== pooling =====================

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

# =============================================================== bias_add ====================


def _bias_axis(rank, axis):
    if rank < 2:
        raise ShapeMismatch(f"Shape must be at least rank 2 but is rank {rank} (bias_add value)")
    return normalize_axes([axis], rank)[0]


def _bias_add_infer(types, a):
    x, bias = types
    dt = require_same_dtype(types, "bias_add operands")
    require_dtype(x, "fi", "bias_add value")
    if bias.shape is not None and bias.rank != 1:
        raise ShapeMismatch(f"Shape must be rank 1 but is rank {bias.rank} (bias)")
    if x.shape is None:
        return TensorType(dt, None)
    ax = _bias_axis(x.rank, a["axis"])
    c, n = x.shape[ax], (bias.shape[0] if bias.shape is not None else None)
    if isinstance(c, int) and isinstance(n, int) and c != n:
        raise ShapeMismatch(f"Dimensions must be equal, but are {c} and {n} (value's channel "
                            f"dimension and the bias)")
    shape = list(x.shape)
    if not isinstance(c, int) and isinstance(n, int):
        shape[ax] = n
    return TensorType(dt, tuple(shape))


def _bias_add_ref(x, bias, axis):
    ax = axis % x.ndim
    if bias.shape[0] != x.shape[ax]:
        raise InvalidArgumentError(f"Must provide as many biases as the channel dimension of the "
                                   f"input tensor: {list(bias.shape)} vs. {list(x.shape)}")
    shape = [1] * x.ndim
    shape[ax] = -1
    return x + bias.reshape(shape)


def _bias_add_grad(b, op, g):
    x = op.operands[0]
    ax = _bias_axis(x.type.rank, op.attrs["axis"])
    axes = tuple(i for i in range(x.type.rank) if i != ax)
    return [g[0], b.reduce_sum(g[0], axes=axes, keepdims=False)]


def _bias_add_fusable(op) -> bool:
    """A right-aligned broadcast add (fusable) only along the last axis."""
    shape = op.operands[0].type.shape
    return shape is not None and op.attrs["axis"] % len(shape) == len(shape) - 1


defop("bias_add", kind="elementwise", fusable=_bias_add_fusable, infer=_bias_add_infer,
      reference=_bias_add_ref, grad=_bias_add_grad,
      attrs={"axis": Attr("int", -1)}, num_inputs=2,
      doc="add a rank-1 bias along axis (-1 for NHWC, 1 for NCHW)")

# =============================================================== softmax family ==============


def _softmax_infer(types, a):
    x = types[0]
    require_dtype(x, "f", "logits")
    if x.shape is not None:
        if x.rank < 1:
            raise ShapeMismatch("logits must have rank >= 1")
        normalize_axes([a["axis"]], x.rank)
    return x


def softmax_np(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax_np(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def softmax_vjp(b, y, g, axis):
    """Cotangent of softmax's input given its output y and cotangent g: y * (g - <g, y>)."""
    s = b.reduce_sum(b.mul(g, y), axes=(axis,), keepdims=True)
    return b.mul(b.sub(g, s), y)


defop("softmax", kind="library", infer=_softmax_infer, attrs={"axis": Attr("int", -1)}, num_inputs=1,
      reference=lambda x, axis: softmax_np(x, axis).astype(x.dtype, copy=False),
      grad=lambda b, op, g: [softmax_vjp(b, op.result, g[0], op.attrs["axis"])],
      doc="max-shifted softmax along axis")
defop("log_softmax", kind="library", infer=_softmax_infer, attrs={"axis": Attr("int", -1)}, num_inputs=1,
      reference=lambda x, axis: log_softmax_np(x, axis).astype(x.dtype, copy=False),
      grad=lambda b, op, g: [b.sub(g[0], b.mul(b.exp(op.result), b.reduce_sum(
          g[0], axes=(op.attrs["axis"],), keepdims=True)))],
      doc="max-shifted log-softmax along axis")


def _is_zero(v) -> bool:
    return v is None or (v.producer is not None and v.producer.opname == "zeros_like")


def _sparse_xent_infer(types, a):
    logits, labels = types
    require_dtype(logits, "f", "logits")
    require_dtype(labels, "i", "labels")
    if logits.shape is None:
        if labels.shape is None:
            raise ShapeMismatch("sparse softmax cross entropy needs logits of known rank")
        return [TensorType(logits.dtype, labels.shape),
                TensorType(logits.dtype, labels.shape + (None,))]
    if logits.rank < 1:
        raise ShapeMismatch("logits must have rank >= 1")
    outer = list(logits.shape[:-1])
    if labels.shape is not None:
        if labels.rank != logits.rank - 1:
            raise ShapeMismatch(f"Rank mismatch: Rank of labels (received {labels.rank}) should "
                                f"equal rank of logits minus 1 (received {logits.rank}).")
        for i, (p, q) in enumerate(zip(outer, labels.shape)):
            if isinstance(p, int) and isinstance(q, int) and p != q:
                raise ShapeMismatch(f"Shape mismatch: The shape of labels (received "
                                    f"{list(labels.shape)}) should equal the shape of logits "
                                    f"except for the last dimension (received {list(logits.shape)}).")
            if not isinstance(p, int) and isinstance(q, int):
                outer[i] = q
    return [TensorType(logits.dtype, tuple(outer)),
            TensorType(logits.dtype, tuple(outer) + (logits.shape[-1],))]


def _sparse_xent_ref(logits, labels):
    depth = logits.shape[-1]
    if labels.shape != logits.shape[:-1]:
        raise InvalidArgumentError(f"logits and labels must have the same first dimension, got "
                                   f"logits shape {list(logits.shape)} and labels shape "
                                   f"{list(labels.shape)}")
    bad = (labels < 0) | (labels >= depth)
    if np.any(bad):
        first = labels.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]]
        values = " ".join(str(v) for v in labels.reshape(-1))
        raise InvalidArgumentError(f"Received a label value of {first} which is outside the valid "
                                   f"range of [0, {depth}).  Label values: {values}")
    logp = log_softmax_np(logits, -1)
    idx = labels[..., None].astype(np.intp)
    loss = -np.take_along_axis(logp, idx, axis=-1)[..., 0]
    backprop = np.exp(logp)
    np.put_along_axis(backprop, idx, np.take_along_axis(backprop, idx, axis=-1) - 1, axis=-1)
    return loss.astype(logits.dtype, copy=False), backprop.astype(logits.dtype, copy=False)


def _sparse_xent_grad(b, op, g):
    logits = op.operands[0]
    g_loss, g_bp = g
    out = None
    if not _is_zero(g_loss):
        out = b.mul(b.expand_dims(g_loss, axis=-1), op.results[1])
    if not _is_zero(g_bp):    # backprop = softmax(logits) - onehot: differentiate softmax
        term = softmax_vjp(b, b.softmax(logits, axis=-1), g_bp, -1)
        out = term if out is None else b.add(out, term)
    return [out if out is not None else b.zeros_like(logits), None]


defop("sparse_softmax_cross_entropy", kind="library", infer=_sparse_xent_infer, reference=_sparse_xent_ref,
      grad=_sparse_xent_grad, num_inputs=2,
      doc="operands (logits [..., C], labels [...]); results (loss [...], backprop = "
          "softmax - onehot); an out-of-range label is an InvalidArgumentError")


def _xent_infer(types, a):
    logits, labels = types
    dt = require_same_dtype(types, "softmax cross entropy operands")
    require_dtype(logits, "f", "logits")
    if logits.shape is not None and labels.shape is not None and logits.rank != labels.rank:
        raise ShapeMismatch(f"logits and labels must have the same rank, got {logits.rank} and "
                            f"{labels.rank}")
    shape = broadcast_shapes(logits.shape, labels.shape)
    if shape is None:
        known = logits.shape if logits.shape is not None else labels.shape
        if known is None:
            raise ShapeMismatch("softmax cross entropy needs operands of known rank")
        shape = tuple(None for _ in known)
    if len(shape) < 1:
        raise ShapeMismatch("logits must have rank >= 1")
    return [TensorType(dt, shape[:-1]), TensorType(dt, shape)]


def _xent_ref(logits, labels):
    logp = log_softmax_np(logits, -1)
    loss = -np.sum(labels * logp, axis=-1)
    backprop = np.exp(logp) - labels
    return loss.astype(logits.dtype, copy=False), backprop.astype(logits.dtype, copy=False)


def _xent_grad(b, op, g):
    logits, labels = op.operands
    g_loss, g_bp = g
    gl = gz = None
    if not _is_zero(g_loss):
        ge = b.expand_dims(g_loss, axis=-1)
        gl = b.mul(ge, op.results[1])
        gz = b.mul(b.neg(ge), b.log_softmax(logits, axis=-1))
    if not _is_zero(g_bp):    # backprop = softmax(logits) - labels
        term = softmax_vjp(b, b.softmax(logits, axis=-1), g_bp, -1)
        gl = term if gl is None else b.add(gl, term)
        gz = b.neg(g_bp) if gz is None else b.sub(gz, g_bp)
    return [unbroadcast(b, gl, logits) if gl is not None else b.zeros_like(logits),
            unbroadcast(b, gz, labels) if gz is not None else b.zeros_like(labels)]


defop("softmax_cross_entropy", kind="library", infer=_xent_infer, reference=_xent_ref, grad=_xent_grad,
      num_inputs=2,
      doc="operands (logits, labels) of equal rank, broadcast; results (loss = "
          "-sum(labels * log_softmax(logits), -1), backprop = softmax - labels)")


def _sigmoid_xent_ref(logits, labels):
    x, z = logits, labels
    return (np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


def _sigmoid_xent_infer(types, a):
    dt = require_same_dtype(types, "sigmoid cross entropy operands")
    require_dtype(types[0], "f", "logits")
    return TensorType(dt, broadcast_shapes(types[0].shape, types[1].shape))


def _sigmoid_xent_grad(b, op, g):
    x, z = op.operands
    return [unbroadcast(b, b.mul(g[0], b.sub(b.sigmoid(x), z)), x),
            unbroadcast(b, b.mul(g[0], b.neg(x)), z)]


defop("sigmoid_cross_entropy", kind="elementwise", cost="expensive", infer=_sigmoid_xent_infer, reference=_sigmoid_xent_ref,
      grad=_sigmoid_xent_grad, num_inputs=2,
      doc="max(x, 0) - x * z + log(1 + exp(-|x|)) for logits x and labels z")

# =============================================================== in_top_k ====================


def _in_top_k_infer(types, a):
    p, t = types
    require_dtype(p, "f", "predictions")
    require_dtype(t, "i", "targets")
    if p.shape is not None and p.rank != 2:
        raise ShapeMismatch(f"Shape must be rank 2 but is rank {p.rank} (predictions)")
    if t.shape is not None and t.rank != 1:
        raise ShapeMismatch(f"Shape must be rank 1 but is rank {t.rank} (targets)")
    n = p.shape[0] if p.shape is not None else None
    m = t.shape[0] if t.shape is not None else None
    if isinstance(n, int) and isinstance(m, int) and n != m:
        raise ShapeMismatch(f"Dimensions must be equal, but are {n} and {m} (predictions' batch "
                            f"and targets)")
    return TensorType(bool_, (m if isinstance(m, int) and not isinstance(n, int) else n,))


def _in_top_k_ref(p, t, k):
    if p.ndim != 2 or t.ndim != 1:
        raise InvalidArgumentError(f"in_top_k: predictions must be 2-D and targets 1-D, got "
                                   f"{list(p.shape)} and {list(t.shape)}")
    n, c = p.shape
    if t.shape[0] != n:
        raise InvalidArgumentError(f"First dimension of predictions {n} must match length of "
                                   f"targets {t.shape[0]}")
    valid = (t >= 0) & (t < c)
    tc = np.where(valid, t, 0).astype(np.intp)
    if c == 0:
        return np.zeros(n, dtype=bool)
    tv = p[np.arange(n), tc]
    finite = np.all(np.isfinite(p), axis=1)
    above = np.sum(p > tv[:, None], axis=1)
    return valid & finite & (above < k)


defop("in_top_k", kind="library", infer=_in_top_k_infer, reference=_in_top_k_ref, attrs={"k": Attr("int")},
      num_inputs=2, differentiable=False,
      doc="target's prediction is among the k largest (ties count as in); a non-finite row "
          "or an out-of-range target gives False")

# =============================================================== activations & l2 ============


def _unary_f(types, a):
    require_dtype(types[0], "f")
    return types[0]


def _zero_like(x):
    return np.zeros((), x.dtype)


defop("elu", kind="elementwise", cost="expensive", infer=_unary_f, num_inputs=1,
      reference=lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False),
      grad=lambda b, op, g: [b.select(b.greater(op.operands[0], 0), g[0],
                                      b.mul(g[0], b.add(op.result, 1)))],
      doc="x if x > 0 else exp(x) - 1")
defop("leaky_relu", kind="elementwise", infer=_unary_f, num_inputs=1, attrs={"alpha": Attr("float", 0.2)},
      reference=lambda x, alpha: np.where(x > 0, x, x * x.dtype.type(alpha)),
      grad=lambda b, op, g: [b.select(b.greater(op.operands[0], 0), g[0],
                                      b.mul(g[0], op.attrs["alpha"]))],
      doc="x if x > 0 else alpha * x (TF's LeakyRelu)")
defop("softplus", kind="elementwise", cost="expensive", infer=_unary_f, num_inputs=1,
      reference=lambda x: np.logaddexp(_zero_like(x), x),
      grad=lambda b, op, g: [b.mul(g[0], b.sigmoid(op.operands[0]))],
      doc="log(1 + exp(x)), computed stably")
def _unary_fi(types, a):
    require_dtype(types[0], "fi")
    return types[0]


defop("relu6", kind="elementwise", infer=_unary_fi, num_inputs=1,
      reference=lambda x: np.minimum(np.maximum(x, _zero_like(x)), np.asarray(6, x.dtype)),
      grad=lambda b, op, g: [b.select(b.logical_and(b.greater(op.operands[0], 0),
                                                    b.less(op.operands[0], 6)),
                                      g[0], b.zeros_like(g[0]))],
      doc="min(max(x, 0), 6); gradient only strictly inside (0, 6)")


def _l2_infer(types, a):
    require_dtype(types[0], "f")
    return TensorType(types[0].dtype, ())


def _l2_decompose(b, op):
    """sum(square(x)) / 2: the reference's arithmetic, as fusable ops."""
    x = op.operands[0]
    s = b.reduce_sum(b.square(x), axes=None, keepdims=False)
    return b.div(s, b.const(np.asarray(2, dtype=x.type.dtype.np), x.type.dtype))


defop("l2_loss", kind="library", decompose=_l2_decompose, infer=_l2_infer, num_inputs=1,
      reference=lambda x: np.asarray(np.sum(np.square(x), dtype=x.dtype) / 2, dtype=x.dtype),
      grad=lambda b, op, g: [b.mul(op.operands[0], g[0])], doc="sum(x ** 2) / 2")

# =============================================================== argmax / argmin =============


def _arg_infer(types, a):
    x = types[0]
    require_dtype(x, "fi", "argmax/argmin input")
    if a["dtype"] not in (int32, int64):
        raise TypeError(f"output_type must be int32 or int64, got {a['dtype'].name}")
    if x.shape is None:
        return TensorType(a["dtype"], None)
    if x.rank < 1:
        raise ShapeMismatch("argmax/argmin needs an input of rank >= 1")
    ax = normalize_axes([a["axis"]], x.rank)[0]
    return TensorType(a["dtype"], x.shape[:ax] + x.shape[ax + 1:])


def _arg_ref(fn, name):
    def ref(x, axis, dtype):
        ax = axis % x.ndim
        if x.shape[ax] == 0:
            raise InvalidArgumentError(f"Reduction axis {axis} is empty in shape {list(x.shape)}")
        return fn(x, axis=ax).astype(dtype.np)
    ref.__name__ = name
    return ref


ARG_ATTRS = {"axis": Attr("int", 0), "dtype": Attr("dtype", int64)}
defop("argmax", kind="library", infer=_arg_infer, reference=_arg_ref(np.argmax, "argmax"), attrs=ARG_ATTRS,
      num_inputs=1, differentiable=False, doc="index of the first maximum along axis")
defop("argmin", kind="library", infer=_arg_infer, reference=_arg_ref(np.argmin, "argmin"), attrs=ARG_ATTRS,
      num_inputs=1, differentiable=False, doc="index of the first minimum along axis")

# =============================================================== one_hot =====================


def _one_hot_axis(rank, axis):
    if axis == -1:
        return rank
    if not 0 <= axis <= rank:
        raise ShapeMismatch(f"Expected axis to be -1 or between [0, {rank}].  But received: {axis}")
    return axis


def _one_hot_infer(types, a):
    idx, on, off = types
    require_dtype(idx, "i", "indices")
    dt = require_same_dtype([on, off], "on_value and off_value")
    for t, what in ((on, "on_value"), (off, "off_value")):
        if t.shape is not None and t.rank != 0:
            raise ShapeMismatch(f"{what} must be a scalar, got shape {list(t.shape)}")
    if a["depth"] < 0:
        raise ShapeMismatch(f"depth must be non-negative, got {a['depth']}")
    if idx.shape is None:
        return TensorType(dt, None)
    ax = _one_hot_axis(idx.rank, a["axis"])
    return TensorType(dt, idx.shape[:ax] + (a["depth"],) + idx.shape[ax:])


def _one_hot_ref(idx, on, off, depth, axis):
    ax = _one_hot_axis(idx.ndim, axis)
    classes = np.arange(depth).reshape((depth,) + (1,) * (idx.ndim - ax))
    hit = np.expand_dims(idx, ax) == classes
    return np.where(hit, on, off).astype(on.dtype, copy=False)


defop("one_hot", kind="library", infer=_one_hot_infer, reference=_one_hot_ref,
      attrs={"depth": Attr("int"), "axis": Attr("int", -1)}, num_inputs=3, differentiable=False,
      doc="operands (indices, on_value, off_value); out-of-range indices give off_value rows")

# =============================================================== gather ======================


def _gather_infer(types, a):
    p, idx = types
    require_dtype(idx, "i", "indices")
    if p.shape is None:
        return TensorType(p.dtype, None)
    if p.rank < 1:
        raise ShapeMismatch("params must be at least 1 dimensional")
    ax = normalize_axes([a["axis"]], p.rank)[0]
    if idx.shape is None:
        return TensorType(p.dtype, None)
    return TensorType(p.dtype, p.shape[:ax] + idx.shape + p.shape[ax + 1:])


def _check_indices(idx, limit):
    bad = (idx < 0) | (idx >= limit)
    if np.any(bad):
        pos = np.unravel_index(np.flatnonzero(bad.reshape(-1))[0], idx.shape)
        raise InvalidArgumentError(f"indices[{','.join(str(int(i)) for i in pos)}] = "
                                   f"{idx[pos]} is not in [0, {limit})")


def _gather_ref(p, idx, axis):
    ax = axis % p.ndim
    _check_indices(idx, p.shape[ax])
    return np.take(p, idx, axis=ax)


def _gather_grad_ref(g, idx, like, axis):
    ax = axis % like.ndim
    _check_indices(idx, like.shape[ax])
    out = np.zeros(like.shape, dtype=g.dtype)
    k = idx.ndim
    g_moved = np.moveaxis(g, tuple(range(ax, ax + k)), tuple(range(k)))
    np.add.at(np.moveaxis(out, ax, 0), idx, g_moved)
    return out


def _gather_grad_infer(types, a):
    g, idx, like = types
    require_dtype(idx, "i", "indices")
    require_dtype(g, "fi", "gather_grad gradient")
    if like.shape is not None:
        if like.rank < 1:
            raise ShapeMismatch("params must be at least 1 dimensional")
        normalize_axes([a["axis"]], like.rank)
    return TensorType(g.dtype, like.shape)


defop("gather", kind="library", infer=_gather_infer, reference=_gather_ref, attrs={"axis": Attr("int", 0)},
      num_inputs=2,
      grad=lambda b, op, g: [b.gather_grad(g[0], op.operands[1], op.operands[0], **op.attrs), None],
      doc="params[..., indices, ...] along axis; out-of-range indices are an error")
defop("gather_grad", kind="library", shape_only={2}, infer=_gather_grad_infer, reference=_gather_grad_ref,
      attrs={"axis": Attr("int", 0)}, num_inputs=3,
      grad=lambda b, op, g: [b.gather(g[0], op.operands[1], **op.attrs), None, None],
      doc="operands (g, indices, like_params): scatter-add g into zeros shaped like params")

# =============================================================== split =======================


def _split_sizes(dim, num, sizes):
    """Static sizes of the pieces (None where only run time knows)."""
    if num < 1:
        raise ShapeMismatch(f"split needs at least one output, got num={num}")
    if sizes is None:
        if isinstance(dim, int):
            if dim % num:
                raise ShapeMismatch(f"Number of ways to split should evenly divide the split "
                                    f"dimension, but got split_dim (size = {dim}) and "
                                    f"num_split {num}")
            return [dim // num] * num
        return [None] * num
    if len(sizes) != num:
        raise ShapeMismatch(f"split: {len(sizes)} sizes given for num={num} outputs")
    if sum(1 for s in sizes if s == -1) > 1 or any(s < -1 for s in sizes):
        raise ShapeMismatch(f"split sizes may hold one -1 and otherwise non-negative sizes, got "
                            f"{list(sizes)}")
    known = sum(s for s in sizes if s != -1)
    if not isinstance(dim, int):
        return [None if s == -1 else s for s in sizes]
    if -1 in sizes:
        if known > dim:
            raise ShapeMismatch(f"split sizes {list(sizes)} exceed the dimension {dim}")
        return [dim - known if s == -1 else s for s in sizes]
    if known != dim:
        raise ShapeMismatch(f"Determined shape must either match input shape along split_dim "
                            f"exactly if fully specified, or be less than the size of the input "
                            f"along split_dim if not fully specified.  Got: {known} vs {dim}")
    return list(sizes)


def _split_infer(types, a):
    x = types[0]
    if x.shape is None:
        _split_sizes(None, a["num"], a["sizes"])
        return [TensorType(x.dtype, None)] * a["num"]
    if x.rank < 1:
        raise ShapeMismatch("cannot split a scalar")
    ax = normalize_axes([a["axis"]], x.rank)[0]
    pieces = _split_sizes(x.shape[ax], a["num"], a["sizes"])
    return [TensorType(x.dtype, x.shape[:ax] + (s,) + x.shape[ax + 1:]) for s in pieces]


def _split_ref(x, axis, num, sizes):
    ax = axis % x.ndim
    try:
        pieces = _split_sizes(x.shape[ax], num, sizes)
    except ShapeMismatch as e:
        raise InvalidArgumentError(str(e)) from None
    cuts = np.cumsum(pieces)[:-1]
    out = tuple(np.split(x, cuts, axis=ax))
    return out if len(out) > 1 else out[0]     # a one-result op returns its array


defop("split", kind="library", infer=_split_infer, reference=_split_ref, num_inputs=1,
      attrs={"axis": Attr("int", 0), "num": Attr("int"), "sizes": Attr("opt_ints", None)},
      grad=lambda b, op, g: [b.concat(*g, axis=op.attrs["axis"])],
      doc="num pieces along axis: equal (sizes none) or of the given sizes (one may be -1)")

# =============================================================== pad =========================


def _pad_pairs(rank, paddings):
    if len(paddings) != 2 * rank:
        raise ShapeMismatch(f"The first dimension of paddings must be the rank of inputs"
                            f"[{len(paddings) // 2},2], [{rank}]")
    if any(p < 0 for p in paddings):
        raise ShapeMismatch(f"paddings must be non-negative, got {list(paddings)}")
    return [(paddings[2 * i], paddings[2 * i + 1]) for i in range(rank)]


def _pad_infer(types, a):
    x = types[0]
    if x.shape is None:
        return x
    pairs = _pad_pairs(x.rank, a["paddings"])
    return TensorType(x.dtype, tuple(d + p + q if isinstance(d, int) else (d if p == q == 0 else None)
                                     for d, (p, q) in zip(x.shape, pairs)))


def _pad_ref(x, paddings, value):
    pairs = _pad_pairs(x.ndim, paddings)
    if not pairs:
        return x.copy()
    return np.pad(x, pairs, constant_values=np.asarray(value).astype(x.dtype))


def _pad_grad(b, op, g):
    x = op.operands[0]
    pairs = _pad_pairs(x.type.rank, op.attrs["paddings"])
    if not pairs:
        return [g[0]]
    end_mask = sum(1 << i for i, (_, q) in enumerate(pairs) if q == 0)
    return [b.strided_slice(g[0], kinds=(0,) * len(pairs), begin=tuple(p for p, _ in pairs),
                            end=tuple(-q for _, q in pairs), strides=(1,) * len(pairs),
                            begin_mask=0, end_mask=end_mask)]


defop("pad", kind="library", infer=_pad_infer, reference=_pad_ref, grad=_pad_grad, num_inputs=1,
      attrs={"paddings": Attr("ints"), "value": Attr("float", 0.0)},
      doc="constant padding; paddings flattened (before_0, after_0, before_1, ...)")

# =============================================================== tile ========================


def _tile_infer(types, a):
    x = types[0]
    m = a["multiples"]
    if x.shape is None:
        return x
    if len(m) != x.rank:
        raise ShapeMismatch(f"Expected multiples argument to be a vector of length {x.rank} "
                            f"but got length {len(m)}")
    if any(k < 0 for k in m):
        raise ShapeMismatch(f"Expected multiples to be non-negative, got {list(m)}")
    return TensorType(x.dtype, tuple(d * k if isinstance(d, int) else (d if k == 1 else None)
                                     for d, k in zip(x.shape, m)))


def _tile_grad_ref(g, like, multiples):
    inter = []
    for k, d in zip(multiples, like.shape):
        inter.extend((k, d))
    return np.sum(g.reshape(inter), axis=tuple(range(0, 2 * like.ndim, 2)), dtype=g.dtype)


def _tile_grad_infer(types, a):
    g, like = types
    require_dtype(g, "fi", "tile_grad gradient")
    if like.shape is not None and len(a["multiples"]) != like.rank:
        raise ShapeMismatch(f"multiples {list(a['multiples'])} do not match rank {like.rank}")
    if g.shape is not None and like.shape is not None and g.rank != like.rank:
        raise ShapeMismatch(f"tile_grad: rank {g.rank} gradient for a rank {like.rank} input")
    return TensorType(g.dtype, like.shape)


defop("tile", kind="library", infer=_tile_infer, reference=lambda x, multiples: np.tile(x, multiples),
      attrs={"multiples": Attr("ints")}, num_inputs=1,
      grad=lambda b, op, g: [b.tile_grad(g[0], op.operands[0], **op.attrs)])
defop("tile_grad", kind="library", shape_only={1}, infer=_tile_grad_infer, reference=_tile_grad_ref,
      attrs={"multiples": Attr("ints")}, num_inputs=2,
      grad=lambda b, op, g: [b.tile(g[0], **op.attrs), None],
      doc="operands (g, like): the sum of g's tiles, shaped like the tiled input")

# =============================================================== reductions ==================


def _logsumexp_ref(x, axes, keepdims):
    ax = reduced_axes(x.ndim, axes)
    m = np.max(x, axis=ax, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, np.zeros((), x.dtype))
    out = np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=ax)
    return np.asarray(out, dtype=x.dtype)


def _keep(b, g, x, axes, keepdims):
    if not keepdims:
        for ax in reduced_axes(x.type.rank, axes):
            g = b.expand_dims(g, axis=ax)
    return g


def _logsumexp_grad(b, op, g):
    x = op.operands[0]
    axes, keep = op.attrs["axes"], op.attrs["keepdims"]
    yk = _keep(b, op.result, x, axes, keep)
    gk = _keep(b, g[0], x, axes, keep)
    return [b.mul(gk, b.exp(b.sub(x, yk)))]


def _logsumexp_decompose(b, op):
    """log(sum(exp(x - m))) + m with m the max over the axes, replaced by 0 where it is not
    finite (the reference's shift)."""
    x = op.operands[0]
    dt = x.type.dtype
    ax = reduced_axes(len(x.type.shape), op.attrs["axes"])
    m = b.reduce_max(x, axes=ax, keepdims=True)
    inf = b.const(np.asarray(np.inf, dtype=dt.np), dt)
    finite = b.less(b.abs(m), inf)
    m = b.select(finite, m, b.zeros_like(m))
    s = b.reduce_sum(b.exp(b.sub(x, m)), axes=ax, keepdims=True)
    out = b.add(b.log(s), m)
    if not op.attrs["keepdims"]:
        out = b.reduce_sum(out, axes=ax, keepdims=False)   # drops the size-1 axes
    return out


defop("reduce_logsumexp", kind="library", decompose=_logsumexp_decompose,
      infer=reduce_infer("f"), reference=_logsumexp_ref,
      grad=_logsumexp_grad, attrs=REDUCE_ATTRS, num_inputs=1,
      doc="log(sum(exp(x))) over axes, shifted by the (finite) max")
defop("reduce_all", kind="reduction", combiner="all", infer=reduce_infer("b"), attrs=REDUCE_ATTRS, num_inputs=1,
      reference=lambda x, axes, keepdims: np.asarray(
          np.all(x, axis=reduced_axes(x.ndim, axes), keepdims=keepdims)),
      differentiable=False)
defop("reduce_any", kind="reduction", combiner="any", infer=reduce_infer("b"), attrs=REDUCE_ATTRS, num_inputs=1,
      reference=lambda x, axes, keepdims: np.asarray(
          np.any(x, axis=reduced_axes(x.ndim, axes), keepdims=keepdims)),
      differentiable=False)
