"""Cost of the narrow dtypes on the llvm backend (a benchmark, not a test).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/narrow_dtypes.py [--rounds 7]

Three graphs, each in float32 and in the narrow types (promote-narrow: computed in float32 /
int32 between casts, rounded after every op): an elementwise chain ``tanh(x * w + b) * x`` on
1M elements, a 512x512 GEMM, and a uint8 image (1M pixels) to float32 and back
(``convert_image_dtype``) against an int32 one. Runs alternate between the dtypes inside each
round; medians of the rounds (ms per run) and their ratio to the first dtype are printed.
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


def _case(kind: str, dt, rng) -> tuple:
    g = tf.Graph()
    with g.as_default():
        if kind == "elementwise":
            x = tf.placeholder(dt, [1 << 20])
            out = tf.tanh(x * tf.constant(0.5, dt) + tf.constant(0.25, dt)) * x
            feed = {x: rng.randn(1 << 20).astype(dt.as_numpy_dtype)}
        elif kind == "gemm":
            a = tf.placeholder(dt, [512, 512])
            out = tf.matmul(a, a)
            feed = {a: (rng.randn(512, 512) * 0.1).astype(dt.as_numpy_dtype)}
        else:
            img = tf.placeholder(dt, [1 << 20])
            f = tf.image.convert_image_dtype(img, tf.float32)
            out = tf.image.convert_image_dtype(f * 0.5, dt)
            hi = 255 if dt.name == "uint8" else 2 ** 31 - 1
            feed = {img: rng.randint(0, hi, 1 << 20).astype(dt.as_numpy_dtype)}
    s = tf.Session(graph=g, backend="llvm")
    s.run(out, feed)                       # compile
    return s, out, feed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.RandomState(0)
    plans = {"elementwise": [tf.float32, tf.float16, tf.bfloat16],
             "gemm": [tf.float32, tf.float16, tf.bfloat16],
             "image": [tf.int32, tf.uint8]}
    for kind, dts in plans.items():
        cases = {dt.name: _case(kind, dt, rng) for dt in dts}
        times = {k: [] for k in cases}
        for _ in range(args.rounds):
            for name, (s, out, feed) in cases.items():
                t0 = time.perf_counter()
                for _ in range(args.runs):
                    s.run(out, feed)
                times[name].append((time.perf_counter() - t0) / args.runs * 1e3)
        base = statistics.median(times[dts[0].name])
        line = ", ".join(f"{k} {statistics.median(v):.3f} ms ({statistics.median(v) / base:.2f}x)"
                         for k, v in times.items())
        print(f"{kind:12s} {line}")


if __name__ == "__main__":
    main()
