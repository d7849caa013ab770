"""softmax / log_softmax and the cross-entropies (sparse, dense and sigmoid)."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType, broadcast_shapes, normalize_axes
from .common import require_dtype, require_same_dtype, unbroadcast


def _softmax_infer(types, a):
    x = types[0]
    require_dtype(x, "f", "logits")
    if x.shape is not None:
        if x.rank < 1:
            raise ShapeMismatch("logits must have rank >= 1")
        normalize_axes([a["axis"]], x.rank)
    return x


def softmax_np(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax_np(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def softmax_vjp(b, y, g, axis):
    """Cotangent of softmax's input given its output y and cotangent g: y * (g - <g, y>)."""
    s = b.reduce_sum(b.mul(g, y), axes=(axis,), keepdims=True)
    return b.mul(b.sub(g, s), y)


defop("softmax", kind="library", infer=_softmax_infer, attrs={"axis": Attr("int", -1)}, num_inputs=1,
      reference=lambda x, axis: softmax_np(x, axis).astype(x.dtype, copy=False),
      grad=lambda b, op, g: [softmax_vjp(b, op.result, g[0], op.attrs["axis"])],
      doc="max-shifted softmax along axis")
defop("log_softmax", kind="library", infer=_softmax_infer, attrs={"axis": Attr("int", -1)}, num_inputs=1,
      reference=lambda x, axis: log_softmax_np(x, axis).astype(x.dtype, copy=False),
      grad=lambda b, op, g: [b.sub(g[0], b.mul(b.exp(op.result), b.reduce_sum(
          g[0], axes=(op.attrs["axis"],), keepdims=True)))],
      doc="max-shifted log-softmax along axis")


def _is_zero(v) -> bool:
    return v is None or (v.producer is not None and v.producer.opname == "zeros_like")


def _sparse_xent_infer(types, a):
    logits, labels = types
    require_dtype(logits, "f", "logits")
    require_dtype(labels, "i", "labels")
    if logits.shape is None:
        if labels.shape is None:
            raise ShapeMismatch("sparse softmax cross entropy needs logits of known rank")
        return [TensorType(logits.dtype, labels.shape),
                TensorType(logits.dtype, labels.shape + (None,))]
    if logits.rank < 1:
        raise ShapeMismatch("logits must have rank >= 1")
    outer = list(logits.shape[:-1])
    if labels.shape is not None:
        if labels.rank != logits.rank - 1:
            raise ShapeMismatch(f"Rank mismatch: Rank of labels (received {labels.rank}) should "
                                f"equal rank of logits minus 1 (received {logits.rank}).")
        for i, (p, q) in enumerate(zip(outer, labels.shape)):
            if isinstance(p, int) and isinstance(q, int) and p != q:
                raise ShapeMismatch(f"Shape mismatch: The shape of labels (received "
                                    f"{list(labels.shape)}) should equal the shape of logits "
                                    f"except for the last dimension (received {list(logits.shape)}).")
            if not isinstance(p, int) and isinstance(q, int):
                outer[i] = q
    return [TensorType(logits.dtype, tuple(outer)),
            TensorType(logits.dtype, tuple(outer) + (logits.shape[-1],))]


def _sparse_xent_ref(logits, labels):
    depth = logits.shape[-1]
    if labels.shape != logits.shape[:-1]:
        raise InvalidArgumentError(f"logits and labels must have the same first dimension, got "
                                   f"logits shape {list(logits.shape)} and labels shape "
                                   f"{list(labels.shape)}")
    bad = (labels < 0) | (labels >= depth)
    if np.any(bad):
        first = labels.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]]
        values = " ".join(str(v) for v in labels.reshape(-1))
        raise InvalidArgumentError(f"Received a label value of {first} which is outside the valid "
                                   f"range of [0, {depth}).  Label values: {values}")
    logp = log_softmax_np(logits, -1)
    idx = labels[..., None].astype(np.intp)
    loss = -np.take_along_axis(logp, idx, axis=-1)[..., 0]
    backprop = np.exp(logp)
    np.put_along_axis(backprop, idx, np.take_along_axis(backprop, idx, axis=-1) - 1, axis=-1)
    return loss.astype(logits.dtype, copy=False), backprop.astype(logits.dtype, copy=False)


def _sparse_xent_grad(b, op, g):
    logits = op.operands[0]
    g_loss, g_bp = g
    out = None
    if not _is_zero(g_loss):
        out = b.mul(b.expand_dims(g_loss, axis=-1), op.results[1])
    if not _is_zero(g_bp):    # backprop = softmax(logits) - onehot: differentiate softmax
        term = softmax_vjp(b, b.softmax(logits, axis=-1), g_bp, -1)
        out = term if out is None else b.add(out, term)
    return [out if out is not None else b.zeros_like(logits), None]


defop("sparse_softmax_cross_entropy", kind="library", infer=_sparse_xent_infer, reference=_sparse_xent_ref,
      grad=_sparse_xent_grad, num_inputs=2,
      doc="operands (logits [..., C], labels [...]); results (loss [...], backprop = "
          "softmax - onehot); an out-of-range label is an InvalidArgumentError")


def _xent_infer(types, a):
    logits, labels = types
    dt = require_same_dtype(types, "softmax cross entropy operands")
    require_dtype(logits, "f", "logits")
    if logits.shape is not None and labels.shape is not None and logits.rank != labels.rank:
        raise ShapeMismatch(f"logits and labels must have the same rank, got {logits.rank} and "
                            f"{labels.rank}")
    shape = broadcast_shapes(logits.shape, labels.shape)
    if shape is None:
        known = logits.shape if logits.shape is not None else labels.shape
        if known is None:
            raise ShapeMismatch("softmax cross entropy needs operands of known rank")
        shape = tuple(None for _ in known)
    if len(shape) < 1:
        raise ShapeMismatch("logits must have rank >= 1")
    return [TensorType(dt, shape[:-1]), TensorType(dt, shape)]


def _xent_ref(logits, labels):
    logp = log_softmax_np(logits, -1)
    loss = -np.sum(labels * logp, axis=-1)
    backprop = np.exp(logp) - labels
    return loss.astype(logits.dtype, copy=False), backprop.astype(logits.dtype, copy=False)


def _xent_grad(b, op, g):
    logits, labels = op.operands
    g_loss, g_bp = g
    gl = gz = None
    if not _is_zero(g_loss):
        ge = b.expand_dims(g_loss, axis=-1)
        gl = b.mul(ge, op.results[1])
        gz = b.mul(b.neg(ge), b.log_softmax(logits, axis=-1))
    if not _is_zero(g_bp):    # backprop = softmax(logits) - labels
        term = softmax_vjp(b, b.softmax(logits, axis=-1), g_bp, -1)
        gl = term if gl is None else b.add(gl, term)
        gz = b.neg(g_bp) if gz is None else b.sub(gz, g_bp)
    return [unbroadcast(b, gl, logits) if gl is not None else b.zeros_like(logits),
            unbroadcast(b, gz, labels) if gz is not None else b.zeros_like(labels)]


defop("softmax_cross_entropy", kind="library", infer=_xent_infer, reference=_xent_ref, grad=_xent_grad,
      num_inputs=2,
      doc="operands (logits, labels) of equal rank, broadcast; results (loss = "
          "-sum(labels * log_softmax(logits), -1), backprop = softmax - labels)")


def _sigmoid_xent_ref(logits, labels):
    x, z = logits, labels
    return (np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


def _sigmoid_xent_infer(types, a):
    dt = require_same_dtype(types, "sigmoid cross entropy operands")
    require_dtype(types[0], "f", "logits")
    return TensorType(dt, broadcast_shapes(types[0].shape, types[1].shape))


def _sigmoid_xent_grad(b, op, g):
    x, z = op.operands
    return [unbroadcast(b, b.mul(g[0], b.sub(b.sigmoid(x), z)), x),
            unbroadcast(b, b.mul(g[0], b.neg(x)), z)]


defop("sigmoid_cross_entropy", kind="elementwise", cost="expensive", infer=_sigmoid_xent_infer, reference=_sigmoid_xent_ref,
      grad=_sigmoid_xent_grad, num_inputs=2,
      doc="max(x, 0) - x * z + log(1 + exp(-|x|)) for logits x and labels z")

