"""Indexing with bounds computed at run time: ``x[i]``, ``x[:, t]``, ``x[i:j]``, and
``tf.slice`` / ``tf.strided_slice`` with tensor ``begin``/``end``, as TF1 allows them.

The IR's ``strided_slice`` takes static bounds (its result shape is known at graph build).
An index entry whose bound is a computed tensor becomes a ``gather`` on that axis instead,
after the static entries were applied by one ``strided_slice`` (a dynamic entry is a full
``:`` there, so it keeps its axis):

* an integer ``i`` gathers the scalar ``i`` (the axis goes away); a negative ``i`` counts
  from the end as in TF (``where(i < 0, i + n, i)``), an index outside ``[-n, n)`` is the
  gather's run-time error naming it;
* a slice ``start:stop:step`` (``step`` known at graph build) gathers
  ``range(start', stop', step)`` with Python's / TF's clamped bounds: a dim of unknown size;
* ``tf.slice(x, begin, size)`` with a computed ``begin`` and a static ``size`` gathers
  ``begin + range(size)`` (size -1: ``range(begin, n)``): a static size keeps the dim static,
  and a begin out of range is an error, as in TF (not clamped, not counted from the end);
  a computed ``size`` (from ``tf.shape`` of a fed tensor, a fed int) gathers
  ``range(begin, size == -1 ? n : begin + size)`` (the host op ``range_of``: a dim of
  unknown size), its bounds checked at run time with TF's conditions (``check_numerics``
  of a NaN, as ``tf.Assert``). Entries of a ``tf.stack`` or a list are taken one by one, so
  the static ones keep their dims static.

So the values, the gradient (gather's: a scatter-add) and every backend are gather's; the
gathers go from the last axis to the first, so an integer entry removing its axis does not
move the axes still to do.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from .graph import Tensor
from .op_builder import convert_to_tensor, static_value

Bound = Union[int, Tensor, None]


def is_dynamic(v: Any) -> bool:
    """A computed tensor (no value at graph build)."""
    return isinstance(v, Tensor) and static_value(v) is None


def any_dynamic(v: Any) -> bool:
    """A computed tensor, or a list/tuple holding one (``[i, 0]`` as a slice begin)."""
    if isinstance(v, (list, tuple)):
        return any(any_dynamic(e) for e in v)
    return is_dynamic(v)


def entry_is_dynamic(k: Any) -> bool:
    if isinstance(k, slice):
        return any(is_dynamic(b) for b in (k.start, k.stop, k.step))
    return is_dynamic(k)


def _index(v: Any) -> Tensor:
    t = convert_to_tensor(v)
    if not t.dtype.is_integer:
        raise TypeError(f"a tensor index must be an integer, got dtype {t.dtype.name} "
                        f"({t.name})")
    if t.shape.ndims not in (None, 0):
        raise TypeError(f"a tensor index must be a scalar, got shape {t.shape} ({t.name}); "
                        f"use tf.gather for a vector of indices")
    return t


def _dim(x: Tensor, axis: int, like: Tensor) -> Tensor:
    """Axis ``axis``'s size as a scalar of ``like``'s dtype."""
    from .array_ops import shape
    from .math_ops import cast
    d = x.shape.dims[axis] if x.shape.dims is not None else None
    if d is not None:
        return convert_to_tensor(d, dtype=like.dtype)
    return cast(shape(x)[axis], like.dtype)


def _wrap(i: Tensor, n: Tensor) -> Tensor:
    """``i`` counted from the end when negative."""
    from . import math_ops as M
    from .array_ops import select
    return select(M.less(i, 0), M.add(i, n), i)


def _clamp(v: Bound, n: Tensor, lo: Tensor, hi: Tensor, default: Tensor) -> Tensor:
    """A slice bound as TF's strided_slice takes it: default when omitted, counted from the
    end when negative, then clamped into ``[lo, hi]``."""
    from . import math_ops as M
    if v is None:
        return default
    t = convert_to_tensor(v, dtype=n.dtype)
    return M.minimum(M.maximum(_wrap(t, n), lo), hi)


def _range_of(k: slice, n: Tensor) -> Tensor:
    """The indices ``k`` selects of an axis of ``n`` elements (``k.step`` static)."""
    from .control_flow import range as tf_range
    step = 1 if k.step is None else static_value(k.step)
    if step is None:
        raise NotImplementedError("a slice step must be known at graph build (a Python int or "
                                  f"a constant), got the computed tensor {k.step.name}")
    step = int(step)
    if step == 0:
        raise ValueError("slice step cannot be zero")
    zero = convert_to_tensor(0, dtype=n.dtype)
    if step > 0:
        start = _clamp(k.start, n, zero, n, zero)
        stop = _clamp(k.stop, n, zero, n, n)
    else:
        last = n - 1
        minus = convert_to_tensor(-1, dtype=n.dtype)
        start = _clamp(k.start, n, minus, last, last)
        stop = _clamp(k.stop, n, minus, last, minus)
    from . import math_ops as M
    stop = M.maximum(stop, start) if step > 0 else M.minimum(stop, start)
    return tf_range(start, stop, step)


def apply_dynamic(y: Tensor, todo: list[tuple[int, Any]]) -> Tensor:
    """``y`` (the static entries applied) with each dynamic entry ``(axis of y, entry)``
    gathered, the last axis first."""
    from .extra_ops import gather
    for axis, k in sorted(todo, key=lambda t: -t[0]):
        if isinstance(k, slice):
            probe = next(convert_to_tensor(b) for b in (k.start, k.stop, k.step)
                         if isinstance(b, Tensor))
            n = _dim(y, axis, probe)
            y = gather(y, _range_of(k, n), axis=axis)
        else:
            i = _index(k)
            y = gather(y, _wrap(i, _dim(y, axis, i)), axis=axis)
    return y


def _per_axis(v: Any, r: int, what: str) -> list:
    """``tf.slice``'s ``begin`` or ``size`` as one entry per dim: ints, or scalar tensors
    (a vector tensor is indexed, so the entries ``static_value`` folds stay static)."""
    if isinstance(v, (list, tuple)):
        return list(v)
    if not isinstance(v, Tensor):
        v = np.asarray(v)
        if v.ndim != 1:
            raise ValueError(f"slice: {what} must be a vector, got shape {list(v.shape)}")
        return [int(e) for e in v]
    t = convert_to_tensor(v)
    if t.shape.dims is not None and tuple(t.shape.dims) not in ((r,), (None,)):
        raise ValueError(f"slice: {what} must be a vector of {r} entries (one per dimension "
                         f"of the input), got shape {t.shape}")
    if t.op.type == "Pack" and len(t.op.inputs) == r:   # tf.stack of scalars: its entries
        parts = [i.op.inputs[0] if i.op.type == "ExpandDims" else i for i in t.op.inputs]
        if all(p.shape.ndims == 0 for p in parts):
            return parts
    return [t[axis] for axis in range(r)]


def _static_int(e: Any) -> Optional[int]:
    if is_dynamic(e):
        return None
    return int(np.asarray(static_value(e) if isinstance(e, Tensor) else e))


def _checked(end: Tensor, ok: Tensor, message: str) -> Tensor:
    """``end`` once ``ok`` holds at run time (else the run fails with ``message``): a data
    dependency on ``check_numerics`` of ``where(ok, 0, NaN)``, as ``tf.Assert`` is made."""
    from . import math_ops as M
    from .array_ops import select
    from .debug_ops import check_numerics
    nan = convert_to_tensor(np.float32(np.nan))
    zero = convert_to_tensor(np.float32(0))
    return M.add(end, M.cast(check_numerics(select(ok, zero, nan), message), end.dtype))


def slice_rows(x: Tensor, begin: Any, size: Any, name: Optional[str]) -> Tensor:
    """``tf.slice`` with a computed ``begin`` or ``size`` (vector tensors, or lists of ints
    and scalar tensors: one entry per dim; size -1: to the end, also when computed). Axes
    whose begin and size are static slice as usual; a static size keeps its dim static; a
    computed size gathers ``range(begin, end)`` (``range_of``, a dim of unknown size)."""
    from . import math_ops as M
    from .array_ops import identity, select
    from .control_flow import range as tf_range
    from .extra_ops import gather
    from .graph import name_scope
    if x.shape.ndims is None:
        raise ValueError("tf.slice with a computed begin or size needs a tensor of known rank")
    r = x.shape.ndims
    entries = _per_axis(begin, r, "begin")
    sizes = _per_axis(size, r, "size")
    if not len(entries) == len(sizes) == r:
        raise ValueError(f"slice: begin ({len(entries)} entries) and size ({len(sizes)} "
                         f"entries) must have one entry per dimension of {x.shape}")
    with name_scope(name, "Slice") as scope:
        sb = [_static_int(e) for e in entries]
        ss = [_static_int(e) for e in sizes]
        for axis, n in enumerate(ss):
            if n is not None and n < -1:
                raise ValueError(f"Expected size[{axis}] in [0, dim - begin] or -1, got {n}")
        static = tuple(slice(None) if b is None or n is None else
                       slice(b, None if n == -1 else b + n) for b, n in zip(sb, ss))
        y = x[static]
        for axis in range(r):
            b, n = sb[axis], ss[axis]
            if b is not None and n is not None:
                continue
            probe = _index(entries[axis] if b is None else sizes[axis])
            bk = _index(entries[axis]) if b is None else convert_to_tensor(b, probe.dtype)
            if n == -1:                 # to the end: a dim of unknown size
                idx = tf_range(bk, _dim(y, axis, bk))
            elif n is not None:
                idx = M.add(tf_range(n, dtype=bk.dtype), bk)
            else:                       # a computed size (-1: to the end)
                sk = M.cast(_index(sizes[axis]), bk.dtype)
                dim = _dim(y, axis, bk)
                end = M.add(bk, sk)
                ok = M.logical_and(
                    M.logical_and(M.greater_equal(bk, 0), M.less_equal(bk, dim)),
                    M.logical_or(M.equal(sk, -1), M.logical_and(
                        M.greater_equal(sk, 0), M.less_equal(end, dim))))
                end = _checked(select(M.equal(sk, -1), dim, end), ok,
                               f"Expected begin[{axis}] in [0, dim] and size[{axis}] in "
                               f"[0, dim - begin] or -1 (slice of {x.name})")
                idx = tf_range(bk, end)
            y = gather(y, idx, axis=axis)
        return identity(y, name=scope)


__all__ = ["any_dynamic", "apply_dynamic", "entry_is_dynamic", "is_dynamic", "slice_rows"]
