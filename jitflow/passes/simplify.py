"""Canonicalization, constant folding and common-subexpression elimination.

* canonicalize: drops identities (identity/stop_gradient after autodiff, casts and reshapes to
  the same type, broadcast_like/sum_to/reshape_like that change nothing, x*1, x+0, x-0, x/1,
  --x), merges reshape chains and transpose pairs.
* constant folding: an op whose operands are all constants is evaluated with its reference
  implementation when the result is small (<= FOLD_LIMIT elements); ``size`` and ``shape`` of
  statically-shaped values fold too.
* CSE: identical pure ops (same op, operands, attributes) are computed once.
"""
from __future__ import annotations

import numpy as np

from ..ir.builder import Builder
from ..ir.core import Function, Op, Value
from ..ir.opdef import OPS
from ..ir.printer import format_attr
from ..ops.narrow_ref import touches_narrow, wrap

FOLD_LIMIT = 1024


def _const_value(v: Value):
    p = v.producer
    if p is not None and p.opname == "constant":
        return p.attrs["value"]
    return None


def _is_const_scalar(v: Value, x: float) -> bool:
    c = _const_value(v)
    return c is not None and c.size == 1 and float(c.reshape(-1)[0]) == x


def _known(v: Value) -> bool:
    """Equal types mean equal run-time shapes only without unknown (None) dims."""
    return v.type.shape is not None and None not in v.type.shape


def _keeps_type(op: Op, operands: list) -> bool:
    """Whether ``op`` on ``operands`` still has its result type by its type rule (a ``?`` of
    the rule admits any dim). Not so for a reshape reading past a squeeze of a symbolic dim
    (``[s0, s1, 3] -> [s0, 3] -> [-1]``: s1 is 1 at run time, but ``[s0, s1, 3] -> [-1]`` is
    typed ``s0*s1*3``, not the ``s0*3`` its users were typed with)."""
    try:
        want = OPS[op.opname].result_types([v.type for v in operands], op.attrs, None)
    except (ValueError, TypeError):
        return False
    return len(want) == len(op.results) and all(
        w.dtype is r.type.dtype and w.shape is not None and r.type.shape is not None
        and len(w.shape) == len(r.type.shape)
        and all(x is None or x == y for x, y in zip(w.shape, r.type.shape))
        for w, r in zip(want, op.results))


def _forward(op: Op) -> Value | None:
    """The value op's result can be replaced with, or None."""
    name, ins = op.opname, op.operands
    out = op.results[0] if op.results else None
    if name in ("identity", "stop_gradient"):
        return ins[0]
    if name == "cast" and ins[0].type.dtype is out.type.dtype:
        return ins[0]
    if name in ("reshape", "reshape_like", "broadcast_like", "sum_to", "squeeze",
                "expand_dims") and ins[0].type == out.type and _known(out):
        return ins[0]
    if name == "transpose" and ins[0].type.rank is not None and \
            tuple(op.attrs["perm"]) == tuple(range(ins[0].type.rank)):
        return ins[0]
    if name == "mul":
        if _is_const_scalar(ins[1], 1.0) and ins[0].type == out.type and _known(out):
            return ins[0]
        if _is_const_scalar(ins[0], 1.0) and ins[1].type == out.type and _known(out):
            return ins[1]
    if name in ("add", "sub") and _is_const_scalar(ins[1], 0.0) and ins[0].type == out.type and _known(out):
        return ins[0]
    if name == "add" and _is_const_scalar(ins[0], 0.0) and ins[1].type == out.type and _known(out):
        return ins[1]
    if name == "div" and _is_const_scalar(ins[1], 1.0) and ins[0].type == out.type and _known(out):
        return ins[0]
    if name == "neg" and ins[0].producer is not None and ins[0].producer.opname == "neg":
        return ins[0].producer.operands[0]
    return None


def canonicalize(f: Function) -> Function:
    mapping: dict[Value, Value] = {}
    for op in f.ops:
        op.operands = [_resolve(mapping, v) for v in op.operands]
        rep = _forward(op)
        if rep is not None:
            mapping[op.results[0]] = rep
            continue
        # reshape(reshape(x)) -> reshape(x); transpose(transpose(x)) -> one transpose
        src = op.operands[0] if op.operands else None
        if op.opname in ("reshape", "reshape_like") and src.producer is not None and \
                src.producer.opname in ("reshape", "reshape_like", "expand_dims", "squeeze"):
            merged = [src.producer.operands[0]] + op.operands[1:]
            if _keeps_type(op, merged):
                op.operands = merged
        if op.opname == "transpose" and src.producer is not None and src.producer.opname == "transpose":
            inner = src.producer
            rank = src.type.rank
            p1 = inner.attrs["perm"] or tuple(range(rank))[::-1]
            p2 = op.attrs["perm"] or tuple(range(rank))[::-1]
            op.attrs["perm"] = tuple(p1[p % rank] for p in p2)
            op.operands = [inner.operands[0]]
    f.results = [_resolve(mapping, v) for v in f.results]
    from .dce import dce
    return dce(f)


def _resolve(mapping: dict, v: Value) -> Value:
    while v in mapping:
        v = mapping[v]
    return v


def fold_constants(f: Function) -> Function:
    mapping: dict[Value, Value] = {}
    new_ops: list[Op] = []
    for op in f.ops:
        op.operands = [_resolve(mapping, v) for v in op.operands]
        opdef = OPS[op.opname]
        folded = None
        static_operand = bool(op.operands) and op.operands[0].type.is_static
        if op.opname in ("zeros_like", "ones_like") and static_operand and \
                op.results[0].type.num_elements() <= FOLD_LIMIT:
            folded = np.full(op.results[0].type.shape, 0 if op.opname == "zeros_like" else 1)
        elif op.opname in ("size", "shape") and static_operand:
            dummy = np.zeros(op.operands[0].type.shape, dtype=np.uint8) if op.opname == "shape" \
                else np.empty(op.operands[0].type.shape, dtype=np.uint8)
            folded = opdef.reference(dummy, **op.attrs)
        elif op.opname != "constant" and not opdef.stateful and not opdef.pseudo and op.operands \
                and len(op.results) == 1 and all(_const_value(v) is not None for v in op.operands) \
                and op.results[0].type.is_static and op.results[0].type.num_elements() <= FOLD_LIMIT:
            try:
                fn = opdef.reference
                if touches_narrow(op, opdef):
                    fn = wrap(fn, op.opname, [op.results[0].type.dtype])
                with np.errstate(all="ignore"):
                    folded = fn(*[_const_value(v) for v in op.operands], **op.attrs)
            except Exception:  # noqa: BLE001 - leave it to run time, which reports it properly
                folded = None
        if folded is not None:
            arr = np.array(folded, dtype=op.results[0].type.dtype.np).reshape(op.results[0].type.shape)
            b = Builder(new_ops, op.loc)
            mapping[op.results[0]] = b.const(arr, op.results[0].type.dtype)
            continue
        new_ops.append(op)
    f.ops = new_ops
    f.results = [_resolve(mapping, v) for v in f.results]
    from .dce import dce
    return dce(f)


def _attr_key(v):
    """An attribute value as a dict key: itself when hashable and unambiguous, else its text
    (arrays; floats, whose -0.0 and 0.0 compare equal; bools, equal to 0 and 1)."""
    if type(v) in (int, str) or v is None:
        return v
    if type(v) is tuple and all(type(x) in (int, str) for x in v):
        return v
    return (type(v).__name__, format_attr(v))


def _key(op: Op):
    attrs = tuple((k, _attr_key(op.attrs[k])) for k in sorted(op.attrs))
    return (op.opname, tuple(id(v) for v in op.operands), attrs,
            tuple(r.type for r in op.results))


def cse(f: Function) -> Function:
    seen: dict = {}
    mapping: dict[Value, Value] = {}
    kept: list[Op] = []
    for op in f.ops:
        op.operands = [_resolve(mapping, v) for v in op.operands]
        if OPS[op.opname].stateful:
            kept.append(op)
            continue
        k = _key(op)
        prev = seen.get(k)
        if prev is not None:
            for a, b in zip(op.results, prev.results):
                mapping[a] = b
            continue
        seen[k] = op
        kept.append(op)
    f.ops = kept
    f.results = [_resolve(mapping, v) for v in f.results]
    return f
