"""Gradients of the control-flow ops, built symbolically as IR: the grad rules of ``cond``
and ``while``. The autodiff pass hands a control op's rule its ``vjp`` (the rules of a region's
ops are applied through it), so this module needs nothing above ``ops``.

cond: the gradient is a ``cond`` on the same predicate whose branches each recompute their
forward branch and run its VJP (the ``vjp`` given, so nested control flow inside a
branch is differentiated by its own rule). Operands: (pred, args..., cotangents of the float
results); results: one cotangent per float arg (zeros where a branch does not use it).

while: two loops.
1. The forward loop again, with ``record = true``: besides the final carried values it gives,
   per carried value, a stack ``[?, ...]`` of its values at the start of every trip and the
   trip count T (i32 scalar). T and the stacks' leading dim are known only at run time; the
   reference backend sizes them then (a native backend needs a growable buffer, or one sized
   by ``maximum_iterations`` when it is set).
2. A reverse loop, k = T-1 down to 0, carrying (k, cotangents of the float carried values,
   accumulated cotangents of the float loop invariants). Its body reads the carried values of
   trip k from the stacks (``gather``), recomputes the forward body from them and runs the
   body's VJP: the cotangents of its carried parameters become the next carried cotangents,
   those of the invariants are added to the accumulators. After the loop the carried
   cotangents are those of the loop's initial values.
Nested loops and a cond inside a loop work because the reverse body calls ``vjp`` on the
recomputed body, which applies these rules again inside the region. Recomputing the body per
trip keeps the stacks to the carried values only (what TF1 pushes are the body's
intermediates instead: less compute, more memory).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from ..ir.builder import Builder
from ..ir.core import Function, Op, Value
from ..ir.dtypes import int32
from .control import accepts

#: vjp(ops, ys, xs, grad_ys, builder) -> cotangents of xs (passes/autodiff.py's ``vjp``)
VJP = Callable[..., list]


def inline(region: Function, args: Sequence[Value], b: Builder) -> list[Value]:
    """Emit the ops of ``region`` through ``b`` with its parameters bound to ``args`` (types
    recomputed by the rules; nested regions copied); returns the region's results."""
    env: dict[int, Value] = {id(p): a for p, a in zip(region.params, args)}
    for op in region.ops:
        res = b.op(op.opname, *[env[id(v)] for v in op.operands], loc=op.loc,
                   regions=[r.clone() for r in op.regions] or None, **op.attrs)
        for r, nr in zip(op.results, res if isinstance(res, tuple) else (res,)):
            env[id(r)] = nr
    return [env[id(v)] for v in region.results]


def _results(res) -> list[Value]:
    return list(res) if isinstance(res, tuple) else [res]


def _fit(b: Builder, g: Value, like: Value, param_type) -> Value:
    """``g`` as a value a parameter of ``param_type`` accepts (reshaped like ``like``)."""
    return g if accepts(param_type, g.type) else b.reshape_like(g, like)


# ------------------------------------------------------------------------------ cond -------

def _cond_branch_grad(region: Function, name: str, fl_res: list[int], fl_args: list[int],
                      cot_types, loc, vjp: VJP) -> Function:
    g = Function(f"{name}_grad")
    ps = [g.add_param(p.type) for p in region.params]
    cps = [g.add_param(t) for t in cot_types]
    gb = Builder(g.ops, loc)
    ys = inline(region, ps, gb)
    fwd = list(g.ops)
    grads = vjp(fwd, [ys[i] for i in fl_res], [ps[j] for j in fl_args], cps, gb)
    g.set_results([gr if gr is not None else gb.zeros_like(ps[j])
                   for gr, j in zip(grads, fl_args)])
    return g


def cond_grad(b: Builder, op: Op, gs: Sequence[Optional[Value]], vjp: VJP
              ) -> list[Optional[Value]]:
    """The grad rule of ``cond`` (see the module docstring)."""
    pred, args = op.operands[0], op.operands[1:]
    then_r, else_r = op.regions
    fl_args = [j for j, p in enumerate(then_r.params) if p.type.dtype.is_floating]
    fl_res = [i for i, r in enumerate(op.results) if r.type.dtype.is_floating]
    grads: list[Optional[Value]] = [None] * len(op.operands)
    if not fl_args or not fl_res:
        return grads
    cots = [gs[i] if gs[i] is not None else b.zeros_like(op.results[i]) for i in fl_res]
    cots = [_fit(b, c, op.results[i], op.results[i].type) for c, i in zip(cots, fl_res)]
    cot_types = [op.results[i].type for i in fl_res]
    regions = [_cond_branch_grad(r, n, fl_res, fl_args, cot_types, b.loc, vjp)
               for r, n in ((then_r, "then"), (else_r, "else"))]
    out = _results(b.op("cond", pred, *args, *cots, regions=regions))
    for k, j in enumerate(fl_args):
        grads[1 + j] = out[k]
    return grads


# ------------------------------------------------------------------------------ while ------

def while_grad(b: Builder, op: Op, gs: Sequence[Optional[Value]], vjp: VJP
               ) -> list[Optional[Value]]:
    """The grad rule of ``while`` (see the module docstring)."""
    if op.attrs["record"]:
        raise NotImplementedError(f"no gradient of a recording while loop (a second-order "
                                  f"gradient through a loop) ({op.loc})")
    n = op.attrs["num_carried"]
    cond_r, body_r = op.regions
    ptypes = [p.type for p in body_r.params]
    n_inv = len(ptypes) - n
    fc = [i for i in range(n) if ptypes[i].dtype.is_floating]
    fv = [j for j in range(n_inv) if ptypes[n + j].dtype.is_floating]
    grads: list[Optional[Value]] = [None] * len(op.operands)
    if not fc and not fv:
        return grads
    # 1. the forward loop again, recording the carried values of every trip
    rec = _results(b.op("while", *op.operands, regions=[cond_r.clone(), body_r.clone()],
                        num_carried=n, maximum_iterations=op.attrs["maximum_iterations"],
                        record=True))
    stacks, trips = rec[n:2 * n], rec[2 * n]
    # 2. the reverse loop
    cots = [gs[i] if gs[i] is not None else b.zeros_like(op.results[i]) for i in fc]
    cots = [_fit(b, c, op.results[i], ptypes[i]) for c, i in zip(cots, fc)]
    accs = [b.zeros_like(op.operands[n + j]) for j in fv]
    k0 = b.sub(trips, b.const(1, int32))
    inv = list(stacks) + list(op.operands[n:])
    carried_types = [k0.type] + [ptypes[i] for i in fc] + [ptypes[n + j] for j in fv]
    inv_types = [s.type for s in stacks] + ptypes[n:]

    def params(f: Function) -> list[Value]:
        return [f.add_param(t) for t in carried_types + inv_types]

    c = Function("cond_grad")
    cp = params(c)
    cb = Builder(c.ops, b.loc)
    c.set_results([cb.greater_equal(cp[0], cb.const(0, int32))])

    g = Function("body_grad")
    gp = params(g)
    gb = Builder(g.ops, b.loc)
    nc = 1 + len(fc) + len(fv)
    k, pc, pa = gp[0], gp[1:1 + len(fc)], gp[1 + len(fc):nc]
    ps, pv = gp[nc:nc + n], gp[nc + n:]
    xs = [gb.gather(s, k, axis=0) for s in ps]
    start = len(g.ops)
    outs = inline(body_r, xs + pv, gb)
    fwd = g.ops[start:]
    d = vjp(fwd, [outs[i] for i in fc], [xs[i] for i in fc] + [pv[j] for j in fv], pc, gb)
    new_c = [_fit(gb, dc if dc is not None else gb.zeros_like(xs[i]), xs[i], ptypes[i])
             for dc, i in zip(d[:len(fc)], fc)]
    new_a = [a if dv is None else _fit(gb, gb.add(a, dv), pv[j], ptypes[n + j])
             for a, dv, j in zip(pa, d[len(fc):], fv)]
    g.set_results([gb.sub(k, gb.const(1, int32))] + new_c + new_a)
    back = _results(b.op("while", k0, *cots, *accs, *inv, regions=[c, g], num_carried=nc))
    for t, i in enumerate(fc):
        grads[i] = back[1 + t]
    for t, j in enumerate(fv):
        grads[n + j] = back[1 + len(fc) + t]
    return grads
