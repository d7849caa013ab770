"""The quadratic step (benchmarks/run.py's ``quadratic``: the 1-10-1 tanh network, one
full-batch GD step on 200 points) on jitflow and JAX jit, interleaved in one process, plus
jitflow's cached trivial run (``overhead``: x + 1 on a fed scalar).

Each repeat times STEPS steps of every framework in turn; it prints the min and median per
step of the wall time and of the process's CPU time (all threads: JAX computes on a thread
of its own, so on a loaded machine its CPU time is the fairer figure). Needs JAX:

    PYTHONPATH=$PWD .venv-bench/bin/python benchmarks/quadratic_ab.py
    NOJAX=1 PYTHONPATH=$PWD .venv/bin/python benchmarks/quadratic_ab.py   # jitflow only

STEPS (1999) and REPEATS (15) are read from the environment.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

import jitflow.compat.v1 as tf

STEPS = int(os.environ.get("STEPS", 1999))
REPEATS = int(os.environ.get("REPEATS", 15))

np.random.seed(0)
x_data = np.linspace(-0.5, 0.5, 200)[:, np.newaxis].astype(np.float32)
y_data = (np.square(x_data) + np.random.normal(0, 0.02, x_data.shape)).astype(np.float32)


def jitflow_runs() -> dict:
    """The train step and the overhead run, as in benchmarks/run.py."""
    x = tf.placeholder(tf.float32, [None, 1])
    y = tf.placeholder(tf.float32, [None, 1])
    w1, b1 = tf.Variable(tf.random_normal([1, 10])), tf.Variable(tf.zeros([1, 10]))
    w2, b2 = tf.Variable(tf.random_normal([10, 1])), tf.Variable(tf.zeros([1, 1]))
    pred = tf.nn.tanh(tf.matmul(tf.nn.tanh(tf.matmul(x, w1) + b1), w2) + b2)
    loss = tf.reduce_mean(tf.square(y - pred))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    fd = {x: x_data, y: y_data}
    sess.run(train, fd)
    a = tf.placeholder(tf.float32, [])
    b = a + 1.0
    sess.run(b, {a: 1.0})

    def step() -> None:
        for _ in range(STEPS):
            sess.run(train, fd)

    def overhead() -> None:
        for _ in range(STEPS):
            sess.run(b, {a: 1.0})
    return {"jitflow": step, "overhead": overhead}


def jax_run():
    """benchmarks/run.py's JAX version of the step."""
    import jax
    import jax.numpy as jnp
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    state = {"p": {"W1": jax.random.normal(k1, (1, 10)), "b1": jnp.zeros((1, 10)),
                   "W2": jax.random.normal(k2, (10, 1)), "b2": jnp.zeros((1, 1))}}

    def loss_fn(p, x, y):
        h = jnp.tanh(x @ p["W1"] + p["b1"])
        pred = jnp.tanh(h @ p["W2"] + p["b2"])
        return jnp.mean((y - pred) ** 2)

    @jax.jit
    def step(p, x, y):
        g = jax.grad(loss_fn)(p, x, y)
        return jax.tree_util.tree_map(lambda a, b: a - 0.1 * b, p, g)
    jx, jy = jnp.asarray(x_data), jnp.asarray(y_data)
    state["p"] = jax.block_until_ready(step(state["p"], jx, jy))

    def run() -> None:
        p = state["p"]
        for _ in range(STEPS):
            p = step(p, jx, jy)
        state["p"] = jax.block_until_ready(p)
    return run


def main() -> None:
    runs = jitflow_runs()
    if os.environ.get("NOJAX") != "1":
        runs["jax"] = jax_run()
    wall: dict = {k: [] for k in runs}
    cpu: dict = {k: [] for k in runs}
    for _ in range(REPEATS):
        for k, fn in runs.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            cpu[k].append((time.process_time() - c) / STEPS * 1e6)
            wall[k].append((time.perf_counter() - t) / STEPS * 1e6)
    print(f"load average {os.getloadavg()[0]:.2f}, {STEPS} steps x {REPEATS} repeats")
    for k in runs:
        print(f"{k:9s} wall min {min(wall[k]):6.2f} median {statistics.median(wall[k]):6.2f} us"
              f" | cpu min {min(cpu[k]):6.2f} median {statistics.median(cpu[k]):6.2f} us")


if __name__ == "__main__":
    main()
