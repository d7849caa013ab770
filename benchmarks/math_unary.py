"""Speed of the llvm math lowerings (ops/math_unary.py) with and without libmvec's vector
variants, against NumPy.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/math_unary.py [N] [ROUNDS]

Each round runs one child process per mode (JITFLOW_LIBMVEC=1, then 0), alternating, so a
noisy machine hits both alike; each child times f(x) over N (default 2**20) float32 elements
on one thread (JITFLOW_NUM_THREADS=1), best of 20 calls. Prints the median ms per op and mode,
NumPy's time for the ops NumPy has, and the vector/scalar ratio.
"""
import json
import os
import statistics
import subprocess
import sys
import time

OPS = ["sin", "cos", "tan", "atan", "atan2", "sinh", "asinh", "erf", "erfc", "log1p", "expm1",
       "lgamma", "digamma", "floor", "round"]
NUMPY = {"sin": "sin", "cos": "cos", "tan": "tan", "atan": "arctan", "atan2": "arctan2",
         "sinh": "sinh", "asinh": "arcsinh", "log1p": "log1p", "expm1": "expm1",
         "floor": "floor", "round": "rint"}


def child(n: int) -> dict:
    import numpy as np

    from jitflow.backends.llvm.executable import LLVMExecutable
    from jitflow.ir import Builder, Function, TensorType, float32
    from jitflow.passes import PassManager, pipeline_for
    x = np.random.default_rng(0).uniform(0.1, 10, n).astype(np.float32)
    out = {}
    for op in OPS:
        f = Function()
        p = f.add_param(TensorType(float32, ("n",)))
        b = Builder(f.ops)
        f.set_results([b.op(op, p, p) if op == "atan2" else b.op(op, p)])
        exe = LLVMExecutable(PassManager(pipeline_for("llvm")).run(f))
        exe.run([x])
        best = min(_time(lambda: exe.run([x])) for _ in range(20))
        out[op] = best
        if op in NUMPY:
            fn = getattr(np, NUMPY[op])
            args = (x, x) if op == "atan2" else (x,)
            out["numpy:" + op] = min(_time(lambda: fn(*args)) for _ in range(20))
    return out


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 20
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    runs = {"1": [], "0": []}
    for _ in range(rounds):
        for mode in ("1", "0"):
            env = dict(os.environ, JITFLOW_LIBMVEC=mode, JITFLOW_NUM_THREADS="1",
                       JITFLOW_NO_DISK_CACHE="1")
            p = subprocess.run([sys.executable, __file__, "--child", str(n)], env=env,
                               capture_output=True, text=True, check=True)
            runs[mode].append(json.loads(p.stdout.strip().splitlines()[-1]))
    med = {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for m, rs in runs.items()}
    print(f"{n} float32 elements, one thread, median of {rounds} rounds (ms)")
    print(f"{'op':10s} {'libmvec':>9s} {'scalar':>9s} {'ratio':>7s} {'numpy':>9s}")
    for op in OPS:
        v, s = med["1"][op], med["0"][op]
        npt = med["1"].get("numpy:" + op)
        print(f"{op:10s} {v:9.3f} {s:9.3f} {s / v:6.1f}x {npt if npt is None else f'{npt:9.3f}'}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]))))
    else:
        main()
