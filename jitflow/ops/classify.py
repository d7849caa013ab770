"""Class-index ops: in_top_k, argmax / argmin, one_hot."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.dtypes import bool_, int32, int64
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType, normalize_axes
from .common import require_dtype, require_same_dtype


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

