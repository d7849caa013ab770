"""Max and average pooling and their gradients: loops over each window's valid taps."""
from __future__ import annotations


import numpy as np

from ....ir.core import Op, Value
from ....ir.dtypes import DType
from .. import threads
from ..compiler import CUSTOM_KERNELS
from ..emitter import const, rtype
from ..parallel import PARALLEL_MIN
from .ir import _IR, _dims, _numel, _reader, _zero
from .conv import _Conv, _krange, _out_pixels, _pad_before, _taps
from .conv_gemm import _run_units


class _Pool(_Conv):
    """Pooling dims: x (N,H,W,C), pooled y (N,OH,OW,C); static window."""

    def __init__(self, gen, op: Op, x: Value, y: Value) -> None:
        self.x, self.y = x, y
        self.KH, self.KW = (str(k) for k in op.attrs["ksize"])
        self.sh, self.sw = op.attrs["strides"]
        self.dh = self.dw = 1
        pad = op.attrs["padding"]
        self.N, self.H, self.W, self.C = _dims(gen, x)
        self.O = self.C
        self.OH, self.OW = gen.dim(y, 1), gen.dim(y, 2)
        self.PT = _pad_before(gen, op, x, 1, op.attrs["ksize"][0], self.sh, 1, pad)
        self.PL = _pad_before(gen, op, x, 2, op.attrs["ksize"][1], self.sw, 1, pad)
        self.dt = x.type.dtype


def _lowest(dt: DType) -> str:
    return const(float("-inf"), dt) if dt.is_floating else str(np.iinfo(dt.np).min)


def _window_count(ir: _IR, pl: _Pool, h0: str, w0: str) -> str:
    khlo, khhi = _krange(ir, h0, pl.H, pl.KH, 1)
    kwlo, kwhi = _krange(ir, w0, pl.W, pl.KW, 1)
    return ir.mul(ir.smax(ir.sub(khhi, khlo), "0"), ir.smax(ir.sub(kwhi, kwlo), "0"))


def _pool_forward(gen, op: Op, average: bool) -> None:
    """Max or average pooling: each output pixel starts at the lowest value (zero), every
    window tap folds in with max (add), and the average divides by the window's real size."""
    x = op.operands[0]
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    pl = _Pool(gen, op, x, op.result)
    dt = pl.dt
    rx = _reader(gen, x)
    combine = ir.fadd if average else ir.vmax

    nimg, cap, _ = _image_units(gen, op, x)

    def pixel(n, h0, w0, yb):
        ir.fill(dt, ir.gep(dt, yp, yb), pl.C, _zero(dt) if average else _lowest(dt))

        def tap(kh, kw, xb):
            def c_(c):
                o = ir.add(yb, c)
                ir.st(dt, combine(dt, ir.ld(dt, yp, o), rx(ir.add(xb, c))), yp, o)
            ir.vloop(pl.C, c_)
        _taps(ir, pl, n, h0, w0, tap)
        if average:
            cnt = ir.i64_to(dt, _window_count(ir, pl, h0, w0))

            def div(c):
                o = ir.add(yb, c)
                ir.st(dt, ir.fdiv(dt, ir.ld(dt, yp, o), cnt), yp, o)
            ir.vloop(pl.C, div)
    _run_units(gen, ir, nimg, cap, True,
               lambda lo, hi, tid: _out_pixels(ir, pl, pixel, images=(lo, hi)),
               lambda nt: None, blas=False)


def _max_pool(gen, op: Op) -> None:
    _pool_forward(gen, op, average=False)


def _avg_pool(gen, op: Op) -> None:
    _pool_forward(gen, op, average=True)


def _avg_pool_grad(gen, op: Op) -> None:
    g, like = op.operands
    dp = gen.out_ptr(op.result)
    if dp is None:
        return
    ir = _IR(gen)
    pl = _Pool(gen, op, like, g)
    dt = pl.dt
    rg = _reader(gen, g)
    ir.fill(dt, dp, _numel(ir, gen, like), _zero(dt))

    def pixel(n, h0, w0, gb):
        cnt = ir.i64_to(dt, _window_count(ir, pl, h0, w0))

        def tap(kh, kw, xb):
            def c_(c):
                o = ir.add(xb, c)
                q = ir.fdiv(dt, rg(ir.add(gb, c)), cnt)
                ir.st(dt, ir.fadd(dt, ir.ld(dt, dp, o), q), dp, o)
            ir.vloop(pl.C, c_)
        _taps(ir, pl, n, h0, w0, tap)
    _out_pixels(ir, pl, pixel)


def _argmax_window(gen, ir: _IR, pl: _Pool, rx, n, h0, w0, best: str, arg: str) -> None:
    """Per channel c: arg[c] = offset of x[n, ih, iw, 0] for the window's first maximum
    (row-major over the window's taps inside the input; a NaN beats everything)."""
    dt = pl.dt
    khlo, _ = _krange(ir, h0, pl.H, pl.KH, 1)
    kwlo, _ = _krange(ir, w0, pl.W, pl.KW, 1)
    first = ir.mul(ir.add(ir.mul(ir.add(ir.mul(n, pl.H), ir.add(h0, khlo)), pl.W),
                          ir.add(w0, kwlo)), pl.C)

    def init(c):
        ir.st(dt, rx(ir.add(first, c)), best, c)
        ir.put("i64", first, ir.gep_i64(arg, c))
    ir.vloop(pl.C, init)

    def tap(kh, kw, xb):
        def c_(c):
            v = rx(ir.add(xb, c))
            b = ir.ld(dt, best, c)
            if dt.is_floating:
                gt = ir.em.op(f"fcmp ogt {rtype(dt)} {v}, {b}")
                nan = ir.and_(ir.isnan(dt, v), ir.not_(ir.isnan(dt, b)))
                take = ir.or_(gt, nan)
            else:
                take = ir.em.op(f"icmp {'ugt' if dt.is_unsigned else 'sgt'} {rtype(dt)} {v}, {b}")
            ir.st(dt, ir.sel(take, rtype(dt), v, b), best, c)
            p = ir.gep_i64(arg, c)
            old = ir.get("i64", p)
            ir.put("i64", ir.sel(take, "i64", xb, old), p)
        ir.vloop(pl.C, c_)
    _taps(ir, pl, n, h0, w0, tap)


def _image_units(gen, op: Op, x: Value):
    """(images, thread cap, cap value function) for a pooling kernel split over images on
    jitflow's threads (conv_gemm._run_units): one thread below PARALLEL_MIN elements."""
    xi = id(x)

    def cap_fn(s):
        if int(np.prod(s[xi], dtype=np.int64)) < PARALLEL_MIN:
            return 1
        return max(threads.available_cpus(), threads.fixed_threads() or 1)
    n = gen.runtime_param(("pool_images", id(op)), lambda s: s[xi][0])
    return n, gen.runtime_param(("pool_cap", id(op)), cap_fn), cap_fn


def _max_pool_grad(gen, op: Op) -> None:
    """Each image by one thread: its input-gradient rows are zero-filled and scattered into
    by it alone (windows never cross images)."""
    x, g = op.operands
    dp = gen.out_ptr(op.result)
    if dp is None:
        return
    ir = _IR(gen)
    pl = _Pool(gen, op, x, g)
    dt = pl.dt
    rx, rg = _reader(gen, x), _reader(gen, g)
    isz = dt.np.itemsize
    nimg, cap, cap_fn = _image_units(gen, op, x)
    best = gen.scratch(lambda s, xi=id(x): s[xi][3] * isz * cap_fn(s))
    arg = gen.scratch(lambda s, xi=id(x): s[xi][3] * 8 * cap_fn(s))
    img = ir.mul(pl.H, pl.W, pl.C)

    def body(lo, hi, tid):
        mybest = ir.gep(dt, best, ir.mul(tid, pl.C))
        myarg = ir.gep_i64(arg, ir.mul(tid, pl.C))
        ir.fill(dt, ir.gep(dt, dp, ir.mul(lo, img)), ir.mul(ir.sub(hi, lo), img), _zero(dt))

        def pixel(n, h0, w0, gb):
            _argmax_window(gen, ir, pl, rx, n, h0, w0, mybest, myarg)

            def tap(kh, kw, xb):
                def c_(c):
                    o = ir.add(xb, c)
                    hit = ir.em.op(f"icmp eq i64 {ir.get('i64', ir.gep_i64(myarg, c))}, {xb}")
                    add = ir.sel(hit, rtype(dt), rg(ir.add(gb, c)), _zero(dt))
                    ir.st(dt, ir.fadd(dt, ir.ld(dt, dp, o), add), dp, o)
                ir.vloop(pl.C, c_)
            _taps(ir, pl, n, h0, w0, tap)
        _out_pixels(ir, pl, pixel, images=(lo, hi))
    _run_units(gen, ir, nimg, cap, True, body, lambda nt: None, blas=False)


def _max_pool_grad_grad(gen, op: Op) -> None:
    x, gg = op.operands
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    pl = _Pool(gen, op, x, op.result)
    dt = pl.dt
    rx, rgg = _reader(gen, x), _reader(gen, gg)
    isz = dt.np.itemsize
    best = gen.scratch(lambda s, xi=id(x): s[xi][3] * isz)
    arg = gen.scratch(lambda s, xi=id(x): s[xi][3] * 8)

    def pixel(n, h0, w0, yb):
        _argmax_window(gen, ir, pl, rx, n, h0, w0, best, arg)

        def c_(c):
            a = ir.get("i64", ir.gep_i64(arg, c))
            ir.st(dt, rgg(ir.add(a, c)), yp, ir.add(yb, c))
        ir.vloop(pl.C, c_)
    _out_pixels(ir, pl, pixel)


CUSTOM_KERNELS.update({
    "max_pool": _max_pool,
    "avg_pool": _avg_pool,
    "max_pool_grad": _max_pool_grad,
    "max_pool_grad_grad": _max_pool_grad_grad,
    "avg_pool_grad": _avg_pool_grad,
})
