"""Strided copies and fills, and the ops they make: shape, tile / tile_grad, concat,
split, pad, strided_slice_grad (kernel sources and launches)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ....ir.core import Op
from ....ir.dtypes import DType
from ....kernels.indexmap import contig
from ..source import CTOR, slice_map
from ..steps import Launch, Step
from . import GRID_LOOP, TEMPLATES, _acc_t, _dt, _prod, _shape, _unravel, kernel, library_op

if TYPE_CHECKING:
    from ..executable import CUDAExecutable


def _copy_strided_src(rank: int) -> str:
    """dst[db + sum ix*ds] = src[sb + sum ix*ss] over dims (rank >= 1)."""
    d = " + ".join(f"ix{a} * ds[{a}]" for a in range(rank))
    s = " + ".join(f"ix{a} * ss[{a}]" for a in range(rank))
    return (f"def kernel(n, dims, dst, db, ds, src, sb, ss):\n{GRID_LOOP}"
            f"{_unravel('i', 'dims', rank, 'ix', '        ')}\n"
            f"        dst[db + {d}] = src[sb + {s}]\n"
            f"        i += _st\n")


def _fill_src() -> str:
    return f"def kernel(n, dst, value):\n{GRID_LOOP}        dst[i] = value\n        i += _st\n"


def _tile_src(rank: int) -> str:
    lines = ["def kernel(n, odims, idims, dst, src):", GRID_LOOP.rstrip("\n"),
             _unravel("i", "odims", rank, "ix", "        "),
             "        off = 0", "        acc = 1"]
    for a in range(rank - 1, -1, -1):
        lines.append(f"        off += (ix{a} % idims[{a}]) * acc")
        lines.append(f"        acc *= idims[{a}]")
    lines += ["        dst[i] = src[off]", "        i += _st"]
    return "\n".join(lines) + "\n"


def _tile_grad_src(rank: int, dt: DType) -> str:
    acc_t = _acc_t(dt)
    lines = ["def kernel(n, idims, mult, ntile, out, g):", GRID_LOOP.rstrip("\n"),
             _unravel("i", "idims", rank, "ix", "        "),
             f"        acc = {acc_t}(0)",
             "        t = 0",
             "        while t < ntile:",
             _unravel("t", "mult", rank, "jx", "            "),
             "            off = 0",
             "            st = 1"]
    for a in range(rank - 1, -1, -1):
        lines.append(f"            off += (jx{a} * idims[{a}] + ix{a}) * st")
        lines.append(f"            st *= idims[{a}] * mult[{a}]")
    lines += [f"            acc = acc + {acc_t}(g[off])", "            t += 1",
              f"        out[i] = {CTOR[dt.short]}(acc)", "        i += _st"]
    return "\n".join(lines) + "\n"


TEMPLATES["copy_strided"] = lambda rank: _copy_strided_src(rank)
TEMPLATES["fill"] = lambda: _fill_src()
TEMPLATES["tile"] = lambda rank: _tile_src(rank)
TEMPLATES["tile_grad"] = lambda rank, dt: _tile_grad_src(rank, dt)


@library_op("shape")
def _shape_op(ex: CUDAExecutable, step: Step, op: Op) -> None:
    out = step.writes[0]
    step.reads = []

    def bind(shapes, plan):
        arr = np.array(shapes[id(op.operands[0])], dtype=op.attrs["dtype"].np)

        def fn(bufs, args, arr=arr, idx=out.idx):
            if arr.size:
                bufs[idx][:arr.size].copy_to_device(arr)
        return [Launch(fn=fn)]
    step.bind = bind


@library_op("tile")
def _tile(ex: CUDAExecutable, step: Step, op: Op) -> None:
    x = op.operands[0]
    out = step.writes[0]
    ixb = ex.storage[id(x)].idx

    def bind(shapes, plan):
        xs, os_ = _shape(shapes, x), _shape(shapes, op.result)
        n = _prod(os_)
        if n == 0:
            return []
        if not xs:
            return ex._copy_launches(out.idx, ixb, (1,))
        k = kernel("tile", rank=len(xs))
        grid, block = ex.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (0, os_), (0, xs), (1, out.idx), (1, ixb)])]
    step.bind = bind


@library_op("tile_grad")
def _tile_grad(ex: CUDAExecutable, step: Step, op: Op) -> None:
    g, like = op.operands
    out = step.writes[0]
    igb = ex.storage[id(g)].idx

    def bind(shapes, plan):
        ls = _shape(shapes, like)
        n = _prod(ls)
        if n == 0:
            return []
        if not ls:
            return ex._copy_launches(out.idx, igb, (1,))
        mult = tuple(int(m) for m in op.attrs["multiples"])
        ntile = _prod(mult)
        if ntile == 0:
            return ex._fill_launch(out.idx, n, 0)
        k = kernel("tile_grad", rank=len(ls), dt=_dt(g))
        grid, block = ex.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (0, ls), (0, mult), (0, ntile), (1, out.idx),
                                        (1, igb)])]
    step.bind = bind


@library_op("concat")
def _concat(ex: CUDAExecutable, step: Step, op: Op) -> None:
    out = step.writes[0]
    ins = [(v, ex.storage[id(v)].idx) for v in op.operands]

    def bind(shapes, plan):
        os_ = _shape(shapes, op.result)
        ax = op.attrs["axis"] % len(os_)
        cs = contig(os_)
        launches, start = [], 0
        for v, i in ins:
            vs = _shape(shapes, v)
            launches += ex._copy_launches(out.idx, i, vs, db=start * cs[ax], ds=cs)
            start += vs[ax]
        return launches
    step.bind = bind


@library_op("split")
def _split(ex: CUDAExecutable, step: Step, op: Op) -> None:
    x = op.operands[0]
    ixb = ex.storage[id(x)].idx
    outs = list(zip(op.results, step.writes))

    def bind(shapes, plan):
        xs = _shape(shapes, x)
        ax = op.attrs["axis"] % len(xs)
        cs = contig(xs)
        launches, start = [], 0
        for r, b in outs:
            rs = _shape(shapes, r)
            launches += ex._copy_launches(b.idx, ixb, rs, sb=start * cs[ax], ss=cs)
            start += rs[ax]
        return launches
    step.bind = bind


@library_op("pad")
def _pad(ex: CUDAExecutable, step: Step, op: Op) -> None:
    x = op.operands[0]
    out = step.writes[0]
    ixb = ex.storage[id(x)].idx
    dt = _dt(x)

    def bind(shapes, plan):
        xs, os_ = _shape(shapes, x), _shape(shapes, op.result)
        pads = op.attrs["paddings"]
        value = np.asarray(op.attrs["value"]).astype(dt.np).item()
        launches = ex._fill_launch(out.idx, _prod(os_), value)
        if not xs:
            return ex._copy_launches(out.idx, ixb, (1,))
        cs = contig(os_)
        db = sum(pads[2 * a] * cs[a] for a in range(len(xs)))
        return launches + ex._copy_launches(out.idx, ixb, xs, db=db, ds=cs)
    step.bind = bind


@library_op("strided_slice_grad")
def _ssg(ex: CUDAExecutable, step: Step, op: Op) -> None:
    g, like = op.operands
    out = step.writes[0]
    igb = ex.storage[id(g)].idx

    def bind(shapes, plan):
        ls, gs = _shape(shapes, like), _shape(shapes, g)
        launches = ex._fill_launch(out.idx, _prod(ls), 0)
        if _prod(gs) == 0:
            return launches
        base, st = slice_map(ls, op.attrs)
        if not gs:
            return launches + ex._copy_launches(out.idx, igb, (1,), db=base, ds=(0,))
        return launches + ex._copy_launches(out.idx, igb, gs, db=base, ds=st)
    step.bind = bind

