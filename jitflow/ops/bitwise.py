"""Bitwise ops on integers (``tf.bitwise``): and, or, xor, invert and the shifts, with NumPy
broadcasting, not differentiable. Shift amounts must lie in [0, bits of the computed type);
the frontend clamps them to the operand dtype's bits first, as TF's kernels do, so every
backend (narrow integers are computed in int32) agrees."""
from __future__ import annotations

import numpy as np

from ..ir.opdef import defop
from .common import binary_rule, unary_rule


def _shift(fn):
    def ref(x, y):
        bits = np.dtype(x.dtype).itemsize * 8
        return np.asarray(fn(x, np.clip(y, 0, bits - 1).astype(x.dtype)), dtype=x.dtype)
    return ref


for _name, _fn in [("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                   ("bitwise_xor", np.bitwise_xor)]:
    defop(_name, kind="elementwise", infer=binary_rule("i"),
          reference=(lambda f: lambda x, y: np.asarray(f(x, y), dtype=x.dtype))(_fn),
          num_inputs=2, differentiable=False)
defop("left_shift", kind="elementwise", infer=binary_rule("i"), reference=_shift(np.left_shift),
      num_inputs=2, differentiable=False, doc="x << y, wrapping; y in [0, bits)")
defop("right_shift", kind="elementwise", infer=binary_rule("i"),
      reference=_shift(np.right_shift), num_inputs=2, differentiable=False,
      doc="x >> y (arithmetic for signed types); y in [0, bits)")
defop("invert", kind="elementwise", infer=unary_rule("i"),
      reference=lambda x: np.invert(x), num_inputs=1, differentiable=False,
      doc="bitwise not (~x)")
