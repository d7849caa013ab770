"""The llvm reduction kernel (``KernelGen.gen_reduce``): a reduction op with its fused
producers (stored side outputs included), over the reduced op's input space.

Float sums and means are accumulated as ``accum.py`` describes: when the innermost axis is
reduced, each row is summed in blocks (float32 blocks, float64 partials); the row's sum is stored
directly when every outer axis is kept, else added to a float64 scratch accumulator per output
element; when only leading axes are reduced, every element is added to that float64 accumulator
(the loop runs down the rows, vectorized along the kept innermost axis). The result is rounded
once, after a mean's division. Max, min, prod and integer sums keep one running value per
output element in its own type (exact, or rounding-free for max/min).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...ir.core import Op
from ...ir.dtypes import float64
from ...ir.opdef import OPS
from ...kernels.indexmap import ZERO, IndexMap, broadcast_map, contig_stride, dim_ref, numel_ref
from ...ops.reduce import reduced_axes
from . import accum
from .accum import blocked_sum, narrow, widen
from .emitter import const, rtype

if TYPE_CHECKING:
    from .compiler import KernelGen


def gen_reduce(gen: "KernelGen") -> None:
    gen.gemm_done = set()
    red = gen.k.ops[-1]
    comb = OPS[red.opname].combiner
    kind = "sum" if comb == "mean" else comb    # a mean is a sum, divided at the end
    if kind == "sum" and red.result.type.dtype.is_floating:
        _float_sum(gen, red)
    else:
        _running_reduce(gen, red, kind)


def _element_fn(gen: "KernelGen", red: Op):
    """element(full_index) -> the reduced operand's value there; fused producers whose values
    are also needed elsewhere are stored as they are computed (each element of x's space once;
    broadcast ones repeatedly, same value)."""
    x, out = red.operands[0], red.result
    side = [(v, b) for v, b in gen._outputs() if v is not out]

    def element(full: list) -> str:
        env = gen._expr_env(x)
        for v, b in side:
            m = broadcast_map(gen.table, v, x)
            gen.em.store(v.type.dtype, env(v, full), gen.ptr(b), gen.offset(m, full))
        return env(x, full)
    return element


def _count(gen: "KernelGen", red: Op) -> str:
    """The number of elements reduced into each output element (an i64 operand)."""
    x, out = red.operands[0], red.result
    cnt = gen.table.ref(("count", id(red)), lambda s, xi=id(x), oi=id(out):
                        (int(np.prod(s[xi], dtype=np.int64)) //
                         max(1, int(np.prod(s[oi], dtype=np.int64)))) if
                        int(np.prod(s[oi], dtype=np.int64)) else 0)
    return gen.ref(cnt)


def _float_sum(gen: "KernelGen", red: Op) -> None:
    em = gen.em
    x, out = red.operands[0], red.result
    dt = out.type.dtype
    ob = gen.ptr(gen.mb.storage[id(out)])
    mean = red.opname == "reduce_mean"
    cnt = _count(gen, red) if mean else None
    omap, reduced_static, kept = reduce_out_map(gen, red)
    rank = len(x.type.shape)
    bounds = [gen.ref(dim_ref(gen.table, x, a)) for a in range(rank)]
    element = _element_fn(gen, red)
    n_out = gen.ref(numel_ref(gen.table, out))

    def finish(w: str) -> str:
        """The float64 sum ``w`` as the result: divided by the count for a mean, rounded."""
        if mean:
            w = em.op(f"fdiv double {w}, {em.op(f'sitofp i64 {cnt} to double')}")
        return narrow(em, dt, w)

    inner = bool(rank) and reduced_static[-1]
    if inner and all(kept[:-1]):
        # each output element is one row: sum it in blocks and store it
        def row(idx):
            w = blocked_sum(em, dt, bounds[-1], lambda i: element(idx + [i]))
            off = gen.offset(IndexMap(omap.base, omap.strides[:-1]), idx)
            em.store(dt, finish(w), ob, off)
        em.loops(bounds[:-1], row)
        return
    if not inner and rank >= 2 and reduced_static[0] and dt.short == "f32" and accum.COLUMN_BLOCK:
        _column_sum(gen, red, element, bounds, omap, finish)
        return
    # several rows (or every element) add into one output element: a float64 accumulator
    # per output element (the result buffer itself for float64 sums)
    in_place = dt.short == "f64"
    acc = ob if in_place else gen.scratch(
        lambda s, oi=id(out): 8 * max(1, int(np.prod(s[oi], dtype=np.int64))))
    em.loops([n_out], lambda idx: em.store(float64, "0.0", acc, idx[0]))

    def add(off: str, w: str) -> None:
        old = em.load(float64, acc, off)
        em.store(float64, em.op(f"fadd double {old}, {w}"), acc, off)
    if inner:
        def row_add(idx):
            w = blocked_sum(em, dt, bounds[-1], lambda i: element(idx + [i]))
            add(gen.offset(IndexMap(omap.base, omap.strides[:-1]), idx), w)
        em.loops(bounds[:-1], row_add)
    else:
        em.loops(bounds, lambda idx: add(gen.offset(omap, idx), widen(em, dt, element(idx))))
    if not (in_place and not mean):
        em.loops([n_out], lambda idx: em.store(
            dt, finish(em.load(float64, acc, idx[0])), ob, idx[0]))


def _column_sum(gen: "KernelGen", red: Op, element, bounds: list, omap: IndexMap,
                finish) -> None:
    """A float32 sum over leading axes (axis 0 among them; the innermost kept): chunks of
    axis 0 of about COLUMN_BLOCK terms per output element are added in float32 into the
    result buffer (the old loop, vectorized along the kept axes), which is then flushed into a
    float64 accumulator per output element."""
    em = gen.em
    x, out = red.operands[0], red.result
    dt = out.type.dtype
    ob = gen.ptr(gen.mb.storage[id(out)])
    n_out = gen.ref(numel_ref(gen.table, out))
    others = [a for a in range(1, len(bounds)) if omap.strides[a] is ZERO]

    def rows_per_chunk(s, xi=id(x)) -> int:
        per_row = int(np.prod([s[xi][a] for a in others], dtype=np.int64))
        return max(1, accum.COLUMN_BLOCK // max(1, per_row))
    R = gen.runtime_param(("colblock", id(red)), rows_per_chunk)
    nch = gen.runtime_param(("colchunks", id(red)), lambda s, xi=id(x):
                            -(-int(s[xi][0]) // rows_per_chunk(s)))
    acc = gen.scratch(lambda s, oi=id(out): 8 * max(1, int(np.prod(s[oi], dtype=np.int64))))

    def zero(idx):
        em.store(float64, "0.0", acc, idx[0])
        em.store(dt, const(0.0, dt), ob, idx[0])
    em.loops([n_out], zero)

    def chunk(cidx):
        start = em.op(f"mul i64 {cidx[0]}, {R}", "o")
        rest = em.op(f"sub i64 {bounds[0]}, {start}", "o")
        m = em.op(f"select i1 {em.op(f'icmp slt i64 {rest}, {R}', 'o')}, i64 {rest}, i64 {R}", "o")

        def body(idx):
            full = [em.op(f"add nuw nsw i64 {start}, {idx[0]}", "o")] + idx[1:]
            off = gen.offset(omap, full)
            v = element(full)
            old = em.load(dt, ob, off)
            em.store(dt, em.op(f"fadd float {old}, {v}"), ob, off)
        em.loops([m] + bounds[1:], body)

        def flush(idx):
            a = em.load(float64, acc, idx[0])
            p = em.load(dt, ob, idx[0])
            em.store(float64, em.op(f"fadd double {a}, {widen(em, dt, p)}"), acc, idx[0])
            em.store(dt, const(0.0, dt), ob, idx[0])
        em.loops([n_out], flush)
    em.loops([nch], chunk)
    em.loops([n_out], lambda idx: em.store(dt, finish(em.load(float64, acc, idx[0])), ob, idx[0]))


def _running_reduce(gen: "KernelGen", red: Op, kind: str) -> None:
    """max, min, prod and integer sums (and means): one running value per output element."""
    em = gen.em
    x, out = red.operands[0], red.result
    dt = out.type.dtype
    t = rtype(dt)
    ob = gen.mb.storage[id(out)]
    ident = {"sum": 0, "prod": 1}.get(kind)
    if ident is None:
        if dt.is_floating:
            ident = float("-inf") if kind == "max" else float("inf")
        else:
            info = np.iinfo(dt.np)
            ident = info.min if kind == "max" else info.max
    n_out = gen.ref(numel_ref(gen.table, out))
    em.loops([n_out], lambda idx: em.store(dt, const(ident, dt), gen.ptr(ob), idx[0]))
    omap, reduced_static, _ = reduce_out_map(gen, red)
    rank = len(x.type.shape)
    bounds = [gen.ref(dim_ref(gen.table, x, a)) for a in range(rank)]
    element = _element_fn(gen, red)

    def combine(a: str, b: str) -> str:
        if kind == "sum":
            return em.op(f"{'fadd reassoc nsz' if dt.is_floating else 'add'} {t} {a}, {b}")
        if kind == "prod":
            return em.op(f"{'fmul reassoc nsz' if dt.is_floating else 'mul'} {t} {a}, {b}")
        if dt.is_floating:   # NaN-propagating, as NumPy's max/min (and vectorizable)
            fn = f"llvm.{'maximum' if kind == 'max' else 'minimum'}.{dt.short}"
            return em.op(f"call {t} @{fn}({t} {a}, {t} {b})")
        c = em.op(f"icmp {('u' if dt.is_unsigned else 's') + ('gt' if kind == 'max' else 'lt')} "
                  f"{t} {a}, {b}")
        return em.op(f"select i1 {c}, {t} {a}, {t} {b}")

    if rank and reduced_static[-1]:
        # innermost axis reduced: accumulate in a register, then read-modify-write
        def outer_body(idx):
            L = em.fresh("R")
            pre = em.cur
            em.br(f"{L}.head")
            em.label(f"{L}.head")
            i, acc = f"%{L}.i", f"%{L}.acc"
            em(f"{i} = phi i64 [0, %{pre}], [{i}.next, %{L}.latch]")
            phi_at = len(em.lines)
            em(f"{acc} = phi {t} [{const(ident, dt)}, %{pre}], [__NEXT__, %{L}.latch]")
            em(f"%{L}.c = icmp slt i64 {i}, {bounds[-1]}")
            em(f"br i1 %{L}.c, label %{L}.body, label %{L}.exit")
            em.label(f"{L}.body")
            nxt = combine(acc, element(idx + [i]))
            em.lines[phi_at] = em.lines[phi_at].replace("__NEXT__", nxt)
            em.br(f"{L}.latch")
            em.label(f"{L}.latch")
            em(f"{i}.next = add nuw nsw i64 {i}, 1")
            em.br(f"{L}.head")
            em.label(f"{L}.exit")
            off = gen.offset(IndexMap(omap.base, omap.strides[:-1]), idx)
            old = em.load(dt, gen.ptr(ob), off)
            em.store(dt, combine(old, acc), gen.ptr(ob), off)
        em.loops(bounds[:-1], outer_body)
    else:
        def body(idx):
            off = gen.offset(omap, idx)
            v = element(idx)
            old = em.load(dt, gen.ptr(ob), off)
            em.store(dt, combine(old, v), gen.ptr(ob), off)
        em.loops(bounds, body)
    if red.opname == "reduce_mean":    # integer means truncate toward zero
        c = _count(gen, red)

        def fin(idx):
            old = em.load(dt, gen.ptr(ob), idx[0])
            ci = c if t == "i64" else em.op(f"trunc i64 {c} to {t}")
            zero = em.op(f"icmp eq {t} {ci}, 0")
            safe = em.op(f"select i1 {zero}, {t} 1, {t} {ci}")
            div = "udiv" if dt.is_unsigned else "sdiv"
            em.store(dt, em.op(f"{div} {t} {old}, {safe}"), gen.ptr(ob), idx[0])
        em.loops([n_out], fin)


def reduce_out_map(gen: "KernelGen", red: Op) -> tuple[IndexMap, list[bool], list[bool]]:
    """Map from the input's index to the output offset (stride 0 on reduced axes), which input
    axes are statically reduced, and which are statically kept (distinct indices there are
    distinct output elements; a ``sum_to`` axis whose broadcast is known only at run time is
    neither)."""
    table = gen.table
    x, out = red.operands[0], red.result
    rank = len(x.type.shape)
    if red.opname == "sum_to":
        like = red.operands[1]
        lead = rank - len(like.type.shape)
        strides, static_red, kept = [], [], []
        for a in range(rank):
            if a < lead:
                strides.append(ZERO); static_red.append(True); kept.append(False)
                continue
            k = a - lead
            d, xd = like.type.shape[k], x.type.shape[a]
            if d == 1 and xd != 1:
                strides.append(ZERO); static_red.append(True); kept.append(False)
            elif d == xd and d is not None:
                strides.append(contig_stride(table, out, k)); static_red.append(False)
                kept.append(True)
            else:
                strides.append(table.ref(
                    ("sumto", id(red), a), lambda s, oi=id(out), xi=id(x), k=k, a=a:
                    0 if s[oi][k] == 1 and s[xi][a] != 1 else int(np.prod(s[oi][k + 1:], dtype=np.int64))))
                static_red.append(False); kept.append(False)
        return IndexMap(ZERO, strides), static_red, kept
    axes = reduced_axes(rank, red.attrs["axes"])
    keep = red.attrs["keepdims"]
    strides, static_red, k = [], [], 0
    for a in range(rank):
        if a in axes:
            strides.append(ZERO); static_red.append(True)
            if keep:
                k += 1
        else:
            strides.append(contig_stride(table, out, k)); static_red.append(False)
            k += 1
    return IndexMap(ZERO, strides), static_red, [not r for r in static_red]
