"""From fusion groups to kernel groups: what each kernel computes, and what lives in memory.

* ``needed_values``: the values a run must compute (results, effects, and what they read;
  shape-only uses do not count);
* ``kernel_groups``: the fusion groups whose values are needed, split where one loop cannot
  compute them: a GEMM reads its operands from memory (its in-group producers become kernels of
  their own, or, for a backend without GEMM epilogues, the GEMM does), and a member whose value
  must be stored but whose shape is not the kernel's space (a broadcast into it) is computed by
  a kernel of its own (``split_stored_members``); in program order;
* ``materialized``: the values that must live in a buffer: results, values read by another
  kernel, and values read by an op that reads memory (views, remaps, GEMMs, library ops).
"""
from __future__ import annotations

from typing import Callable, Optional

from ..ir.core import Function, Op, Value
from ..ir.opdef import OPS
from ..passes.fusion import data_operands, fusion_groups, is_reduction

#: op kinds computed inside a kernel's element loop from operand values in registers
LOOP_KINDS = frozenset({"elementwise", "random", "reduction"})


def in_loop(op: Op) -> bool:
    """Computed inside its kernel's element loop (an elementwise op, a random draw, a
    reduction); every other op reads its operands from memory."""
    return OPS[op.opname].kind in LOOP_KINDS


def is_view(op: Op) -> bool:
    return OPS[op.opname].kind == "view"


def same_static(a: Value, b: Value) -> bool:
    """Equal shapes known to be equal at run time (no unknown dims)."""
    sa, sb = a.type.shape, b.type.shape
    return sa == sb and None not in sa


def space_of(g: list[Op]) -> Value:
    """The value whose shape a group's loop iterates over: a reduction's input, else the
    root's result."""
    root = g[-1]
    return root.operands[0] if is_reduction(root) else root.results[0]


def needed_values(f: Function) -> set[int]:
    needed: set[int] = {id(v) for v in f.results}
    for op in reversed(f.ops):
        if OPS[op.opname].effectful or any(id(r) in needed for r in op.results):
            needed.update(id(r) for r in op.results)
            for _, v in data_operands(op):
                needed.add(id(v))
    return needed


def data_users(f: Function) -> dict[int, list[Op]]:
    users: dict[int, list[Op]] = {}
    for op in f.ops:
        for _, v in data_operands(op):
            users.setdefault(id(v), []).append(op)
    return users


def split_gemm_prologue(g: list[Op]) -> list[list[Op]]:
    """A GEMM reads its operands from memory before (or while) the kernel's element loop
    runs, so group members computing them cannot share its kernel: each becomes a kernel of
    its own (the rest of the group, the GEMM with its epilogue, stays fused)."""
    members = {id(op) for op in g}
    feed: set[int] = set()
    stack = [v for op in g if OPS[op.opname].kind == "contraction" for v in op.operands]
    while stack:
        p = stack.pop().producer
        if p is not None and id(p) in members and id(p) not in feed:
            feed.add(id(p))
            stack.extend(p.operands)
    if not feed:
        return [g]
    return [[op] for op in g if id(op) in feed] + [[op for op in g if id(op) not in feed]]


def split_gemms(g: list[Op]) -> list[list[Op]]:
    """For a backend without GEMM epilogues: each GEMM a kernel of its own, the rest of the
    group one kernel after them."""
    gemms = [op for op in g if OPS[op.opname].kind == "contraction"]
    rest = [op for op in g if OPS[op.opname].kind != "contraction"]
    return [[mm] for mm in gemms] + ([rest] if rest else [])


def split_stored_members(f: Function, groups: list[list[Op]]) -> list[list[Op]]:
    """A kernel loops over its space once; a member whose result is not of the space's shape
    (a broadcast into it) but must be stored (returned, read by another kernel, or read from
    memory by a member) would be written once per space element, and never when the space is
    empty at run time. Such a member and what it depends on in the group become a kernel of
    their own (checked again: it may hold such a member itself), which the rest reads."""
    users = data_users(f)
    results = {id(v) for v in f.results}
    out: list[list[Op]] = []
    work = list(groups)
    while work:
        g = work.pop(0)
        if len(g) == 1:
            out.append(g)
            continue
        members = {id(op) for op in g}
        space = space_of(g)
        stored = next((op for op in g[:-1] for r in op.results if not same_static(r, space) and (
            id(r) in results or any(id(u) not in members or not in_loop(u)
                                    for u in users.get(id(r), ())))), None)
        if stored is None:
            out.append(g)
            continue
        cone: set[int] = set()
        stack = [stored]
        while stack:
            op = stack.pop()
            if id(op) in cone:
                continue
            cone.add(id(op))
            for v in op.operands:
                p = v.producer
                if p is not None and id(p) in members:
                    stack.append(p)
        head = [op for op in g if id(op) in cone]
        rest = [op for op in g if id(op) not in cone]
        work[:0] = [head, rest] if rest else [head]
    return out


def kernel_groups(f: Function, needed: set[int], gemm_epilogue: bool,
                  one_kernel: Optional[Callable[[list[Op]], bool]] = None) -> list[list[Op]]:
    """The needed ops of each fusion group of ``f``, split as the module docstring says, in
    program order (of each kernel's root). ``one_kernel(g)``: whether the backend computes
    group ``g`` as one kernel (else its ops run one by one)."""
    split = split_gemm_prologue if gemm_epilogue else split_gemms
    groups: list[list[Op]] = []
    for g in fusion_groups(f):
        g = [op for op in g if any(id(r) in needed for r in op.results)]
        for part in (split(g) if g else ()):
            if one_kernel is None or one_kernel(part):
                groups.append(part)
            else:
                groups.extend([op] for op in part)
    pos = {id(op): n for n, op in enumerate(f.ops)}
    groups.sort(key=lambda g: pos[id(g[-1])])
    groups = split_stored_members(f, groups)
    groups.sort(key=lambda g: pos[id(g[-1])])
    return groups


def materialized(f: Function, groups: list[list[Op]]) -> set[int]:
    """ids of the values that must live in a buffer (see the module docstring)."""
    group_of = {id(op): gi for gi, g in enumerate(groups) for op in g}
    mat: set[int] = set()
    for gi, g in enumerate(groups):
        for op in g:
            for _, v in data_operands(op):
                p = v.producer
                if p is not None and (group_of.get(id(p)) != gi or not in_loop(op)):
                    mat.add(id(v))
    mat.update(id(v) for v in f.results if v.producer is not None)
    return mat
