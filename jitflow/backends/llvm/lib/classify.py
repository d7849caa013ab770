"""in_top_k, argmax / argmin, one_hot, gather and its scatter-add gradient."""
from __future__ import annotations



from ....ir.core import Op, Value
from ....ops.classify import _one_hot_axis
from ..compiler import CUSTOM_KERNELS
from ..emitter import rtype
from .ir import _IR, _dims, _flag, _numel, _reader, _zero, _is_int
from .softmax import _axis_rows


def _in_top_k(gen, op: Op) -> None:
    p, tg = op.operands
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    dt = p.type.dtype
    N, C = gen.dim(p, 0), gen.dim(p, 1)
    rp, rt = _reader(gen, p), _reader(gen, tg)
    okloc, cnt = ir.local("i1"), ir.local("i64")
    k = op.attrs["k"]

    def row(r):
        tv = ir.to_i64(tg.type.dtype, rt(r))
        valid = ir.cmp("ult", tv, C)
        base = ir.mul(r, C)
        ir.put("i1", "false", okloc)

        def compute():
            target = rp(ir.add(base, ir.sel(valid, "i64", tv, "0")))
            ir.put("i64", "0", cnt)
            fin = ir.local("i1")
            ir.put("i1", "true", fin)

            def k_(j):
                v = rp(ir.add(base, j))
                ir.put("i1", ir.and_(ir.get("i1", fin), ir.isfinite(dt, v)), fin)
                above = ir.em.op(f"fcmp ogt {rtype(dt)} {v}, {target}")
                ir.put("i64", ir.add(ir.get("i64", cnt), ir.em.op(f"zext i1 {above} to i64")), cnt)
            ir.loop(C, k_)
            res = ir.and_(ir.and_(valid, ir.get("i1", fin)), ir.cmp("slt", ir.get("i64", cnt), k))
            ir.put("i1", res, okloc)
        ir.if_(ir.cmp("sgt", C, "0"), compute)
        ir.st(op.result.type.dtype, ir.get("i1", okloc), yp, r)
    ir.loop(N, row)


def _argminmax(gen, op: Op) -> None:
    x = op.operands[0]
    yp = gen.out_ptr(op.result)
    ir = _IR(gen)
    dt = x.type.dtype
    t = rtype(dt)
    outer, n, inner = _axis_rows(ir, gen, x, op.attrs["axis"])
    _flag(gen, op, ir.cmp("eq", n, "0"), f"Reduction axis {op.attrs['axis']} is empty")
    if yp is None:
        return
    rx = _reader(gen, x)
    bloc, iloc = ir.local(t), ir.local("i64")
    is_max = op.opname == "argmax"
    odt = op.result.type.dtype

    def row(idx):
        o, i = idx
        base = ir.add(ir.mul(o, n, inner), i)
        ir.put(t, rx(base), bloc)
        ir.put("i64", "0", iloc)

        def k_(k):
            v = rx(ir.add(base, ir.mul(k, inner)))
            b = ir.get(t, bloc)
            if dt.is_floating:
                better = ir.em.op(f"fcmp {'ogt' if is_max else 'olt'} {t} {v}, {b}")
                take = ir.and_(ir.not_(ir.isnan(dt, b)), ir.or_(better, ir.isnan(dt, v)))
            else:
                pred = ("u" if dt.is_unsigned else "s") + ("gt" if is_max else "lt")
                take = ir.em.op(f"icmp {pred} {t} {v}, {b}")
            ir.put(t, ir.sel(take, t, v, b), bloc)
            ir.put("i64", ir.sel(take, "i64", k, ir.get("i64", iloc)), iloc)
        ir.range("1", n, k_)
        ir.st(odt, ir.i64_to(odt, ir.get("i64", iloc)), yp, ir.add(ir.mul(o, inner), i))
    ir.if_(ir.cmp("sgt", n, "0"), lambda: ir.loops([outer, inner], row))


def _one_hot(gen, op: Op) -> None:
    idx, on, off = op.operands
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    dt = op.result.type.dtype
    ax = _one_hot_axis(len(idx.type.shape), op.attrs["axis"])
    dims = _dims(gen, idx)
    pre, post = ir.prod(dims[:ax]), ir.prod(dims[ax:])
    depth = str(op.attrs["depth"])
    ri = _reader(gen, idx)
    onv, offv = _reader(gen, on)("0"), _reader(gen, off)("0")

    def body(ix):
        p, d, q = ix
        v = ir.to_i64(idx.type.dtype, ri(ir.add(ir.mul(p, post), q)))
        hit = ir.cmp("eq", v, d)
        ir.st(dt, ir.sel(hit, rtype(dt), onv, offv), yp, ir.add(ir.mul(ir.add(ir.mul(p, depth), d), post), q))
    ir.loops([pre, depth, post], body)


def _check_indices(gen, ir: _IR, op: Op, idx: Value, limit: str) -> None:
    ri = _reader(gen, idx)

    def j_(j):
        v = ir.to_i64(idx.type.dtype, ri(j))
        _flag(gen, op, ir.not_(ir.cmp("ult", v, limit)), f"indices are not in [0, {limit})"
              if _is_int(limit) else "indices out of range")
    ir.loop(_numel(ir, gen, idx), j_)


def _gather_common(gen, op: Op, like: Value, idx: Value, scatter: bool) -> None:
    ir = _IR(gen)
    out = op.result
    yp = gen.out_ptr(out)
    rank = len(like.type.shape)
    ax = op.attrs["axis"] % rank
    dims = _dims(gen, like)
    pre, A, inner = ir.prod(dims[:ax]), dims[ax], ir.prod(dims[ax + 1:])
    NI = _numel(ir, gen, idx)
    _check_indices(gen, ir, op, idx, A)
    if yp is None:
        return
    dt = out.type.dtype
    src = op.operands[0]
    rs, ri = _reader(gen, src), _reader(gen, idx)
    if scatter:
        ir.fill(dt, yp, _numel(ir, gen, like), _zero(dt))

    def body(ix):
        q, j = ix
        v = ir.to_i64(idx.type.dtype, ri(j))
        v = ir.sel(ir.cmp("ult", v, A), "i64", v, "0")
        pb = ir.mul(ir.add(ir.mul(q, A), v), inner)
        gb = ir.mul(ir.add(ir.mul(q, NI), j), inner)

        def i_(i):
            if scatter:
                o = ir.add(pb, i)
                ir.st(dt, ir.fadd(dt, ir.ld(dt, yp, o), rs(ir.add(gb, i))), yp, o)
            else:
                ir.st(dt, rs(ir.add(pb, i)), yp, ir.add(gb, i))
        ir.vloop(inner, i_)
    ir.if_(ir.cmp("sgt", A, "0"), lambda: ir.loops([pre, NI], body))


def _gather(gen, op: Op) -> None:
    _gather_common(gen, op, op.operands[0], op.operands[1], False)


def _gather_grad(gen, op: Op) -> None:
    _gather_common(gen, op, op.operands[2], op.operands[1], True)


CUSTOM_KERNELS.update({
    "in_top_k": _in_top_k,
    "argmax": _argminmax,
    "argmin": _argminmax,
    "one_hot": _one_hot,
    "gather": _gather,
    "gather_grad": _gather_grad,
})
