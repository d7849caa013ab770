"""Cumulative sums and products along one axis (TF's Cumsum / Cumprod): ``exclusive`` leaves
the element itself out (the first output is 0, resp. 1), ``reverse`` scans from the end.
Gradients as TF's: cumsum's is the cumsum of the cotangent in the other direction;
cumprod's is ``cumsum(y * g, reverse=not reverse) / x``, which (as TF's) is not defined where
x has zeros."""
from __future__ import annotations

import numpy as np

from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch
from .common import require_dtype

SCAN_ATTRS = {"axis": Attr("int", 0), "exclusive": Attr("bool", False),
              "reverse": Attr("bool", False)}


def scan_axis(rank: int, axis: int) -> int:
    if not -rank <= axis < rank:
        raise ShapeMismatch(f"axis {axis} is out of range for a tensor of rank {rank} "
                            f"(expected -{rank} <= axis < {rank})")
    return axis % rank


def _infer(types, a):
    x = types[0]
    require_dtype(x, "fi")
    if x.shape is not None:
        scan_axis(len(x.shape), a["axis"])
    return x


def _scan_ref(fn, identity):
    def ref(x, axis, exclusive, reverse):
        ax = scan_axis(x.ndim, axis)
        y = np.flip(x, ax) if reverse else x
        out = fn(y, axis=ax, dtype=x.dtype)
        if exclusive and out.shape[ax]:
            first = np.full_like(np.take(out, [0], axis=ax), identity)
            rest = np.take(out, np.arange(out.shape[ax] - 1), axis=ax)
            out = np.concatenate([first, rest], axis=ax)
        return np.ascontiguousarray(np.flip(out, ax) if reverse else out)
    return ref


def _cumsum_grad(b, op, g):
    a = op.attrs
    return [b.cumsum(g[0], axis=a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"])]


def _cumprod_grad(b, op, g):
    a = op.attrs
    x = op.operands[0]
    s = b.cumsum(b.mul(op.result, g[0]), axis=a["axis"], exclusive=a["exclusive"],
                 reverse=not a["reverse"])
    return [b.div(s, x)]


defop("cumsum", kind="library", infer=_infer, reference=_scan_ref(np.cumsum, 0),
      grad=_cumsum_grad, attrs=SCAN_ATTRS, num_inputs=1,
      doc="cumulative sum along axis (exclusive: starts at 0; reverse: from the end)")
defop("cumprod", kind="library", infer=_infer, reference=_scan_ref(np.cumprod, 1),
      grad=_cumprod_grad, attrs=SCAN_ATTRS, num_inputs=1,
      doc="cumulative product along axis; its gradient divides by x (TF's, undefined at 0)")
