"""Per-iteration cost of ``tf.while_loop`` with a tiny body (a benchmark, not a test).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/while_loop.py [--trips 1000]

1,000 iterations of a scalar update (``x = x * 0.999 + 1``) on the llvm backend (the trips run
in native code: backends/llvm/drive.py) and the reference interpreter, and with
``--tf-python PY`` (a Python with TensorFlow) the same TF1 code on TensorFlow in the same run;
reports nanoseconds per iteration (median of the repeats; the run of a 1-trip loop subtracted).
``--backends cuda`` (or ``llvm,cuda``) times the cuda backend's host loop over device kernels
(backends/cuda/control.py: a trip is the step's kernels and one predicate read); on Numba's
simulator (``NUMBA_ENABLE_CUDASIM=1``) that measures Python, not a GPU.
"""
from __future__ import annotations

import argparse
import inspect
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import jitflow.compat.v1 as tf  # noqa: E402


def per_trip_ns(backend: str, trips: int, repeats: int) -> float:
    g = tf.Graph()
    with g.as_default():
        n = tf.placeholder(tf.int32, [], name="n")
        _, x = tf.while_loop(lambda i, x: i < n, lambda i, x: [i + 1, x * 0.999 + 1.0],
                             [tf.constant(0), tf.constant(0.0)])
        with tf.Session(backend=backend) as sess:
            sess.run(x, {n: trips})

            def t(k: int) -> float:
                s = time.perf_counter()
                sess.run(x, {n: k})
                return time.perf_counter() - s
            runs = [(t(trips) - t(1)) / (trips - 1) for _ in range(repeats)]
    return statistics.median(runs) * 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trips", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--tf-python", default="", help="a Python with TensorFlow, for its row")
    ap.add_argument("--backends", default="llvm,reference",
                    help="comma-separated jitflow backends (llvm, reference, cuda)")
    ap.add_argument("--out", default="", help="also write the table as markdown here "
                    "(benchmarks/WHILE_LOOP.md: run.py puts it into RESULTS.md)")
    a = ap.parse_args()
    rows = {b: per_trip_ns(b, a.trips, a.repeats) for b in a.backends.split(",") if b}
    if a.tf_python:
        code = ("import os, statistics, time\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
                "import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()\n"
                + inspect.getsource(per_trip_ns).replace("backend=backend", "")
                + f"\nprint(per_trip_ns('', {a.trips}, {a.repeats}))\n")
        out = subprocess.run([a.tf_python, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
        if out.returncode == 0:
            rows["TensorFlow"] = float(out.stdout.strip().splitlines()[-1])
        else:
            print(f"TensorFlow row failed: {out.stderr.strip().splitlines()[-1:]}")
    for name, ns in rows.items():
        ratio = f"  ({ns / rows['TensorFlow']:.2f}x TensorFlow's)" if "TensorFlow" in rows else ""
        print(f"{name:10s} {ns:10.0f} ns/iteration ({a.trips} trips){ratio}")
    if a.out:
        tf_ns = rows.get("TensorFlow")
        md = [f"`tf.while_loop` with a tiny body (`x = x * 0.999 + 1`), {a.trips} trips, per "
              f"iteration (median of {a.repeats}; a 1-trip run subtracted), one run:", "",
              "| framework | ns per iteration | time / TensorFlow's |", "| --- | --- | --- |"]
        md += [f"| {'jitflow ' + k if k != 'TensorFlow' else k} | {v:.0f} | "
               f"{v / tf_ns:.3f}x |" if tf_ns else f"| jitflow {k} | {v:.0f} | - |"
               for k, v in rows.items()]
        Path(a.out).write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
