"""How many threads a run of native code uses, chosen by measuring, so a busy machine does not
make it collapse.

Two pools serve jitflow's native code: NumPy's OpenBLAS (the GEMMs of matmuls and
convolutions) and OpenMP (elementwise kernels split over cores, ``GOMP_parallel``). Both hand
each thread a fixed share of the work and wait for the slowest share. On a machine whose cores
other processes keep busy, a thread of the pool is often not running, so every call waits for
it (OpenBLAS's threads also spin while they wait): measured on the MNIST CNN step, 2 threads
take 150-700 ms under load where 1 thread takes 60-116 ms (30 vs 33 ms on a quiet machine).

So each shape plan of an executable that calls either pool has a ``ThreadTuner``: runs use
the threads free now (the CPUs the process may use, by affinity and the cgroup's CPU quota,
less the other work the kernel reports runnable), and now and then one run tries another
count; the tuner keeps whichever was faster lately. Trials grow rarer while they lose (every
4 runs at first, at most every 1,024) and never ask for threads that other work is using, so
a loaded machine pays little for them, and the choice follows the load when it changes.
An executable whose heavy kernels run on jitflow's own threads (convolutions and large GEMMs
split into work units that passive threads take one at a time, OpenBLAS single-threaded
inside: lib/conv_gemm.py, compiler.KernelGen._gemm_split) does not collapse when a thread is
held off its core, so its tuner's trials go to every CPU and back to one whatever the load
(it still starts at the threads free now). Measured on the MNIST CNN step: with two CPU
burners 2 threads took 45 ms, 1 thread 49 ms (OpenBLAS's own 2 threads: 250 ms); under
another machine load (other test suites) 1 thread 39 ms, 2 threads 52 ms: so it measures.
``JITFLOW_NUM_THREADS=n`` fixes the count (no tuning; 1 also compiles no OpenMP kernels).

The count is process-wide state of both pools (``jf_num_threads``, read by the OpenMP
kernels, and OpenBLAS's own setting, which NumPy's matmul shares); it is set only when it
changes. An executable whose convolutions run on jitflow's own threads (each calling
OpenBLAS single-threaded: lib/conv_gemm.py) runs with OpenBLAS at one thread throughout: an
OpenBLAS worker left spinning after a multi-threaded GEMM (its threads busy-wait for the next
call before they sleep) takes a core from those threads, measured on the MNIST CNN step as
30-32 ms against 17-18 ms with OpenBLAS kept at one thread (2 threads, benchmarks/
cnn_breakdown.py).
Limits set outside jitflow are kept: OpenBLAS's count at start (OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS) caps it, and the OpenMP kernels also take the calling thread's OpenMP limit
(a data-parallel replica's, distributed/threads.py).
"""
from __future__ import annotations

import ctypes
import math
import os
import statistics
import threading
from typing import Callable, Optional

#: the thread count the OpenMP kernels read (an external global of every module)
NUM_THREADS = ctypes.c_int32(0)
_applied: list = [None]     # (OpenMP count, OpenBLAS count) last applied
_blas_set: list[Optional[Callable[[int], None]]] = [None]
_blas_cap = [0]       # OpenBLAS's thread count before jitflow set one (0: unknown)
_lock = threading.Lock()


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def fixed_threads() -> Optional[int]:
    """``JITFLOW_NUM_THREADS`` when set (a positive int), else None."""
    v = os.environ.get("JITFLOW_NUM_THREADS", "").strip()
    if not v:
        return None
    try:
        n = int(v)
    except ValueError:
        raise ValueError(f"JITFLOW_NUM_THREADS must be a positive integer, got {v!r}") from None
    if n < 1:
        raise ValueError(f"JITFLOW_NUM_THREADS must be a positive integer, got {v!r}")
    return n


def most_threads() -> int:
    """JITFLOW_NUM_THREADS, else the CPUs this process may use, capped by OpenBLAS's own
    thread count as the process started (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS: a limit the
    user or a cluster scheduler set is kept)."""
    fixed = fixed_threads()
    if fixed is not None:
        return fixed
    cap = _blas_cap[0]
    return min(available_cpus(), cap) if cap else available_cpus()


def set_blas_setter(fn: Optional[Callable[[int], None]], current: int = 0) -> None:
    """The function that sets OpenBLAS's thread count, and its count before jitflow set any
    (0: unknown), which caps the runs' counts."""
    _blas_set[0] = fn
    _blas_cap[0] = max(0, int(current))


def apply(n: int, blas: Optional[int] = None) -> None:
    """Make the OpenMP kernels use ``n`` threads and OpenBLAS ``blas`` (default ``n``); a
    no-op when they already do."""
    want = (n, blas or n)
    if _applied[0] == want:
        return
    with _lock:
        if _applied[0] == want:
            return
        NUM_THREADS.value = n
        if _blas_set[0] is not None:
            _blas_set[0](want[1])
        _applied[0] = want


def runnable_others() -> Optional[int]:
    """Threads of other work ready to run now (the kernel's runnable count in /proc/loadavg,
    less this thread), or None where it cannot be read."""
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - 1)


def free_threads(most: int) -> int:
    """How many threads a run can use without oversubscribing: ``most`` less the other work
    runnable now, at least 1."""
    others = runnable_others()
    return most if others is None else max(1, most - others)


class ThreadTuner:
    """Per shape plan: ``pick()`` the thread count of the next run, ``record()`` its time.

    Runs start at the threads free now; now and then a trial run uses another count: the
    threads free now when that differs from the current count, else 1 (a trial never asks for
    threads other work is using: under load those runs would cost many times a normal run).
    A trial that is faster than the recent median of the current count makes its count
    current; a losing trial doubles the gap to the next one."""

    FIRST_GAP, MAX_GAP, WINDOW, WIN = 4, 1024, 5, 0.95

    __slots__ = ("most", "cur", "recent", "gap", "countdown", "trial", "own")

    def __init__(self, most: int, own: bool = False) -> None:
        self.most = most
        self.own = own
        self.cur = free_threads(most)
        self.recent: dict[int, list] = {}
        self.gap = self.countdown = self.FIRST_GAP
        self.trial: Optional[int] = None

    @property
    def threads(self) -> int:
        """The count the tuner keeps now (not counting trials)."""
        return self.cur

    def _candidate(self) -> Optional[int]:
        if self.own:   # passive threads taking units one at a time: every count is safe
            return 1 if self.cur > 1 else self.most
        free = free_threads(self.most)
        if free != self.cur:
            return free
        return 1 if self.cur > 1 else None

    def pick(self) -> int:
        self.countdown -= 1
        self.trial = None
        if self.countdown <= 0 and len(self.recent.get(self.cur, ())) >= 2:
            self.trial = self._candidate()
            if self.trial is None:            # nothing else worth trying now
                self._backoff()
        return self.cur if self.trial is None else self.trial

    def _backoff(self) -> None:
        self.gap = min(self.gap * 2, self.MAX_GAP)
        self.countdown = self.gap

    def record(self, seconds: float) -> None:
        n = self.cur if self.trial is None else self.trial
        r = self.recent.setdefault(n, [])
        r.append(seconds)
        if len(r) > self.WINDOW:
            del r[0]
        if self.trial is None:
            return
        if seconds < self.WIN * statistics.median(self.recent[self.cur]):
            self.cur = n                      # the trial won: keep its count, look back soon
            self.gap = self.countdown = self.FIRST_GAP
        else:
            self._backoff()
        self.trial = None


def tuner_for(uses_pools: bool, own: bool = False) -> Optional[ThreadTuner]:
    """A tuner for a plan of an executable that calls a pool (None: nothing to tune; with
    JITFLOW_NUM_THREADS the count is applied once and fixed). ``own``: the executable's
    heavy kernels run on jitflow's threads (OpenBLAS single-threaded inside them), which wait
    passively and take work units one at a time, so a busy machine slows them without a
    collapse: trials alternate between every CPU the process may use and one thread, even
    where other work runs (the kernel's scheduler shares CPU time per thread, so on a loaded
    machine two threads may get more of it than one)."""
    if not uses_pools:
        return None
    fixed = fixed_threads()
    if fixed is not None:
        apply(fixed)
        return None
    most = available_cpus()
    if most == 1:
        apply(1)
        return None
    return ThreadTuner(most, own)
