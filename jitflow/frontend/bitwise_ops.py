"""``tf.bitwise``: and, or, xor, invert and the shifts of integer tensors (ops/bitwise.py).

A shift amount is clamped to [0, bits - 1] of the operand type, as TF's kernels do; for the
narrow integers (int8, uint8, int16, uint16) the clamp is built here, at their own width,
because the native backends compute them in int32."""
from __future__ import annotations

from typing import Any, Optional

from .graph import Tensor
from .math_ops import binary, binary_operands
from .op_builder import convert_to_tensor, make_op

bitwise_and = binary("BitwiseAnd", "bitwise_and")
bitwise_or = binary("BitwiseOr", "bitwise_or")
bitwise_xor = binary("BitwiseXor", "bitwise_xor")


def invert(x: Any, name: Optional[str] = None) -> Tensor:
    """``tf.bitwise.invert``: ~x (every bit flipped)."""
    return make_op("Invert", "invert", [convert_to_tensor(x)], name=name).outputs[0]


def _shift(op_type: str, ir_op: str):
    def fn(x: Any, y: Any, name: Optional[str] = None) -> Tensor:
        a, b = binary_operands(x, y, op_type, name)
        if a.dtype.is_narrow and a.dtype.is_integer:
            lo = make_op("Maximum", "maximum", [b, convert_to_tensor(0, dtype=b.dtype)])
            b = make_op("Minimum", "minimum",
                        [lo.outputs[0], convert_to_tensor(a.dtype.bits - 1, dtype=b.dtype)])
            b = b.outputs[0]
        return make_op(op_type, ir_op, [a, b], name=name).outputs[0]
    fn.__name__ = ir_op
    fn.__doc__ = (f"``tf.bitwise.{ir_op}``: x {'<<' if ir_op == 'left_shift' else '>>'} y, y "
                  f"clamped to [0, bits - 1] (TF op {op_type}).")
    return fn


left_shift = _shift("LeftShift", "left_shift")
right_shift = _shift("RightShift", "right_shift")
