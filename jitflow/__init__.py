"""jitflow: run TensorFlow-1.x-style graph programs by compiling them.

``import jitflow.compat.v1 as tf`` gives the TF1 API; ``jitflow.ir`` is the typed SSA IR,
``jitflow.passes`` the IR passes and ``jitflow.backends`` the code generators.
"""
from . import ops as _ops  # noqa: F401  (registers every op)

__version__ = "0.1.0"

# tracing: @jitflow.function, make_ir, grad, value_and_grad (see jitflow/tracing.py)
from .tracing import function, grad, make_ir, value_and_grad  # noqa: E402,F401
