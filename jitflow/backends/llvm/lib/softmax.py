"""bias_add (alone in its kernel, any axis), softmax / log_softmax, the two softmax
cross-entropies, reduce_logsumexp, reduce_all / reduce_any and l2_loss: row-wise loops; their
float sums are blocked (``accum.py``)."""
from __future__ import annotations



from ....ir.core import Op, Value
from ....ir.dtypes import DType
from ....kernels.indexmap import IndexMap, ZERO, broadcast_map, contig_stride
from ....ops.reduce import reduced_axes
from ..accum import WIDE, blocked_sum, narrow
from ..compiler import CUSTOM_KERNELS
from ..emitter import const, rtype
from .ir import _IR, _dims, _flag, _numel, _reader, _zero


def _bias_add(gen, op: Op) -> None:
    x, bias = op.operands
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    dt = op.result.type.dtype
    rank = len(x.type.shape)
    ax = op.attrs["axis"] % rank
    dims = _dims(gen, x)
    pre, C, inner = ir.prod(dims[:ax]), dims[ax], ir.prod(dims[ax + 1:])
    rx, rb = _reader(gen, x), _reader(gen, bias)

    def body(p, c):
        bv = rb(c)
        base = ir.mul(ir.add(ir.mul(p, C), c), inner)

        def i_(i):
            o = ir.add(base, i)
            ir.st(dt, ir.fadd(dt, rx(o), bv), yp, o)
        ir.vloop(inner, i_)
    if inner == "1":      # channels last: the channel loop is the contiguous one
        ir.loop(pre, lambda p: ir.vloop(C, lambda c: body(p, c)))
    else:
        ir.loops([pre, C], lambda idx: body(*idx))



def _axis_rows(ir: _IR, gen, v: Value, axis: int) -> tuple[str, str, str]:
    dims = _dims(gen, v)
    ax = axis % len(dims)
    return ir.prod(dims[:ax]), dims[ax], ir.prod(dims[ax + 1:])


def _row_max(ir: _IR, dt: DType, n, read, loc) -> str:
    t = rtype(dt)
    ir.put(t, const(float("-inf"), dt), loc)
    ir.loop(n, lambda k: ir.put(t, ir.vmax(dt, ir.get(t, loc), read(k)), loc))
    return ir.get(t, loc)


def _row_sumexp(ir: _IR, dt: DType, n, read, m, store=None) -> str:
    """sum_k exp(read(k) - m) (blocked: ``accum.py``); store(k, e) sees each exp."""
    def k_(k):
        e = ir.exp(dt, ir.fsub(dt, read(k), m))
        if store is not None:
            store(k, e)
        return e
    return narrow(ir.em, dt, blocked_sum(ir.em, dt, n, k_))


def _softmax(gen, op: Op) -> None:
    x = op.operands[0]
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    dt = x.type.dtype
    t = rtype(dt)
    outer, n, inner = _axis_rows(ir, gen, x, op.attrs["axis"])
    _flag(gen, op, ir.cmp("eq", n, "0"), "zero-size array to reduction operation maximum which has no identity")
    rx = _reader(gen, x)
    mloc = ir.local(t)
    log = op.opname == "log_softmax"

    def row(idx):
        o, i = idx
        base = ir.add(ir.mul(o, n, inner), i)

        def off(k):
            return ir.add(base, ir.mul(k, inner))

        def read(k):
            return rx(off(k))
        m = _row_max(ir, dt, n, read, mloc)
        if log:
            lse = ir.log(dt, _row_sumexp(ir, dt, n, read, m))
            ir.loop(n, lambda k: ir.st(dt, ir.fsub(dt, ir.fsub(dt, read(k), m), lse), yp, off(k)))
        else:
            s = _row_sumexp(ir, dt, n, read, m, lambda k, e: ir.st(dt, e, yp, off(k)))
            ir.loop(n, lambda k: ir.st(dt, ir.fdiv(dt, ir.ld(dt, yp, off(k)), s), yp, off(k)))
    ir.loops([outer, inner], row)


def _sparse_xent(gen, op: Op) -> None:
    logits, labels = op.operands
    lp, bp = gen.out_ptr(op.results[0]), gen.out_ptr(op.results[1])
    ir = _IR(gen)
    dt = logits.type.dtype
    t = rtype(dt)
    ldt = labels.type.dtype
    dims = _dims(gen, logits)
    R, C = ir.prod(dims[:-1]), dims[-1]
    _flag(gen, op, ir.cmp("eq", C, "0"), "zero-size array to reduction operation maximum which has no identity")
    rx, rl = _reader(gen, logits), _reader(gen, labels)
    mloc = ir.local(t)

    def row(r):
        lab = ir.to_i64(ldt, rl(r))
        ok = ir.cmp("ult", lab, C)
        _flag(gen, op, ir.not_(ok), "Received a label value which is outside the valid range "
                                    "of [0, depth)")
        lab = ir.sel(ok, "i64", lab, "0")
        base = ir.mul(r, C)

        def read(k):
            return rx(ir.add(base, k))

        def compute():
            m = _row_max(ir, dt, C, read, mloc)
            lse = ir.log(dt, _row_sumexp(ir, dt, C, read, m))
            if lp is not None:
                zl = ir.fsub(dt, read(lab), m)
                ir.st(dt, ir.em.op(f"fneg {t} {ir.fsub(dt, zl, lse)}"), lp, r)
            if bp is not None:
                def k_(k):
                    e = ir.exp(dt, ir.fsub(dt, ir.fsub(dt, read(k), m), lse))
                    hit = ir.cmp("eq", k, lab)
                    ir.st(dt, ir.fsub(dt, e, ir.sel(hit, t, const(1.0, dt), _zero(dt))), bp,
                          ir.add(base, k))
                ir.loop(C, k_)
        ir.if_(ir.cmp("sgt", C, "0"), compute)
    ir.loop(R, row)


def _softmax_xent(gen, op: Op) -> None:
    logits, labels = op.operands
    lp, bp = gen.out_ptr(op.results[0]), gen.out_ptr(op.results[1])
    ir = _IR(gen)
    space = op.results[1]
    dt = space.type.dtype
    t = rtype(dt)
    rank = len(space.type.shape)
    sdims = _dims(gen, space)
    C = sdims[-1]
    CL = gen.dim(logits, rank - 1)
    _flag(gen, op, ir.cmp("eq", CL, "0"), "zero-size array to reduction operation maximum which has no identity")
    mL = broadcast_map(gen.table, logits, space)
    mZ = broadcast_map(gen.table, labels, space)
    rx, rz = _reader(gen, logits), _reader(gen, labels)
    mloc = ir.local(t)
    lstride = [contig_stride(gen.table, op.results[0], k) for k in range(rank - 1)]

    def row(idx):
        bL = gen.offset(IndexMap(ZERO, mL.strides[:-1]), idx)
        bZ = gen.offset(IndexMap(ZERO, mZ.strides[:-1]), idx)
        sL, sZ = gen.ref(mL.strides[-1]), gen.ref(mZ.strides[-1])

        def own(k):      # logits along their own last axis
            return rx(ir.add(bL, k))

        def lg(k):       # logits broadcast into the result's last axis
            return rx(ir.add(bL, ir.mul(k, sL)))

        def lab(k):
            return rz(ir.add(bZ, ir.mul(k, sZ)))
        m = _row_max(ir, dt, CL, own, mloc)
        lse = ir.log(dt, _row_sumexp(ir, dt, CL, own, m))
        base = ir.mul(gen.offset(IndexMap(ZERO, lstride), idx) if rank > 1 else "0", C)

        def k_(k):
            logp = ir.fsub(dt, ir.fsub(dt, lg(k), m), lse)
            z = lab(k)
            if bp is not None:
                ir.st(dt, ir.fsub(dt, ir.exp(dt, logp), z), bp, ir.add(base, k))
            return ir.fmul(dt, z, logp)
        if lp is None:
            ir.loop(C, k_)
            return
        loss = narrow(ir.em, dt, blocked_sum(ir.em, dt, C, k_))
        lo = gen.offset(IndexMap(ZERO, lstride), idx) if rank > 1 else "0"
        ir.st(dt, ir.em.op(f"fneg {t} {loss}"), lp, lo)
    ir.loops(sdims[:-1], row)


def _reduce_split(ir: _IR, gen, x: Value, axes, body) -> None:
    """body(out_offset, inner, inner_sum) per output element of a reduction over ``axes``;
    inner(fn) calls fn(x_offset) for each reduced element (row-major); inner_sum(dt, term)
    returns the sum of term(x_offset) over them, blocked along the innermost reduced axis
    (``accum.py``) with a float64 accumulator over the others."""
    rank = len(x.type.shape)
    red = reduced_axes(rank, axes)
    kept = [a for a in range(rank) if a not in red]
    dims = _dims(gen, x)
    xs = [gen.ref(contig_stride(gen.table, x, a)) for a in range(rank)]

    def outer(kidx):
        base = ir.add(*[ir.mul(i, xs[a]) for i, a in zip(kidx, kept)]) if kept else "0"
        oo = "0"
        for j, i in enumerate(kidx):
            oo = ir.add(ir.mul(oo, dims[kept[j]]), i)

        def inner(fn):
            ir.loops([dims[a] for a in red],
                     lambda ridx: fn(ir.add(base, *[ir.mul(i, xs[a]) for i, a in zip(ridx, red)])))

        def inner_sum(dt: DType, term) -> str:
            if not red:
                return term(base)
            wloc = ir.local(WIDE)
            ir.put(WIDE, "0.0", wloc)

            def rows(ridx):
                rb = ir.add(base, *[ir.mul(i, xs[a]) for i, a in zip(ridx, red[:-1])])
                w = blocked_sum(ir.em, dt, dims[red[-1]],
                                lambda i: term(ir.add(rb, ir.mul(i, xs[red[-1]]))))
                ir.put(WIDE, ir.em.op(f"fadd double {ir.get(WIDE, wloc)}, {w}"), wloc)
            ir.loops([dims[a] for a in red[:-1]], rows)
            return narrow(ir.em, dt, ir.get(WIDE, wloc))
        body(oo, inner, inner_sum)
    ir.loops([dims[a] for a in kept], outer)


def _logsumexp(gen, op: Op) -> None:
    x = op.operands[0]
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    dt = x.type.dtype
    t = rtype(dt)
    rx = _reader(gen, x)
    mloc = ir.local(t)

    def body(oo, inner, inner_sum):
        ir.put(t, const(float("-inf"), dt), mloc)
        inner(lambda o: ir.put(t, ir.vmax(dt, ir.get(t, mloc), rx(o)), mloc))
        m0 = ir.get(t, mloc)
        m = ir.sel(ir.isfinite(dt, m0), t, m0, _zero(dt))
        s = inner_sum(dt, lambda o: ir.exp(dt, ir.fsub(dt, rx(o), m)))
        ir.st(dt, ir.fadd(dt, ir.log(dt, s), m), yp, oo)
    _reduce_split(ir, gen, x, op.attrs["axes"], body)


def _reduce_bool(gen, op: Op) -> None:
    x = op.operands[0]
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    rx = _reader(gen, x)
    loc = ir.local("i1")
    is_all = op.opname == "reduce_all"

    def body(oo, inner, _inner_sum):
        ir.put("i1", "true" if is_all else "false", loc)
        inner(lambda o: ir.put("i1", ir.em.op(f"{'and' if is_all else 'or'} i1 "
                                              f"{ir.get('i1', loc)}, {rx(o)}"), loc))
        ir.st(op.result.type.dtype, ir.get("i1", loc), yp, oo)
    _reduce_split(ir, gen, x, op.attrs["axes"], body)


def _l2_loss(gen, op: Op) -> None:
    x = op.operands[0]
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    dt = x.type.dtype
    rx = _reader(gen, x)

    def k_(i):
        v = rx(i)
        return ir.fmul(dt, v, v)
    w = blocked_sum(ir.em, dt, _numel(ir, gen, x), k_)
    ir.st(dt, narrow(ir.em, dt, ir.em.op(f"fmul double {w}, 0.5")), yp, "0")


CUSTOM_KERNELS.update({
    "bias_add": _bias_add,
    "softmax": _softmax,
    "log_softmax": _softmax,
    "sparse_softmax_cross_entropy": _sparse_xent,
    "softmax_cross_entropy": _softmax_xent,
    "reduce_logsumexp": _logsumexp,
    "reduce_all": _reduce_bool,
    "reduce_any": _reduce_bool,
    "l2_loss": _l2_loss,
})
