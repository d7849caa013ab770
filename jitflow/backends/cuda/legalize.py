"""``cuda-legalize``: rewrites ops the cuda backend computes as compositions of others, so
the fusion pass sees (and fuses) their parts. Pure IR -> IR; it imports nothing of Numba.

* ``l2_loss(x)`` -> ``reduce_sum(square(x)) / 2`` (the reference's arithmetic);
* ``reduce_logsumexp(x)`` -> ``log(sum(exp(x - m))) + m`` with ``m`` the max over the axes,
  replaced by 0 where it is not finite (the reference's shift).
"""
from __future__ import annotations

import numpy as np

from ...ir.builder import Builder
from ...ir.core import Function, Op, Value
from ...ops.reduce import reduced_axes


def _l2_loss(b: Builder, op: Op) -> Value:
    x = op.operands[0]
    s = b.reduce_sum(b.square(x), axes=None, keepdims=False)
    return b.div(s, b.const(np.asarray(2, dtype=x.type.dtype.np), x.type.dtype))


def _logsumexp(b: Builder, op: Op) -> Value:
    x = op.operands[0]
    dt = x.type.dtype
    ax = reduced_axes(len(x.type.shape), op.attrs["axes"])
    m = b.reduce_max(x, axes=ax, keepdims=True)
    inf = b.const(np.asarray(np.inf, dtype=dt.np), dt)
    finite = b.less(b.abs(m), inf)
    m = b.select(finite, m, b.zeros_like(m))
    s = b.reduce_sum(b.exp(b.sub(x, m)), axes=ax, keepdims=True)
    out = b.add(b.log(s), m)
    if not op.attrs["keepdims"]:
        out = b.reduce_sum(out, axes=ax, keepdims=False)   # drops the size-1 axes
    return out


RULES = {"l2_loss": _l2_loss, "reduce_logsumexp": _logsumexp}


def legalize(f: Function) -> Function:
    new_ops: list[Op] = []
    mapping: dict[Value, Value] = {}
    for op in f.ops:
        op.operands = [mapping.get(v, v) for v in op.operands]
        rule = RULES.get(op.opname)
        if rule is None:
            new_ops.append(op)
            continue
        b = Builder(new_ops, op.loc)
        mapping[op.results[0]] = rule(b, op)
    f.ops = new_ops
    f.results = [mapping.get(v, v) for v in f.results]
    return f
