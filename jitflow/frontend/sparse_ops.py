"""TF1's numeric SparseTensor helpers: ``tf.sparse_placeholder``, ``tf.sparse_tensor_to_dense``,
``tf.edit_distance`` (used around CTC), ``tf.sparse_reduce_sum`` and
``tf.sparse_tensor_dense_matmul`` (host ops, ``ops/sparse.py``).
``tf.cast`` of a SparseTensor casts its values (frontend/math_ops.cast). A SparseTensor of
unknown rank (``tf.sparse_placeholder`` without ``shape``) is taken to be a matrix."""
from __future__ import annotations

from typing import Any, Optional

from . import math_ops as M
from .graph import Tensor, name_scope
from .op_builder import convert_to_tensor, make_op
from ..ops.sparse import _ASSUMED_RANK, static_rank

__all__ = ["sparse_placeholder", "sparse_tensor_to_dense", "edit_distance", "sparse_reduce_sum",
           "sparse_reduce_sum_sparse", "sparse_tensor_dense_matmul"]


def sparse_placeholder(dtype: Any, shape: Any = None, name: Optional[str] = None) -> Any:
    """A SparseTensor of three placeholders (indices int64 [None, rank], values [None],
    dense_shape int64 [rank]); feed it a SparseTensorValue or an ``(indices, values,
    dense_shape)`` tuple."""
    from .array_ops import placeholder
    from .data.string_format import SparseTensor
    rank = None if shape is None else len(shape)
    base = name or "Placeholder"
    return SparseTensor(placeholder("int64", [None, rank], name=f"{base}/indices"),
                        placeholder(dtype, [None], name=f"{base}/values"),
                        placeholder("int64", [rank], name=f"{base}/shape"))


def _parts(sp: Any, what: str) -> list:
    if not (hasattr(sp, "indices") and hasattr(sp, "values") and hasattr(sp, "dense_shape")):
        raise TypeError(f"{what}: expected a SparseTensor, got {type(sp).__name__}")
    return [M.cast(convert_to_tensor(sp.indices), "int64"), convert_to_tensor(sp.values),
            M.cast(convert_to_tensor(sp.dense_shape), "int64")]


def sparse_tensor_to_dense(sp_input: Any, default_value: Any = None,
                           validate_indices: bool = True, name: Optional[str] = None) -> Tensor:
    """The dense tensor of shape ``dense_shape`` with ``values`` at ``indices`` and
    ``default_value`` (0) elsewhere."""
    idx, vals, shape = _parts(sp_input, "sparse_tensor_to_dense")
    default = convert_to_tensor(0 if default_value is None else default_value, vals.dtype)
    rank = static_rank(idx._type, shape._type)
    out = make_op("SparseToDense", "sparse_to_dense", [idx, vals, shape, default],
                  {"rank": rank}, name or "SparseToDense").outputs[0]
    dims = _static_shape(shape)
    if dims is not None:
        out.set_shape(dims)
    return out


def edit_distance(hypothesis: Any, truth: Any, normalize: bool = True,
                  name: str = "edit_distance") -> Tensor:
    """The Levenshtein distance between the sequences (the last dim) of two SparseTensors,
    float32 of shape dense_shape[:-1]; with ``normalize`` divided by the truth's length
    (inf where the truth is empty and the hypothesis is not)."""
    with name_scope(name):
        h = _parts(hypothesis, "edit_distance hypothesis")
        t = _parts(truth, "edit_distance truth")
        if h[1].dtype != t[1].dtype:
            raise TypeError(f"edit_distance: hypothesis and truth values must have the same "
                            f"dtype, got {h[1].dtype.name} and {t[1].dtype.name}")
        rank = static_rank(h[0]._type, h[2]._type)
        if rank == _ASSUMED_RANK:
            rank = static_rank(t[0]._type, t[2]._type)
        return make_op("EditDistance", "edit_distance", h + t,
                       {"normalize": bool(normalize), "rank": rank}).outputs[0]


def _static_shape(shape: Tensor) -> Optional[list]:
    from .op_builder import static_value
    v = static_value(shape)
    return None if v is None else [int(d) for d in v]


def _reduce_args(what: str, sp_input: Any, axis: Any, keepdims: Any, reduction_axes: Any,
                 keep_dims: Any) -> tuple:
    import numpy as np
    axis = reduction_axes if axis is None else axis
    keep = bool(keep_dims if keepdims is None else keepdims)
    idx, vals, shape = _parts(sp_input, what)
    rank = static_rank(idx._type, shape._type)
    if axis is None:
        axes: tuple = tuple(range(rank))
    else:
        raw = [int(a) for a in np.atleast_1d(np.asarray(axis))]
        bad = [a for a in raw if not -rank <= a < rank]
        if bad:
            raise ValueError(f"{what}: axis {bad} out of range for a rank-{rank} SparseTensor")
        axes = tuple(sorted({a % rank for a in raw}))
    return [idx, vals, shape], {"axes": axes, "keepdims": keep, "rank": rank}


def sparse_reduce_sum(sp_input: Any, axis: Any = None, keepdims: Any = None,
                      reduction_axes: Any = None, keep_dims: Any = None,
                      name: Optional[str] = None) -> Tensor:
    """The dense sum of the SparseTensor's values over ``axis`` (all axes when None;
    negative axes count from the end), with the reduced axes kept as 1 with ``keepdims``."""
    parts, attrs = _reduce_args("sparse_reduce_sum", sp_input, axis, keepdims, reduction_axes,
                                keep_dims)
    out = make_op("SparseReduceSum", "sparse_reduce_sum", parts, attrs,
                  name or "SparseReduceSum").outputs[0]
    axes, keep, shape = attrs["axes"], attrs["keepdims"], parts[2]
    dims = _static_shape(shape)
    if dims is not None:
        out.set_shape([1 if a in axes else d for a, d in enumerate(dims)
                       if keep or a not in axes])
    return out


def sparse_reduce_sum_sparse(sp_input: Any, axis: Any = None, keepdims: Any = None,
                             reduction_axes: Any = None, keep_dims: Any = None,
                             name: Optional[str] = None) -> Any:
    """``sparse_reduce_sum`` as a SparseTensor: one entry per output position that some input
    entry reaches, in row-major order (no gradient)."""
    from .data.string_format import SparseTensor
    parts, attrs = _reduce_args("sparse_reduce_sum_sparse", sp_input, axis, keepdims,
                                reduction_axes, keep_dims)
    op = make_op("SparseReduceSumSparse", "sparse_reduce_sum_sparse", parts, attrs,
                 name or "SparseReduceSumSparse")
    return SparseTensor(*op.outputs)


def sparse_tensor_dense_matmul(sp_a: Any, b: Any, adjoint_a: bool = False,
                               adjoint_b: bool = False, name: Optional[str] = None) -> Tensor:
    """``op(sp_a) @ op(b)`` for a rank-2 SparseTensor ``sp_a`` and a dense matrix ``b``
    (op: transpose with adjoint_a / adjoint_b); gradients flow into the values and ``b``."""
    idx, vals, shape = _parts(sp_a, "sparse_tensor_dense_matmul")
    bt = convert_to_tensor(b, vals.dtype)
    rank = static_rank(idx._type, shape._type)
    out = make_op("SparseTensorDenseMatMul", "sparse_dense_matmul", [idx, vals, shape, bt],
                  {"adjoint_a": bool(adjoint_a), "adjoint_b": bool(adjoint_b), "rank": rank},
                  name or "SparseTensorDenseMatMul").outputs[0]
    dims = _static_shape(shape)
    if dims is not None and len(dims) == 2:
        out.set_shape([dims[1] if adjoint_a else dims[0], None])
    return out
