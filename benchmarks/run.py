"""Side-by-side benchmarks (not tests): jitflow against TensorFlow 1.x-style sessions, JAX and
PyTorch, measured in one run on this machine, written to benchmarks/RESULTS.md.

    python benchmarks/run.py [--repeats 5] [--out benchmarks/RESULTS.md]

Each measurement runs in its own subprocess (so frameworks' thread pools do not interfere);
peers that are not installed are reported as missing. Install them with
``pip install -r benchmarks/requirements.txt`` (``make bench`` does it in .venv-bench).

Measured:
* quadratic: the 1-10-1 tanh network of ../shared/workloads/quadratic.py, one full-batch
  gradient-descent step on 200 points (median time per step over 1999 steps, 5 repeats);
* overhead: a cached ``sess.run`` of a tiny graph (``x + 1`` on a fed scalar) — per-call cost;
* dnn: the MNIST DNN of ../shared/workloads/mnist_dnn_pretrain.py (784-300-50x4-10 relu,
  tf.layers.dense, GD, batch 50): one training step;
* cnn: the MNIST CNN training step (batch 100, Adam);
* sgemm peak: NumPy's OpenBLAS sgemm on 1024x1024 matrices, one thread and all threads;
* compile: the quadratic and the MNIST CNN train steps' first ``sess.run`` in a fresh
  process, cold (empty disk cache) and warm (object code from the disk cache), and the part
  of it that is the compilation (graph -> IR, passes, backend; the rest is the first step
  itself, which touches its memory for the first time) and the backend's LLVM part.

``--load loaded`` (or ``both``) repeats the framework rows while two CPU-burning processes keep
both cores busy (started before and stopped after each framework's subprocess, so every
framework sees the same load): a shared box, a CI runner, a notebook server.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMON = """
import json, os, sys, time
import numpy as np
np.random.seed(0)
x_data = np.linspace(-0.5, 0.5, 200)[:, np.newaxis].astype(np.float32)
y_data = (np.square(x_data) + np.random.normal(0, 0.02, x_data.shape)).astype(np.float32)
STEPS = 1999
def report(**kw):
    print("RESULT " + json.dumps(kw))
def _timed(fn):
    t = time.perf_counter(); fn(); return time.perf_counter() - t
"""

TF1_STYLE = """
def build(tf):
    x = tf.placeholder(tf.float32, [None, 1]); y = tf.placeholder(tf.float32, [None, 1])
    W1 = tf.Variable(tf.random_normal([1, 10])); b1 = tf.Variable(tf.zeros([1, 10]))
    L1 = tf.nn.tanh(tf.matmul(x, W1) + b1)
    W2 = tf.Variable(tf.random_normal([10, 1])); b2 = tf.Variable(tf.zeros([1, 1]))
    pred = tf.nn.tanh(tf.matmul(L1, W2) + b2)
    loss = tf.reduce_mean(tf.square(y - pred))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return x, y, loss, train

def quadratic(tf, name):
    x, y, loss, train = build(tf)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    fd = {x: x_data, y: y_data}
    sess.run(train, fd)
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        for _ in range(STEPS):
            sess.run(train, fd)
        times.append((time.perf_counter() - t) / STEPS)
    report(bench="quadratic", framework=name, seconds=times, loss=float(sess.run(loss, fd)))

def overhead(tf, name):
    a = tf.placeholder(tf.float32, [])
    b = a + 1.0
    sess = tf.Session()
    sess.run(b, {a: 1.0})
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        for _ in range(5000):
            sess.run(b, {a: 1.0})
        times.append((time.perf_counter() - t) / 5000)
    report(bench="overhead", framework=name, seconds=times)

def dnn(tf, name, steps=50):
    tf.reset_default_graph()
    tf.set_random_seed(42)
    X = tf.placeholder(tf.float32, shape=(None, 784), name="X")
    y = tf.placeholder(tf.int32, shape=(None), name="y")
    h = X
    for i, n in enumerate([300, 50, 50, 50, 50]):
        h = tf.layers.dense(h, n, activation=tf.nn.relu, name=f"hidden{i + 1}")
    logits = tf.layers.dense(h, 10, name="outputs")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    rng = np.random.RandomState(0)
    xb = rng.rand(50, 784).astype(np.float32)
    yb = rng.randint(0, 10, 50).astype(np.int32)
    for _ in range(3):
        sess.run(train, {X: xb, y: yb})
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        for _ in range(steps):
            sess.run(train, {X: xb, y: yb})
        times.append((time.perf_counter() - t) / steps)
    report(bench="dnn", framework=name, seconds=times)
"""

TORCH_DNN = """
import torch, torch.nn as nn
torch.manual_seed(0)
torch.set_num_threads(2)
layers, n_in = [], 784
for n in [300, 50, 50, 50, 50]:
    layers += [nn.Linear(n_in, n), nn.ReLU()]
    n_in = n
model = nn.Sequential(*layers, nn.Linear(n_in, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
rng = np.random.RandomState(0)
xb = torch.from_numpy(rng.rand(50, 784).astype(np.float32))
yb = torch.from_numpy(rng.randint(0, 10, 50).astype(np.int64))
def step():
    opt.zero_grad()
    nn.functional.cross_entropy(model(xb), yb).backward()
    opt.step()
for _ in range(3):
    step()
times = []
for _ in range(REPEATS):
    t = time.perf_counter()
    for _ in range(50):
        step()
    times.append((time.perf_counter() - t) / 50)
report(bench="dnn", framework="PyTorch eager", seconds=times)
"""

SGEMM_PEAK = """
import threadpoolctl
a = np.random.rand(1024, 1024).astype(np.float32)
b = np.random.rand(1024, 1024).astype(np.float32)
for threads in (1, None):
    with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
        a @ b
        best = min(_timed(lambda: a @ b) for _ in range(REPEATS))
    report(bench="sgemm", framework="1 thread" if threads == 1 else f"{os.cpu_count()} threads",
           seconds=[best], gflops=2 * 1024 ** 3 / best / 1e9)
"""

CNN_TF1 = """
def cnn_graph(tf):
    tf.reset_default_graph()
    tf.set_random_seed(42)
    X = tf.placeholder(tf.float32, shape=[None, 784], name="X")
    y = tf.placeholder(tf.int32, shape=[None], name="y")
    xr = tf.reshape(X, shape=[-1, 28, 28, 1])
    c1 = tf.layers.conv2d(xr, filters=32, kernel_size=3, strides=1, padding="SAME", activation=tf.nn.relu)
    c2 = tf.layers.conv2d(c1, filters=64, kernel_size=3, strides=2, padding="SAME", activation=tf.nn.relu)
    p = tf.nn.max_pool(c2, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    f = tf.reshape(p, shape=[-1, 64 * 7 * 7])
    d = tf.layers.dense(f, 64, activation=tf.nn.relu)
    logits = tf.layers.dense(d, 10)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=y))
    train = tf.train.AdamOptimizer().minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    rng = np.random.RandomState(0)
    xb = rng.rand(100, 784).astype(np.float32)
    yb = rng.randint(0, 10, 100).astype(np.int32)
    return sess, train, X, y, xb, yb
def cnn(tf, name, steps=20):
    sess, train, X, y, xb, yb = cnn_graph(tf)
    for _ in range(3):
        sess.run(train, {X: xb, y: yb})
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        for _ in range(steps):
            sess.run(train, {X: xb, y: yb})
        times.append((time.perf_counter() - t) / steps)
    report(bench="cnn", framework=name, seconds=times)
"""

TORCH_CNN = """
import torch, torch.nn as nn
torch.manual_seed(0)
torch.set_num_threads(2)
model = nn.Sequential(nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(), nn.ZeroPad2d((0, 1, 0, 1)),
                      nn.Conv2d(32, 64, 3, 2, 0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(64 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
rng = np.random.RandomState(0)
xb = torch.from_numpy(rng.rand(100, 1, 28, 28).astype(np.float32))
yb = torch.from_numpy(rng.randint(0, 10, 100).astype(np.int64))
def step():
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
for _ in range(3):
    step()
times = []
for _ in range(REPEATS):
    t = time.perf_counter()
    for _ in range(20):
        step()
    times.append((time.perf_counter() - t) / 20)
report(bench="cnn", framework="PyTorch eager", seconds=times)
"""

JITFLOW = TF1_STYLE + CNN_TF1 + """
import jitflow.compat.v1 as tf
quadratic(tf, "jitflow " + os.environ.get("JITFLOW_BACKEND", "llvm"))
overhead(tf, "jitflow " + os.environ.get("JITFLOW_BACKEND", "llvm"))
dnn(tf, "jitflow " + os.environ.get("JITFLOW_BACKEND", "llvm"))
cnn(tf, "jitflow " + os.environ.get("JITFLOW_BACKEND", "llvm"))
"""

TENSORFLOW = TF1_STYLE + CNN_TF1 + """
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_USE_LEGACY_KERAS"] = "1"   # tf.layers needs Keras 2 (the tf_keras package)
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
quadratic(tf, "TensorFlow compat.v1")
overhead(tf, "TensorFlow compat.v1")
dnn(tf, "TensorFlow compat.v1")
cnn(tf, "TensorFlow compat.v1")
"""

JAX = """
import jax, jax.numpy as jnp
key = jax.random.PRNGKey(0)
k1, k2 = jax.random.split(key)
params = {"W1": jax.random.normal(k1, (1, 10)), "b1": jnp.zeros((1, 10)),
          "W2": jax.random.normal(k2, (10, 1)), "b2": jnp.zeros((1, 1))}
def loss_fn(p, x, y):
    h = jnp.tanh(x @ p["W1"] + p["b1"])
    pred = jnp.tanh(h @ p["W2"] + p["b2"])
    return jnp.mean((y - pred) ** 2)
@jax.jit
def step(p, x, y):
    g = jax.grad(loss_fn)(p, x, y)
    return jax.tree_util.tree_map(lambda a, b: a - 0.1 * b, p, g)
x, y = jnp.asarray(x_data), jnp.asarray(y_data)
params = step(params, x, y); jax.block_until_ready(params)
times = []
for _ in range(REPEATS):
    t = time.perf_counter()
    for _ in range(STEPS):
        params = step(params, x, y)
    jax.block_until_ready(params)
    times.append((time.perf_counter() - t) / STEPS)
report(bench="quadratic", framework="JAX jit", seconds=times, loss=float(loss_fn(params, x, y)))
"""

TORCH = """
import torch
torch.manual_seed(0)
torch.set_num_threads(2)
W1 = torch.randn(1, 10, requires_grad=True); b1 = torch.zeros(1, 10, requires_grad=True)
W2 = torch.randn(10, 1, requires_grad=True); b2 = torch.zeros(1, 1, requires_grad=True)
ps = [W1, b1, W2, b2]
opt = torch.optim.SGD(ps, lr=0.1)
x, y = torch.from_numpy(x_data), torch.from_numpy(y_data)
def step():
    opt.zero_grad()
    pred = torch.tanh(torch.tanh(x @ W1 + b1) @ W2 + b2)
    loss = ((y - pred) ** 2).mean()
    loss.backward()
    opt.step()
    return loss
step()
times = []
for _ in range(REPEATS):
    t = time.perf_counter()
    for _ in range(STEPS):
        loss = step()
    times.append((time.perf_counter() - t) / STEPS)
report(bench="quadratic", framework="PyTorch eager", seconds=times, loss=float(loss))
"""

COMPILE = TF1_STYLE + CNN_TF1 + """
t0 = time.perf_counter()
import jitflow.compat.v1 as tf
x, y, loss, train = build(tf)
sess = tf.Session()
sess.run(tf.global_variables_initializer())
def first_run(graph, sess, fetch, feed):
    t = time.perf_counter()
    sess.run(fetch, feed)
    first = time.perf_counter() - t
    compiled = list(sess._cache.values())[-1]
    report(bench="compile", framework=os.environ["COMPILE_MODE"], seconds=[first],
           compile_seconds=compiled.compile_seconds,
           backend_seconds=getattr(compiled.executable, "compile_seconds", None), graph=graph)
first_run("quadratic", sess, train, {x: x_data, y: y_data})
sess, train, X, y, xb, yb = cnn_graph(tf)
first_run("MNIST CNN", sess, train, {X: xb, y: yb})
"""


def run_snippet(code: str, python: str, env: dict, repeats: int) -> list[dict]:
    src = COMMON + f"\nREPEATS = {repeats}\n" + textwrap.dedent(code)
    proc = subprocess.run([python, "-c", src], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=1800)
    out = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0:   # report a failure even after partial results
        err = (proc.stderr.strip().splitlines() or ["?"])[-1]
        out.append({"error": err})
    return out


BURN = "import time\nend = time.time() + {secs}\nwhile time.time() < end:\n    pass\n"


class Load:
    """Two CPU-burning processes for the length of a ``with`` block (each bounded in time)."""

    def __init__(self, python: str, n: int = 2, max_seconds: int = 1800) -> None:
        self.python, self.n, self.max_seconds = python, n, max_seconds
        self.procs: list = []

    def __enter__(self) -> "Load":
        code = BURN.format(secs=self.max_seconds)
        self.procs = [subprocess.Popen([self.python, "-c", code]) for _ in range(self.n)]
        return self

    def __exit__(self, *exc) -> None:
        for pr in self.procs:
            pr.kill()
        for pr in self.procs:
            pr.wait()


def have(python: str, module: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--load", choices=["quiet", "loaded", "both"], default="both",
                    help="run the framework rows on a quiet machine, with two CPU-burning "
                         "processes on the cores, or both (default)")
    args = ap.parse_args()
    py = args.python
    base_env = dict(os.environ)
    results: list[dict] = []
    missing: list[str] = []

    def go(label, code, module=None, load="quiet", **env):
        if module and not have(py, module):
            if load == "quiet" or args.load == "loaded":
                missing.append(label)
            print(f"- {label}: not installed", flush=True)
            return
        print(f"- {label} ({load}) ...", flush=True)
        if load == "loaded":
            with Load(py):
                res = run_snippet(code, py, {**base_env, **env}, args.repeats)
        else:
            res = run_snippet(code, py, {**base_env, **env}, args.repeats)
        for r in res:
            if "error" in r:
                missing.append(f"{label}, {load} (failed: {r['error']})")
            else:
                results.append({**r, "load": load})

    go("sgemm peak", SGEMM_PEAK, "threadpoolctl")
    loads = ["quiet", "loaded"] if args.load == "both" else [args.load]
    for load in loads:
        go("jitflow llvm", JITFLOW, load=load, JITFLOW_BACKEND="llvm")
        if load == "quiet":
            go("jitflow reference", JITFLOW, JITFLOW_BACKEND="reference")
        go("TensorFlow", TENSORFLOW, "tensorflow", load=load)
        go("JAX", JAX, "jax", load=load)
        go("PyTorch", TORCH, "torch", load=load)
        go("PyTorch DNN", TORCH_DNN, "torch", load=load)
        go("PyTorch CNN", TORCH_CNN, "torch", load=load)
    with tempfile.TemporaryDirectory() as cache:
        go("compile cold", COMPILE, COMPILE_MODE="cold (empty disk cache)", JITFLOW_CACHE_DIR=cache)
        go("compile warm", COMPILE, COMPILE_MODE="warm (disk cache)", JITFLOW_CACHE_DIR=cache)
    write_report(results, missing, args.out, args.repeats)
    print(Path(args.out).read_text())


def _fmt_us(s: float) -> str:
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def _blas_core() -> str:
    """The OpenBLAS kernel set the llvm backend's GEMMs run (OPENBLAS_CORETYPE, which this
    workplace sets on some processors for old OpenBLAS builds, forces one: `make bench` unsets
    it, since TensorFlow, JAX and PyTorch bring their own GEMMs)."""
    try:
        from jitflow.backends.llvm import jit
        core = jit.host_info().get("blas_core") or "?"
    except Exception as e:  # noqa: BLE001 - report, do not fail
        return f"unknown ({type(e).__name__})"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return f"{core} (forced by OPENBLAS_CORETYPE)" if forced else core


def write_report(results: list[dict], missing: list[str], out: str, repeats: int) -> None:
    lines = ["# Benchmark results", "",
             f"Written by `benchmarks/run.py` (median of {repeats} repeats; one subprocess per "
             f"framework) on {platform.node() or 'this machine'}: {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}; jitflow's BLAS: "
             f"OpenBLAS {_blas_core()} kernels.",
             "Ratios compare frameworks measured in this same run; absolute times on this "
             "shared machine are noisy.", ""]
    by = {}
    for r in results:
        by.setdefault(r["bench"], []).append(r)
    peak = by.get("sgemm", [])
    if peak:
        lines += ["## The machine's sgemm peak (NumPy's OpenBLAS, 1024x1024, best of repeats)", "",
                  "| threads | GFLOP/s |", "| --- | --- |"]
        lines += [f"| {r['framework']} | {r['gflops']:.1f} |" for r in peak] + [""]
    for load in ("quiet", "loaded"):
        rows = [r for r in results if r.get("load") == load]
        if rows:
            lines += _load_sections(rows, load)
    comp = by.get("compile", [])
    if comp:
        lines += ["## Compile time of the train steps (first `sess.run` in a fresh process)", "",
                  "| train step | mode | first run | of which compile | of which LLVM (load or "
                  "compile) |", "| --- | --- | --- | --- | --- |"]
        for r in sorted(comp, key=lambda r: r.get("graph", "") != "quadratic"):
            cs, bs = r.get("compile_seconds"), r.get("backend_seconds")
            lines.append(f"| {r.get('graph', 'quadratic')} | {r['framework']} | "
                         f"{_fmt_us(r['seconds'][0])} | {_fmt_us(cs) if cs is not None else '-'} | "
                         f"{_fmt_us(bs) if bs is not None else '-'} |")
        lines.append("")
    if missing:
        lines += ["## Not measured", ""] + [f"- {m}" for m in missing] + [""]
    for name, title in (("LSTM.md", "LSTM language model training step (benchmarks/lstm.py)"),
                        ("WHILE_LOOP.md", "tf.while_loop per iteration (benchmarks/while_loop.py)")):
        part = ROOT / "benchmarks" / name     # written by that script just before (make bench)
        if part.exists():
            lines += [f"## {title}", ""] + part.read_text().splitlines() + [""]
    sva = ROOT / "benchmarks" / "SYNC_VS_ASYNC.md"
    if sva.exists():   # written by benchmarks/sync_vs_async.py (a separate, longer experiment)
        body = sva.read_text().splitlines()
        lines += ["## Data-parallel training: sync vs async (benchmarks/sync_vs_async.py)", ""]
        lines += [ln for ln in body if not ln.startswith("# ")] + [""]
    gpu = ROOT / "benchmarks" / "GPU.md"
    if gpu.exists():   # recorded from benchmarks/gpu_check.sh on a lent GPU machine
        body = gpu.read_text().splitlines()
        lines += ["## GPU: cuda backend vs PyTorch eager CUDA (benchmarks/gpu_check.sh)", ""]
        lines += ["#" + ln if ln.startswith("#") else ln   # its sections nest under this one
                  for ln in body if not ln.startswith("# ")] + [""]
    Path(out).write_text("\n".join(lines))


LOAD_TITLES = {"quiet": "quiet machine",
               "loaded": "loaded machine: two other processes keep both cores busy"}


def _ratio_table(rows: list[dict], title: str, fmt: str, extra=None) -> list[str]:
    """A table of ``rows`` (one bench) sorted by median time, with each row's time over
    jitflow llvm's (above 1: jitflow llvm is faster)."""
    ref = next((r for r in rows if r["framework"] == "jitflow llvm"), None)
    head = "| framework | median per step | time / jitflow llvm's |" + (" final loss |" if extra else "")
    lines = [title, "", head, "| --- | --- | --- |" + (" --- |" if extra else "")]
    for r in sorted(rows, key=lambda r: statistics.median(r["seconds"])):
        med = statistics.median(r["seconds"])
        ratio = (f"{med / statistics.median(ref['seconds']):{fmt}}x" if ref and r is not ref else "-")
        tail = f" {extra(r)} |" if extra else ""
        lines.append(f"| {r['framework']} | {_fmt_us(med)} | {ratio} |{tail}")
    return lines + [""]


def _load_sections(results: list[dict], load: str) -> list[str]:
    by: dict = {}
    for r in results:
        by.setdefault(r["bench"], []).append(r)
    where = LOAD_TITLES[load]
    lines: list[str] = []
    if by.get("quadratic"):
        lines += _ratio_table(by["quadratic"], f"## Quadratic training step (1-10-1 tanh net, 200 "
                              f"points, GD) — {where}", ".1f",
                              extra=lambda r: f"{r.get('loss', float('nan')):.5f}")
    if by.get("dnn"):
        lines += _ratio_table(by["dnn"], f"## MNIST DNN training step (784-300-50x4-10, batch 50, "
                              f"GD) — {where}", ".2f")
    if by.get("cnn"):
        lines += _ratio_table(by["cnn"], f"## MNIST CNN training step (ch13 architecture, batch "
                              f"100, Adam) — {where}", ".2f")
    ov = by.get("overhead", [])
    if ov:
        lines += [f"## Per-call overhead (cached `sess.run(x + 1, {{x: 1.0}})`) — {where}", "",
                  "| framework | median per call |", "| --- | --- |"]
        for r in sorted(ov, key=lambda r: statistics.median(r["seconds"])):
            lines.append(f"| {r['framework']} | {_fmt_us(statistics.median(r['seconds']))} |")
        lines.append("")
    return lines


if __name__ == "__main__":
    main()
