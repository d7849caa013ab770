"""Where the MNIST CNN training step's time goes, kernel by kernel (not a test).

    JITFLOW_NUM_THREADS=1 python benchmarks/cnn_breakdown.py [--steps 200]

Compiles the step of benchmarks/run.py's CNN with JITFLOW_KERNEL_PROFILE=1 (the native entry
adds each kernel's cycles to a counter) and prints each kernel's share of the step's native
time, largest first, with the median step time beside it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ["JITFLOW_KERNEL_PROFILE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import jitflow.compat.v1 as tf  # noqa: E402

STEP = Path(__file__).with_name("run.py").read_text().split('CNN_TF1 = """')[1].split('"""')[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    ns: dict = {"np": np, "time": time}
    exec(STEP, ns)   # defines cnn_graph(tf)
    sess, train, X, y, xb, yb = ns["cnn_graph"](tf)
    feed = {X: xb, y: yb}
    for _ in range(3):
        sess.run(train, feed)
    exe = max((c.executable for c in sess._cache.values()),
              key=lambda e: len(getattr(e, "mb", None).kernels) if hasattr(e, "mb") else 0)
    before = dict(enumerate(c for _, c in exe.kernel_profile()))
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        sess.run(train, feed)
        times.append(time.perf_counter() - t)
    prof = [(name, c - before[i]) for i, (name, c) in enumerate(exe.kernel_profile())]
    total = sum(c for _, c in prof) or 1
    step = statistics.median(times)
    print(f"median step {step * 1e3:.2f} ms over {args.steps} steps; "
          f"{len(prof)} kernels; shares of the native time:")
    mean = sum(times) / len(times)   # each kernel's share of the mean step, in ms
    for name, c in sorted(prof, key=lambda t: -t[1])[:args.top]:
        print(f"{100 * c / total:6.2f}%  {c / total * mean * 1e3:6.2f} ms  {name[:100]}")


if __name__ == "__main__":
    main()
