"""Top-level ``tf.*`` ops beyond the core set (argmax, one_hot, concat, split, gather, pad,
tile, clip_by_value, ...). Every name in ``__all__`` is exported by ``jitflow.compat.v1``."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from ..ir.dtypes import as_dtype, float32, int64
from .array_ops import identity, stack, select as where
from .graph import Tensor, name_scope
from .math_ops import abs as _abs
from .math_ops import greater, less, maximum, minimum, multiply, reduce_sum, sqrt, truediv
from .op_builder import (constant, convert_to_tensor, infer_dtype, make_op, static_ints,
                         static_value)

__all__ = [
    "arg_max", "arg_min", "argmax", "argmin", "clip_by_global_norm", "clip_by_norm",
    "clip_by_value", "concat", "gather", "global_norm", "one_hot", "pad", "reduce_all",
    "reduce_any", "reduce_logsumexp", "split", "tile",
]


def _out(op):
    return op.outputs[0]


def _is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor) or hasattr(x, "_as_tensor")


def _one_int(v: Any, what: str) -> int:
    vals = static_ints(v, what)
    if vals is None or len(vals) != 1:
        raise ValueError(f"{what} must be a scalar, got {v!r}")
    return vals[0]


# ------------------------------------------------------------------ argmax / argmin -------

def _arg(op_type: str, ir_op: str):
    def fn(input: Any, axis: Any = None, name: Optional[str] = None, dimension: Any = None,
           output_type: Any = int64) -> Tensor:
        if axis is not None and dimension is not None:
            raise ValueError("Cannot specify both 'axis' and 'dimension'")
        ax = axis if axis is not None else dimension
        x = convert_to_tensor(input, name="input")
        attrs = {"axis": 0 if ax is None else _one_int(ax, "axis"),
                 "dtype": as_dtype(output_type)}
        return _out(make_op(op_type, ir_op, [x], attrs, name))
    fn.__name__ = ir_op
    fn.__doc__ = (f"tf.{ir_op}(input, axis=None, name=None, dimension=None, output_type=tf.int64):"
                  f" the index of the first {'largest' if ir_op == 'argmax' else 'smallest'} "
                  f"value along axis (axis None means 0).")
    return fn


argmax = _arg("ArgMax", "argmax")
argmin = _arg("ArgMin", "argmin")
arg_max = argmax
arg_min = argmin


# ------------------------------------------------------------------ one_hot ---------------

def _dtype_of(v: Any):
    """The dtype TF gives ``v`` (a tensor's own; Python 5 -> int32, 1.0 -> float32)."""
    if v is None:
        return None
    if _is_tensor(v):
        return convert_to_tensor(v).dtype
    return infer_dtype(v)


def one_hot(indices: Any, depth: Any, on_value: Any = None, off_value: Any = None,
            axis: Any = None, dtype: Any = None, name: Optional[str] = None) -> Tensor:
    """A one-hot tensor: ``on_value`` where ``indices`` equals the position along ``axis``
    (a new dimension of size ``depth``), ``off_value`` elsewhere and for out-of-range indices."""
    with name_scope(name, "one_hot") as scope:
        idx = convert_to_tensor(indices, name="indices")
        if not idx.dtype.is_integer:
            raise TypeError(f"indices must be int32 or int64, got {idx.dtype.name}")
        on_dt = _dtype_of(on_value)
        off_dt = _dtype_of(off_value)
        dt = as_dtype(dtype) if dtype is not None else None
        if dt is not None:
            for d, what in ((on_dt, "on_value"), (off_dt, "off_value")):
                if d is not None and d is not dt:
                    raise TypeError(f"dtype {d.name} of {what} does not match dtype parameter "
                                    f"{dt.name}")
        else:
            dt = on_dt or off_dt or float32
        if on_dt is not None and off_dt is not None and on_dt is not off_dt:
            raise TypeError(f"dtype {on_dt.name} of on_value does not match dtype {off_dt.name} "
                            f"of off_value")
        on = convert_to_tensor(1 if on_value is None else on_value, dtype=dt, name="on_value")
        off = convert_to_tensor(0 if off_value is None else off_value, dtype=dt, name="off_value")
        if static_value(depth) is None:
            return _one_hot_computed_depth(idx, depth, on, off, axis, scope)
        attrs = {"depth": _one_int(depth, "depth"), "axis": -1 if axis is None else int(axis)}
        return _out(make_op("OneHot", "one_hot", [idx, on, off], attrs, scope))


def _one_hot_computed_depth(idx: Tensor, depth: Any, on: Tensor, off: Tensor, axis: Any,
                            name: str) -> Tensor:
    """``one_hot`` of a depth known only at run time: indices compared with
    ``range(depth)`` (the host op ``range_of``) along a new last axis, moved to ``axis``."""
    from . import math_ops as M
    from .array_ops import expand_dims, select, transpose
    from .control_flow import range as tf_range
    d = M.cast(convert_to_tensor(depth), idx.dtype)
    hit = M.equal(expand_dims(idx, -1), tf_range(d))             # [..., depth]
    out = select(hit, on, off)                                  # (broadcasts the scalars)
    r = idx.shape.ndims
    ax = -1 if axis is None else int(axis)
    if ax not in (-1, r) and r is not None:
        perm = list(range(r))
        perm.insert(ax % (r + 1), r)
        out = transpose(out, perm)
    return identity(out, name=name)


# ------------------------------------------------------------------ concat / split --------

def concat(values: Any, axis: Any, name: str = "concat") -> Tensor:
    if not isinstance(values, (list, tuple)):
        values = [values]
    ax = _one_int(axis, "axis")
    if len(values) == 1:
        with name_scope(name) as scope:
            return identity(convert_to_tensor(values[0]), name=scope)
    ref = next((convert_to_tensor(v) for v in values if _is_tensor(v)), None)
    dt = ref.dtype if ref is not None else None
    vals = [convert_to_tensor(v, dtype=None if _is_tensor(v) else dt) for v in values]
    return _out(make_op("ConcatV2", "concat", vals, {"axis": ax}, name))


def split(value: Any, num_or_size_splits: Any, axis: Any = 0, num: Optional[int] = None,
          name: str = "split") -> list:
    """Pieces of ``value`` along ``axis``: ``num_or_size_splits`` equal ones (an int) or ones
    of the given sizes (a list; one may be -1)."""
    x = convert_to_tensor(value, name="value")
    ax = _one_int(axis, "axis")
    spec = static_value(num_or_size_splits)
    if spec is None:
        raise NotImplementedError("split sizes must be known at graph build")
    spec = np.asarray(spec)
    if spec.ndim == 0:
        attrs, op_type = {"axis": ax, "num": int(spec), "sizes": None}, "Split"
    else:
        sizes = tuple(int(s) for s in spec.reshape(-1))
        if num is not None and num != len(sizes):
            raise ValueError(f"num={num} does not match the {len(sizes)} sizes given")
        attrs, op_type = {"axis": ax, "num": len(sizes), "sizes": sizes}, "SplitV"
    return list(make_op(op_type, "split", [x], attrs, name).outputs)


# ------------------------------------------------------------------ gather / pad / tile ----

def gather(params: Any, indices: Any, validate_indices: Any = None, name: Optional[str] = None,
           axis: Any = None, batch_dims: int = 0) -> Tensor:
    """``params`` indexed by ``indices`` along ``axis``; the gradient is a scatter-add."""
    if batch_dims:
        raise NotImplementedError("gather(batch_dims=...) is not supported")
    p = convert_to_tensor(params, name="params")
    i = convert_to_tensor(indices, name="indices")
    ax = 0 if axis is None else _one_int(axis, "axis")
    return _out(make_op("GatherV2", "gather", [p, i], {"axis": ax}, name))


def pad(tensor: Any, paddings: Any, mode: str = "CONSTANT", name: Optional[str] = None,
        constant_values: Any = 0) -> Tensor:
    """``paddings`` is [[before, after], ...] per dimension. CONSTANT pads with
    ``constant_values``; REFLECT mirrors without the edge (``[1,2,3]`` padded by 2 on each
    side: ``[3,2,1,2,3,2,1]``), SYMMETRIC with it (``[2,1,1,2,3,3,2]``), as reversed slices
    concatenated around the input, so their gradient is the slices' and concat's."""
    mode = str(mode).upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad mode must be CONSTANT, REFLECT or SYMMETRIC, got {mode!r}")
    x = convert_to_tensor(tensor, name="tensor")
    if mode != "CONSTANT":
        return _mirror_pad(x, paddings, mode, name)
    from .dynamic_index import any_dynamic
    if any_dynamic(paddings) or (isinstance(paddings, (list, tuple)) and
                                 any(any_dynamic(r) for r in paddings)):
        from .dynamic_shape import pad_computed
        return pad_computed(x, paddings, constant_values, name)
    pads = static_value(paddings)
    if pads is None:
        raise NotImplementedError("pad's paddings must be known at graph build")
    pads = np.asarray(pads)
    if x.shape.ndims is not None and pads.shape != (x.shape.ndims, 2):
        raise ValueError(f"paddings must be a matrix of shape [{x.shape.ndims}, 2] for a "
                         f"rank-{x.shape.ndims} tensor, got shape {list(pads.shape)}")
    if pads.ndim != 2 or (pads.size and pads.shape[1] != 2):
        raise ValueError(f"paddings must be a [rank, 2] matrix, got shape {list(pads.shape)}")
    value = static_value(constant_values)
    if value is None:
        raise NotImplementedError("pad's constant_values must be known at graph build")
    value = float(np.asarray(value).reshape(()))
    op_type = "Pad" if value == 0 else "PadV2"
    attrs = {"paddings": tuple(int(p) for p in pads.reshape(-1)), "value": value}
    return _out(make_op(op_type, "pad", [x], attrs, name))


def _mirror_pad(x: Tensor, paddings: Any, mode: str, name: Optional[str]) -> Tensor:
    from .graph import name_scope
    pads = static_value(paddings)
    if pads is None:
        raise NotImplementedError("pad's paddings must be known at graph build")
    pads = np.asarray(pads).astype(np.int64)
    rank = x.shape.ndims
    if rank is None or pads.shape != (rank, 2):
        raise ValueError(f"paddings must be a matrix of shape [{rank}, 2] for a rank-{rank} "
                         f"tensor, got shape {list(pads.shape)}")
    edge = 1 if mode == "REFLECT" else 0      # REFLECT skips the edge row
    with name_scope(name or "MirrorPad"):
        out = x
        for a, (before, after) in enumerate(pads.tolist()):
            if before < 0 or after < 0:
                raise ValueError(f"paddings must be non-negative, got {pads.tolist()}")
            n = x.shape.dims[a]
            limit = None if n is None else n - edge
            if limit is not None and max(before, after) > limit:
                raise ValueError(f"{mode} padding of dimension {a} (size {n}) must be at most "
                                 f"{limit}, got {[before, after]}")
            lead = (slice(None),) * a
            parts = []
            if before:      # rows before-1+edge down to edge
                parts.append(out[lead + (slice(before - 1 + edge, 0 if edge else None, -1),)])
            parts.append(out)
            if after:       # rows n-1-edge ... n-after-edge, reversed (counted from the end)
                parts.append(out[lead + (slice(-1 - edge, -1 - edge - after, -1),)])
            if len(parts) > 1:
                out = concat(parts, axis=a)
        return out


def tile(input: Any, multiples: Any, name: Optional[str] = None) -> Tensor:
    x = convert_to_tensor(input, name="input")
    from .dynamic_index import any_dynamic
    if any_dynamic(multiples):
        from .dynamic_shape import tile_computed
        return tile_computed(x, multiples, name)
    return _out(make_op("Tile", "tile", [x], {"multiples": static_ints(multiples, "multiples")},
                        name))


# ------------------------------------------------------------------ reductions ------------

def _reduction(op_type: str, ir_op: str, default_name: Optional[str] = None):
    def fn(input_tensor: Any, axis: Any = None, keepdims: Optional[bool] = None,
           name: Optional[str] = None, reduction_indices: Any = None,
           keep_dims: Optional[bool] = None) -> Tensor:
        if axis is not None and reduction_indices is not None:
            raise ValueError("Can not specify both 'axis' and 'reduction_indices'.")
        axes = static_ints(axis if axis is not None else reduction_indices, "axis")
        keep = bool(keepdims if keepdims is not None else (keep_dims or False))
        x = convert_to_tensor(input_tensor)
        return _out(make_op(op_type, ir_op, [x], {"axes": axes, "keepdims": keep},
                            name or default_name))
    fn.__name__ = ir_op
    fn.__doc__ = f"tf.{ir_op}(input_tensor, axis=None, keepdims=None) (TF op {op_type})."
    return fn


reduce_all = _reduction("All", "reduce_all")
reduce_any = _reduction("Any", "reduce_any")
reduce_logsumexp = _reduction("ReduceLogSumExp", "reduce_logsumexp", "ReduceLogSumExp")
reduce_logsumexp.__doc__ = ("tf.reduce_logsumexp(input_tensor, axis=None, keepdims=None): "
                            "log(sum(exp(x))) computed stably (shifted by the max).")


# ------------------------------------------------------------------ clipping --------------

def clip_by_value(t: Any, clip_value_min: Any, clip_value_max: Any,
                  name: Optional[str] = None) -> Tensor:
    """min(max(t, lo), hi); as in TF1 the gradient reaches t where lo <= t <= hi."""
    with name_scope(name, "clip_by_value") as scope:
        values = convert_to_tensor(t, name="t")
        t_min = minimum(values, clip_value_max)
        if not values.shape.is_compatible_with(t_min.shape):
            raise ValueError(f"Shapes {values.shape} and {t_min.shape} are incompatible")
        t_max = maximum(t_min, clip_value_min, name=scope)
        if not values.shape.is_compatible_with(t_max.shape):
            raise ValueError(f"Shapes {values.shape} and {t_max.shape} are incompatible")
        return t_max


def clip_by_norm(t: Any, clip_norm: Any, axes: Any = None, name: Optional[str] = None) -> Tensor:
    """t * clip_norm / max(l2norm(t, axes), clip_norm)."""
    with name_scope(name, "clip_by_norm") as scope:
        values = convert_to_tensor(t, name="t")
        l2sum = reduce_sum(multiply(values, values), axes, keepdims=True)
        pred = greater(l2sum, 0)
        from .array_ops import ones_like
        l2sum_safe = where(pred, l2sum, ones_like(l2sum))
        l2norm = where(pred, sqrt(l2sum_safe), l2sum)
        intermediate = multiply(values, clip_norm)
        if not values.shape.is_compatible_with(intermediate.shape):
            raise ValueError(f"Shapes {values.shape} and {intermediate.shape} are incompatible")
        return identity(truediv(intermediate, maximum(l2norm, clip_norm)), name=scope)


def _check_sequence(t_list: Any) -> list:
    if not isinstance(t_list, Sequence) or isinstance(t_list, str):
        raise TypeError("t_list should be a sequence")
    return list(t_list)


def global_norm(t_list: Any, name: Optional[str] = None) -> Tensor:
    """sqrt(sum of the squared L2 norms of the tensors); None entries are ignored."""
    from .nn import l2_loss
    t_list = _check_sequence(t_list)
    with name_scope(name, "global_norm"):
        values = [convert_to_tensor(t, name=f"t_{i}") for i, t in enumerate(t_list)
                  if t is not None]
        if not values:
            raise ValueError("global_norm needs at least one tensor")
        half_squared = reduce_sum(stack([l2_loss(v) for v in values]))
        two = constant(2.0, dtype=half_squared.dtype)
        return sqrt(multiply(half_squared, two), name="global_norm")


def clip_by_global_norm(t_list: Any, clip_norm: Any, use_norm: Any = None,
                        name: Optional[str] = None) -> tuple[list, Tensor]:
    """Scale every tensor by clip_norm / max(global_norm, clip_norm); returns (clipped list,
    global norm). A non-finite norm gives NaN tensors, as in TF."""
    t_list = _check_sequence(t_list)
    if use_norm is None:
        use_norm = global_norm(t_list, name)
    use_norm = convert_to_tensor(use_norm)
    with name_scope(name, "clip_by_global_norm") as scope:
        dt = use_norm.dtype
        cn = convert_to_tensor(clip_norm, dtype=None if _is_tensor(clip_norm) else dt)
        one = constant(1.0, dtype=dt)
        scale_for_finite = multiply(cn, minimum(truediv(one, use_norm), truediv(one, cn)))
        finite = less(_abs(use_norm), constant(np.inf, dtype=dt))
        scale = where(finite, scale_for_finite, constant(np.nan, dtype=dt))
        clipped = []
        for i, t in enumerate(t_list):
            if t is None:
                clipped.append(None)
                continue
            v = convert_to_tensor(t, name=f"t_{i}")
            base = scope.rstrip("/").split("/")[-1]
            clipped.append(identity(multiply(v, scale), name=f"{base}_{i}"))
        return clipped, use_norm
