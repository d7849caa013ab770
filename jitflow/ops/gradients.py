"""The ``gradients`` pseudo op: ``tf.gradients(ys, xs, grad_ys)`` recorded in the IR.

Operands are ys (``num_ys``), xs (``num_xs``) and, if ``has_grad_ys``, one cotangent per y.
Results are d(sum ys)/d(x) per x. The autodiff pass (``passes/autodiff.py``) replaces it by
ordinary ops built from each op's VJP rule; no backend ever sees it.
"""
from __future__ import annotations

from ..ir.opdef import Attr, defop


def _infer(types, a):
    ny, nx = a["num_ys"], a["num_xs"]
    expected = ny + nx + (ny if a["has_grad_ys"] else 0)
    if len(types) != expected:
        raise ValueError(f"gradients expects {expected} operands, got {len(types)}")
    return list(types[ny:ny + nx])


defop("gradients", infer=_infer, reference=None, pseudo=True,
      attrs={"num_ys": Attr("int"), "num_xs": Attr("int"), "has_grad_ys": Attr("bool", False)},
      grad=None, differentiable=True,
      doc="expanded by the autodiff pass; higher-order gradients differentiate the expansion")
