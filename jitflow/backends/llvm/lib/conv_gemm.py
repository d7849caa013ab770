"""The convolutions' kernels: strategy choice (conv.py's direct loop nests, or im2col chunks +
GEMM here), the fused epilogue (bias, relu) and the outer-level parallelism.

GEMM strategy, parallel over work units (``KernelGen.parallel_units``: OpenMP threads of
jitflow's, each calling OpenBLAS single-threaded on its own im2col scratch; measured on the
MNIST CNN, see benchmarks/cnn_breakdown.py):

* forward: units are im2col chunks (whole output rows); each thread builds its chunk's
  columns, runs the GEMM into the output and applies the epilogue (bias add, relu) to the
  chunk while it is in cache; threads take chunks from a shared counter;
* input backprop: units are groups of whole images (their input-gradient rows overlap no
  other unit's), zero-filled and accumulated (col2im) by the thread that owns them;
* filter backprop: units are chunks, split in one contiguous share per thread; each thread
  accumulates ``cols^T @ g`` into its own partial filter gradient (thread 0's is the result
  itself), summed in thread order after the parallel part (deterministic for a thread count).

Below ``PARALLEL_FLOPS`` a convolution runs on one thread.
"""
from __future__ import annotations

from typing import Callable, Optional

from ....ir.core import Op
from ..compiler import CUSTOM_KERNELS
from .. import threads
from ....ir.dtypes import float64
from ..accum import narrow
from .conv import (_Conv, _bpf_direct_images, _chunking, _conv2d_backprop_input_direct,
                   _conv2d_direct, _gemm, _im2col, _rows_of_chunk, _strategy, _taps)
from .ir import _IR, _ptr, _zero

#: multiply-adds below which a convolution is not split over threads
PARALLEL_FLOPS = 1 << 21


def _parallel_ok(gen, blas: bool) -> bool:
    from ..jit import blas_threads_settable
    return gen.mb.parallel and (not blas or blas_threads_settable())


def _cap(gen, op: Op, cv: _Conv, key: str) -> str:
    """Most threads this convolution runs on (1 when small): sizes the per-thread scratch."""
    w, y = id(cv.w), id(cv.y)

    def fn(s):
        n, oh, ow = s[y][0], s[y][1], s[y][2]
        kk = s[w][0] * s[w][1] * s[w][2] * s[w][3]
        if n * oh * ow * kk < PARALLEL_FLOPS:
            return 1
        return max(threads.available_cpus(), threads.fixed_threads() or 1)
    return gen.runtime_param((key, id(op)), fn)


def _run_units(gen, ir: _IR, n: str, cap: str, dynamic: bool,
               body: Callable[[str, str, str], None], post: Callable[[str], None],
               blas: bool = True) -> None:
    """body(lo, hi, tid) over units [lo, hi) on thread tid, then post(nt) once: on jitflow's
    threads (parallel_units) where OpenMP is there (and OpenBLAS's thread setting, for a
    kernel calling BLAS: ``blas``), else serially."""
    if not _parallel_ok(gen, blas):
        body("0", n, "0")
        post("1")
        return
    lo, hi = gen.parallel_units(n, cap, dynamic, blas=blas)

    def work():
        t = ir.em.op("call i32 @omp_get_thread_num()")
        body(lo, hi, ir.em.op(f"sext i32 {t} to i64"))
    ir.if_(ir.cmp("slt", lo, "0"), lambda: post(hi), work)


def _chunks_of(ir: _IR, U0: str, U1: str, ru: str, body: Callable[[str, str], None]) -> None:
    """body(u0, nu) per chunk of at most ru output rows of [U0, U1)."""
    span = ir.sub(U1, U0)
    nch = ir.div(ir.add(span, ir.sub(ru, "1")), ru)

    def chunk(ch):
        u0 = ir.add(U0, ir.mul(ch, ru))
        nu = ir.sub(ir.smin(ir.add(u0, ru), U1), u0)
        body(u0, nu)
    ir.loop(nch, chunk)


Epilogue = Optional[Callable[[_IR, str, str], None]]


def epilogue(gen, op: Op, cv: _Conv) -> Epilogue:
    """fn(ir, y_ptr, pixels): bias add and activation in place on ``pixels`` output pixels
    (rows of O channels) from y_ptr, for a fused_conv2d; None for a plain conv2d."""
    if op.opname != "fused_conv2d":
        return None
    dt = cv.dt
    bias = op.operands[2] if len(op.operands) > 2 else None
    bp = gen.in_ptr(bias) if bias is not None else None
    relu = op.attrs["activation"] == "relu"

    def fn(ir: _IR, yp: str, pixels: str) -> None:
        def px(p):
            base = ir.mul(p, cv.O)

            def ch(o):
                off = ir.add(base, o)
                v = ir.ld(dt, yp, off)
                if bp is not None:
                    v = ir.fadd(dt, v, ir.ld(dt, bp, o))
                if relu:   # NaN-propagating, as np.maximum
                    v = ir.vmax(dt, v, _zero(dt))
                ir.st(dt, v, yp, off)
            ir.vloop(cv.O, ch)
        ir.loop(pixels, px)
    return fn


def _conv2d(gen, op: Op) -> None:
    x, w = op.operands[:2]
    y = op.result
    yp = gen.out_ptr(y)
    if yp is None:
        return
    ir = _IR(gen)
    cv = _Conv(gen, op, x, w, y)
    epi = epilogue(gen, op, cv)
    if _strategy(gen, cv, "fwd") != "gemm":    # parallel over images
        yi = id(y)
        n_img = gen.runtime_param(("conv_images", id(op)), lambda s: s[yi][0])
        _run_units(gen, ir, n_img, _cap(gen, op, cv, "conv_cap"), True,
                   lambda lo, hi, tid: _conv2d_direct(gen, op, ir, cv, yp, epi, (lo, hi)),
                   lambda nt: None, blas=False)
        return
    dt = cv.dt
    xp, wp = _ptr(gen, x), _ptr(gen, w)
    ru, nbytes, rows_fn = _chunking(gen, op, cv, x, w, y)
    cap = _cap(gen, op, cv, "conv_cap")
    col = gen.scratch(lambda s: nbytes(s) * _cap_value(gen, cap, s))
    U = ir.mul(cv.N, cv.OH)
    nch = _n_chunks(gen, op, cv, rows_fn)
    colsz = ir.mul(ru, cv.OW, cv.K)

    def body(lo, hi, tid):
        mycol = ir.gep(dt, col, ir.mul(tid, colsz))

        def chunk(u0, nu):
            _im2col(ir, cv, xp, mycol, u0, nu)
            rows = ir.mul(nu, cv.OW)
            cp = ir.gep(dt, yp, ir.mul(u0, cv.OW, cv.O))
            _gemm(ir, dt, False, False, rows, cv.O, cv.K, mycol, cv.K, wp, cv.O, cp, cv.O, 0.0)
            if epi is not None:
                epi(ir, cp, rows)
        _chunks_of(ir, ir.mul(lo, ru), ir.smin(ir.mul(hi, ru), U), ru, chunk)
    _run_units(gen, ir, nch, cap, True, body, lambda nt: None)


def _n_chunks(gen, op: Op, cv: _Conv, rows_fn) -> str:
    """The number of im2col chunks (a run-time parameter: the parallel wrapper reads it)."""
    yi = id(cv.y)
    return gen.runtime_param(("conv_chunks", id(op)),
                             lambda s: -(-(s[yi][0] * s[yi][1]) // max(1, rows_fn(s))))


def _cap_value(gen, cap_ref: str, shapes) -> int:
    """The value of the run-time parameter ``cap_ref`` (``%prmN``) for ``shapes``."""
    slot = int(cap_ref[len("%prm"):])
    return int(gen.table.fns[slot](shapes))


def _conv2d_backprop_input(gen, op: Op) -> None:
    g, w, like = op.operands
    dx = op.result
    dp = gen.out_ptr(dx)
    if dp is None:
        return
    ir = _IR(gen)
    cv = _Conv(gen, op, like, w, g)
    if _strategy(gen, cv, "bpi") != "gemm":
        _conv2d_backprop_input_direct(gen, op, ir, cv, dp)
        return
    dt = cv.dt
    gp, wp = _ptr(gen, g), _ptr(gen, w)
    ru, nbytes, rows_fn = _chunking(gen, op, cv, like, w, g)
    cap = _cap(gen, op, cv, "conv_cap")
    col = gen.scratch(lambda s: nbytes(s) * _cap_value(gen, cap, s))
    colsz = ir.mul(ru, cv.OW, cv.K)
    # units: groups of whole images, about one chunk each
    yi = id(g)

    def per_fn(s):
        return max(1, rows_fn(s) // max(1, s[yi][1]))
    per = gen.runtime_param(("conv_imgs", id(op)), per_fn)
    nun = gen.runtime_param(("conv_units", id(op)),
                            lambda s: -(-s[yi][0] // per_fn(s)))
    img = ir.mul(cv.H, cv.W, cv.C)

    def body(lo, hi, tid):
        mycol = ir.gep(dt, col, ir.mul(tid, colsz))
        n0 = ir.mul(lo, per)
        n1 = ir.smin(ir.mul(hi, per), cv.N)
        ir.fill(dt, ir.gep(dt, dp, ir.mul(n0, img)), ir.mul(ir.smax(ir.sub(n1, n0), "0"), img),
                _zero(dt))

        def chunk(u0, nu):
            rows = ir.mul(nu, cv.OW)
            ap = ir.gep(dt, gp, ir.mul(u0, cv.OW, cv.O))
            # dcols (rows x K) = g_chunk (rows x O) @ w^T (O x K)
            _gemm(ir, dt, False, True, rows, cv.K, cv.O, ap, cv.O, wp, cv.O, mycol, cv.K, 0.0)

            def row(r, n, h0, w0):
                cb = ir.mul(r, cv.K)

                def tap(kh, kw, xb):
                    cbk = ir.add(cb, ir.mul(ir.add(ir.mul(kh, cv.KW), kw), cv.C))

                    def c_(c):
                        o = ir.add(xb, c)
                        ir.st(dt, ir.fadd(dt, ir.ld(dt, dp, o), ir.ld(dt, mycol, ir.add(cbk, c))),
                              dp, o)
                    ir.vloop(cv.C, c_)
                _taps(ir, cv, n, h0, w0, tap)
            _rows_of_chunk(ir, cv, u0, nu, row)
        _chunks_of(ir, ir.mul(n0, cv.OH), ir.mul(n1, cv.OH), ru, chunk)
    _run_units(gen, ir, nun, cap, True, body, lambda nt: None)


def _conv2d_backprop_filter(gen, op: Op) -> None:
    x, g, like = op.operands
    dw = op.result
    dwp = gen.out_ptr(dw)
    if dwp is None:
        return
    ir = _IR(gen)
    cv = _Conv(gen, op, x, like, g)
    if _strategy(gen, cv, "bpf") != "gemm":
        _bpf_direct(gen, op, ir, cv, dwp)
        return
    dt = cv.dt
    xp, gp = _ptr(gen, x), _ptr(gen, g)
    ru, nbytes, rows_fn = _chunking(gen, op, cv, x, like, g)
    cap = _cap(gen, op, cv, "conv_cap")
    col = gen.scratch(lambda s: nbytes(s) * _cap_value(gen, cap, s))
    nw = ir.mul(cv.K, cv.O)
    isz = dt.np.itemsize
    # partial filter gradients of threads 1.. (thread 0 accumulates into dw itself)
    part = gen.scratch(lambda s, wi=id(dw): isz * max(1, _cap_value(gen, cap, s) - 1) * max(
        1, s[wi][0] * s[wi][1] * s[wi][2] * s[wi][3]))
    colsz = ir.mul(ru, cv.OW, cv.K)
    U = ir.mul(cv.N, cv.OH)
    nch = _n_chunks(gen, op, cv, rows_fn)

    def slot(t: str) -> str:
        return ir.sel(ir.cmp("eq", t, "0"), "ptr", dwp,
                      ir.gep(dt, part, ir.mul(ir.sub(t, "1"), nw)))

    def body(lo, hi, tid):
        mycol = ir.gep(dt, col, ir.mul(tid, colsz))
        acc = slot(tid)
        ir.fill(dt, acc, nw, _zero(dt))

        def chunk(u0, nu):
            _im2col(ir, cv, xp, mycol, u0, nu)
            rows = ir.mul(nu, cv.OW)
            bp = ir.gep(dt, gp, ir.mul(u0, cv.OW, cv.O))
            # dw (K x O) += cols^T (K x rows) @ g_chunk (rows x O)
            _gemm(ir, dt, True, False, cv.K, cv.O, rows, mycol, cv.K, bp, cv.O, acc, cv.O, 1.0)
        _chunks_of(ir, ir.mul(lo, ru), ir.smin(ir.mul(hi, ru), U), ru, chunk)

    def post(nt):
        def add_slot(t):
            src = ir.gep(dt, part, ir.mul(t, nw))
            ir.vloop(nw, lambda i: ir.st(dt, ir.fadd(dt, ir.ld(dt, dwp, i), ir.ld(dt, src, i)),
                                         dwp, i))
        ir.loop(ir.sub(nt, "1"), add_slot)
    _run_units(gen, ir, nch, cap, False, body, post)


def _bpf_direct(gen, op: Op, ir: _IR, cv: _Conv, dwp: str) -> None:
    """The direct filter gradient split over images, one contiguous share per thread: each
    thread's blocked sums (conv._bpf_direct_images) in its own float32 and float64 partials,
    added in thread order afterwards and rounded once."""
    dt = cv.dt
    dw = op.result
    yi = id(cv.y)
    n_img = gen.runtime_param(("conv_images", id(op)), lambda s: s[yi][0])
    cap = _cap(gen, op, cv, "conv_cap")
    nw = ir.mul(cv.K, cv.O)

    def numel(s):
        return max(1, s[id(dw)][0] * s[id(dw)][1] * s[id(dw)][2] * s[id(dw)][3])
    part = gen.scratch(lambda s: dt.np.itemsize * numel(s) * _cap_value(gen, cap, s))
    acc = gen.scratch(lambda s: 8 * numel(s) * _cap_value(gen, cap, s))

    def body(lo, hi, tid):
        off = ir.mul(tid, nw)
        _bpf_direct_images(gen, op, ir, cv, ir.gep(dt, part, off), ir.gep(float64, acc, off),
                           lo, hi)

    def post(nt):
        def f(i):
            s = ir.local("double")
            ir.put("double", "0.0", s)
            ir.loop(nt, lambda t: ir.put("double", ir.em.op(
                f"fadd double {ir.get('double', s)}, "
                f"{ir.ld(float64, acc, ir.add(ir.mul(t, nw), i))}"), s))
            ir.st(dt, narrow(ir.em, dt, ir.get("double", s)), dwp, i)
        ir.loop(nw, f)
    _run_units(gen, ir, n_img, cap, False, body, post, blas=False)


CUSTOM_KERNELS.update({
    "conv2d": _conv2d,
    "fused_conv2d": _conv2d,
    "conv2d_backprop_input": _conv2d_backprop_input,
    "conv2d_backprop_filter": _conv2d_backprop_filter,
})
