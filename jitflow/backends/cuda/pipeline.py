"""The cuda backend's pass pipeline: the shared simplifications; ``cuda-legalize``, which
rewrites the ops the cuda backend has no kernel of its own for (``l2_loss``,
``reduce_logsumexp``, ...) into their records' decompositions so fusion sees their parts;
``promote-narrow`` (float16 and the 8/16-bit integers computed in float32/int32 between
casts, ``passes/narrow.py``); then fusion. Pure IR: importing it imports nothing of Numba."""
from __future__ import annotations

from ...passes.decompose import decomposer
from ...passes.manager import FUSION, PROMOTE_NARROW, SIMPLIFY, Pass, register_pipeline

#: every op with a decomposition is decomposed (the cuda backend keeps none as a kernel)
CUDA_LEGALIZE = Pass("cuda-legalize", decomposer(keep=()), per_device=True)
PIPELINE = [*SIMPLIFY, CUDA_LEGALIZE, PROMOTE_NARROW, FUSION]
register_pipeline("cuda", PIPELINE)
