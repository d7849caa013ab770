"""``JITFLOW_CHECK_NUMERICS=1``: a check after every floating-point parameter and op result.

The run stops at the first op (in program order) whose result holds a NaN or an infinity; the
error names the op's TF name, the user's file:line and which of its inputs were already
non-finite (a non-finite parameter — a feed or a variable — is reported as such). Checks are
ordinary ``check_numerics`` ops, so every backend implements them and they fuse.
"""
from __future__ import annotations

import os

from ..ir.builder import Builder
from ..ir.core import Function, Op, Value


def enabled() -> bool:
    return os.environ.get("JITFLOW_CHECK_NUMERICS", "") not in ("", "0")


def _where(op: Op) -> str:
    loc = op.loc
    name = loc.tf_name or op.opname
    return f"'{name}' (op {op.opname}) defined at {loc.file or '<unknown>'}:{loc.line}"


def insert_numeric_checks(f: Function) -> Function:
    new_ops: list[Op] = []
    mapping: dict[Value, Value] = {}
    b = Builder(new_ops)
    for p in f.params:
        if p.type.dtype.is_floating:
            b.loc = f.params and b.loc
            mapping[p] = b.check_numerics(p, message=f"NaN or Inf in the input {p.name or p.index} "
                                                     f"given to the graph")
    for op in f.ops:
        op.operands = [mapping.get(v, v) for v in op.operands]
        new_ops.append(op)
        if op.opname in ("check_numerics", "constant"):
            continue
        for r in op.results:
            if r.type.dtype.is_floating:
                b.loc = op.loc
                mapping[r] = b.check_numerics(
                    r, message=f"NaN or Inf in the result of {_where(op)}; all its inputs were "
                               f"finite, so this op is where the first non-finite value appears")
    f.ops = new_ops
    f.results = [mapping.get(v, v) for v in f.results]
    return f
