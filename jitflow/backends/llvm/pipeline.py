"""The llvm backend's pass pipeline: the shared simplifications; ``llvm-legalize``, which
rewrites the ops with a decomposition and no llvm kernel or scalar lowering of their own
(``softsign``, ``selu``, ``log_sigmoid``) into their records' simpler ops, so fusion puts
their parts into the neighbours' loops; ``promote-narrow`` (float16, bfloat16 and the 8/16-bit
integers computed in float32/int32 between casts, ``passes/narrow.py``); ``conv-fusion`` (a
convolution with its bias and relu as one op, a layer's relu and bias gradients as one); then
fusion."""
from __future__ import annotations

from ...ir.core import Function
from ...passes.conv_fusion import fuse_convs
from ...passes.decompose import decompose
from ...passes.manager import FUSION, PROMOTE_NARROW, SIMPLIFY, Pass, register_pipeline


def native_ops() -> set[str]:
    """The ops the llvm backend lowers itself (scalar table, custom and built-in kernels)."""
    from .compiler import BUILTIN_KERNELS, CUSTOM_KERNELS
    from .elementwise import LOWER
    return set(LOWER) | set(CUSTOM_KERNELS) | set(BUILTIN_KERNELS)


def _legalize(f: Function) -> Function:
    return decompose(f, keep=native_ops())


LLVM_LEGALIZE = Pass("llvm-legalize", _legalize, per_device=True)
CONV_FUSION = Pass("conv-fusion", fuse_convs, per_device=True)
PIPELINE = [*SIMPLIFY, LLVM_LEGALIZE, PROMOTE_NARROW, CONV_FUSION, FUSION]
register_pipeline("llvm", PIPELINE)
