"""The ``custom_gradient`` pseudo op: a Python-defined gradient (``tf.custom_gradient``,
``gradient_override_map``) recorded in the IR.

Operands: ys (``num_ys``), xs (``num_xs``), then the captures of the gradient region.
Results: the ys, unchanged (its forward meaning is identity on them). Region ``grad``: the
gradient function traced at graph build time, params (one cotangent per y, the captures),
results one cotangent per x. Its VJP inlines the region with the results' cotangents: the xs
get what it gives, the ys and the captures nothing, so the ops computing the ys are not
differentiated through. The autodiff pass applies that rule and then replaces the op by its
ys (``strip_custom_gradients``); no backend ever sees it.
"""
from __future__ import annotations

from ..ir.core import Function
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch
from .control import accepts
from .control_grad import inline


def _region_infer(types, a, regions):
    ny, nx = a["num_ys"], a["num_xs"]
    if ny + nx > len(types):
        raise ShapeMismatch(f"custom_gradient: {ny} ys and {nx} xs need at least {ny + nx} "
                            f"operands, got {len(types)}")
    (grad,) = regions
    want = list(types[:ny]) + list(types[ny + nx:])
    if len(grad.params) != len(want) or not all(
            accepts(p.type, t) for p, t in zip(grad.params, want)):
        raise ShapeMismatch(f"custom_gradient: region 'grad' takes {[str(t) for t in want]} "
                            f"(cotangents of the ys, the captures), has params "
                            f"{[str(p.type) for p in grad.params]}")
    if len(grad.results) != nx:
        raise ShapeMismatch(f"custom_gradient: region 'grad' must give {nx} cotangents (one "
                            f"per x), gives {len(grad.results)}")
    return list(types[:ny])


def _needs_region(types, a):
    raise ShapeMismatch("custom_gradient needs its 'grad' region")


def _grad(b, op, gs):
    ny, nx = op.attrs["num_ys"], op.attrs["num_xs"]
    caps = op.operands[ny + nx:]
    gs = [g if g is not None else b.zeros_like(r) for g, r in zip(gs, op.results)]
    dxs = inline(op.regions[0], gs + list(caps), b)
    return [None] * ny + dxs + [None] * len(caps)


defop("custom_gradient", infer=_needs_region, region_infer=_region_infer, reference=None,
      pseudo=True, grad=_grad, region_names=("grad",),
      attrs={"num_ys": Attr("int"), "num_xs": Attr("int")},
      doc="identity on the ys whose VJP is the 'grad' region; removed by the autodiff pass")


def strip_custom_gradients(f: Function) -> Function:
    """Replace every ``custom_gradient`` op of ``f`` (regions included) by its ys."""
    for op in f.ops:
        for r in op.regions:
            strip_custom_gradients(r)
    kept, mapping = [], {}
    for op in f.ops:
        if op.opname == "custom_gradient":
            mapping.update(zip(op.results, op.operands[:op.attrs["num_ys"]]))
        else:
            kept.append(op)
    if mapping:
        f.ops[:] = kept
        f.replace_all_uses(mapping)
    return f
