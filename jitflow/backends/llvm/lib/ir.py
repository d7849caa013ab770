"""The loop-nest builder the library kernels are written with (``_IR``: loads, stores,
loops, vector loops with metadata, entry-block accumulators) and their operand access."""
from __future__ import annotations

from typing import Callable, Optional


from ....ir.core import Op, Value
from ....ir.dtypes import DType, float32
from ..emitter import const, fhex, mtype, rtype




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
        return self.sel(self.em.op(f"icmp {'ugt' if dt.is_unsigned else 'sgt'} {t} {a}, {b}"),
                        t, a, b)

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
        ext = "zext" if dt.is_unsigned else "sext"
        return v if t == "i64" else self.em.op(f"{ext} {t} {v} to i64")

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
