"""The MNIST CNN training step of ../shared/workloads/mnist_cnn.py (batch 100) on a GPU:
jitflow's cuda backend and, when torch is importable, PyTorch eager CUDA with the same
architecture and optimizer. Prints one JSON line per framework: time per step (median over
the timed steps, after warm-up), steps timed, test accuracy after the steps.

    python3 benchmarks/gpu_cnn.py [--steps 200] [--warmup 10] [--framework jitflow,torch]
                                  [--profile 100] [--kernel-times 20]

JITFLOW_CUDA_LAUNCH=dispatch|kernel|packed and JITFLOW_CUDA_RAW_CUBLAS=0|1 choose the cuda
backend's launch path (see jitflow/backends/cuda/launch.py and blas.py); the JSON line says which
ran.

Runs from the working tree alone (PYTHONPATH=.). MNIST comes from jitflow's offline loader
(``JITFLOW_MNIST_DIR``, ``../shared/data/mnist``, ...); without data it trains on random
images (time per step is still meaningful, accuracy is reported as null).
Not a test: benchmarks/gpu_check.sh runs it on a GPU machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

BATCH = 100


def load_data():
    try:
        from jitflow.datasets import mnist
        (xt, yt), (xs, ys) = mnist.load_data()
        src = mnist.last_source
    except Exception as e:  # noqa: BLE001 - report and fall back to random data
        print(f"[gpu_cnn] no MNIST data ({type(e).__name__}: {e}); using random images",
              file=sys.stderr)
        rng = np.random.RandomState(0)
        xt = (rng.rand(6000, 28, 28) * 255).astype(np.uint8)
        yt = rng.randint(0, 10, 6000).astype(np.uint8)
        xs, ys = xt[:1000], yt[:1000]
        src = None
    xt = xt.astype(np.float32).reshape(-1, 784) / 255.0
    xs = xs.astype(np.float32).reshape(-1, 784) / 255.0
    return xt, yt.astype(np.int32), xs, ys.astype(np.int32), src


def batches(x, y, steps, seed=42):
    rng = np.random.RandomState(seed)
    idx = rng.permutation(len(x))
    out, k = [], 0
    while len(out) < steps:
        if k + BATCH > len(idx):
            idx, k = rng.permutation(len(x)), 0
        j = idx[k:k + BATCH]
        out.append((x[j], y[j]))
        k += BATCH
    return out


def bench_jitflow(data, steps, warmup, profile=0, kernel_times=0):
    os.environ.setdefault("JITFLOW_BACKEND", "cuda")
    import jitflow.compat.v1 as tf
    xt, yt, xs, ys, src = data
    tf.reset_default_graph()
    tf.set_random_seed(42)
    X = tf.placeholder(tf.float32, shape=[None, 784], name="X")
    y = tf.placeholder(tf.int32, shape=[None], name="y")
    xr = tf.reshape(X, shape=[-1, 28, 28, 1])
    c1 = tf.layers.conv2d(xr, 32, 3, strides=1, padding="SAME", activation=tf.nn.relu,
                          name="conv1")
    c2 = tf.layers.conv2d(c1, 64, 3, strides=2, padding="SAME", activation=tf.nn.relu,
                          name="conv2")
    p = tf.nn.max_pool(c2, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    fc1 = tf.layers.dense(tf.reshape(p, [-1, 64 * 7 * 7]), 64, activation=tf.nn.relu,
                          name="fc1")
    logits = tf.layers.dense(fc1, 10, name="output")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits,
                                                                         labels=y))
    train = tf.train.AdamOptimizer().minimize(loss)
    acc = tf.reduce_mean(tf.cast(tf.nn.in_top_k(logits, y, 1), tf.float32))
    bs = batches(xt, yt, steps + warmup)
    with tf.Session() as sess:
        backend = sess.backend_name
        sess.run(tf.global_variables_initializer())
        t0 = time.perf_counter()
        sess.run(train, {X: bs[0][0], y: bs[0][1]})
        first = time.perf_counter() - t0
        for xb, yb in bs[1:warmup]:
            sess.run(train, {X: xb, y: yb})
        times = []
        for xb, yb in bs[warmup:]:
            t = time.perf_counter()
            sess.run(train, {X: xb, y: yb})      # returns after the step (no fetch: sync in run)
            times.append(time.perf_counter() - t)
        # accuracy after the warm-up + timed steps, as for torch (the profiling below trains on)
        accuracy = None
        if src is not None:
            accuracy = float(np.mean([sess.run(acc, {X: xs[i:i + 1000], y: ys[i:i + 1000]})
                                      for i in range(0, len(xs), 1000)]))
        prof = None
        if profile:
            import cProfile
            import io
            import pstats
            pr = cProfile.Profile()
            pr.enable()
            for xb, yb in bs[warmup:warmup + profile]:
                sess.run(train, {X: xb, y: yb})
            pr.disable()
            buf = io.StringIO()
            pstats.Stats(pr, stream=buf).sort_stats("tottime").print_stats(18)
            prof = buf.getvalue()
        if kernel_times:
            from jitflow.backends.cuda import executable as cuda_exe
            cuda_exe.KERNEL_TIMES = {}
            for xb, yb in bs[warmup:warmup + kernel_times]:
                sess.run(train, {X: xb, y: yb})
            rows = cuda_exe.kernel_times()
            cuda_exe.KERNEL_TIMES = None
            total = sum(r[1] for r in rows) or 1.0
            lines = [f"{secs / kernel_times * 1e6:9.1f} us/step {100 * secs / total:5.1f}%  "
                     f"x{n // kernel_times:<3d} {label[:90]}" for label, secs, n in rows[:25]]
            print(f"[gpu_cnn] per-launch time (synchronized), {kernel_times} steps, "
                  f"{total / kernel_times * 1e6:.0f} us/step in all:\n" + "\n".join(lines),
                  file=sys.stderr, flush=True)
    if prof:
        print(f"[gpu_cnn] cProfile of {profile} jitflow steps (host time, by tottime):\n{prof}",
              file=sys.stderr, flush=True)
    from jitflow.backends.cuda import blas, launch
    return {"framework": f"jitflow[{backend}]",
            "launch_mode": launch._state.get("mode"),
            "raw_cublas": blas._state.get("gemm") is not None,
            "seconds_per_step": statistics.median(times),
            "mean_seconds_per_step": statistics.fmean(times), "steps": len(times),
            "first_step_seconds": first, "test_accuracy": accuracy, "data": src}


def bench_torch(data, steps, warmup):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    if not torch.cuda.is_available():
        return {"framework": "torch", "skipped": "torch.cuda.is_available() is False"}
    xt, yt, xs, ys, src = data
    dev = torch.device("cuda")
    torch.manual_seed(42)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 32, 3, padding=1)
            self.c2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
            self.f1 = nn.Linear(64 * 7 * 7, 64)
            self.f2 = nn.Linear(64, 10)

        def forward(self, x):
            x = F.relu(self.c1(x.view(-1, 1, 28, 28)))
            x = F.max_pool2d(F.relu(self.c2(x)), 2)
            return self.f2(F.relu(self.f1(x.flatten(1))))

    net = Net().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    bs = [(torch.from_numpy(xb).to(dev), torch.from_numpy(yb.astype(np.int64)).to(dev))
          for xb, yb in batches(xt, yt, steps + warmup)]

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xb), yb)
        loss.backward()
        opt.step()

    for xb, yb in bs[:warmup]:
        step(xb, yb)
    torch.cuda.synchronize()
    times = []
    for xb, yb in bs[warmup:]:
        t = time.perf_counter()
        step(xb, yb)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    accuracy = None
    if src is not None:
        with torch.no_grad():
            xs_t = torch.from_numpy(xs).to(dev)
            pred = net(xs_t).argmax(1).cpu().numpy()
        accuracy = float(np.mean(pred == ys))
    return {"framework": f"torch {torch.__version__} eager CUDA",
            "seconds_per_step": statistics.median(times),
            "mean_seconds_per_step": statistics.fmean(times), "steps": len(times),
            "test_accuracy": accuracy, "data": src}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--framework", default="jitflow,torch")
    ap.add_argument("--profile", type=int, default=0,
                    help="after timing, profile this many jitflow steps with cProfile (stderr)")
    ap.add_argument("--kernel-times", type=int, default=0,
                    help="then time each launch of this many jitflow steps (stderr)")
    a = ap.parse_args()
    data = load_data()
    for fw in a.framework.split(","):
        try:
            if fw == "torch":
                try:
                    import torch  # noqa: F401
                except ImportError:
                    print(json.dumps({"bench": "cnn_step", "framework": "torch",
                                      "skipped": "torch is not importable"}), flush=True)
                    continue
                r = bench_torch(data, a.steps, a.warmup)
            else:
                r = bench_jitflow(data, a.steps, a.warmup, a.profile, a.kernel_times)
        except Exception as e:  # noqa: BLE001 - one framework failing must not hide the other
            r = {"framework": fw, "error": f"{type(e).__name__}: {e}"}
        r["bench"] = "cnn_step"
        r["batch"] = BATCH
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
