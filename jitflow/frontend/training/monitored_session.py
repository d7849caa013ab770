"""``tf.train.MonitoredTrainingSession``, ``MonitoredSession``, ``SingularMonitoredSession``,
``Scaffold`` and the session creators, with TF1's semantics (single process).

Creating the session finalizes the scaffold (init op, local init op, summary op, saver, from
the graph's collections or defaults), restores the latest checkpoint of ``checkpoint_dir`` when
there is one (else runs the init op and ``init_fn``), starts the graph's queue runners and calls
the hooks' ``after_create_session``. ``run`` merges the hooks' requests into the same
``Session.run``. ``tf.errors.OutOfRangeError`` (and StopIteration) raised inside the
``with`` block ends it cleanly: ``should_stop()`` turns true and the hooks' ``end`` runs (the
CheckpointSaverHook saves there), as in TF.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from ...errors import OutOfRangeError
from .. import tf_logging as logging
from ..graph import GraphKeys, get_default_graph
from .coordinator import Coordinator
from .hooks import (CheckpointSaverHook, SessionRunArgs, SessionRunContext, SessionRunValues,
                    StepCounterHook, SummarySaverHook)

USE_DEFAULT = object()
QUEUE_RUNNERS = "queue_runners"     # tf.GraphKeys.QUEUE_RUNNERS


class Scaffold:
    """What a monitored session needs to build/initialize a model; ``finalize()`` fills in
    defaults from the graph's collections (INIT_OP, LOCAL_INIT_OP, SUMMARY_OP, SAVERS)."""

    def __init__(self, init_op: Any = None, init_feed_dict: Optional[dict] = None,
                 init_fn: Optional[Callable] = None, ready_op: Any = None,
                 ready_for_local_init_op: Any = None, local_init_op: Any = None,
                 summary_op: Any = None, saver: Any = None, copy_from_scaffold: Any = None,
                 local_init_feed_dict: Optional[dict] = None) -> None:
        if copy_from_scaffold is not None:
            init_op = init_op or copy_from_scaffold.init_op
            init_fn = init_fn or copy_from_scaffold._user_init_fn
            local_init_op = local_init_op or copy_from_scaffold.local_init_op
            summary_op = summary_op or copy_from_scaffold.summary_op
            saver = saver or copy_from_scaffold.saver
        self._init_op, self._init_feed_dict = init_op, init_feed_dict
        self._user_init_fn = init_fn
        self._init_fn = (lambda sess: init_fn(self, sess)) if init_fn else None
        self._local_init_op, self._local_init_feed_dict = local_init_op, local_init_feed_dict
        self._summary_op, self._saver = summary_op, saver
        self._ready_op = ready_op
        self._finalized = False

    @staticmethod
    def get_or_default(arg_name: str, collection_key: str, default_constructor: Callable) -> Any:
        g = get_default_graph()
        found = g.get_collection(collection_key)
        if len(found) > 1:
            raise RuntimeError(f"More than one item in collection {collection_key}. Please "
                               f"indicate which one to use by passing it to the constructor.")
        if found:
            return found[0]
        op = default_constructor()
        if op is not None:
            g.add_to_collection(collection_key, op)
        return op

    def finalize(self) -> "Scaffold":
        if self._finalized:
            return self
        from ..saver import Saver
        from ..summary import merge_all
        from ..variables import global_variables_initializer, group, local_variables_initializer
        if self._init_op is None:
            self._init_op = Scaffold.get_or_default("init_op", GraphKeys.INIT_OP,
                                                    global_variables_initializer)
        if self._local_init_op is None:
            self._local_init_op = Scaffold.get_or_default(
                "local_init_op", "local_init_op", lambda: group(local_variables_initializer()))
        if self._summary_op is None:
            self._summary_op = Scaffold.get_or_default("summary_op", "summary_op", merge_all)
        if self._saver is None:
            self._saver = Scaffold.get_or_default(
                "saver", GraphKeys.SAVERS, lambda: Saver(sharded=True, allow_empty=True))
        get_default_graph().finalize()
        self._finalized = True
        return self

    @property
    def init_op(self) -> Any:
        return self._init_op

    @property
    def init_feed_dict(self) -> Optional[dict]:
        return self._init_feed_dict

    @property
    def init_fn(self) -> Optional[Callable]:
        return self._init_fn

    @property
    def local_init_op(self) -> Any:
        return self._local_init_op

    @property
    def ready_op(self) -> Any:
        return self._ready_op

    @property
    def summary_op(self) -> Any:
        return self._summary_op

    @property
    def saver(self) -> Any:
        return self._saver


def _uninitialized(sess: Any) -> list[str]:
    g = sess.graph
    return [v.op.name for v in g.get_collection(GraphKeys.GLOBAL_VARIABLES)
            if sess._variable_value(v) is None]


class SessionCreator:
    def create_session(self) -> Any:
        raise NotImplementedError


class ChiefSessionCreator(SessionCreator):
    """Creates a Session, restores ``checkpoint_dir``'s latest checkpoint (or
    ``checkpoint_filename_with_path``) or initializes the model."""

    def __init__(self, scaffold: Optional[Scaffold] = None, master: str = "", config: Any = None,
                 checkpoint_dir: Optional[str] = None,
                 checkpoint_filename_with_path: Optional[str] = None) -> None:
        self._scaffold = scaffold or Scaffold()
        self._master, self._config = master, config
        self._dir, self._file = checkpoint_dir, checkpoint_filename_with_path

    def create_session(self) -> Any:
        from ..default_session import new_session as Session
        from ..saver import latest_checkpoint
        sc = self._scaffold.finalize()
        sess = Session(self._master, graph=get_default_graph(), config=self._config)
        ckpt = self._file or (latest_checkpoint(self._dir) if self._dir else None)
        if ckpt and sc.saver is not None:
            sc.saver.restore(sess, ckpt)
            logging.info("Restoring parameters from %s", ckpt)
        else:
            if sc.init_op is None and sc.init_fn is None and sc.local_init_op is None:
                raise RuntimeError("Model is not initialized and no init_op or init_fn or "
                                   "local_init_op was given")
            if sc.init_op is not None:
                sess.run(sc.init_op, feed_dict=sc.init_feed_dict)
            if sc.init_fn is not None:
                sc.init_fn(sess)
        if sc.local_init_op is not None:
            sess.run(sc.local_init_op, feed_dict=sc._local_init_feed_dict)
        missing = _uninitialized(sess)
        if missing:
            sess.close()
            raise RuntimeError(f"Init operations did not make model ready: uninitialized "
                               f"variables {missing}")
        return sess


WorkerSessionCreator = ChiefSessionCreator


class _MonitoredSession:
    def __init__(self, session_creator: SessionCreator, hooks: Any,
                 stop_grace_period_secs: float = 120) -> None:
        self._hooks = list(hooks or [])
        self._grace = stop_grace_period_secs
        for h in self._hooks:
            h.begin()
        self._creator = session_creator
        self._should_stop = False
        self._coord = Coordinator(clean_stop_exception_types=[])
        self._sess = session_creator.create_session()
        self._threads: list = []
        try:
            if get_default_graph().get_collection(QUEUE_RUNNERS):
                from ..queues import start_queue_runners
                self._threads = start_queue_runners(self._sess, self._coord)
            for h in self._hooks:
                h.after_create_session(self._sess, self._coord)
        except BaseException:
            self._coord.request_stop()
            self._sess.close()
            raise

    @property
    def graph(self) -> Any:
        return self._sess.graph

    def should_stop(self) -> bool:
        return self._should_stop or self._coord.should_stop()

    def run(self, fetches: Any, feed_dict: Optional[dict] = None, options: Any = None,
            run_metadata: Any = None) -> Any:
        if self._sess is None:
            raise RuntimeError("Session is already closed.")
        ctx = SessionRunContext(SessionRunArgs(fetches, feed_dict, options), self._sess)
        actual: dict = {"caller": fetches}
        feeds = dict(feed_dict) if feed_dict else {}
        for h in self._hooks:
            req = h.before_run(ctx)
            if req is None:
                continue
            if req.fetches is not None:
                actual[h] = req.fetches
            if req.feed_dict:
                clash = [k for k in req.feed_dict if k in feeds]
                if clash:
                    raise RuntimeError(f"Same tensor is fed by two hooks (or a hook and the "
                                       f"caller): {clash}")
                feeds.update(req.feed_dict)
        try:
            outputs = self._sess.run(actual, feed_dict=feeds or None, options=options,
                                     run_metadata=run_metadata)
        except Exception:
            self._coord.raise_requested_exception()
            raise
        for h in self._hooks:
            h.after_run(ctx, SessionRunValues(outputs.get(h), options, run_metadata))
        self._should_stop = self._should_stop or ctx.stop_requested
        return outputs["caller"]

    def run_step_fn(self, step_fn: Callable) -> Any:
        ms = self

        class StepContext:
            session = self._sess

            @staticmethod
            def run_with_hooks(*args: Any, **kwargs: Any) -> Any:
                return ms.run(*args, **kwargs)

            @staticmethod
            def request_stop() -> None:
                ms._should_stop = True
        return step_fn(StepContext())

    def close(self) -> None:
        self._close(None)

    def _close(self, exc_type: Any) -> None:
        if self._sess is None:
            return
        try:
            if exc_type is None:
                for h in self._hooks:
                    h.end(self._sess)
        finally:
            try:
                self._coord.request_stop()
                self._coord.join(self._threads, stop_grace_period_secs=self._grace,
                                 ignore_live_threads=True)
            finally:
                self._sess.close()
                self._sess = None
                self._should_stop = True

    def __enter__(self) -> "_MonitoredSession":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        clean = exc_type is not None and issubclass(exc_type, (OutOfRangeError, StopIteration))
        self._close(None if clean else exc_type)
        return clean


class MonitoredSession(_MonitoredSession):
    def __init__(self, session_creator: Optional[SessionCreator] = None, hooks: Any = None,
                 stop_grace_period_secs: float = 120) -> None:
        super().__init__(session_creator or ChiefSessionCreator(), hooks, stop_grace_period_secs)


class SingularMonitoredSession(_MonitoredSession):
    def __init__(self, hooks: Any = None, scaffold: Optional[Scaffold] = None, master: str = "",
                 config: Any = None, checkpoint_dir: Optional[str] = None,
                 stop_grace_period_secs: float = 120,
                 checkpoint_filename_with_path: Optional[str] = None) -> None:
        creator = ChiefSessionCreator(scaffold, master, config, checkpoint_dir,
                                      checkpoint_filename_with_path)
        super().__init__(creator, hooks, stop_grace_period_secs)

    def raw_session(self) -> Any:
        return self._sess


def MonitoredTrainingSession(master: str = "", is_chief: bool = True,  # noqa: N802 (TF's name)
                             checkpoint_dir: Optional[str] = None,
                             scaffold: Optional[Scaffold] = None, hooks: Any = None,
                             chief_only_hooks: Any = None, save_checkpoint_secs: Any = USE_DEFAULT,
                             save_summaries_steps: Any = USE_DEFAULT,
                             save_summaries_secs: Any = USE_DEFAULT, config: Any = None,
                             stop_grace_period_secs: float = 120, log_step_count_steps: int = 100,
                             max_wait_secs: float = 7200, save_checkpoint_steps: Any = USE_DEFAULT,
                             summary_dir: Optional[str] = None) -> MonitoredSession:
    """TF1's factory: a MonitoredSession with the default chief hooks (checkpoints every 600 s
    unless ``save_checkpoint_steps``/``secs`` say otherwise, summaries every 100 steps, a step
    counter) writing into ``checkpoint_dir``, resuming from its latest checkpoint."""
    if save_summaries_steps is USE_DEFAULT and save_summaries_secs is USE_DEFAULT:
        save_summaries_steps, save_summaries_secs = 100, None
    elif save_summaries_secs is USE_DEFAULT:
        save_summaries_secs = None
    elif save_summaries_steps is USE_DEFAULT:
        save_summaries_steps = None
    if save_checkpoint_steps is USE_DEFAULT and save_checkpoint_secs is USE_DEFAULT:
        save_checkpoint_steps, save_checkpoint_secs = None, 600
    elif save_checkpoint_secs is USE_DEFAULT:
        save_checkpoint_secs = None
    elif save_checkpoint_steps is USE_DEFAULT:
        save_checkpoint_steps = None
    scaffold = scaffold or Scaffold()
    all_hooks = list(hooks or [])
    if not is_chief:
        return MonitoredSession(ChiefSessionCreator(scaffold, master, config, checkpoint_dir),
                                all_hooks, stop_grace_period_secs)
    all_hooks.extend(chief_only_hooks or [])
    summary_dir = summary_dir or checkpoint_dir
    if summary_dir:
        if log_step_count_steps and log_step_count_steps > 0:
            all_hooks.append(StepCounterHook(output_dir=summary_dir,
                                             every_n_steps=log_step_count_steps))
        if save_summaries_steps and save_summaries_steps > 0 or \
                save_summaries_secs and save_summaries_secs > 0:
            all_hooks.append(SummarySaverHook(scaffold=scaffold, save_steps=save_summaries_steps,
                                              save_secs=save_summaries_secs,
                                              output_dir=summary_dir))
    if checkpoint_dir:
        if save_checkpoint_secs and save_checkpoint_secs > 0 or \
                save_checkpoint_steps and save_checkpoint_steps > 0:
            all_hooks.append(CheckpointSaverHook(checkpoint_dir, save_steps=save_checkpoint_steps,
                                                 save_secs=save_checkpoint_secs,
                                                 scaffold=scaffold))
    return MonitoredSession(ChiefSessionCreator(scaffold, master, config, checkpoint_dir),
                            all_hooks, stop_grace_period_secs)
