"""Per-iteration cost of ``tf.while_loop`` with a tiny body (a benchmark, not a test).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/while_loop.py [--trips 1000]

1,000 iterations of a scalar update (``x = x * 0.999 + 1``) on the llvm backend (host-driven
loop: one native call per trip, backends/hostloop.py) and the reference interpreter; reports
nanoseconds per iteration (median of the repeats; the run of a 1-trip loop subtracted).
"""
from __future__ import annotations

import argparse
import statistics
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
    a = ap.parse_args()
    for backend in ("llvm", "reference"):
        print(f"{backend:10s} {per_trip_ns(backend, a.trips, a.repeats):10.0f} ns/iteration "
              f"({a.trips} trips)")


if __name__ == "__main__":
    main()
