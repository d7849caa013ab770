"""Fused convolution ops, chosen by the ``conv-fusion`` pass (passes/conv_fusion.py) where a
backend has kernels for them; each is exactly the composition it replaces (its reference is
that composition, and ``decompose`` rebuilds it for a backend without a kernel):

* ``fused_conv2d(x, w[, bias]) {activation}``: ``relu(bias_add(conv2d(x, w), bias))``, the
  bias and the activation optional: the epilogue runs on each output chunk of the convolution
  while it is in cache, instead of a second pass over the output;
* ``relu_bias_grad(g, y) -> (dz, db)``: the gradients through ``y = relu(z + bias)`` given
  ``g = dL/dy``: ``dz = where(y > 0, g, 0)`` and ``db = sum(dz)`` over every axis but the last,
  in one pass over g (the fused backward of a conv/dense layer's bias and relu).
"""
from __future__ import annotations

import numpy as np

from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType
from .common import require_same_dtype
from .conv import CONV_ATTRS, _conv_grad, _conv_infer, _conv_ref

ACTIVATIONS = ("none", "relu")


def _fused_infer(types, a):
    if len(types) not in (2, 3):
        raise ShapeMismatch(f"fused_conv2d takes 2 or 3 operands (input, filter[, bias]), got "
                            f"{len(types)}")
    if a["activation"] not in ACTIVATIONS:
        raise ValueError(f"fused_conv2d: activation must be one of {ACTIVATIONS}, got "
                         f"{a['activation']!r}")
    out = _conv_infer(types[:2], a)
    if len(types) == 3:
        require_same_dtype([types[0], types[2]], "fused_conv2d input and bias")
        bias = types[2]
        if bias.shape is not None and (bias.rank != 1 or (
                isinstance(bias.shape[0], int) and isinstance(out.shape[3], int)
                and bias.shape[0] != out.shape[3])):
            raise ShapeMismatch(f"fused_conv2d: bias must be [{out.shape[3]}], got {bias.shape}")
    return out


def _conv_attrs(a) -> dict:
    return {k: a[k] for k in ("strides", "padding", "dilations")}


def _fused_ref(x, *rest, activation, **conv):
    w, bias = rest[0], rest[1:]      # (filter[, bias])
    y = _conv_ref(x, w, **conv)
    if bias:
        y = y + bias[0]
    if activation == "relu":
        y = np.maximum(y, np.zeros((), y.dtype))
    return y.astype(x.dtype, copy=False)


def _fused_decompose(b, op):
    x, w = op.operands[:2]
    y = b.conv2d(x, w, **_conv_attrs(op.attrs))
    if len(op.operands) == 3:
        y = b.bias_add(y, op.operands[2], axis=-1)
    if op.attrs["activation"] == "relu":
        y = b.relu(y)
    return y


def _fused_grad(b, op, g):
    gz = g[0]
    if op.attrs["activation"] == "relu":
        gz = b.select(b.greater(op.result, 0), gz, b.zeros_like(gz))
    conv = op.attrs
    grads = _conv_grad(b, _ConvView(op.operands[:2], _conv_attrs(conv)), [gz])
    if len(op.operands) == 3:
        grads.append(b.reduce_sum(gz, axes=(0, 1, 2), keepdims=False))
    return grads


class _ConvView:
    """What conv2d's gradient rule reads of its op: the two operands and the attributes."""

    def __init__(self, operands, attrs) -> None:
        self.operands, self.attrs = list(operands), attrs


def _rbg_infer(types, a):
    g, y = types
    dt = require_same_dtype(types, "relu_bias_grad operands")
    if g.shape is not None and y.shape is not None and g.shape != y.shape:
        raise ShapeMismatch(f"relu_bias_grad: gradient {g.shape} and output {y.shape} differ")
    shape = g.shape if g.shape is not None else y.shape
    if shape is None or len(shape) < 1:
        raise ShapeMismatch("relu_bias_grad needs operands of known rank >= 1")
    return [TensorType(dt, shape), TensorType(dt, (shape[-1],))]


def _rbg_ref(g, y):
    dz = np.where(y > 0, g, np.zeros((), g.dtype)).astype(g.dtype, copy=False)
    db = dz.reshape(-1, dz.shape[-1]).sum(axis=0, dtype=np.float64).astype(g.dtype)
    return dz, db


def _rbg_decompose(b, op):
    g, y = op.operands
    dz = b.select(b.greater(y, 0), g, b.zeros_like(g))
    return dz, b.reduce_sum(dz, axes=tuple(range(len(g.type.shape) - 1)), keepdims=False)


def _rbg_grad(b, op, g):
    # dz and db are linear in g: d/dg = mask * (gdz + broadcast(gdb)); y only selects
    g_dz, g_db = g
    gy = op.operands[1]
    total = g_dz
    if g_db is not None:
        spread = b.add(b.zeros_like(op.operands[0]), g_db)
        total = spread if total is None else b.add(total, spread)
    if total is None:
        return [None, None]
    return [b.select(b.greater(gy, 0), total, b.zeros_like(total)), None]


defop("fused_conv2d", kind="library", infer=_fused_infer, reference=_fused_ref, grad=_fused_grad,
      attrs={**CONV_ATTRS, "activation": Attr("str", "none")}, decompose=_fused_decompose,
      doc="conv2d (NHWC, HWIO) + optional bias (operand 3) + activation (none | relu)")
defop("relu_bias_grad", kind="library", infer=_rbg_infer, reference=_rbg_ref, grad=_rbg_grad,
      num_inputs=2, decompose=_rbg_decompose,
      doc="(g, y) -> (where(y > 0, g, 0), its sum over all axes but the last)")
