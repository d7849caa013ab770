"""Bitwise ops on the integer types (``tf.bitwise``): ``bitwise_and``, ``bitwise_or``,
``bitwise_xor``, ``invert``, ``left_shift``, ``right_shift``.

Shifts follow TF's kernels: the shift amount is clamped to [0, bits - 1] of the operand type
(TF calls a shift outside that range implementation-defined and clamps it), a left shift
wraps around, a right shift is arithmetic on the signed types and logical on the unsigned
ones. On the narrow integers the frontend clamps the amount to their own width first, since
``promote-narrow`` computes them in int32. Not differentiable (integers)."""
from __future__ import annotations

import numpy as np

from ..ir.opdef import defop
from .common import binary_rule, unary_rule


def _amount(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The shift amount clamped to [0, bits - 1], in x's dtype."""
    top = np.array(x.dtype.itemsize * 8 - 1, x.dtype)
    if x.dtype.kind == "u":
        return np.minimum(y, top)
    return np.clip(y, np.array(0, x.dtype), top)


def _left_shift(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.left_shift(x, _amount(x, y))


def _right_shift(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.right_shift(x, _amount(x, y))


for _name, _fn in (("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                   ("bitwise_xor", np.bitwise_xor)):
    defop(_name, kind="elementwise", infer=binary_rule("i"), num_inputs=2, differentiable=False,
          reference=(lambda f: lambda x, y: f(x, y))(_fn), doc=f"tf.bitwise.{_name}")
defop("invert", kind="elementwise", infer=unary_rule("i"), num_inputs=1, differentiable=False,
      reference=lambda x: np.invert(x), doc="tf.bitwise.invert: ~x")
defop("left_shift", kind="elementwise", infer=binary_rule("i"), num_inputs=2,
      differentiable=False, reference=_left_shift,
      doc="x << clamp(y, 0, bits - 1), wrapping (tf.bitwise.left_shift)")
defop("right_shift", kind="elementwise", infer=binary_rule("i"), num_inputs=2,
      differentiable=False, reference=_right_shift,
      doc="x >> clamp(y, 0, bits - 1): arithmetic if signed, logical if unsigned")
