"""``tf.train.SessionRunHook`` and TF1's standard hooks for MonitoredSession.

A hook sees ``begin()`` (graph still editable), ``after_create_session(session, coord)``,
``before_run(run_context)`` -> optional ``SessionRunArgs`` (extra fetches/feeds merged into the
same run), ``after_run(run_context, run_values)`` and ``end(session)``. The session passed to
hooks is the raw ``tf.Session``.
"""
from __future__ import annotations

import collections
import os
import time
from typing import Any, Optional

import numpy as np

from .. import tf_logging as logging
from ..graph import get_default_graph


class SessionRunHook:
    """Base class: every callback is a no-op."""

    def begin(self) -> None:
        pass

    def after_create_session(self, session: Any, coord: Any) -> None:
        pass

    def before_run(self, run_context: "SessionRunContext") -> Optional["SessionRunArgs"]:
        return None

    def after_run(self, run_context: "SessionRunContext", run_values: "SessionRunValues") -> None:
        pass

    def end(self, session: Any) -> None:
        pass


class SessionRunArgs(collections.namedtuple("SessionRunArgs", ["fetches", "feed_dict", "options"])):
    def __new__(cls, fetches: Any, feed_dict: Optional[dict] = None, options: Any = None):
        return super().__new__(cls, fetches, feed_dict, options)


SessionRunValues = collections.namedtuple("SessionRunValues", ["results", "options", "run_metadata"])


class SessionRunContext:
    def __init__(self, original_args: SessionRunArgs, session: Any) -> None:
        self._original_args = original_args
        self._session = session
        self._stop_requested = False

    @property
    def original_args(self) -> SessionRunArgs:
        return self._original_args

    @property
    def session(self) -> Any:
        return self._session

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def request_stop(self) -> None:
        self._stop_requested = True


class SecondOrStepTimer:
    """Triggers every ``every_secs`` seconds or every ``every_steps`` steps (exactly one)."""

    def __init__(self, every_secs: Optional[float] = None, every_steps: Optional[int] = None) -> None:
        if (every_secs is None) == (every_steps is None):
            raise ValueError("exactly one of every_secs and every_steps should be provided.")
        self._secs, self._steps = every_secs, every_steps
        self.reset()

    def reset(self) -> None:
        self._last_time: Optional[float] = None
        self._last_step: Optional[int] = None

    def should_trigger_for_step(self, step: int) -> bool:
        if self._last_step is None:
            return True
        if self._last_step == step:
            return False
        if self._secs is not None:
            return time.time() >= self._last_time + self._secs
        return step >= self._last_step + self._steps

    def update_last_triggered_step(self, step: int) -> tuple:
        now = time.time()
        elapsed = None if self._last_time is None else (now - self._last_time,
                                                        step - self._last_step)
        self._last_time, self._last_step = now, step
        return elapsed if elapsed is not None else (None, None)

    def last_triggered_step(self) -> Optional[int]:
        return self._last_step


def _global_step_tensor(what: str) -> Any:
    from ..train import get_global_step
    gs = get_global_step()
    if gs is None:
        raise RuntimeError(f"Global step should be created to use {what}.")
    return gs


def _step_of(value: Any) -> int:
    return int(np.asarray(value))


class StopAtStepHook(SessionRunHook):
    """Requests a stop after ``num_steps`` more steps or at global step ``last_step``."""

    def __init__(self, num_steps: Optional[int] = None, last_step: Optional[int] = None) -> None:
        if (num_steps is None) == (last_step is None):
            raise ValueError("One of num_steps or last_step must be specified.")
        if num_steps is not None and num_steps < 0:
            raise ValueError("num_steps must be non-negative.")
        if last_step is not None and last_step < 0:
            raise ValueError("last_step must be non-negative.")
        self._num_steps, self._last_step = num_steps, last_step

    def begin(self) -> None:
        self._gs = _global_step_tensor("StopAtStepHook")

    def after_create_session(self, session: Any, coord: Any) -> None:
        if self._last_step is None:
            self._last_step = _step_of(session.run(self._gs)) + self._num_steps

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs(self._gs)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        if _step_of(run_values.results) + 1 >= self._last_step:
            # the fetched value is the step before this run: read the current one
            if _step_of(run_context.session.run(self._gs)) >= self._last_step:
                run_context.request_stop()


class CheckpointSaverListener:
    def begin(self) -> None:
        pass

    def before_save(self, session: Any, global_step_value: int) -> None:
        pass

    def after_save(self, session: Any, global_step_value: int) -> Optional[bool]:
        return None

    def end(self, session: Any, global_step_value: int) -> None:
        pass


class CheckpointSaverHook(SessionRunHook):
    """Saves ``checkpoint_dir/model.ckpt-<step>`` at session creation, every ``save_secs`` or
    ``save_steps``, and at the end."""

    def __init__(self, checkpoint_dir: str, save_secs: Optional[float] = None,
                 save_steps: Optional[int] = None, saver: Any = None,
                 checkpoint_basename: str = "model.ckpt", scaffold: Any = None,
                 listeners: Any = None) -> None:
        if saver is not None and scaffold is not None:
            raise ValueError("You cannot provide both saver and scaffold.")
        self._dir = checkpoint_dir
        self._saver, self._scaffold = saver, scaffold
        self._path = os.path.join(checkpoint_dir, checkpoint_basename)
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._listeners = list(listeners or [])

    def begin(self) -> None:
        self._gs = _global_step_tensor("CheckpointSaverHook")
        os.makedirs(self._dir, exist_ok=True)
        for listener in self._listeners:
            listener.begin()

    def _get_saver(self) -> Any:
        if self._saver is not None:
            return self._saver
        if self._scaffold is not None:
            return self._scaffold.saver
        from ..graph import GraphKeys
        savers = get_default_graph().get_collection(GraphKeys.SAVERS)
        if not savers:
            raise RuntimeError("No items in collection SAVERS: give CheckpointSaverHook a "
                               "saver or a scaffold")
        return savers[0]

    def after_create_session(self, session: Any, coord: Any) -> None:
        step = _step_of(session.run(self._gs))
        self._save(session, step)
        self._timer.update_last_triggered_step(step)

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs(self._gs)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        stale = _step_of(run_values.results)
        if self._timer.should_trigger_for_step(stale + 1):
            step = _step_of(run_context.session.run(self._gs))
            if self._timer.should_trigger_for_step(step):
                self._timer.update_last_triggered_step(step)
                if self._save(run_context.session, step):
                    run_context.request_stop()

    def end(self, session: Any) -> None:
        step = _step_of(session.run(self._gs))
        if step != self._timer.last_triggered_step():
            self._save(session, step)
        for listener in self._listeners:
            listener.end(session, step)

    def _save(self, session: Any, step: int) -> bool:
        logging.info("Saving checkpoints for %d into %s.", step, self._path)
        for listener in self._listeners:
            listener.before_save(session, step)
        self._get_saver().save(session, self._path, global_step=step)
        stop = False
        for listener in self._listeners:
            if listener.after_save(session, step):
                stop = True
        return stop


class _WriterCache:
    _writers: dict = {}

    @classmethod
    def get(cls, logdir: str) -> Any:
        from ..summary import FileWriter
        key = os.path.abspath(logdir)
        w = cls._writers.get(key)
        if w is None or getattr(w, "_closed", False):
            w = cls._writers[key] = FileWriter(logdir)
        return w

    @classmethod
    def clear(cls) -> None:
        for w in cls._writers.values():
            if not getattr(w, "_closed", False):
                w.close()
        cls._writers.clear()


FileWriterCache = _WriterCache


class SummarySaverHook(SessionRunHook):
    """Runs ``summary_op`` (or the scaffold's) every ``save_steps``/``save_secs`` and writes
    it to ``output_dir`` (or ``summary_writer``)."""

    def __init__(self, save_steps: Optional[int] = None, save_secs: Optional[float] = None,
                 output_dir: Optional[str] = None, summary_writer: Any = None,
                 scaffold: Any = None, summary_op: Any = None) -> None:
        if (scaffold is None) == (summary_op is None):
            raise ValueError("Exactly one of scaffold or summary_op must be provided.")
        self._summary_op, self._scaffold = summary_op, scaffold
        self._writer, self._dir = summary_writer, output_dir
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)

    def begin(self) -> None:
        if self._writer is None and self._dir:
            self._writer = _WriterCache.get(self._dir)
        self._gs = _global_step_tensor("SummarySaverHook")
        self._next_step: Optional[int] = None
        self._request = False

    def _op(self) -> Any:
        return self._summary_op if self._summary_op is not None else self._scaffold.summary_op

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        self._request = (self._next_step is None or
                         self._timer.should_trigger_for_step(self._next_step))
        fetches: dict = {"global_step": self._gs}
        if self._request and self._op() is not None:
            fetches["summary"] = self._op()
        return SessionRunArgs(fetches)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        stale = _step_of(run_values.results["global_step"])
        step = stale + 1
        if self._next_step is None or self._request:
            step = _step_of(run_context.session.run(self._gs))
        if self._request:
            self._timer.update_last_triggered_step(step)
            if "summary" in run_values.results and self._writer is not None:
                self._writer.add_summary(run_values.results["summary"], step)
        self._next_step = step + 1

    def end(self, session: Any) -> None:
        if self._writer is not None:
            self._writer.flush()


class LoggingTensorHook(SessionRunHook):
    """Logs tensors (``{tag: tensor}`` or a list) every ``every_n_iter`` runs / ``every_n_secs``
    seconds, and/or at the end, with ``tf.logging.info``."""

    def __init__(self, tensors: Any, every_n_iter: Optional[int] = None,
                 every_n_secs: Optional[float] = None, at_end: bool = False,
                 formatter: Any = None) -> None:
        only_end = at_end and every_n_iter is None and every_n_secs is None
        if not only_end and (every_n_iter is None) == (every_n_secs is None):
            raise ValueError("either at_end and/or exactly one of every_n_iter and every_n_secs "
                             "must be provided.")
        if every_n_iter is not None and every_n_iter <= 0:
            raise ValueError(f"invalid every_n_iter={every_n_iter}.")
        if not isinstance(tensors, dict):
            tensors = {getattr(t, "name", str(t)): t for t in tensors}
        self._tags = sorted(tensors)
        self._tensors = tensors
        self._formatter, self._at_end = formatter, at_end
        self._timer = None if only_end else SecondOrStepTimer(every_secs=every_n_secs,
                                                              every_steps=every_n_iter)
        self.logged: list = []          # the logged messages (for tests and tools)

    def begin(self) -> None:
        self._iter = 0
        if self._timer is not None:
            self._timer.reset()

    def before_run(self, run_context: SessionRunContext) -> Optional[SessionRunArgs]:
        self._should = self._timer is not None and self._timer.should_trigger_for_step(self._iter)
        return SessionRunArgs(self._tensors) if self._should else None

    def _log(self, values: dict) -> None:
        if self._formatter is not None:
            msg = self._formatter(values)
        else:
            msg = ", ".join(f"{tag} = {values[tag]}" for tag in self._tags)
            if self._timer is not None:
                elapsed, _ = self._timer.update_last_triggered_step(self._iter)
                if elapsed is not None:
                    msg += f" ({elapsed:.3f} sec)"
        self.logged.append(msg)
        logging.info("%s", msg)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        if self._should:
            self._log(run_values.results)
        self._iter += 1

    def end(self, session: Any) -> None:
        if self._at_end:
            self._log(session.run(self._tensors))


class NanLossDuringTrainingError(RuntimeError):
    def __str__(self) -> str:
        return "NaN loss during training."


class NanTensorHook(SessionRunHook):
    """Stops (or raises NanLossDuringTrainingError) when ``loss_tensor`` is NaN. The check runs
    after the step, as in TF: that step's update has already been applied."""

    def __init__(self, loss_tensor: Any, fail_on_nan_loss: bool = True) -> None:
        self._loss, self._fail = loss_tensor, fail_on_nan_loss

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs(self._loss)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        if np.isnan(run_values.results):
            msg = "Model diverged with loss = NaN."
            if self._fail:
                logging.error(msg)
                raise NanLossDuringTrainingError
            logging.warning(msg)
            run_context.request_stop()


class StepCounterHook(SessionRunHook):
    """Logs and writes ``global_step/sec`` every ``every_n_steps`` / ``every_n_secs``."""

    def __init__(self, every_n_steps: Optional[int] = 100, every_n_secs: Optional[float] = None,
                 output_dir: Optional[str] = None, summary_writer: Any = None) -> None:
        if (every_n_steps is None) == (every_n_secs is None):
            raise ValueError("exactly one of every_n_steps and every_n_secs should be provided.")
        self._timer = SecondOrStepTimer(every_steps=every_n_steps, every_secs=every_n_secs)
        self._writer, self._dir = summary_writer, output_dir
        self.rates: list = []

    def begin(self) -> None:
        if self._writer is None and self._dir:
            self._writer = _WriterCache.get(self._dir)
        self._gs = _global_step_tensor("StepCounterHook")

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs(self._gs)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        step = _step_of(run_values.results) + 1
        if self._timer.should_trigger_for_step(step):
            secs, steps = self._timer.update_last_triggered_step(step)
            if secs is not None and secs > 0:
                rate = steps / secs
                self.rates.append(rate)
                logging.info("global_step/sec: %g", rate)
                if self._writer is not None:
                    from ..summary import scalar_summary
                    self._writer.add_summary(scalar_summary("global_step/sec", rate), step)


class FinalOpsHook(SessionRunHook):
    """Runs ``final_ops`` at the end; their values are ``final_ops_values``."""

    def __init__(self, final_ops: Any, final_ops_feed_dict: Optional[dict] = None) -> None:
        self._ops, self._feed = final_ops, final_ops_feed_dict
        self._values = None

    @property
    def final_ops_values(self) -> Any:
        return self._values

    def end(self, session: Any) -> None:
        if self._ops is not None:
            self._values = session.run(self._ops, feed_dict=self._feed)


class FeedFnHook(SessionRunHook):
    """Adds ``feed_fn()`` (a feed_dict) to every run."""

    def __init__(self, feed_fn: Any) -> None:
        self.feed_fn = feed_fn

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs(fetches=None, feed_dict=self.feed_fn())


class GlobalStepWaiterHook(SessionRunHook):
    """Delays runs until the global step reaches ``wait_until_step`` (single process: at once
    unless something else advances the step)."""

    def __init__(self, wait_until_step: int) -> None:
        self._wait = wait_until_step

    def begin(self) -> None:
        self._gs = _global_step_tensor("GlobalStepWaiterHook")
        self._done = self._wait <= 0

    def before_run(self, run_context: SessionRunContext) -> None:
        if not self._done:
            deadline = time.time() + 0.5
            while _step_of(run_context.session.run(self._gs)) < self._wait and \
                    time.time() < deadline:
                time.sleep(0.05)
            self._done = True
        return None
