"""A while loop over a compiled step with its buffers planned once (the host driver's fast
path, ``backends/hostloop.py``).

When the step executable can write into given buffers and the loop keeps its carried shapes
(the step's planned result shapes equal its carried input shapes, so every trip runs the same
shape plan), no trip allocates or copies:

* the stacked per-trip outputs (``num_stacked``) are written by the step straight into rows
  of one array per output, ``[capacity, ...]``;
* with ``record`` (the forward loop a gradient replays), the carried values at the start of
  each trip ARE rows of the record stacks: trip ``k`` reads row ``k`` and writes its carried
  results into row ``k + 1``, so the stacks cost nothing beyond the writes the step does;
* without it, two sets of carried buffers alternate (trip ``k`` reads one, writes the other).

The capacity is ``maximum_iterations`` when set, else the trips of the loop's last run (at
least 16), doubled as trips come (amortized one copy; a loop that runs as many trips each run,
an RNN's, never grows). When the step has ``run_trips`` (llvm: ``backends/llvm/drive.py``) the trips run
in native code until the predicate fails or the capacity is reached, no Python per trip;
else each trip is one ``run_into`` call from here (rows taken as ``a[k, ...]``: a view even
where a row is 0-d). The results are views of these arrays (contiguous). Anything else (no
trip at all, a loop whose carried shapes change, a step without ``run_into``) runs the
generic ``ops/control.run_while`` with the same semantics.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.types import TensorType


def _grow(a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` with room for ``rows`` rows, its first rows kept."""
    new = np.empty((rows,) + a.shape[1:], a.dtype)
    new[:a.shape[0]] = a
    return new


def _row(a: np.ndarray, mode: int) -> tuple[int, int, int]:
    """(base address, row stride in bytes, mode) of the rows of ``a`` (drive.py's slots)."""
    return a.ctypes.data, a.strides[0] if a.ndim else 0, mode


def _row_error(row_src: Sequence, k: int) -> None:
    """Raise the error a gather of trip ``k``'s rows gives (one is out of range)."""
    from ..ops.gather import _gather_ref
    for src, c0, d in row_src:
        _gather_ref(src, np.int32(c0 + d * k), 0)


class _Buffers:
    """The arrays of one loop run and how trip ``k`` addresses them."""

    def __init__(self, args: list, shapes: list, dts: list, n: int, m: int, cap: int,
                 record: bool, rows: Sequence = ()) -> None:
        self.n, self.m, self.record = n, m, record
        self.args = args
        #: row parameters (hostloop.row_params): (source array, first index, direction)
        self.row_src = [(args[j], int(args[c]), d) for j, c, d in rows]
        self.stacked = [np.empty((cap,) + tuple(shapes[n + j]), dts[n + j]) for j in range(m)]
        self.pred = np.empty((), dts[n + m])
        if record:
            self.rec = [np.empty((cap + 1,) + a.shape, a.dtype) for a in args[:n]]
            for r, a in zip(self.rec, args[:n]):
                r[0] = a
        else:                       # the two alternating sets; trip 0 reads set 1
            self.sets = [np.empty((2,) + a.shape, a.dtype) for a in args[:n]]
            for s, a in zip(self.sets, args[:n]):
                s[1] = a

    def grow(self, cap: int) -> None:
        self.stacked = [_grow(s, cap) for s in self.stacked]
        if self.record:
            self.rec = [_grow(r, cap + 1) for r in self.rec]

    # trip k's arrays, for a Python call of the step
    def ins(self, k: int) -> list:
        cur = ([r[k, ...] for r in self.rec] if self.record
               else [s[(k + 1) & 1, ...] for s in self.sets])
        return cur + self.args[self.n:] + [src[c0 + d * k, ...] for src, c0, d in self.row_src]

    def row_trips(self) -> int:
        """The trips whose rows all lie inside their arrays (from trip 0 on)."""
        end = 1 << 62
        for src, c0, d in self.row_src:
            if not 0 <= c0 < len(src):
                return 0
            end = min(end, len(src) - c0 if d > 0 else c0 + 1)
        return end

    def row_error(self, k: int) -> None:
        _row_error(self.row_src, k)

    def outs(self, k: int) -> list:
        nxt = ([r[k + 1, ...] for r in self.rec] if self.record
               else [s[k & 1, ...] for s in self.sets])
        return nxt + [s[k, ...] for s in self.stacked] + [self.pred]

    # the same as address rows, for the native driver
    def rows(self) -> tuple[list, list]:
        n = self.n
        if self.record:
            p = [_row(r, 0) for r in self.rec]
            r = [_row(x, 3) for x in self.rec]
        else:
            p = [_row(s, 2) for s in self.sets]
            r = [_row(s, 1) for s in self.sets]
        p += [(a.ctypes.data, 0, 0) for a in self.args[n:]]
        for src, c0, d in self.row_src:
            rb = src.strides[0]
            p.append((src.ctypes.data + c0 * rb, d * rb, 0))
        r += [_row(s, 0) for s in self.stacked] + [(self.pred.ctypes.data, 0, 0)]
        nbytes = [a.nbytes for a in self.args[:n]] + \
            [s[0, ...].nbytes for s in self.stacked] + [self.pred.nbytes]
        return p, [(*x, b) for x, b in zip(r, nbytes)]

    def results(self, k: int) -> list:
        final = ([r[k, ...] for r in self.rec] if self.record
                 else [s[(k - 1) & 1, ...] for s in self.sets])
        out = final + [s[:k] for s in self.stacked]
        if self.record:
            out += [r[:k] for r in self.rec] + [np.array(k, np.int32)]
        return out


def buffered_while(cond_run, step, args: Sequence, num_carried: int, maximum_iterations: int,
                   record: bool, num_stacked: int, types: Sequence[TensorType],
                   capacity_hint: int = 0, rows: Sequence = ()):
    """The while loop of ``run_while`` over ``step`` (body then condition, one native call
    per trip) with planned buffers; returns None when the fast path does not apply (the
    caller then runs ``run_while``). ``capacity_hint``: the trips the caller expects (the
    last run's: buffers of that size need no growing). ``rows``: the step's row parameters
    (``hostloop.row_params``), after its own."""
    n, m = num_carried, num_stacked
    if maximum_iterations == 0:
        return None
    args = list(args)
    if rows and not all(np.ndim(args[c]) == 0 for _, c, _ in rows):
        return None
    if not bool(cond_run(args)[0]):
        return None                                  # no trip: the generic path shapes it
    if rows:
        srcs = [(np.asarray(args[j]), int(args[c]), d) for j, c, d in rows]
        for src, c0, _ in srcs:
            if not 0 <= c0 < len(src):
                _row_error(srcs, 0)
        args += [src[c0, ...] for src, c0, _ in srcs]
    args = list(step.prepare_args(args))
    shapes = step.result_shapes(args)
    if [tuple(s) for s in shapes[:n]] != [a.shape for a in args[:n]]:
        return None                                  # carried shapes change from trip to trip
    args = args[:len(args) - len(rows)]
    cap = maximum_iterations if maximum_iterations > 0 else max(16, capacity_hint)
    buf = _Buffers(args, shapes, step.result_dtypes, n, m, cap, record, rows)
    in_rows = buf.row_trips() if rows else 1 << 62
    native = getattr(step, "run_trips", None)
    template = buf.ins(0)
    k = 0
    while True:
        if k >= in_rows:
            buf.row_error(k)                         # this trip's row is past its array
        stop = min(cap, in_rows)
        if native is not None:
            p, r = buf.rows()
            status, k = native(template, p, r, k, stop, buf.pred)
            if status:                               # the failing trip again, for its message
                step.run_into(buf.ins(k), buf.outs(k))
                raise InvalidArgumentError(step.errors.message(status))
        else:
            step.run_into(buf.ins(k), buf.outs(k))
            k += 1
        if 0 <= maximum_iterations <= k or not buf.pred:
            break
        if k == cap:                                 # only without maximum_iterations
            cap *= 2
            buf.grow(cap)
    return buf.results(k)


__all__ = ["buffered_while"]
