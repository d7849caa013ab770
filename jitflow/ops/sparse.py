"""Host ops on SparseTensors given as (indices int64 [N, R], values [N], dense_shape int64
[R]): ``sparse_to_dense`` (tf.sparse_tensor_to_dense), ``edit_distance`` (tf.edit_distance,
TF's EditDistance kernel), ``sparse_reduce_sum`` (``_sparse``) and ``sparse_dense_matmul``
(tf.sparse_tensor_dense_matmul), with their gradients for the values (and the dense
matrix). Their result shapes depend on the values of
``dense_shape``, so a Session runs them on the host (reference interpreter) between native
segments, as the other library ops without a kernel. A SparseTensor whose rank is unknown
when the graph is built (``tf.sparse_placeholder`` without ``shape``, as TF1 CTC code writes
it) is taken to be a matrix [batch, time], and a fed value of another rank is an error that
says to give the placeholder a shape."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.dtypes import float32, int64
from ..ir.opdef import Attr, defop
from ..ir.types import TensorType
from .common import require_dtype

_NO_KERNEL = ("its result shape is the value of dense_shape: a Session runs the op on the "
              "host (reference interpreter) between native segments")
_UNLOWERED = {"llvm": _NO_KERNEL, "cuda": _NO_KERNEL}


_ASSUMED_RANK = 2


def static_rank(idx: TensorType, shape: TensorType) -> int:
    """The SparseTensor's rank from its parts' types (``_ASSUMED_RANK`` when unknown): the
    frontends pass it as the ops' ``rank`` attribute, which the references check."""
    if shape.shape is not None and isinstance(shape.shape[0], int):
        return shape.shape[0]
    if idx.shape is not None and isinstance(idx.shape[1], int):
        return idx.shape[1]
    return _ASSUMED_RANK


def _nnz(idx: TensorType, what: str):
    """The number of entries of a SparseTensor's [nnz, rank] indices type (None if unknown)."""
    if idx.shape is None:
        return None
    if len(idx.shape) != 2:
        raise ValueError(f"{what}: indices must be a matrix [nnz, rank], got shape "
                         f"{list(idx.shape)}")
    return idx.shape[0]


def _check_assumed(shape: np.ndarray, rank: int, what: str) -> None:
    if shape.shape[0] != rank:
        raise InvalidArgumentError(
            f"{what}: the SparseTensor's rank was unknown when the graph was built and taken "
            f"to be {rank}, but the fed dense_shape {list(shape)} has rank {shape.shape[0]}; "
            f"give the placeholder its shape, e.g. tf.sparse_placeholder(tf.int32, "
            f"shape={[None] * int(shape.shape[0])})")


def _to_dense_infer(types, attrs) -> TensorType:
    idx, vals, shape, default = types
    require_dtype(idx, "i", "sparse_tensor_to_dense indices")
    return TensorType(vals.dtype, (None,) * attrs["rank"])


def _check(idx, vals, shape, what: str) -> None:
    if idx.ndim != 2 or idx.shape[0] != vals.shape[0] or idx.shape[1] != shape.shape[0]:
        raise InvalidArgumentError(f"{what}: expected indices [N, rank], values [N] and "
                                   f"dense_shape [rank], got {list(idx.shape)}, "
                                   f"{list(vals.shape)} and {list(shape.shape)}")
    if len(idx) and (np.any(idx < 0) or np.any(idx >= shape[None, :])):
        raise InvalidArgumentError(f"{what}: an index is outside dense_shape {list(shape)}")


def _to_dense_ref(idx, vals, shape, default, rank):
    _check_assumed(shape, rank, "sparse_tensor_to_dense")
    _check(idx, vals, shape, "sparse_tensor_to_dense")
    out = np.full(tuple(int(d) for d in shape), default, dtype=vals.dtype)
    if len(idx):
        out[tuple(idx.T)] = vals
    return out


def _to_dense_grad(b, op, g):
    """values get g at their indices; the indices, shape and default value get none."""
    idx = op.operands[0]
    return [None, b.sparse_gather_dense(idx, g[0], rank=op.attrs["rank"]), None, None]


defop("sparse_to_dense", kind="library", cost="expensive", num_inputs=4,
      attrs={"rank": Attr("int")}, infer=_to_dense_infer, reference=_to_dense_ref,
      grad=_to_dense_grad, unlowered_on=_UNLOWERED,
      doc="tf.sparse_tensor_to_dense: operands (indices, values, dense_shape, default_value)")


# ---------------------------------------------------------- reduce_sum, dense matmul -------

def _kept(rank: int, axes: tuple, keepdims: bool) -> list:
    """Per output axis: the input axis it indexes, or None (a kept reduced axis: index 0)."""
    return [None if a in axes else a for a in range(rank) if keepdims or a not in axes]


def _reduce_infer(types, attrs) -> TensorType:
    idx, vals, shape = types
    require_dtype(idx, "i", "sparse_reduce_sum indices")
    require_dtype(vals, "fi", "sparse_reduce_sum values")
    return TensorType(vals.dtype, (None,) * len(_kept(attrs["rank"], attrs["axes"],
                                                       attrs["keepdims"])))


def _reduce_ref(idx, vals, shape, axes, keepdims, rank):
    _check_assumed(shape, rank, "sparse_reduce_sum")
    _check(idx, vals, shape, "sparse_reduce_sum")
    kept = _kept(rank, axes, keepdims)
    if not kept:
        return np.asarray(vals.sum(), vals.dtype)
    out = np.zeros(tuple(1 if a is None else int(shape[a]) for a in kept), vals.dtype)
    cols = tuple(np.zeros(len(idx), np.int64) if a is None else idx[:, a] for a in kept)
    np.add.at(out, cols, vals)
    return out


def _reduce_grad(b, op, g):
    a = op.attrs
    return [None, b.sparse_gather_dense(op.operands[0], g[0], axes=a["axes"],
                                        keepdims=a["keepdims"], rank=a["rank"]), None]


def _reduce_sparse_infer(types, attrs) -> list:
    dense = _reduce_infer(types, attrs)
    r = dense.rank
    return [TensorType(int64, (None, r)), TensorType(dense.dtype, (None,)),
            TensorType(int64, (r,))]


def _reduce_sparse_ref(idx, vals, shape, axes, keepdims, rank):
    _check_assumed(shape, rank, "sparse_reduce_sum_sparse")
    _check(idx, vals, shape, "sparse_reduce_sum_sparse")
    kept = _kept(rank, axes, keepdims)
    out_shape = np.asarray([1 if a is None else int(shape[a]) for a in kept], np.int64)
    coords = np.stack([np.zeros(len(idx), np.int64) if a is None else idx[:, a]
                       for a in kept], axis=1) if kept else np.zeros((len(idx), 0), np.int64)
    if not len(idx):
        return coords, vals[:0].copy(), out_shape
    keys = np.ravel_multi_index(tuple(coords.T), tuple(int(d) for d in out_shape)) \
        if kept else np.zeros(len(idx), np.int64)
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.zeros(len(uniq), vals.dtype)
    np.add.at(sums, inverse.reshape(-1), vals)
    out_idx = np.stack(np.unravel_index(uniq, tuple(int(d) for d in out_shape)), axis=1) \
        if kept else np.zeros((1, 0), np.int64)
    return out_idx.astype(np.int64), sums, out_shape


def _gather_infer(types, attrs) -> TensorType:
    idx, dense = types
    require_dtype(idx, "i", "sparse_gather_dense indices")
    return TensorType(dense.dtype, (_nnz(idx, "sparse_gather_dense"),))


def _gather_ref(idx, dense, axes, keepdims, rank):
    kept = _kept(rank, axes, keepdims)
    if dense.ndim != len(kept):
        raise InvalidArgumentError(f"sparse_gather_dense: expected a rank-{len(kept)} dense "
                                   f"operand, got shape {list(dense.shape)}")
    cols = tuple(np.zeros(len(idx), np.int64) if a is None else idx[:, a] for a in kept)
    return np.broadcast_to(dense[cols], (len(idx),)).copy()


_REDUCE_ATTRS = {"axes": Attr("ints", ()), "keepdims": Attr("bool", False), "rank": Attr("int")}
defop("sparse_reduce_sum", kind="library", cost="expensive", num_inputs=3, attrs=_REDUCE_ATTRS,
      infer=_reduce_infer, reference=_reduce_ref, grad=_reduce_grad, unlowered_on=_UNLOWERED,
      doc="tf.sparse_reduce_sum: the dense sum of a SparseTensor over ``axes`` (sorted, "
          "non-negative); operands (indices, values, dense_shape)")
defop("sparse_reduce_sum_sparse", kind="library", cost="expensive", num_inputs=3,
      attrs=_REDUCE_ATTRS, infer=_reduce_sparse_infer, reference=_reduce_sparse_ref,
      differentiable=False, unlowered_on=_UNLOWERED,
      doc="tf.sparse_reduce_sum_sparse: the sum over ``axes`` as a SparseTensor (indices in "
          "row-major order, one per output position some entry reaches); results (indices, "
          "values, dense_shape)")
defop("sparse_gather_dense", kind="library", cost="expensive", num_inputs=2,
      attrs=_REDUCE_ATTRS, infer=_gather_infer, reference=_gather_ref, differentiable=False,
      unlowered_on=_UNLOWERED,
      doc="the gradient of sparse_reduce_sum (and sparse_to_dense, axes ()) for the values: "
          "the dense operand at each index with ``axes`` dropped (or 0 with keepdims); "
          "operands (indices, dense)")


def _matmul_infer(types, attrs) -> TensorType:
    idx, vals, shape, b = types
    require_dtype(idx, "i", "sparse_dense_matmul indices")
    if attrs["rank"] != 2:
        raise ValueError(f"sparse_tensor_dense_matmul: expected a rank-2 SparseTensor, got "
                         f"rank {attrs['rank']}")
    if b.shape is not None and len(b.shape) != 2:
        raise ValueError(f"sparse_tensor_dense_matmul: expected a matrix b, got shape {b.shape}")
    if vals.dtype != b.dtype:
        raise TypeError(f"sparse_tensor_dense_matmul: values and b must have the same dtype, "
                        f"got {vals.dtype.name} and {b.dtype.name}")
    cols = None if b.shape is None else b.shape[0 if attrs["adjoint_b"] else 1]
    return TensorType(vals.dtype, (None, cols))


def _pairs(idx, adjoint_a):
    return (idx[:, 1], idx[:, 0]) if adjoint_a else (idx[:, 0], idx[:, 1])


def _matmul_ref(idx, vals, shape, b, adjoint_a, adjoint_b, rank):
    _check_assumed(shape, rank, "sparse_tensor_dense_matmul")
    _check(idx, vals, shape, "sparse_tensor_dense_matmul")
    bp = b.T if adjoint_b else b
    rows, inner = (int(shape[1]), int(shape[0])) if adjoint_a else (int(shape[0]), int(shape[1]))
    if bp.shape[0] != inner:
        raise InvalidArgumentError(f"sparse_tensor_dense_matmul: the inner dimensions differ: "
                                   f"{inner} (the SparseTensor{', adjoint' * adjoint_a}) and "
                                   f"{bp.shape[0]} (b{', adjoint' * adjoint_b})")
    out = np.zeros((rows, bp.shape[1]), np.result_type(vals, b))
    r, c = _pairs(idx, adjoint_a)
    np.add.at(out, r, vals[:, None] * bp[c])
    return out


def _matmul_grad(b, op, g):
    """values: <g[row], op(B)[col]> per entry; B: op(A)^T g (transposed back with adjoint_b)."""
    idx, vals, shape, bmat = op.operands
    a = op.attrs
    gv = b.sparse_dense_matmul_values_grad(idx, g[0], bmat, adjoint_a=a["adjoint_a"],
                                           adjoint_b=a["adjoint_b"])
    gb = b.sparse_dense_matmul(idx, vals, shape, g[0], adjoint_a=not a["adjoint_a"],
                               adjoint_b=False, rank=2)
    if a["adjoint_b"]:
        gb = b.transpose(gb, perm=(1, 0))
    return [None, gv, None, gb]


def _values_grad_infer(types, attrs) -> TensorType:
    idx, g, bmat = types
    return TensorType(g.dtype, (_nnz(idx, "sparse_dense_matmul_values_grad"),))


def _values_grad_ref(idx, g, bmat, adjoint_a, adjoint_b):
    bp = bmat.T if adjoint_b else bmat
    r, c = _pairs(idx, adjoint_a)
    return np.einsum("nj,nj->n", g[r], bp[c]).astype(g.dtype)


_MM_ATTRS = {"adjoint_a": Attr("bool", False), "adjoint_b": Attr("bool", False)}
defop("sparse_dense_matmul", kind="library", cost="expensive", num_inputs=4,
      attrs={**_MM_ATTRS, "rank": Attr("int")}, infer=_matmul_infer, reference=_matmul_ref,
      grad=_matmul_grad, unlowered_on=_UNLOWERED,
      doc="tf.sparse_tensor_dense_matmul: op(A) @ op(B) for a rank-2 SparseTensor A (op: "
          "transpose with adjoint_a/adjoint_b); operands (indices, values, dense_shape, b)")
defop("sparse_dense_matmul_values_grad", kind="library", cost="expensive", num_inputs=3,
      attrs=_MM_ATTRS, infer=_values_grad_infer, reference=_values_grad_ref,
      differentiable=False, unlowered_on=_UNLOWERED,
      doc="the gradient of sparse_dense_matmul for the values: per entry (i, k), "
          "sum_j g[i, j] * op(B)[k, j] (i, k swapped with adjoint_a); operands (indices, g, b)")


def _levenshtein(a: list, b: list) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def _groups(idx, vals) -> dict:
    out: dict = {}
    for r in np.lexsort(idx.T[::-1]) if len(idx) else []:
        out.setdefault(tuple(int(i) for i in idx[r, :-1]), []).append(vals[r])
    return out


def _edit_infer(types, attrs) -> TensorType:
    hi, hv, hs, ti, tv, ts = types
    return TensorType(float32, (None,) * (attrs["rank"] - 1))


def _edit_ref(hi, hv, hs, ti, tv, ts, normalize, rank):
    _check_assumed(hs, rank, "edit_distance")
    _check(hi, hv, hs, "edit_distance hypothesis")
    _check(ti, tv, ts, "edit_distance truth")
    if hs.shape != ts.shape:
        raise InvalidArgumentError(f"edit_distance: hypothesis and truth must have the same "
                                   f"rank, got dense_shape {list(hs)} and {list(ts)}")
    out = np.zeros(tuple(int(d) for d in np.maximum(hs[:-1], ts[:-1])), np.float32)
    hyp, truth = _groups(hi, hv), _groups(ti, tv)
    for loc in set(hyp) | set(truth):
        h, t = hyp.get(loc, []), truth.get(loc, [])
        d = float(_levenshtein(h, t))
        if normalize:
            d = d / len(t) if t else np.inf
        out[loc] = d
    return out


defop("edit_distance", kind="library", cost="expensive", num_inputs=6,
      attrs={"normalize": Attr("bool", True), "rank": Attr("int")}, infer=_edit_infer, reference=_edit_ref,
      differentiable=False, unlowered_on=_UNLOWERED,
      doc="tf.edit_distance: the Levenshtein distance of each hypothesis/truth sequence (the "
          "last dim), divided by the truth's length with normalize; operands (hypothesis "
          "indices, values, shape, truth indices, values, shape)")
