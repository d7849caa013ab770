"""LLVM kernels and elementwise lowerings of the NN ops (jitflow/ops/nn.py).

Elementwise (``LOWER``, fused with their neighbours by the fusion pass): elu, leaky_relu,
softplus, relu6, sigmoid_cross_entropy, and bias_add along the last axis (a broadcast add whose
bias is right-aligned). float32 uses mathlib's inline exp/log (plus expm1/log1p built on them
here); float64 calls libm.

Custom kernels (``CUSTOM_KERNELS``, one op per kernel), all NHWC with the channel axis
innermost and contiguous so the innermost loops vectorize:

* conv2d, conv2d_backprop_input, conv2d_backprop_filter: either a direct loop nest (window
  taps clipped to the input, output channels innermost) or im2col + BLAS GEMM. The im2col
  matrix is built in chunks of whole output rows in a kernel-private scratch buffer
  (``KernelGen.scratch``: sized per input-shape signature and planned in the arena, live only
  during the kernel) of about ``IM2COL_BYTES`` so it is still in cache when the GEMM reads it;
  the input backprop multiplies each chunk of the output gradient by the filter into the
  scratch (dcols) and adds it back into the input gradient (col2im); the filter backprop
  accumulates ``cols^T @ g`` over the chunks (GEMM with beta = 1). Choice, measured on the
  MNIST CNN shapes (one thread, this machine): 3x3x1 -> 32 (conv1) direct 0.47 ms vs GEMM
  0.68 ms forward and 0.59 vs 1.03 ms filter backprop; 3x3x32 -> 64 stride 2 (conv2) GEMM
  ~7.0 ms vs direct 7.6-8.3 ms forward, 7.2-7.7 vs 10.2-11.4 ms input backprop, 7.2 vs
  11.3-12.3 ms filter backprop (and only the GEMM uses the second core). So: direct when
  there are at most 4 input channels, else GEMM (``JITFLOW_CONV=direct|gemm`` forces one).
* max_pool / avg_pool and their gradients, max_pool_grad_grad: loops over each window's valid
  taps (the range is clipped, so padding costs nothing), channels innermost. The max-pool
  gradients find each window's first maximum per channel (NaN wins, as in the reference) in two
  channel-sized scratch rows, then scatter (max_pool_grad) or gather (max_pool_grad_grad).
* softmax, log_softmax, reduce_logsumexp, the two softmax cross-entropies: row-wise max, sum of
  exp, normalize. Out-of-range labels (sparse), indices (gather) and empty argmax axes set an
  error status; the executable then re-runs the reference interpreter so the message names
  the offending values exactly as the reference backend does.
* bias_add along any axis (when it is alone in its kernel), in_top_k, argmax/argmin, one_hot,
  gather/gather_grad, split, pad, tile/tile_grad, l2_loss, reduce_all/any: plain loop nests.

Accumulators are entry-block allocas (``_IR.local``) that LLVM promotes to registers, so
reductions vectorize (float sums carry ``reassoc``). Innermost channel loops are emitted by
``_IR.vloop`` with loop metadata (unroll disabled, vectorize enabled): otherwise LLVM fully
unrolls a small constant trip count (32 channels) into scalar code and vectorizes the *outer*
loop with gathers and scatters (a bias_add over (100, 28, 28, 32) took 4 ms instead of 0.24).
"""
from __future__ import annotations

import os
from typing import Callable, Optional

import numpy as np

from ...ir.core import Op, Value
from ...ir.dtypes import DType, float32
from ...ops.classify import _one_hot_axis
from ...ops.window import window_geometry
from ...ops.reduce import reduced_axes
from .compiler import CUSTOM_KERNELS, EXTRA_LIBRARY, UnsupportedOp, mb_have_blas
from .elementwise import _minmax, lowering
from .emitter import const, fhex, mtype, rtype
from ...kernels.indexmap import IndexMap, ZERO, broadcast_map, contig_stride

#: bytes of im2col scratch per chunk of output rows (fits the L2 cache beside the GEMM's
#: packed panels); JITFLOW_IM2COL_BYTES overrides it (benchmarks)
IM2COL_BYTES = int(os.environ.get("JITFLOW_IM2COL_BYTES", 1 << 19))


def _conv_mode() -> str:
    """"auto" (default), or "direct" / "gemm" to force a convolution strategy."""
    return os.environ.get("JITFLOW_CONV", "auto")


def _is_int(s) -> bool:
    s = str(s)
    return s.lstrip("-").isdigit()


_PY_ICMP = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "slt": lambda a, b: a < b,
            "sle": lambda a, b: a <= b, "sgt": lambda a, b: a > b, "sge": lambda a, b: a >= b,
            "ult": lambda a, b: a % (1 << 64) < b % (1 << 64)}


class _IR:
    """i64 index arithmetic that folds constants, loops, branches and entry-block locals
    over a KernelGen's emitter."""

    def __init__(self, gen) -> None:
        self.gen = gen
        self.em = gen.em

    # ---------------------------------------------------------------- integers -------------
    def add(self, *xs) -> str:
        c, regs = 0, []
        for x in xs:
            x = str(x)
            if _is_int(x):
                c += int(x)
            else:
                regs.append(x)
        if not regs:
            return str(c)
        acc = regs[0]
        for r in regs[1:]:
            acc = self.em.op(f"add i64 {acc}, {r}", "i")
        if c:
            acc = self.em.op(f"add i64 {acc}, {c}", "i")
        return acc

    def sub(self, a, b) -> str:
        a, b = str(a), str(b)
        if _is_int(a) and _is_int(b):
            return str(int(a) - int(b))
        if b == "0":
            return a
        return self.em.op(f"sub i64 {a}, {b}", "i")

    def mul(self, *xs) -> str:
        c, regs = 1, []
        for x in xs:
            x = str(x)
            if _is_int(x):
                c *= int(x)
            else:
                regs.append(x)
        if c == 0:
            return "0"
        if not regs:
            return str(c)
        acc = regs[0]
        for r in regs[1:]:
            acc = self.em.op(f"mul i64 {acc}, {r}", "i")
        if c != 1:
            acc = self.em.op(f"mul i64 {acc}, {c}", "i")
        return acc

    def div(self, a, b) -> str:
        """Signed division truncating toward zero (C's)."""
        a, b = str(a), str(b)
        if _is_int(a) and _is_int(b):
            q = abs(int(a)) // abs(int(b))
            return str(q if (int(a) >= 0) == (int(b) > 0) else -q)
        if b == "1":
            return a
        return self.em.op(f"sdiv i64 {a}, {b}", "i")

    def rem(self, a, b) -> str:
        a, b = str(a), str(b)
        if _is_int(a) and _is_int(b):
            return str(int(a) - int(self.div(a, b)) * int(b))
        if b == "1":
            return "0"
        return self.em.op(f"srem i64 {a}, {b}", "i")

    def cmp(self, pred: str, a, b) -> str:
        a, b = str(a), str(b)
        if _is_int(a) and _is_int(b):
            return "true" if _PY_ICMP[pred](int(a), int(b)) else "false"
        return self.em.op(f"icmp {pred} i64 {a}, {b}", "c")

    def sel(self, c: str, t: str, a: str, b: str) -> str:
        if c == "true" or a == b:
            return a
        if c == "false":
            return b
        return self.em.op(f"select i1 {c}, {t} {a}, {t} {b}")

    def smax(self, a, b) -> str:
        a, b = str(a), str(b)
        if _is_int(a) and _is_int(b):
            return str(max(int(a), int(b)))
        return self.sel(self.cmp("sgt", a, b), "i64", a, b)

    def smin(self, a, b) -> str:
        a, b = str(a), str(b)
        if _is_int(a) and _is_int(b):
            return str(min(int(a), int(b)))
        return self.sel(self.cmp("slt", a, b), "i64", a, b)

    def and_(self, a: str, b: str) -> str:
        if a == "false" or b == "false":
            return "false"
        if a == "true":
            return b
        if b == "true":
            return a
        return self.em.op(f"and i1 {a}, {b}", "c")

    def or_(self, a: str, b: str) -> str:
        if a == "true" or b == "true":
            return "true"
        if a == "false":
            return b
        if b == "false":
            return a
        return self.em.op(f"or i1 {a}, {b}", "c")

    def not_(self, a: str) -> str:
        if a in ("true", "false"):
            return "false" if a == "true" else "true"
        return self.em.op(f"xor i1 {a}, true", "c")

    def prod(self, xs) -> str:
        return self.mul(*xs) if xs else "1"

    # ---------------------------------------------------------------- control --------------
    def loop(self, n, body: Callable[[str], None]) -> None:
        n = str(n)
        if n == "0" or (_is_int(n) and int(n) < 0):
            return
        if n == "1":
            body("0")
            return
        self.em.loops([n], lambda idx: body(idx[0]))

    def vloop(self, n, body: Callable[[str], None]) -> None:
        """An innermost loop over contiguous elements, marked not to be unrolled before the
        vectorizer sees it: LLVM fully unrolls a small constant trip count (32 channels)
        into scalar code and then vectorizes the outer loop with gathers and scatters."""
        n = str(n)
        if n == "0" or (_is_int(n) and int(n) <= 2):
            self.loop(n, body)
            return
        em = self.em
        L = em.fresh("V")
        pre = em.cur
        em.br(f"{L}.head")
        em.label(f"{L}.head")
        i = f"%{L}.i"
        em(f"{i} = phi i64 [0, %{pre}], [{i}.next, %{L}.latch]")
        em(f"%{L}.c = icmp slt i64 {i}, {n}")
        em(f"br i1 %{L}.c, label %{L}.body, label %{L}.exit")
        em.label(f"{L}.body")
        body(i)
        em.br(f"{L}.latch")
        em.label(f"{L}.latch")
        em(f"{i}.next = add nuw nsw i64 {i}, 1")
        mb = self.gen.mb
        k = getattr(mb, "_nn_loop_md", 100000)
        mb._nn_loop_md = k + 3
        self.gen.module_text += [f"!{k} = distinct !{{!{k}, !{k + 1}, !{k + 2}}}",
                                 f"!{k + 1} = !{{!\"llvm.loop.unroll.disable\"}}",
                                 f"!{k + 2} = !{{!\"llvm.loop.vectorize.enable\", i1 true}}"]
        em(f"br label %{L}.head, !llvm.loop !{k}")
        em.label(f"{L}.exit")

    def loops(self, ns, body: Callable[[list], None], _idx=None) -> None:
        idx = list(_idx or [])
        if not ns:
            body(idx)
            return
        self.loop(ns[0], lambda i: self.loops(ns[1:], body, idx + [i]))

    def range(self, lo, hi, body: Callable[[str], None]) -> None:
        n = self.smax(self.sub(hi, lo), "0")
        self.loop(n, lambda i: body(self.add(i, lo)))

    def if_(self, cond: str, then: Callable[[], None], else_: Optional[Callable[[], None]] = None):
        if cond == "true":
            then()
            return
        if cond == "false":
            if else_ is not None:
                else_()
            return
        em = self.em
        L = em.fresh("if")
        em(f"br i1 {cond}, label %{L}.then, label %{L}.else")
        em.label(f"{L}.then")
        then()
        em.br(f"{L}.end")
        em.label(f"{L}.else")
        if else_ is not None:
            else_()
        em.br(f"{L}.end")
        em.label(f"{L}.end")

    def local(self, ty: str) -> str:
        """An entry-block alloca (promoted to a register by LLVM)."""
        name = "%" + self.em.fresh("nnloc")
        self.gen._prologue.append(f"  {name} = alloca {ty}, align 8")
        return name

    def get(self, ty: str, p: str) -> str:
        return self.em.op(f"load {ty}, ptr {p}")

    def put(self, ty: str, v: str, p: str) -> None:
        self.em(f"store {ty} {v}, ptr {p}")

    # ---------------------------------------------------------------- memory ---------------
    def ld(self, dt: DType, ptr: str, off) -> str:
        return self.em.load(dt, ptr, str(off))

    def st(self, dt: DType, v: str, ptr: str, off) -> None:
        self.em.store(dt, v, ptr, str(off))

    def gep(self, dt: DType, ptr: str, off) -> str:
        off = str(off)
        if off == "0":
            return ptr
        return self.em.op(f"getelementptr inbounds {mtype(dt)}, ptr {ptr}, i64 {off}", "p")

    def gep_i64(self, p: str, off) -> str:
        return self.em.op(f"getelementptr inbounds i64, ptr {p}, i64 {off}", "p")

    def fill(self, dt: DType, ptr: str, n, value: str) -> None:
        self.vloop(n, lambda i: self.st(dt, value, ptr, i))

    # ---------------------------------------------------------------- values ---------------
    def fadd(self, dt: DType, a: str, b: str, flags: str = "") -> str:
        t = rtype(dt)
        if dt.is_floating:
            return self.em.op(f"fadd {flags} {t} {a}, {b}".replace("  ", " "))
        return self.em.op(f"add {t} {a}, {b}")

    def fsub(self, dt: DType, a: str, b: str) -> str:
        t = rtype(dt)
        return self.em.op(f"{'fsub' if dt.is_floating else 'sub'} {t} {a}, {b}")

    def fmul(self, dt: DType, a: str, b: str, flags: str = "") -> str:
        t = rtype(dt)
        if dt.is_floating:
            return self.em.op(f"fmul {flags} {t} {a}, {b}".replace("  ", " "))
        return self.em.op(f"mul {t} {a}, {b}")

    def fdiv(self, dt: DType, a: str, b: str) -> str:
        return self.em.op(f"fdiv {rtype(dt)} {a}, {b}")

    def fma(self, dt: DType, acc: str, a: str, b: str) -> str:
        """acc + a * b (contractible to an FMA)."""
        if dt.is_floating:
            t = rtype(dt)
            m = self.em.op(f"fmul contract {t} {a}, {b}")
            return self.em.op(f"fadd contract {t} {acc}, {m}")
        return self.fadd(dt, acc, self.fmul(dt, a, b))

    def vmax(self, dt: DType, a: str, b: str) -> str:
        """np.maximum: NaN-propagating for floats."""
        t = rtype(dt)
        if dt.is_floating:
            return self.em.op(f"call {t} @llvm.maximum.{dt.short}({t} {a}, {t} {b})")
        return self.sel(self.em.op(f"icmp sgt {t} {a}, {b}"), t, a, b)

    def isnan(self, dt: DType, v: str) -> str:
        return self.em.op(f"fcmp uno {rtype(dt)} {v}, 0.0")

    def isfinite(self, dt: DType, v: str) -> str:
        t = rtype(dt)
        a = self.em.op(f"call {t} @llvm.fabs.{dt.short}({t} {v})")
        return self.em.op(f"fcmp olt {t} {a}, {fhex(float('inf'))}")

    def exp(self, dt: DType, v: str) -> str:
        t = rtype(dt)
        return self.em.op(f"call {t} @{'jf_expf' if dt is float32 else 'jf_exp'}({t} {v})")

    def log(self, dt: DType, v: str) -> str:
        t = rtype(dt)
        return self.em.op(f"call {t} @{'jf_logf' if dt is float32 else 'jf_log'}({t} {v})")

    def to_i64(self, dt: DType, v: str) -> str:
        t = rtype(dt)
        return v if t == "i64" else self.em.op(f"sext {t} {v} to i64")

    def i64_to(self, dt: DType, v: str) -> str:
        """An i64 count or index as a value of dtype dt."""
        t = rtype(dt)
        if dt.is_floating:
            return self.em.op(f"sitofp i64 {v} to {t}")
        if t == "i64":
            return v
        if _is_int(v):
            return v
        return self.em.op(f"trunc i64 {v} to {t}")


# ================================================================ operand access ==========

def _reader(gen, v: Value) -> Callable[[str], str]:
    """offset -> register reading v; a one-element constant the kernel got inlined (no buffer)
    is an immediate."""
    b = gen.mb.storage.get(id(v))
    if b is not None and b.idx in gen.args:
        ptr = gen.args[b.idx]
        return lambda off: gen.em.load(v.type.dtype, ptr, str(off))
    p = v.producer
    if p is not None and p.opname == "constant" and p.attrs["value"].size <= 1:
        arr = p.attrs["value"]
        c = const(arr.reshape(-1)[0].item() if arr.size else 0, v.type.dtype)
        return lambda off: c
    return lambda off: gen.em.load(v.type.dtype, gen.in_ptr(v), str(off))


def _ptr(gen, v: Value) -> Optional[str]:
    b = gen.mb.storage.get(id(v))
    if b is not None and b.idx in gen.args:
        return gen.args[b.idx]
    return None


def _dims(gen, v: Value) -> list[str]:
    return [gen.dim(v, k) for k in range(len(v.type.shape))]


def _numel(ir: _IR, gen, v: Value) -> str:
    return ir.prod(_dims(gen, v))


def _flag(gen, op: Op, cond: str, message: str, exact: bool = True) -> None:
    if cond == "false":
        return
    gen.ctx.op = op
    gen.ctx.flag_error(cond, message, exact)


def _zero(dt: DType) -> str:
    return const(0, dt)


# ================================================================ window geometry =========

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


# ================================================================ GEMM =====================

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


# ================================================================ convolution ==============

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


def _chunking(gen, op: Op, cv: _Conv, x: Value, w: Value, y: Value) -> tuple[str, Callable]:
    """Output rows per im2col chunk (units of OW pixels: a static int or a run-time parameter)
    and the scratch size function (both from the budget as it is at compile time)."""
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
    return ru, lambda s: from_shapes(s)[0] * from_shapes(s)[1]


def _chunks(ir: _IR, cv: _Conv, ru: str, body: Callable[[str, str], None]) -> None:
    """body(u0, nu) per chunk of nu output rows (u = n * OH + oh) starting at u0."""
    U = ir.mul(cv.N, cv.OH)
    nch = ir.div(ir.add(U, ir.sub(ru, "1")), ru)

    def chunk(ch):
        u0 = ir.mul(ch, ru)
        nu = ir.sub(ir.smin(ir.add(u0, ru), U), u0)
        body(u0, nu)
    ir.loop(nch, chunk)


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


def _out_pixels(ir: _IR, cv: _Conv, body) -> None:
    """body(n, h0, w0, yb) for every output pixel; yb = offset of y[n,oh,ow,0]."""
    def nh(idx):
        n, oh = idx
        h0 = ir.sub(ir.mul(oh, cv.sh), cv.PT)
        rb = ir.mul(ir.add(ir.mul(n, cv.OH), oh), cv.OW)

        def pw(ow):
            w0 = ir.sub(ir.mul(ow, cv.sw), cv.PL)
            body(n, h0, w0, ir.mul(ir.add(rb, ow), cv.O))
        ir.loop(cv.OW, pw)
    ir.loops([cv.N, cv.OH], nh)


def _conv2d(gen, op: Op) -> None:
    x, w = op.operands
    y = op.result
    yp = gen.out_ptr(y)
    if yp is None:
        return
    ir = _IR(gen)
    cv = _Conv(gen, op, x, w, y)
    dt = cv.dt
    if _strategy(gen, cv, "fwd") == "gemm":
        xp, wp = _ptr(gen, x), _ptr(gen, w)
        ru, nbytes = _chunking(gen, op, cv, x, w, y)
        col = gen.scratch(nbytes)

        def chunk(u0, nu):
            _im2col(ir, cv, xp, col, u0, nu)
            rows = ir.mul(nu, cv.OW)
            cp = ir.gep(dt, yp, ir.mul(u0, cv.OW, cv.O))
            _gemm(ir, dt, False, False, rows, cv.O, cv.K, col, cv.K, wp, cv.O, cp, cv.O, 0.0)
        _chunks(ir, cv, ru, chunk)
        return
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
    _out_pixels(ir, cv, pixel)


def _conv2d_backprop_input(gen, op: Op) -> None:
    g, w, like = op.operands
    dx = op.result
    dp = gen.out_ptr(dx)
    if dp is None:
        return
    ir = _IR(gen)
    cv = _Conv(gen, op, like, w, g)
    dt = cv.dt
    ir.fill(dt, dp, _numel(ir, gen, dx), _zero(dt))
    if _strategy(gen, cv, "bpi") == "gemm":
        gp, wp = _ptr(gen, g), _ptr(gen, w)
        ru, nbytes = _chunking(gen, op, cv, like, w, g)
        col = gen.scratch(nbytes)

        def chunk(u0, nu):
            rows = ir.mul(nu, cv.OW)
            ap = ir.gep(dt, gp, ir.mul(u0, cv.OW, cv.O))
            # dcols (rows x K) = g_chunk (rows x O) @ w^T (O x K)
            _gemm(ir, dt, False, True, rows, cv.K, cv.O, ap, cv.O, wp, cv.O, col, cv.K, 0.0)

            def row(r, n, h0, w0):
                cb = ir.mul(r, cv.K)

                def tap(kh, kw, xb):
                    cbk = ir.add(cb, ir.mul(ir.add(ir.mul(kh, cv.KW), kw), cv.C))

                    def c_(c):
                        o = ir.add(xb, c)
                        ir.st(dt, ir.fadd(dt, ir.ld(dt, dp, o), ir.ld(dt, col, ir.add(cbk, c))), dp, o)
                    ir.vloop(cv.C, c_)
                _taps(ir, cv, n, h0, w0, tap)
            _rows_of_chunk(ir, cv, u0, nu, row)
        _chunks(ir, cv, ru, chunk)
        return
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


def _conv2d_backprop_filter(gen, op: Op) -> None:
    x, g, like = op.operands
    dw = op.result
    dwp = gen.out_ptr(dw)
    if dwp is None:
        return
    ir = _IR(gen)
    cv = _Conv(gen, op, x, like, g)
    dt = cv.dt
    ir.fill(dt, dwp, ir.mul(cv.K, cv.O), _zero(dt))
    if _strategy(gen, cv, "bpf") == "gemm":
        xp, gp = _ptr(gen, x), _ptr(gen, g)
        ru, nbytes = _chunking(gen, op, cv, x, like, g)
        col = gen.scratch(nbytes)

        def chunk(u0, nu):
            _im2col(ir, cv, xp, col, u0, nu)
            rows = ir.mul(nu, cv.OW)
            bp = ir.gep(dt, gp, ir.mul(u0, cv.OW, cv.O))
            # dw (K x O) += cols^T (K x rows) @ g_chunk (rows x O)
            _gemm(ir, dt, True, False, cv.K, cv.O, rows, col, cv.K, bp, cv.O, dwp, cv.O, 1.0)
        _chunks(ir, cv, ru, chunk)
        return
    rx, rg = _reader(gen, x), _reader(gen, g)

    def pixel(n, h0, w0, gb):
        def tap(kh, kw, xb):
            wb = ir.mul(ir.add(ir.mul(kh, cv.KW), kw), cv.C, cv.O)

            def ch(c):
                xv = rx(ir.add(xb, c))
                wr = ir.add(wb, ir.mul(c, cv.O))

                def oc(o):
                    wo = ir.add(wr, o)
                    ir.st(dt, ir.fma(dt, ir.ld(dt, dwp, wo), xv, rg(ir.add(gb, o))), dwp, wo)
                ir.loop(cv.O, oc)
            ir.loop(cv.C, ch)
        _taps(ir, cv, n, h0, w0, tap)
    _out_pixels(ir, cv, pixel)


# ================================================================ pooling ==================

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
    _out_pixels(ir, pl, pixel)


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
                take = ir.em.op(f"icmp sgt {rtype(dt)} {v}, {b}")
            ir.st(dt, ir.sel(take, rtype(dt), v, b), best, c)
            p = ir.gep_i64(arg, c)
            old = ir.get("i64", p)
            ir.put("i64", ir.sel(take, "i64", xb, old), p)
        ir.vloop(pl.C, c_)
    _taps(ir, pl, n, h0, w0, tap)


def _max_pool_grad(gen, op: Op) -> None:
    x, g = op.operands
    dp = gen.out_ptr(op.result)
    if dp is None:
        return
    ir = _IR(gen)
    pl = _Pool(gen, op, x, g)
    dt = pl.dt
    rx, rg = _reader(gen, x), _reader(gen, g)
    ir.fill(dt, dp, _numel(ir, gen, x), _zero(dt))
    isz = dt.np.itemsize
    best = gen.scratch(lambda s, xi=id(x): s[xi][3] * isz)
    arg = gen.scratch(lambda s, xi=id(x): s[xi][3] * 8)

    def pixel(n, h0, w0, gb):
        _argmax_window(gen, ir, pl, rx, n, h0, w0, best, arg)

        def tap(kh, kw, xb):
            def c_(c):
                o = ir.add(xb, c)
                hit = ir.em.op(f"icmp eq i64 {ir.get('i64', ir.gep_i64(arg, c))}, {xb}")
                add = ir.sel(hit, rtype(dt), rg(ir.add(gb, c)), _zero(dt))
                ir.st(dt, ir.fadd(dt, ir.ld(dt, dp, o), add), dp, o)
            ir.vloop(pl.C, c_)
        _taps(ir, pl, n, h0, w0, tap)
    _out_pixels(ir, pl, pixel)


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


# ================================================================ bias_add ================

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


# ================================================================ softmax family ==========

def _axis_rows(ir: _IR, gen, v: Value, axis: int) -> tuple[str, str, str]:
    dims = _dims(gen, v)
    ax = axis % len(dims)
    return ir.prod(dims[:ax]), dims[ax], ir.prod(dims[ax + 1:])


def _row_max(ir: _IR, dt: DType, n, read, loc) -> str:
    t = rtype(dt)
    ir.put(t, const(float("-inf"), dt), loc)
    ir.loop(n, lambda k: ir.put(t, ir.vmax(dt, ir.get(t, loc), read(k)), loc))
    return ir.get(t, loc)


def _row_sumexp(ir: _IR, dt: DType, n, read, m, loc, store=None) -> str:
    """sum_k exp(read(k) - m); store(k, e) sees each exp."""
    t = rtype(dt)
    ir.put(t, _zero(dt), loc)

    def k_(k):
        e = ir.exp(dt, ir.fsub(dt, read(k), m))
        if store is not None:
            store(k, e)
        ir.put(t, ir.fadd(dt, ir.get(t, loc), e, "reassoc nsz"), loc)
    ir.loop(n, k_)
    return ir.get(t, loc)


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
    mloc, sloc = ir.local(t), ir.local(t)
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
            lse = ir.log(dt, _row_sumexp(ir, dt, n, read, m, sloc))
            ir.loop(n, lambda k: ir.st(dt, ir.fsub(dt, ir.fsub(dt, read(k), m), lse), yp, off(k)))
        else:
            s = _row_sumexp(ir, dt, n, read, m, sloc, lambda k, e: ir.st(dt, e, yp, off(k)))
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
    mloc, sloc = ir.local(t), ir.local(t)

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
            lse = ir.log(dt, _row_sumexp(ir, dt, C, read, m, sloc))
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
    mloc, sloc, aloc = ir.local(t), ir.local(t), ir.local(t)
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
        lse = ir.log(dt, _row_sumexp(ir, dt, CL, own, m, sloc))
        base = ir.mul(gen.offset(IndexMap(ZERO, lstride), idx) if rank > 1 else "0", C)
        ir.put(t, _zero(dt), aloc)

        def k_(k):
            logp = ir.fsub(dt, ir.fsub(dt, lg(k), m), lse)
            z = lab(k)
            if lp is not None:
                ir.put(t, ir.fadd(dt, ir.get(t, aloc), ir.fmul(dt, z, logp), "reassoc nsz"), aloc)
            if bp is not None:
                ir.st(dt, ir.fsub(dt, ir.exp(dt, logp), z), bp, ir.add(base, k))
        ir.loop(C, k_)
        if lp is not None:
            lo = gen.offset(IndexMap(ZERO, lstride), idx) if rank > 1 else "0"
            ir.st(dt, ir.em.op(f"fneg {t} {ir.get(t, aloc)}"), lp, lo)
    ir.loops(sdims[:-1], row)


def _reduce_split(ir: _IR, gen, x: Value, axes, body) -> None:
    """body(out_offset, inner) per output element of a reduction over ``axes``; inner(fn)
    calls fn(x_offset) for each reduced element (row-major)."""
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
        body(oo, inner)
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
    mloc, sloc = ir.local(t), ir.local(t)

    def body(oo, inner):
        ir.put(t, const(float("-inf"), dt), mloc)
        inner(lambda o: ir.put(t, ir.vmax(dt, ir.get(t, mloc), rx(o)), mloc))
        m0 = ir.get(t, mloc)
        m = ir.sel(ir.isfinite(dt, m0), t, m0, _zero(dt))
        ir.put(t, _zero(dt), sloc)
        inner(lambda o: ir.put(t, ir.fadd(dt, ir.get(t, sloc), ir.exp(dt, ir.fsub(dt, rx(o), m)),
                                          "reassoc nsz"), sloc))
        ir.st(dt, ir.fadd(dt, ir.log(dt, ir.get(t, sloc)), m), yp, oo)
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

    def body(oo, inner):
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
    t = rtype(dt)
    rx = _reader(gen, x)
    loc = ir.local(t)
    ir.put(t, _zero(dt), loc)

    def k_(i):
        v = rx(i)
        ir.put(t, ir.fadd(dt, ir.get(t, loc), ir.fmul(dt, v, v), "reassoc nsz"), loc)
    ir.vloop(_numel(ir, gen, x), k_)
    ir.st(dt, ir.fdiv(dt, ir.get(t, loc), const(2.0, dt)), yp, "0")


# ================================================================ classification helpers ==

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
                take = ir.em.op(f"icmp {'sgt' if is_max else 'slt'} {t} {v}, {b}")
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


# ================================================================ data movement ===========

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
    "conv2d": _conv2d, "conv2d_backprop_input": _conv2d_backprop_input,
    "conv2d_backprop_filter": _conv2d_backprop_filter,
    "max_pool": _max_pool, "avg_pool": _avg_pool, "max_pool_grad": _max_pool_grad,
    "max_pool_grad_grad": _max_pool_grad_grad, "avg_pool_grad": _avg_pool_grad,
    "bias_add": _bias_add, "softmax": _softmax, "log_softmax": _softmax,
    "sparse_softmax_cross_entropy": _sparse_xent, "softmax_cross_entropy": _softmax_xent,
    "reduce_logsumexp": _logsumexp, "reduce_all": _reduce_bool, "reduce_any": _reduce_bool,
    "l2_loss": _l2_loss, "in_top_k": _in_top_k, "argmax": _argminmax, "argmin": _argminmax,
    "one_hot": _one_hot, "gather": _gather, "gather_grad": _gather_grad, "split": _split,
    "pad": _pad, "tile": _tile, "tile_grad": _tile_grad,
})


# ================================================================ elementwise ==============

def _f(v: float) -> str:
    return fhex(float(np.float32(v)))


EXTRA_LIBRARY.append(f"""
declare double @jf_expm1(double) nounwind
declare double @jf_log1p(double) nounwind

; expm1 for float32: a Taylor polynomial near 0 (where exp(x) - 1 cancels), exp(x) - 1 beyond
define internal float @jf_expm1f(float %x) alwaysinline nounwind readnone {{
  %e = call float @jf_expf(float %x)
  %big = fsub float %e, {_f(1.0)}
  %ax = call float @llvm.fabs.f32(float %x)
  %small = fcmp olt float %ax, {_f(0.0625)}
  %p0 = fmul float %x, {_f(1 / 720)}
  %p1 = fadd float %p0, {_f(1 / 120)}
  %p2 = fmul float %p1, %x
  %p3 = fadd float %p2, {_f(1 / 24)}
  %p4 = fmul float %p3, %x
  %p5 = fadd float %p4, {_f(1 / 6)}
  %p6 = fmul float %p5, %x
  %p7 = fadd float %p6, {_f(0.5)}
  %p8 = fmul float %p7, %x
  %p9 = fmul float %p8, %x
  %p = fadd float %p9, %x
  %r = select i1 %small, float %p, float %big
  ret float %r
}}

; log1p for float32 (Goldberg): log(1 + u) * u / ((1 + u) - 1); u where 1 + u rounds to 1
define internal float @jf_log1pf(float %u) alwaysinline nounwind readnone {{
  %w = fadd float %u, {_f(1.0)}
  %d = fsub float %w, {_f(1.0)}
  %l = call float @jf_logf(float %w)
  %q = fdiv float %u, %d
  %r0 = fmul float %l, %q
  %tiny = fcmp oeq float %d, 0.0
  %r1 = select i1 %tiny, float %u, float %r0
  %inf = fcmp oeq float %u, 0x7FF0000000000000
  %r = select i1 %inf, float %u, float %r1
  ret float %r
}}
""")


def _call1(em, dt: DType, f32: str, f64: str, x: str) -> str:
    t = rtype(dt)
    return em.op(f"call {t} @{f32 if dt is float32 else f64}({t} {x})")


def _softplus_core(em, dt: DType, x: str) -> str:
    """max(x, 0) + log1p(exp(-|x|)) (NaN-propagating, as np.logaddexp(0, x))."""
    t = rtype(dt)
    ax = em.op(f"call {t} @llvm.fabs.{dt.short}({t} {x})")
    e = _call1(em, dt, "jf_expf", "jf_exp", em.op(f"fneg {t} {ax}"))
    lp = _call1(em, dt, "jf_log1pf", "jf_log1p", e)
    pos = em.op(f"call {t} @llvm.maximum.{dt.short}({t} {x}, {t} {_zero(dt)})")
    return em.op(f"fadd {t} {pos}, {lp}")


@lowering("elu")
def _elu(em, op, a, ctx):
    dt = op.operands[0].type.dtype
    t = rtype(dt)
    pos = em.op(f"fcmp ogt {t} {a[0]}, 0.0")
    neg = _call1(em, dt, "jf_expm1f", "jf_expm1", a[0])
    return em.op(f"select i1 {pos}, {t} {a[0]}, {t} {neg}")


@lowering("leaky_relu")
def _leaky_relu(em, op, a, ctx):
    dt = op.operands[0].type.dtype
    t = rtype(dt)
    pos = em.op(f"fcmp ogt {t} {a[0]}, 0.0")
    neg = em.op(f"fmul {t} {a[0]}, {const(op.attrs['alpha'], dt)}")
    return em.op(f"select i1 {pos}, {t} {a[0]}, {t} {neg}")


@lowering("softplus")
def _softplus(em, op, a, ctx):
    return _softplus_core(em, op.operands[0].type.dtype, a[0])


@lowering("relu6")
def _relu6(em, op, a, ctx):
    dt = op.operands[0].type.dtype
    r = _minmax(em, op, [a[0], _zero(dt)], True)
    return _minmax(em, op, [r, const(6, dt)], False)


@lowering("sigmoid_cross_entropy")
def _sigmoid_xent(em, op, a, ctx):
    """max(x, 0) - x * z + log1p(exp(-|x|))."""
    dt = op.operands[0].type.dtype
    t = rtype(dt)
    x, z = a
    ax = em.op(f"call {t} @llvm.fabs.{dt.short}({t} {x})")
    e = _call1(em, dt, "jf_expf", "jf_exp", em.op(f"fneg {t} {ax}"))
    lp = _call1(em, dt, "jf_log1pf", "jf_log1p", e)
    pos = em.op(f"call {t} @llvm.maximum.{dt.short}({t} {x}, {t} {_zero(dt)})")
    xz = em.op(f"fmul {t} {x}, {z}")
    return em.op(f"fadd {t} {em.op(f'fsub {t} {pos}, {xz}')}, {lp}")


@lowering("bias_add")
def _bias_add_ew(em, op, a, ctx):
    """Along the last axis only (fusion admits no other): the bias is right-aligned."""
    rank = len(op.operands[0].type.shape)
    if op.attrs["axis"] % rank != rank - 1:
        raise UnsupportedOp("llvm", {"bias_add"})   # (fusion admits only the last axis)
    dt = op.operands[0].type.dtype
    return em.op(f"{'fadd' if dt.is_floating else 'add'} {rtype(dt)} {a[0]}, {a[1]}")
