"""Shapes computed from ``tf.shape(x)`` at graph build: ``tf.zeros(tf.shape(x))``,
``tf.random_normal([tf.shape(x)[0], 10])``, ``tf.fill(tf.concat([tf.shape(x)[:1], [3]], 0), v)``.

The IR's fill and random ops take a static shape or a *like* operand whose shape they copy. A
shape tensor built from ``tf.shape`` (whole, indexed or sliced), constants, ``tf.stack``,
``tf.concat`` and Python lists of those is evaluated here symbolically, each entry an int or
"dim i of tensor x", and turned into a like tensor of exactly that run-time shape: ``x`` itself
when the shape is ``tf.shape(x)``, else a broadcast sum of zero vectors, each spanning one
referenced dim (a reduction over ``zeros_like(x)``, which reads no data). Arithmetic on dims
(``tf.shape(x)[0] * 2``) is not evaluated: such a shape raises NotImplementedError saying so.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import float32
from .graph import Tensor

_Entry = Any        # int | (Tensor, axis)


def _objects(entries: list) -> np.ndarray:
    """A 1-d object array of entries (``np.array`` would split the (tensor, axis) pairs)."""
    out = np.empty(len(entries), dtype=object)
    for i, e in enumerate(entries):
        out[i] = e
    return out


def _eval(t: Tensor) -> Optional[np.ndarray]:
    """A 0-d or 1-d object array of entries, or None when ``t`` is not such a shape."""
    op = t.op
    kind = op.type
    if kind == "Const":
        v = np.asarray(op.attrs["value"])
        return v.astype(object) if v.ndim <= 1 and v.dtype.kind in "iu" else None
    if kind == "Shape":
        x = op.inputs[0]
        dims = x.shape.dims
        if dims is None:
            return None                       # unknown rank
        return _objects([d if d is not None else (x, i) for i, d in enumerate(dims)])
    if kind in ("Identity", "Cast"):
        return _eval(op.inputs[0])
    if kind == "ExpandDims":
        v = _eval(op.inputs[0])
        return v.reshape(1) if v is not None and v.ndim == 0 else None
    if kind in ("Pack", "ConcatV2"):
        parts = [_eval(i) for i in op.inputs]
        if any(p is None or p.ndim != 1 for p in parts):
            return None
        return np.concatenate(parts) if parts else _objects([])
    if kind == "StridedSlice":
        v = _eval(op.inputs[0])
        a = op.attrs
        if v is None or v.ndim != 1 or len(a["kinds"]) != 1:
            return None
        if a["kinds"][0] == 1:                # an index: a scalar entry
            i = a["begin"][0]
            if not -len(v) <= i < len(v):
                return None
            out = np.empty((), dtype=object)
            out[()] = v[i]
            return out
        if a["kinds"][0] != 0:
            return None
        b = None if a["begin_mask"] & 1 else a["begin"][0]
        e = None if a["end_mask"] & 1 else a["end"][0]
        return v[slice(b, e, a["strides"][0])]
    return None


def shape_entries(shape: Any) -> Optional[list]:
    """The entries of a shape given as a tensor or a list of ints and scalar tensors; None if
    it is not one this module can evaluate."""
    if isinstance(shape, Tensor):
        v = _eval(shape)
        return None if v is None or v.ndim != 1 else list(v)
    if isinstance(shape, (list, tuple)):
        out: list = []
        for e in shape:
            if isinstance(e, Tensor):
                v = _eval(e)
                if v is None or v.ndim != 0:
                    return None
                out.append(v.item() if isinstance(v, np.ndarray) else v)
            else:
                try:
                    out.append(int(e))
                except (TypeError, ValueError):
                    return None
        return out
    return None


def is_dynamic(shape: Any) -> bool:
    """Does ``shape`` involve a tensor that is not a constant (so needs a like tensor)?"""
    from .op_builder import static_value
    if isinstance(shape, Tensor):
        return static_value(shape) is None
    if isinstance(shape, (list, tuple)):
        return any(isinstance(e, Tensor) and static_value(e) is None for e in shape)
    return False


def shape_like(shape: Any, what: str) -> Tensor:
    """A tensor whose run-time shape is ``shape`` (see the module docstring)."""
    from .array_ops import expand_dims, zeros, zeros_like
    from .math_ops import reduce_sum
    entries = shape_entries(shape)
    if entries is None:
        name = shape.name if isinstance(shape, Tensor) else repr(shape)
        raise NotImplementedError(
            f"{what}: the shape {name} is computed at run time in a way jitflow cannot follow; "
            f"shapes may come from tf.shape(x) (whole, indexed or sliced), constants, tf.stack "
            f"and tf.concat of those, but not from arithmetic on dims")
    for e in entries:
        if isinstance(e, (int, np.integer)) and e < 0:
            raise ValueError(f"{what}: negative dimension {e} in shape {entries}")
    refs = [(k, e) for k, e in enumerate(entries) if isinstance(e, tuple)]
    if not refs:                              # (a dynamic-looking shape that folds to ints)
        return zeros([int(e) for e in entries], dtype=float32)
    x0 = refs[0][1][0]
    if len(refs) == len(entries) == x0.shape.ndims and \
            all(e[0] is x0 and e[1] == k for k, e in refs):
        return x0                             # exactly tf.shape(x): x itself
    rank = len(entries)
    like = zeros([1 if isinstance(e, tuple) else int(e) for e in entries], dtype=float32)
    for k, (x, axis) in refs:
        others = [i for i in range(x.shape.ndims) if i != axis]
        vec = reduce_sum(zeros_like(x, dtype=float32), axis=others) if others else \
            zeros_like(x, dtype=float32)
        for _ in range(k):
            vec = expand_dims(vec, 0)
        for _ in range(rank - k - 1):
            vec = expand_dims(vec, -1)
        like = like + vec
    return like
