"""Counting and index arithmetic, composed of existing ops: ``tf.bincount``,
``tf.searchsorted``, ``tf.histogram_fixed_width``, ``tf.unravel_index``, and ``tf.bitcast``.

``bincount`` with ``minlength == maxlength`` (a static length) is a one-hot sum compiled with
the rest of the run; otherwise its length depends on the values (``max(arr) + 1``) and it runs
on the host (a ``py_call`` of NumPy's bincount, as the other data-dependent ops of
``ops/host.py``). ``searchsorted`` compares every value with every sorted element (O(N*M)),
which keeps it one fused kernel."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.dtypes import as_dtype, int32
from ..ir.types import TensorType
from . import math_ops as M
from .array_ops import expand_dims, reshape
from .extra_ops import clip_by_value, one_hot
from .graph import Tensor, name_scope
from .host_ops import _py_call
from .math_unary import floor
from .op_builder import convert_to_tensor, static_value

__all__ = ["bincount", "searchsorted", "histogram_fixed_width", "unravel_index", "bitcast"]


def _host_bincount(minlength: Optional[int], maxlength: Optional[int], dtype: np.dtype):
    def fn(arr: np.ndarray, *weights: np.ndarray) -> np.ndarray:
        arr = np.asarray(arr).reshape(-1)
        if arr.size and arr.min() < 0:
            raise InvalidArgumentError(f"bincount: input arr must be non-negative, "
                                       f"got {int(arr.min())}")
        n = int(arr.max()) + 1 if arr.size else 0
        n = max(n, minlength) if minlength is not None else n
        n = min(n, maxlength) if maxlength is not None else n
        w = weights[0].reshape(-1) if weights else None
        keep = arr < n
        out = np.bincount(arr[keep], None if w is None else w[keep], minlength=n)
        return out[:n].astype(dtype)
    return fn


def _static_int(v: Any, what: str) -> Optional[int]:
    if v is None:
        return None
    arr = static_value(v)
    if arr is None or np.ndim(arr) != 0:
        raise NotImplementedError(f"bincount: {what} must be a Python int or a constant scalar "
                                  f"when the graph is built, got {v!r}")
    return int(arr)


def bincount(arr: Any, weights: Any = None, minlength: Any = None, maxlength: Any = None,
             dtype: Any = int32, name: Optional[str] = None) -> Tensor:
    """Counts of each value of the int32 ``arr`` (summed ``weights`` where given: then of their
    dtype) in a 1-D tensor of length ``max(arr) + 1``, at least ``minlength``, at most
    ``maxlength`` (values past it are dropped), as ``tf.math.bincount``."""
    with name_scope(name, "bincount") as scope:
        a = convert_to_tensor(arr, dtype=int32, name="arr")
        w = None if weights is None else convert_to_tensor(weights, name="weights")
        dt = w.dtype if w is not None else as_dtype(dtype)
        lo, hi = _static_int(minlength, "minlength"), _static_int(maxlength, "maxlength")
        if lo is not None and lo == hi:
            hot = one_hot(reshape(a, [-1]), lo, dtype=dt)
            if w is not None:
                hot = M.multiply(hot, expand_dims(reshape(w, [-1]), 1))
            return M.reduce_sum(hot, 0, name=scope)
        fn = _host_bincount(lo, hi, np.dtype(dt.np))
        inputs = [a] + ([w] if w is not None else [])
        return _py_call(fn, inputs, [TensorType(dt, (None,))], True, "Bincount",
                        scope.rstrip("/")).outputs[0]


def searchsorted(sorted_sequence: Any, values: Any, side: str = "left", out_type: Any = int32,
                 name: Optional[str] = None) -> Tensor:
    """For each value (``[..., M]``), its insertion index into the matching row of
    ``sorted_sequence`` (``[..., N]``): before equal elements for ``side="left"``, after them
    for ``"right"``, as ``tf.searchsorted``."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    with name_scope(name, "searchsorted") as scope:
        s = convert_to_tensor(sorted_sequence, name="sorted_sequence")
        v = convert_to_tensor(values, dtype=s.dtype, name="values")
        if s.shape.ndims is not None and v.shape.ndims is not None and \
                s.shape.ndims != v.shape.ndims:
            raise ValueError(f"searchsorted: sorted_sequence and values must have the same rank "
                             f"(leading dims equal), got {s.shape} and {v.shape}")
        before = (M.less if side == "left" else M.less_equal)(expand_dims(s, -2),
                                                               expand_dims(v, -1))
        return M.reduce_sum(M.cast(before, as_dtype(out_type)), -1, name=scope)


def histogram_fixed_width(values: Any, value_range: Any, nbins: int = 100, dtype: Any = int32,
                          name: Optional[str] = None) -> Tensor:
    """Counts of ``values`` in ``nbins`` equal bins over ``value_range = [lo, hi]``; values
    below ``lo`` count in the first bin, from ``hi`` on in the last (``tf.histogram_fixed_width``)."""
    n = _static_int(nbins, "nbins")
    if n is None or n <= 0:
        raise ValueError(f"histogram_fixed_width: nbins must be a positive int, got {nbins!r}")
    with name_scope(name, "histogram_fixed_width") as scope:
        x = convert_to_tensor(values, name="values")
        r = convert_to_tensor(value_range, dtype=x.dtype, name="value_range")
        lo, hi = r[0], r[1]
        scaled = M.divide(M.subtract(x, lo), M.subtract(hi, lo))
        idx = clip_by_value(floor(M.multiply(scaled, convert_to_tensor(float(n), x.dtype))),
                            0.0, float(n - 1))
        hot = one_hot(reshape(M.cast(idx, int32), [-1]), n, dtype=as_dtype(dtype))
        return M.reduce_sum(hot, 0, name=scope)


def unravel_index(indices: Any, dims: Any, name: Optional[str] = None) -> Tensor:
    """The coordinates of flat ``indices`` in an array of shape ``dims``: ``[len(dims)]`` for a
    scalar index, ``[len(dims), N]`` for ``N`` of them (``tf.unravel_index``, row-major)."""
    with name_scope(name, "unravel_index") as scope:
        idx = convert_to_tensor(indices, name="indices")
        if not idx.dtype.is_integer:
            raise TypeError(f"unravel_index: indices must be int32 or int64, got {idx.dtype.name}")
        d = convert_to_tensor(dims, dtype=idx.dtype, name="dims")
        if idx.shape.ndims not in (0, 1) or d.shape.ndims != 1:
            raise ValueError(f"unravel_index: indices must be a scalar or 1-D and dims 1-D, got "
                             f"shapes {idx.shape} and {d.shape}")
        from .array_extra import cumprod
        strides = cumprod(d, exclusive=True, reverse=True)
        if idx.shape.ndims == 1:
            idx, strides, d = expand_dims(idx, 0), expand_dims(strides, 1), expand_dims(d, 1)
        return M.floormod(M.floordiv(idx, strides), d, name=scope)


def bitcast(input: Any, type: Any, name: Optional[str] = None) -> Tensor:  # noqa: A002
    """The bytes of ``input`` read as ``type`` (``tf.bitcast``): a wider type takes the last
    dim (which must be the size ratio) away, a narrower adds one of the ratio."""
    x = convert_to_tensor(input, name="input")
    dt = as_dtype(type)
    src, dst = np.dtype(x.dtype.np), np.dtype(dt.np)
    shape = x.shape.as_list() if x.shape.ndims is not None else None
    if src.itemsize > dst.itemsize:
        out = None if shape is None else shape + [src.itemsize // dst.itemsize]
    elif src.itemsize < dst.itemsize:
        ratio = dst.itemsize // src.itemsize
        if shape is not None and (not shape or shape[-1] not in (ratio, None)):
            raise ValueError(f"bitcast {x.dtype.name} -> {dt.name}: the last dim must be "
                             f"{ratio}, got shape {x.shape}")
        out = None if shape is None else shape[:-1]
    else:
        out = shape

    def fn(a: np.ndarray) -> np.ndarray:
        a = np.ascontiguousarray(a)
        if src.itemsize < dst.itemsize:
            return a.view(dst).reshape(a.shape[:-1])
        return a.view(dst).reshape(a.shape + ((src.itemsize // dst.itemsize,)
                                              if src.itemsize > dst.itemsize else ()))
    return _py_call(fn, [x], [TensorType(dt, None if out is None else tuple(out))], True,
                    "Bitcast", name).outputs[0]
