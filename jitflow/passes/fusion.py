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

ELEMENTWISE = {
    "neg", "abs", "sign", "square", "sqrt", "rsqrt", "exp", "log", "tanh", "sigmoid", "relu",
    "add", "sub", "mul", "div", "floordiv", "mod", "pow", "maximum", "minimum", "equal",
    "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
    "logical_not", "select", "cast", "fill", "zeros_like", "ones_like", "broadcast_like", "add_n",
    "size", "random_uniform", "random_normal", "random_truncated_normal", "check_numerics",
    # NN ops (jitflow/ops/nn.py); bias_add only along the last axis, see _is_elementwise
    "elu", "leaky_relu", "softplus", "relu6", "sigmoid_cross_entropy", "bias_add",
}
EXPENSIVE = {"exp", "log", "tanh", "sigmoid", "pow", "random_uniform", "random_normal",
             "random_truncated_normal", "sqrt", "rsqrt", "div", "mod", "floordiv",
             "elu", "softplus", "sigmoid_cross_entropy"}
REMAP = {"transpose", "strided_slice"}
REDUCE = {"reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "sum_to"}
#: operands read only for their (run-time) shape, never their values (backends skip them)
SHAPE_ONLY = {"broadcast_like": {1}, "sum_to": {1}, "reshape_like": {1}, "zeros_like": {0},
              "ones_like": {0}, "size": {0}, "shape": {0}, "strided_slice_grad": {1},
              "conv2d_backprop_input": {2}, "conv2d_backprop_filter": {2}, "avg_pool_grad": {1},
              "gather_grad": {2}, "tile_grad": {1}}


def data_operands(op: Op) -> list[tuple[int, Value]]:
    """(index, operand) pairs whose values ``op`` reads (SHAPE_ONLY ones left out)."""
    skip = SHAPE_ONLY.get(op.opname, set())
    return [(i, v) for i, v in enumerate(op.operands) if i not in skip]


def fusion_groups(f: Function) -> list[list[Op]]:
    """The ops of ``f`` grouped by their ``group`` annotation (one kernel each), groups in the
    order of their first op; an op without a group is a group of its own."""
    by_key: dict = {}
    for n, op in enumerate(f.ops):
        by_key.setdefault(("g", op.group) if op.group is not None else ("o", n), []).append(op)
    return list(by_key.values())


def _is_elementwise(op: Op) -> bool:
    if op.opname == "bias_add":   # a right-aligned broadcast add only along the last axis
        shape = op.operands[0].type.shape
        return shape is not None and op.attrs["axis"] % len(shape) == len(shape) - 1
    return op.opname in ELEMENTWISE


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
        if not _is_elementwise(op) and name not in REMAP and name not in REDUCE and name != "matmul":
            continue
        joined = False
        us = [u for r in op.results for u in users.get(id(r), [])]
        gids = {u.group for u in us}
        where = f"{name} ({op.loc.tf_name or '?'})"
        if name in REDUCE:
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
            if any(u.opname in REMAP for u in us):
                log.append(f"refused {where}: read through a transpose/slice, which needs it in memory")
            elif name == "matmul":
                if g["kind"] != "ew" or g["gemm"]:
                    log.append(f"refused {where}: a GEMM fuses only as the head of an elementwise group")
                elif shape != space or any(u.results[0].type.shape != shape for u in us):
                    log.append(f"refused {where}: epilogue shape differs from the GEMM's {shape}")
                elif id(op.result) in results:
                    log.append(f"refused {where}: the product itself is returned")
                else:
                    g["gemm"] = True
                    joined = True
            elif any(u.opname == "matmul" for u in us):
                log.append(f"refused {where}: GEMM operands must be in memory")
            elif g["kind"] == "reduce" and any(id(r) in results for r in op.results):
                log.append(f"refused {where}: returned, and a reduction's prologue is not stored")
            elif any(u.opname in REDUCE and u.operands[0] is not op.results[0] for u in us):
                log.append(f"refused {where}: used by a reduction other than as its input")
            elif shape == space:
                joined = True
            elif name in REMAP or name.startswith("random"):
                log.append(f"refused {where}: shape {shape} differs from the kernel's {space}")
            elif name in EXPENSIVE:
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
            kind = "reduce" if name in REDUCE else ("gemm" if name == "matmul" else "ew")
            space = op.operands[0] if name in REDUCE else op.results[0]
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
