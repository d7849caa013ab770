"""Resident memory kept by compiled graphs (issue 17 item 2).

    python benchmarks/memory_per_graph.py [N] [--keep-sessions] [--traced]

Builds N (default 1000) distinct small graphs, each in a fresh tf.Graph with its own Session:
x @ w + k, tanh, reduce_sum, one run, session closed, graph dropped; the disk cache is off
(JITFLOW_NO_DISK_CACHE=1) so every graph is a cold compile. Prints RSS before, after and
after gc.collect(), and the number of live llvm engines. ``--traced``: N distinct
@jitflow.function signatures instead (the traced function's cache evicts old ones).
"""
import gc
import os
import sys
import time

os.environ.setdefault("JITFLOW_NO_DISK_CACHE", "1")
import numpy as np  # noqa: E402

import jitflow  # noqa: E402
import jitflow.compat.v1 as tf  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def live_engines() -> int:
    from jitflow.backends.llvm import jit
    return jit.live_engines() if hasattr(jit, "live_engines") else len(jit._state.get("engines", []))


def session_graphs(n: int, keep: bool) -> list:
    kept = []
    for i in range(n):
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [None, 4])
            w = tf.constant(np.full((4, 3), 0.5, np.float32))
            y = tf.reduce_sum(tf.tanh(tf.matmul(x, w) + float(i)), axis=1)
            sess = tf.Session(graph=g)
            sess.run(y, feed_dict={x: np.ones((2, 4), np.float32)})
            if keep:
                kept.append(sess)
            else:
                sess.close()
    return kept


def traced(n: int) -> list:
    @jitflow.function
    def f(x):
        return tf.reduce_sum(tf.tanh(x * 2.0 + 1.0))
    for i in range(n):   # a new static trailing dim is a new signature
        f(np.ones((2, i + 1), np.float32))
    return [f]


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), 1000))
    keep = "--keep-sessions" in sys.argv
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    kept = traced(n) if "--traced" in sys.argv else session_graphs(n, keep)
    secs = time.perf_counter() - t0
    after = rss_mb()
    gc.collect()
    collected = rss_mb()
    print(f"{n} graphs ({'traced' if '--traced' in sys.argv else 'sessions'}"
          f"{', sessions kept open' if keep else ''}) in {secs:.1f} s: RSS before {before:.0f} MB, "
          f"after {after:.0f} MB, after gc {collected:.0f} MB "
          f"(+{collected - before:.0f} MB, {(collected - before) * 1024 / n:.0f} KB per graph); "
          f"live llvm engines: {live_engines()}")
    del kept


if __name__ == "__main__":
    main()
