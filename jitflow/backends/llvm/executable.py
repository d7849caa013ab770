"""The LLVM executable: one native call per run.

Per input-shape signature (cached) Python computes every value's concrete shape with the ops'
own type rules (which also validates the run), the run-time parameter table and the arena
layout (liveness-based reuse of temporaries); per run it only fills the argument pointers,
allocates the results and calls ``jf_entry``.
"""
from __future__ import annotations

import ctypes
import threading
from time import perf_counter
from typing import Optional, Sequence

import numpy as np

from ...errors import InvalidArgumentError
from ...ir.core import Function
from ...kernels.arena import assign_offsets
from ...kernels.plan import aligned, live_ranges
from ...kernels.shapes import run_shapes
from . import threads
from .module import ModuleBuilder

ENTRY = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p)
ALIGN = 64
MAX_ELEMENTS = 2 ** 31   # flat loops use 32-bit index arithmetic for broadcasts


# result codes: an argument (or a parameter returned as is), a fresh array the kernel writes,
# the same object as an earlier result, a copy of a constant
_R_ARG, _R_NEW, _R_SAME, _R_CONST = range(4)


_addressof, _char_view = ctypes.addressof, ctypes.c_char.from_buffer


def data_ptr(a: np.ndarray) -> int:
    """The address of ``a``'s data: through a ctypes view of its buffer (a third of the cost
    of ``__array_interface__``, which builds a dict: it counts once per loop trip), or the
    interface for the arrays a writable buffer cannot view (read-only, empty)."""
    try:
        return _addressof(_char_view(a))
    except (TypeError, ValueError, BufferError):
        return a.__array_interface__["data"][0]


class _ShapePlan:
    __slots__ = ("result_shapes", "prm", "arena", "bufs", "temps", "arg_objs", "bufs_ptr", "prm_ptr",
                 "tuner")


class LLVMExecutable:
    def __init__(self, f: Function, donations: Optional[dict[int, int]] = None,
                 dump_dir: Optional[str] = None) -> None:
        from . import jit
        self.function = f
        mb = ModuleBuilder(f, donations)
        self.mb = mb
        self.ir_text = mb.build()
        self.compiled = jit.compile_ir(self.ir_text)
        self.compile_seconds = self.compiled.seconds
        # calls OpenBLAS or OpenMP kernels: each shape plan tunes its thread count (threads.py)
        self.uses_pools = ("call void @GOMP_parallel(" in self.ir_text
                           or "call void @jf_cblas_" in self.ir_text)
        # its convolutions split over jitflow's threads: OpenBLAS stays at one (threads.py)
        self.blas_threads = 1 if "call i32 @jf_blas_get_threads()" in self.ir_text else None
        self._entry = ENTRY(self.compiled.address("jf_entry"))
        self.errors = mb.errors
        self.n_params = len(f.params)
        self.buffers = mb.buffers
        self.result_buf = [mb.storage.get(id(v)) for v in f.results]
        self.result_dtypes = [v.type.dtype.np for v in f.results]
        self.param_ids = [id(p) for p in f.params]
        self.param_dtypes = [p.type.dtype.np for p in f.params]
        self._plans: dict[tuple, _ShapePlan] = {}
        self._checked: list = [None] * len(f.params)
        self._lock = threading.Lock()
        seen: set[int] = set()
        self.duplicate_result = []
        for v in f.results:
            self.duplicate_result.append(id(v) in seen)
            seen.add(id(v))
        # how each result is produced, decided once: (code, ref, buffer index, copy)
        self._rprog: list[tuple[int, int, int, bool]] = []
        self._has_dups = any(self.duplicate_result)
        for r_idx, (b, v) in enumerate(zip(self.result_buf, f.results)):
            dup = self.duplicate_result[r_idx]
            if b is None:                                   # a parameter returned as is
                self._rprog.append((_R_ARG, self.param_ids.index(id(v)), -1, False))
            elif b.kind in ("param", "donated"):
                self._rprog.append((_R_ARG, b.ref, -1, dup))
            elif b.kind == "result" and b.ref == r_idx:
                self._rprog.append((_R_NEW, r_idx, b.idx, dup))
            elif b.kind == "result":
                self._rprog.append((_R_SAME, b.ref, -1, dup))
            else:
                self._rprog.append((_R_CONST, r_idx, -1, dup))
        self.donated = mb.applied_donations
        if dump_dir:
            from pathlib import Path
            d = Path(dump_dir)
            d.mkdir(parents=True, exist_ok=True)
            (d / "module.ll").write_text(self.compiled.optimized_ir or self.ir_text)
            (d / "module.unoptimized.ll").write_text(self.ir_text)
            (d / "module.s").write_text(self.compiled.assembly())

    def kernel_profile(self) -> list[tuple[str, int]]:
        """(ops of the kernel, cycles summed over runs) per kernel, in run order; empty unless
        compiled with JITFLOW_KERNEL_PROFILE=1 (module.kernel_profiling)."""
        if "@jf_kprof" not in self.ir_text:
            return []
        n = len(self.mb.kernels)
        addr = self.compiled.engine.get_global_value_address("jf_kprof")
        counts = (ctypes.c_int64 * n).from_address(addr)
        return [(" ".join(op.opname for op in k.ops) + f" [{k.ops[-1].loc.tf_name or ''}]",
                 int(counts[i])) for i, k in enumerate(self.mb.kernels)]

    def close(self) -> None:
        """Release the native code now (Session.close calls this); a later run raises.
        Without it the code is released when the executable is garbage collected."""
        with self._lock:
            self._entry = None
            self._plans.clear()
            if self.compiled is not None:
                self.compiled.close()

    # ------------------------------------------------------------------ shapes -----------
    def _shapes(self, args: Sequence[np.ndarray]) -> dict:
        return run_shapes(self.function, args, MAX_ELEMENTS, "llvm")

    def _plan(self, args: Sequence[np.ndarray]) -> _ShapePlan:
        shapes = self._shapes(args)
        plan = _ShapePlan()
        plan.result_shapes = [shapes[id(v)] for v in self.function.results]
        plan.prm = np.array(self.mb.table.evaluate(shapes) or [0], dtype=np.int64)
        # arena layout: temporaries live from their producing kernel to their last reader
        first, last = live_ranges(self.mb.kernels)
        sizes = {}
        for b in self.buffers:
            if b.kind == "temp":
                n = int(np.prod(shapes[id(b.value)], dtype=np.int64)) * b.value.type.dtype.np.itemsize
                sizes[b.idx] = aligned(n, ALIGN)
            elif b.kind == "scratch":   # a kernel's private scratch space
                sizes[b.idx] = aligned(max(int(b.nbytes(shapes)), 1), ALIGN)
        offsets, top = assign_offsets(sizes, first, last)
        plan.arena = np.empty(max(top, ALIGN) + ALIGN, dtype=np.uint8)
        base = plan.arena.ctypes.data
        base += (-base) % ALIGN
        plan.bufs = np.zeros(max(len(self.buffers), 1), dtype=np.uint64)
        for b in self.buffers:
            if b.kind in ("temp", "scratch"):
                plan.bufs[b.idx] = base + offsets[b.idx]
            elif b.kind == "const":
                arr = np.ascontiguousarray(b.array)
                b.array = arr
                plan.bufs[b.idx] = arr.ctypes.data
        plan.temps = offsets
        plan.arg_objs = [None] * len(args)
        plan.bufs_ptr = plan.bufs.ctypes.data
        plan.prm_ptr = plan.prm.ctypes.data
        plan.tuner = threads.tuner_for(self.uses_pools, own=self.blas_threads == 1)
        return plan

    def _reference_error(self, args) -> None:
        """Raise the reference interpreter's error for these arguments (its message names
        run-time values, e.g. the offending label); return if it raises none."""
        from ...errors import OpError
        from ..reference import ReferenceExecutable
        try:
            ReferenceExecutable(self.function).run(list(args))
        except OpError as e:
            raise e from None

    # ------------------------------------------------------------------ run --------------
    def _as_param(self, a, dt: np.dtype, i: int) -> np.ndarray:
        """Scalars and lists take the parameter's dtype; an array of another dtype is an
        error (its bytes would be misread)."""
        if isinstance(a, np.ndarray) and a.dtype != dt:
            p = self.function.params[i]
            raise InvalidArgumentError(f"parameter {i} ({p.name or 'unnamed'}) of type {p.type} "
                                       f"cannot take an array of dtype {a.dtype}")
        return np.asarray(a, dtype=dt, order="C")

    def run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        dts = self.param_dtypes
        if len(args) != len(dts):
            raise InvalidArgumentError(f"expected {len(dts)} arguments, got {len(args)}")
        checked = self._checked       # arrays already validated (variables come back each run)
        converted = None
        for i, a in enumerate(args):
            if a is checked[i]:
                continue
            if type(a) is np.ndarray and a.flags.c_contiguous and a.dtype == dts[i]:
                checked[i] = a
            else:
                if converted is None:
                    converted = list(args)
                converted[i] = self._as_param(a, dts[i], i)
        if converted is not None:
            args = converted
        key = tuple([a.shape for a in args])
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                plan = self._plans[key] = self._plan(args)
            bufs = plan.bufs
            seen = plan.arg_objs
            for i, a in enumerate(args):
                if seen[i] is not a:      # variables keep their arrays from run to run
                    bufs[i] = data_ptr(a)
                    seen[i] = a
            results: list = []
            shapes, dts = plan.result_shapes, self.result_dtypes
            for code, ref, bidx, _ in self._rprog:
                if code == _R_ARG:
                    results.append(args[ref])
                elif code == _R_NEW:
                    out = np.empty(shapes[ref], dtype=dts[ref])
                    bufs[bidx] = data_ptr(out)
                    results.append(out)
                elif code == _R_SAME:
                    results.append(results[ref])
                else:
                    results.append(self.result_buf[ref].array.reshape(shapes[ref]).copy())
            entry = self._entry
            if entry is None:
                raise RuntimeError("this llvm executable was closed (its Session was closed): "
                                   "its native code is released")
            tuner = plan.tuner
            if tuner is None:
                if self.uses_pools:    # (fixed count) another executable may have changed it
                    threads.apply(threads.NUM_THREADS.value or 1, self.blas_threads)
                status = entry(plan.bufs_ptr, plan.prm_ptr)
            else:
                threads.apply(tuner.pick(), self.blas_threads)
                t0 = perf_counter()
                status = entry(plan.bufs_ptr, plan.prm_ptr)
                tuner.record(perf_counter() - t0)
        if status:
            msg = self.errors.message(status)
            if status in self.errors.exact:
                self._reference_error(args)
            raise InvalidArgumentError(msg)
        if self._has_dups:
            for i, (_, _, _, dup) in enumerate(self._rprog):
                if dup:
                    results[i] = results[i].copy()
        return results
