"""The cuda backend's pass pipeline: the shared simplifications; ``cuda-legalize``, which
rewrites the ops the cuda backend has no kernel of its own for (``l2_loss``,
``reduce_logsumexp``, ...) into their records' decompositions so fusion sees their parts;
then fusion. Pure IR: importing it imports nothing of Numba."""
from __future__ import annotations

from ...passes.decompose import decomposer
from ...passes.manager import FUSION, SIMPLIFY, Pass, register_pipeline

#: every op with a decomposition is decomposed (the cuda backend keeps none as a kernel)
CUDA_LEGALIZE = Pass("cuda-legalize", decomposer(keep=()), per_device=True)
PIPELINE = [*SIMPLIFY, CUDA_LEGALIZE, FUSION]
register_pipeline("cuda", PIPELINE)
