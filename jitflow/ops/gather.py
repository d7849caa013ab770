"""gather along an axis and its gradient ``gather_grad(g, indices, like)`` (a scatter-add)."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType, normalize_axes
from .common import require_dtype


def _gather_infer(types, a):
    p, idx = types
    require_dtype(idx, "i", "indices")
    if p.shape is None:
        return TensorType(p.dtype, None)
    if p.rank < 1:
        raise ShapeMismatch("params must be at least 1 dimensional")
    ax = normalize_axes([a["axis"]], p.rank)[0]
    if idx.shape is None:
        return TensorType(p.dtype, None)
    return TensorType(p.dtype, p.shape[:ax] + idx.shape + p.shape[ax + 1:])


def _check_indices(idx, limit):
    bad = (idx < 0) | (idx >= limit)
    if np.any(bad):
        pos = np.unravel_index(np.flatnonzero(bad.reshape(-1))[0], idx.shape)
        raise InvalidArgumentError(f"indices[{','.join(str(int(i)) for i in pos)}] = "
                                   f"{idx[pos]} is not in [0, {limit})")


def _gather_ref(p, idx, axis):
    ax = axis % p.ndim
    _check_indices(idx, p.shape[ax])
    return np.take(p, idx, axis=ax)


def _gather_grad_ref(g, idx, like, axis):
    ax = axis % like.ndim
    _check_indices(idx, like.shape[ax])
    out = np.zeros(like.shape, dtype=g.dtype)
    k = idx.ndim
    g_moved = np.moveaxis(g, tuple(range(ax, ax + k)), tuple(range(k)))
    np.add.at(np.moveaxis(out, ax, 0), idx, g_moved)
    return out


def _gather_grad_infer(types, a):
    g, idx, like = types
    require_dtype(idx, "i", "indices")
    require_dtype(g, "fi", "gather_grad gradient")
    if like.shape is not None:
        if like.rank < 1:
            raise ShapeMismatch("params must be at least 1 dimensional")
        normalize_axes([a["axis"]], like.rank)
    return TensorType(g.dtype, like.shape)


defop("gather", kind="library", infer=_gather_infer, reference=_gather_ref, attrs={"axis": Attr("int", 0)},
      num_inputs=2,
      grad=lambda b, op, g: [b.gather_grad(g[0], op.operands[1], op.operands[0], **op.attrs), None],
      doc="params[..., indices, ...] along axis; out-of-range indices are an error")
defop("gather_grad", kind="library", shape_only={2}, infer=_gather_grad_infer, reference=_gather_grad_ref,
      attrs={"axis": Attr("int", 0)}, num_inputs=3,
      grad=lambda b, op, g: [b.gather(g[0], op.operands[1], **op.attrs), None, None],
      doc="operands (g, indices, like_params): scatter-add g into zeros shaped like params")

