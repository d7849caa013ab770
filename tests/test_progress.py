"""JITFLOW_PROGRESS (runtime/progress.py): a live status line on stderr with runs, runs/s,
elapsed time and compile events, for an unchanged TF1 program; quiet when stderr is not a
terminal unless forced; the program's own lines stay whole. Runs the program in
subprocesses, on a pseudo-terminal where a terminal is needed."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = textwrap.dedent("""
    import time
    import numpy as np
    import jitflow.compat.v1 as tf
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(tf.ones([3, 2]))
    loss = tf.reduce_sum(tf.matmul(x, w))
    step = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    n = 0
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        n += 1
        t = time.time()
        while time.time() - t < 1.6:
            s.run(step, feed_dict={x: np.ones((4, 3), np.float32)})
            n += 1
            if n % 2000 == 0:
                print("line", n, flush=True)
    print("runs", n, flush=True)
""")


def _env(**kw) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("JITFLOW_PROGRESS")}
    e.update(PYTHONPATH=str(ROOT), JITFLOW_NO_DISK_CACHE="1", **kw)
    return e


def _script(tmp_path) -> Path:
    p = tmp_path / "prog.py"
    p.write_text(PROGRAM)
    return p


def _on_pty(script: Path, env: dict, stdout_pipe: bool = False,
            cols: int = 120) -> tuple[str, str]:
    """Run with stderr (and stdout unless ``stdout_pipe``) on a pseudo-terminal of ``cols``
    columns (0: one that reports no size); (terminal text, piped stdout)."""
    master, slave = pty.openpty()
    if cols:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    p = subprocess.Popen([sys.executable, str(script)], stderr=slave,
                         stdout=subprocess.PIPE if stdout_pipe else slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:          # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    piped = p.stdout.read().decode() if stdout_pipe else ""
    assert p.wait(timeout=60) == 0
    os.close(master)
    return b"".join(chunks).decode(errors="replace"), piped


STATUS = re.compile(r"jitflow: (\d+) runs,\s+[\d.?]+ runs/s, \d\d:\d\d elapsed, (\d+) "
                    r"compiles?(?: \([\d.]+ s\))?, last run\d+: \d+ ops on llvm in [\d.]+ s$")


@pytest.mark.parametrize("cols", [120, 0])
def test_live_line_on_a_terminal(tmp_path, cols):
    term, _ = _on_pty(_script(tmp_path), _env(JITFLOW_PROGRESS="1"), cols=cols)
    segments = [s.strip() for s in re.split(r"[\r\n]+", term) if s.strip()]
    status = [s for s in segments if s.startswith("jitflow:")]
    assert len(status) >= 3, term[-2000:]                 # redrawn while the program runs
    counts = [int(STATUS.match(s).group(1)) for s in status]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    assert int(STATUS.match(status[-1]).group(2)) == 2   # the initializer and the step
    # the program's own lines are whole, each on its own line above the status line
    lines = [s for s in segments if "line" in s or s.startswith("runs")]
    assert lines and all(re.fullmatch(r"line \d+|runs \d+", s) for s in lines), lines
    total = int(lines[-1].split()[1])
    assert counts[-1] == total                            # the last line counts every run


def test_stdout_to_a_pipe_stays_clean(tmp_path):
    """``| tee``: the JSON lines in the pipe are untouched by the status line."""
    term, piped = _on_pty(_script(tmp_path), _env(JITFLOW_PROGRESS="1"), stdout_pipe=True)
    assert "jitflow:" in term and "line" not in term
    assert piped.splitlines()[-1].startswith("runs ")
    assert all(re.fullmatch(r"line \d+|runs \d+", s) for s in piped.splitlines())


def test_quiet_when_stderr_is_not_a_terminal(tmp_path):
    p = subprocess.run([sys.executable, str(_script(tmp_path))], capture_output=True,
                       text=True, env=_env(JITFLOW_PROGRESS="1"), timeout=60)
    assert p.returncode == 0 and "jitflow:" not in p.stderr
    off, _ = _on_pty(_script(tmp_path), _env())          # not asked for: nothing on a terminal
    assert "jitflow:" not in off


def test_forced_without_a_terminal_prints_plain_lines(tmp_path):
    p = subprocess.run([sys.executable, str(_script(tmp_path))], capture_output=True,
                       text=True, env=_env(JITFLOW_PROGRESS="force",
                                           JITFLOW_PROGRESS_INTERVAL="0.4"), timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stderr.splitlines()
    assert "\r" not in p.stderr and len(lines) >= 3, p.stderr
    assert all(STATUS.match(line) for line in lines), lines
    total = int(p.stdout.split()[-1])
    assert int(STATUS.match(lines[-1]).group(1)) == total    # the line at exit
    assert "runs" in p.stdout and "jitflow:" not in p.stdout
