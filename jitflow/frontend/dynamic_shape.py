"""Shapes computed from ``tf.shape(x)`` at graph build: ``tf.zeros(tf.shape(x))``,
``tf.random_normal([tf.shape(x)[0], 10])``, ``tf.fill(tf.concat([tf.shape(x)[:1], [3]], 0), v)``.

The IR's fill and random ops take a static shape or a *like* operand whose shape they copy. A
shape tensor built from ``tf.shape`` (whole, indexed or sliced), constants, ``tf.stack``,
``tf.concat`` and Python lists of those is evaluated here symbolically, each entry an int or
"dim i of tensor x", and turned into a like tensor of exactly that run-time shape: ``x`` itself
when the shape is ``tf.shape(x)``, else a broadcast sum of zero vectors, each spanning one
referenced dim (a reduction over ``zeros_like(x)``, which reads no data).

Any other computed shape (a fed batch size: ``cell.zero_state(batch_size, ...)`` with a
placeholder, arithmetic on dims: ``tf.shape(x)[0] * 2``) is a vector of values the graph
computes: its like tensor is ``zeros_of_shape(vector)`` (ops/host.py), run on the host between
the compiled segments, and the ops after it see symbolic dims. ``reshape`` to such a shape is
the host op ``reshape_to`` (TF's Reshape with a computed shape, one -1 inferred at run time);
a reshape whose entries are dims of the reshaped tensor itself stays native (``reshape_like``,
or a static reshape when the -1 can be resolved at graph build).
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


def shape_vector(shape: Any, what: str) -> Tensor:
    """``shape`` (a vector tensor, or a list of ints and scalar tensors) as one int32 vector
    of a length known at graph build."""
    from .array_ops import stack
    from .math_ops import cast
    from .op_builder import convert_to_tensor
    if isinstance(shape, (list, tuple)):
        parts = [cast(convert_to_tensor(e), "int32") if isinstance(e, Tensor) else
                 convert_to_tensor(int(e), dtype="int32") for e in shape]
        for e, p in zip(shape, parts):
            if p.shape.ndims not in (None, 0):
                raise ValueError(f"{what}: a shape entry must be a scalar, got {p.name} of "
                                 f"shape {p.shape}")
        return stack(parts) if parts else convert_to_tensor(np.zeros(0, np.int32))
    v = convert_to_tensor(shape)
    if not v.dtype.is_integer:
        raise TypeError(f"{what}: the shape must be int32 or int64, got {v.dtype.name} "
                        f"({v.name})")
    if v.shape.dims is None or len(v.shape.dims) != 1 or v.shape.dims[0] is None:
        raise ValueError(f"{what}: the shape {v.name} must be a vector of a length known at "
                         f"graph build (the result's rank), got shape {v.shape}")
    return cast(v, "int32")


def known_dims(shape: Any, rank: int) -> tuple:
    """The entries of ``shape`` known at graph build (-1 for the others)."""
    from .op_builder import static_value
    if isinstance(shape, (list, tuple)):
        out = []
        for e in shape:
            v = static_value(e) if isinstance(e, Tensor) else e
            out.append(-1 if v is None else int(np.asarray(v)))
        return tuple(out)
    v = static_value(shape)
    return tuple(int(d) for d in np.asarray(v).reshape(-1)) if v is not None else (-1,) * rank


def computed_zeros(shape: Any, what: str) -> Tensor:
    """float32 zeros of a shape the graph computes (the host op ``zeros_of_shape``)."""
    from .op_builder import make_op
    vec = shape_vector(shape, what)
    known = tuple(d if d >= 0 else -1 for d in known_dims(shape, vec.shape.dims[0]))
    return make_op("Fill", "zeros_of_shape", [vec], {"dtype": float32, "known": known},
                   "zeros_of_shape").outputs[0]


def shape_like(shape: Any, what: str) -> Tensor:
    """A tensor whose run-time shape is ``shape`` (see the module docstring)."""
    entries = shape_entries(shape)
    if entries is None:
        return computed_zeros(shape, what)
    return like_of_entries(entries, what)


def like_of_entries(entries: list, what: str) -> Tensor:
    """A tensor of the run-time shape ``entries`` (ints and ``(tensor, axis)`` dims)."""
    from .array_ops import expand_dims, zeros, zeros_like
    from .math_ops import reduce_sum
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


def _resolve_minus_one(x: Tensor, entries: list) -> Optional[list]:
    """``entries`` with its -1 replaced by the int it must be, when that is known at graph
    build: the dims of ``x`` the other entries do not account for are static. Entries that
    refer to ``x``'s own dims (``(x, axis)``) account for those; entries of other tensors'
    dims are taken to stand for ``x``'s unknown dims only where both lead, in order (``[batch,
    -1]``, ``[batch, time, -1]`` of an ``x`` whose first one or two dims are unknown): a run
    where they differ fails reshape_like's size check instead of reading out of bounds.
    Anything else (``[-1, tf.shape(t)[1], ...]``) is left to the run (None)."""
    dims = x.shape.dims
    if dims is None or sum(1 for e in entries if isinstance(e, (int, np.integer)) and e == -1) != 1:
        return None
    refs = [e for e in entries if isinstance(e, tuple)]
    own = [e for e in refs if e[0] is x]
    unknown = [i for i, d in enumerate(dims) if d is None]
    if own and len(own) == len(refs) and len({a for _, a in own}) == len(own):
        rest = [d for i, d in enumerate(dims) if i not in {a for _, a in own}]
    elif unknown == list(range(len(refs))) and all(isinstance(e, tuple)
                                                   for e in entries[:len(refs)]):
        rest = [d for d in dims if d is not None]
    else:
        return None
    if any(d is None for d in rest):
        return None
    total = int(np.prod(rest, dtype=np.int64))
    fixed = int(np.prod([int(e) for e in entries if not isinstance(e, tuple) and e != -1],
                        dtype=np.int64))
    if fixed <= 0 or total % fixed:
        return None
    return [total // fixed if not isinstance(e, tuple) and e == -1 else e for e in entries]


def reshape_computed(x: Tensor, shape: Any, name: Optional[str]) -> Tensor:
    """``tf.reshape(x, shape)`` with a shape computed at run time: native (a static reshape
    with one symbolic dim, or ``reshape_like`` to a like tensor) when the shape's entries are
    ints and dims of tensors and its -1 is known at graph build, else the host op
    ``reshape_to``."""
    from .op_builder import make_op
    entries = shape_entries(shape)
    if entries is not None and any(isinstance(e, tuple) for e in entries):
        if any(not isinstance(e, tuple) and e == -1 for e in entries):
            entries = _resolve_minus_one(x, entries)
        if entries is not None:
            refs = [k for k, e in enumerate(entries) if isinstance(e, tuple)]
            if len(refs) == 1 and entries[refs[0]][0] is x:   # x's own dim: the IR's -1
                dims = [-1 if k == refs[0] else int(e) for k, e in enumerate(entries)]
                return make_op("Reshape", "reshape", [x], {"shape": tuple(dims)},
                               name or "Reshape").outputs[0]
            like = like_of_entries(entries, "tf.reshape")
            return make_op("Reshape", "reshape_like", [x, like],
                           name=name or "Reshape").outputs[0]
    vec = shape_vector(shape, "tf.reshape")
    known = known_dims(shape, vec.shape.dims[0])
    if known.count(-1) == 1 and x.shape.is_fully_defined():
        fixed = int(np.prod([d for d in known if d != -1], dtype=np.int64))
        n = x.shape.num_elements()
        if fixed > 0 and n % fixed == 0 and all(d >= -1 for d in known) and \
                sum(1 for d in known if d == -1) == 1 and not is_dynamic(shape):
            known = tuple(n // fixed if d == -1 else d for d in known)
    return make_op("Reshape", "reshape_to", [x, vec], {"known": known},
                   name or "Reshape").outputs[0]


def dims_with(x: Tensor, axis: int, entry: Any) -> list:
    """``x``'s shape as shape entries (ints, ``tf.shape(x)[i]`` for unknown dims) with
    ``entry`` at ``axis``."""
    from .array_ops import shape
    dims = x.shape.dims
    out: list = [d if d is not None else shape(x)[i] for i, d in enumerate(dims)]
    out[axis] = entry
    return out


def tile_computed(x: Tensor, multiples: Any, name: Optional[str]) -> Tensor:
    """``tf.tile`` with multiples computed at run time: a computed multiple of a dim that is 1
    broadcasts (``tile(expand_dims(x, 1), [1, tf.shape(y)[0], 1])``); of another dim, the
    axis is repeated by a broadcast over a new axis and a reshape merging the two."""
    from . import math_ops as M
    from .array_ops import expand_dims, reshape, shape, zeros
    from .graph import name_scope
    from .op_builder import convert_to_tensor, make_op, static_value
    dims = x.shape.dims
    if dims is None:
        raise ValueError("tf.tile with computed multiples needs an input of known rank")
    if isinstance(multiples, (list, tuple)):
        mult = list(multiples)
    else:
        mv = convert_to_tensor(multiples)
        if mv.shape.dims is None or len(mv.shape.dims) != 1 or mv.shape.dims[0] != len(dims):
            raise ValueError(f"tf.tile: multiples must be a vector of {len(dims)} entries (one "
                             f"per dim of {x.shape}), got shape {mv.shape}")
        mult = [mv[i] for i in range(len(dims))]
    if len(mult) != len(dims):
        raise ValueError(f"tf.tile: {len(mult)} multiples for an input of rank {len(dims)}")
    with name_scope(name or "Tile") as scope:
        out = x
        for a, m in enumerate(mult):
            sv = static_value(m) if isinstance(m, Tensor) else m
            if sv is not None:
                if int(sv) != 1:
                    reps = [1] * len(dims)
                    reps[a] = int(sv)
                    out = make_op("Tile", "tile", [out], {"multiples": tuple(reps)}).outputs[0]
                continue
            if out.shape.dims[a] == 1:
                like = zeros(dims_with(out, a, m), dtype=out.dtype)
                out = M.add(out, like)
            else:
                wide = expand_dims(out, a)
                like = zeros(dims_with(wide, a, m), dtype=out.dtype)
                big = M.add(wide, like)
                sh = shape(big)
                new = [sh[i] for i in range(a)] + [-1] + \
                    [sh[i] for i in range(a + 2, len(dims) + 1)]
                out = reshape(big, new)
        return make_op("Identity", "identity", [out], name=scope).outputs[0]


def pad_computed(x: Tensor, paddings: Any, value: Any, name: Optional[str]) -> Tensor:
    """``tf.pad`` (CONSTANT) with paddings computed at run time: the input between blocks of
    ``value`` of the computed sizes, concatenated axis by axis."""
    from . import math_ops as M
    from .array_ops import zeros
    from .extra_ops import concat
    from .graph import name_scope
    from .op_builder import convert_to_tensor, make_op, static_value
    dims = x.shape.dims
    if dims is None:
        raise ValueError("tf.pad with computed paddings needs an input of known rank")
    if isinstance(paddings, (list, tuple)):
        rows = [list(r) for r in paddings]
    else:
        pv = convert_to_tensor(paddings)
        if pv.shape.dims is None or tuple(pv.shape.dims) != (len(dims), 2):
            raise ValueError(f"paddings must be a matrix of shape [{len(dims)}, 2] for a "
                             f"rank-{len(dims)} tensor, got shape {pv.shape}")
        rows = [[pv[i, 0], pv[i, 1]] for i in range(len(dims))]
    if len(rows) != len(dims) or any(len(r) != 2 for r in rows):
        raise ValueError(f"paddings must be a matrix of shape [{len(dims)}, 2] for a "
                         f"rank-{len(dims)} tensor, got {rows}")
    with name_scope(name or "Pad") as scope:
        out = x
        for a, (before, after) in enumerate(rows):
            parts = []
            for k, amount in enumerate((before, after)):
                sv = static_value(amount) if isinstance(amount, Tensor) else amount
                if sv is not None and int(sv) == 0:
                    continue
                if sv is not None and int(sv) < 0:
                    raise ValueError(f"paddings must be non-negative, got {int(sv)}")
                block = M.add(zeros(dims_with(out, a, amount), dtype=out.dtype),
                              convert_to_tensor(value, dtype=out.dtype))
                parts.append((k, block))
            if parts:
                out = concat([b for k, b in parts if k == 0] + [out] +
                             [b for k, b in parts if k == 1], axis=a)
        return make_op("Identity", "identity", [out], name=scope).outputs[0]
