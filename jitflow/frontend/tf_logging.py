"""``tf.logging`` (TF1) on Python's ``logging``: the "tensorflow" logger, TF1's level names
and ``set_verbosity``; messages print as ``INFO:tensorflow:...`` to stderr, and the default
verbosity is WARN, as in TF1."""
from __future__ import annotations

import logging as _logging
import sys
from typing import Any

DEBUG = _logging.DEBUG
INFO = _logging.INFO
WARN = _logging.WARN
WARNING = _logging.WARNING
ERROR = _logging.ERROR
FATAL = _logging.FATAL



class _StderrHandler(_logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (redirections apply)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


_logger = _logging.getLogger("tensorflow")
if not _logger.handlers:
    _handler = _StderrHandler()
    _handler.setFormatter(_logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    _logger.addHandler(_handler)
    _logger.propagate = False
    _logger.setLevel(WARN)
_counts: dict = {}


def get_logger() -> _logging.Logger:
    return _logger


def set_verbosity(v: int) -> None:
    _logger.setLevel(v)


def get_verbosity() -> int:
    return _logger.getEffectiveLevel()


def log(level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
    _logger.log(level, msg, *args, **kwargs)


def debug(msg: Any, *args: Any, **kwargs: Any) -> None:
    _logger.debug(msg, *args, **kwargs)


def info(msg: Any, *args: Any, **kwargs: Any) -> None:
    _logger.info(msg, *args, **kwargs)


def warning(msg: Any, *args: Any, **kwargs: Any) -> None:
    _logger.warning(msg, *args, **kwargs)


warn = warning


def error(msg: Any, *args: Any, **kwargs: Any) -> None:
    _logger.error(msg, *args, **kwargs)


def fatal(msg: Any, *args: Any, **kwargs: Any) -> None:
    _logger.fatal(msg, *args, **kwargs)


def vlog(level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
    _logger.log(level, msg, *args, **kwargs)


def _caller_key() -> tuple:
    f = sys._getframe(2)
    return (f.f_code.co_filename, f.f_lineno)


def log_every_n(level: int, msg: Any, n: int, *args: Any) -> None:
    """Logs on the 1st, (n+1)th, ... call from the same source line."""
    key = _caller_key()
    c = _counts.get(key, 0)
    _counts[key] = c + 1
    if c % max(int(n), 1) == 0:
        _logger.log(level, msg, *args)


def log_first_n(level: int, msg: Any, n: int, *args: Any) -> None:
    key = _caller_key()
    c = _counts.get(key, 0)
    _counts[key] = c + 1
    if c < n:
        _logger.log(level, msg, *args)


def log_if(level: int, msg: Any, condition: Any, *args: Any) -> None:
    if condition:
        _logger.log(level, msg, *args)


def flush() -> None:
    for h in _logger.handlers:
        h.flush()
