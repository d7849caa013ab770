"""complex64 and complex128 construction and parts: ``complex(real, imag)`` (float32 parts
make complex64, float64 parts complex128, as TF), ``real``, ``imag`` (the parts' float type),
``conj``.

The complex types run on the reference interpreter only (with ``add``, ``sub``, ``mul``,
``neg``, ``equal``/``not_equal``, casts and data movement): llvm falls back to it with a
warning naming the ops, cuda refuses with UnsupportedOp. Not differentiable here (TF's complex gradients are
not implemented)."""
from __future__ import annotations

import numpy as np

from ..ir.dtypes import complex64, complex128, float32, float64
from ..ir.opdef import defop
from ..ir.types import TensorType, broadcast_shapes
from .common import require_dtype, require_same_dtype

_REFERENCE_ONLY = dict.fromkeys(("llvm", "cuda"), "complex64/complex128 run on the reference "
                                "interpreter (llvm falls back to it; cuda refuses them)")
_COMPLEX_OF = {float32: complex64, float64: complex128}


def _complex_infer(types, attrs):
    dt = require_same_dtype(types, "complex(real, imag)")
    if dt not in _COMPLEX_OF:
        raise TypeError(f"complex(real, imag) takes float32 parts (a complex64 result) or "
                        f"float64 parts (complex128), got {dt.name}")
    return TensorType(_COMPLEX_OF[dt], broadcast_shapes(types[0].shape, types[1].shape))


def _complex_ref(re: np.ndarray, im: np.ndarray) -> np.ndarray:
    ct = np.complex64 if re.dtype == np.float32 else np.complex128
    return (re + 1j * im.astype(ct)).astype(ct)


def _part_infer(types, attrs):
    require_dtype(types[0], "c", "operand")
    return types[0].with_dtype(types[0].dtype.real_dtype)


def _conj_infer(types, attrs):
    require_dtype(types[0], "c", "operand")
    return types[0]


defop("complex", kind="elementwise", infer=_complex_infer, num_inputs=2, differentiable=False,
      reference=lambda re, im: _complex_ref(re, im),
      unlowered_on=_REFERENCE_ONLY, doc="tf.complex: real + imag * 1j")
defop("real", kind="elementwise", infer=_part_infer, num_inputs=1, differentiable=False,
      reference=lambda x: np.array(np.real(x)), unlowered_on=_REFERENCE_ONLY)
defop("imag", kind="elementwise", infer=_part_infer, num_inputs=1, differentiable=False,
      reference=lambda x: np.array(np.imag(x)), unlowered_on=_REFERENCE_ONLY)
defop("conj", kind="elementwise", infer=_conj_infer, num_inputs=1, differentiable=False,
      reference=lambda x: np.conj(x), unlowered_on=_REFERENCE_ONLY)
