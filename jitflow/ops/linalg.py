"""Matrix multiplication (rank >= 2; leading batch dims must match, as in TF1's MatMul)."""
from __future__ import annotations

import numpy as np

from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType, broadcast_dim
from .common import require_dtype, require_same_dtype, unbroadcast


def _matmul_infer(types, a):
    x, y = types
    dt = require_same_dtype(types, "matmul operands")
    require_dtype(x, "fi", "matmul operand")
    if x.shape is None or y.shape is None:
        return TensorType(dt, None)
    if x.rank < 2 or y.rank < 2:
        raise ShapeMismatch(f"Shape must be rank 2 but is rank {min(x.rank, y.rank)}: matmul "
                            f"operands are {x.shape} and {y.shape}")
    if x.rank != y.rank:
        raise ShapeMismatch(f"matmul operands must have the same rank, got {x.rank} and {y.rank}")
    m, k1 = (x.shape[-1], x.shape[-2]) if a["transpose_a"] else (x.shape[-2], x.shape[-1])
    k2, n = (y.shape[-1], y.shape[-2]) if a["transpose_b"] else (y.shape[-2], y.shape[-1])
    if isinstance(k1, int) and isinstance(k2, int) and k1 != k2:
        raise ShapeMismatch(f"Dimensions must be equal, but are {k1} and {k2} (the inner dims "
                            f"of matmul operands with shapes {list(x.shape)} and {list(y.shape)})")
    batch = tuple(broadcast_dim(p, q, i) for i, (p, q) in enumerate(zip(x.shape[:-2], y.shape[:-2])))
    return TensorType(dt, batch + (m, n))


def _matmul_ref(x, y, transpose_a, transpose_b):
    if transpose_a:
        x = np.swapaxes(x, -1, -2)
    if transpose_b:
        y = np.swapaxes(y, -1, -2)
    if x.shape[-1] != y.shape[-2]:
        from ..errors import InvalidArgumentError
        raise InvalidArgumentError(f"Matrix size-incompatible: In[0]: {list(x.shape)}, "
                                   f"In[1]: {list(y.shape)}")
    return np.matmul(x, y)


def _matmul_grad(b, op, g):
    """VJP; batch dims broadcast by the type rule (1 against n) are summed back."""
    x, y = op.operands
    gx, gy = _matmul_grad_full(b, op, g)
    return [unbroadcast(b, gx, x), unbroadcast(b, gy, y)]


def _matmul_grad_full(b, op, g):
    x, y = op.operands
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    g = g[0]
    mm = b.matmul
    if not ta and not tb:
        return [mm(g, y, transpose_b=True), mm(x, g, transpose_a=True)]
    if not ta and tb:
        return [mm(g, y), mm(g, x, transpose_a=True)]
    if ta and not tb:
        return [mm(y, g, transpose_b=True), mm(x, g)]
    return [mm(y, g, transpose_a=True, transpose_b=True), mm(g, x, transpose_a=True, transpose_b=True)]


defop("matmul", kind="contraction", infer=_matmul_infer, reference=_matmul_ref, grad=_matmul_grad, num_inputs=2,
      attrs={"transpose_a": Attr("bool", False), "transpose_b": Attr("bool", False)})
