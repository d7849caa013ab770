"""Accurate floating-point sums for every llvm kernel that adds many terms (reductions and
their fused producers, softmax rows, the cross-entropies, logsumexp, l2_loss, the direct conv
filter gradient).

The scheme is *blocked*: terms are added in the input's own type in blocks of ``SUM_BLOCK``
(the loop LLVM vectorizes: float sums carry ``reassoc``, so each block is split over 32-64
vector lanes), and each block's partial sum is added to a float64 accumulator. Where a sum is
spread over an outer loop (a full reduction read row by row) the float64 partials live in a
kernel-private scratch buffer (``KernelGen.scratch``); a column sum (leading axes reduced) adds
chunks of about ``COLUMN_BLOCK`` terms per output element in float32 into the result buffer
(the old vectorized loop) and flushes them into that float64 scratch. The result is rounded to
its type once, at the end. So no float32 chain is longer than a block, and the error of a sum
of n terms is about one rounding of the result, independent of n.

Measured (``benchmarks/reduce_accuracy.py``, /tmp experiments on this 2-core machine): blocks
of 1024 cost nothing measurable against one unbroken float32 loop (1.00-1.02 on [1, 10^7],
[3000, 3000] rows, sum(exp) over 10^6); a float64 accumulator per term instead costs 1.04-1.14
on plain sums, 2.75x on sum(exp(x)) (the vectorized exp loses its width) and 1.3-1.4x on
column sums, hence blocks. Column chunks of 32 rows cost 1.00-1.02, but 1.04-1.10 on an
axis-0 sum of [300, 50000] (its 50000 outputs are flushed every chunk); 64 rows cost nothing
there, but a float32 chain of 50 copies of 0.1 is off by 4.1 eps (the tests' bound is 4), and
512 rows by up to 1.2e-6 on random data.

Float64 input is summed the same way (blocks, then a float64 accumulator); integer sums are exact
modulo 2**n already and keep their own loops.
"""
from __future__ import annotations

from typing import Callable

from ...ir.dtypes import DType
from .emitter import Emitter, const

#: terms added in the input's type before the block's partial goes to the float64 accumulator
SUM_BLOCK = 1024
#: a column sum (the rows added element by element) adds this many terms in float32 into each
#: output element before they go to its float64 accumulator
COLUMN_BLOCK = 32
WIDE = "double"


def widen(em: Emitter, dt: DType, v: str) -> str:
    """A float register of dtype ``dt`` as a double."""
    return em.op(f"fpext float {v} to double") if dt.short == "f32" else v


def narrow(em: Emitter, dt: DType, w: str) -> str:
    """A double register rounded to dtype ``dt`` (float32 or float64)."""
    return em.op(f"fptrunc double {w} to float") if dt.short == "f32" else w


def _is_int(s: str) -> bool:
    return str(s).lstrip("-").isdigit()


def _sum_loop(em: Emitter, dt: DType, start: str, n: str, term: Callable[[str], str]) -> str:
    """sum of term(start + i) for i < n in dtype dt's register type, one reassociable chain
    (vectorized by LLVM); returns the register."""
    t = "float" if dt.short == "f32" else "double"
    L = em.fresh("S")
    pre = em.cur
    em.br(f"{L}.head")
    em.label(f"{L}.head")
    i, acc = f"%{L}.i", f"%{L}.acc"
    em(f"{i} = phi i64 [0, %{pre}], [{i}.next, %{L}.latch]")
    em(f"{acc} = phi {t} [{const(0.0, dt)}, %{pre}], [{acc}.next, %{L}.latch]")
    em(f"%{L}.c = icmp slt i64 {i}, {n}")
    em(f"br i1 %{L}.c, label %{L}.body, label %{L}.exit")
    em.label(f"{L}.body")
    k = i if start == "0" else em.op(f"add nuw nsw i64 {start}, {i}", "o")
    v = term(k)
    em(f"{acc}.next = fadd reassoc nsz {t} {acc}, {v}")
    em.br(f"{L}.latch")
    em.label(f"{L}.latch")
    em(f"{i}.next = add nuw nsw i64 {i}, 1")
    em.br(f"{L}.head")
    em.label(f"{L}.exit")
    return acc


def blocked_sum(em: Emitter, dt: DType, n: str, term: Callable[[str], str],
                block: int = 0) -> str:
    """sum of term(i) for 0 <= i < n (an i64 operand) as a double: blocks of ``block`` terms
    added in dt (float32 or float64), their partials added in float64. ``term`` emits the
    code computing one term (it may open blocks of its own)."""
    n = str(n)
    block = block or SUM_BLOCK
    if _is_int(n) and int(n) <= block:
        if int(n) <= 0:
            return "0.0"
        return widen(em, dt, _sum_loop(em, dt, "0", n, term))
    L = em.fresh("B")
    pre = em.cur
    em.br(f"{L}.head")
    em.label(f"{L}.head")
    b0, w = f"%{L}.b0", f"%{L}.w"
    em(f"{b0} = phi i64 [0, %{pre}], [{b0}.next, %{L}.latch]")
    em(f"{w} = phi double [0.0, %{pre}], [{w}.next, %{L}.latch]")
    em(f"%{L}.c = icmp slt i64 {b0}, {n}")
    em(f"br i1 %{L}.c, label %{L}.body, label %{L}.exit")
    em.label(f"{L}.body")
    rest = em.op(f"sub i64 {n}, {b0}", "o")
    short = em.op(f"icmp slt i64 {rest}, {block}", "o")
    m = em.op(f"select i1 {short}, i64 {rest}, i64 {block}", "o")
    part = widen(em, dt, _sum_loop(em, dt, b0, m, term))
    em(f"{w}.next = fadd double {w}, {part}")
    em.br(f"{L}.latch")
    em.label(f"{L}.latch")
    em(f"{b0}.next = add nuw nsw i64 {b0}, {block}")
    em.br(f"{L}.head")
    em.label(f"{L}.exit")
    return w
