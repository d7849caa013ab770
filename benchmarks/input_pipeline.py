"""tf.data vs feed_dict on the seed's MNIST CNN training step (benchmark, not a test).

    python benchmarks/input_pipeline.py [--repeats 7] [--steps 20] [--python PY] [--tensorflow PY]

The same ch13 CNN (conv 32 s1, conv 64 s2, max-pool, dense 64, dense 10, Adam, batch 100) is
trained on real MNIST images (jitflow's MNIST lookup) two ways in one process:

* feed_dict: each step takes the next batch of a per-epoch NumPy permutation and feeds it;
* tf.data: ``from_tensor_slices((x, y)) -> shuffle(10000) -> repeat -> batch(100) ->
  prefetch(2)`` and a one-shot iterator's ``get_next()`` as the model input (no feed_dict).

Single steps alternate between the two (``--steps`` x ``--repeats`` of each, so machine load
hits both alike); the feed_dict time includes taking the batch from the NumPy arrays (as a
user's loop does). The report gives the median seconds per step of each, their ratio
tf.data / feed_dict, and the median of the ratios of adjacent step pairs. ``--tensorflow PY`` runs the same program with TensorFlow's compat.v1 under that
Python for comparison. :func:`input_pipeline_snippet` is the program, for benchmarks/run.py.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = r'''
import json, os, statistics, sys, time
import numpy as np

def load_mnist():
    # jitflow's MNIST lookup by file (it needs only NumPy), so a TensorFlow-only Python works
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "_mnist_lookup", os.path.join(ROOT, "jitflow", "datasets", "mnist.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (x, y), _ = mod.load_data()
    return (x.reshape(len(x), 784).astype(np.float32) / 255.0, y.astype(np.int32))

def model(tf, X, y):
    xr = tf.reshape(X, shape=[-1, 28, 28, 1])
    c1 = tf.layers.conv2d(xr, filters=32, kernel_size=3, strides=1, padding="SAME", activation=tf.nn.relu)
    c2 = tf.layers.conv2d(c1, filters=64, kernel_size=3, strides=2, padding="SAME", activation=tf.nn.relu)
    p = tf.nn.max_pool(c2, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    f = tf.reshape(p, shape=[-1, 64 * 7 * 7])
    d = tf.layers.dense(f, 64, activation=tf.nn.relu)
    logits = tf.layers.dense(d, 10)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=y))
    return tf.train.AdamOptimizer().minimize(loss)

def input_pipeline(tf, name, steps, repeats):
    images, labels = load_mnist()
    g_feed, g_data = tf.Graph(), tf.Graph()
    with g_feed.as_default():
        tf.set_random_seed(42)
        X = tf.placeholder(tf.float32, shape=[None, 784], name="X")
        Y = tf.placeholder(tf.int32, shape=[None], name="y")
        train_feed = model(tf, X, Y)
        init_feed = tf.global_variables_initializer()
    with g_data.as_default():
        tf.set_random_seed(42)
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        ds = ds.shuffle(10000, seed=1).repeat().batch(100).prefetch(2)
        xb, yb = tf.data.make_one_shot_iterator(ds).get_next()
        train_data = model(tf, xb, yb)
        init_data = tf.global_variables_initializer()
    s_feed, s_data = tf.Session(graph=g_feed), tf.Session(graph=g_data)
    s_feed.run(init_feed)
    s_data.run(init_data)
    rng = np.random.RandomState(1)
    state = {"perm": rng.permutation(len(images)), "pos": 0}

    def next_batch():
        if state["pos"] + 100 > len(images):
            state["perm"], state["pos"] = rng.permutation(len(images)), 0
        idx = state["perm"][state["pos"]:state["pos"] + 100]
        state["pos"] += 100
        return images[idx], labels[idx]

    def feed_step():
        t = time.perf_counter()
        bx, by = next_batch()
        s_feed.run(train_feed, {X: bx, Y: by})
        return time.perf_counter() - t

    def data_step():
        t = time.perf_counter()
        s_data.run(train_data)
        return time.perf_counter() - t

    for _ in range(3):                        # compile and warm up both
        feed_step(); data_step()
    feed, data = [], []
    for r in range(steps * repeats):          # alternate single steps: load bursts hit both
        order = (feed_step, data_step) if r % 2 == 0 else (data_step, feed_step)
        for st in order:
            (feed if st is feed_step else data).append(st())
    mf, md = statistics.median(feed), statistics.median(data)
    pairs = statistics.median(d / f for d, f in zip(data, feed))
    print("RESULT " + json.dumps({"bench": "input_pipeline", "framework": name,
                                  "feed_dict": feed, "tf_data": data,
                                  "overhead": md / mf, "paired": pairs}))
'''

JITFLOW_MAIN = r'''
import jitflow.compat.v1 as tf
input_pipeline(tf, "jitflow " + os.environ.get("JITFLOW_BACKEND", "llvm"), STEPS, REPEATS)
'''

TENSORFLOW_MAIN = r'''
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
input_pipeline(tf, "TensorFlow compat.v1", STEPS, REPEATS)
'''


def input_pipeline_snippet(steps: int = 20, repeats: int = 7, tensorflow: bool = False) -> str:
    """The benchmark program (prints one ``RESULT {json}`` line)."""
    head = f"ROOT = {str(ROOT)!r}\nSTEPS = {steps}\nREPEATS = {repeats}\n"
    return head + PROGRAM + (TENSORFLOW_MAIN if tensorflow else JITFLOW_MAIN)


def run(python: str, steps: int, repeats: int, tensorflow: bool = False) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([python, "-c", input_pipeline_snippet(steps, repeats, tensorflow)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    err = (proc.stderr.strip().splitlines() or ["?"])[-1]
    return {"error": err}


def report(r: dict) -> str:
    import statistics
    if "error" in r:
        return f"- failed: {r['error']}"
    mf, md = statistics.median(r["feed_dict"]), statistics.median(r["tf_data"])
    return (f"- {r['framework']}: feed_dict {mf * 1e3:.2f} ms/step, tf.data {md * 1e3:.2f} "
            f"ms/step, tf.data/feed_dict = {r['overhead']:.3f} "
            f"({(r['overhead'] - 1) * 100:+.1f}% overhead; median of paired step ratios "
            f"{r['paired']:.3f}, {len(r['feed_dict'])} steps each)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--tensorflow", default=None, help="a Python with tensorflow installed")
    args = ap.parse_args()
    print("MNIST CNN step, batch 100: tf.data (shuffle/batch/prefetch) vs feed_dict")
    print(report(run(args.python, args.steps, args.repeats)), flush=True)
    if args.tensorflow:
        print(report(run(args.tensorflow, args.steps, args.repeats, tensorflow=True)))


if __name__ == "__main__":
    main()
