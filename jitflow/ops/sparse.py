"""Host ops on SparseTensors given as (indices int64 [N, R], values [N], dense_shape int64
[R]): ``sparse_to_dense`` (tf.sparse_tensor_to_dense) and ``edit_distance``
(tf.edit_distance, TF's EditDistance kernel). Their result shapes depend on the values of
``dense_shape``, so a Session runs them on the host (reference interpreter) between native
segments, as the other library ops without a kernel. A SparseTensor whose rank is unknown
when the graph is built (``tf.sparse_placeholder`` without ``shape``, as TF1 CTC code writes
it) is taken to be a matrix [batch, time], and a fed value of another rank is an error that
says to give the placeholder a shape."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.dtypes import float32
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


defop("sparse_to_dense", kind="library", cost="expensive", num_inputs=4,
      attrs={"rank": Attr("int")}, infer=_to_dense_infer, reference=_to_dense_ref,
      differentiable=False,
      unlowered_on=_UNLOWERED,
      doc="tf.sparse_tensor_to_dense: operands (indices, values, dense_shape, default_value)")


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
