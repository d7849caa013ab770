"""Dead-code elimination: drop ops none of whose results reach a Function result (ops that
run for an effect, such as check_numerics, stay), also inside the regions of control-flow ops
(a region's parameters stay: the op binds them to its operands)."""
from __future__ import annotations

from ..ir.core import Function
from ..ir.opdef import OPS


def dce(f: Function) -> Function:
    live: set[int] = {id(v) for v in f.results}
    kept = []
    for op in reversed(f.ops):
        if OPS[op.opname].effectful or any(id(r) in live for r in op.results):
            kept.append(op)
            live.update(id(v) for v in op.operands)
    kept.reverse()
    f.ops = kept
    for op in kept:
        for r in op.regions:
            dce(r)
    return f
