"""An opt-in live status line on stderr: ``JITFLOW_PROGRESS=1``.

    jitflow: 41200 runs, 212.40 runs/s, 03:14 elapsed, 3 compiles (2.1 s), last run2: 96 ops on llvm in 1.84 s

No change to the user's program: ``Session.run`` counts runs (``run_done``, a counter
increment) and ``Session._compile`` reports compilations (``compile_done``); a daemon thread
redraws the line with tqdm twice a second, so the elapsed time moves during a long compile or
epoch too.

* ``JITFLOW_PROGRESS=1`` (or ``on``/``true``): only when stderr is a terminal; otherwise quiet.
* ``JITFLOW_PROGRESS=force``: also when stderr is not a terminal (a log file, CI): a plain
  status line every ``JITFLOW_PROGRESS_INTERVAL`` seconds (default 10) and one at exit.
* While the line is drawn on a terminal, lines the program prints to the same terminal are
  written above it (stdout is wrapped); a program's stdout that goes to a pipe (``| tee``)
  makes the line step aside (cleared, drawn again on the next tick) so the two do not mix.
"""
from __future__ import annotations

import atexit
import os
import stat
import sys
import threading
import time
from typing import Optional

_MODE = os.environ.get("JITFLOW_PROGRESS", "").strip().lower()
FORCED = _MODE == "force"


def _stderr_is_tty() -> bool:
    try:
        return os.isatty(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return False


#: read by the hooks in Session.run / Session._compile: nothing else runs when False
enabled = FORCED or (_MODE in ("1", "on", "true", "yes") and _stderr_is_tty())

BAR_FORMAT = "{desc}: {n_fmt} runs, {rate_noinv_fmt}, {elapsed} elapsed{postfix}"


class _Stats:
    def __init__(self) -> None:
        self.runs = 0
        self.compiles = 0
        self.compile_seconds = 0.0
        self.last: Optional[str] = None
        self.start = time.time()

    def postfix(self) -> str:
        if not self.compiles:
            return ""
        s = f"{self.compiles} compile{'s' if self.compiles != 1 else ''}"
        if self.compiles > 1:
            s += f" ({self.compile_seconds:.1f} s)"
        return s + (f", last {self.last}" if self.last else "")


stats = _Stats()
_display: Optional["_Display"] = None
_start_lock = threading.Lock()


def run_done() -> None:
    """One Session.run finished (the hook in Session.run)."""
    stats.runs += 1
    if _display is None:
        _ensure_display()


def compile_done(name: str, n_ops: int, backend: str, seconds: float) -> None:
    """A compilation finished (the hook in Session._compile)."""
    stats.compiles += 1
    stats.compile_seconds += seconds
    stats.last = f"{name}: {n_ops} ops on {backend} in {seconds:.2f} s"
    if _display is None:
        _ensure_display()
    else:
        _display.poke()


def _ensure_display() -> None:
    global _display
    with _start_lock:
        if _display is None:
            try:
                _display = _Display()
            except ImportError:
                global enabled
                enabled = False
                print("jitflow: JITFLOW_PROGRESS needs tqdm (pip install tqdm); no progress "
                      "line", file=sys.stderr)


def _same_file(a, b) -> bool:
    try:
        sa, sb = os.fstat(a.fileno()), os.fstat(b.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (sa.st_dev, sa.st_ino, sa.st_rdev) == (sb.st_dev, sb.st_ino, sb.st_rdev)


def _is_pipe(f) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(f.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


def _width() -> dict:
    """tqdm's width options: follow the terminal, or 120 columns where it reports none."""
    try:
        cols = os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, OSError, ValueError):
        cols = 0
    return {"dynamic_ncols": True} if cols else {"ncols": 120, "nrows": 24}


class _Display:
    """The tqdm line (terminal) or periodic plain lines (forced, not a terminal)."""

    def __init__(self) -> None:
        from tqdm import tqdm
        self.tqdm = tqdm
        self.live = _stderr_is_tty()
        self.interval = 0.5 if self.live else float(os.environ.get("JITFLOW_PROGRESS_INTERVAL", 10))
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.lock = threading.RLock()
        self.hidden = False
        self.bar = None
        self.stdout = None
        if self.live:
            self.bar = tqdm(total=None, desc="jitflow", unit=" runs", bar_format=BAR_FORMAT,
                            file=sys.stderr, leave=True, mininterval=0,
                            miniters=1, smoothing=0.3, postfix=stats.postfix() or None,
                            **_width())
            self.bar.start_t = stats.start
            if _same_file(sys.stdout, sys.stderr) or _is_pipe(sys.stdout):
                self.stdout = sys.stdout
                sys.stdout = _AboveTheLine(self, sys.stdout, redraw=not _is_pipe(sys.stdout))
        self.thread = threading.Thread(target=self._loop, name="jitflow-progress", daemon=True)
        self.thread.start()
        atexit.register(self.close)

    def poke(self) -> None:
        self.wake.set()

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.wake.wait(self.interval)
            self.wake.clear()
            if self.stop.is_set():
                break
            self.draw()

    def line(self) -> str:
        return self.tqdm.format_meter(stats.runs, None, time.time() - stats.start, prefix="jitflow",
                                      unit=" runs", bar_format=BAR_FORMAT,
                                      postfix=stats.postfix() or None)

    def draw(self) -> None:
        with self.lock:
            if not self.live:
                print(self.line(), file=sys.stderr, flush=True)
                return
            self.hidden = False
            self.bar.postfix = stats.postfix()
            delta = stats.runs - self.bar.n
            if delta > 0:     # miniters=1, mininterval=0: redraws, and updates the rate's EMA
                self.bar.update(delta)
            else:
                self.bar.refresh()

    def clear(self) -> None:
        with self.lock:
            if self.bar is not None and not self.hidden:
                self.bar.clear()
                self.hidden = True

    def close(self) -> None:
        if self.stop.is_set():
            return
        self.stop.set()
        self.wake.set()
        self.thread.join(timeout=2)
        if self.stdout is not None and isinstance(sys.stdout, _AboveTheLine):
            sys.stdout.flush_partial()
            sys.stdout = self.stdout
        if self.live:
            self.draw()
            self.bar.close()
        elif stats.runs or stats.compiles:
            self.draw()


class _AboveTheLine:
    """sys.stdout while the line is drawn: whole lines go above the status line (``redraw``:
    the same terminal) or clear it until the next tick (a pipe whose reader echoes them)."""

    def __init__(self, display: _Display, real, redraw: bool) -> None:
        self._display, self._real, self._redraw = display, real, redraw
        self._partial = ""

    def write(self, s: str) -> int:
        text = self._partial + s
        head, sep, self._partial = text.rpartition("\n")
        if sep:
            with self._display.lock:
                self._display.clear()
                self._real.write(head + sep)
                self._real.flush()
                if self._redraw:
                    self._display.draw()
        return len(s)

    def flush(self) -> None:
        self._real.flush()

    def flush_partial(self) -> None:
        if self._partial:
            self._real.write(self._partial)
            self._partial = ""
        self._real.flush()

    def __getattr__(self, name):
        return getattr(self._real, name)
