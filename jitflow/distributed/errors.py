"""Errors of distributed training (subclasses of TF1's error classes, so ``except
tf.errors.UnavailableError`` also catches a lost worker)."""
from __future__ import annotations

from typing import Optional, Sequence

from ..errors import DeadlineExceededError, UnavailableError


class WorkerFailedError(UnavailableError):
    """A replica died (its actor was killed, its process crashed, its device was lost)."""

    def __init__(self, message: str, ranks: Sequence[int] = (), cause: Optional[BaseException] = None):
        super().__init__(message)
        self.ranks = list(ranks)
        self.cause = cause


class WorkerTimeoutError(DeadlineExceededError):
    """A replica did not answer within ``step_timeout`` seconds."""

    def __init__(self, message: str, ranks: Sequence[int] = ()):
        super().__init__(message)
        self.ranks = list(ranks)


class ParameterServerError(UnavailableError):
    """A parameter server died or failed: training cannot go on without its state (restore the
    last checkpoint with ``DataParallel.restore``)."""


class ReplicaLost(Exception):
    """Internal: raised by an engine when replicas fail; the caller applies the failure policy."""

    def __init__(self, ranks: Sequence[int], cause: Optional[BaseException], timed_out: bool = False):
        super().__init__(f"replicas {list(ranks)} lost: {cause!r}")
        self.ranks = list(ranks)
        self.cause = cause
        self.timed_out = timed_out


class _Killed(Exception):
    """A local replica stopped by ``LocalEngine.kill`` (the local stand-in for a lost device)."""
