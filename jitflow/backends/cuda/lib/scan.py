"""cumsum and cumprod (kernel sources and launches): one thread per (outer, inner) position
walks the axis in order (exclusive: store before combining; reverse: from the end)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ....ir.core import Op
from ....ir.dtypes import DType
from ..source import CTOR, lit
from ..steps import Launch, Step
from . import GRID_LOOP, TEMPLATES, _axis_split, _dt, _shape, kernel, library_op

if TYPE_CHECKING:
    from ..executable import CUDAExecutable


def _scan_src(dt: DType, is_sum: bool, exclusive: bool, reverse: bool) -> str:
    comb = f"acc = {CTOR[dt.short]}(acc {'+' if is_sum else '*'} v)"   # wraps as NumPy's ints
    step = ["out[off] = acc", comb] if exclusive else [comb, "out[off] = acc"]
    a = "L - 1 - j" if reverse else "j"
    lines = ["def kernel(n, L, inner, x, out):", GRID_LOOP.rstrip("\n"),
             "        o = i // inner",
             "        base = o * L * inner + (i - o * inner)",
             f"        acc = {lit(0 if is_sum else 1, dt)}",
             "        for j in range(L):",
             f"            off = base + ({a}) * inner",
             "            v = x[off]", *("            " + s for s in step),
             "        i += _st"]
    return "\n".join(lines) + "\n"


TEMPLATES["scan"] = _scan_src


@library_op("cumsum", "cumprod")
def _scan(ex: CUDAExecutable, step: Step, op: Op) -> None:
    x = op.operands[0]
    out = step.writes[0]
    ixb = ex.storage[id(x)].idx
    a = op.attrs

    def bind(shapes, plan):
        outer, L, inner = _axis_split(_shape(shapes, x), a["axis"])
        n = outer * inner
        if n == 0 or L == 0:
            return []
        k = kernel("scan", dt=_dt(x), is_sum=op.opname == "cumsum",
                   exclusive=a["exclusive"], reverse=a["reverse"])
        grid, block = ex.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (0, L), (0, inner), (1, ixb), (1, out.idx)])]
    step.bind = bind
