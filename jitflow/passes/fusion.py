"""Fusion: groups ops into kernels by annotating ``op.group``.

* elementwise chains (and broadcasts, casts, selects, fills, random draws) with all their users
  in one group join it; the group iterates over its root's shape;
* elementwise producers of a reduction's input join the reduction (one loop nest);
* a matmul whose result only feeds elementwise ops of its own shape becomes the GEMM of an
  elementwise group: bias-add and activation run as its epilogue;
* views (reshape, expand_dims, squeeze, identity), transposes' and slices' inputs, and every
  other op are boundaries.
Each refused fusion is recorded with its reason in ``f.fusion_log`` (JITFLOW_DUMP writes it).
"""
from __future__ import annotations

from ..ir.core import Function, Op, Value
from ..ir.opdef import OPS

#: reductions whose elementwise producers join their kernel: those accumulating numbers (the
#: logical ones, ``all``/``any``, are kernels of their own)
FUSED_COMBINERS = frozenset({"sum", "mean", "max", "min", "prod"})


def shape_only(op: Op) -> frozenset:
    """Operand indices ``op`` reads only for their (run-time) shape (backends skip them)."""
    return OPS[op.opname].shape_only


def data_operands(op: Op) -> list[tuple[int, Value]]:
    """(index, operand) pairs whose values ``op`` reads (shape-only ones left out)."""
    skip = OPS[op.opname].shape_only
    return [(i, v) for i, v in enumerate(op.operands) if i not in skip]


def is_reduction(op: Op) -> bool:
    """A reduction computed as a loop over its input (its producers may join it)."""
    d = OPS[op.opname]
    return d.kind == "reduction" and d.combiner in FUSED_COMBINERS


def is_remap(op: Op) -> bool:
    return OPS[op.opname].kind == "remap"


def is_contraction(op: Op) -> bool:
    return OPS[op.opname].kind == "contraction"


def fusion_groups(f: Function) -> list[list[Op]]:
    """The ops of ``f`` grouped by their ``group`` annotation (one kernel each), groups in the
    order of their first op; an op without a group is a group of its own."""
    by_key: dict = {}
    for n, op in enumerate(f.ops):
        by_key.setdefault(("g", op.group) if op.group is not None else ("o", n), []).append(op)
    return list(by_key.values())


def is_elementwise(op: Op) -> bool:
    """Computed per element in a fused loop (elementwise or random, where fusable)."""
    d = OPS[op.opname]
    return d.loop_fusable and (d.fusable is None or d.fusable(op))


def _broadcasts_to(shape: tuple, space: tuple) -> bool:
    if len(shape) > len(space):
        return False
    lead = len(space) - len(shape)
    return all(d == 1 or (d == space[lead + i] and d is not None) for i, d in enumerate(shape))


def fuse(f: Function) -> Function:
    users: dict[int, list[Op]] = {}
    for op in f.ops:
        for _, v in data_operands(op):
            users.setdefault(id(v), []).append(op)
    results = {id(v) for v in f.results}
    groups: dict[int, dict] = {}
    log: list[str] = []
    for op in f.ops:
        op.group = None
    for op in reversed(f.ops):
        name = op.opname
        d = OPS[name]
        reduce, remap, gemm = is_reduction(op), d.kind == "remap", d.kind == "contraction"
        if not is_elementwise(op) and not remap and not reduce and not gemm:
            continue
        joined = False
        us = [u for r in op.results for u in users.get(id(r), [])]
        gids = {u.group for u in us}
        where = f"{name} ({op.loc.tf_name or '?'})"
        if reduce:
            pass
        elif not us:
            pass
        elif len(gids) != 1 or None in gids:
            if len(us) > 1 or None not in gids:
                log.append(f"refused {where}: its result feeds {len(gids)} different kernels")
        else:
            gid = next(iter(gids))
            g = groups[gid]
            space = g["space"].type.shape
            shape = op.results[0].type.shape
            if any(is_remap(u) for u in us):
                log.append(f"refused {where}: read through a transpose/slice, which needs it in memory")
            elif gemm:
                if g["kind"] != "ew" or g["gemm"]:
                    log.append(f"refused {where}: a GEMM fuses only as the head of an elementwise group")
                elif shape != space or any(u.results[0].type.shape != shape for u in us):
                    log.append(f"refused {where}: epilogue shape differs from the GEMM's {shape}")
                elif id(op.result) in results:
                    log.append(f"refused {where}: the product itself is returned")
                else:
                    g["gemm"] = True
                    joined = True
            elif any(is_contraction(u) for u in us):
                log.append(f"refused {where}: GEMM operands must be in memory")
            elif g["kind"] == "reduce" and any(id(r) in results for r in op.results):
                log.append(f"refused {where}: returned, and a reduction's prologue is not stored")
            elif any(is_reduction(u) and u.operands[0] is not op.results[0] for u in us):
                log.append(f"refused {where}: used by a reduction other than as its input")
            elif shape == space:
                joined = True
            elif remap or d.kind == "random":
                log.append(f"refused {where}: shape {shape} differs from the kernel's {space}")
            elif d.cost == "expensive":
                log.append(f"refused {where}: costly op of shape {shape} would be recomputed "
                           f"across the kernel's {space}")
            elif _broadcasts_to(shape, space):
                joined = True
            else:
                log.append(f"refused {where}: shape {shape} does not broadcast to {space}")
            if joined:
                op.group = gid
        if not joined:
            gid = len(groups)
            kind = "reduce" if reduce else ("gemm" if gemm else "ew")
            space = op.operands[0] if reduce else op.results[0]
            groups[gid] = {"kind": kind, "space": space, "gemm": False}
            op.group = gid
    # number groups in program order for readable dumps
    order: dict[int, int] = {}
    for op in f.ops:
        if op.group is not None and op.group not in order:
            order[op.group] = len(order)
    for op in f.ops:
        if op.group is not None:
            op.group = order[op.group]
    f.fusion_log = log
    return f
