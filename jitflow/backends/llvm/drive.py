"""The native trip driver: a while loop's trips run in native code, no Python per trip.

``jf_drive`` (one small module, compiled once per process) calls a compiled step's
``jf_entry`` trip after trip. Before each call it points the step's buffer table at this
trip's arrays: a *slot* is ``(buffer index, base address, stride, mode)`` and trip ``k``
uses ``base + stride * f(k)`` with ``f`` by mode: 0 ``k`` (row k of a stack; stride 0 for a
fixed array), 1 ``k & 1`` and 2 ``(k + 1) & 1`` (the two alternating sets of carried
buffers), 3 ``k + 1`` (the next row). After each call it runs the *copies* a step needs where
a result is not a buffer of its own (a result repeated, a parameter returned as is, a
constant): ``(dst base, dst stride, dst mode, src base, src stride, src mode, bytes)``. It
stops after trip ``kmax - 1``, when the step's predicate (a bool byte) is false, or at the
first non-zero status, and reports the trips done. ``backends/loopbuffers.py`` plans the
slots and grows the buffers when ``kmax`` was their capacity.
"""
from __future__ import annotations

import ctypes
import threading
from typing import Optional

import numpy as np

DRIVER_IR = r"""
define internal i64 @jf_row(i64 %k, i64 %mode) {
  %is0 = icmp eq i64 %mode, 0
  %is1 = icmp eq i64 %mode, 1
  %is2 = icmp eq i64 %mode, 2
  %odd = and i64 %k, 1
  %k1 = add i64 %k, 1
  %even = and i64 %k1, 1
  %a = select i1 %is2, i64 %even, i64 %k1
  %b = select i1 %is1, i64 %odd, i64 %a
  %r = select i1 %is0, i64 %k, i64 %b
  ret i64 %r
}

define internal i64 @jf_addr(ptr %rec, i64 %k) {
  %base = load i64, ptr %rec
  %ps = getelementptr i64, ptr %rec, i64 1
  %stride = load i64, ptr %ps
  %pm = getelementptr i64, ptr %rec, i64 2
  %mode = load i64, ptr %pm
  %row = call i64 @jf_row(i64 %k, i64 %mode)
  %off = mul i64 %row, %stride
  %a = add i64 %base, %off
  ret i64 %a
}

declare void @llvm.memmove.p0.p0.i64(ptr, ptr, i64, i1)

define i32 @jf_drive(ptr %entry, ptr %bufs, ptr %prm, ptr %slots, i64 %nslots,
                     ptr %copies, i64 %ncopies, i64 %k0, i64 %kmax, ptr %pred, ptr %kout) {
start:
  br label %trip
trip:
  %k = phi i64 [ %k0, %start ], [ %k1, %more ]
  br label %sl
sl:
  %s = phi i64 [ 0, %trip ], [ %s1, %slbody ]
  %sdone = icmp sge i64 %s, %nslots
  br i1 %sdone, label %call, label %slbody
slbody:
  %so = mul i64 %s, 4
  %srec = getelementptr i64, ptr %slots, i64 %so
  %idx = load i64, ptr %srec
  %sa = getelementptr i64, ptr %srec, i64 1
  %addr = call i64 @jf_addr(ptr %sa, i64 %k)
  %dst = getelementptr i64, ptr %bufs, i64 %idx
  store i64 %addr, ptr %dst
  %s1 = add i64 %s, 1
  br label %sl
call:
  %st = call i32 %entry(ptr %bufs, ptr %prm)
  %bad = icmp ne i32 %st, 0
  br i1 %bad, label %fail, label %cp
cp:
  %c = phi i64 [ 0, %call ], [ %c1, %cpbody ]
  %cdone = icmp sge i64 %c, %ncopies
  br i1 %cdone, label %ok, label %cpbody
cpbody:
  %co = mul i64 %c, 7
  %crec = getelementptr i64, ptr %copies, i64 %co
  %da = call i64 @jf_addr(ptr %crec, i64 %k)
  %srcrec = getelementptr i64, ptr %crec, i64 3
  %sa2 = call i64 @jf_addr(ptr %srcrec, i64 %k)
  %pn = getelementptr i64, ptr %crec, i64 6
  %nb = load i64, ptr %pn
  %dp = inttoptr i64 %da to ptr
  %sp = inttoptr i64 %sa2 to ptr
  call void @llvm.memmove.p0.p0.i64(ptr %dp, ptr %sp, i64 %nb, i1 false)
  %c1 = add i64 %c, 1
  br label %cp
ok:
  %k1 = add i64 %k, 1
  %pv = load i8, ptr %pred
  %go = icmp ne i8 %pv, 0
  %room = icmp slt i64 %k1, %kmax
  %again = and i1 %go, %room
  br i1 %again, label %more, label %done
more:
  br label %trip
done:
  store i64 %k1, ptr %kout
  ret i32 0
fail:
  store i64 %k, ptr %kout
  ret i32 %st
}
"""

_DRIVE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                          ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
                          ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p)
_lock = threading.Lock()
_driver: list = []          # [compiled module, callable] once built


def driver():
    """The ``jf_drive`` callable (compiled on first use, then kept for the process)."""
    if _driver:
        return _driver[1]
    with _lock:
        if not _driver:
            from .jit import compile_ir, module_key
            # keyed like a module: the driver's text, the host and the code generator's
            key = module_key("jf_drive " + DRIVER_IR, {})
            compiled = compile_ir(DRIVER_IR, key, keep_optimized=False)
            _driver.extend([compiled, _DRIVE(compiled.address("jf_drive"))])
    return _driver[1]


class Trips:
    """The slot and copy tables of one loop run (int64 arrays the driver reads)."""

    def __init__(self) -> None:
        self.slots: list[tuple[int, int, int, int]] = []
        self.copies: list[tuple[int, ...]] = []

    def slot(self, buf_index: int, base: int, stride: int, mode: int) -> None:
        self.slots.append((buf_index, base, stride, mode))

    def copy(self, dst: tuple[int, int, int], src: tuple[int, int, int], nbytes: int) -> None:
        self.copies.append((*dst, *src, nbytes))

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        s = np.array(self.slots or [(0, 0, 0, 0)], np.int64).reshape(-1, 4)
        c = np.array(self.copies or [(0,) * 7], np.int64).reshape(-1, 7)
        return s, c


def run_trips(entry_address: int, bufs: np.ndarray, prm: np.ndarray, trips: Trips, k0: int,
              kmax: int, pred: np.ndarray, tables: Optional[tuple] = None) -> tuple[int, int]:
    """Trips ``k0 ..`` of a loop in native code; returns (status, trips done in all)."""
    s, c = tables if tables is not None else trips.tables()
    kout = np.zeros(1, np.int64)
    status = driver()(entry_address, bufs.ctypes.data, prm.ctypes.data, s.ctypes.data,
                      len(trips.slots), c.ctypes.data, len(trips.copies), k0, kmax,
                      pred.ctypes.data, kout.ctypes.data)
    return int(status), int(kout[0])


__all__ = ["Trips", "driver", "run_trips"]
