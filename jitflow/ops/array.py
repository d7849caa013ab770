"""Shape and data-movement ops: constants, fills, identity, reshape, transpose, expand_dims,
squeeze, and the shape-polymorphic helpers the gradient rules use (``broadcast_like``,
``sum_to``, ``reshape_like``, ``size``) so symbolic dims never force a recompile."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.dtypes import as_dtype, int32
from ..ir.opdef import Attr, defop
from ..ir.types import (ShapeMismatch, TensorType, broadcast_shapes, normalize_axes,
                        product_dim, split_dim)
from .common import require_same_dtype, require_static_shape, unbroadcast

# ------------------------------------------------------------------ constants -------------

defop("constant", kind="constant", infer=lambda types, a: TensorType(as_dtype(a["value"].dtype), a["value"].shape),
      reference=lambda value: value, attrs={"value": Attr("array")}, num_inputs=0,
      differentiable=False)


def _fill_infer(types, a):
    if types[0].rank not in (0, None):
        raise ShapeMismatch(f"fill value must be a scalar, got shape {types[0].shape}")
    return TensorType(types[0].dtype, require_static_shape(a["shape"], "fill"))


defop("fill", kind="elementwise", infer=_fill_infer,
      reference=lambda v, shape: np.full(shape, v, dtype=v.dtype),
      grad=lambda b, op, g: [b.reduce_sum(g[0], axes=None, keepdims=False)],
      attrs={"shape": Attr("ints")}, num_inputs=1, doc="tf.fill(dims, value) with static dims")
defop("zeros_like", kind="elementwise", shape_only={0}, infer=lambda types, a: types[0], reference=lambda x: np.zeros_like(x),
      num_inputs=1, differentiable=False)
defop("ones_like", kind="elementwise", shape_only={0}, infer=lambda types, a: types[0], reference=lambda x: np.ones_like(x),
      num_inputs=1, differentiable=False)
defop("identity", kind="view", infer=lambda types, a: types[0], reference=lambda x: x,
      grad=lambda b, op, g: [g[0]], num_inputs=1)
defop("stop_gradient", kind="view", infer=lambda types, a: types[0], reference=lambda x: x, num_inputs=1,
      differentiable=False, doc="identity that blocks gradients (tf.stop_gradient)")


def _add_n_infer(types, a):
    if not types:
        raise ShapeMismatch("add_n needs at least one input")
    dt = require_same_dtype(types, "add_n inputs")
    return TensorType(dt, broadcast_shapes(*[t.shape for t in types]))


def _add_n_ref(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return np.asarray(out, dtype=xs[0].dtype)


defop("add_n", kind="elementwise", infer=_add_n_infer, reference=_add_n_ref,
      grad=lambda b, op, g: [unbroadcast(b, g[0], x) for x in op.operands])

# ------------------------------------------------------------------ reshape & co ----------


def reshape_dims(in_shape, shape):
    """Output dims of reshape(in_shape -> shape) with one -1; symbolic where derivable."""
    shape = tuple(shape)
    if sum(1 for d in shape if d == -1) > 1:
        raise ShapeMismatch(f"reshape: at most one -1 is allowed, got {list(shape)}")
    if any(d < -1 for d in shape):
        raise ShapeMismatch(f"reshape: bad dim in {list(shape)}")
    known = 1
    for d in shape:
        if d != -1:
            known *= d
    if in_shape is None:
        return tuple(None if d == -1 else d for d in shape)
    static_in, dyn = 1, [d for d in in_shape if not isinstance(d, int)]
    for d in in_shape:
        if isinstance(d, int):
            static_in *= d
    if not dyn:
        if -1 in shape:
            if known == 0 or static_in % known:
                raise ShapeMismatch(f"Input to reshape is a tensor with {static_in} values, but the "
                                    f"requested shape requires a multiple of {known}")
            return tuple(static_in // known if d == -1 else d for d in shape)
        if known != static_in:
            raise ShapeMismatch(f"Input to reshape is a tensor with {static_in} values, but the "
                                f"requested shape has {known}")
        return shape
    if -1 not in shape:
        return shape
    if len(dyn) == 1 and known == static_in and dyn[0] is not None:
        return tuple(dyn[0] if d == -1 else d for d in shape)
    if None not in dyn:          # symbols only: the -1 is their product over the rest
        coef, syms = static_in, []
        for d in dyn:
            c, f = split_dim(d)
            coef, syms = coef * c, syms + f
        if known and coef % known == 0:
            return tuple(product_dim(coef // known, syms) if d == -1 else d for d in shape)
    return tuple(None if d == -1 else d for d in shape)


def _reshape_ref(x, shape):
    try:
        return np.reshape(x, shape)
    except ValueError:
        raise InvalidArgumentError(
            f"Input to reshape is a tensor with {x.size} values, but the requested shape "
            f"{list(shape)} does not fit") from None


defop("reshape", kind="view", infer=lambda types, a: TensorType(types[0].dtype, reshape_dims(types[0].shape, a["shape"])),
      reference=_reshape_ref, grad=lambda b, op, g: [b.reshape_like(g[0], op.operands[0])],
      attrs={"shape": Attr("ints")}, num_inputs=1)


def _reshape_like_infer(types, a):
    x, like = types
    if x.shape is not None and like.shape is not None and x.is_static and like.is_static:
        if x.num_elements() != like.num_elements():
            raise ShapeMismatch(f"reshape_like: {x.num_elements()} values cannot take shape {like.shape}")
    return TensorType(x.dtype, like.shape)


defop("reshape_like", kind="view", shape_only={1}, infer=_reshape_like_infer,
      reference=lambda x, like: np.reshape(x, like.shape),
      grad=lambda b, op, g: [b.reshape_like(g[0], op.operands[0]), None], num_inputs=2,
      doc="reshape x to the (run-time) shape of like; like's values are not read")


def _perm(rank, perm):
    if not perm:
        return tuple(range(rank))[::-1]
    if len(perm) != rank or not all(-rank <= p < rank for p in perm):
        raise ShapeMismatch(f"transpose: perm {list(perm)} is not a permutation of rank {rank}")
    return tuple(p % rank for p in perm)


def _transpose_infer(types, a):
    x = types[0]
    if x.shape is None:
        return x
    perm = _perm(x.rank, a["perm"])
    if sorted(perm) != list(range(x.rank)):
        raise ShapeMismatch(f"transpose: perm {list(a['perm'])} is not a permutation of rank {x.rank}")
    return TensorType(x.dtype, tuple(x.shape[p] for p in perm))


def _transpose_grad(b, op, g):
    perm = _perm(op.operands[0].type.rank, op.attrs["perm"])
    inv = tuple(int(i) for i in np.argsort(perm))
    return [b.transpose(g[0], perm=inv)]


def _contig(shape) -> list[int]:
    st, acc = [0] * len(shape), 1
    for k in range(len(shape) - 1, -1, -1):
        st[k] = acc
        acc *= shape[k]
    return st


def _transpose_map(shape, a) -> tuple[int, list[int]]:
    """Result index idx reads x at sum(idx[j] * stride(perm[j]))."""
    cs = _contig(shape)
    return 0, [cs[p] for p in _perm(len(shape), a["perm"])]


defop("transpose", kind="remap", index_map=_transpose_map, infer=_transpose_infer,
      reference=lambda x, perm: np.transpose(x, _perm(x.ndim, perm)),
      grad=_transpose_grad, attrs={"perm": Attr("ints", ())}, num_inputs=1,
      doc="empty perm reverses the axes, as tf.transpose does")


def _expand_axis(rank, axis):
    if not -rank - 1 <= axis <= rank:
        raise ShapeMismatch(f"expand_dims: axis {axis} out of range for rank {rank}")
    return axis % (rank + 1)


def _expand_infer(types, a):
    x = types[0]
    if x.shape is None:
        return x
    ax = _expand_axis(x.rank, a["axis"])
    return TensorType(x.dtype, x.shape[:ax] + (1,) + x.shape[ax:])


defop("expand_dims", kind="view", infer=_expand_infer,
      reference=lambda x, axis: np.expand_dims(x, _expand_axis(x.ndim, axis)),
      grad=lambda b, op, g: [b.reshape_like(g[0], op.operands[0])],
      attrs={"axis": Attr("int")}, num_inputs=1)


def _squeeze_axes(shape, axes):
    if axes:
        axes = normalize_axes(axes, len(shape))
        for ax in axes:
            if shape[ax] != 1 and isinstance(shape[ax], int):
                raise ShapeMismatch(f"Can not squeeze dim[{ax}], expected a dimension of 1, got {shape[ax]}")
        return axes
    return tuple(i for i, d in enumerate(shape) if d == 1)


defop("squeeze", kind="view",
      infer=lambda types, a: types[0] if types[0].shape is None else TensorType(
          types[0].dtype, tuple(d for i, d in enumerate(types[0].shape)
                                if i not in _squeeze_axes(types[0].shape, a["axes"]))),
      reference=lambda x, axes: np.squeeze(x, axis=_squeeze_axes(x.shape, axes)),
      grad=lambda b, op, g: [b.reshape_like(g[0], op.operands[0])],
      attrs={"axes": Attr("ints", ())}, num_inputs=1,
      doc="empty axes squeezes every statically-1 dim")

# ------------------------------------------------------------------ broadcasting helpers ---

defop("broadcast_like", kind="elementwise", shape_only={1},
      infer=lambda types, a: TensorType(types[0].dtype, broadcast_shapes(types[0].shape, types[1].shape)),
      reference=lambda x, like: np.broadcast_to(x, np.broadcast_shapes(x.shape, like.shape)),
      grad=lambda b, op, g: [b.sum_to(g[0], op.operands[0]), None], num_inputs=2,
      doc="broadcast x against the (run-time) shape of like; like's values are not read")


def sum_to_ref(g, like):
    lead = g.ndim - like.ndim
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(like.shape)
                                      if d == 1 and g.shape[lead + i] != 1)
    out = np.sum(g, axis=axes, keepdims=True, dtype=g.dtype) if axes else g
    return out.reshape(like.shape)


defop("sum_to", kind="reduction", combiner="sum", shape_only={1}, infer=lambda types, a: TensorType(types[0].dtype, types[1].shape),
      reference=sum_to_ref,
      grad=lambda b, op, g: [b.broadcast_like(g[0], op.operands[0]), None], num_inputs=2,
      doc="sum a broadcast result back to like's shape (undoes broadcast_like)")


def _size_ref(x, axes, dtype):
    dims = x.shape if axes is None else [x.shape[i] for i in axes]
    return np.asarray(int(np.prod(dims, dtype=np.int64)), dtype=dtype.np)


defop("size", kind="elementwise", shape_only={0}, infer=lambda types, a: TensorType(a["dtype"], ()), reference=_size_ref,
      attrs={"axes": Attr("opt_ints", None), "dtype": Attr("dtype", int32)}, num_inputs=1,
      differentiable=False, doc="number of elements (over axes) at run time")
