"""The LLVM executable: one native call per run.

Compiling plans the module (``ModuleBuilder``: buffers and kernels), then looks its key up in
the caches (``jit.module_key``: computed from the Function before any LLVM IR exists); only a
miss generates the LLVM IR and compiles it. A hit takes what the runs need from the cached
``PlanRecord`` (``cached.py``), and generates the IR only when something needs it: an input
shape the record does not know, ``exe.ir_text`` or ``exe.mb``, a dump.

Per input-shape signature (cached) Python computes every value's concrete shape with the ops'
own type rules (which also validates the run), the run-time parameter table and the arena
layout (liveness-based reuse of temporaries); per run it only fills the argument pointers
that changed, takes each small result's array from the plan's spares (an array an earlier run
returned that nothing references any more: a variable's update alternates between two) or
allocates it, and calls ``jf_entry``.
"""
from __future__ import annotations

import ctypes
import operator
import sys
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
from .cached import (CacheKeyError, Layout, PlanRecord, check_hits, own_threads, shape_key,
                     uses_pools)
from .module import ModuleBuilder

ENTRY = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p)
ALIGN = 64
MAX_ELEMENTS = 2 ** 31   # flat loops use 32-bit index arithmetic for broadcasts


# result codes: an argument (or a parameter returned as is), a fresh array the kernel writes,
# the same object as an earlier result, a copy of a constant
_R_ARG, _R_NEW, _R_SAME, _R_CONST = range(4)


_addressof, _char_view = ctypes.addressof, ctypes.c_char.from_buffer
_NDARRAY = np.ndarray
_refcount = sys.getrefcount
_shape_of = operator.attrgetter("shape")
#: results up to this size are allocated from a plan's spares (``_ShapePlan.spares``)
SPARE_BYTES = 1 << 16
SPARES = 2     # per result: a variable's update alternates between two arrays


def data_ptr(a: np.ndarray) -> int:
    """The address of ``a``'s data: through a ctypes view of its buffer (a third of the cost
    of ``__array_interface__``, which builds a dict: it counts once per loop trip), or the
    interface for the arrays a writable buffer cannot view (read-only, empty)."""
    try:
        return _addressof(_char_view(a))
    except (TypeError, ValueError, BufferError):
        return a.__array_interface__["data"][0]


class _ShapePlan:
    """One input-shape signature's tables. ``spares[r]``: arrays result ``r`` was returned in
    before, with their data pointers (None: the result is too large to keep spares of). A
    run writes the result into a spare that nothing else references any more (its reference
    count says so: the array it replaced in the variable store, a fetch the caller dropped),
    instead of allocating an array and asking for its address: those two are most of a
    small step's Python time. ``ptrs``: id -> (data pointer, dtype, shape) of every spare
    (alive while listed), for the arguments that are earlier results (the variables): such an
    argument needs neither validation nor an address lookup. ``prog``: per result, how a run
    produces it (code, ref, buffer index, spares or None, shape, dtype), decided once;
    ``arg_shapes``: the parameters' shapes (the plan's key)."""
    __slots__ = ("result_shapes", "prm", "arena", "bufs", "temps", "arg_objs", "bufs_ptr", "prm_ptr",
                 "tuner", "spares", "ptrs", "prog", "arg_shapes")


class LLVMExecutable:
    def __init__(self, f: Function, donations: Optional[dict[int, int]] = None,
                 dump_dir: Optional[str] = None) -> None:
        from ...ir.printer import print_function
        from . import jit
        self.function = f
        mb = ModuleBuilder(f, donations)        # the plan: buffers and kernels, no LLVM IR yet
        self._mb = mb
        self._planned = len(mb.buffers)         # code generation adds only scratch buffers
        self._ir: Optional[str] = None
        self._gen_lock = threading.Lock()
        text = print_function(f)
        text = text[len(f"func @{f.name}"):]     # the Function's name changes no code
        self.cache_key = jit.module_key(text, mb.donations)
        compiled = jit.lookup(self.cache_key)
        record = compiled.record if compiled is not None else None
        if record is not None and record.planned != self._planned:
            raise CacheKeyError(f"the cached record of module {self.cache_key[:16]}... was "
                                f"made for {record.planned} planned buffers, not "
                                f"{self._planned}: the cache key misses an input of the planner")
        self.record: Optional[PlanRecord] = record
        if compiled is None or record is None or dump_dir or check_hits():
            self._generate()
            if compiled is None:
                compiled = jit.compile_ir(self._ir, self.cache_key)
            if self.record is None:
                self.record = PlanRecord.of(mb, self._ir, self._planned)
                if self.record is not None:
                    jit.save_record(self.cache_key, self.record)
        if self._ir is not None and not compiled.ir_text:
            compiled.ir_text = self._ir
        self.compiled = compiled
        self.compile_seconds = compiled.seconds
        # calls OpenBLAS or OpenMP kernels: each shape plan tunes its thread count (threads.py)
        self.uses_pools = uses_pools(self._ir) if self._ir is not None else record.uses_pools
        # its convolutions split over jitflow's threads: OpenBLAS stays at one (threads.py)
        own = own_threads(self._ir) if self._ir is not None else record.own_threads
        self.blas_threads = 1 if own else None
        self._entry = ENTRY(compiled.address("jf_entry"))
        self.errors = mb.errors if self._ir is not None else record.errors()
        self.n_params = len(f.params)
        self.result_buf = [mb.storage.get(id(v)) for v in f.results]
        self.result_dtypes = [v.type.dtype.np for v in f.results]
        self.param_ids = [id(p) for p in f.params]
        self.param_dtypes = [p.type.dtype.np for p in f.params]
        self._plans: dict[tuple, _ShapePlan] = {}
        self._last: Optional[_ShapePlan] = None    # the plan of the latest run
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
        # for the caller (Session): which results are arrays no one else references (a fresh
        # array or a copy), and which are a parameter's own array (``inplace[r]``: its index)
        self.fresh_results = [code in (_R_NEW, _R_CONST) or dup
                              for code, _, _, dup in self._rprog]
        self.inplace_results = {r: ref for r, (code, ref, _, dup) in enumerate(self._rprog)
                                if code == _R_ARG and not dup}
        if dump_dir:
            from pathlib import Path
            d = Path(dump_dir)
            d.mkdir(parents=True, exist_ok=True)
            (d / "module.ll").write_text(self.compiled.optimized_ir or self.ir_text)
            (d / "module.unoptimized.ll").write_text(self.ir_text)
            (d / "module.s").write_text(self.compiled.assembly())

    # ------------------------------------------------------------------ the LLVM IR ------
    def _generate(self) -> None:
        """Generate the module's LLVM IR (once): the error table, scratch buffers and
        run-time parameters come with it. For a module loaded from the cache, the IR must be
        the one its record was made from."""
        with self._gen_lock:
            if self._ir is not None:
                return
            ir = self._mb.build()
            rec = self.record
            if rec is not None:
                fresh = PlanRecord.of(self._mb, ir, self._planned)
                diff = ["the record"] if fresh is None else rec.same_code(fresh)
                if diff:
                    raise CacheKeyError(
                        f"the cached module {self.cache_key[:16]}... does not match the LLVM IR "
                        f"generated for its Function (differs: {', '.join(diff)}): the cache "
                        "key misses an input of the code generator (jit.codegen_inputs). "
                        "`jitflow cache clear` or JITFLOW_NO_DISK_CACHE=1 avoids it; please "
                        "report it")
            self._ir = ir
            c = getattr(self, "compiled", None)     # loaded from the cache without its IR
            if c is not None and not c.ir_text:
                c.ir_text = ir

    @property
    def generated(self) -> bool:
        """Whether this executable has generated its LLVM IR (a cache hit need not)."""
        return self._ir is not None

    @property
    def ir_text(self) -> str:
        """The module's LLVM IR (generated on first use after a cache hit)."""
        self._generate()
        return self._ir

    @property
    def mb(self) -> ModuleBuilder:
        """The module's plan with its code generated (kernels' scratch, parameter table)."""
        self._generate()
        return self._mb

    @property
    def buffers(self) -> list:
        return self.mb.buffers

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
            self._last = None
            if self.compiled is not None:
                self.compiled.close()

    # ------------------------------------------------------------------ shapes -----------
    def _shapes(self, args: Sequence[np.ndarray]) -> dict:
        return run_shapes(self.function, args, MAX_ELEMENTS, "llvm")

    def _layout(self, args: Sequence[np.ndarray], key: str) -> Layout:
        """A signature's Layout: from the record after a cache hit (the shapes were validated
        when it was recorded), else computed from the generated plan (and then recorded)."""
        rec = self.record
        if self._ir is None:
            got = rec.plan(key)
            if got is not None:
                arena = {b.idx for b in self._mb.buffers[:self._planned] if b.kind == "temp"}
                arena.update(range(self._planned, self._planned + len(rec.scratch)))
                if set(got.offsets) != arena or len(got.results) != len(self.function.results):
                    raise CacheKeyError(f"the cached layout of module {self.cache_key[:16]}... "
                                        "does not fit its plan: the cache key misses an input")
                return got
            self._generate()      # a signature the record does not know
        mb = self._mb
        shapes = self._shapes(args)
        params = [int(v) for v in mb.table.evaluate(shapes)]
        # arena layout: temporaries live from their producing kernel to their last reader,
        # a kernel's scratch space while that kernel runs
        first, last = live_ranges(mb.kernels)
        sizes = {}
        for b in mb.buffers:
            if b.kind == "temp":
                n = int(np.prod(shapes[id(b.value)], dtype=np.int64)) * b.value.type.dtype.np.itemsize
                sizes[b.idx] = aligned(n, ALIGN)
            elif b.kind == "scratch":   # a kernel's private scratch space
                sizes[b.idx] = aligned(max(int(b.nbytes(shapes)), 1), ALIGN)
        offsets, top = assign_offsets(sizes, first, last)
        layout = Layout(params, [tuple(shapes[id(v)]) for v in self.function.results],
                        offsets, top)
        if rec is not None:
            known = rec.plan(key)
            if known is None:
                if rec.add_plan(key, layout):
                    from . import jit
                    jit.save_record(self.cache_key, rec)
            elif known != layout:
                raise CacheKeyError(
                    f"the cached plan of module {self.cache_key[:16]}... for input shapes {key} "
                    f"differs from this process's ({known} vs {layout}): a run-time parameter "
                    "depends on something other than the shapes and the cache key")
        return layout

    def _plan(self, args: Sequence[np.ndarray]) -> _ShapePlan:
        layout = self._layout(args, shape_key([a.shape for a in args]))
        plan = _ShapePlan()
        plan.result_shapes = layout.results
        plan.prm = np.array(layout.params or [0], dtype=np.int64)
        plan.arena = np.empty(max(layout.top, ALIGN) + ALIGN, dtype=np.uint8)
        base = plan.arena.ctypes.data
        base += (-base) % ALIGN
        n_bufs = self._planned + (len(self.record.scratch) if self._ir is None else
                                  len(self._mb.buffers) - self._planned)
        plan.bufs = np.zeros(max(n_bufs, 1), dtype=np.uint64)
        for b in self._mb.buffers[:self._planned]:
            if b.kind == "const":
                arr = np.ascontiguousarray(b.array)
                b.array = arr
                plan.bufs[b.idx] = arr.ctypes.data
        for idx, off in layout.offsets.items():
            plan.bufs[idx] = base + off
        plan.temps = layout.offsets
        plan.arg_objs = [None] * len(args)
        # ctypes converts a c_void_p argument faster than an int (~0.2 us a call)
        plan.bufs_ptr = ctypes.c_void_p(plan.bufs.ctypes.data)
        plan.prm_ptr = ctypes.c_void_p(plan.prm.ctypes.data)
        plan.tuner = threads.tuner_for(self.uses_pools, own=self.blas_threads == 1)
        plan.spares = [[] if code == _R_NEW and self.result_dtypes[r].itemsize * int(
                           np.prod(layout.results[r], dtype=np.int64)) <= SPARE_BYTES else None
                       for r, (code, _, _, _) in enumerate(self._rprog)]
        plan.ptrs = {}
        plan.arg_shapes = [a.shape for a in args]
        plan.prog = [(code, ref, bidx, plan.spares[r] if code == _R_NEW else None,
                      layout.results[r], self.result_dtypes[r])
                     for r, (code, ref, bidx, _) in enumerate(self._rprog)]
        return plan

    @staticmethod
    def _new_spare(plan: _ShapePlan, pool: list, shape: tuple, dt: np.dtype) -> tuple:
        """A new (array, data pointer) for a result whose spares are all referenced
        elsewhere: it becomes a spare in place of the oldest. The caller holds the lock."""
        out = np.empty(shape, dtype=dt)
        spare = (out, data_ptr(out))
        if len(pool) >= SPARES:       # all held elsewhere: the oldest stops being a spare
            del plan.ptrs[id(pool.pop(0)[0])]
        pool.append(spare)
        plan.ptrs[id(out)] = (spare[1], dt, shape)
        return spare

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

    def _live_entry(self):
        entry = self._entry
        if entry is None:
            raise RuntimeError("this llvm executable was closed (its Session was closed): "
                               "its native code is released")
        return entry

    def _apply_threads(self, plan: _ShapePlan):
        """Set the pools' thread count for a run of ``plan``; returns its tuner (None: the
        count is fixed)."""
        tuner = plan.tuner
        if tuner is None:
            if self.uses_pools:    # (fixed count) another executable may have changed it
                threads.apply(threads.NUM_THREADS.value or 1, self.blas_threads)
            return None
        threads.apply(tuner.pick(), self.blas_threads)
        return tuner

    def _call(self, plan: _ShapePlan) -> int:
        """One call of the entry with ``plan``'s tables (the caller holds the lock)."""
        entry = self._entry
        if entry is None:
            self._live_entry()       # raises
        tuner = plan.tuner
        if tuner is None:
            if self.uses_pools:    # (fixed count) another executable may have changed it
                threads.apply(threads.NUM_THREADS.value or 1, self.blas_threads)
            return entry(plan.bufs_ptr, plan.prm_ptr)
        threads.apply(tuner.pick(), self.blas_threads)
        t0 = perf_counter()
        status = entry(plan.bufs_ptr, plan.prm_ptr)
        tuner.record(perf_counter() - t0)
        return status

    def _raise(self, status: int, args) -> None:
        msg = self.errors.message(status)
        if status in self.errors.exact:
            self._reference_error(args)
        raise InvalidArgumentError(msg)

    def prepare_args(self, args: Sequence) -> Sequence[np.ndarray]:
        """The arguments as C-contiguous arrays of the parameters' dtypes (scalars and lists
        converted; an array of another dtype is an InvalidArgumentError)."""
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
        return args if converted is None else converted

    def run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One run: the results, as arrays. A run whose arguments fit the latest run's shape
        plan (a fed array again, a variable's array that an earlier run returned, another
        array of the same shape and dtype) neither looks the plan up nor validates those
        arguments again; the rest is decided per shape plan (``_plan``)."""
        if len(args) != self.n_params:
            raise InvalidArgumentError(f"expected {self.n_params} arguments, got {len(args)}")
        with self._lock:
            plan = self._last
            if plan is not None and self._bind(plan, args):
                results, status = self._launch(plan, args)
            else:
                plan = None
        if plan is None:              # another shape plan, or arguments to convert
            args = self.prepare_args(args)
            key = tuple(map(_shape_of, args))
            with self._lock:
                plan = self._plans.get(key)
                if plan is None:
                    plan = self._plans[key] = self._plan(args)
                if not self._bind(plan, args):
                    raise AssertionError("prepared arguments do not fit their shape plan")
                self._last = plan
                results, status = self._launch(plan, args)
        if status:
            self._raise(status, args)
        if self._has_dups:
            for i, (_, _, _, dup) in enumerate(self._rprog):
                if dup:
                    results[i] = results[i].copy()
        return results

    def _bind(self, plan: _ShapePlan, args: Sequence) -> bool:
        """Point ``plan``'s buffer table at the arguments that changed since its last run;
        False when one is not a C-contiguous array of its parameter's dtype and the plan's
        shape (the table then holds the arguments bound before it, as ``arg_objs`` says).
        The caller holds the lock."""
        bufs, seen, ptrs = plan.bufs, plan.arg_objs, plan.ptrs
        dts, shapes = self.param_dtypes, plan.arg_shapes
        i = 0
        for a in args:
            if seen[i] is not a:      # a feed passed again, a variable's array: known
                p = ptrs.get(id(a))   # an earlier result: a spare of this plan
                if p is None or p[1] != dts[i] or p[2] != shapes[i]:
                    if not (type(a) is _NDARRAY and a.dtype == dts[i] and a.shape == shapes[i]
                            and a.flags.c_contiguous):
                        return False
                    p = (data_ptr(a),)
                bufs[i] = p[0]
                seen[i] = a
            i += 1
        return True

    def _launch(self, plan: _ShapePlan, args: Sequence) -> tuple[list, int]:
        """The results' arrays (spares where free) and the entry's status of one call with
        ``plan``'s tables, whose arguments are bound. The caller holds the lock."""
        bufs = plan.bufs
        results: list = []
        push = results.append
        for code, ref, bidx, pool, shape, dt in plan.prog:
            if code == _R_NEW:
                if pool is None:
                    out = np.empty(shape, dtype=dt)
                    bufs[bidx] = data_ptr(out)
                else:
                    for spare in pool:
                        # referenced by the pool's tuple and getrefcount's argument only
                        if _refcount(spare[0]) == 2:
                            break
                    else:
                        spare = self._new_spare(plan, pool, shape, dt)
                    out, bufs[bidx] = spare
                push(out)
            elif code == _R_ARG:
                push(args[ref])
            elif code == _R_SAME:
                push(results[ref])
            else:
                push(self.result_buf[ref].array.reshape(shape).copy())
        return results, self._call(plan)

    # ------------------------------------------------------------------ loop trips -------
    def result_shapes(self, args: Sequence[np.ndarray]) -> list[tuple]:
        """The result shapes of a run with these (C-contiguous, parameter-typed) arguments;
        prepares the run's plan."""
        key = tuple([a.shape for a in args])
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                plan = self._plans[key] = self._plan(args)
        return list(plan.result_shapes)

    def run_trips(self, args: Sequence[np.ndarray], param_rows: Sequence[tuple],
                  result_rows: Sequence[tuple], k0: int, kmax: int, pred: np.ndarray
                  ) -> tuple[int, int]:
        """Trips ``k0 ..`` of a loop whose step this is, in native code (``drive.py``): trip
        ``k`` reads parameter ``i`` at ``param_rows[i] = (base, stride, mode)`` and writes
        result ``r`` at ``result_rows[r] = (base, stride, mode, bytes)``; it stops after trip
        ``kmax - 1`` or when the predicate byte ``pred`` (the step's last result) is false.
        ``args``: the arrays of one trip (they select the shape plan; a ``result_shapes`` call
        planned it). Returns (status, trips done); a non-zero status leaves the failing trip's
        message to a Python run of it."""
        from .drive import Trips, run_trips
        plan = self._plans[tuple([a.shape for a in args])]
        trips = Trips()
        for i, (base, stride, mode) in enumerate(param_rows):
            trips.slot(i, base, stride, mode)
        for r, ((code, ref, bidx, _), (base, stride, mode, nbytes)) in enumerate(
                zip(self._rprog, result_rows)):
            if code == _R_NEW:
                trips.slot(bidx, base, stride, mode)
                continue
            if code == _R_ARG:
                src = tuple(param_rows[ref])
            elif code == _R_SAME:
                src = tuple(result_rows[ref][:3])
            else:
                arr = self.result_buf[r].array
                src = (arr.ctypes.data, 0, 0)
            trips.copy((base, stride, mode), src, nbytes)
        with self._lock:
            self._live_entry()
            tuner = self._apply_threads(plan)
            t0 = perf_counter()
            status, k = run_trips(self.compiled.address("jf_entry"), plan.bufs, plan.prm,
                                  trips, k0, kmax, pred)
            if tuner is not None:
                tuner.record((perf_counter() - t0) / max(1, k - k0))
            plan.arg_objs = [None] * len(plan.arg_objs)     # the table points at rows now
        return status, k

    def run_into(self, args: Sequence[np.ndarray], outs: Sequence[np.ndarray]) -> None:
        """One run writing every result into ``outs`` (a loop driver's buffers, planned once:
        ``backends/hostloop.py``). Trusted arguments: C-contiguous arrays of the parameters'
        dtypes with the shapes a ``result_shapes`` call planned, and outs of the result
        shapes and dtypes, none of them overlapping an argument."""
        plan = self._plans[tuple([a.shape for a in args])]
        with self._lock:
            bufs = plan.bufs
            seen = plan.arg_objs
            for i, a in enumerate(args):
                if seen[i] is not a:
                    bufs[i] = data_ptr(a)
                    seen[i] = a
            copies = None
            for i, (code, ref, bidx, _) in enumerate(self._rprog):
                if code == _R_NEW:
                    bufs[bidx] = data_ptr(outs[i])
                else:
                    copies = copies or []
                    copies.append((i, code, ref))
            status = self._call(plan)
            if status:
                self._raise(status, args)
            for i, code, ref in copies or ():
                if code == _R_ARG:
                    src = args[ref]
                elif code == _R_SAME:
                    src = outs[ref]
                else:
                    src = self.result_buf[ref].array.reshape(plan.result_shapes[ref])
                np.copyto(outs[i], src)
