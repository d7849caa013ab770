"""complex64 construction and parts: ``complex(real, imag)``, ``real``, ``imag``, ``conj``.

complex64 runs on the reference interpreter only (with ``add``, ``sub``, ``mul``, ``neg``,
``equal``/``not_equal``, casts and data movement): llvm falls back to it with a warning naming
the ops, cuda refuses with UnsupportedOp. Not differentiable here (TF's complex gradients are
not implemented)."""
from __future__ import annotations

import numpy as np

from ..ir.dtypes import complex64, float32
from ..ir.opdef import defop
from ..ir.types import TensorType, broadcast_shapes
from .common import require_dtype, require_same_dtype

_REFERENCE_ONLY = dict.fromkeys(("llvm", "cuda"), "complex64 runs on the reference "
                                "interpreter (llvm falls back to it; cuda refuses complex64)")


def _complex_infer(types, attrs):
    dt = require_same_dtype(types, "complex(real, imag)")
    if dt is not float32:
        raise TypeError(f"complex(real, imag) takes float32 parts (a complex64 result), got "
                        f"{dt.name}")
    return TensorType(complex64, broadcast_shapes(types[0].shape, types[1].shape))


def _part_infer(types, attrs):
    require_dtype(types[0], "c", "operand")
    return types[0].with_dtype(float32)


def _conj_infer(types, attrs):
    require_dtype(types[0], "c", "operand")
    return types[0]


defop("complex", kind="elementwise", infer=_complex_infer, num_inputs=2, differentiable=False,
      reference=lambda re, im: (re + 1j * im.astype(np.complex64)).astype(np.complex64),
      unlowered_on=_REFERENCE_ONLY, doc="tf.complex: real + imag * 1j")
defop("real", kind="elementwise", infer=_part_infer, num_inputs=1, differentiable=False,
      reference=lambda x: np.real(x).astype(np.float32), unlowered_on=_REFERENCE_ONLY)
defop("imag", kind="elementwise", infer=_part_infer, num_inputs=1, differentiable=False,
      reference=lambda x: np.imag(x).astype(np.float32), unlowered_on=_REFERENCE_ONLY)
defop("conj", kind="elementwise", infer=_conj_infer, num_inputs=1, differentiable=False,
      reference=lambda x: np.conj(x), unlowered_on=_REFERENCE_ONLY)
