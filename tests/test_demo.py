"""examples/demo.py (``make demo``): each program's JSON lines end up in
``demo-out/results.jsonl`` and ``demo-out/<name>.jsonl``, other output passes through, the
MNIST programs' epochs are plotted, a failing pretrain stops before the transfer program."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE = textwrap.dedent("""
    import json, os
    print("not json")
    for e in range(int(os.environ.get("EPOCHS", 3))):
        print(json.dumps({"workload": NAME, "epoch": e, "seconds": 1.0 + e, ACC: 0.5 + e / 10}))
    print(json.dumps({"workload": NAME, "final": True, "out": os.environ["WORKLOAD_OUT"]}))
    raise SystemExit(CODE)
""")


def _fake(d: Path, name: str, acc: str = "test_accuracy", code: int = 0) -> None:
    (d / f"{name}.py").write_text(FAKE.replace("NAME", repr(name)).replace("ACC", repr(acc))
                                  .replace("CODE", str(code)))


def _demo(workloads: Path, out: Path, *names, env=None):
    e = dict(os.environ, PYTHONPATH=str(ROOT), EPOCHS="2", **(env or {}))
    return subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py"), "--workloads",
                           str(workloads), "--out", str(out), *names], capture_output=True,
                          text=True, env=e, timeout=120)


def test_demo_collects_json_lines_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    w = tmp_path / "w"
    w.mkdir()
    _fake(w, "quadratic")
    _fake(w, "mnist_dnn_pretrain", "valid_accuracy")
    _fake(w, "mnist_cnn")
    out = tmp_path / "out"
    p = _demo(w, out, "quadratic", "mnist_dnn_pretrain", "mnist_cnn")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("not json") == 3          # passed through
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["workload"] for r in rows] == ["quadratic"] * 3 + ["mnist_dnn_pretrain"] * 3 + \
        ["mnist_cnn"] * 3
    assert all(r.get("out", str(out)) == str(out) for r in rows)     # WORKLOAD_OUT
    own = (out / "mnist_cnn.jsonl").read_text().splitlines()
    assert [json.loads(x)["workload"] for x in own] == ["mnist_cnn"] * 3
    for png in ("mnist_accuracy.png", "mnist_epoch_seconds.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wall time per program: quadratic" in p.stdout and "total" in p.stdout
    # a second demo rewrites results.jsonl rather than appending
    _demo(w, out, "quadratic")
    assert len((out / "results.jsonl").read_text().splitlines()) == 3


def test_failed_pretrain_stops_the_demo(tmp_path):
    w = tmp_path / "w"
    w.mkdir()
    _fake(w, "mnist_dnn_pretrain", code=3)
    _fake(w, "mnist_dnn_transfer")
    p = _demo(w, tmp_path / "out", "mnist_dnn_pretrain", "mnist_dnn_transfer")
    assert p.returncode == 1 and "mnist_dnn_pretrain failed (exit 3)" in p.stderr
    assert "running mnist_dnn_transfer" not in p.stdout
