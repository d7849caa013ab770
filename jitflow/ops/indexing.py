"""Indexing ops: ``strided_slice`` (Python/NumPy basic indexing, what ``Tensor.__getitem__``
builds), its gradient ``strided_slice_grad``, ``concat`` and the run-time ``shape``.

A strided slice is a list of entries, one per indexed position: ``kinds[i]`` is 0 (a slice
``begin:end:stride``; ``begin_mask``/``end_mask`` bit i means that bound is omitted), 1 (an
integer index ``begin[i]``, which drops the axis) or 2 (``newaxis``). Axes not indexed are kept.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..ir.dtypes import int32
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType, normalize_axes
from .common import require_same_dtype

SLICE_ATTRS = {"kinds": Attr("ints"), "begin": Attr("ints"), "end": Attr("ints"),
               "strides": Attr("ints"), "begin_mask": Attr("int", 0), "end_mask": Attr("int", 0)}


def slice_key(a: dict) -> tuple:
    key = []
    for i, kind in enumerate(a["kinds"]):
        if kind == 0:
            b = None if a["begin_mask"] >> i & 1 else a["begin"][i]
            e = None if a["end_mask"] >> i & 1 else a["end"][i]
            key.append(slice(b, e, a["strides"][i]))
        elif kind == 1:
            key.append(a["begin"][i])
        else:
            key.append(np.newaxis)
    return tuple(key)


def sliced_shape(shape: tuple, a: dict) -> tuple:
    out, axis = [], 0
    consumed = sum(1 for k in a["kinds"] if k != 2)
    if consumed > len(shape):
        raise ShapeMismatch(f"too many indices ({consumed}) for a tensor of rank {len(shape)}")
    for entry in slice_key(a):
        if entry is None:
            out.append(1)
            continue
        d = shape[axis]
        axis += 1
        if isinstance(entry, slice):
            if entry.step == 0:
                raise ShapeMismatch("slice step cannot be zero")
            if isinstance(d, int):
                out.append(len(range(*entry.indices(d))))
            elif entry.start is None and entry.stop is None and entry.step == 1:
                out.append(d)
            else:
                out.append(None)
        else:
            if isinstance(d, int) and not -d <= entry < d:
                raise ShapeMismatch(f"index {entry} is out of bounds for axis {axis - 1} with size {d}")
    out.extend(shape[axis:])
    return tuple(out)


def _slice_infer(types, a):
    x = types[0]
    n = len(a["kinds"])
    if not (len(a["begin"]) == len(a["end"]) == len(a["strides"]) == n):
        raise ShapeMismatch("strided_slice: kinds, begin, end and strides must have equal lengths")
    if x.shape is None:
        return x
    return TensorType(x.dtype, sliced_shape(x.shape, a))


def _slice_ref(x, **a):
    try:
        return np.array(x[slice_key(a)])
    except IndexError as e:
        from ..errors import InvalidArgumentError
        raise InvalidArgumentError(f"slice index out of bounds: {e}") from None


def _slice_grad_ref(g, like, **a):
    out = np.zeros(like.shape, dtype=g.dtype)
    out[slice_key(a)] = g
    return out


def slice_map(shape, a: dict) -> tuple[int, list[int]]:
    """(base, strides over the result's axes) of a strided slice of a contiguous tensor of
    ``shape``."""
    cs = [0] * len(shape)
    acc = 1
    for k in range(len(shape) - 1, -1, -1):
        cs[k] = acc
        acc *= shape[k]
    base, out, axis = 0, [], 0
    for e in slice_key(a):
        if e is None:
            out.append(0)
            continue
        if isinstance(e, slice):
            start, _, step = e.indices(shape[axis])
            base += start * cs[axis]
            out.append(step * cs[axis])
        else:
            base += (e % shape[axis] if shape[axis] else 0) * cs[axis]
        axis += 1
    out.extend(cs[axis:])
    return base, out


defop("strided_slice", kind="remap", index_map=slice_map, infer=_slice_infer, reference=_slice_ref, attrs=SLICE_ATTRS, num_inputs=1,
      grad=lambda b, op, g: [b.strided_slice_grad(g[0], op.operands[0], **op.attrs)])
defop("strided_slice_grad", kind="library", shape_only={1}, infer=lambda types, a: TensorType(types[0].dtype, types[1].shape),
      reference=_slice_grad_ref, attrs=SLICE_ATTRS, num_inputs=2,
      grad=lambda b, op, g: [b.strided_slice(g[0], **op.attrs), None],
      doc="scatter g into zeros shaped like the sliced tensor (like's values are not read)")


def _concat_infer(types, a):
    dt = require_same_dtype(types, "concat inputs")
    known = [t for t in types if t.shape is not None]
    if not known:
        return TensorType(dt, None)
    rank = known[0].rank
    if any(t.rank != rank for t in known):
        raise ShapeMismatch(f"concat inputs must have the same rank, got {[t.rank for t in known]}")
    ax = normalize_axes([a["axis"]], rank)[0]
    out = list(known[0].shape)
    total = 0
    for t in types:
        if t.shape is None:
            return TensorType(dt, None)
        for i, d in enumerate(t.shape):
            if i == ax:
                continue
            if isinstance(d, int) and isinstance(out[i], int) and d != out[i]:
                raise ShapeMismatch(f"Dimension {i} in both shapes must be equal, but are "
                                    f"{out[i]} and {d}")
            if not isinstance(out[i], int):
                out[i] = d if isinstance(d, int) else out[i]
        total = total + t.shape[ax] if isinstance(total, int) and isinstance(t.shape[ax], int) else None
    out[ax] = total
    return TensorType(dt, tuple(out))


def _concat_grad(b, op, g):
    """Each operand's slice of ``g`` along the axis. One operand may have a symbolic size there
    (a batch dim): the operands before it are sliced from the start, those after it from the
    end (negative indices), and it takes what lies between."""
    ax = normalize_axes([op.attrs["axis"]], op.result.type.rank)[0]
    sizes = [v.type.shape[ax] for v in op.operands]
    symbolic = [i for i, n in enumerate(sizes) if not isinstance(n, int)]
    if len(symbolic) > 1:
        return _concat_grad_gathers(b, op, g[0], ax)
    pivot = symbolic[0] if symbolic else len(sizes)
    lead = (1 << ax) - 1                # the axes before ``ax``: whole
    grads, start = [], 0

    def piece(begin: int, end: Optional[int]):
        return b.strided_slice(g[0], kinds=(0,) * (ax + 1), begin=(0,) * ax + (begin,),
                               end=(0,) * ax + (end or 0,), strides=(1,) * (ax + 1),
                               begin_mask=lead, end_mask=lead | ((end is None) << ax))
    for i, v in enumerate(op.operands):
        if i < pivot:
            grads.append(b.zeros_like(v) if sizes[i] == 0 else piece(start, start + sizes[i]))
            start += sizes[i]
            continue
        after = sum(sizes[i + 1:])          # static: only operands after the pivot
        end = -after if after else None
        if i == pivot:
            grads.append(piece(start, end))
        else:
            grads.append(b.zeros_like(v) if sizes[i] == 0 else piece(-(after + sizes[i]), end))
    return grads


def _concat_grad_gathers(b, op, g, ax: int) -> list:
    """Operands of several symbolic sizes along ``ax`` (``tf.pad`` by run-time amounts on both
    sides): each gathers its rows of ``g`` at its run-time offset plus an iota, both counted
    from the operands' own shapes (ones along ``ax``, summed and exclusively cumsummed)."""
    rank = op.result.type.rank
    others = tuple(a for a in range(rank) if a != ax)
    offset = b.const(0, int32)
    grads = []
    for v in op.operands:
        n = v.type.shape[ax]
        if n == 0:
            grads.append(b.zeros_like(v))
            continue
        if isinstance(n, int):
            iota, size = b.const(np.arange(n), int32), b.const(n, int32)
        else:
            zeros = b.reduce_sum(b.zeros_like(v), axes=others, keepdims=False) if others \
                else b.zeros_like(v)
            ones = b.add(b.cast(zeros, dtype=int32), b.const(1, int32))
            iota = b.cumsum(ones, axis=0, exclusive=True, reverse=False)
            size = b.reduce_sum(ones, axes=(0,), keepdims=False)
        grads.append(b.gather(g, b.add(iota, offset), axis=ax))
        offset = b.add(offset, size)
    return grads


defop("concat", kind="library", infer=_concat_infer,
      reference=lambda *xs, axis: np.concatenate(xs, axis=axis),
      grad=_concat_grad, attrs={"axis": Attr("int")})

defop("shape", kind="library", shape_only={0}, infer=lambda types, a: TensorType(a["dtype"], (types[0].rank,)),
      reference=lambda x, dtype: np.array(x.shape, dtype=dtype.np),
      attrs={"dtype": Attr("dtype", int32)}, num_inputs=1, differentiable=False,
      doc="run-time shape of x as an integer vector (tf.shape)")
