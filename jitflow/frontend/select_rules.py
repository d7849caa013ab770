"""TF1's ``Select`` shape rule (``tf.where(cond, x, y)``), shared by the frontend and the
GraphDef importer.

``x`` and ``y`` have one shape; ``cond`` has that shape too, or is a scalar (picks a whole
branch), or is a vector of the first dimension when ``x`` has rank > 1 (picks rows). Nothing
else broadcasts (that is ``SelectV2``). A row pick is lowered as a reshape of ``cond`` to
``[n, 1, ..., 1]`` followed by jitflow's broadcasting ``select``.
"""
from __future__ import annotations

from typing import Optional, Sequence

from ..errors import GraphShapeError
from .graph import Tensor


def _fmt(dims: Optional[Sequence]) -> str:
    if dims is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"


def _same(a: Sequence, b: Sequence) -> bool:
    return len(a) == len(b) and all(p is None or q is None or p == q for p, q in zip(a, b))


def check_select_shapes(c: Tensor, x: Tensor, y: Tensor, op_name: str) -> bool:
    """Raise GraphShapeError unless ``c, x, y`` follow TF1's Select rule (unknown ranks and
    dims pass); True when ``c`` is a vector that picks rows of a rank > 1 ``x``."""
    cd, xd, yd = c.shape.dims, x.shape.dims, y.shape.dims

    def fail(what: str) -> None:
        raise GraphShapeError(
            f"Inputs to operation Select must have the same shape{what}: condition {_fmt(cd)}, "
            f"x {_fmt(xd)}, y {_fmt(yd)} (op '{op_name}'; tf.where_v2 broadcasts)")

    if xd is not None and yd is not None and not _same(xd, yd):
        fail(" (x and y)")
    data = xd if xd is not None else yd
    if cd is None or data is None or len(cd) == 0:
        return False
    if len(cd) == 1 and len(data) > 1:
        if not _same(cd, data[:1]):
            fail(", or the condition must be a vector of the first dimension of x and y")
        return True
    if not _same(cd, data):
        fail("")
    return False
