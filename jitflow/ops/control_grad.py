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
   one ``gather_grad`` after the loop scatters them (O(trips) work, not O(trips^2)). A carried
   value that counts the trips from 0 (an RNN's time index) is k itself in the reverse body,
   so the rows it reads stay rows the loop driver points at.
Nested loops and a cond inside a loop work because the reverse body calls ``vjp`` on the
recomputed body, which applies these rules again inside the region.

What is saved and what recomputed (JAX's "dots saveable" policy): the recording loop also
stacks the results of the body's contractions (matmuls, kind ``contraction``), so the reverse
body reads them (``gather``) instead of recomputing its GEMMs; the cheap elementwise rest is
recomputed from the carried stacks (TF1 pushes every intermediate: more memory). An LSTM's
reverse trip then runs the two GEMMs of its VJP, not three.

An accumulated weight gradient is one GEMM after the loop: when the cotangent of an
invariant is ``matmul(A_k, B_k, transpose_a=True)`` per trip (``x @ W``'s gradient in ``W``),
the reverse loop stacks ``A_k`` and ``B_k`` instead of carrying ``acc + A_k^T B_k``, and
after it ``reshape(A, [-1, a])^T @ reshape(B, [-1, b])`` sums over trips and rows at once (one
large GEMM at the machine's peak instead of T small ones and T passes over the accumulator).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from ..ir.builder import Builder
from ..ir.core import Function, Op, Value
from ..ir.dtypes import int32
from ..ir.opdef import get_opdef
from .control import accepts, loop_invariant_values

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


def _saved_ops(body: Function, n: int) -> list[int]:
    """Positions of the body's ops whose results the recording loop stacks, so the reverse
    body does not recompute them: its contractions with a float result that changes from
    trip to trip (an invariant one is hoisted out of both loops instead: passes/loops.py)."""
    invariant = loop_invariant_values(body, n)
    return [t for t, op in enumerate(body.ops)
            if get_opdef(op.opname).kind == "contraction" and len(op.results) == 1
            and op.results[0].type.dtype.is_floating and op.results[0].type.shape is not None
            and id(op.results[0]) not in invariant]


def _hoistable_contraction(g: Function, dv: Optional[Value], acc: Value) -> Optional[Op]:
    """The op giving ``dv`` when it is a per-trip ``A^T @ B`` (2-D, static columns,
    ``transpose_a`` only) with the accumulator's type: its trips then sum as one GEMM after the loop."""
    op = dv.producer if dv is not None else None
    if (op is None or op.opname != "matmul" or op not in g.ops
            or not op.attrs.get("transpose_a") or op.attrs.get("transpose_b")
            or any(v.type.shape is None or len(v.type.shape) != 2
                   or not isinstance(v.type.shape[1], int) for v in op.operands)
            or not accepts(acc.type, dv.type)):
        return None
    return op


def _counts_trips(op: Op, body: Function, i: int) -> bool:
    """Whether carried value ``i`` of the loop ``op`` is its trip index (an int32 scalar that
    enters as the constant 0 and leaves each trip as ``param + 1``, an RNN's time counter):
    the reverse body then takes it to be its own counter k rather than reading it from its
    stack, so a read of an invariant's row at it (the hoisted input projection at step t)
    stays a row the loop driver points at (backends/hostloop.row_params), not a copy."""
    init, p, r = op.operands[i].producer, body.params[i], body.results[i].producer
    if (p.type.dtype is not int32 or p.type.shape != () or init is None or r is None
            or init.opname != "constant" or r.opname != "add" or p not in r.operands):
        return False
    one = r.operands[1] if r.operands[0] is p else r.operands[0]

    def is_const(v: Value, x: int) -> bool:
        c = v.producer
        return (c is not None and c.opname == "constant" and c.attrs["value"].size == 1
                and int(c.attrs["value"].reshape(-1)[0]) == x)
    return is_const(op.operands[i], 0) and is_const(one, 1) and one is not p


def _drop_params(f: Function, positions: Sequence[int]) -> None:
    """Remove the (unused) parameters at ``positions`` from ``f``, renumbering the rest."""
    drop = set(positions)
    f.params = [p for i, p in enumerate(f.params) if i not in drop]
    for i, p in enumerate(f.params):
        p.index = i


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
    # 1. the forward loop again, recording the carried values of every trip and stacking the
    #    results of its contractions (extra stacked results after the body's own)
    saved = _saved_ops(body_r, n)
    rec_body = body_r.clone()
    rec_body.set_results(list(rec_body.results) + [rec_body.ops[t].results[0] for t in saved])
    ms = m + len(saved)
    rec = _results(b.op("while", *op.operands, regions=[cond_r.clone(), rec_body],
                        num_carried=n, maximum_iterations=op.attrs["maximum_iterations"],
                        record=True, num_stacked=ms))
    saved_stacks = rec[n + m:n + ms]
    stacks, trips = rec[n + ms:2 * n + ms], rec[2 * n + ms]
    # 2. the reverse loop
    cots = [gs[i] if gs[i] is not None else b.zeros_like(op.results[i]) for i in fc]
    cots = [_fit(b, c, op.results[i], ptypes[i]) for c, i in zip(cots, fc)]
    scots = [_fit(b, gs[n + j], op.results[n + j], op.results[n + j].type) for j in fs]
    accs = [b.zeros_like(op.operands[n + j]) for j in fa]
    k0 = b.sub(trips, b.const(1, int32))
    inv = list(stacks) + list(saved_stacks) + scots + list(op.operands[n:])
    carried_types = [k0.type] + [ptypes[i] for i in fc] + [ptypes[n + j] for j in fa]
    inv_types = [s.type for s in stacks] + [s.type for s in saved_stacks] + \
        [c.type for c in scots] + ptypes[n:]

    def params(f: Function) -> list[Value]:
        return [f.add_param(t) for t in carried_types + inv_types]

    c = Function("cond_grad")
    cp = params(c)
    cb = Builder(c.ops, b.loc)
    c.set_results([cb.greater_equal(cp[0], cb.const(0, int32))])

    g = Function("body_grad")
    gp = params(g)
    gb = Builder(g.ops, b.loc)
    nc, ns = len(carried_types), len(saved)
    k, pc, pa = gp[0], gp[1:1 + len(fc)], gp[1 + len(fc):nc]
    ps, psv = gp[nc:nc + n], gp[nc + n:nc + n + ns]
    pst, pv = gp[nc + n + ns:nc + n + ns + len(fs)], gp[nc + n + ns + len(fs):]
    xs = [k if _counts_trips(op, body_r, i) else gb.gather(s, k, axis=0)
          for i, s in enumerate(ps)]
    kept = [gb.gather(s, k, axis=0) for s in psv]          # the saved contraction results
    start = len(g.ops)
    outs = inline(body_r, xs + pv, gb)
    fwd = g.ops[start:]
    reads = [(j, fwd[t]) for j in sliced for t in sliced[j]]     # the same ops, inlined
    d = vjp(fwd, [outs[i] for i in fc] + [outs[n + j] for j in fs],
            [xs[i] for i in fc] + [pv[j] for j in fa] + [r.results[0] for _, r in reads],
            list(pc) + [gb.gather(st, k, axis=0) for st in pst], gb)
    # the VJP was built on the recomputed contractions; their values are read from the
    # stacks instead (the recomputing ops are then dead, and DCE drops them)
    g.replace_all_uses({fwd[t].results[0]: kv for t, kv in zip(saved, kept)})
    new_c = [_fit(gb, dc if dc is not None else gb.zeros_like(xs[i]), xs[i], ptypes[i])
             for dc, i in zip(d[:len(fc)], fc)]
    dvs = d[len(fc):len(fc) + len(fa)]
    hoisted = {t: mm for t, (dv, a) in enumerate(zip(dvs, pa))
               for mm in [_hoistable_contraction(g, dv, a)] if mm is not None}
    new_a = [a if dv is None else _fit(gb, gb.add(a, dv), pv[j], ptypes[n + j])
             for t, (a, dv, j) in enumerate(zip(pa, dvs, fa)) if t not in hoisted]
    # per row read: its rows' cotangent and its indices, stacked over the trips; per
    # hoisted accumulator: the two operands of its per-trip product
    emit, emit_of = [], []
    for (j, r), dr in zip(reads, d[len(fc) + len(fa):]):
        if dr is not None:
            emit += [_fit(gb, dr, r.results[0], r.results[0].type), r.operands[1]]
            emit_of.append(j)
    for mm in hoisted.values():
        emit += list(mm.operands)
    g.set_results([gb.sub(k, gb.const(1, int32))] + new_c + new_a + emit)
    gone = [1 + len(fc) + t for t in hoisted]               # the hoisted accumulators
    _drop_params(g, gone)
    _drop_params(c, gone)
    accs = [a for t, a in enumerate(accs) if t not in hoisted]
    fa_kept = [j for t, j in enumerate(fa) if t not in hoisted]
    nc -= len(gone)
    back = _results(b.op("while", k0, *cots, *accs, *inv, regions=[c, g], num_carried=nc,
                         num_stacked=len(emit)))
    for t, i in enumerate(fc):
        grads[i] = back[1 + t]
    for t, j in enumerate(fa_kept):
        grads[n + j] = back[1 + len(fc) + t]
    for t, j in enumerate(emit_of):
        gj = b.gather_grad(back[nc + 2 * t], back[nc + 2 * t + 1], op.operands[n + j], axis=0)
        grads[n + j] = gj if grads[n + j] is None else b.add(grads[n + j], gj)
    base = nc + 2 * len(emit_of)
    for t, (slot, mm) in enumerate(hoisted.items()):
        sa, sb = back[base + 2 * t], back[base + 2 * t + 1]
        ka, kb = mm.operands[0].type.shape[1], mm.operands[1].type.shape[1]
        ga = b.matmul(b.reshape(sa, shape=[-1, ka]), b.reshape(sb, shape=[-1, kb]),
                      transpose_a=True, transpose_b=False)
        grads[n + fa[slot]] = _fit(b, ga, op.operands[n + fa[slot]], ptypes[n + fa[slot]])
    return grads
