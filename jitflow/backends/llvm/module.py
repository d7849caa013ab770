"""The llvm plan of one Function: its buffers and kernels (a ``Kernel`` per kernel group of
``jitflow.kernels``), constants and results, views aliasing their operand's buffer, donations;
``build()`` writes the LLVM module: each kernel's function (``KernelGen``) and the single
native entry ``jf_entry(bufs, params)`` calling them in order."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Optional

from ...ir.core import Function, Op, Value
from ...kernels import plan
from ...kernels.errors import ErrorTable, UnsupportedOp
from ...kernels.groups import is_view, kernel_groups, materialized, needed_values
from ...kernels.indexmap import ParamTable
from ...kernels.plan import Buffer
from ...passes.fusion import data_operands, is_reduction, is_remap
from . import mathlib, vecmath
from .compiler import BUILTIN_KERNELS, CUSTOM_KERNELS, KernelGen, elementwise_ok, inline_matmul
from .elementwise import LOWER
from .emitter import Emitter
from .parts import ENTRY_MARK, KERNEL_MARK


@dataclass(eq=False)
class Kernel(plan.Kernel):
    """A kernel of the module: ``k<N>``, its LLVM text and its buffer arguments; ``calls``:
    the earlier kernel whose function it calls instead (the same text but for the name)."""
    name: str = ""
    text: str = ""
    args: list = field(default_factory=list)     # distinct Buffers, in argument order
    calls: str = ""


def kernel_profiling() -> bool:
    """JITFLOW_KERNEL_PROFILE=1: the entry adds each kernel's cycles (rdtsc) to ``@jf_kprof``
    (read by ``LLVMExecutable.kernel_profile``; for benchmarks/cnn_breakdown.py)."""
    return os.environ.get("JITFLOW_KERNEL_PROFILE", "") not in ("", "0")


class ModuleBuilder:
    def __init__(self, f: Function, donations: Optional[dict[int, int]] = None) -> None:
        self.f = f
        self.table = ParamTable()
        self.bt = plan.BufferTable(f)
        self.buffers = self.bt.buffers
        self.storage = self.bt.storage             # id(Value) -> Buffer holding it
        self.kernels: list[Kernel] = []
        self.donations = dict(donations or {})
        self.applied_donations: dict[int, int] = {}
        self.errors = ErrorTable()
        from .jit import have_openmp
        self.parallel = have_openmp()
        self._plan()

    # ------------------------------------------------------------------ planning ---------
    def _new_buffer(self, kind: str, value: Optional[Value], ref: int = -1, array=None) -> Buffer:
        return self.bt.new(kind, value, ref=ref, array=array)

    def _kernel(self, kind: str, ops: list, reads: list, writes: list) -> Kernel:
        k = Kernel(kind, ops, reads, writes, name=f"k{len(self.kernels)}")
        self.kernels.append(k)
        return k

    def _plan(self) -> None:
        f = self.f
        self.needed = needed = needed_values(f)
        groups = kernel_groups(f, needed, gemm_epilogue=True)
        producer = {id(r): op for op in f.ops for r in op.results}
        self.materialize = materialized(f, groups)
        # constants of other than one element (also empty ones) live in buffers held by the
        # executable; single values are inlined as immediates
        for op in f.ops:
            if op.opname == "constant" and id(op.result) in needed and op.attrs["value"].size != 1:
                self.storage[id(op.result)] = self._new_buffer("const", op.result,
                                                               array=op.attrs["value"])
        # result buffers (a value returned twice gets one buffer)
        for i, v in enumerate(f.results):
            if id(v) in self.storage or id(v) not in producer:
                continue
            self.storage[id(v)] = self._new_buffer("result", v, i)
        # kernels
        for g in groups:
            self._plan_group(g, producer)
        self._apply_donations()

    def _alias_views(self, op: Op) -> bool:
        if not is_view(op):
            return False
        src = self._buffer_of(op.operands[0])
        r = op.result
        if id(r) in self.storage and self.storage[id(r)].kind == "result":
            # a returned view: copy into the result's own buffer
            self._kernel("copy", [op], [src], [self.storage[id(r)]])
            return True
        self.storage[id(r)] = src
        return True

    def _buffer_of(self, v: Value) -> Buffer:
        return self.bt.of(v)

    def _out_buffer(self, v: Value) -> Buffer:
        return self.bt.out(v)

    def _plan_group(self, g: list[Op], producer) -> None:
        if len(g) == 1 and self._alias_views(g[0]):
            return
        root = g[-1]
        if root.opname == "constant":
            if id(root.result) in self.storage and self.storage[id(root.result)].kind == "result":
                src = self._new_buffer("const", root.result, array=root.attrs["value"])
                self._kernel("copy", [root], [src], [self.storage[id(root.result)]])
            return
        if is_reduction(root):
            kind = "reduce"
        elif any(op.opname == "matmul" and not inline_matmul(op) for op in g):
            kind = "gemm"
        elif root.opname in BUILTIN_KERNELS:
            kind = root.opname
        elif len(g) == 1 and root.opname in CUSTOM_KERNELS:
            kind = "custom"
        elif all(elementwise_ok(op) for op in g):
            kind = "ew"
        else:
            raise UnsupportedOp("llvm", {op.opname for op in g if not elementwise_ok(op)})
        members = {id(op) for op in g}
        outs = []
        for op in g:
            for r in op.results:
                if id(r) in self.materialize and id(r) in self.needed:
                    outs.append(self._out_buffer(r))
        if kind == "gemm" and root.opname != "matmul":
            mm = next(op for op in g if op.opname == "matmul")
            if root.results[0].type.dtype.np.itemsize == mm.result.type.dtype.np.itemsize:
                self.storage[id(mm.result)] = self._out_buffer(root.results[0])
            else:   # an epilogue to another width (float32 GEMM, float16 result): the GEMM
                outs.append(self._out_buffer(mm.result))   # writes a buffer of its own
            members = {id(op) for op in g if op is not mm}
        reads = []
        for op in g:
            for _, v in data_operands(op):
                p = producer.get(id(v))
                if p is None or id(p) not in members:
                    b = self._leaf_buffer(v, op)
                    if b is not None and b not in reads:
                        reads.append(b)
        self._kernel(kind, g, reads, outs)

    def _leaf_buffer(self, v: Value, reader: Op) -> Optional[Buffer]:
        p = v.producer
        if p is not None and p.opname == "constant" and p.attrs["value"].size == 1 \
                and (reader.opname in LOWER or is_reduction(reader)):
            return None  # inlined as an immediate by the element expression
        # (transposes, slices, GEMMs, concat, ... load their operands from memory)
        return self._buffer_of(v)

    def _apply_donations(self) -> None:
        """Write a variable's new value into its old buffer when no later kernel reads it."""
        f = self.f
        for r_idx, p_idx in self.donations.items():
            v, p = f.results[r_idx], f.params[p_idx]
            pbuf, rbuf = self.storage[id(p)], self.storage.get(id(v))
            if rbuf is None or rbuf.kind != "result" or any(
                    self.storage.get(id(x)) is pbuf for x in f.results):
                continue
            k = plan.donation_kernel(f, self.kernels, r_idx, p_idx, rbuf, pbuf, lambda k: (
                plan.reads_only_in_place(k.ops, self.storage, pbuf, k.ops[-1].results[0], v,
                                         lambda op, i: is_remap(op) or inline_matmul(op))))
            if k is None:
                continue
            rbuf.kind, rbuf.ref = "donated", p_idx
            self.applied_donations[r_idx] = p_idx
            # the kernel now writes the parameter's buffer
            k.writes = [pbuf if b is rbuf else b for b in k.writes]
            self.storage[id(v)] = pbuf

    # ------------------------------------------------------------------ codegen ----------
    def build(self) -> str:
        parts = [mathlib.library(), vecmath.declarations()]
        seen: dict[str, str] = {}     # kernel text, its name aside -> the kernel defining it
        for k in self.kernels:   # marked: compiled in parts (parts.py)
            text = KernelGen(self, k).generate()
            same = _canonical(text, k.name)
            if same in seen:      # e.g. the optimizer's update of same-shaped variables
                k.calls = seen[same]
                continue
            seen[same] = k.name
            k.text = text
            parts.append(f"{KERNEL_MARK}{k.name}\n{k.text}")
        parts.append(f"{ENTRY_MARK}\n{self._entry()}")
        return "\n".join(parts)

    def _entry(self) -> str:
        em = Emitter()
        em.label("entry")
        ptrs = {}
        for b in self.buffers:
            p = em.op(f"getelementptr inbounds ptr, ptr %bufs, i64 {b.idx}", "bp")
            ptrs[b.idx] = em.op(f"load ptr, ptr {p}, align 8", "b")
        prof = kernel_profiling()
        for n, k in enumerate(self.kernels):
            args = ", ".join(f"ptr {ptrs[b.idx]}" for b in k.args)
            if prof:
                t0 = em.op("call i64 @llvm.readcyclecounter()", "t")
            st = em.op(f"call i32 @{k.calls or k.name}({args}{', ' if args else ''}ptr %prm)",
                       "st")
            if prof:
                dt = em.op(f"sub i64 {em.op('call i64 @llvm.readcyclecounter()', 't')}, {t0}")
                slot = em.op(f"getelementptr inbounds i64, ptr @jf_kprof, i64 {n}")
                em(f"atomicrmw add ptr {slot}, i64 {dt} monotonic")
            bad = em.op(f"icmp ne i32 {st}, 0")
            ok = em.fresh("ok")
            fail = em.fresh("fail")
            em(f"br i1 {bad}, label %{fail}, label %{ok}")
            em.label(fail)
            em(f"ret i32 {st}")
            em.label(ok)
        em("ret i32 0")
        head = ""
        if prof:
            head = (f"@jf_kprof = global [{max(1, len(self.kernels))} x i64] zeroinitializer\n"
                    "declare i64 @llvm.readcyclecounter()\n")
        return head + ("define i32 @jf_entry(ptr noalias %bufs, ptr noalias %prm) nounwind "
                "\"prefer-vector-width\"=\"512\" {\n"
                + em.text() + "\n}\n")


def _canonical(text: str, name: str) -> str:
    """A kernel's text with its own name and its metadata numbers (module-wide counters, e.g.
    loop hints) renamed in order of appearance: equal for kernels that differ only there."""
    ids: dict[str, int] = {}
    return re.sub(r"!(\d+)\b", lambda m: f"!m{ids.setdefault(m.group(1), len(ids))}",
                  re.sub(rf"@{name}\b", "@k", text))
