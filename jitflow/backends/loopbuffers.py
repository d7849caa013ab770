"""A while loop over a compiled step with its buffers planned once (the host driver's fast
path, ``backends/hostloop.py``).

When the step executable can write into given arrays (``run_into``) and the loop keeps its
carried shapes (the step's planned result shapes equal its carried input shapes, so every
trip runs the same shape plan), no trip allocates or copies:

(Rows are taken as ``a[k, ...]``: a view even where a row is 0-d, where ``a[k]`` would be a
copied scalar.)

* the stacked per-trip outputs (``num_stacked``) are written by the step straight into rows
  of one array per output, ``[capacity, ...]``;
* with ``record`` (the forward loop a gradient replays), the carried values at the start of
  each trip ARE rows of the record stacks: trip ``k`` reads row ``k`` and writes its carried
  results into row ``k + 1``, so the stacks cost nothing beyond the writes the step does;
* without it, two sets of carried buffers alternate (trip ``k`` reads one, writes the other).

The capacity is ``maximum_iterations`` when set, else it doubles as trips come (amortized
one copy). The results are views of these arrays (contiguous). Anything else (no trip at
all, a loop whose carried shapes change, a step without ``run_into``) runs the generic
``ops/control.run_while`` with the same semantics.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..ir.types import TensorType


def _grow(a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` with room for ``rows`` rows, its first rows kept."""
    new = np.empty((rows,) + a.shape[1:], a.dtype)
    new[:a.shape[0]] = a
    return new


def buffered_while(cond_run, step, args: Sequence, num_carried: int, maximum_iterations: int,
                   record: bool, num_stacked: int, types: Sequence[TensorType]):
    """The while loop of ``run_while`` over ``step`` (body then condition, one native call
    per trip) with planned buffers; returns None when the fast path does not apply (the
    caller then runs ``run_while``)."""
    n, m = num_carried, num_stacked
    if maximum_iterations == 0:
        return None
    args = list(step.prepare_args(list(args)))
    if not bool(cond_run(args)[0]):
        return None                                  # no trip: the generic path shapes it
    shapes = step.result_shapes(args)
    if [tuple(s) for s in shapes[:n]] != [a.shape for a in args[:n]]:
        return None                                  # carried shapes change from trip to trip
    dts = step.result_dtypes
    inv = args[n:]
    cap = maximum_iterations if maximum_iterations > 0 else 16
    stacked = [np.empty((cap,) + tuple(shapes[n + j]), dts[n + j]) for j in range(m)]
    pred = np.empty((), dts[n + m])
    if record:
        rec = [np.empty((cap + 1,) + a.shape, a.dtype) for a in args[:n]]
        for r, a in zip(rec, args[:n]):
            r[0] = a
        cur = [r[0, ...] for r in rec]
    else:
        sets = [[np.empty(a.shape, a.dtype) for a in args[:n]] for _ in range(2)]
        cur = args[:n]
    run_into = step.run_into
    k = 0
    while True:
        if k == cap:                                 # only without maximum_iterations
            cap *= 2
            stacked = [_grow(s, cap) for s in stacked]
            if record:
                rec = [_grow(r, cap + 1) for r in rec]
                cur = [r[k, ...] for r in rec]
        nxt = [r[k + 1, ...] for r in rec] if record else sets[k & 1]
        run_into(cur + inv, nxt + [s[k, ...] for s in stacked] + [pred])
        k += 1
        cur = nxt
        if 0 <= maximum_iterations <= k or not pred:
            break
    out = list(cur) + [s[:k] for s in stacked]
    if record:
        out += [r[:k] for r in rec] + [np.array(k, np.int32)]
    return out


__all__ = ["buffered_while"]
