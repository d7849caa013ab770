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
   body's VJP (the cotangent of a stacked result, ``num_stacked``, is row k of its
   cotangent): the cotangents of its carried parameters become the next carried cotangents,
   those of the invariants are added to the accumulators. After the loop the carried
   cotangents are those of the loop's initial values. An invariant the body reads only by
   rows (``gather`` on axis 0, e.g. the hoisted input projection of an RNN, read at step t)
   has no accumulator: the reverse loop stacks each trip's row cotangents and indices, and
   one ``gather_grad`` after the loop scatters them (O(trips) work, not O(trips^2)).
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

def _row_reads(body: Function, j: int) -> list[int]:
    """Positions in ``body`` of the ops reading its parameter ``j``, if every one is a
    ``gather`` of its rows (axis 0) and the parameter is no result: its cotangent is then a
    scatter of the gathered rows' cotangents, done once after the reverse loop (not an
    accumulator the size of the whole invariant updated every trip). Else empty."""
    p = body.params[j]
    if any(o is p for o in body.results) or not p.type.shape:
        return []
    reads = [t for t, op in enumerate(body.ops) if any(v is p for v in op.operands)]
    for t in reads:
        op = body.ops[t]
        if (op.opname != "gather" or op.operands[0] is not p or op.operands[1] is p
                or op.attrs["axis"] % len(p.type.shape) != 0):
            return []
    return reads


def while_grad(b: Builder, op: Op, gs: Sequence[Optional[Value]], vjp: VJP
               ) -> list[Optional[Value]]:
    """The grad rule of ``while`` (see the module docstring)."""
    if op.attrs["record"]:
        raise NotImplementedError(f"no gradient of a recording while loop (a second-order "
                                  f"gradient through a loop) ({op.loc})")
    n, m = op.attrs["num_carried"], op.attrs["num_stacked"]
    cond_r, body_r = op.regions
    ptypes = [p.type for p in body_r.params]
    n_inv = len(ptypes) - n
    fc = [i for i in range(n) if ptypes[i].dtype.is_floating]
    fs = [j for j in range(m) if op.results[n + j].type.dtype.is_floating
          and gs[n + j] is not None]
    fv = [j for j in range(n_inv) if ptypes[n + j].dtype.is_floating]
    sliced = {j: r for j in fv for r in [_row_reads(body_r, n + j)] if r}
    fa = [j for j in fv if j not in sliced]        # invariants with an accumulator
    grads: list[Optional[Value]] = [None] * len(op.operands)
    if not (fc or fs) or not (fc or fv):
        return grads
    # 1. the forward loop again, recording the carried values of every trip
    rec = _results(b.op("while", *op.operands, regions=[cond_r.clone(), body_r.clone()],
                        num_carried=n, maximum_iterations=op.attrs["maximum_iterations"],
                        record=True, num_stacked=m))
    stacks, trips = rec[n + m:2 * n + m], rec[2 * n + m]
    # 2. the reverse loop
    cots = [gs[i] if gs[i] is not None else b.zeros_like(op.results[i]) for i in fc]
    cots = [_fit(b, c, op.results[i], ptypes[i]) for c, i in zip(cots, fc)]
    scots = [_fit(b, gs[n + j], op.results[n + j], op.results[n + j].type) for j in fs]
    accs = [b.zeros_like(op.operands[n + j]) for j in fa]
    k0 = b.sub(trips, b.const(1, int32))
    inv = list(stacks) + scots + list(op.operands[n:])
    carried_types = [k0.type] + [ptypes[i] for i in fc] + [ptypes[n + j] for j in fa]
    inv_types = [s.type for s in stacks] + [c.type for c in scots] + ptypes[n:]

    def params(f: Function) -> list[Value]:
        return [f.add_param(t) for t in carried_types + inv_types]

    c = Function("cond_grad")
    cp = params(c)
    cb = Builder(c.ops, b.loc)
    c.set_results([cb.greater_equal(cp[0], cb.const(0, int32))])

    g = Function("body_grad")
    gp = params(g)
    gb = Builder(g.ops, b.loc)
    nc = len(carried_types)
    k, pc, pa = gp[0], gp[1:1 + len(fc)], gp[1 + len(fc):nc]
    ps, pst, pv = gp[nc:nc + n], gp[nc + n:nc + n + len(fs)], gp[nc + n + len(fs):]
    xs = [gb.gather(s, k, axis=0) for s in ps]
    start = len(g.ops)
    outs = inline(body_r, xs + pv, gb)
    fwd = g.ops[start:]
    reads = [(j, fwd[t]) for j in sliced for t in sliced[j]]     # the same ops, inlined
    d = vjp(fwd, [outs[i] for i in fc] + [outs[n + j] for j in fs],
            [xs[i] for i in fc] + [pv[j] for j in fa] + [r.results[0] for _, r in reads],
            list(pc) + [gb.gather(st, k, axis=0) for st in pst], gb)
    new_c = [_fit(gb, dc if dc is not None else gb.zeros_like(xs[i]), xs[i], ptypes[i])
             for dc, i in zip(d[:len(fc)], fc)]
    new_a = [a if dv is None else _fit(gb, gb.add(a, dv), pv[j], ptypes[n + j])
             for a, dv, j in zip(pa, d[len(fc):len(fc) + len(fa)], fa)]
    # per row read: its rows' cotangent and its indices, stacked over the trips
    emit, emit_of = [], []
    for (j, r), dr in zip(reads, d[len(fc) + len(fa):]):
        if dr is not None:
            emit += [_fit(gb, dr, r.results[0], r.results[0].type), r.operands[1]]
            emit_of.append(j)
    g.set_results([gb.sub(k, gb.const(1, int32))] + new_c + new_a + emit)
    back = _results(b.op("while", k0, *cots, *accs, *inv, regions=[c, g], num_carried=nc,
                         num_stacked=len(emit)))
    for t, i in enumerate(fc):
        grads[i] = back[1 + t]
    for t, j in enumerate(fa):
        grads[n + j] = back[1 + len(fc) + t]
    for t, j in enumerate(emit_of):
        gj = b.gather_grad(back[nc + 2 * t], back[nc + 2 * t + 1], op.operands[n + j], axis=0)
        grads[n + j] = gj if grads[n + j] is None else b.add(grads[n + j], gj)
    return grads
