"""``make demo``: run the reference programs unchanged and keep what they report.

    python examples/demo.py [--workloads DIR] [--out DIR] [NAME ...]

Each program (``quadratic``, ``mnist_dnn_pretrain``, ``mnist_dnn_transfer``, ``mnist_cnn`` by
default, in that order: the transfer program restores the pretrained checkpoint) runs as its
own process with ``WORKLOAD_OUT=DIR``. Its stdout is passed through line by line; the JSON
lines it prints are also written to ``DIR/results.jsonl`` (every program, rewritten each
demo) and ``DIR/<name>.jsonl``. Its stderr is the terminal's (``JITFLOW_PROGRESS=1`` draws
the live status line there). At the end: labelled plots of the MNIST programs' per-epoch
accuracy and epoch time (``DIR/mnist_accuracy.png``, ``DIR/mnist_epoch_seconds.png``)
and how long each program took. ``EPOCHS`` and ``TRAIN_LIMIT`` in the environment shorten the
MNIST programs (the programs read them).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PROGRAMS = ["quadratic", "mnist_dnn_pretrain", "mnist_dnn_transfer", "mnist_cnn"]


def run_one(path: Path, out: Path, results) -> tuple[int, float, list[dict]]:
    env = dict(os.environ, WORKLOAD_OUT=str(out), PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    rows: list[dict] = []
    with open(out / f"{path.stem}.jsonl", "w") as own:
        p = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, env=env,
                             text=True, bufsize=1)
        for line in p.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
                for f in (own, results):
                    f.write(json.dumps(row) + "\n")
                    f.flush()
        rc = p.wait()
    return rc, time.perf_counter() - t0, rows


def plot(rows_by_name: dict[str, list[dict]], out: Path) -> list[Path]:
    """Per-epoch test accuracy and seconds of the MNIST programs; [] without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("demo: matplotlib is not installed: no plots", file=sys.stderr)
        return []
    epochs = {n: [r for r in rows if "epoch" in r] for n, rows in rows_by_name.items()}
    epochs = {n: rs for n, rs in epochs.items() if rs}
    if not epochs:
        return []
    try:
        from jitflow.backends import default_backend_name
        backend = default_backend_name()
    except ImportError:
        backend = os.environ.get("JITFLOW_BACKEND", "llvm")
    made = []
    for key, ylabel, title, fname in (
            ("accuracy", "accuracy after the epoch", "MNIST accuracy per epoch",
             "mnist_accuracy.png"),
            ("seconds", "seconds per training epoch", "MNIST training time per epoch",
             "mnist_epoch_seconds.png")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name, rs in epochs.items():
            xs = [r["epoch"] + 1 for r in rs]
            label = name
            if key == "accuracy":      # the DNNs report validation, the CNN test accuracy
                which = "test_accuracy" if "test_accuracy" in rs[0] else "valid_accuracy"
                ys = [r.get(which, float("nan")) for r in rs]
                label += " (test, 10,000 images)" if which == "test_accuracy" else \
                    " (validation, 5,000 images)"
            else:
                ys = [r.get(key, float("nan")) for r in rs]
            ax.plot(xs, ys, marker="o", label=label)
            ax.annotate(f"{ys[-1]:.4g}", (xs[-1], ys[-1]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} (jitflow, {backend})")
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=100)
        plt.close(fig)
        made.append(out / fname)
    return made


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", default=PROGRAMS, help="programs to run (default: all)")
    ap.add_argument("--workloads", default="../shared/workloads", help="where the programs are")
    ap.add_argument("--out", default="demo-out", help="output directory (WORKLOAD_OUT)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows_by_name: dict[str, list[dict]] = {}
    times: list[tuple[str, float, int]] = []
    status = 0
    knobs = ", ".join(f"{k}={os.environ[k]}" for k in ("EPOCHS", "TRAIN_LIMIT") if k in os.environ)
    print(f"demo: programs from {args.workloads}, outputs in {out}/"
          + (f" ({knobs})" if knobs else " (full runs; EPOCHS=1 TRAIN_LIMIT=5000 shorten them)"),
          flush=True)
    with open(out / "results.jsonl", "w") as results:
        for name in args.names:
            path = Path(args.workloads) / f"{name}.py"
            if not path.exists():
                print(f"demo: {path}: no such program", file=sys.stderr)
                status = 1
                continue
            print(f"demo: running {name}", flush=True)
            rc, secs, rows = run_one(path, out, results)
            rows_by_name[name] = rows
            times.append((name, secs, rc))
            if rc != 0:
                print(f"demo: {name} failed (exit {rc})", file=sys.stderr)
                status = 1
                if name == "mnist_dnn_pretrain":     # the transfer program needs its checkpoint
                    break
    made = plot(rows_by_name, out)
    print("demo: wall time per program: " + ", ".join(
        f"{n} {s:.1f} s" + ("" if rc == 0 else f" (exit {rc})") for n, s, rc in times)
        + f"; total {sum(s for _, s, _ in times):.1f} s")
    written = [out / "results.jsonl"] + [out / f"{n}.jsonl" for n in rows_by_name] + made
    print("demo: wrote " + ", ".join(str(p) for p in written))
    return status


if __name__ == "__main__":
    sys.exit(main())
