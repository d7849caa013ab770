"""Reverse-mode autodiff as an IR pass.

Each ``gradients`` pseudo op is replaced, in program order, by ops built from the VJP rules
of the ops between its xs and ys. Gradients are ordinary ops of the same Function, so they are
printed, optimized and compiled like any other; a later ``gradients`` op can differentiate an
earlier expansion (higher-order gradients). Fan-in is summed; a disconnected x gets zeros
(the frontend already returns None for it, as TF1 does). Then each ``custom_gradient`` op
(a Python-defined VJP, ``ops/custom_grad.py``) is replaced by its forward values.
"""
from __future__ import annotations

from typing import Optional, Sequence

from ..ir.builder import Builder
from ..ir.core import Function, Location, Op, Value
from ..ir.opdef import OPS


def vjp(ops: Sequence[Op], ys: Sequence[Value], xs: Sequence[Value],
        grad_ys: Sequence[Optional[Value]], b: Builder) -> list[Optional[Value]]:
    """Cotangents of xs for sum(ys * grad_ys), emitted through ``b``; None if disconnected."""
    x_ids = {id(x) for x in xs}
    depends: set[int] = set(x_ids)          # values that depend on some x
    for op in ops:
        if OPS[op.opname].differentiable and any(id(v) in depends for v in op.operands):
            depends.update(id(r) for r in op.results)
    cot: dict[int, Value] = {}

    def accumulate(v: Value, g: Value) -> None:
        if g.type.shape != v.type.shape and v.type.shape is not None:
            g = b.reshape_like(g, v) if g.type.num_elements() == v.type.num_elements() else g
        prev = cot.get(id(v))
        cot[id(v)] = g if prev is None else b.add(prev, g)

    base_loc = b.loc
    for y, gy in zip(ys, grad_ys):
        if id(y) in depends and y.type.dtype.is_floating:
            accumulate(y, gy if gy is not None else b.ones_like(y))
    for op in reversed(ops):
        if not any(id(r) in cot for r in op.results):
            continue
        opdef = OPS[op.opname]
        if not opdef.differentiable:
            continue
        if opdef.grad is None:
            raise NotImplementedError(f"no gradient rule for op {op.opname!r} ({op.loc})")
        gs = [cot.get(id(r)) for r in op.results]
        tf_name = op.loc.tf_name or op.opname
        b.loc = Location(f"{base_loc.tf_name}/{tf_name}_grad" if base_loc.tf_name else f"{tf_name}_grad",
                         op.loc.file, op.loc.line)
        if len(gs) > 1:
            gs = [g if g is not None else b.zeros_like(r) for g, r in zip(gs, op.results)]
        # a control op's rule differentiates its regions' ops through this same vjp
        in_grads = (opdef.grad(b, op, gs, vjp) if opdef.kind == "control"
                    else opdef.grad(b, op, gs))
        if len(in_grads) != len(op.operands):
            raise AssertionError(f"gradient rule of {op.opname} returned {len(in_grads)} "
                                 f"cotangents for {len(op.operands)} operands")
        for v, g in zip(op.operands, in_grads):
            if g is not None and id(v) in depends and v.type.dtype.is_floating:
                accumulate(v, g)
    b.loc = base_loc
    return [cot.get(id(x)) for x in xs]


def expand_gradients(f: Function) -> Function:
    """Replace every ``gradients`` op of ``f`` (in place) by its expansion."""
    i = 0
    while i < len(f.ops):
        op = f.ops[i]
        if op.opname != "gradients":
            i += 1
            continue
        ny, nx = op.attrs["num_ys"], op.attrs["num_xs"]
        ys, xs = op.operands[:ny], op.operands[ny:ny + nx]
        gys = op.operands[ny + nx:] if op.attrs["has_grad_ys"] else [None] * ny
        new_ops: list[Op] = []
        b = Builder(new_ops, op.loc)
        grads = vjp(f.ops[:i], ys, xs, gys, b)
        mapping = {r: (g if g is not None else b.zeros_like(x))
                   for r, g, x in zip(op.results, grads, xs)}
        f.ops[i:i + 1] = new_ops
        f.replace_all_uses(mapping)
        i += len(new_ops)
    from .autodiff_control import merge_recorded_loops
    merge_recorded_loops(f)
    from ..ops.custom_grad import strip_custom_gradients   # their VJPs are applied by now
    return strip_custom_gradients(f)
