"""OpenMP wrappers of a flat elementwise kernel: ``@k`` splits ``@k.range`` over threads.

The run's thread count is ``@jf_num_threads`` (set per run by threads.py), capped by the
calling thread's OpenMP limit (``omp_get_max_threads``: OMP_NUM_THREADS, or a data-parallel
replica's ``omp_set_num_threads``); at 1 thread, or below PARALLEL_MIN elements, ``@k`` calls
``@k.range`` on the whole range itself.
"""
from __future__ import annotations

PARALLEL_MIN = 1 << 17     # elements: flat elementwise kernels above this use every core


def parallel_wrappers(k: str, n: str, args: list, prologue: list, params: str, sep: str) -> str:
    """``@k`` (kernel ``k`` over ``n`` elements, arguments ``args``) runs ``@k.range``
    serially below PARALLEL_MIN elements or when the run's thread count is 1, else on that
    many OpenMP threads (GOMP_parallel), each taking one contiguous chunk."""
    nslots = len(args) + 3          # args..., prm, n, status
    call_args = ", ".join(f"ptr {a}" for a in args)
    pro = "\n".join(prologue)
    stores = "\n".join(
        f"  %cs{i} = getelementptr inbounds i64, ptr %cl, i64 {i}\n"
        f"  %ci{i} = ptrtoint ptr {a} to i64\n  store i64 %ci{i}, ptr %cs{i}"
        for i, a in enumerate(args + ["%prm"]))
    loads = "\n".join(
        f"  %ls{i} = getelementptr inbounds i64, ptr %c, i64 {i}\n"
        f"  %li{i} = load i64, ptr %ls{i}\n  {a} = inttoptr i64 %li{i} to ptr"
        for i, a in enumerate(args + ["%prm"]))
    na, st = len(args) + 1, len(args) + 2
    return f"""
define internal i32 @{k}({params}{sep}ptr noalias %prm) nounwind {{
entry:
{pro}
  %nrun = load i32, ptr @jf_num_threads
  %nmax = call i32 @omp_get_max_threads()
  %fewer = icmp slt i32 %nrun, %nmax
  %nth = select i1 %fewer, i32 %nrun, i32 %nmax
  %large = icmp sge i64 {n}, {PARALLEL_MIN}
  %multi = icmp sgt i32 %nth, 1
  %big = and i1 %large, %multi
  br i1 %big, label %par, label %ser
ser:
  %s = call i32 @{k}.range({call_args}{sep}ptr %prm, i64 0, i64 {n})
  ret i32 %s
par:
  %cl = alloca [{nslots} x i64], align 8
{stores}
  %cn = getelementptr inbounds i64, ptr %cl, i64 {na}
  store i64 {n}, ptr %cn
  %cst = getelementptr inbounds i64, ptr %cl, i64 {st}
  store i64 0, ptr %cst
  call void @GOMP_parallel(ptr @{k}.worker, ptr %cl, i32 %nth, i32 0)
  %sv = load i64, ptr %cst
  %s32 = trunc i64 %sv to i32
  ret i32 %s32
}}

define internal void @{k}.worker(ptr %c) nounwind {{
entry:
{loads}
  %nsl = getelementptr inbounds i64, ptr %c, i64 {na}
  %n = load i64, ptr %nsl
  %tid32 = call i32 @omp_get_thread_num()
  %nt32 = call i32 @omp_get_num_threads()
  %tid = sext i32 %tid32 to i64
  %nt = sext i32 %nt32 to i64
  %n1 = add i64 %n, %nt
  %n2 = sub i64 %n1, 1
  %ch0 = sdiv i64 %n2, %nt
  %ch1 = add i64 %ch0, 63
  %chunk = and i64 %ch1, -64
  %lo = mul i64 %tid, %chunk
  %hi0 = add i64 %lo, %chunk
  %lt = icmp slt i64 %hi0, %n
  %hi = select i1 %lt, i64 %hi0, i64 %n
  %work = icmp slt i64 %lo, %hi
  br i1 %work, label %run, label %done
run:
  %s = call i32 @{k}.range({call_args}{sep}ptr %prm, i64 %lo, i64 %hi)
  %bad = icmp ne i32 %s, 0
  br i1 %bad, label %fail, label %done
fail:
  %sst = getelementptr inbounds i64, ptr %c, i64 {st}
  %s64 = zext i32 %s to i64
  store i64 %s64, ptr %sst
  br label %done
done:
  ret void
}}
"""


def unit_wrappers(k: str, n: str, cap: str, args: list, prologue: list, params: str, sep: str,
                  dynamic: bool, blas: bool) -> str:
    """``@k`` for a library kernel parallel over ``n`` work units (a convolution's images or
    im2col chunks): ``@k.range(lo, hi)`` does units [lo, hi), on thread ``omp_get_thread_num()``
    (0 when serial: it selects the thread's scratch); then ``@k.range(-1, nt)`` runs once,
    serially, after all of them (nt: how many threads ran; the kernel combines per-thread
    partial results there). Threads: the run's count, capped by the OpenMP limit, by ``cap``
    (the per-thread scratch the plan holds) and by ``n``. ``dynamic``: threads take units one
    at a time from a shared counter (a thread that another process holds off its core does
    less of the work; for kernels whose result does not depend on which thread did a unit),
    else each takes one contiguous share (partial sums in a fixed order). Inside the parallel
    region OpenBLAS runs single-threaded in each of our threads (its count, process-wide, is
    set to 1 and restored) when ``blas``."""
    call_args = ", ".join(f"ptr {a}" for a in args)
    pro = "\n".join(prologue)
    allp = args + ["%prm"]
    stores = "\n".join(
        f"  %cs{i} = getelementptr inbounds i64, ptr %cl, i64 {i}\n"
        f"  %ci{i} = ptrtoint ptr {a} to i64\n  store i64 %ci{i}, ptr %cs{i}"
        for i, a in enumerate(allp))
    loads = "\n".join(
        f"  %ls{i} = getelementptr inbounds i64, ptr %c, i64 {i}\n"
        f"  %li{i} = load i64, ptr %ls{i}\n  {a} = inttoptr i64 %li{i} to ptr"
        for i, a in enumerate(allp))
    na, st, ctr = len(allp), len(allp) + 1, len(allp) + 2
    if dynamic:
        work = f"""
  %ctp = getelementptr inbounds i64, ptr %c, i64 {ctr}
  br label %grab
grab:
  %u = atomicrmw add ptr %ctp, i64 1 monotonic
  %more = icmp slt i64 %u, %n
  br i1 %more, label %run, label %done
run:
  %u1 = add i64 %u, 1
  %s = call i32 @{k}.range({call_args}, ptr %prm, i64 %u, i64 %u1)
  %bad = icmp ne i32 %s, 0
  br i1 %bad, label %fail, label %grab"""
    else:
        work = f"""
  %tid32 = call i32 @omp_get_thread_num()
  %nt32 = call i32 @omp_get_num_threads()
  %tid = sext i32 %tid32 to i64
  %nt = sext i32 %nt32 to i64
  %lo0 = mul i64 %tid, %n
  %lo = sdiv i64 %lo0, %nt
  %tid1 = add i64 %tid, 1
  %hi0 = mul i64 %tid1, %n
  %hi = sdiv i64 %hi0, %nt
  %s = call i32 @{k}.range({call_args}, ptr %prm, i64 %lo, i64 %hi)
  %bad = icmp ne i32 %s, 0
  br i1 %bad, label %fail, label %done"""
    blas_off = ("  %blas = call i32 @jf_blas_get_threads()\n"
                "  call void @jf_blas_set_threads(i32 1)") if blas else ""
    blas_on = "  call void @jf_blas_set_threads(i32 %blas)" if blas else ""
    return f"""
define internal i32 @{k}({params}{sep}ptr noalias %prm) nounwind {{
entry:
{pro}
  %nrun = load i32, ptr @jf_num_threads
  %nmax = call i32 @omp_get_max_threads()
  %f1 = icmp slt i32 %nrun, %nmax
  %t1 = select i1 %f1, i32 %nrun, i32 %nmax
  %t1w = sext i32 %t1 to i64
  %f2 = icmp slt i64 %t1w, {cap}
  %t2 = select i1 %f2, i64 %t1w, i64 {cap}
  %f3 = icmp slt i64 %t2, {n}
  %t3 = select i1 %f3, i64 %t2, i64 {n}
  %multi = icmp sgt i64 %t3, 1
  br i1 %multi, label %par, label %ser
ser:
  %s0 = call i32 @{k}.range({call_args}, ptr %prm, i64 0, i64 {n})
  %bad0 = icmp ne i32 %s0, 0
  br i1 %bad0, label %out0, label %post1
out0:
  ret i32 %s0
post1:
  %p1 = call i32 @{k}.range({call_args}, ptr %prm, i64 -1, i64 1)
  ret i32 %p1
par:
  %nth = trunc i64 %t3 to i32
  %cl = alloca [{ctr + 1} x i64], align 8
{stores}
  %cn = getelementptr inbounds i64, ptr %cl, i64 {na}
  store i64 {n}, ptr %cn
  %cst = getelementptr inbounds i64, ptr %cl, i64 {st}
  store i64 0, ptr %cst
  %cct = getelementptr inbounds i64, ptr %cl, i64 {ctr}
  store i64 0, ptr %cct
{blas_off}
  call void @GOMP_parallel(ptr @{k}.worker, ptr %cl, i32 %nth, i32 0)
{blas_on}
  %sv = load i64, ptr %cst
  %s32 = trunc i64 %sv to i32
  %bad1 = icmp ne i32 %s32, 0
  br i1 %bad1, label %out1, label %post
out1:
  ret i32 %s32
post:
  %nthw = sext i32 %nth to i64
  %p = call i32 @{k}.range({call_args}, ptr %prm, i64 -1, i64 %nthw)
  ret i32 %p
}}

define internal void @{k}.worker(ptr %c) nounwind {{
entry:
{loads}
  %nsl = getelementptr inbounds i64, ptr %c, i64 {na}
  %n = load i64, ptr %nsl
{work}
fail:
  %sst = getelementptr inbounds i64, ptr %c, i64 {st}
  %s64 = zext i32 %s to i64
  store i64 %s64, ptr %sst
  br label %done
done:
  ret void
}}
"""
