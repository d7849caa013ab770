"""``tf.bitwise``: bitwise_and/or/xor, invert, left_shift, right_shift on integer tensors
(the IR ops of ``ops/bitwise.py``). Shift amounts are clamped to [0, bits - 1] of the dtype,
as TF's CPU kernels do."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import math_ops as M
from .graph import Tensor
from .op_builder import convert_to_tensor, make_op

__all__ = ["bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift"]


def _ints(x: Any, y: Any, what: str) -> tuple[Tensor, Tensor]:
    a, b = M.binary_operands(x, y, what)
    if not a.dtype.is_integer:
        raise TypeError(f"tf.bitwise.{what} expects integer tensors, got {a.dtype.name}")
    return a, b


def _binary(op_type: str, ir_op: str):
    def fn(x: Any, y: Any, name: Optional[str] = None) -> Tensor:
        a, b = _ints(x, y, ir_op)
        return make_op(op_type, ir_op, [a, b], name=name or op_type).outputs[0]
    fn.__name__ = ir_op
    fn.__doc__ = f"Elementwise {ir_op} of integers with broadcasting (TF op {op_type})."
    return fn


bitwise_and = _binary("BitwiseAnd", "bitwise_and")
bitwise_or = _binary("BitwiseOr", "bitwise_or")
bitwise_xor = _binary("BitwiseXor", "bitwise_xor")


def _shift(op_type: str, ir_op: str):
    def fn(x: Any, y: Any, name: Optional[str] = None) -> Tensor:
        a, b = _ints(x, y, ir_op)
        bits = np.dtype(a.dtype.np).itemsize * 8
        b = M.minimum(M.maximum(b, convert_to_tensor(0, dtype=b.dtype)),
                      convert_to_tensor(bits - 1, dtype=b.dtype))
        return make_op(op_type, ir_op, [a, b], name=name or op_type).outputs[0]
    fn.__name__ = ir_op
    fn.__doc__ = (f"Elementwise {ir_op} with broadcasting (TF op {op_type}); the amount is "
                  f"clamped to [0, bits - 1].")
    return fn


left_shift = _shift("LeftShift", "left_shift")
right_shift = _shift("RightShift", "right_shift")


def invert(x: Any, name: Optional[str] = None) -> Tensor:
    """Bitwise not of an integer tensor (TF op Invert)."""
    x = convert_to_tensor(x)
    if not x.dtype.is_integer:
        raise TypeError(f"tf.bitwise.invert expects an integer tensor, got {x.dtype.name}")
    return make_op("Invert", "invert", [x], name=name or "Invert").outputs[0]
