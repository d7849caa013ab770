"""Control flow on the cuda backend: a host loop over device kernels.

A Function holding ``cond``/``while`` runs through ``backends/hostloop.py``'s host driver
(``DeviceDriven``): straight-line segments and each region are compiled once as
``CUDAExecutable``s whose results all stay on the device (``num_fetches=0``: DeviceTensors),
so values move between segments, regions and trips as device arrays. What the host reads:

* a ``while``'s predicate, once per trip (one scalar copied back: the only sync of a trip);
* a ``cond``'s predicate, once;
* a counting carried value (a loop's time index) once per loop run, when the step reads an
  invariant's row at it (``hostloop.row_params``): the rows are then device views of the
  invariant at the host's count, no gather kernel and no copy.

Host arrays entering a loop are uploaded once, at its start. The stacked per-trip outputs
and, for a gradient's forward loop (``record``), the carried values at the start of each trip
are copied device to device into rows of one device array per value (capacity
``maximum_iterations``, else the last run's trips, at least 16, doubling), so the reverse
loop reads its stacks as row views too. A compiled step writes each trip's results into the
buffers of the trip before last (``CUDAExecutable.recycle``: their last readers are queued on
the same stream), so a trip allocates nothing. The status words of the loop's executables are
read every CHECK_EVERY trips and after the loop (a failed loop is rerun checked, for its
trip's own message). Ops a Session would place on the host (host callbacks, library ops
without a cuda kernel) split a segment and run on the reference interpreter (``HostOp``).
The fetched results of the whole Function are copied to the host at the end; variable updates
stay DeviceTensors. The semantics (maximum iterations, no trip at all, shape errors) are
``ops/control.run_while``'s.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ...ir.core import Function, Op
from ...ir.opdef import OPS
from ...ir.types import TensorType
from ...ops.control import bind_dims, concrete_shape
from ..hostloop import HostDriven, _Cond, _HostStep, _While
from .device import DeviceTensor, alloc, to_host, upload


def prepare_region(f: Function) -> Function:
    """The cuda pipeline for a region or segment (autodiff has already run on the whole
    Function): simplifications, cuda-legalize, promote-narrow, fusion."""
    from ...passes.manager import AUTODIFF
    from .pipeline import PIPELINE
    for p in PIPELINE:
        if p is not AUTODIFF:
            f = p.run(f)
    return f


def compile_leaf(f: Function, donations: Optional[dict[int, int]] = None):
    """A straight-line part as a CUDAExecutable whose results all stay on the device."""
    from .executable import CUDAExecutable
    exe = CUDAExecutable(f, donations, num_fetches=0, num_feeds=len(f.params))
    exe.sync_on_return = False        # the driver's next host read waits for the kernels
    return exe


def on_host(opname: str) -> bool:
    """An op the driver runs on the reference interpreter, as a Session places it on the
    host (``runtime/placement.py``): a host callback, or a library op without a cuda
    lowering (``unlowered_on``)."""
    d = OPS[opname]
    return d.kind == "host" or (d.kind == "library" and "cuda" in d.unlowered_on)


class HostOp(_HostStep):
    """One op on the reference interpreter: device operands are copied to the host."""

    def __call__(self, args: list) -> list:
        return self.exe.run([to_host(a) for a in args])


def on_device(x) -> DeviceTensor:
    """``x`` as a DeviceTensor (a host array is uploaded)."""
    if isinstance(x, DeviceTensor):
        return x
    h = np.asarray(x)           # (0-d stays 0-d: ascontiguousarray would make it 1-d)
    return DeviceTensor(upload(h, "loop value"), h.shape, h.dtype)


def device_copy(x):
    """A private device copy of ``x`` (a host array: a host copy)."""
    if not isinstance(x, DeviceTensor):
        return np.array(x, copy=True)
    d = alloc(max(1, x.size), x.dtype, "copy", x.shape)
    if x.size:
        d.copy_to_device(x.data[:x.size])
    return DeviceTensor(d, x.shape, x.dtype)


def read_pred(x) -> bool:
    """A predicate's value on the host (a device scalar: one copy back)."""
    return bool(to_host(x).reshape(()))


def row_view(x: DeviceTensor, k: int) -> DeviceTensor:
    """Row ``k`` of ``x`` (in range) as a DeviceTensor viewing its memory."""
    shape = x.shape[1:]
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return DeviceTensor(alloc(1, x.dtype, "empty row", shape), shape, x.dtype)
    return DeviceTensor(x.data[k * n:(k + 1) * n], shape, x.dtype)


class DeviceStack:
    """Per-trip values of one loop output as rows of one growing device array."""

    def __init__(self, capacity: int, what: str) -> None:
        self.cap, self.what = max(1, capacity), what
        self.buf = None
        self.shape: Optional[tuple] = None
        self.dtype = None
        self.rows = 0

    def append(self, x) -> None:
        x = on_device(x)
        if self.shape is None:
            self.shape, self.dtype = x.shape, x.dtype
            self.row = x.size
            self.buf = alloc(max(1, self.cap * self.row), x.dtype, self.what,
                             (self.cap,) + x.shape)
        elif x.shape != self.shape:
            raise ValueError(f"{self.what} changes shape across iterations "
                             f"({sorted({self.shape, x.shape})}); stacking it needs one shape")
        if self.rows == self.cap:
            self.cap *= 2
            new = alloc(max(1, self.cap * self.row), self.dtype, self.what,
                        (self.cap,) + self.shape)
            if self.rows * self.row:
                new[:self.rows * self.row].copy_to_device(self.buf[:self.rows * self.row])
            self.buf = new
        if self.row:
            k = self.rows * self.row
            self.buf[k:k + self.row].copy_to_device(x.data[:self.row])
        self.rows += 1

    def result(self, empty_shape: tuple, dtype) -> object:
        """The stack [trips, ...] (no trip: an empty host array of ``empty_shape``)."""
        if not self.rows:
            return np.empty((0,) + tuple(d or 0 for d in empty_shape), dtype)
        n = self.rows * self.row
        data = self.buf[:n] if n else self.buf
        return DeviceTensor(data, (self.rows,) + self.shape, self.dtype)


class DeferredError(Exception):
    """A deferred status word held an error (the loop is rerun with checks per run)."""


#: trips between two reads of the deferred status words (a loop whose values went wrong
#: after a failing kernel still stops within this many trips)
CHECK_EVERY = 32


def _check(deferred: Sequence) -> None:
    for e in deferred:
        msg = e.status()
        if msg is not None:
            raise DeferredError(msg)


def device_while(cond, step, args: Sequence, n: int, maximum_iterations: int, record: bool,
                 m: int, types: Sequence[TensorType], rows: Sequence = (),
                 capacity: int = 16, deferred: Sequence = (), recycle=None,
                 operand_types: Sequence[TensorType] = ()) -> list:
    """``ops/control.run_while`` over device-resident values: ``cond`` and ``step`` take and
    give DeviceTensors; only predicates (and a counter of ``rows``, once) are read back.
    ``deferred``: executables whose status words are read every CHECK_EVERY trips and at the
    end (DeferredError), not after each run. ``recycle(results)``: given each trip's step
    results once the next trip's kernels (the last readers) are queued."""
    for e in deferred:
        e.reset_status()
    args = [on_device(a) for a in args]
    carried, inv = list(args[:n]), list(args[n:])
    cap = maximum_iterations if maximum_iterations > 0 else max(16, capacity)
    stacks = [DeviceStack(cap, f"loop-carried value {i}") for i in range(n)] if record else []
    emitted = [DeviceStack(cap, f"stacked value {i}") for i in range(m)]
    trips = 0
    go = maximum_iterations != 0 and read_pred(cond(carried + inv)[0])
    row_src = [(args[j], int(to_host(args[c])), d) for j, c, d in rows] if go else []
    prev: list = []
    while go:
        for s, c in zip(stacks, carried):
            s.append(c)
        extra = []
        for src, c0, d in row_src:
            k = c0 + d * trips
            if not 0 <= k < src.shape[0]:
                _check(deferred)               # an earlier trip's error comes first
                from ...ops.gather import _gather_ref
                _gather_ref(np.empty((src.shape[0],), np.int8), np.int32(k), 0)
            extra.append(row_view(src, k))
        out = step(carried + inv + extra)
        if recycle is not None:
            recycle(prev)
            prev = out
        carried = list(out[:n])
        for e, y in zip(emitted, out[n:n + m]):
            e.append(y)
        trips += 1
        if 0 <= maximum_iterations <= trips:
            break
        if deferred and trips % CHECK_EVERY == 0:
            _check(deferred)
        go = read_pred(out[n + m])
    _check(deferred)
    res = list(carried)
    sizes = bind_dims(operand_types, args) if trips == 0 else {}
    res += [e.result(concrete_shape(t.shape[1:], sizes), t.dtype.np)
            for e, t in zip(emitted, types[n:n + m])]
    if record:
        res += [s.result(init.shape, init.dtype) for s, init in zip(stacks, args[:n])]
        res.append(np.array(trips, np.int32))
    return res


class DeviceWhile(_While):
    """A while loop whose values stay on the device (``device_while``); its cond and step
    executables check their status words once per CHECK_EVERY trips (deferred): a loop that
    failed is rerun with checks after every run, for the failing trip's exact message."""

    def __init__(self, op, compile_region) -> None:
        super().__init__(op, compile_region)
        self.deferred = [e for e in (self.cond, self.step) if getattr(e, "uses_err", False)]
        # a compiled step (not a nested driver, whose results may be its inputs) gets each
        # trip's results back for the trip after next: no allocation per trip
        self.recycle = None
        if hasattr(self.step, "recycle"):
            self.step.pool = {}
            self.recycle = self.step.recycle

    def _set_deferred(self, on: bool) -> None:
        for e in self.deferred:
            e.deferred = on

    def __call__(self, args: list) -> list:
        a = self.attrs
        n, m = a["num_carried"], a["num_stacked"]
        run = (self.cond.run, self.step.run, args, n, a["maximum_iterations"], a["record"], m,
               self.types, self.rows, self.last_trips)
        self._set_deferred(True)
        try:
            out = device_while(*run, deferred=self.deferred, recycle=self.recycle,
                               operand_types=self.operand_types)
        except DeferredError as e:
            self._set_deferred(False)
            # raises the failing trip's own error
            device_while(*run, operand_types=self.operand_types)
            from ...errors import InvalidArgumentError
            raise InvalidArgumentError(str(e)) from None
        finally:
            self._set_deferred(False)
        if m or a["record"]:
            self.last_trips = int(out[n].shape[0]) if m else int(out[-1])
        return out


class DeviceCond(_Cond):
    """A cond whose predicate is read back once."""

    def __call__(self, args: list) -> list:
        then, other = self.parts
        return (then if read_pred(args[0]) else other).run(list(args[1:]))


class DeviceDriven(HostDriven):
    """The host driver over cuda executables (see the module docstring). ``num_fetches``:
    the leading results copied to the host at the end; ``sync``: a run waits for its
    kernels (the top level; nested drivers neither fetch nor wait)."""

    control = {"while": DeviceWhile, "cond": DeviceCond}

    @staticmethod
    def breaks(op: Op) -> bool:
        return bool(op.regions) or on_host(op.opname)

    def runner(self, op: Op, compile_region):
        return HostOp(op) if on_host(op.opname) else super().runner(op, compile_region)

    def __init__(self, f: Function, compile_leaf, prepare, donations=None,
                 num_fetches: int = 0, sync: bool = False) -> None:
        super().__init__(f, compile_leaf, prepare, donations)
        self.num_fetches, self.sync = num_fetches, sync

    def run(self, args: Sequence) -> list:
        out = super().run(args)
        for i in range(self.num_fetches):
            out[i] = to_host(out[i])
        if self.sync:
            from .device import cuda, is_simulator
            if not is_simulator():
                cuda().synchronize()      # a run returns when its kernels are done, as in TF
        return out

    @staticmethod
    def copy(x):
        return device_copy(x)

    def leaves(self) -> list:
        """Every CUDAExecutable this driver runs, nested regions included."""
        out, todo = [], list(self.parts)
        while todo:
            p = todo.pop(0)
            if isinstance(p, HostDriven):
                todo[:0] = p.parts
            elif hasattr(p, "ptx") and p not in out:
                out.append(p)
        return out

    def ptx(self, args=None, cc=(9, 0)) -> list[tuple[str, str]]:
        """The kernels of every leaf (segments and regions) as PTX for ``cc``, without a GPU
        (``CUDAExecutable.ptx``), shaped by zeros of the leaves' parameter types; a leaf with
        a dim known only at run time is left out. (``args``: unused, the leaves' own types
        shape them.)"""
        out = []
        for leaf in self.leaves():
            ts = [p.type for p in leaf.function.params]
            if all(t.shape is not None and all(isinstance(d, int) for d in t.shape)
                   for t in ts):
                out += leaf.ptx([np.zeros(t.shape, t.dtype.np) for t in ts], cc)
        return out


__all__ = ["DeviceDriven", "compile_leaf", "device_while", "prepare_region"]
