"""``decompose``: rewrites ops into the simpler ops of their record's ``decompose`` rule, so the
fusion pass sees (and fuses) their parts. Pure IR -> IR. A backend runs it for the ops it has
no kernel of its own for (the cuda pipeline's ``cuda-legalize`` stage)."""
from __future__ import annotations

from typing import Callable, Container

from ..ir.builder import Builder
from ..ir.core import Function, Op, Value
from ..ir.opdef import OPS


def decompose(f: Function, keep: Container[str] = ()) -> Function:
    """Replace every op that has a decomposition, except those named in ``keep``."""
    new_ops: list[Op] = []
    mapping: dict[Value, Value] = {}
    for op in f.ops:
        op.operands = [mapping.get(v, v) for v in op.operands]
        rule = OPS[op.opname].decompose
        if rule is None or op.opname in keep:
            new_ops.append(op)
            continue
        b = Builder(new_ops, op.loc)
        out = rule(b, op)
        for r, v in zip(op.results, out if isinstance(out, (tuple, list)) else (out,)):
            mapping[r] = v
    f.ops = new_ops
    f.results = [mapping.get(v, v) for v in f.results]
    return f


def decomposer(keep: Container[str] = ()) -> Callable[[Function], Function]:
    """A pass decomposing every op with a decomposition but those in ``keep``."""
    return lambda f: decompose(f, keep)
