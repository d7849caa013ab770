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
