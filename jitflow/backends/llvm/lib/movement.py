"""split, pad, tile and tile_grad: plain loop nests."""
from __future__ import annotations


import numpy as np

from ....ir.core import Op, Value
from ..compiler import CUSTOM_KERNELS
from ..emitter import const
from .ir import _IR, _dims, _numel, _reader, _zero


def _split(gen, op: Op) -> None:
    x = op.operands[0]
    ir = _IR(gen)
    dt = x.type.dtype
    rank = len(x.type.shape)
    ax = op.attrs["axis"] % rank
    dims = _dims(gen, x)
    pre, D, inner = ir.prod(dims[:ax]), dims[ax], ir.prod(dims[ax + 1:])
    rx = _reader(gen, x)
    start = "0"
    for r in op.results:
        dr = gen.dim(r, ax)
        yp = gen.out_ptr(r)
        if yp is not None:
            def body(ix, yp=yp, dr=dr, start=start):
                q, a = ix
                xb = ir.mul(ir.add(ir.mul(q, D), start, a), inner)
                yb = ir.mul(ir.add(ir.mul(q, dr), a), inner)
                ir.vloop(inner, lambda i: ir.st(dt, rx(ir.add(xb, i)), yp, ir.add(yb, i)))
            ir.loops([pre, dr], body)
        start = ir.add(start, dr)


def _pad(gen, op: Op) -> None:
    x = op.operands[0]
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    dt = x.type.dtype
    rank = len(x.type.shape)
    pads = op.attrs["paddings"]
    value = op.attrs["value"]
    if dt.is_bool:
        v = "true" if value else "false"
    elif dt.is_integer:
        v = str(int(np.asarray(value).astype(dt.np)))
    else:
        v = const(value, dt)
    ir.fill(dt, yp, _numel(ir, gen, op.result), v)
    rx = _reader(gen, x)
    xd, yd = _dims(gen, x), _dims(gen, op.result)
    ys = [ir.prod(yd[a + 1:]) for a in range(rank)]
    xs = [ir.prod(xd[a + 1:]) for a in range(rank)]

    def body(idx):
        yo = ir.add(*[ir.mul(ir.add(i, pads[2 * a]), ys[a]) for a, i in enumerate(idx)]) if idx else "0"
        xo = ir.add(*[ir.mul(i, xs[a]) for a, i in enumerate(idx)]) if idx else "0"
        ir.st(dt, rx(xo), yp, yo)
    ir.loops(xd, body)


def _tile_loops(gen, ir: _IR, small: Value, big: Value, multiples, body) -> None:
    """body(small_offset, big_offset) over big[..., m_k * d_k + i_k, ...] = small[..., i_k, ...]."""
    rank = len(small.type.shape)
    sd, bd = _dims(gen, small), _dims(gen, big)
    ss = [ir.prod(sd[a + 1:]) for a in range(rank)]
    bs = [ir.prod(bd[a + 1:]) for a in range(rank)]
    bounds = []
    for a in range(rank):
        bounds += [str(multiples[a]), sd[a]]

    def inner(idx):
        so = ir.add(*[ir.mul(idx[2 * a + 1], ss[a]) for a in range(rank)]) if rank else "0"
        bo = ir.add(*[ir.mul(ir.add(ir.mul(idx[2 * a], sd[a]), idx[2 * a + 1]), bs[a])
                      for a in range(rank)]) if rank else "0"
        body(so, bo)
    ir.loops(bounds, inner)


def _tile(gen, op: Op) -> None:
    x = op.operands[0]
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    dt = x.type.dtype
    rx = _reader(gen, x)
    _tile_loops(gen, ir, x, op.result, op.attrs["multiples"],
                lambda so, bo: ir.st(dt, rx(so), yp, bo))


def _tile_grad(gen, op: Op) -> None:
    g, like = op.operands
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    dt = g.type.dtype
    rg = _reader(gen, g)
    ir.fill(dt, yp, _numel(ir, gen, like), _zero(dt))
    _tile_loops(gen, ir, like, g, op.attrs["multiples"],
                lambda so, bo: ir.st(dt, ir.fadd(dt, ir.ld(dt, yp, so), rg(bo)), yp, so))


CUSTOM_KERNELS.update({
    "split": _split,
    "pad": _pad,
    "tile": _tile,
    "tile_grad": _tile_grad,
})
