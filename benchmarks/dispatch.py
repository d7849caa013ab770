"""Per-call Python cost of a cached ``sess.run`` of the quadratic training step (the 1-10-1
tanh net of ../shared/workloads/quadratic.py, 200 points, llvm backend), and the warm first
run (a fresh process, the disk cache populated: Session creation to the first step's result).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/dispatch.py              # us/call
    PYTHONPATH=$PWD .venv/bin/python benchmarks/dispatch.py --profile    # cProfile of the runs
    PYTHONPATH=$PWD .venv/bin/python benchmarks/dispatch.py --first-run  # warm first run, ms
    PYTHONPATH=$PWD .venv/bin/python benchmarks/dispatch.py --ab /tmp/base --rounds 7

``--ab ROOT`` alternates subprocesses of this script run with ``PYTHONPATH=ROOT`` (another
checkout: the old build) and with this checkout (the new one), ``--rounds`` times, and prints
the medians of both: on a shared, noisy machine only an interleaved comparison means anything.

Measured per call (median over ``--repeats`` blocks of ``--n`` runs each):
* ``train``: ``sess.run(train_op, feed_dict={x: xb, y: yb})``;
* ``loss+train``: ``sess.run([loss, train_op], feed_dict=...)``;
* ``native``: the executable's ``run`` alone (no Session), the floor of the Session's part.

Each also as ``cpu``: the calling thread's CPU time per call (``time.thread_time``), which
the other processes on a shared machine disturb far less than the wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(0)
    xb = np.linspace(-0.5, 0.5, 200)[:, np.newaxis].astype(np.float32)
    yb = (np.square(xb) + rng.normal(0, 0.02, xb.shape)).astype(np.float32)
    return xb, yb


def build(tf):
    """The quadratic workload's graph: (x, y, loss, train_op); a graph seed, as the workload
    sets, so the initializer's code is the same in every process (a disk cache hit)."""
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 1])
    y = tf.placeholder(tf.float32, [None, 1])
    w1, b1 = tf.Variable(tf.random_normal([1, 10])), tf.Variable(tf.zeros([1, 10]))
    w2, b2 = tf.Variable(tf.random_normal([10, 1])), tf.Variable(tf.zeros([1, 1]))
    pred = tf.nn.tanh(tf.matmul(tf.nn.tanh(tf.matmul(x, w1) + b1), w2) + b2)
    loss = tf.reduce_mean(tf.square(y - pred))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return x, y, loss, train


def per_call(n: int, repeats: int, profile: bool = False) -> dict:
    """Median us per call of each measured run."""
    import jitflow.compat.v1 as tf
    xb, yb = data()
    x, y, loss, train = build(tf)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    fd = {x: xb, y: yb}
    sess.run(train, fd)
    sess.run([loss, train], fd)
    compiled = next(c for c in sess._cache.values()
                    if c.lowered.var_writes and len(c.lowered.feeds) == 2)
    exe = compiled.executable
    args = [xb, yb] + [sess._values[i] for i in compiled.read_ids]
    run = sess.run

    def train_loop() -> None:
        for _ in range(n):
            run(train, feed_dict={x: xb, y: yb})

    def both_loop() -> None:
        for _ in range(n):
            run([loss, train], feed_dict={x: xb, y: yb})

    def native_loop() -> None:       # the variables are not updated: a floor, not a step
        erun = exe.run
        for _ in range(n):
            erun(args)

    loops = {"train": train_loop, "loss+train": both_loop, "native": native_loop}
    if profile:
        import cProfile
        import pstats
        for name in ("train", "loss+train"):
            pr = cProfile.Profile()
            pr.runcall(loops[name])
            print(f"--- {name}: {n} runs")
            pstats.Stats(pr).sort_stats("tottime").print_stats(14)
        return {}
    times: dict = {k: [] for k in loops}
    cpu: dict = {k: [] for k in loops}
    for _ in range(repeats):
        for k, fn in loops.items():
            c = time.thread_time()
            t = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t) / n * 1e6)
            cpu[k].append((time.thread_time() - c) / n * 1e6)
    out = {k: statistics.median(v) for k, v in times.items()}
    out.update({f"{k} cpu": statistics.median(v) for k, v in cpu.items()})
    out["loss"] = float(sess.run(loss, fd))
    return out


def first_run(preimport: bool = False) -> dict:
    """Milliseconds from Session creation to the first train step's result (initializer
    included), and of the first step alone; the disk cache is whatever it is (warm it first).
    ``preimport``: the llvm backend (and llvmlite) imported and initialized before the clock
    starts, which shows what the first run's own work costs."""
    import jitflow.compat.v1 as tf
    xb, yb = data()
    x, y, loss, train = build(tf)
    if preimport:
        from jitflow.backends.llvm import compiler, executable, jit  # noqa: F401
        from jitflow.runtime import placement  # noqa: F401
        jit._init()
    t0 = time.perf_counter()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    t1 = time.perf_counter()
    sess.run(train, feed_dict={x: xb, y: yb})
    t2 = time.perf_counter()
    return {"session_to_first_ms": (t2 - t0) * 1e3, "first_step_ms": (t2 - t1) * 1e3}


def child(root: str, args: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=root)
    out = subprocess.run([sys.executable, str(HERE), "--json", *args], env=env, cwd=root,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def ab(old: str, rounds: int, args: list[str]) -> None:
    new = str(HERE.parents[1])
    res: dict = {"old": [], "new": []}
    for r in range(rounds):
        for tag, root in (("old", old), ("new", new)) if r % 2 == 0 else (("new", new),
                                                                            ("old", old)):
            res[tag].append(child(root, args))
    print(f"load average {os.getloadavg()[0]:.2f}; {rounds} alternating rounds; old={old}")
    for k in res["old"][0]:
        o = statistics.median(d[k] for d in res["old"])
        nw = statistics.median(d[k] for d in res["new"])
        print(f"{k:22s} old {o:9.3f}  new {nw:9.3f}  "
              f"(old {min(d[k] for d in res['old']):.3f}..{max(d[k] for d in res['old']):.3f}, "
              f"new {min(d[k] for d in res['new']):.3f}..{max(d[k] for d in res['new']):.3f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=20000, help="runs per timed block")
    p.add_argument("--repeats", type=int, default=5, help="timed blocks per run kind")
    p.add_argument("--profile", action="store_true", help="cProfile the cached runs")
    p.add_argument("--first-run", action="store_true", help="time the warm first run")
    p.add_argument("--preimport", action="store_true",
                   help="with --first-run: import the llvm backend before the clock starts")
    p.add_argument("--ab", metavar="ROOT", help="alternate with the checkout at ROOT")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", action="store_true", help="one JSON line (for --ab)")
    a = p.parse_args()
    if a.ab:
        rest = ["--first-run"] + (["--preimport"] if a.preimport else []) if a.first_run else ["--n", str(a.n), "--repeats", str(a.repeats)]
        if a.first_run:     # populate the disk cache for both checkouts first
            child(a.ab, rest)
            child(str(HERE.parents[1]), rest)
        ab(a.ab, a.rounds, rest)
        return
    res = first_run(a.preimport) if a.first_run else per_call(a.n, a.repeats, a.profile)
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:22s} {v:9.3f}" + ("" if k == "loss" or a.first_run else " us/call"))


if __name__ == "__main__":
    main()
