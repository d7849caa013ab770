"""Accuracy and speed of float32 reductions (not a test): relative error against a float64
NumPy sum and the median time of one ``sess.run``, for the shapes of issue 17.

    python benchmarks/reduce_accuracy.py                      # this tree, one pass
    python benchmarks/reduce_accuracy.py --trees old=/path/to/old/checkout new=. --rounds 5

With ``--trees`` each tree (a directory holding a ``jitflow`` package) is measured in its own
subprocess, alternating trees round after round (the machine is shared and noisy), and the
medians over rounds are printed with the ratio of each tree's time to the first's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

#: name -> (shape, axis); ones_* are reduce_sum(tf.ones(shape)) (no feed)
CASES = {
    "sum [50000,300]": ((50000, 300), None),
    "sum [300,50000]": ((300, 50000), None),
    "sum [1,10^7]": ((1, 10 ** 7), None),
    "sum axis0 [50000,300]": ((50000, 300), 0),
    "sum axis1 [50000,300]": ((50000, 300), 1),
    "sum axis0 [300,50000]": ((300, 50000), 0),
    "mean axis(0,1,2) [100,28,28,32]": ((100, 28, 28, 32), (0, 1, 2)),
    "sum exp [1000,1000]": ((1000, 1000), "exp"),
    "ones [50000,30000]": ((50000, 30000), "ones"),
    "ones [2^25+8]": ((2 ** 25 + 8,), "ones"),
}


def measure(reps: int) -> dict:
    import time

    import numpy as np

    import jitflow.compat.v1 as tf
    rng = np.random.RandomState(0)
    out = {}
    for name, (shape, axis) in CASES.items():
        tf.reset_default_graph()
        sess = tf.Session()
        feed, ref = None, None
        if axis == "ones":
            s = tf.reduce_sum(tf.ones(list(shape)))
            ref = float(np.prod(shape))
        else:
            x = rng.rand(*shape).astype(np.float32)
            p = tf.placeholder(tf.float32, shape)
            feed = {p: x}
            if axis == "exp":
                s = tf.reduce_sum(tf.exp(p))
                ref = np.exp(x.astype(np.float64)).sum()
            elif "mean" in name:
                s = tf.reduce_mean(p, axis=axis)
                ref = x.astype(np.float64).mean(axis=axis)
            else:
                s = tf.reduce_sum(p, axis=axis)
                ref = x.astype(np.float64).sum(axis=axis)
        r = sess.run(s, feed)
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            sess.run(s, feed)
            ts.append(time.perf_counter() - t)
        err = float(np.max(np.abs(np.asarray(r, np.float64) - ref) / np.abs(ref)))
        out[name] = {"ms": 1e3 * statistics.median(ts), "rel_err": err,
                     "value": float(r) if np.ndim(r) == 0 else None}
        sess.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", nargs="*", default=[], help="label=path pairs to compare")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--json", action="store_true", help="print one JSON line (internal)")
    args = ap.parse_args()
    if not args.trees:
        res = measure(args.reps)
        if args.json:
            print("RESULT " + json.dumps(res))
            return
        for k, v in res.items():
            print(f"{k:34s} {v['ms']:9.3f} ms  rel err {v['rel_err']:.2e}")
        return
    trees = [t.split("=", 1) for t in args.trees]
    runs: dict = {label: [] for label, _ in trees}
    for _ in range(args.rounds):
        for label, path in trees:
            env = {**os.environ, "PYTHONPATH": str(Path(path).resolve())}
            proc = subprocess.run([sys.executable, __file__, "--json", "--reps", str(args.reps)],
                                  env=env, capture_output=True, text=True, check=True)
            line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
            runs[label].append(json.loads(line[7:]))
    first = trees[0][0]
    print("| case | " + " | ".join(f"{lb} ms | {lb} rel err" for lb, _ in trees)
          + " | " + " | ".join(f"{lb}/{first}" for lb, _ in trees[1:]) + " |")
    print("|" + " --- |" * (1 + 2 * len(trees) + len(trees) - 1))
    for case in CASES:
        med = {lb: statistics.median(r[case]["ms"] for r in runs[lb]) for lb, _ in trees}
        errs = {lb: runs[lb][0][case]["rel_err"] for lb, _ in trees}
        cells = [f"{med[lb]:.3f} | {errs[lb]:.1e}" for lb, _ in trees]
        ratios = [f"{med[lb] / med[first]:.2f}" for lb, _ in trees[1:]]
        print(f"| {case} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
