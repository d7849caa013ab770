"""Loop-invariant code motion for ``while`` loops.

An op of a loop's body whose operands are all loop invariants (the body's parameters after
the carried ones, constants, or results of ops hoisted already) computes the same value on
every trip: it moves out, before the loop, and its result becomes a new invariant operand of
the loop (a new parameter of both regions, as the op's region contract requires). Never
moved: ops with an effect or state (random, assertions, host callbacks: their count and
order are observable), control ops (their regions stay where they are), constants (free
inside) and ops reading no invariant parameter (constant work that folding handles).

One rewrite exposes invariant work for it: ``matmul(x, W, transpose_b=True)`` with ``W``
invariant becomes ``matmul(x, transpose(W))``, so the transposition of the weights runs once
before the loop and every trip's GEMM reads them in the layout BLAS is fastest with
(measured on an LSTM's reverse trip, [32,1024] x [1024,256]^T: 1.5x faster untransposed).
The same holds for ``transpose_a`` with an invariant ``x``.

Applied in every region too (loops nested in loops or conds are hoisted within their
parent region first, then outward on the next application).
"""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Function, Op, Value
from ..ir.opdef import OPS
from ..ops.control import loop_invariant_values, movable_out_of_loops


def _untranspose_invariant_operands(body: Function, invariant: set[int]) -> None:
    """``matmul(x, W, transpose_b)`` with invariant ``W`` -> ``matmul(x, transpose(W))``
    (and likewise for an invariant transposed ``x``), so LICM hoists the transposition."""
    out: list[Op] = []
    b = Builder(out)
    for op in body.ops:
        if op.opname == "matmul":
            x, w = op.operands
            ta, tb = op.attrs.get("transpose_a"), op.attrs.get("transpose_b")
            swap = []
            if tb and id(w) in invariant and w.type.rank == 2:
                w = b.transpose(w, perm=[1, 0], loc=op.loc)
                invariant.add(id(w))
                tb = False
                swap.append(True)
            if ta and id(x) in invariant and x.type.rank == 2:
                x = b.transpose(x, perm=[1, 0], loc=op.loc)
                invariant.add(id(x))
                ta = False
                swap.append(True)
            if swap:
                op.operands = [x, w]
                op.attrs = {**op.attrs, "transpose_a": ta, "transpose_b": tb}
        out.append(op)
    body.ops = out


def _hoist_from(f: Function, i: int) -> int:
    """Hoist the invariant ops of the while loop ``f.ops[i]`` out before it; returns how
    many ops now stand before it (the hoisted ones)."""
    loop = f.ops[i]
    cond_r, body_r = loop.regions
    n = loop.attrs["num_carried"]
    _untranspose_invariant_operands(body_r, loop_invariant_values(body_r, n))
    invariant = {id(p) for p in body_r.params[n:]}
    for op in body_r.ops:                      # constants count as invariant operands
        if OPS[op.opname].kind == "constant" and not op.operands:
            invariant.update(id(r) for r in op.results)
    params = {id(p): k for k, p in enumerate(body_r.params)}
    outside: dict[int, Value] = {}             # body value -> the value before the loop
    hoisted: list[Op] = []
    kept: list[Op] = []
    reads_param = set(id(p) for p in body_r.params[n:])
    for op in body_r.ops:
        ins = op.operands
        if (movable_out_of_loops(op) and ins and all(id(v) in invariant for v in ins)
                and any(id(v) in reads_param for v in ins)):
            hoisted.append(op)
            invariant.update(id(r) for r in op.results)
            reads_param.update(id(r) for r in op.results)
        else:
            kept.append(op)
    if not hoisted:
        return 0
    # the hoisted ops and the constants they read move before the loop
    consts = {id(r): op for op in body_r.ops if OPS[op.opname].kind == "constant"
              and not op.operands for r in op.results}
    before: list[Op] = []
    bb = Builder(before)

    def emit(op: Op, operands: list[Value]) -> None:
        res = bb.op(op.opname, *operands, loc=op.loc, **op.attrs)   # types re-inferred
        for r, nr in zip(op.results, res if isinstance(res, tuple) else (res,)):
            outside[id(r)] = nr

    for op in hoisted:
        for v in op.operands:
            if id(v) in consts and id(v) not in outside:
                emit(consts[id(v)], [])
        emit(op, [outside[id(v)] if id(v) in outside else loop.operands[params[id(v)]]
                  for v in op.operands])
    # the values the kept ops (or the body's results) still read become new invariants
    used = {id(v) for op in kept for v in op.operands} | {id(v) for v in body_r.results}
    new_inv = [r for op in hoisted for r in op.results if id(r) in used]
    mapping: dict[Value, Value] = {}
    for r in new_inv:
        mapping[r] = body_r.add_param(r.type)
        cond_r.add_param(r.type)
    body_r.ops = kept
    body_r.replace_all_uses(mapping)
    loop.operands = list(loop.operands) + [outside[id(r)] for r in new_inv]
    f.ops[i:i] = before
    return len(before)


def hoist_loop_invariants(f: Function) -> Function:
    """LICM over every ``while`` loop of ``f`` and of its regions (module docstring)."""
    i = 0
    while i < len(f.ops):
        op = f.ops[i]
        for r in op.regions:
            hoist_loop_invariants(r)
        if op.opname == "while":
            i += _hoist_from(f, i)
        i += 1
    return f


__all__ = ["hoist_loop_invariants"]
