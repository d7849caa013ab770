"""Data-parallel training of the reference MNIST CNN (the seed's program 3), synchronous or
asynchronous, on replica threads or on Ray actors.

    python examples/distributed_mnist.py --mode sync  --engine local --replicas 2 --epochs 1
    python examples/distributed_mnist.py --mode async --engine ray   --replicas 2 --epochs 1 \
        --train-limit 5000 --straggler 0.05

Architecture as in ../shared/workloads/mnist_cnn.py: conv 32@3x3 s1 SAME relu -> conv 64@3x3 s2
SAME relu -> max-pool 2x2 VALID -> dense 64 relu -> dense 10; Adam; 5,000 validation images
split off the training set. ``--batch-size`` is per replica (default 100 / replicas, so a
synchronous step consumes about the reference's 100 images). ``--straggler S`` makes the last
replica sleep S seconds after each of its steps: a slower device. Prints one JSON line per
epoch: loss, test accuracy, images/s, updates applied, mean staleness.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import jitflow.compat.v1 as tf
from jitflow.datasets import mnist
from jitflow.distributed import DataParallel


def build_cnn(seed: int = 42, learning_rate: float = 0.001):
    """The reference CNN in a fresh default graph; returns (X, y, loss, accuracy, optimizer)."""
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    with tf.name_scope("inputs"):
        X = tf.placeholder(tf.float32, shape=[None, 28 * 28], name="X")
        X_reshaped = tf.reshape(X, shape=[-1, 28, 28, 1])
        y = tf.placeholder(tf.int32, shape=[None], name="y")
    conv1 = tf.layers.conv2d(X_reshaped, filters=32, kernel_size=3, strides=1, padding="SAME",
                             activation=tf.nn.relu, name="conv1")
    conv2 = tf.layers.conv2d(conv1, filters=64, kernel_size=3, strides=2, padding="SAME",
                             activation=tf.nn.relu, name="conv2")
    with tf.name_scope("pool3"):
        pool3 = tf.nn.max_pool(conv2, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
        pool3_flat = tf.reshape(pool3, shape=[-1, 64 * 7 * 7])
    with tf.name_scope("fc1"):
        fc1 = tf.layers.dense(pool3_flat, 64, activation=tf.nn.relu, name="fc1")
    with tf.name_scope("output"):
        logits = tf.layers.dense(fc1, 10, name="output")
    with tf.name_scope("train"):
        xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=y)
        loss = tf.reduce_mean(xentropy)
        optimizer = tf.train.AdamOptimizer(learning_rate)
    with tf.name_scope("eval"):
        correct = tf.nn.in_top_k(logits, y, 1)
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    return X, y, loss, accuracy, optimizer


def load_mnist(train_limit: int | None, test_limit: int | None):
    (X_train, y_train), (X_test, y_test) = mnist.load_data()
    X_train = X_train.astype(np.float32).reshape(-1, 28 * 28) / 255.0
    X_test = X_test.astype(np.float32).reshape(-1, 28 * 28) / 255.0
    y_train, y_test = y_train.astype(np.int32), y_test.astype(np.int32)
    n_valid = 5000 if len(X_train) > 20000 else len(X_train) // 12   # the sample: 4,000 images
    X_train, y_train = X_train[n_valid:], y_train[n_valid:]
    if train_limit:
        X_train, y_train = X_train[:train_limit], y_train[:train_limit]
    if test_limit:
        X_test, y_test = X_test[:test_limit], y_test[:test_limit]
    return X_train, y_train, X_test, y_test


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["sync", "async"], default="sync")
    ap.add_argument("--engine", choices=["local", "ray"], default="local")
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-limit", type=int, default=None,
                    help="use the first N training images (default: all 55,000)")
    ap.add_argument("--test-limit", type=int, default=None,
                    help="evaluate on the first N test images (default: all)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="per replica (default: 100 // replicas)")
    ap.add_argument("--straggler", type=float, default=0.0,
                    help="seconds the last replica sleeps after each step (a slower device)")
    ap.add_argument("--num-ps", type=int, default=1,
                    help="parameter-server shards (engine=ray)")
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--seed", type=int, default=0, help="data order seed")
    ap.add_argument("--ray-address", default=None,
                    help="a Ray cluster to join (default: start a local Ray)")
    ap.add_argument("--checkpoint", default=None,
                    help="save the trained variables (tf.train.Saver format) to this prefix")
    ap.add_argument("--progress", action="store_true",
                    help="show a progress bar and a summary per epoch on stderr")
    args = ap.parse_args(argv)
    if args.replicas < 1:
        ap.error("--replicas must be >= 1")
    batch = args.batch_size or max(1, 100 // args.replicas)

    X_train, y_train, X_test, y_test = load_mnist(args.train_limit, args.test_limit)
    X, y, loss, accuracy, optimizer = build_cnn(learning_rate=args.lr)
    delays = [0.0] * args.replicas
    if args.straggler:
        delays[-1] = args.straggler
    t0 = time.perf_counter()
    dp = DataParallel(loss, optimizer, inputs=(X, y), mode=args.mode, replicas=args.replicas,
                      engine=args.engine, metrics={"accuracy": accuracy},
                      num_ps=args.num_ps if args.engine == "ray" else 1,
                      simulate_delay=delays, ray_address=args.ray_address)
    setup = time.perf_counter() - t0

    def report(m: dict) -> None:
        print(json.dumps({
            "epoch": m["epoch"], "mode": args.mode, "engine": args.engine,
            "replicas": m["replicas"], "batch_size": batch, "straggler": args.straggler,
            "loss": round(m["loss"], 5), "test_loss": round(m["val_loss"], 5),
            "test_accuracy": round(m["val_accuracy"], 5),
            "images_per_sec": round(m["images_per_sec"], 1),
            "updates": m["updates"], "updates_total": m["updates_total"],
            "pushes": m["pushes"], "staleness_mean": round(m["staleness_mean"], 3),
            "staleness_max": m["staleness_max"], "seconds": round(m["seconds"], 2),
            "setup_seconds": round(setup, 2)}), flush=True)

    try:
        dp.fit(X_train, y_train, batch_size=batch, epochs=args.epochs, seed=args.seed,
               validation_data=(X_test, y_test), verbose=1 if args.progress else 0,
               log=sys.stderr, on_epoch=report)
        if args.checkpoint:
            os.makedirs(os.path.dirname(os.path.abspath(args.checkpoint)), exist_ok=True)
            path = dp.save(args.checkpoint)
            print(json.dumps({"checkpoint": path}), flush=True)
    finally:
        dp.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
