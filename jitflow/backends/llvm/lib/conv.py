"""conv2d and its backprops: the geometry, the direct loop nests, im2col and the GEMM call
(conv_gemm.py holds the kernels: strategy, GEMM chunks, epilogue, threads; see the package
docstring for the choice)."""
from __future__ import annotations

import os
from typing import Callable



from ....ir.core import Op, Value
from ....ir.dtypes import DType, float64
from ....ops.window import window_geometry
from ..accum import SUM_BLOCK, widen
from ..compiler import mb_have_blas
from ..emitter import const, rtype
from .ir import _IR, _dims, _numel, _ptr, _reader, _zero, _is_int



#: bytes of im2col scratch per chunk of output rows (fits the L2 cache beside the GEMM's
#: packed panels); JITFLOW_IM2COL_BYTES overrides it (benchmarks)
IM2COL_BYTES = int(os.environ.get("JITFLOW_IM2COL_BYTES", 1 << 19))



def _conv_mode() -> str:
    """"auto" (default), or "direct" / "gemm" to force a convolution strategy."""
    return os.environ.get("JITFLOW_CONV", "auto")


def _pad_before(gen, op: Op, x: Value, a: int, k, s: int, d: int, padding: str) -> str:
    """TF's pad-before on spatial axis a (1 = H, 2 = W) of NHWC x; k is a static window size
    or (filter value, axis)."""
    if padding == "VALID":
        return "0"
    size = x.type.shape[a]
    ks = k if isinstance(k, int) else k[0].type.shape[k[1]]
    if isinstance(size, int) and isinstance(ks, int):
        return str(window_geometry(size, ks, s, d, padding)[1])

    def fn(shapes, xi=id(x), a=a, k=k):
        kk = k if isinstance(k, int) else shapes[id(k[0])][k[1]]
        return window_geometry(shapes[xi][a], kk, s, d, padding)[1]
    return gen.runtime_param(("nn_pad", id(op), a), fn)


def _krange(ir: _IR, h0: str, H: str, K: str, d: int) -> tuple[str, str]:
    """Taps k in [lo, hi) of a window starting at h0 (dilation d) that fall inside [0, H)."""
    if d == 1:
        return ir.smax("0", ir.sub("0", h0)), ir.smin(K, ir.sub(H, h0))
    lo = ir.smax("0", ir.div(ir.add(ir.sub("0", h0), d - 1), d))
    hi = ir.smin(K, ir.div(ir.add(ir.sub(H, h0), d - 1), d))
    return lo, hi


class _Conv:
    """Dims of a convolution: input-like x (N,H,W,C), filter-like w (KH,KW,C,O), output-like
    y (N,OH,OW,O)."""

    def __init__(self, gen, op: Op, x: Value, w: Value, y: Value) -> None:
        self.x, self.w, self.y = x, w, y
        (self.sh, self.sw), (self.dh, self.dw) = op.attrs["strides"], op.attrs["dilations"]
        pad = op.attrs["padding"]
        self.N, self.H, self.W, self.C = _dims(gen, x)
        self.KH, self.KW, _, self.O = _dims(gen, w)
        self.OH, self.OW = gen.dim(y, 1), gen.dim(y, 2)
        self.PT = _pad_before(gen, op, x, 1, (w, 0), self.sh, self.dh, pad)
        self.PL = _pad_before(gen, op, x, 2, (w, 1), self.sw, self.dw, pad)
        self.dt = y.type.dtype
        ir = _IR(gen)
        self.K = ir.mul(self.KH, self.KW, self.C)



def _gemm(ir: _IR, dt: DType, ta: bool, tb: bool, M, N, K, A, lda, B, ldb, C, ldc,
          beta: float) -> None:
    """C (M x N, row stride ldc) = A @ B + beta * C, with A (M x K) and B (K x N) stored
    row-major (transposed when ta / tb); BLAS when available."""
    em = ir.em
    t = rtype(dt)
    M, N, K = str(M), str(N), str(K)
    if dt.is_floating and mb_have_blas():
        fn = "jf_cblas_sgemm" if dt.short == "f32" else "jf_cblas_dgemm"
        some = ir.and_(ir.cmp("sgt", M, "0"), ir.cmp("sgt", N, "0"))
        kpos = ir.cmp("sgt", K, "0")

        def call():
            em(f"call void @{fn}(i32 101, i32 {112 if ta else 111}, i32 {112 if tb else 111}, "
               f"i64 {M}, i64 {N}, i64 {K}, {t} {const(1.0, dt)}, ptr {A}, i64 {ir.smax(lda, 1)}, "
               f"ptr {B}, i64 {ir.smax(ldb, 1)}, {t} {const(beta, dt)}, ptr {C}, "
               f"i64 {ir.smax(ldc, 1)})")

        def k_empty():
            if beta == 0:
                ir.loops([M, N], lambda ij: ir.st(dt, _zero(dt), C, ir.add(ir.mul(ij[0], ldc), ij[1])))
        ir.if_(ir.and_(some, kpos), call, lambda: ir.if_(some, k_empty))
        return

    def row(i):
        crow = ir.mul(i, ldc)
        if beta == 0:
            ir.loop(N, lambda j: ir.st(dt, _zero(dt), C, ir.add(crow, j)))

        def kloop(k):
            av = ir.ld(dt, A, ir.add(ir.mul(k, lda), i) if ta else ir.add(ir.mul(i, lda), k))

            def jloop(j):
                bv = ir.ld(dt, B, ir.add(ir.mul(j, ldb), k) if tb else ir.add(ir.mul(k, ldb), j))
                co = ir.add(crow, j)
                ir.st(dt, ir.fma(dt, ir.ld(dt, C, co), av, bv), C, co)
            ir.loop(N, jloop)
        ir.loop(K, kloop)
    ir.loop(M, row)



def _strategy(gen, cv: _Conv, which: str) -> str:
    """"direct" or "gemm" for this convolution (see the module docstring; measured on the
    MNIST CNN shapes: the direct loop nest wins while the GEMM's inner dimension KH*KW*C is
    tiny, i.e. for the first layer's few input channels)."""
    mode = _conv_mode()
    if mode in ("direct", "gemm"):
        choice = mode
    elif not mb_have_blas() or not cv.dt.is_floating:
        choice = "direct"
    elif not _is_int(cv.C) or not _is_int(cv.O):
        choice = "gemm"
    else:
        C = int(cv.C)
        choice = "direct" if C <= 4 else "gemm"
    if choice == "gemm":
        needed = [cv.x, cv.w] if which == "fwd" else ([cv.y, cv.w] if which == "bpi" else [cv.x, cv.y])
        if any(_ptr(gen, v) is None for v in needed):
            choice = "direct"
    return choice


def _chunking(gen, op: Op, cv: _Conv, x: Value, w: Value, y: Value
              ) -> tuple[str, Callable, Callable]:
    """Output rows per im2col chunk (units of OW pixels: a static int or a run-time parameter),
    the scratch size function and the rows function of shapes (all from the budget as it is
    at compile time)."""
    isz = cv.dt.np.itemsize
    budget = IM2COL_BYTES

    def units(n, oh, ow, k):
        unit = max(1, ow * k * isz)
        return max(1, min(n * oh, budget // unit)), unit

    def from_shapes(s):
        return units(s[id(x)][0], s[id(y)][1], s[id(y)][2], s[id(w)][0] * s[id(w)][1] * s[id(w)][2])

    if all(_is_int(d) for d in (cv.N, cv.OH, cv.OW, cv.K)):
        ru = str(units(int(cv.N), int(cv.OH), int(cv.OW), int(cv.K))[0])
    else:
        ru = gen.runtime_param(("im2col_units", id(op)), lambda s: from_shapes(s)[0])
    return ru, lambda s: from_shapes(s)[0] * from_shapes(s)[1], lambda s: from_shapes(s)[0]


def _rows_of_chunk(ir: _IR, cv: _Conv, u0: str, nu: str, body) -> None:
    """body(r, n, h0, w0) for each output pixel r (within the chunk) of the chunk's rows."""
    def unit(uu):
        u = ir.add(u0, uu)
        n = ir.div(u, cv.OH)
        oh = ir.rem(u, cv.OH)
        h0 = ir.sub(ir.mul(oh, cv.sh), cv.PT)

        def pix(ow):
            r = ir.add(ir.mul(uu, cv.OW), ow)
            w0 = ir.sub(ir.mul(ow, cv.sw), cv.PL)
            body(r, n, h0, w0)
        ir.loop(cv.OW, pix)
    ir.loop(nu, unit)


def _im2col(ir: _IR, cv: _Conv, xp: str, col: str, u0: str, nu: str) -> None:
    dt = cv.dt

    def row(r, n, h0, w0):
        cb = ir.mul(r, cv.K)

        def tap_h(kh):
            ih = ir.add(h0, ir.mul(kh, cv.dh))
            vh = ir.cmp("ult", ih, cv.H)
            rowb = ir.mul(ir.add(ir.mul(n, cv.H), ih), cv.W)

            def tap_w(kw):
                iw = ir.add(w0, ir.mul(kw, cv.dw))
                v = ir.and_(vh, ir.cmp("ult", iw, cv.W))
                cbk = ir.add(cb, ir.mul(ir.add(ir.mul(kh, cv.KW), kw), cv.C))

                def copy():
                    xb = ir.mul(ir.add(rowb, iw), cv.C)
                    ir.vloop(cv.C, lambda c: ir.st(dt, ir.ld(dt, xp, ir.add(xb, c)), col, ir.add(cbk, c)))
                ir.if_(v, copy, lambda: ir.vloop(cv.C, lambda c: ir.st(dt, _zero(dt), col, ir.add(cbk, c))))
            ir.loop(cv.KW, tap_w)
        ir.loop(cv.KH, tap_h)
    _rows_of_chunk(ir, cv, u0, nu, row)


def _taps(ir: _IR, cv: _Conv, n: str, h0: str, w0: str, body) -> None:
    """body(kh, kw, xb) over the window's taps inside the input; xb = offset of x[n,ih,iw,0]."""
    khlo, khhi = _krange(ir, h0, cv.H, cv.KH, cv.dh)
    kwlo, kwhi = _krange(ir, w0, cv.W, cv.KW, cv.dw)

    def th(kh):
        ih = ir.add(h0, ir.mul(kh, cv.dh))
        rowb = ir.mul(ir.add(ir.mul(n, cv.H), ih), cv.W)

        def tw(kw):
            iw = ir.add(w0, ir.mul(kw, cv.dw))
            body(kh, kw, ir.mul(ir.add(rowb, iw), cv.C))
        ir.range(kwlo, kwhi, tw)
    ir.range(khlo, khhi, th)


def _out_pixels(ir: _IR, cv: _Conv, body, row_done=None, images=None) -> None:
    """body(n, h0, w0, yb) for every output pixel (of the images [lo, hi) = ``images``, all
    by default); yb = offset of y[n,oh,ow,0]; row_done(n, oh) after each output row."""
    def nh(idx):
        n, oh = idx
        h0 = ir.sub(ir.mul(oh, cv.sh), cv.PT)
        rb = ir.mul(ir.add(ir.mul(n, cv.OH), oh), cv.OW)

        def pw(ow):
            w0 = ir.sub(ir.mul(ow, cv.sw), cv.PL)
            body(n, h0, w0, ir.mul(ir.add(rb, ow), cv.O))
        ir.loop(cv.OW, pw)
        if row_done is not None:
            row_done(n, oh)
    if images is None:
        ir.loops([cv.N, cv.OH], nh)
        return
    ir.range(images[0], images[1], lambda n: ir.loop(cv.OH, lambda oh: nh([n, oh])))


def _conv2d_direct(gen, op: Op, ir: _IR, cv: _Conv, yp: str, epi=None, images=None) -> None:
    """The direct loop nest of a (fused) conv2d over ``images`` (all by default);
    ``epi(ir, ptr, 1)`` finishes each output pixel (bias, activation) while its channels are
    in registers or L1."""
    x, w = op.operands[:2]
    dt = cv.dt
    rx, rw = _reader(gen, x), _reader(gen, w)

    def pixel(n, h0, w0, yb):
        ir.fill(dt, ir.gep(dt, yp, yb), cv.O, _zero(dt))

        def tap(kh, kw, xb):
            wb = ir.mul(ir.add(ir.mul(kh, cv.KW), kw), cv.C, cv.O)

            def ch(c):
                xv = rx(ir.add(xb, c))
                wr = ir.add(wb, ir.mul(c, cv.O))

                def oc(o):
                    yo = ir.add(yb, o)
                    ir.st(dt, ir.fma(dt, ir.ld(dt, yp, yo), xv, rw(ir.add(wr, o))), yp, yo)
                ir.loop(cv.O, oc)
            ir.loop(cv.C, ch)
        _taps(ir, cv, n, h0, w0, tap)
        if epi is not None:
            epi(ir, ir.gep(dt, yp, yb), "1")
    _out_pixels(ir, cv, pixel, images=images)


def _conv2d_backprop_input_direct(gen, op: Op, ir: _IR, cv: _Conv, dp: str) -> None:
    g, w, like = op.operands
    dt = cv.dt
    ir.fill(dt, dp, _numel(ir, gen, op.result), _zero(dt))
    rg, rw = _reader(gen, g), _reader(gen, w)
    acc = ir.local(rtype(dt))

    def pixel(n, h0, w0, gb):
        def tap(kh, kw, xb):
            wb = ir.mul(ir.add(ir.mul(kh, cv.KW), kw), cv.C, cv.O)

            def ch(c):
                ir.put(rtype(dt), _zero(dt), acc)
                wr = ir.add(wb, ir.mul(c, cv.O))

                def oc(o):
                    a = ir.get(rtype(dt), acc)
                    m = ir.fmul(dt, rg(ir.add(gb, o)), rw(ir.add(wr, o)), "contract")
                    ir.put(rtype(dt), ir.fadd(dt, a, m, "reassoc nsz contract"), acc)
                ir.loop(cv.O, oc)
                o_ = ir.add(xb, c)
                ir.st(dt, ir.fadd(dt, ir.ld(dt, dp, o_), ir.get(rtype(dt), acc)), dp, o_)
            ir.loop(cv.C, ch)
        _taps(ir, cv, n, h0, w0, tap)
    _out_pixels(ir, cv, pixel)


def _bpf_direct_images(gen, op: Op, ir: _IR, cv: _Conv, dw32: str, acc: str, lo: str,
                       hi: str) -> None:
    """The direct filter gradient's terms of images [lo, hi): the sum over their output
    pixels, blocked (accum.py): ``dw32`` holds the float32 sum of about SUM_BLOCK pixels'
    terms (whole output rows), flushed into the float64 accumulator ``acc`` (both K*O,
    zeroed here)."""
    x, g, like = op.operands
    dt = cv.dt
    nw = ir.mul(cv.K, cv.O)
    ir.fill(dt, dw32, nw, _zero(dt))
    ir.fill(float64, acc, nw, "0.0")
    rx, rg = _reader(gen, x), _reader(gen, g)

    def pixel(n, h0, w0, gb):
        def tap(kh, kw, xb):
            wb = ir.mul(ir.add(ir.mul(kh, cv.KW), kw), cv.C, cv.O)

            def ch(c):
                xv = rx(ir.add(xb, c))
                wr = ir.add(wb, ir.mul(c, cv.O))

                def oc(o):
                    wo = ir.add(wr, o)
                    ir.st(dt, ir.fma(dt, ir.ld(dt, dw32, wo), xv, rg(ir.add(gb, o))), dw32, wo)
                ir.loop(cv.O, oc)
            ir.loop(cv.C, ch)
        _taps(ir, cv, n, h0, w0, tap)
    rows = gen.runtime_param(("bpf_rows", id(op)), lambda s, gi=id(g): max(
        1, SUM_BLOCK // max(1, int(s[gi][2]))))

    def flush():
        def f(i):
            a = ir.ld(float64, acc, i)
            ir.st(float64, ir.em.op(f"fadd double {a}, {widen(ir.em, dt, ir.ld(dt, dw32, i))}"),
                  acc, i)
            ir.st(dt, _zero(dt), dw32, i)
        ir.vloop(nw, f)

    def row_done(n, oh):
        r = ir.add(ir.mul(ir.sub(n, lo), cv.OH), oh, "1")
        last = ir.mul(ir.sub(hi, lo), cv.OH)
        ir.if_(ir.or_(ir.cmp("eq", ir.rem(r, rows), "0"), ir.cmp("eq", r, last)), flush)
    _out_pixels(ir, cv, pixel, row_done, images=(lo, hi))
