"""More TF1 array and math ops as compositions of existing ones: size, rank, slice,
strided_slice, reverse, roll, diag/diag_part/matrix_band_part, count_nonzero,
confusion_matrix, gather_nd, batch_gather, scatter_nd, cumsum/cumprod (IR ops, ops/scan.py),
get_local_variable.

Index arithmetic is done on the host when the shapes are static (gather_nd flattens the
params and gathers at the linear index; scatter_nd is a one-hot matmul), so the gradients
are those of gather/matmul."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import as_dtype, int32, int64
from . import math_ops as M
from .array_ops import identity, reshape, transpose, select as where
from .array_ops import shape as _shape
from .extra_ops import concat, gather, one_hot
from .graph import GraphKeys, Tensor, name_scope
from .dynamic_index import any_dynamic, slice_rows
from .op_builder import constant, convert_to_tensor, make_op, static_ints, static_value

__all__ = ["size", "rank", "slice", "strided_slice", "reverse", "reverse_v2", "roll", "diag",
           "diag_part", "matrix_band_part", "matrix_diag", "count_nonzero", "confusion_matrix",
           "gather_nd", "batch_gather", "scatter_nd", "cumsum", "cumprod", "get_local_variable", "reverse_sequence",
           "tensor_scatter_nd_add", "tensor_scatter_nd_sub", "tensor_scatter_nd_update",
           "scatter_update", "scatter_add", "scatter_sub", "scatter_nd_update", "scatter_nd_add",
           "scatter_nd_sub"]

_py_slice = slice


def _static_dims(x: Tensor, what: str) -> list:
    dims = x.shape.dims
    if dims is None or any(d is None for d in dims):
        raise NotImplementedError(f"{what} needs a fully static shape, got {x.shape} for {x.name}")
    return list(dims)


def size(input: Any, name: Optional[str] = None, out_type: Any = int32) -> Tensor:
    """The number of elements (a constant when the shape is static)."""
    x = convert_to_tensor(input)
    dt = as_dtype(out_type)
    if x.shape.dims is not None and x.shape.is_fully_defined():
        return constant(np.asarray(int(np.prod(x.shape.dims)), dt.np), name=name or "Size")
    return make_op("Size", "size", [x], {"dtype": dt}, name or "Size").outputs[0]


def rank(input: Any, name: Optional[str] = None) -> Tensor:
    """The number of dimensions: a constant when the rank is static, else the run-time length
    of ``tf.shape(input)`` (a placeholder without a shape)."""
    x = convert_to_tensor(input)
    if x.shape.ndims is None:
        return size(_shape(x), name=name or "Rank")
    return constant(np.int32(x.shape.ndims), name=name or "Rank")


def slice(input_: Any, begin: Any, size: Any, name: Optional[str] = None) -> Tensor:  # noqa: A001
    """``input_[begin : begin + size]`` per dimension (size -1: to the end); a computed
    ``begin`` or ``size`` gathers (``dynamic_index.slice_rows``)."""
    x = convert_to_tensor(input_)
    if any_dynamic(begin) or any_dynamic(size):
        return slice_rows(x, begin, size, name)
    b, s = static_ints(begin, "begin"), static_ints(size, "size")
    if x.shape.ndims is not None and not len(b) == len(s) == x.shape.ndims:
        raise ValueError(f"slice: begin {list(b)} and size {list(s)} must have one entry per "
                         f"dimension of {x.shape}")
    key = tuple(_py_slice(bi, None if si == -1 else bi + si) for bi, si in zip(b, s))
    with name_scope(name, "Slice") as scope:
        return identity(x[key], name=scope)


def strided_slice(input_: Any, begin: Any, end: Any, strides: Any = None, begin_mask: int = 0,
                  end_mask: int = 0, ellipsis_mask: int = 0, new_axis_mask: int = 0,
                  shrink_axis_mask: int = 0, var: Any = None,
                  name: Optional[str] = None) -> Tensor:
    """TF's strided_slice and its masks, as ``x[...]`` (computed begin/end: gathers)."""
    x = convert_to_tensor(input_)
    if any_dynamic(begin) or any_dynamic(end):
        b, e = _bound_entries(begin), _bound_entries(end)
    else:
        b, e = static_ints(begin, "begin"), static_ints(end, "end")
    st = static_ints(strides, "strides") if strides is not None else (1,) * len(b)
    key = []
    for i, (bi, ei, si) in enumerate(zip(b, e, st)):
        bit = 1 << i
        if ellipsis_mask & bit:
            key.append(Ellipsis)
        elif new_axis_mask & bit:
            key.append(None)
        elif shrink_axis_mask & bit:
            key.append(bi)
        else:
            key.append(_py_slice(None if begin_mask & bit else bi,
                                 None if end_mask & bit else ei, si))
    with name_scope(name, "StridedSlice") as scope:
        return identity(x[tuple(key)], name=scope)


def _bound_entries(v: Any) -> list:
    """A strided_slice bound vector as a list of ints or scalar tensors (its length must be
    known at graph build)."""
    if not any_dynamic(v):
        return list(static_ints(v, "strided_slice bound"))
    if isinstance(v, (list, tuple)):
        return [e if isinstance(e, Tensor) else int(e) for e in v]
    t = convert_to_tensor(v)
    if t.shape.dims is None or len(t.shape.dims) != 1 or t.shape.dims[0] is None:
        raise NotImplementedError(f"strided_slice bounds must be vectors of a length known at "
                                  f"graph build, got {t.name} of shape {t.shape}")
    return [t[i] for i in range(t.shape.dims[0])]


def _axes(axis: Any, r: int, what: str) -> list[int]:
    axes = static_ints(axis, "axis") or ()
    out = []
    for a in axes:
        if not -r <= a < r:
            raise ValueError(f"{what}: axis {a} is out of range for rank {r}")
        out.append(a % r)
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: axis {list(axes)} has duplicates")
    return out


def reverse(tensor: Any, axis: Any, name: Optional[str] = None) -> Tensor:
    """``tensor`` with the given axes reversed (a negative-step slice)."""
    x = convert_to_tensor(tensor)
    r = x.shape.ndims
    if r is None:
        raise NotImplementedError("tf.reverse needs a tensor of known rank")
    key = [_py_slice(None)] * r
    for a in _axes(axis, r, "reverse"):
        key[a] = _py_slice(None, None, -1)
    with name_scope(name, "ReverseV2") as scope:
        return identity(x[tuple(key)], name=scope)


reverse_v2 = reverse


def roll(input: Any, shift: Any, axis: Any, name: Optional[str] = None) -> Tensor:
    """Elements shifted by ``shift`` along ``axis`` (wrapping around), static shifts."""
    x = convert_to_tensor(input)
    shifts, axes = static_ints(shift, "shift"), static_ints(axis, "axis")
    if len(shifts) != len(axes):
        raise ValueError(f"roll: shift {list(shifts)} and axis {list(axes)} differ in length")
    dims = _static_dims(x, "tf.roll")
    with name_scope(name, "Roll") as scope:
        out = x
        for s, a in zip(shifts, axes):
            a %= len(dims)
            n = dims[a]
            s %= n
            if s:
                lead = (_py_slice(None),) * a
                out = concat([out[lead + (_py_slice(n - s, None),)],
                              out[lead + (_py_slice(0, n - s),)]], axis=a)
        return identity(out, name=scope)


def diag(diagonal: Any, name: Optional[str] = None) -> Tensor:
    """A square matrix with ``diagonal`` (rank 1) on its diagonal."""
    d = convert_to_tensor(diagonal)
    n = _static_dims(d, "tf.diag")
    if len(n) != 1:
        raise NotImplementedError("tf.diag of rank > 1 inputs is not supported; rank 1 only")
    with name_scope(name, "Diag") as scope:
        return M.multiply(reshape(d, [n[0], 1]), constant(np.eye(n[0], dtype=d.dtype.np)),
                          name=scope)


def matrix_diag(diagonal: Any, name: Optional[str] = None) -> Tensor:
    """Batched: ``[..., n]`` -> ``[..., n, n]`` with the last dim on the diagonals."""
    d = convert_to_tensor(diagonal)
    dims = _static_dims(d, "tf.matrix_diag")
    n = dims[-1]
    with name_scope(name, "MatrixDiag") as scope:
        return M.multiply(reshape(d, dims + [1]), constant(np.eye(n, dtype=d.dtype.np)),
                          name=scope)


def diag_part(input: Any, name: Optional[str] = None) -> Tensor:
    """The diagonal of a square matrix (last two dims, batched)."""
    x = convert_to_tensor(input)
    dims = _static_dims(x, "tf.diag_part")
    if len(dims) < 2 or dims[-1] != dims[-2]:
        raise ValueError(f"diag_part needs square matrices in the last two dims, got {x.shape}")
    with name_scope(name, "DiagPart") as scope:
        eye = constant(np.eye(dims[-1], dtype=x.dtype.np))
        return M.reduce_sum(M.multiply(x, eye), [-1], name=scope)


def matrix_band_part(input: Any, num_lower: Any, num_upper: Any,
                     name: Optional[str] = None) -> Tensor:
    """Keeps ``num_lower`` subdiagonals and ``num_upper`` superdiagonals (-1: all)."""
    x = convert_to_tensor(input)
    dims = _static_dims(x, "tf.matrix_band_part")
    lo = int(np.asarray(static_value(num_lower)).reshape(()))
    hi = int(np.asarray(static_value(num_upper)).reshape(()))
    m, n = dims[-2], dims[-1]
    i, j = np.arange(m)[:, None], np.arange(n)[None, :]
    keep = ((lo < 0) | (i - j <= lo)) & ((hi < 0) | (j - i <= hi))
    with name_scope(name, "MatrixBandPart") as scope:
        return M.multiply(x, constant(keep.astype(x.dtype.np)), name=scope)


def count_nonzero(input_tensor: Any, axis: Any = None, keepdims: Optional[bool] = None,
                  dtype: Any = int64, name: Optional[str] = None,
                  reduction_indices: Any = None, keep_dims: Optional[bool] = None) -> Tensor:
    """The number of non-zero elements along ``axis`` (TF1's default dtype int64)."""
    with name_scope(name, "count_nonzero") as scope:
        x = convert_to_tensor(input_tensor)
        zero = constant(np.zeros((), x.dtype.np))
        nz = M.cast(M.not_equal(x, zero), as_dtype(dtype))
        ax = axis if axis is not None else reduction_indices
        keep = keepdims if keepdims is not None else keep_dims
        return M.reduce_sum(nz, ax, keepdims=keep, name=scope)


def confusion_matrix(labels: Any, predictions: Any, num_classes: Any = None, dtype: Any = int32,
                     name: Optional[str] = None, weights: Any = None) -> Tensor:
    """``cm[i, j]`` = (weighted) count of label i predicted as j; ``num_classes`` static (or
    from constant inputs)."""
    with name_scope(name, "confusion_matrix") as scope:
        lab0, pred0 = convert_to_tensor(labels), convert_to_tensor(predictions)
        lab, pred = reshape(lab0, [-1]), reshape(pred0, [-1])
        if num_classes is None:
            sl, sp = static_value(lab0), static_value(pred0)
            if sl is None or sp is None:
                raise NotImplementedError("confusion_matrix(num_classes=None) of computed "
                                          "tensors has a data-dependent shape; pass num_classes")
            n = int(max(np.max(sl), np.max(sp))) + 1
        else:
            n = int(np.asarray(static_value(num_classes)).reshape(()))
        rows = one_hot(lab, n, dtype="float64")
        if weights is not None:
            w = M.cast(reshape(convert_to_tensor(weights), [-1, 1]), "float64")
            rows = M.multiply(rows, w)
        cm = M.matmul(rows, one_hot(pred, n, dtype="float64"), transpose_a=True)
        dt = as_dtype(dtype)
        if dt.is_integer and weights is None:
            cm = M.add(cm, 0.5)          # counts are exact in float64; round before truncating
        return M.cast(cm, dt, name=scope)


# ---------------------------------------------------------------------- gather / scatter ---

def _linear_index(indices: Tensor, dims: list, what: str) -> tuple[Tensor, int]:
    """Indices ``[..., k]`` into the first k of ``dims`` -> linear indices ``[...]``."""
    k = indices.shape.dims[-1] if indices.shape.dims else None
    if k is None:
        raise ValueError(f"{what}: the last dimension of indices must be static")
    if k > len(dims):
        raise ValueError(f"{what}: index depth {k} exceeds the rank {len(dims)}")
    strides = np.cumprod([1] + list(dims[:k])[::-1][:-1])[::-1].astype(
        indices.dtype.np)
    return M.reduce_sum(M.multiply(indices, constant(strides)), [-1]), k


def gather_nd(params: Any, indices: Any, name: Optional[str] = None,
              batch_dims: int = 0) -> Tensor:
    """``params[indices[..., 0], indices[..., 1], ...]``: one gather at the linear index of
    the flattened leading dims (params' dims static, but for the first)."""
    if batch_dims:
        raise NotImplementedError("gather_nd(batch_dims=...) is not supported")
    with name_scope(name, "GatherNd") as scope:
        p = convert_to_tensor(params, name="params")
        idx = convert_to_tensor(indices, name="indices")
        if not idx.dtype.is_integer:
            raise TypeError(f"gather_nd: indices must be int32/int64, got {idx.dtype.name}")
        if p.shape.dims is not None and p.shape.dims[0] is None and \
                all(d is not None for d in p.shape.dims[1:]):
            # only the dims after the first give the strides: a run-time batch dim is fine
            dims = [1] + list(p.shape.dims[1:])
            lin, k = _linear_index(idx, dims, "gather_nd")
            flat = reshape(p, [-1] + dims[k:])
            return identity(gather(flat, lin), name=scope)
        dims = _static_dims(p, "tf.gather_nd")
        lin, k = _linear_index(idx, dims, "gather_nd")
        flat = reshape(p, [int(np.prod(dims[:k]))] + dims[k:])
        return identity(gather(flat, lin), name=scope)


def batch_gather(params: Any, indices: Any, name: Optional[str] = None) -> Tensor:
    """``out[b, ..., i] = params[b, ..., indices[b, ..., i]]`` (static shapes)."""
    with name_scope(name, "batch_gather") as scope:
        p = convert_to_tensor(params, name="params")
        idx = convert_to_tensor(indices, name="indices")
        pd = _static_dims(p, "tf.batch_gather")
        idims = _static_dims(idx, "tf.batch_gather")
        nb = len(idims) - 1
        if pd[:nb] != idims[:nb]:
            raise ValueError(f"batch_gather: batch dims of params {pd[:nb]} and indices "
                             f"{idims[:nb]} differ")
        batch = int(np.prod(pd[:nb])) if nb else 1
        offsets = (np.arange(batch) * pd[nb]).reshape(idims[:nb] + [1]).astype(idx.dtype.np)
        flat = reshape(p, [batch * pd[nb]] + pd[nb + 1:])
        return identity(gather(flat, M.add(idx, constant(offsets))), name=scope)


def scatter_nd(indices: Any, updates: Any, shape: Any, name: Optional[str] = None) -> Tensor:
    """A zero tensor of ``shape`` with ``updates`` added at ``indices`` (duplicates sum), as a
    one-hot matrix product."""
    with name_scope(name, "ScatterNd") as scope:
        idx = convert_to_tensor(indices, name="indices")
        u = convert_to_tensor(updates, name="updates")
        dims = list(static_ints(shape, "shape"))
        lin, k = _linear_index(idx, dims, "scatter_nd")
        n = int(np.prod(dims[:k]))
        rest = dims[k:]
        m = int(np.prod(rest)) if rest else 1
        hot = one_hot(reshape(lin, [-1]), n, dtype=u.dtype)          # [num_updates, n]
        flat = M.matmul(hot, reshape(u, [-1, m]), transpose_a=True)  # [n, m]
        return reshape(flat, dims, name=scope)


def tensor_scatter_nd_add(tensor: Any, indices: Any, updates: Any,
                          name: Optional[str] = None) -> Tensor:
    """``tensor`` with ``updates`` added at ``indices`` (duplicates add up)."""
    with name_scope(name, "TensorScatterAdd") as scope:
        t = convert_to_tensor(tensor)
        return M.add(t, scatter_nd(indices, updates, _static_dims(t, "tensor_scatter_nd_add")),
                     name=scope)


def tensor_scatter_nd_sub(tensor: Any, indices: Any, updates: Any,
                          name: Optional[str] = None) -> Tensor:
    with name_scope(name, "TensorScatterSub") as scope:
        t = convert_to_tensor(tensor)
        return M.subtract(t, scatter_nd(indices, updates,
                                        _static_dims(t, "tensor_scatter_nd_sub")), name=scope)


def tensor_scatter_nd_update(tensor: Any, indices: Any, updates: Any,
                             name: Optional[str] = None) -> Tensor:
    """``tensor`` with the slices at ``indices`` replaced by ``updates``. TF leaves the
    result for duplicate indices unspecified; here they get the mean of their updates."""
    with name_scope(name, "TensorScatterUpdate") as scope:
        t = convert_to_tensor(tensor)
        dims = _static_dims(t, "tensor_scatter_nd_update")
        u = convert_to_tensor(updates, dtype=None if isinstance(updates, Tensor) else t.dtype)
        total = scatter_nd(indices, u, dims)
        count = scatter_nd(indices, M.add(M.multiply(u, 0), 1), dims)
        hit = M.greater(count, M.multiply(count, 0))
        safe = where(hit, count, M.add(M.multiply(count, 0), 1))
        return where(hit, M.truediv(total, safe) if t.dtype.is_floating else
                     M.floordiv(total, safe), t, name=scope)


def _rows(indices: Any) -> Tensor:
    """Row indices ``[...]`` as scatter_nd indices ``[..., 1]``."""
    from .array_ops import expand_dims
    return expand_dims(convert_to_tensor(indices), -1)


def _var_update(kind: str, ref: Any, nd_indices: Any, updates: Any, name: Optional[str]):
    from .variables import assign, assign_add, assign_sub
    dims = ref.shape.as_list()
    with name_scope(name, f"Scatter{kind.capitalize()}") as scope:
        cur = convert_to_tensor(ref)
        u = convert_to_tensor(updates, dtype=None if isinstance(updates, Tensor) else ref.dtype)
        if kind == "update":
            return assign(ref, tensor_scatter_nd_update(cur, nd_indices, u), name=scope)
        delta = scatter_nd(nd_indices, u, dims)
        return (assign_add if kind == "add" else assign_sub)(ref, delta, name=scope)


def scatter_update(ref: Any, indices: Any, updates: Any, use_locking: bool = True,
                   name: Optional[str] = None) -> Tensor:
    """``ref[indices] = updates`` on a variable (rows of the first dim); the new value."""
    return _var_update("update", ref, _rows(indices), updates, name)


def scatter_add(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                name: Optional[str] = None) -> Tensor:
    """``ref[indices] += updates`` (duplicates add up); the new value."""
    return _var_update("add", ref, _rows(indices), updates, name)


def scatter_sub(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                name: Optional[str] = None) -> Tensor:
    return _var_update("sub", ref, _rows(indices), updates, name)


def scatter_nd_update(ref: Any, indices: Any, updates: Any, use_locking: bool = True,
                      name: Optional[str] = None) -> Tensor:
    return _var_update("update", ref, indices, updates, name)


def scatter_nd_add(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                   name: Optional[str] = None) -> Tensor:
    return _var_update("add", ref, indices, updates, name)


def scatter_nd_sub(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                   name: Optional[str] = None) -> Tensor:
    return _var_update("sub", ref, indices, updates, name)


def _scan(op_type: str, ir: str, x: Any, axis: Any, exclusive: bool, reverse: bool,
          name: Optional[str]) -> Tensor:
    t = convert_to_tensor(x, name="x")
    a = axis if isinstance(axis, (int, np.integer)) else static_value(convert_to_tensor(axis))
    if a is None:
        raise NotImplementedError(f"tf.{ir} in jitflow needs the axis known when the graph is "
                                  f"built, got {axis}")
    return make_op(op_type, ir, [t], {"axis": int(np.asarray(a).reshape(())),
                                      "exclusive": bool(exclusive), "reverse": bool(reverse)},
                   name).outputs[0]


def cumsum(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False,
           name: Optional[str] = None) -> Tensor:
    """Cumulative sum along ``axis`` (TF op Cumsum): ``exclusive`` leaves the element itself
    out (the first output is 0), ``reverse`` sums from the end."""
    return _scan("Cumsum", "cumsum", x, axis, exclusive, reverse, name)


def cumprod(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False,
            name: Optional[str] = None) -> Tensor:
    """Cumulative product along ``axis`` (TF op Cumprod; exclusive starts at 1)."""
    return _scan("Cumprod", "cumprod", x, axis, exclusive, reverse, name)


def reverse_sequence(input: Any, seq_lengths: Any, seq_axis: Any = None, batch_axis: Any = None,
                     name: Optional[str] = None, seq_dim: Any = None,
                     batch_dim: Any = None) -> Tensor:
    """Row b's first ``seq_lengths[b]`` steps along ``seq_axis`` reversed, the rest kept.

    Exact for every value (NaN and infinities included: only selects and slices move data) and
    the batch may be unknown at graph build; a sequence axis known only at run time is one
    gather instead (``_reverse_rows_gathered``). With a static one and ``xr`` the
    whole sequence reversed, row b's answer is ``xr`` rotated left by ``T - len_b`` on its first
    ``len_b`` steps: the rotation is built from the bits of ``T - len_b``, one static rotation
    by ``2**j`` per bit, selected per row (ceil(log2(T + 1)) stages)."""
    sa = seq_axis if seq_axis is not None else seq_dim
    ba = batch_axis if batch_axis is not None else (batch_dim if batch_dim is not None else 0)
    if sa is None:
        raise ValueError("reverse_sequence needs seq_axis")
    with name_scope(name, "ReverseSequence") as scope:
        x = convert_to_tensor(input)
        r = x.shape.ndims
        if r is None or r < 2:
            raise ValueError(f"reverse_sequence: input must have rank >= 2, got {x.shape}")
        sa, ba = int(sa) % r, int(ba) % r
        if sa == ba:
            raise ValueError(f"reverse_sequence: seq_axis and batch_axis are both {sa}")
        steps = x.shape.dims[sa]
        perm = [ba, sa] + [d for d in range(r) if d not in (ba, sa)]
        moved = transpose(x, perm) if perm != list(range(r)) else x
        lens = convert_to_tensor(seq_lengths)
        lens = M.cast(lens, int32) if lens.dtype is not int32 else lens
        lens = reshape(lens, [-1])
        if steps is None:
            out = _reverse_rows_gathered(moved, lens)
            if perm != list(range(r)):
                out = transpose(out, list(np.argsort(perm)))
            return identity(out, name=scope)
        shift = M.subtract(constant(np.int32(steps)), lens)          # T - len_b, per row
        y = reverse(moved, 1)
        j = 1
        while j < steps:                   # shift = steps (len 0) leaves no step inside
            bit = M.equal(M.floormod(M.floordiv(shift, j), 2), 1)   # [B]
            y = where(bit, concat([y[:, j:], y[:, :j]], axis=1), y)
            j *= 2
        t = constant(np.arange(steps, dtype=np.int32).reshape(1, steps))
        inside = M.less(t, reshape(lens, [-1, 1]))                    # [B, T]
        inside = reshape(inside, [-1, steps] + [1] * (r - 2))
        out = where(inside, y, moved)
        if perm != list(range(r)):
            out = transpose(out, list(np.argsort(perm)))
        return identity(out, name=scope)


def _reverse_rows_gathered(x: Tensor, lens: Tensor) -> Tensor:
    """``reverse_sequence`` of ``x`` [batch, steps, ...] along axis 1 when ``steps`` is known
    only at run time: one gather of the rows ``b * steps + src[b, t]``, ``src`` being
    ``len_b - 1 - t`` inside row b's length and ``t`` after it (the dims after the first two
    must be static)."""
    from .control_flow import range as tf_range
    rest = list(x.shape.dims[2:])
    if any(d is None for d in rest):
        raise NotImplementedError(f"tf.reverse_sequence of a sequence axis known only at run "
                                  f"time needs the dims other than the batch and sequence axes "
                                  f"known at graph build, got shape {x.shape} (batch, sequence "
                                  f"first)")
    dims = _shape(x)
    t = reshape(tf_range(dims[1]), [1, -1])                             # [1, T]
    col = reshape(lens, [-1, 1])                                        # [B, 1]
    src = where(M.less(t, col), M.subtract(M.subtract(col, 1), t), M.add(t, M.multiply(col, 0)))
    rows = M.add(M.multiply(reshape(tf_range(dims[0]), [-1, 1]), dims[1]), src)   # [B, T]
    flat = gather(reshape(x, [-1] + rest), reshape(rows, [-1]))
    return reshape(flat, dims)


def get_local_variable(name: str, shape: Any = None, dtype: Any = None, initializer: Any = None,
                       **kwargs: Any):
    """``tf.get_variable`` in the LOCAL_VARIABLES collection, not trainable."""
    from .variables import get_variable
    kwargs.pop("trainable", None)
    cols = list(kwargs.pop("collections", None) or []) + [GraphKeys.LOCAL_VARIABLES]
    return get_variable(name, shape=shape, dtype=dtype, initializer=initializer,
                        trainable=False, collections=cols, **kwargs)

