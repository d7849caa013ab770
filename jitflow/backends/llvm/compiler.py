"""LLVM IR for one kernel of the plan (``KernelGen``): elementwise loops (flat or nested,
split over OpenMP threads when large), loop reductions (``reduce.py``), GEMMs (``gemm.py``:
BLAS or loops, with their epilogue), copies and the built-in data movement kernels; library kernels
are ``lib/``'s.
The plan itself (``module.py``) follows.

Buffers: parameters, results, constants and temporaries (one arena, planned per input-shape
signature by ``executable.py``); view ops (reshape, expand_dims, squeeze, identity) alias
their operand's buffer. A variable update may be donated: written in place into the buffer
of the parameter it replaces when that is safe.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np

from ...ir.core import Op, Value
from ...ir.opdef import OPS
from ...kernels import plan
from ...kernels.errors import op_where
from ...kernels.indexmap import (ZERO, IndexMap, Ref, broadcast_map, contig_stride, dim_ref,
                                 flat_kind, identity_map, numel_ref)
from ...passes.fusion import data_operands, is_remap, shape_only
from .elementwise import LOWER
from .emitter import Emitter, const, rtype
from .gemm import GemmGen, mb_have_blas  # noqa: F401  (lib/conv.py imports it from here)
from .parallel import PARALLEL_MIN, parallel_wrappers, unit_wrappers
from .reduce import gen_reduce

if TYPE_CHECKING:
    from .module import Kernel, ModuleBuilder

#: kernels the module builder writes itself (besides elementwise, reduction, GEMM and copies)
BUILTIN_KERNELS = ("concat", "strided_slice_grad", "shape")
BLAS_MIN_FLOPS = 1 << 15
#: multiply-adds from which a 2-D GEMM is split over jitflow's threads (KernelGen._gemm_split)
GEMM_SPLIT_MIN = 1 << 20
#: M*N*K up to which numpy's OpenBLAS (SkylakeX) computes an sgemm with its small-matrix
#: kernels, without packing (KernelGen._sgemm_column_blocks)
SGEMM_SMALL_MNK = 1_000_000
#: rows up to this many elements: a serial elementwise kernel whose flat loop would divide
#: by the row length loops over rows instead (KernelGen._rows_instead)
ROWS_MAX = 64
#: op name -> generator ``fn(gen: KernelGen, op: Op)`` writing the whole kernel of an op that
#: is always alone in its group (convolutions, pooling, softmax, ...); see lib/
CUSTOM_KERNELS: dict = {}



def elementwise_ok(op: Op) -> bool:
    return op.opname in LOWER or is_remap(op) or inline_matmul(op)


INLINE_MATMUL_MAX_K = 16


def inline_matmul(op: Op) -> bool:
    """A 2-D matmul with a small static inner dim and static N is computed in the element
    loop (k unrolled) instead of a GEMM call: no call overhead, vectorized with its epilogue."""
    if op.opname != "matmul" or len(op.results[0].type.shape) != 2:
        return False
    a = op.operands[0].type.shape
    k = a[0] if op.attrs["transpose_a"] else a[1]
    n = op.results[0].type.shape[1]
    return isinstance(k, int) and 0 < k <= INLINE_MATMUL_MAX_K and isinstance(n, int)


class _Ctx:
    """What elementwise lowerings may ask of the kernel being generated."""

    def __init__(self, gen: "KernelGen") -> None:
        self.gen = gen
        self.lin = None
        self.op: Optional[Op] = None   # the op being lowered (names it in error messages)

    def runtime_int(self, key) -> str:
        return self.gen.runtime_int(key)

    def flag_error(self, cond: str, message: str, exact: bool = False) -> None:
        if self.op is not None:   # the reference backend's wording: node, operands, line
            message += op_where(self.op)
        self.gen.flag_error(cond, message, exact)


class KernelGen(GemmGen):
    def __init__(self, mb: ModuleBuilder, k: Kernel) -> None:
        self.mb, self.k, self.table = mb, k, mb.table
        self.em = Emitter()
        self.args: dict[int, str] = {}
        bufs = []
        for b in k.reads + k.writes:
            if b.idx not in self.args:
                self.args[b.idx] = f"%a{len(self.args)}"
                bufs.append(b)
        k.args = bufs
        self.prm_cache: dict[int, str] = {}
        self.ctx = _Ctx(self)

    # ------------------------------------------------------------------ helpers ----------
    def ref(self, r: Ref) -> str:
        if r.static:
            return str(r.c)
        if r.slot not in self.prm_cache:
            p = f"%prm{r.slot}"
            self.prm_cache[r.slot] = p
            self._prologue.append(f"  {p}.p = getelementptr inbounds i64, ptr %prm, i64 {r.slot}")
            self._prologue.append(f"  {p} = load i64, ptr {p}.p, align 8")
        return self.prm_cache[r.slot]

    def runtime_int(self, key) -> str:
        if key[0] == "size":
            op = next(o for o in self.k.ops if id(o) == key[1])
            axes = op.attrs["axes"]
            x = op.operands[0]
            ax = range(len(x.type.shape)) if axes is None else axes
            r = self.table.ref(("size", id(op)), lambda s, vid=id(x), ax=tuple(ax):
                               int(np.prod([s[vid][a] for a in ax], dtype=np.int64)))
            return self.ref(r)
        raise KeyError(key)

    def flag_error(self, cond: str, message: str, exact: bool = False) -> None:
        """Set the kernel's status when ``cond`` holds. ``exact``: the message depends on
        run-time values; the executable re-runs the reference interpreter to word it."""
        code = self.mb.errors.code(message, exact)
        # keep the smallest code: codes follow program order, so the earliest failing op wins
        cur = self.em.op("load i32, ptr %status", "st")
        unset = self.em.op(f"icmp eq i32 {cur}, 0")
        later = self.em.op(f"icmp ugt i32 {cur}, {code}")
        better = self.em.op(f"or i1 {unset}, {later}")
        take = self.em.op(f"and i1 {cond}, {better}")
        nv = self.em.op(f"select i1 {take}, i32 {code}, i32 {cur}")
        self.em(f"store i32 {nv}, ptr %status")

    def offset(self, m: IndexMap, idx: list[str]) -> str:
        terms = [] if (m.base.static and m.base.c == 0) else [self.ref(m.base)]
        for i, s in zip(idx, m.strides):
            if s.static and s.c == 0:
                continue
            if s.static and s.c == 1:
                terms.append(i)
            else:
                terms.append(self.em.op(f"mul i64 {i}, {self.ref(s)}", "o"))
        if not terms:
            return "0"
        acc = terms[0]
        for t in terms[1:]:
            acc = self.em.op(f"add i64 {acc}, {t}", "o")
        return acc

    def ptr(self, b) -> str:
        return self.args[b.idx]

    def generate(self) -> str:
        self._prologue: list[str] = []
        self.module_text: list[str] = []   # module-level lines a kernel needs (loop metadata)
        self.par_n: Optional[str] = None
        self.par_units: Optional[tuple] = None     # (cap, dynamic, blas): parallel_units
        em = self.em
        em.label("body")
        getattr(self, f"gen_{self.k.kind}")()
        em("br label %exit")
        em.label("exit")
        em("%status.v = load i32, ptr %status")
        em("ret i32 %status.v")
        params = ", ".join(f"ptr noalias {a}" for a in self.args.values())
        sep = ", " if params else ""
        attrs = "nounwind \"prefer-vector-width\"=\"512\""
        if self.par_n is not None:
            # called by the serial path and by each OpenMP worker: inlined into both, its
            # loops would be optimized and compiled twice (or thrice) for one call per thread
            attrs = "noinline " + attrs
        name = self.k.name + (".range" if self.par_n is not None else "")
        extra = ", i64 %lo, i64 %hi" if self.par_n is not None else ""
        head = (f"define internal i32 @{name}({params}{sep}ptr noalias %prm{extra}) {attrs} {{\n"
                f"entry:\n  %status = alloca i32\n  store i32 0, ptr %status\n")
        text = head + "\n".join(self._prologue) + "\n  br label %body\n" + em.text() + "\n}\n"
        if self.par_units is not None:
            cap, dynamic, blas = self.par_units
            text += unit_wrappers(self.k.name, self.par_n, cap, list(self.args.values()),
                                  self._prologue, params, sep, dynamic, blas)
        elif self.par_n is not None:
            text += parallel_wrappers(self.k.name, self.par_n, list(self.args.values()),
                                      self._prologue, params, sep)
        return text + "".join(line + "\n" for line in self.module_text)

    # ------------------------------------------------------------------ elementwise ------
    def _expr_env(self, space: Value):
        """Returns value(v, idx) computing v at iteration index idx (memoized per index)."""
        members = {id(op) for op in self.k.ops}
        cache: dict[int, str] = {}
        mb = self.mb

        def leaf_map(v: Value) -> IndexMap:
            return broadcast_map(self.table, v, space)

        def value(v: Value, idx: list[str]) -> str:
            if id(v) in cache:
                return cache[id(v)]
            p = v.producer
            if p is not None and p.opname == "constant" and p.attrs["value"].size == 1:
                r = const(p.attrs["value"].reshape(()).item(), v.type.dtype)
            elif p is not None and id(p) in members and id(v) not in self.gemm_done:
                r = self._lower_member(p, v, idx, value, space)
            else:
                b = mb.storage[id(v)] if id(v) in mb.storage else mb._buffer_of(v)
                r = self.em.load(v.type.dtype, self.ptr(b), self.offset(leaf_map(v), idx))
            cache[id(v)] = r
            return r
        return value

    def _inline_matmul(self, op: Op, i: str, j: str) -> str:
        a, b = op.operands
        dt = op.results[0].type.dtype
        t = rtype(dt)
        ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
        K = a.type.shape[0] if ta else a.type.shape[1]
        sa = [contig_stride(self.table, a, 0), contig_stride(self.table, a, 1)]
        sb = [contig_stride(self.table, b, 0), contig_stride(self.table, b, 1)]
        pa, pb = self.ptr(self.mb._buffer_of(a)), self.ptr(self.mb._buffer_of(b))
        mul, add = ("fmul", "fadd") if dt.is_floating else ("mul", "add")
        acc = None
        for k in range(K):
            ai, ak = (str(k), i) if ta else (i, str(k))
            bk, bj = (j, str(k)) if tb else (str(k), j)
            av = self.em.load(dt, pa, self.offset(IndexMap(ZERO, sa), [ai, ak]))
            bv = self.em.load(dt, pb, self.offset(IndexMap(ZERO, sb), [bk, bj]))
            prod = self.em.op(f"{mul} {t} {av}, {bv}")
            acc = prod if acc is None else self.em.op(f"{add} {t} {acc}, {prod}")
        return acc

    def _lower_member(self, op: Op, v: Value, idx, value, space) -> str:
        if inline_matmul(op):
            return self._inline_matmul(op, idx[-2], idx[-1])
        if op.opname == "transpose":
            return self._remap_load(op, self._transpose_map(op, space), idx)
        if op.opname == "strided_slice":
            return self._remap_load(op, self._slice_map(op, space), idx)
        args = []
        for i, x in enumerate(op.operands):
            if i in shape_only(op):
                args.append(None)
            else:
                args.append(value(x, idx))
        self.ctx.op = op
        if OPS[op.opname].kind == "random":   # the element's linear index in the op's own shape
            self.ctx.lin = self.offset(broadcast_map(self.table, op.results[0], space), idx)
        return LOWER[op.opname](self.em, op, args, self.ctx)

    def _remap_load(self, op: Op, m: IndexMap, idx) -> str:
        src = op.operands[0]
        b = self.mb._buffer_of(src)
        return self.em.load(src.type.dtype, self.ptr(b), self.offset(m, idx))

    def _transpose_map(self, op: Op, space: Value) -> IndexMap:
        x = op.operands[0]
        rank = len(x.type.shape)
        perm = op.attrs["perm"] or tuple(range(rank))[::-1]
        lead = len(space.type.shape) - rank
        strides = [ZERO] * lead + [contig_stride(self.table, x, p % rank) for p in perm]
        return IndexMap(ZERO, strides)

    def _slice_map(self, op: Op, space: Value, key_op: Optional[Op] = None) -> IndexMap:
        """The strided slice ``op`` as an index map. Its run-time parameters are keyed by
        ``key_op`` (default ``op``), which must be an op of the Function: a key naming a
        temporary op would be found again by a later temporary that reuses its id()."""
        x, out = op.operands[0], op.result
        attrs = op.attrs
        kid = id(key_op if key_op is not None else op)

        def plan(s):
            return OPS["strided_slice"].index_map(s[id(x)], attrs)
        base = self.table.ref(("slice_base", kid), lambda s: plan(s)[0])
        n_out = len(out.type.shape)
        strides = [self.table.ref(("slice_stride", kid, j), lambda s, j=j: plan(s)[1][j])
                   for j in range(n_out)]
        lead = len(space.type.shape) - n_out
        return IndexMap(base, [ZERO] * lead + strides)

    def _space_loops(self, space: Value, body, maps_flat: bool) -> None:
        """Loop over the iteration space; ``body(idx, lin)``."""
        em = self.em
        shape = space.type.shape
        rows = getattr(self, "ew_rows", None)
        if maps_flat:
            n = self.ref(numel_ref(self.table, space))

            def flat_body(idx):
                body(None, idx[0])
            if rows is not None:        # a GEMM block's epilogue: its rows only
                w = self.ref(dim_ref(self.table, space, 1))
                em.loops([em.op(f"mul i64 {rows[1]}, {w}")], flat_body,
                         start=em.op(f"mul i64 {rows[0]}, {w}"))
                return
            if self.k.kind == "ew" and self.par_n is None and self.mb.parallel:
                # split over threads above PARALLEL_MIN elements: loop over [%lo, %hi)
                self.par_n = n
                if self._rows_instead(space):
                    # a serial run (the whole range, below PARALLEL_MIN) loops over rows
                    Lr, Lf, Lj = em.fresh("rows"), em.fresh("flat"), em.fresh("ewjoin")
                    small = em.op(f"icmp slt i64 {n}, {PARALLEL_MIN}")
                    em(f"br i1 {small}, label %{Lr}, label %{Lf}")
                    em.label(Lr)
                    self._row_loops(space, body)
                    em.br(Lj)
                    em.label(Lf)
                    em.loops(["%hi"], flat_body, start="%lo")
                    em.br(Lj)
                    em.label(Lj)
                    return
                em.loops(["%hi"], flat_body, start="%lo")
                return
            em.loops([n], flat_body)
            return
        bounds = [self.ref(dim_ref(self.table, space, a)) for a in range(len(shape))]
        if not bounds:
            body([], "0")
            return
        lin_strides = [contig_stride(self.table, space, a) for a in range(len(shape))]

        def nd_body(idx):
            lin = self.offset(IndexMap(ZERO, lin_strides), idx)
            body(idx, lin)
        if rows is not None:            # a GEMM block's epilogue: its rows only
            em.loops([rows[1]] + bounds[1:], nd_body, start=rows[0])
            return
        em.loops(bounds, nd_body)

    def _rows_instead(self, space: Value) -> bool:
        """Whether a flat loop over the 2-D ``space`` reads a leaf (or an inline matmul's
        operands) at ``lin % C`` or ``lin // C`` for a small static row length C: a loop
        over rows with the row contiguous inside needs no per-element division (in a flat
        loop of 8 lanes each lane divides, and gathers its operands one by one)."""
        shape = space.type.shape
        if len(shape) != 2 or not isinstance(shape[1], int) or not 2 < shape[1] <= ROWS_MAX:
            return False
        if any(inline_matmul(op) for op in self.k.ops):
            return True
        return any(flat_kind(self.table, v, space)[0] in ("mod", "div")
                   for v in self._leaves())

    def _row_loops(self, space: Value, body) -> None:
        """``body(idx, lin)`` over the 2-D ``space``: rows, and inside each row a loop marked
        not to be unrolled before the vectorizer sees it (LLVM would unroll a short static
        row into scalar code). (Masked lanes for a row's tail, instead of the scalar
        remainder, measured 2.7x slower on the quadratic step's 10-element rows.)"""
        em = self.em
        rows = self.ref(dim_ref(self.table, space, 0))
        width = space.type.shape[1]

        def row(idx):
            r = idx[0]
            base = em.op(f"mul i64 {r}, {width}")
            L = em.fresh("R")
            pre = em.cur
            em.br(f"{L}.head")
            em.label(f"{L}.head")
            j = f"%{L}.i"
            em(f"{j} = phi i64 [0, %{pre}], [{j}.next, %{L}.latch]")
            em(f"%{L}.c = icmp slt i64 {j}, {width}")
            em(f"br i1 %{L}.c, label %{L}.body, label %{L}.exit")
            em.label(f"{L}.body")
            body([r, j], em.op(f"add i64 {base}, {j}"))
            em.br(f"{L}.latch")
            em.label(f"{L}.latch")
            em(f"{j}.next = add nuw nsw i64 {j}, 1")
            k = getattr(self.mb, "_nn_loop_md", 100000)
            self.mb._nn_loop_md = k + 3
            self.module_text += [f"!{k} = distinct !{{!{k}, !{k + 1}, !{k + 2}}}",
                                 f"!{k + 1} = !{{!\"llvm.loop.unroll.disable\"}}",
                                 f"!{k + 2} = !{{!\"llvm.loop.vectorize.enable\", i1 true}}"]
            em(f"br label %{L}.head, !llvm.loop !{k}")
            em.label(f"{L}.exit")
        em.loops([rows], row)

    def _flat_ok(self, space: Value, leaves: list[Value], outs: list[Value]) -> bool:
        if any(flat_kind(self.table, v, space) is None for v in leaves):
            return False
        return all(flat_kind(self.table, v, space) == ("id",) for v in outs)

    def _leaves(self) -> list[Value]:
        members = {id(op) for op in self.k.ops}
        out = []
        for op in self.k.ops:
            if is_remap(op):
                out.append(None)   # remapped reads are never flat
                continue
            if inline_matmul(op):
                continue           # its operands are read by the matmul lowering itself
            for _, v in data_operands(op):
                if v.producer is None or id(v.producer) not in members:
                    p = v.producer
                    if p is not None and p.opname == "constant" and p.attrs["value"].size == 1:
                        continue
                    out.append(v)
        return out

    def _outputs(self) -> list[tuple[Value, object]]:
        outs = []
        for op in self.k.ops:
            for r in op.results:
                b = self.mb.storage.get(id(r))
                if b is not None and b in self.k.writes:
                    outs.append((r, b))
        return outs

    def gen_ew(self, space: Optional[Value] = None) -> None:
        self.gemm_done = getattr(self, "gemm_done", set())
        space = space or self.k.ops[-1].results[0]
        outs = self._outputs()
        effects = [op.results[0] for op in self.k.ops if OPS[op.opname].effectful]
        leaves = self._leaves()
        flat = None not in leaves and self._flat_ok(space, leaves, [v for v, _ in outs])

        def body(idx, lin):
            self.ctx.lin = lin
            if idx is None:   # flat loop: every map is the identity or a scalar
                fv = self._flat_value_fn(lin, space)
                for v, b in outs:
                    self.em.store(v.type.dtype, fv(v), self.ptr(b), lin)
                for v in effects:
                    fv(v)
                return
            value = self._expr_env(space)
            for v, b in outs:
                m = broadcast_map(self.table, v, space)
                self.em.store(v.type.dtype, value(v, idx), self.ptr(b), self.offset(m, idx))
            for v in effects:
                value(v, idx)
        self._space_loops(space, body, flat)

    def _flat_value_fn(self, lin: str, space: Value):
        """In a flat loop over ``space`` a leaf is read at lin, 0, lin % P or lin // Q."""
        members = {id(op) for op in self.k.ops}
        cache: dict[int, str] = {}

        def fv(v: Value) -> str:
            if id(v) in cache:
                return cache[id(v)]
            p = v.producer
            if p is not None and p.opname == "constant" and p.attrs["value"].size == 1:
                r = const(p.attrs["value"].reshape(()).item(), v.type.dtype)
            elif p is not None and id(p) in members and inline_matmul(p):
                n = p.results[0].type.shape[1]
                l32 = self.em.op(f"trunc i64 {lin} to i32", "o")
                i = self.em.op(f"zext i32 {self.em.op(f'udiv i32 {l32}, {n}', 'o')} to i64", "o")
                j = self.em.op(f"zext i32 {self.em.op(f'urem i32 {l32}, {n}', 'o')} to i64", "o")
                r = self._inline_matmul(p, i, j)
            elif p is not None and id(p) in members and id(v) not in self.gemm_done:
                args = [None if i in shape_only(p) else fv(x)
                        for i, x in enumerate(p.operands)]
                self.ctx.op = p
                if OPS[p.opname].kind == "random":   # the linear index in the op's own shape
                    self.ctx.lin = self._flat_offset(p.results[0], space, lin)
                r = LOWER[p.opname](self.em, p, args, self.ctx)
            else:
                off = self._flat_offset(v, space, lin)
                r = self.em.load(v.type.dtype, self.ptr(self.mb._buffer_of(v)), off)
            cache[id(v)] = r
            return r
        return fv

    def _flat_offset(self, v: Value, space: Value, lin: str) -> str:
        """Where ``v`` (broadcast into ``space``) is read at the flat index ``lin``."""
        kind = flat_kind(self.table, v, space)
        if kind[0] == "id":
            return lin
        if kind[0] == "zero":
            return "0"
        # 32-bit index math vectorizes (64-bit urem/udiv does not); spaces are
        # limited to 2**31 elements (checked when shapes are planned)
        l32 = self.em.op(f"trunc i64 {lin} to i32", "o")
        q = self.em.op(f"{'urem' if kind[0] == 'mod' else 'udiv'} i32 {l32}, {kind[1]}", "o")
        return self.em.op(f"zext i32 {q} to i64", "o")

    # ------------------------------------------------------------------ custom -----------
    def gen_custom(self) -> None:
        op = self.k.ops[-1]
        CUSTOM_KERNELS[op.opname](self, op)

    def parallel_units(self, n: str, cap: str, dynamic: bool, blas: bool) -> tuple[str, str]:
        """Make this library kernel parallel over ``n`` work units (parallel.unit_wrappers):
        its body does units [lo, hi) (returned), and when lo < 0 the serial step after the
        parallel part, with hi threads having run. ``cap``: most threads the plan's
        per-thread scratch holds."""
        self.par_n, self.par_units = n, (cap, dynamic, blas)
        return "%lo", "%hi"

    def out_ptr(self, v: Value) -> Optional[str]:
        """The output buffer of result ``v`` in this kernel, or None if nobody needs it."""
        b = self.mb.storage.get(id(v))
        return self.ptr(b) if b is not None and b in self.k.writes else None

    def in_ptr(self, v: Value) -> str:
        return self.ptr(self.mb._buffer_of(v))

    def dim(self, v: Value, k: int) -> str:
        """Dim k of v as an LLVM i64 operand (a constant or a run-time parameter)."""
        return self.ref(dim_ref(self.table, v, k))

    def runtime_param(self, key, fn) -> str:
        """An i64 computed per input-shape signature by ``fn(shapes)`` (shapes: id(Value) ->
        tuple of ints)."""
        return self.ref(self.table.ref(key, fn))

    def scratch(self, nbytes) -> str:
        """A pointer to ``nbytes(shapes)`` bytes of scratch space private to this kernel:
        planned in the arena per input-shape signature, live only while the kernel runs
        (``nbytes`` depends on the shapes alone: its value is cached with the object code)."""
        b = self.mb.bt.new("scratch", None, nbytes=nbytes)
        self.k.writes.append(b)
        self.k.args.append(b)
        self.args[b.idx] = f"%a{len(self.args)}"
        return self.args[b.idx]

    # ------------------------------------------------------------------ copy -------------
    def gen_copy(self) -> None:
        op = self.k.ops[0]
        src, dst = self.k.reads[0], self.k.writes[0]
        v = op.results[0]
        n = self.ref(numel_ref(self.table, v))

        def body(idx):
            x = self.em.load(v.type.dtype, self.ptr(src), idx[0])
            self.em.store(v.type.dtype, x, self.ptr(dst), idx[0])
        self.em.loops([n], body)

    # ------------------------------------------------------------------ reductions -------
    def gen_reduce(self) -> None:
        gen_reduce(self)

    # ------------------------------------------------------------------ data movement ----
    def gen_concat(self) -> None:
        op = self.k.ops[-1]
        out = op.result
        ob = self.mb.storage[id(out)]
        rank = len(out.type.shape)
        axis = op.attrs["axis"] % rank
        ostr = [contig_stride(self.table, out, k) for k in range(rank)]
        for n, x in enumerate(op.operands):
            xb = self.mb._buffer_of(x)
            base = self.table.ref(("concat_off", id(op), n), lambda s, n=n, axis=axis, op=op: (
                sum(s[id(v)][axis] for v in op.operands[:n]) *
                int(np.prod(s[id(op.result)][axis + 1:], dtype=np.int64))))
            bounds = [self.ref(dim_ref(self.table, x, k)) for k in range(rank)]
            xm = identity_map(self.table, x)
            om = IndexMap(base, ostr)

            def body(idx, x=x, xb=xb, xm=xm, om=om):
                v = self.em.load(x.type.dtype, self.ptr(xb), self.offset(xm, idx))
                self.em.store(x.type.dtype, v, self.ptr(ob), self.offset(om, idx))
            self.em.loops(bounds, body)

    def gen_strided_slice_grad(self) -> None:
        op = self.k.ops[-1]
        g, like = op.operands
        out = op.result
        ob = self.mb.storage[id(out)]
        dt = out.type.dtype
        n = self.ref(numel_ref(self.table, out))
        self.em.loops([n], lambda idx: self.em.store(dt, const(0, dt), self.ptr(ob), idx[0]))
        fake = Op("strided_slice", [out], op.attrs, [g.type])
        m = self._slice_map(fake, g, key_op=op)
        gb = self.mb._buffer_of(g)
        gm = identity_map(self.table, g)
        bounds = [self.ref(dim_ref(self.table, g, k)) for k in range(len(g.type.shape))]

        def body(idx):
            v = self.em.load(dt, self.ptr(gb), self.offset(gm, idx))
            self.em.store(dt, v, self.ptr(ob), self.offset(m, idx))
        self.em.loops(bounds, body)

    def gen_shape(self) -> None:
        op = self.k.ops[-1]
        x = op.operands[0]
        ob = self.mb.storage[id(op.result)]
        dt = op.result.type.dtype
        for k in range(len(x.type.shape)):
            d = self.ref(dim_ref(self.table, x, k))
            v = d if rtype(dt) == "i64" else self.em.op(f"trunc i64 {d} to {rtype(dt)}")
            self.em.store(dt, v, self.ptr(ob), str(k))


from . import lib  # noqa: E402,F401  (registers the library kernels)
