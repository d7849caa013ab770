"""Char-level LSTM language model, one training step, side by side (a benchmark, not a test).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/lstm.py [--steps 20]
        [--repeats 3] [--tf-python /tmp/tfvenv_rnn/bin/python]

The same TF1 program (batch 32, 50 time steps, vocabulary 64 one-hot, one LSTMCell(256) under
tf.nn.dynamic_rnn, a dense softmax over every step, Adam) runs on jitflow's llvm backend and,
when a Python with TensorFlow (and tf_keras, for the legacy cells) is given, on TensorFlow
compat.v1; PyTorch eager nn.LSTM (same sizes, same loss and optimizer) when torch imports.
Each framework runs in its own subprocess. Reported: median seconds per step, the first
step's time (jitflow: compile, cold disk cache), the jitflow/TensorFlow ratio, and the
fraction of this machine's float32 GEMM peak (NumPy's BLAS on a 2048^3 product) the step's
matmul FLOPs reach.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH, STEPS, VOCAB, UNITS = 32, 50, 64, 256

COMMON = f"""
import json, os, sys, time
import numpy as np
BATCH, STEPS, VOCAB, UNITS = {BATCH}, {STEPS}, {VOCAB}, {UNITS}
rng = np.random.RandomState(0)
text = rng.randint(0, VOCAB, size=BATCH * (STEPS + 1) * 8)
def batch(i):
    start = (i * 7) % (len(text) - BATCH * (STEPS + 1))
    chunk = text[start:start + BATCH * (STEPS + 1)].reshape(BATCH, STEPS + 1)
    return chunk[:, :-1].astype(np.int32), chunk[:, 1:].astype(np.int32)
def report(**kw):
    print("RESULT " + json.dumps(kw), flush=True)
def timed(step, n, repeats):
    out = []
    for r in range(repeats):
        t = time.perf_counter()
        for i in range(n):
            loss = step(i)
        out.append((time.perf_counter() - t) / n)
    return out, float(loss)
"""

TF1_PROGRAM = """
def train_step_program(tf):
    X = tf.placeholder(tf.int32, [None, STEPS], name="X")
    Y = tf.placeholder(tf.int32, [None, STEPS], name="Y")
    x = tf.one_hot(X, VOCAB)
    cell = tf.nn.rnn_cell.LSTMCell(UNITS)
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    logits = tf.layers.dense(outputs, VOCAB, name="softmax")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=Y, logits=logits))
    train = tf.train.AdamOptimizer(1e-3).minimize(loss)
    return X, Y, loss, train

def run_tf1(tf, name, n, repeats):
    tf.set_random_seed(0)
    X, Y, loss, train = train_step_program(tf)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    xb, yb = batch(0)
    t = time.perf_counter()
    first_loss = sess.run([train, loss], {X: xb, Y: yb})[1]
    first = time.perf_counter() - t
    def step(i):
        xb, yb = batch(i + 1)
        return sess.run([train, loss], {X: xb, Y: yb})[1]
    step(0)
    secs, last = timed(step, n, repeats)
    report(framework=name, seconds=secs, first_step=first, first_loss=float(first_loss),
           last_loss=last)
"""

JITFLOW = TF1_PROGRAM + """
import jitflow.compat.v1 as tf
a = np.random.rand(2048, 2048).astype(np.float32)
a @ a
t = time.perf_counter(); a @ a; gemm = time.perf_counter() - t
report(framework="gemm peak", flops=2 * 2048 ** 3 / gemm)
run_tf1(tf, "jitflow llvm", N, REPEATS)
"""

TENSORFLOW = TF1_PROGRAM + """
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_USE_LEGACY_KERAS"] = "1"     # tf.nn.rnn_cell needs Keras 2 (tf_keras)
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
run_tf1(tf, "TensorFlow compat.v1", N, REPEATS)
"""

TORCH = """
import torch
torch.manual_seed(0)
lstm = torch.nn.LSTM(VOCAB, UNITS, batch_first=True)
dense = torch.nn.Linear(UNITS, VOCAB)
opt = torch.optim.Adam(list(lstm.parameters()) + list(dense.parameters()), lr=1e-3)
def step(i):
    xb, yb = batch(i)
    x = torch.nn.functional.one_hot(torch.from_numpy(xb).long(), VOCAB).float()
    opt.zero_grad()
    out, _ = lstm(x)
    loss = torch.nn.functional.cross_entropy(dense(out).reshape(-1, VOCAB),
                                             torch.from_numpy(yb).long().reshape(-1))
    loss.backward()
    opt.step()
    return loss.item()
t = time.perf_counter(); step(0); first = time.perf_counter() - t
step(1)
secs, last = timed(step, N, REPEATS)
report(framework="PyTorch eager nn.LSTM", seconds=secs, first_step=first, last_loss=last,
       threads=torch.get_num_threads())
"""


def run(code: str, python: str, env: dict, n: int, repeats: int) -> list[dict]:
    src = COMMON + f"\nN, REPEATS = {n}, {repeats}\n" + textwrap.dedent(code)
    proc = subprocess.run([python, "-c", src], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=3600)
    out = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        out.append({"error": f"{python}: {tail}"})
    return out


def step_flops() -> float:
    """Matmul FLOPs of one training step (forward GEMMs; the backward pass does two per)."""
    bt = BATCH * STEPS
    fwd = 2 * bt * (VOCAB * 4 * UNITS + UNITS * 4 * UNITS + UNITS * VOCAB)
    return 3 * fwd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tf-python", default="/tmp/tfvenv_rnn/bin/python")
    bench_py = ROOT / ".venv-bench" / "bin" / "python"
    ap.add_argument("--torch-python", default=str(bench_py) if bench_py.exists() else sys.executable)
    ap.add_argument("--out", default="", help="also write the report as markdown here "
                    "(benchmarks/LSTM.md: run.py puts it into RESULTS.md)")
    args = ap.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in
                                                       [env.get("PYTHONPATH")] if p])
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as cache:
        results += run(JITFLOW, sys.executable, {**env, "JITFLOW_BACKEND": "llvm",
                                                 "JITFLOW_CACHE_DIR": cache},
                       args.steps, args.repeats)
    if os.path.exists(args.tf_python):
        results += run(TENSORFLOW, args.tf_python, dict(os.environ), args.steps, args.repeats)
    else:
        results.append({"error": f"TensorFlow: {args.tf_python} not found"})
    torch_ok = subprocess.run([args.torch_python, "-c", "import torch"],
                              capture_output=True).returncode == 0
    if torch_ok:
        results += run(TORCH, args.torch_python, dict(os.environ), args.steps, args.repeats)
    else:
        results.append({"error": "PyTorch: not installed"})
    lines = report(results)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


def report(results: list[dict]) -> list[str]:
    """Print the comparison; returns it as markdown lines."""
    peak = next((r["flops"] for r in results if r.get("framework") == "gemm peak"), None)
    med = {}
    print(f"char-level LSTM LM training step: batch {BATCH}, {STEPS} steps, vocab {VOCAB} "
          f"one-hot, LSTMCell({UNITS}), dense softmax, Adam; {os.cpu_count()} cores")
    md = [f"Char-level LSTM LM training step (batch {BATCH}, {STEPS} time steps, one-hot vocab "
          f"{VOCAB}, one `LSTMCell({UNITS})` under `dynamic_rnn`, dense softmax, Adam; "
          f"benchmarks/lstm.py, one run, {os.cpu_count()} cores):", "",
          "| framework | median per step | first step | fraction of GEMM peak |",
          "| --- | --- | --- | --- |"]
    for r in results:
        if "error" in r:
            print(f"  failed: {r['error']}")
            md.append(f"| failed: {r['error']} | | | |")
            continue
        if "seconds" not in r:
            continue
        m = statistics.median(r["seconds"])
        med[r["framework"]] = m
        frac = f", {step_flops() / m / peak:.1%} of GEMM peak" if peak else ""
        print(f"  {r['framework']:<24} {m * 1e3:8.2f} ms/step  {1 / m:7.2f} steps/s  first step "
              f"{r.get('first_step', float('nan')):.2f} s  loss {r.get('last_loss', 0):.4f}{frac}")
        md.append(f"| {r['framework']} | {m * 1e3:.2f} ms | {r.get('first_step', float('nan')):.2f}"
                  f" s | {step_flops() / m / peak:.1%} |" if peak else
                  f"| {r['framework']} | {m * 1e3:.2f} ms | - | - |")
    md.append("")
    if peak:
        print(f"  GEMM peak (NumPy float32 2048^3): {peak / 1e9:.1f} GFLOP/s; step matmul work "
              f"{step_flops() / 1e9:.2f} GFLOP")
        md.append(f"GEMM peak (NumPy float32 2048^3, all threads): {peak / 1e9:.1f} GFLOP/s; "
                  f"the step's matmul work {step_flops() / 1e9:.2f} GFLOP.")
    jf, tfm = med.get("jitflow llvm"), med.get("TensorFlow compat.v1")
    pt = med.get("PyTorch eager nn.LSTM")
    if jf and tfm:
        print(f"  jitflow / TensorFlow time per step: {jf / tfm:.2f}x (target <= 0.5x)")
        md.append(f"jitflow / TensorFlow time per step: {jf / tfm:.2f}x (target <= 0.5x).")
    if jf and pt:
        print(f"  jitflow / PyTorch eager time per step: {jf / pt:.2f}x (target <= 1x)")
        md.append(f"jitflow / PyTorch eager time per step: {jf / pt:.2f}x (target <= 1x).")
    return md


if __name__ == "__main__":
    main()
