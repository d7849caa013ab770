"""The CUDA executable: a compiled Function as a list of kernel launches over device buffers.

Compile time (once per Function): fusion groups become steps (a generated elementwise or
reduction kernel, a library kernel, a GEMM through cuBLAS or the tiled fallback, a strided
copy); view ops (reshape, expand_dims, squeeze, identity) alias their operand's buffer.

Per input-shape signature (cached): every value's concrete shape from the ops' own type rules
(which validates the run), each launch's integer arguments and grid, and the arena: one device
allocation per executable holding every temporary, laid out by a liveness-based first-fit
planner (a buffer lives from the step that writes it to the last step that reads it; scratch
space, e.g. convolution columns, only during its step) and reused by later runs of the same
signature. Fed arrays are copied into their arena slots.

Per run: parameters that are ``DeviceTensor``s (variables from earlier steps) are used in
place; variable updates are new DeviceTensors, or are written in place into the variable's own
buffer when no later kernel reads the old value (donation); fetched values are copied to the
host. Kernels report run-time errors (a bad label, an integer division by zero, a NaN under
check_numerics) through one int32 status word; the message is the reference backend's.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections import OrderedDict
from typing import Optional, Sequence

import numpy as np

from ...kernels import plan as kplan
from ...kernels.arena import assign_offsets
from ...kernels.groups import kernel_groups, materialized, needed_values
from ...kernels.plan import Buffer as Buf
from ...kernels.plan import aligned, live_ranges
from ...kernels.shapes import run_shapes
from ...passes.fusion import data_operands
from ...errors import InvalidArgumentError, OpError, ResourceExhaustedError
from ...ir.core import Function, Op, Value
from ...ir.opdef import OPS
from ...ir.verifier import verify
from .lib import LIBRARY
from .lib import kernel as lib_kernel
from ...kernels.errors import ErrorTable, UnsupportedOp
from ...kernels.groups import same_static
from ...kernels.indexmap import contig
from .codegen import GroupGen
from .scalar_ops import EW
from .source import INT_MAX_CODE, is_special_read, reduces, remaps
from .blas import device_ptr
from .device import DeviceTensor, alloc, cuda, cupy_module, gpu_present, is_simulator, upload
from .launch import KernelLauncher, launch_mode
from .steps import Launch, Step
from .runtime_ns import compile_source



def views(name: str) -> bool:
    return OPS[name].kind == "view"

ALIGN = 256
PLAN_CACHE = 8



def _prod(xs) -> int:
    n = 1
    for x in xs:
        n *= int(x)
    return n


_SCALARS = (bool, int, float, np.integer, np.floating, np.bool_)

# JITFLOW_CUDA_KERNEL_TIMES=1: every launch is timed (synchronized before and after, so this
# slows a run down): label -> [seconds, launches]. Read it with kernel_times().
KERNEL_TIMES: Optional[dict] = {} if os.environ.get("JITFLOW_CUDA_KERNEL_TIMES", "") not in (
    "", "0") else None


def kernel_times() -> list[tuple[str, float, int]]:
    """(label, total seconds, launches) per step kind and ops, slowest first (empty unless
    JITFLOW_CUDA_KERNEL_TIMES=1)."""
    return sorted(((k, v[0], v[1]) for k, v in (KERNEL_TIMES or {}).items()),
                  key=lambda r: -r[1])


def _check_gpu_args(L: Launch, vals: list) -> None:
    """Under the simulator (which runs kernels as Python and takes anything): fail on an
    argument a kernel on a real GPU could not take (None, a host array, an object), so the
    simulator tests catch what only the device would."""
    for n, v in enumerate(vals):
        if isinstance(v, _SCALARS) or type(v).__name__ == "FakeCUDAArray" or \
                hasattr(v, "__cuda_array_interface__") or \
                (isinstance(v, tuple) and all(isinstance(x, _SCALARS) for x in v)):
            continue
        name = getattr(getattr(L.kernel, "py_func", None), "__name__", "kernel")
        raise TypeError(f"internal error: argument {n} of {name} ({L.template[n]}) is "
                        f"{type(v).__name__}, which a kernel on a GPU cannot take")


class _Plan:
    __slots__ = ("shapes", "arena", "bufs", "launches", "offsets", "result_shapes", "keep")


class CUDAExecutable:
    def __init__(self, f: Function, donations: Optional[dict[int, int]] = None,
                 num_fetches: Optional[int] = None, num_feeds: Optional[int] = None,
                 scalar_params: Optional[Sequence[int]] = None) -> None:
        verify(f, allow_pseudo=False)
        self.function = f
        self.sim = is_simulator()
        self.launch_mode = launch_mode(self.sim)
        # the simulator runs each thread as a Python thread: few threads, grid-stride loops
        self.block = 4 if self.sim else 256
        self.max_grid = 1 if self.sim else 4096
        self.reduce_block = 8 if self.sim else 256
        self.block_reduce_min = 64 if self.sim else 128
        self.tile = 2 if self.sim else 16
        self.n_params = len(f.params)
        self.num_fetches = len(f.results) if num_fetches is None else num_fetches
        self.num_feeds = self.n_params if num_feeds is None else num_feeds
        if scalar_params is None:
            scalar_params = [i for i, p in enumerate(f.params) if p.name == "rng_step"]
        self.scalar_params = {i for i in scalar_params
                              if f.params[i].type.shape == () and i < self.n_params}
        self.donations = dict(donations or {})
        self.applied_donations: dict[int, int] = {}
        self.errors = ErrorTable()
        self.steps: list[Step] = []
        self.cp = cupy_module()
        self._plans: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._const_dev: dict[int, object] = {}
        self._err = None
        self._err_clean = False
        #: a loop driver's settings (backends/cuda/control.py): the status word is read by
        #: ``status()`` after many runs instead of after each, and a run does not wait for its
        #: kernels (the driver's next host read does)
        self.deferred = False
        self.sync_on_return = True
        #: a loop driver's recycled result buffers ((elements, dtype) -> flat device arrays):
        #: None unless it hands back the results of earlier trips (``recycle``)
        self.pool: Optional[dict] = None
        self._zero_off = None
        self._cp_views: dict = {}
        self._ptrs: dict = {}
        self._dry = False
        self.param_dtypes = [p.type.dtype.np for p in f.params]
        self._build()

    # ================================================================ compile time =========
    def _new(self, kind: str, value: Optional[Value], **kw) -> Buf:
        return self.bt.new(kind, value, **kw)

    def _build(self) -> None:
        f = self.function
        self.bt = kplan.BufferTable(f)
        self.bufs, self.storage = self.bt.buffers, self.bt.storage
        self.needed = needed = needed_values(f)
        groups = kernel_groups(f, needed, gemm_epilogue=False, one_kernel=self._group_ok)
        producer = {id(r): op for op in f.ops for r in op.results}
        self.materialize = materialized(f, groups)
        var_results = {id(v) for v in f.results[self.num_fetches:]}
        unsupported: set[str] = set()
        for g in groups:
            try:
                self._plan_group(g, producer, var_results)
            except UnsupportedOp as e:
                unsupported.update(e.ops)
                for op in g:            # placeholders, so the rest is planned (and checked)
                    for r in op.results:
                        self._out_buffer(r, var_results)
        if unsupported:
            raise UnsupportedOp("cuda", unsupported)
        self._finish_results()
        self._apply_donations()
        self.device_params = {b.ref for b in self.bufs if b.kind == "param"
                              and any(b in s.reads for s in self.steps)}
        self.donated_params = set(self.applied_donations.values())
        self.uses_err = any(s.gen is not None and s.gen.uses_err for s in self.steps) or \
            any(s.kind in ("gather", "gather_grad", "sparse_softmax_cross_entropy")
                for s in self.steps)

    @property
    def donated(self) -> dict[int, int]:
        """The donations applied (result index -> parameter index)."""
        return self.applied_donations

    @staticmethod
    def _is_generated(g: list[Op]) -> bool:
        root = g[-1]
        return reduces(root.opname) or root.opname in EW or remaps(root.opname)

    def _group_ok(self, g: list[Op]) -> bool:
        """A group the generator handles as one kernel (else its ops run one by one)."""
        root = g[-1]
        if len(g) == 1:
            return True
        body = g[:-1] if reduces(root.opname) else g
        for op in body:
            if op.opname not in EW and not remaps(op.opname):
                return False
            if views(op.opname):
                return False
            if len(op.results) != 1:
                return False
        if not reduces(root.opname) and root.opname not in EW and \
                not remaps(root.opname):
            return False
        if reduces(root.opname):
            # a reduction's prologue is never stored: every value stays inside the group
            members = {id(op) for op in g}
            res = {id(v) for v in self.function.results}
            for op in g[:-1]:
                if id(op.result) in res:
                    return False
                for u in self.function.ops:
                    if id(u) not in members and any(v is op.result for _, v in data_operands(u)):
                        return False
        # a transpose / slice reads its operand from memory: not computed in the same kernel
        members = {id(op) for op in g}
        for op in g:
            if remaps(op.opname):
                p = op.operands[0].producer
                if p is not None and id(p) in members:
                    return False
            if OPS[op.opname].kind == "random" and \
                    not same_static(op.result, (g[-1].operands[0] if reduces(root.opname)
                                                else g[-1].result)):
                return False
        return True

    def _buffer_of(self, v: Value) -> Buf:
        return self.bt.of(v)

    def _out_buffer(self, v: Value, var_results: set) -> Buf:
        if id(v) not in self.storage:
            kind = "vresult" if id(v) in var_results else "temp"
            name = (v.producer.loc.tf_name or v.producer.opname) if v.producer else "value"
            if kind == "vresult":
                f = self.function
                rname = next((f.result_names[i] for i in range(self.num_fetches, len(f.results))
                              if f.results[i] is v and f.result_names[i]), "")
                if rname:
                    name = f"{rname} (the value of {name})"
            return self.bt.out(v, kind, name)
        return self.storage[id(v)]

    def _plan_group(self, g: list[Op], producer, var_results) -> None:
        root = g[-1]
        name = root.opname
        if len(g) == 1 and views(name):
            self.storage[id(root.result)] = self._buffer_of(root.operands[0])
            return
        if len(g) == 1 and name == "constant":
            if id(root.result) in self.materialize:
                self._buffer_of(root.result)
            return
        outs = []
        for op in g:
            for r in op.results:
                if id(r) in self.materialize and id(r) in self.needed:
                    outs.append(r)
        if self._is_generated(g) and (len(g) > 1 or name in EW or reduces(name)
                                      or remaps(name)):
            self._plan_generated(g, outs, producer, var_results)
            return
        handler = LIBRARY.get(name)
        if handler is None or len(g) != 1:
            raise UnsupportedOp("cuda", {op.opname for op in g if op.opname not in EW})
        out_bufs = [self._out_buffer(r, var_results) for r in root.results]
        reads = [self._buffer_of(v) for _, v in data_operands(root)]
        step = Step(name, [root], reads, out_bufs)
        handler(self, step, root)
        self.steps.append(step)

    def _plan_generated(self, g, outs, producer, var_results) -> None:
        root = g[-1]
        if reduces(root.opname):
            outs = [root.result]
        out_pairs = [(v, self._out_buffer(v, var_results).idx) for v in outs]
        reads: list[Buf] = []

        def leaf_buf(v: Value) -> int:
            b = self._buffer_of(v)
            if b not in reads:
                reads.append(b)
            return b.idx

        def host_param(v: Value) -> Optional[int]:
            if v.producer is None and v.index in self.scalar_params:
                return v.index
            return None

        gen = GroupGen(g, out_pairs, leaf_buf, host_param, self.errors, self.block,
                       self.reduce_block)
        src = gen.generate()
        names = ("kernel_serial", "kernel_block") if gen.reduce else ("kernel",)
        kernels = compile_source(src, names)
        step = Step("reduce" if gen.reduce else "ew", list(g), reads,
                    [self.bufs[i] for _, i in out_pairs], gen=gen, kernels=kernels)
        step.bind = lambda shapes, plan, step=step: _bind_generated(self, step, shapes, plan)
        self.steps.append(step)

    def _finish_results(self) -> None:
        """Variable updates must own their buffers: one held in another buffer (a parameter, a
        constant, a view of a temporary) is copied into a buffer of its own."""
        f = self.function
        owned: set[int] = set()
        for r_idx in range(self.num_fetches, len(f.results)):
            v = f.results[r_idx]
            b = self.storage.get(id(v))
            if b is None:
                b = self._buffer_of(v)
            if b.kind == "vresult" and b.value is v and b.idx not in owned:
                owned.add(b.idx)
                continue
            out = self._new("vresult", v, name=f.result_names[r_idx] or "variable update")
            step = Step("copy", [], [b], [out])
            step.bind = (lambda shapes, plan, src=b, dst=out, v=v:
                         self._copy_launches(dst.idx, src.idx, shapes[id(v)]))
            self.steps.append(step)
            self.storage[("result", r_idx)] = out

    def result_buf(self, r_idx: int) -> Buf:
        return self.storage.get(("result", r_idx)) or self.storage[id(self.function.results[r_idx])]

    def _apply_donations(self) -> None:
        f = self.function
        for r_idx, p_idx in self.donations.items():
            if r_idx < self.num_fetches or r_idx >= len(f.results):
                continue
            rbuf, pbuf = self.result_buf(r_idx), self.storage[id(f.params[p_idx])]
            if rbuf.kind != "vresult" or pbuf.kind != "param" or any(
                    self.storage.get(id(x)) is pbuf for x in f.results):
                continue
            v = f.results[r_idx]
            if kplan.donation_kernel(f, self.steps, r_idx, p_idx, rbuf, pbuf, lambda step: (
                    kplan.reads_only_in_place(step.ops, self.storage, pbuf, step.gen.space, v,
                                              lambda op, i: is_special_read(op, i)))) is None:
                continue
            rbuf.kind, rbuf.ref = "donated", p_idx
            self.applied_donations[r_idx] = p_idx

    # ================================================================ library steps ========
    def grid_for(self, n: int, block: Optional[int] = None) -> tuple[int, int]:
        block = block or self.block
        return max(1, min((n + block - 1) // block, self.max_grid)), block

    def _copy_launches(self, dst: int, src: int, shape, db=0, ds=None, sb=0, ss=None) -> list:
        shape = tuple(int(d) for d in shape) or (1,)
        n = _prod(shape)
        if n == 0:
            return []
        ds = tuple(contig(shape)) if ds is None else tuple(int(x) for x in ds)
        ss = tuple(contig(shape)) if ss is None else tuple(int(x) for x in ss)
        if len(ds) < len(shape):
            ds = (0,) * (len(shape) - len(ds)) + ds
        if len(ss) < len(shape):
            ss = (0,) * (len(shape) - len(ss)) + ss
        k = lib_kernel("copy_strided", rank=len(shape))
        grid, block = self.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (0, shape), (1, dst), (0, int(db)), (0, ds),
                                        (1, src), (0, int(sb)), (0, ss)])]

    def _fill_launch(self, dst: int, n: int, value) -> list:
        if n == 0:
            return []
        value = np.asarray(value).astype(self.bufs[dst].np_dtype()).item()
        k = lib_kernel("fill")
        grid, block = self.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (1, dst), (0, value)])]

    # ================================================================ per-signature ========
    def _shapes(self, args) -> dict:
        return run_shapes(self.function, args)

    def _nbytes(self, b: Buf, shapes) -> int:
        if b.kind == "scratch":
            return int(b.nbytes(shapes))
        return _prod(shapes[id(b.value)]) * b.np_dtype().itemsize

    def _plan(self, args) -> _Plan:
        if not self.sim and not gpu_present():
            raise RuntimeError("the cuda backend found no CUDA GPU (the driver reports none); "
                               "set NUMBA_ENABLE_CUDASIM=1 to run it on Numba's CUDA simulator")
        shapes = self._shapes(args)
        plan = _Plan()
        plan.shapes = shapes
        plan.keep = []
        # liveness over steps; fetched values live to the end, fed values from the start
        nsteps = len(self.steps)
        first, last = live_ranges(self.steps)
        staged = [b for b in self.bufs if b.kind == "param" and b.ref < self.num_feeds
                  and b.ref in self.device_params and b.ref not in self.donated_params]
        for b in staged:
            first[b.idx] = -1
            last[b.idx] = max(n for n, s in enumerate(self.steps) if b in s.reads)
        for v in self.function.results[:self.num_fetches]:
            b = self.storage.get(id(v))
            if b is not None and b.kind == "temp":
                last[b.idx] = nsteps
        sizes: dict[int, int] = {}
        for b in self.bufs:
            if b.kind in ("temp", "scratch") or b in staged:
                if b.idx not in first and b.kind != "param":
                    continue
                nb = self._nbytes(b, shapes)
                sizes[b.idx] = max(ALIGN, aligned(nb, ALIGN))
        offsets, top = assign_offsets(sizes, first, last)
        plan.offsets = offsets
        try:
            plan.arena = alloc(max(top, ALIGN), np.uint8, "arena", (max(top, ALIGN),))
        except ResourceExhaustedError as e:
            big = sorted(((self._nbytes(self.bufs[i], shapes), i) for i in sizes), reverse=True)[:3]
            desc = "; ".join(f"{self.bufs[i].name or 'tmp'} {self._shape_of(self.bufs[i], shapes)} "
                             f"{nb} bytes" for nb, i in big)
            raise ResourceExhaustedError(f"{e.message}. The arena holds the run's temporaries; "
                                         f"the largest: {desc}") from None
        bufs: list = [None] * len(self.bufs)
        for b in self.bufs:
            if b.idx in offsets:
                dt = b.np_dtype()
                n = max(1, self._nbytes(b, shapes) // dt.itemsize)
                off = offsets[b.idx]
                bufs[b.idx] = plan.arena[off:off + n * dt.itemsize].view(dt)
            elif b.kind == "const":
                bufs[b.idx] = self._const(b)
        plan.bufs = bufs
        plan.launches = []
        for s in self.steps:
            if s.bind is None:
                continue
            launches = s.bind(shapes, plan)
            label = f"{s.kind}: {'+'.join(op.opname for op in s.ops)}"
            for L in launches:
                L.label = label
            plan.launches.extend(launches)
        plan.result_shapes = [shapes[id(v)] for v in self.function.results]
        return plan

    @staticmethod
    def _shape_of(b: Buf, shapes):
        if b.value is not None and id(b.value) in shapes:
            return list(shapes[id(b.value)])
        return "[scratch]"

    def _const(self, b: Buf):
        d = self._const_dev.get(b.idx)
        if d is None:
            arr = np.ascontiguousarray(b.array, dtype=b.np_dtype())
            d = upload(arr if arr.size else np.zeros(1, arr.dtype), f"constant {b.name}")
            self._const_dev[b.idx] = d
        return d

    # ================================================================ run ===================
    def _check_args(self, args) -> list:
        if len(args) != self.n_params:
            raise InvalidArgumentError(f"expected {self.n_params} arguments, got {len(args)}")
        out = []
        for i, (a, dt) in enumerate(zip(args, self.param_dtypes)):
            if isinstance(a, DeviceTensor):
                if a.dtype != dt:
                    raise InvalidArgumentError(f"parameter {i} has dtype {dt}, the device tensor "
                                               f"{a.dtype}")
                out.append(a)
                continue
            if isinstance(a, np.ndarray) and a.dtype != dt:
                p = self.function.params[i]
                raise InvalidArgumentError(f"parameter {i} ({p.name or 'unnamed'}) of type "
                                           f"{p.type} cannot take an array of dtype {a.dtype}")
            out.append(np.asarray(a, dtype=dt, order="C"))
        return out

    def run(self, args: Sequence) -> list:
        args = self._check_args(args)
        key = tuple(tuple(a.shape) for a in args)
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                plan = self._plan(args)
                self._plans[key] = plan
                while len(self._plans) > PLAN_CACHE:
                    self._plans.popitem(last=False)
            else:
                self._plans.move_to_end(key)
            if not self.sim:
                return self._run(plan, args)
            # the simulator's scheduler polls its threads: a short GIL switch interval keeps
            # that polling from starving the simulated threads (restored afterwards)
            # (and NumPy's scalar warnings, e.g. log(0), are what the GPU does silently)
            old = sys.getswitchinterval()
            sys.setswitchinterval(min(old, 5e-5))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    return self._run(plan, args)
            finally:
                sys.setswitchinterval(old)

    def _run(self, plan: _Plan, args: list) -> list:
        f = self.function
        bufs = list(plan.bufs)
        fresh: dict[int, object] = {}        # param index -> device array uploaded this run
        for b in self.bufs:
            if b.kind != "param":
                continue
            a = args[b.ref]
            if isinstance(a, DeviceTensor):
                bufs[b.idx] = a.data
            elif b.idx in plan.offsets:
                if a.size:              # (the staged view has exactly a.size elements)
                    bufs[b.idx].copy_to_device(a.reshape(-1))
            elif b.ref in self.device_params or b.ref in self.donated_params:
                d = upload(a if a.size else np.zeros(1, a.dtype), f"'{b.name}'")
                bufs[b.idx] = d
                fresh[b.ref] = d
        for b in self.bufs:
            if b.kind == "vresult":
                shape = plan.shapes[id(b.value)]
                n, dt = max(1, _prod(shape)), b.np_dtype()
                free = self.pool.get((n, dt.str)) if self.pool is not None else None
                bufs[b.idx] = free.pop() if free else alloc(n, dt, f"'{b.name}'", shape)
            elif b.kind == "donated":
                bufs[b.idx] = bufs[self.storage[id(f.params[b.ref])].idx]
        # every generated kernel takes the status word; without checks it is a dummy, not read
        err = self._err_array() if self.uses_err and not self.deferred else self._unused_err()
        if KERNEL_TIMES is None:
            for L in plan.launches:
                self._launch(L, bufs, args, err)
        else:
            sync = cuda().synchronize
            for L in plan.launches:
                sync()
                t0 = time.perf_counter()
                self._launch(L, bufs, args, err)
                sync()
                rec = KERNEL_TIMES.setdefault(L.label, [0.0, 0])
                rec[0] += time.perf_counter() - t0
                rec[1] += 1
        if self.uses_err and not self.deferred:
            code = int(err.copy_to_host()[0])
            self._err_clean = code == INT_MAX_CODE
            if not self._err_clean:
                self._raise(code, args)
        results: list = []
        for r_idx, v in enumerate(f.results):
            shape = plan.result_shapes[r_idx]
            b = self.result_buf(r_idx)
            if r_idx < self.num_fetches:
                results.append(self._fetch(b, v, shape, bufs, args))
            elif b.kind == "donated":
                a = args[b.ref]
                results.append(a if isinstance(a, DeviceTensor) else
                               DeviceTensor(bufs[b.idx], shape, b.np_dtype()))
            else:
                results.append(DeviceTensor(bufs[b.idx], shape, b.np_dtype()))
        if not self.sim and self.sync_on_return and not (self.uses_err and not self.deferred):
            cuda().synchronize()      # a run returns when its kernels are done, as in TF
        return results

    def _fetch(self, b: Buf, v: Value, shape, bufs, args) -> np.ndarray:
        if b.kind == "param":
            a = args[b.ref]
            return a.numpy().reshape(shape) if isinstance(a, DeviceTensor) else \
                np.array(a).reshape(shape)
        if b.kind == "const":
            return np.array(b.array, dtype=b.np_dtype()).reshape(shape)
        out = np.empty(shape, dtype=b.np_dtype())
        if out.size:
            bufs[b.idx][:out.size].copy_to_host(out.reshape(-1))
        return out

    def _launch(self, L: Launch, bufs: list, args: list, err) -> None:
        if L.fn is not None:
            L.fn(bufs, args)
            return
        vals = []
        for tag, v in L.template:
            if tag == 0:
                vals.append(v)
            elif tag == 1:
                vals.append(bufs[v])
            elif tag == 2:
                a = args[v]
                vals.append(a.numpy().item() if isinstance(a, DeviceTensor) else a.item())
            else:
                vals.append(err)
        launcher = L.configured
        if launcher is None:
            if self.sim:            # (the simulator's configuration is not a new object)
                _check_gpu_args(L, vals)
                L.kernel[L.grid, L.block](*vals)
                return
            launcher = L.configured = KernelLauncher(L.kernel, L.grid, L.block)
        launcher(tuple(vals))

    def _err_array(self):
        """The status word, holding "no error" (re-uploaded only after a run that failed)."""
        if self._err is None:
            self._err = upload(np.array([INT_MAX_CODE], dtype=np.int32), "status word")
        elif not self._err_clean:
            self._err.copy_to_device(np.array([INT_MAX_CODE], dtype=np.int32))
        self._err_clean = False     # until this run's check reads "no error" back
        return self._err

    def reset_status(self) -> None:
        """Deferred checks: set the status word to "no error" (before a loop's trips)."""
        self._err_array()

    def status(self) -> Optional[str]:
        """Deferred checks: the message of the first error since ``reset_status`` (None: no
        error). An error's exact text needs its run's arguments: rerun that run undeferred."""
        if not self.uses_err or self._err is None:
            return None
        code = int(self._err.copy_to_host()[0])
        self._err_clean = code == INT_MAX_CODE
        if self._err_clean:
            return None
        return self.errors.messages[code - 1] if 0 < code <= len(self.errors.messages) else \
            f"kernel status {code}"

    def _unused_err(self):
        if self._err is None:
            self._err = upload(np.array([INT_MAX_CODE], dtype=np.int32), "status word")
        return self._err

    def _raise(self, code: int, args) -> None:
        if code in self.errors.exact:
            from ..reference import ReferenceExecutable
            host = [a.numpy() if isinstance(a, DeviceTensor) else a for a in args]
            try:
                ReferenceExecutable(self.function).run(host)
            except OpError as e:
                raise e from None
        msg = self.errors.messages[code - 1] if 0 < code <= len(self.errors.messages) else \
            f"kernel status {code}"
        raise InvalidArgumentError(msg)

    def recycle(self, results: Sequence) -> None:
        """A loop driver hands back results of this executable that nothing reads any more
        (an earlier trip's, whose readers are queued on the same stream): later runs write
        their results there instead of allocating (needs ``pool`` set)."""
        if self.pool is None:
            return
        for t in results:
            if isinstance(t, DeviceTensor) and t.data is not None:
                self.pool.setdefault((int(t.data.shape[0]), t.dtype.str), []).append(t.data)

    def close(self) -> None:
        """Release the arenas, constants and status word (device memory)."""
        with self._lock:
            self.pool = {} if self.pool is not None else None
            self._plans.clear()
            self._const_dev.clear()
            self._cp_views.clear()
            self._ptrs.clear()
            self._err = None
            self._zero_off = None

    def _upload(self, host: np.ndarray, what: str):
        return host if self._dry else upload(host, what)

    # ================================================================ PTX ==================
    def ptx(self, args: Sequence, cc=(9, 0)) -> list[tuple[str, str]]:
        """Compile every kernel this executable launches for ``args`` (host arrays giving the
        shapes) to PTX for compute capability ``cc`` with ``cuda.compile_ptx``, without a GPU
        (needs NVVM: ``numba-cuda[cu13]``); returns (kernel name, PTX text) pairs. Both variants
        of a reduction (one thread per output, one block per output) are compiled."""
        from numba import typeof, types
        from .device import cuda
        args = self._check_args(args)
        self._dry = True
        try:
            shapes = self._shapes(args)
            launches = []
            for s in self.steps:
                if s.bind is not None:
                    for L in s.bind(shapes, None):
                        launches.append(L)
                        if s.kind == "reduce":    # the sibling variant, same signature
                            other = [k for n, k in s.kernels.items() if n.startswith("kernel_")
                                     and k is not L.kernel]
                            launches.extend(Launch(k, 1, 1, L.template) for k in other)
        finally:
            self._dry = False
        out, seen = [], set()
        for L in launches:
            if L.kernel is None:
                continue
            sig = []
            for tag, v in L.template:
                if tag == 0:
                    sig.append(typeof(v))
                elif tag == 1:
                    sig.append(types.Array(typeof(self.bufs[v].np_dtype().type(0)), 1, "C"))
                elif tag == 2:
                    sig.append(typeof(args[v].item()))
                else:
                    sig.append(types.int32[::1])
            fn = L.kernel.py_func
            key = (id(fn), tuple(str(t) for t in sig))
            if key in seen:
                continue
            seen.add(key)
            ptx, _ = cuda().compile_ptx(fn, tuple(sig), cc=cc)
            out.append((fn.__name__, ptx))
        return out

    # ================================================================ cuBLAS ===============
    def device_ptr(self, arr) -> int:
        """``arr``'s device address (cached per array object)."""
        hit = self._ptrs.get(id(arr))
        if hit is None or hit[0] is not arr:
            if len(self._ptrs) > 1024:
                self._ptrs.clear()
            hit = (arr, device_ptr(arr))
            self._ptrs[id(arr)] = hit
        return hit[1]

    def cp_view(self, arr, shape):
        cp = self.cp
        key = id(arr)
        hit = self._cp_views.get(key)
        if hit is None or hit[0] is not arr:
            if len(self._cp_views) > 256:
                self._cp_views.clear()
            hit = (arr, cp.asarray(arr))
            self._cp_views[key] = hit
        n = _prod(shape)
        return hit[1][:n].reshape(shape)


# ==================================================================== step binders ==========

def _bind_generated(self: CUDAExecutable, step: Step, shapes, plan) -> list:
    gen = step.gen
    template = []
    for spec in gen.specs:
        if spec[0] == "buf":
            template.append((1, spec[1]))
        elif spec[0] == "host":
            template.append((2, spec[1]))
        else:
            template.append((0, spec[1](shapes)))
    if gen.reduce:
        odims, rdims = gen.reduce_axes(shapes)
        nout, nred = _prod(odims), _prod(rdims)
        if nout == 0:
            return []
        sst = tuple(contig(shapes[id(gen.space)])) or (0,)
        head = [(0, nout), (0, nred), (0, odims or (1,)), (0, rdims or (1,)), (0, sst), (3, None)]
        use_block = nred > self.block_reduce_min and nout < (1 << 16)
        if use_block:
            grid = max(1, min(nout, 1 if self.sim else 65535))
            return [Launch(step.kernels["kernel_block"], grid, self.reduce_block,
                           head + template)]
        grid, block = self.grid_for(nout)
        return [Launch(step.kernels["kernel_serial"], grid, block, head + template)]
    space = shapes[id(gen.space)]
    n = _prod(space)
    if n == 0:
        return []
    head = [(0, n)] + ([(0, tuple(int(d) for d in space))] if gen.rank and gen.need_ix else []) \
        + [(3, None)]
    grid, block = self.grid_for(n)
    return [Launch(step.kernels["kernel"], grid, block, head + template)]

