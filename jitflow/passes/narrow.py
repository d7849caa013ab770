"""``promote-narrow``: TF's CPU semantics for the narrow storage types, as IR.

Every op computing on float16 / bfloat16 or on the 8- and 16-bit integers becomes the same op
on their ``DType.compute`` type (float32, int32) between casts: operands are widened (exact),
the op runs wide, and each narrow result is cast back, so float16 is rounded to nearest even
after every op and the integers wrap around as TF's do. Fusion then puts the casts into the
neighbouring loops, where a widen-narrow pair is two register instructions. What a backend
keeps narrow: memory (parameters, results, materialized values), ``cast`` itself, constants
and the ops that only move elements (``view``, ``remap``), and control/host ops (a region is
compiled, and promoted, on its own). A backend then needs only loads, stores, casts and
constants of the narrow types."""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Function, Op, Value
from ..ir.dtypes import DType
from ..ir.opdef import OPS

#: op kinds left as they are: element movement, constants, and what is compiled elsewhere
KEEP_KINDS = frozenset({"constant", "view", "remap", "control", "host", "pseudo"})


def _narrow_attr(v) -> bool:
    return isinstance(v, DType) and v.is_narrow


def needs_promotion(op: Op) -> bool:
    if op.opname == "cast" or OPS[op.opname].kind in KEEP_KINDS:
        return False
    return (any(v.type.dtype.is_narrow for v in op.operands)
            or any(r.type.dtype.is_narrow for r in op.results)
            or any(_narrow_attr(a) for a in op.attrs.values()))


def promote_narrow(f: Function) -> Function:
    """Rewrite ``f``'s ops on narrow types to their compute types between casts."""
    if not any(needs_promotion(op) for op in f.ops):
        return f
    new_ops: list[Op] = []
    mapping: dict[Value, Value] = {}
    for op in f.ops:
        op.operands = [mapping.get(v, v) for v in op.operands]
        if not needs_promotion(op):
            new_ops.append(op)
            continue
        b = Builder(new_ops, op.loc)
        shape_only = OPS[op.opname].shape_only     # read for their shape: left as they are
        wide = [b.cast(v, dtype=v.type.dtype.compute)
                if v.type.dtype.is_narrow and i not in shape_only else v
                for i, v in enumerate(op.operands)]
        attrs = {k: (a.compute if _narrow_attr(a) else a) for k, a in op.attrs.items()}
        out = b.op(op.opname, *wide, **attrs)
        outs = out if isinstance(out, tuple) else (out,)
        for r, w in zip(op.results, outs):
            mapping[r] = b.cast(w, dtype=r.type.dtype) if w.type.dtype is not r.type.dtype else w
    f.ops = new_ops
    f.results = [mapping.get(v, v) for v in f.results]
    return f
