"""``tf.train.Coordinator`` and ``LooperThread``: stop a set of threads together and report
the first exception one of them raised."""
from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Any, Callable, Iterable, Optional

from ...errors import OutOfRangeError


class Coordinator:
    """TF1's thread coordinator: ``should_stop``, ``request_stop(ex)``, ``join(threads)``."""

    def __init__(self, clean_stop_exception_types: Optional[Iterable[type]] = None) -> None:
        self._clean = tuple((OutOfRangeError,) if clean_stop_exception_types is None
                            else clean_stop_exception_types)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._exc_info: Optional[tuple] = None
        self._joined = False
        self._threads: set = set()

    def _filter(self, ex: Any) -> Optional[tuple]:
        if isinstance(ex, tuple):
            return None if isinstance(ex[1], self._clean) else ex
        if isinstance(ex, BaseException):
            if isinstance(ex, self._clean):
                return None
            return (type(ex), ex, ex.__traceback__)
        return None

    def request_stop(self, ex: Any = None) -> None:
        """Ask all threads to stop; ``ex`` (an exception or exc_info) is re-raised by join()."""
        with self._lock:
            info = self._filter(ex)
            if info is not None and self._exc_info is None:
                self._exc_info = info
            self._stop_event.set()

    def clear_stop(self) -> None:
        with self._lock:
            self._joined = False
            self._exc_info = None
            self._stop_event.clear()

    def should_stop(self) -> bool:
        return self._stop_event.is_set()

    @contextlib.contextmanager
    def stop_on_exception(self):
        try:
            yield
        except BaseException:
            self.request_stop(ex=sys.exc_info())

    def wait_for_stop(self, timeout: Optional[float] = None) -> bool:
        return self._stop_event.wait(timeout)

    def register_thread(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.add(thread)

    def join(self, threads: Optional[Iterable[threading.Thread]] = None,
             stop_grace_period_secs: float = 120, ignore_live_threads: bool = False) -> None:
        """Wait for a stop request, then for the threads (at most the grace period); re-raise
        the first exception passed to request_stop."""
        with self._lock:
            all_threads = set(self._threads) | set(threads or ())
        while all_threads and any(t.is_alive() for t in all_threads) and \
                not self.wait_for_stop(0.1):
            pass
        deadline = time.time() + stop_grace_period_secs
        for t in all_threads:
            t.join(max(0.0, deadline - time.time()))
        alive = [t.name for t in all_threads if t.is_alive()]
        with self._lock:
            self._joined = True
            self._threads = set()
            info = self._exc_info
        if info is not None:
            raise info[1].with_traceback(info[2])
        if alive and not ignore_live_threads:
            raise RuntimeError(f"Coordinator stopped with threads still running: "
                               f"{' '.join(alive)}")

    @property
    def joined(self) -> bool:
        return self._joined

    def raise_requested_exception(self) -> None:
        with self._lock:
            if self._exc_info is not None:
                raise self._exc_info[1].with_traceback(self._exc_info[2])

    def loop(self, timer_interval_secs: Optional[float], target: Callable, args: Any = None,
             kwargs: Any = None) -> "LooperThread":
        t = LooperThread(self, timer_interval_secs, target=target, args=args, kwargs=kwargs)
        t.start()
        return t


class LooperThread(threading.Thread):
    """Calls ``target`` (or ``run_loop``) every ``timer_interval_secs`` (back to back when
    None), starting at once, until the coordinator stops."""

    def __init__(self, coord: Coordinator, timer_interval_secs: Optional[float],
                 target: Optional[Callable] = None, args: Any = None, kwargs: Any = None) -> None:
        super().__init__(daemon=True)
        self._coord = coord
        self._interval = timer_interval_secs
        self._target_fn = target
        self._args, self._kwargs = tuple(args or ()), dict(kwargs or {})
        coord.register_thread(self)

    def run_loop(self) -> None:
        if self._target_fn is not None:
            self._target_fn(*self._args, **self._kwargs)

    def start_loop(self) -> None:
        pass

    def stop_loop(self) -> None:
        pass

    def run(self) -> None:
        with self._coord.stop_on_exception():
            self.start_loop()
            if self._interval is None:
                while not self._coord.should_stop():
                    self.run_loop()
            else:
                next_time = time.time()
                while not self._coord.wait_for_stop(max(0.0, next_time - time.time())):
                    next_time += self._interval
                    self.run_loop()
            self.stop_loop()

