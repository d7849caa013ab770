"""``conv-fusion``: a convolution absorbs its elementwise epilogue, and a layer's relu and bias
gradients become one op (the fused ops of ops/conv_fused.py), for a backend with kernels for
them (llvm's pipeline runs it before fusion; cuda's decomposes them again).

* ``conv2d -> bias_add(axis -1) -> relu`` (bias and relu each optional, at least one) becomes
  ``fused_conv2d(x, w[, bias]) {activation}``: every intermediate value has that one user and
  is not returned;
* ``dz = select(greater(y, 0), g, zeros_like(g))`` whose sum over every axis but the last
  (``reduce_sum``, the bias gradient) is taken becomes ``dz, db = relu_bias_grad(g, y)``: one
  pass over g instead of a masked copy and a second pass summing it.

Pure IR -> IR; the fused ops' references are the compositions they replace.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..ir.core import Function, Op, Value
from ..ir.opdef import OPS
from .dce import dce
from .fusion import data_operands


def _users(f: Function) -> dict[int, list[Op]]:
    users: dict[int, list[Op]] = {}
    for op in f.ops:
        for _, v in data_operands(op):
            users.setdefault(id(v), []).append(op)
    return users


def _only_user(v: Value, users, results) -> Optional[Op]:
    us = users.get(id(v), [])
    if len(us) != 1 or id(v) in results:
        return None
    return us[0]


def _is_zero_const(v: Value) -> bool:
    p = v.producer
    if p is None or p.opname != "constant":
        return False
    a = p.attrs["value"]
    return a.size == 1 and float(np.asarray(a).reshape(-1)[0]) == 0.0


def _is_zeros_of(v: Value, g: Value) -> bool:
    """v is zeros shaped like g: ``zeros_like(g)``, or a constant of zeros (folded)."""
    p = v.producer
    if p is None:
        return False
    if p.opname == "zeros_like":
        return p.operands[0] is g
    if p.opname != "constant":
        return False
    a = np.asarray(p.attrs["value"])
    return (a.size == 1 or a.shape == tuple(g.type.shape)) and not np.any(a)


def _last_axis_bias(op: Op) -> bool:
    return len(op.operands[0].type.shape) == 4 and op.attrs["axis"] % 4 == 3


def fuse_convs(f: Function) -> Function:
    users = _users(f)
    results = {id(v) for v in f.results}
    replace: dict[int, tuple[Op, list[Op]]] = {}    # id(last absorbed op) -> (new op, absorbed)
    for op in f.ops:
        if op.opname != "conv2d" or not op.result.type.dtype.is_floating:
            continue
        chain, bias, act = [op], None, "none"
        u = _only_user(op.result, users, results)
        if u is not None and u.opname == "bias_add" and u.operands[0] is op.result \
                and _last_axis_bias(u):
            chain.append(u)
            bias = u.operands[1]
            u = _only_user(u.result, users, results)
        if u is not None and u.opname == "relu":
            chain.append(u)
            act = "relu"
        if len(chain) == 1:
            continue
        new = Op("fused_conv2d", list(op.operands) + ([bias] if bias is not None else []),
                 {**op.attrs, "activation": act}, [chain[-1].result.type], chain[-1].loc)
        replace[id(chain[-1])] = (new, chain)
    for op in f.ops:
        if op.opname != "reduce_sum" or op.attrs["keepdims"]:
            continue
        s = op.operands[0].producer
        rank = len(op.operands[0].type.shape)
        if s is None or s.opname != "select" or rank < 1 or tuple(
                sorted(op.attrs["axes"] or ())) != tuple(range(rank - 1)):
            continue
        m, g, z = s.operands
        mp = m.producer
        if mp is None or mp.opname != "greater" or not _is_zero_const(mp.operands[1]) \
                or not _is_zeros_of(z, g):
            continue
        y = mp.operands[0]
        if y.type.shape != g.type.shape or not g.type.dtype.is_floating or id(s) in replace \
                or (g.producer is not None and OPS[g.producer.opname].kind == "contraction"):
            continue    # (a matmul's gradient computes the select in its GEMM epilogue)
        new = Op("relu_bias_grad", [g, y], {}, [s.result.type, op.result.type], s.loc)
        replace[id(op)] = (None, [op])
        new_results = {id(s.result): new.results[0], id(op.result): new.results[1]}
        replace[id(s)] = (new, [s], new_results)
    mapping: dict[int, Value] = {}
    absorbed = {id(a) for entry in replace.values() for a in entry[1]}
    ops: list[Op] = []
    for op in f.ops:
        op.operands = [mapping.get(id(v), v) for v in op.operands]
        entry = replace.get(id(op))
        if entry is not None and entry[0] is not None:
            new = entry[0]
            new.operands = [mapping.get(id(v), v) for v in new.operands]
            ops.append(new)
            if len(entry) == 3:
                for old_id, v in entry[2].items():
                    mapping[old_id] = v
            else:
                mapping[id(op.result)] = new.result
            continue
        if id(op) in absorbed:
            continue
        ops.append(op)
    f.ops = ops
    f.results = [mapping.get(id(v), v) for v in f.results]
    return dce(f)
