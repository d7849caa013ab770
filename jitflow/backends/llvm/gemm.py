"""The GEMM kernels of ``KernelGen`` (compiler.py): a matmul's BLAS call (or loops below
``BLAS_MIN_FLOPS``), batched by its leading dims, split over jitflow's threads along C's longer
side (``_gemm_split``), an sgemm in column blocks that fit OpenBLAS's small-matrix kernels
(``_sgemm_column_blocks``), and the fused epilogue read back from C. The size constants live
in compiler.py (tests lower them)."""
from __future__ import annotations

from ...ir.core import Op
from ...ir.dtypes import DType
from ...kernels.indexmap import ZERO, IndexMap, broadcast_map, contig_stride, dim_ref
from .emitter import const, mtype, rtype
from . import threads


def _c():
    from . import compiler
    return compiler


def mb_have_blas() -> bool:
    from .jit import have_blas
    return have_blas()


class GemmGen:
    """The matmul part of KernelGen (a mixin: it uses KernelGen's emitter and tables)."""

    # ------------------------------------------------------------------ matmul -----------
    def gen_gemm(self) -> None:
        mm = next(op for op in self.k.ops if op.opname == "matmul")
        cbuf = self.mb.storage[id(mm.result)]
        self.ew_rows = None
        if self._gemm_split(mm, cbuf):
            return
        self._matmul(mm, cbuf)
        self._gemm_epilogue(mm)

    def _gemm_epilogue(self, mm: Op) -> None:
        root = self.k.ops[-1]
        if root is not mm:
            # epilogue: the matmul result is read back from the output buffer, in place
            self.gemm_done = set()
            full = self.k.ops
            self.k.ops = [op for op in full if op is not mm]
            self.gen_ew(space=root.results[0])
            self.k.ops = full

    def _gemm_split(self, mm: Op, cbuf) -> bool:
        """A large 2-D float GEMM split over jitflow's threads (``parallel_units``: each unit a
        single-threaded BLAS call); False where it runs whole. Each unit's BLAS call packs
        the operand it does not split again, so the split goes along C's longer side: by
        blocks of rows (then the epilogue on those rows while they are in cache), or, for a
        bare GEMM wider than tall, by blocks of columns (an RNN step's [batch, 4 units] =
        [batch, in] @ [in, 4 units]: a row split packs the whole weight matrix per unit)."""
        from .jit import blas_threads_settable
        a, b = mm.operands
        c = mm.result
        if len(c.type.shape) != 2 or not c.type.dtype.is_floating or not self.mb.parallel \
                or not mb_have_blas() or not blas_threads_settable():
            return False
        dt, t = c.type.dtype, rtype(c.type.dtype)
        ta, tb = mm.attrs["transpose_a"], mm.attrs["transpose_b"]
        M, N = self.ref(dim_ref(self.table, c, 0)), self.ref(dim_ref(self.table, c, 1))
        K = self.ref(dim_ref(self.table, a, 0 if ta else 1))
        ai, ci = id(a), id(c)
        bare = self.k.ops[-1] is mm

        def work(s):
            m, n = s[ci]
            return m * n * s[ai][0 if ta else 1]

        def by_cols(s):
            return bare and s[ci][1] > s[ci][0]

        def block(s):
            cpus = max(1, threads.available_cpus())
            if by_cols(s):   # about two blocks per thread, at least 64 columns, 16-aligned
                return max(64, (-(-s[ci][1] // (2 * cpus)) + 15) // 16 * 16)
            return max(16, -(-s[ci][0] // (4 * cpus)))   # four per thread, >= 16 rows
        cap = self.runtime_param(("gemm_cap", id(mm)), lambda s: 1 if work(s) < _c().GEMM_SPLIT_MIN
                                 else max(threads.available_cpus(), threads.fixed_threads() or 1))
        cols = self.runtime_param(("gemm_by_cols", id(mm)), lambda s: int(by_cols(s)))
        mb = self.runtime_param(("gemm_block", id(mm)), block)
        nun = self.runtime_param(("gemm_units", id(mm)),
                                 lambda s: -(-s[ci][1 if by_cols(s) else 0] // block(s)))
        lo, hi = self.parallel_units(nun, cap, True, True)
        em = self.em
        Lp, Lw, Lj = em.fresh("gpost"), em.fresh("gwork"), em.fresh("gend")
        em(f"br i1 {em.op(f'icmp slt i64 {lo}, 0')}, label %{Lp}, label %{Lw}")
        em.label(Lp)
        em.br(Lj)
        em.label(Lw)
        pa, pb = self.ptr(self.mb._buffer_of(a)), self.ptr(self.mb._buffer_of(b))
        pc = self.ptr(cbuf)
        mt = mtype(dt)
        r0 = em.op(f"mul i64 {lo}, {mb}")
        r1a = em.op(f"mul i64 {hi}, {mb}")
        if bare:
            Lr, Lc = em.fresh("grows"), em.fresh("gcols")
            em(f"br i1 {em.op(f'icmp ne i64 {cols}, 0')}, label %{Lc}, label %{Lr}")
            em.label(Lc)
            c1 = em.op(f"select i1 {em.op(f'icmp slt i64 {r1a}, {N}')}, i64 {r1a}, i64 {N}")
            n = em.op(f"sub i64 {c1}, {r0}")
            B = em.op(f"getelementptr inbounds {mt}, ptr {pb}, i64 "
                      f"{em.op(f'mul i64 {r0}, {K}') if tb else r0}")
            C = em.op(f"getelementptr inbounds {mt}, ptr {pc}, i64 {r0}")
            self._gemm2d(dt, t, pa, B, C, M, n, K, ta, tb, lda=M if ta else K,
                         ldb=K if tb else N, ldc=N)
            em.br(Lj)
            em.label(Lr)
        r1 = em.op(f"select i1 {em.op(f'icmp slt i64 {r1a}, {M}')}, i64 {r1a}, i64 {M}")
        m = em.op(f"sub i64 {r1}, {r0}")
        A = em.op(f"getelementptr inbounds {mt}, ptr {pa}, i64 "
                  f"{r0 if ta else em.op(f'mul i64 {r0}, {K}')}")
        C = em.op(f"getelementptr inbounds {mt}, ptr {pc}, i64 {em.op(f'mul i64 {r0}, {N}')}")
        self._gemm2d(dt, t, A, pb, C, m, N, K, ta, tb, lda=M if ta else K)
        self.ew_rows = (r0, r1)
        self._gemm_epilogue(mm)
        self.ew_rows = None
        em.br(Lj)
        em.label(Lj)
        return True

    def _matmul(self, mm: Op, cbuf) -> None:
        a, b = mm.operands
        c = mm.result
        dt = c.type.dtype
        t = rtype(dt)
        ta, tb = mm.attrs["transpose_a"], mm.attrs["transpose_b"]
        ra = len(a.type.shape)
        M = self.ref(dim_ref(self.table, c, ra - 2))
        N = self.ref(dim_ref(self.table, c, ra - 1))
        K = self.ref(dim_ref(self.table, a, ra - 2 if ta else ra - 1))
        abuf, bbuf = self.mb._buffer_of(a), self.mb._buffer_of(b)
        pa, pb, pc = self.ptr(abuf), self.ptr(bbuf), self.ptr(cbuf)
        batch = [self.ref(dim_ref(self.table, c, i)) for i in range(ra - 2)]
        em = self.em

        def one(idx):
            if idx:
                # a batch dim of 1 broadcast against n (the type rule allows it) reads
                # the same matrix for every batch index: stride 0
                bstr_a = broadcast_map(self.table, a, c).strides[:ra - 2]
                bstr_b = broadcast_map(self.table, b, c).strides[:ra - 2]
                bstr_c = [contig_stride(self.table, c, i) for i in range(ra - 2)]
                oa = self.offset(IndexMap(ZERO, [s for s in bstr_a]), idx)
                ob = self.offset(IndexMap(ZERO, [s for s in bstr_b]), idx)
                oc = self.offset(IndexMap(ZERO, [s for s in bstr_c]), idx)
                A = em.op(f"getelementptr inbounds {mtype(dt)}, ptr {pa}, i64 {oa}", "pa")
                B = em.op(f"getelementptr inbounds {mtype(dt)}, ptr {pb}, i64 {ob}", "pb")
                C = em.op(f"getelementptr inbounds {mtype(dt)}, ptr {pc}, i64 {oc}", "pc")
            else:
                A, B, C = pa, pb, pc
            self._gemm2d(dt, t, A, B, C, M, N, K, ta, tb)
        em.loops(batch, one)

    def _gemm2d(self, dt: DType, t: str, A, B, C, M, N, K, ta, tb, lda=None, ldb=None,
                ldc=None) -> None:
        """C (M x N) = A @ B; ``lda``/``ldb``/``ldc``: the row strides when an operand is a
        block of a larger matrix (defaults: M or K for A, K or N for B, N for C)."""
        em = self.em
        lda = lda or (M if ta else K)
        ldb = ldb or (K if tb else N)
        ldc = ldc or N
        # strides of A(i,k), B(k,j)
        sai, sak = (("1", lda) if ta else (lda, "1"))
        sbk, sbj = ((("1", ldb) if tb else (ldb, "1")))
        use_blas = dt.is_floating and mb_have_blas()
        if use_blas:
            mn = em.op(f"mul i64 {M}, {N}")
            flops = em.op(f"mul i64 {mn}, {K}")
            big = em.op(f"icmp sge i64 {flops}, {_c().BLAS_MIN_FLOPS}")
            Lb, Ls, Lj = em.fresh("blas"), em.fresh("small"), em.fresh("gjoin")
            em(f"br i1 {big}, label %{Lb}, label %{Ls}")
            em.label(Lb)
            fn = "jf_cblas_sgemm" if dt.short == "f32" else "jf_cblas_dgemm"

            def call(n, b_, c_):
                em(f"call void @{fn}(i32 101, i32 {112 if ta else 111}, i32 "
                   f"{112 if tb else 111}, i64 {M}, i64 {n}, i64 {K}, {t} {const(1.0, dt)}, "
                   f"ptr {A}, i64 {lda}, ptr {b_}, i64 {ldb}, {t} {const(0.0, dt)}, ptr {c_}, "
                   f"i64 {ldc})")
            if dt.short == "f32" and (ta or not tb):
                self._sgemm_column_blocks(M, N, K, tb, B, C, ldb, call)
            else:
                call(N, B, C)
            em.br(Lj)
            em.label(Ls)
        zero = const(0, dt)
        mul = "fmul" if dt.is_floating else "mul"
        add = "fadd" if dt.is_floating else "add"

        def row(idx):
            i = idx[0]
            crow = em.op(f"mul i64 {i}, {ldc}")
            em.loops([N], lambda jdx: em.store(dt, zero, C, em.op(f"add i64 {crow}, {jdx[0]}")))

            def kloop(kdx):
                k = kdx[0]
                aoff = em.op(f"add i64 {self._mul(i, sai)}, {self._mul(k, sak)}")
                av = em.load(dt, A, aoff)
                boff0 = self._mul(k, sbk)

                def jloop(jdx):
                    j = jdx[0]
                    bv = em.load(dt, B, em.op(f"add i64 {boff0}, {self._mul(j, sbj)}"))
                    co = em.op(f"add i64 {crow}, {j}")
                    cv = em.load(dt, C, co)
                    em.store(dt, em.op(f"{add} {t} {cv}, {em.op(f'{mul} {t} {av}, {bv}')}"), C, co)
                em.loops([N], jloop)
            em.loops([K], kloop)
        em.loops([M], row)
        if use_blas:
            em.br(Lj)
            em.label(Lj)

    def _sgemm_column_blocks(self, M, N, K, tb, B, C, ldb, call) -> None:
        """``call(n, B, C)`` once, or, where C's columns in blocks of ``w`` (a multiple of 32,
        at least 64) keep each block's M*w*K within SGEMM_SMALL_MNK, once per block: numpy's
        OpenBLAS (SkylakeX) then takes its small-matrix kernels, which pack nothing. Measured
        single-threaded (benchmarks/gemm_blocks.py): an LSTM step's [32, 256] @ [256, 1024]
        reaches 63 GFLOP/s whole, 91-96 in blocks of 64 or 96 columns; widths not a multiple
        of 32 (48, 80, 112) are slower than whole; B transposed (and A not) gains nothing."""
        em = self.em
        mk = em.op(f"mul i64 {M}, {K}")
        w0 = em.op(f"udiv i64 {_c().SGEMM_SMALL_MNK}, {mk}")
        w = em.op(f"and i64 {w0}, -32")
        wide, narrow = em.op(f"icmp sge i64 {w}, 64"), em.op(f"icmp slt i64 {w}, {N}")
        ok = em.op(f"and i1 {wide}, {narrow}")
        Lk, Lw, Lend = em.fresh("cblk"), em.fresh("cwhole"), em.fresh("cend")
        em(f"br i1 {ok}, label %{Lk}, label %{Lw}")
        em.label(Lk)
        wm1 = em.op(f"sub i64 {w}, 1")
        nb = em.op(f"udiv i64 {em.op(f'add i64 {N}, {wm1}')}, {w}")

        def block(idx):
            j = em.op(f"mul i64 {idx[0]}, {w}")
            rest = em.op(f"sub i64 {N}, {j}")
            short = em.op(f"icmp slt i64 {rest}, {w}")
            n = em.op(f"select i1 {short}, i64 {rest}, i64 {w}")
            boff = em.op(f"mul i64 {j}, {ldb}") if tb else j
            call(n, em.op(f"getelementptr inbounds float, ptr {B}, i64 {boff}"),
                 em.op(f"getelementptr inbounds float, ptr {C}, i64 {j}"))
        em.loops([nb], block)
        em.br(Lend)
        em.label(Lw)
        call(N, B, C)
        em.br(Lend)
        em.label(Lend)

    def _mul(self, i: str, s: str) -> str:
        if s == "1":
            return i
        return self.em.op(f"mul i64 {i}, {s}")
