"""Block layout ops: split, pad, tile and ``tile_grad(g, like)`` (sums the tiles)."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType, normalize_axes
from .common import require_dtype


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

