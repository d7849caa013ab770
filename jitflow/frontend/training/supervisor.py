"""``tf.train.Supervisor``: TF1's older training loop helper (single process).

``with sv.managed_session() as sess:`` restores the latest checkpoint of ``logdir`` (or runs
``init_op``/``init_fn``), starts the queue runners and, on the chief, a thread that saves a
checkpoint every ``save_model_secs`` (at once, then periodically) and one that writes
``summary_op`` every ``save_summaries_secs``. ``sv.should_stop()`` is the coordinator's;
leaving the block stops and joins the threads (OutOfRangeError ends it cleanly).
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Optional

from ...errors import OutOfRangeError
from .. import tf_logging as logging
from ..graph import GraphKeys, get_default_graph
from .coordinator import Coordinator, LooperThread

USE_DEFAULT = 0


class Supervisor:
    def __init__(self, graph: Any = None, ready_op: Any = USE_DEFAULT,
                 ready_for_local_init_op: Any = USE_DEFAULT, is_chief: bool = True,
                 init_op: Any = USE_DEFAULT, init_feed_dict: Optional[dict] = None,
                 local_init_op: Any = USE_DEFAULT, logdir: Optional[str] = None,
                 summary_op: Any = USE_DEFAULT, saver: Any = USE_DEFAULT,
                 global_step: Any = USE_DEFAULT, save_summaries_secs: float = 120,
                 save_model_secs: float = 600, recovery_wait_secs: float = 30,
                 stop_grace_secs: float = 120, checkpoint_basename: str = "model.ckpt",
                 session_manager: Any = None, summary_writer: Any = USE_DEFAULT,
                 init_fn: Optional[Callable] = None, local_init_run_options: Any = None) -> None:
        # ready_op / ready_for_local_init_op (TF's report_uninitialized_variables checks, e.g.
        # a SyncReplicasOptimizer's) are accepted and not evaluated: one process waits for no one
        from ..saver import Saver
        from ..summary import FileWriter, merge_all
        from ..train import get_global_step
        from ..variables import global_variables_initializer, local_variables_initializer
        self._graph = graph or get_default_graph()
        with self._graph.as_default():
            self._init_op = global_variables_initializer() if init_op is USE_DEFAULT else init_op
            self._local_init_op = (local_variables_initializer() if local_init_op is USE_DEFAULT
                                   else local_init_op)
            self._summary_op = merge_all() if summary_op is USE_DEFAULT else summary_op
            if saver is USE_DEFAULT:
                found = self._graph.get_collection(GraphKeys.SAVERS)
                saver = found[0] if found else Saver(allow_empty=True)
            self._saver = saver
            self._global_step = get_global_step() if global_step is USE_DEFAULT else global_step
        self._init_feed_dict, self._init_fn = init_feed_dict, init_fn
        self._is_chief, self._logdir = is_chief, logdir
        self._save_summaries_secs, self._save_model_secs = save_summaries_secs, save_model_secs
        self._stop_grace = stop_grace_secs
        self._save_path = os.path.join(logdir, checkpoint_basename) if logdir else None
        if summary_writer is USE_DEFAULT:
            summary_writer = FileWriter(logdir) if logdir and is_chief else None
        self._summary_writer = summary_writer
        self._coord = Coordinator()
        self._threads: list = []
        self._graph.finalize()

    # ----------------------------------------------------------------- properties ---------
    @property
    def coord(self) -> Coordinator:
        return self._coord

    @property
    def saver(self) -> Any:
        return self._saver

    @property
    def summary_writer(self) -> Any:
        return self._summary_writer

    @property
    def summary_op(self) -> Any:
        return self._summary_op

    @property
    def global_step(self) -> Any:
        return self._global_step

    @property
    def is_chief(self) -> bool:
        return self._is_chief

    @property
    def save_path(self) -> Optional[str]:
        return self._save_path

    @property
    def init_op(self) -> Any:
        return self._init_op

    # ----------------------------------------------------------------- session ------------
    def prepare_or_wait_for_session(self, master: str = "", config: Any = None,
                                    wait_for_checkpoint: bool = False, max_wait_secs: float = 7200,
                                    start_standard_services: bool = True) -> Any:
        from ..default_session import new_session as Session
        from ..saver import latest_checkpoint
        sess = Session(master, graph=self._graph, config=config)
        ckpt = latest_checkpoint(self._logdir) if self._logdir and self._saver else None
        if ckpt:
            self._saver.restore(sess, ckpt)
            logging.info("Restoring parameters from %s", ckpt)
        else:
            if self._init_op is not None:
                sess.run(self._init_op, feed_dict=self._init_feed_dict)
            if self._init_fn is not None:
                self._init_fn(sess)
        if self._local_init_op is not None:
            sess.run(self._local_init_op)
        if start_standard_services and self._is_chief:
            self.start_standard_services(sess)
        self.start_queue_runners(sess)
        return sess

    def start_standard_services(self, sess: Any) -> list:
        threads = []
        if self._save_path and self._saver is not None and self._save_model_secs:
            os.makedirs(self._logdir, exist_ok=True)
            threads.append(self.loop(self._save_model_secs, self._save_checkpoint, (sess,)))
        if self._summary_op is not None and self._summary_writer is not None and \
                self._save_summaries_secs:
            threads.append(self.loop(self._save_summaries_secs, self._write_summary, (sess,)))
        return threads

    def _save_checkpoint(self, sess: Any) -> None:
        if sess.closed:
            return
        self._saver.save(sess, self._save_path, global_step=self._global_step)

    def _write_summary(self, sess: Any) -> None:
        if sess.closed:
            return
        fetches = [self._summary_op] + ([self._global_step] if self._global_step is not None
                                        else [])
        got = sess.run(fetches)
        self._summary_writer.add_summary(got[0], int(got[1]) if len(got) > 1 else None)

    def start_queue_runners(self, sess: Any, queue_runners: Any = None) -> list:
        from ..queues import start_queue_runners
        threads = start_queue_runners(sess, self._coord) if queue_runners is None else \
            [t for qr in queue_runners for t in qr.create_threads(sess, self._coord, True, True)]
        self._threads.extend(threads)
        return threads

    def loop(self, timer_interval_secs: float, target: Callable, args: Any = None,
             kwargs: Any = None) -> LooperThread:
        t = LooperThread(self._coord, timer_interval_secs, target=target, args=args, kwargs=kwargs)
        t.start()
        self._threads.append(t)
        return t

    def summary_computed(self, sess: Any, summary: Any, global_step: Any = None) -> None:
        if self._summary_writer is None:
            raise RuntimeError("Writing a summary requires a summary writer.")
        if global_step is None and self._global_step is not None:
            global_step = int(sess.run(self._global_step))
        self._summary_writer.add_summary(summary, global_step)

    def should_stop(self) -> bool:
        return self._coord.should_stop()

    def request_stop(self, ex: Any = None) -> None:
        self._coord.request_stop(ex)

    def stop(self, threads: Any = None, close_summary_writer: bool = True,
             ignore_live_threads: bool = False) -> None:
        self._coord.request_stop()
        try:
            self._coord.join(self._threads + list(threads or []),
                             stop_grace_period_secs=self._stop_grace,
                             ignore_live_threads=ignore_live_threads)
        finally:
            self._threads = []
            if close_summary_writer and self._summary_writer is not None:
                self._summary_writer.close()

    @contextlib.contextmanager
    def managed_session(self, master: str = "", config: Any = None,
                        start_standard_services: bool = True, close_summary_writer: bool = True):
        sess = self.prepare_or_wait_for_session(master, config,
                                                start_standard_services=start_standard_services)
        try:
            yield sess
        except OutOfRangeError:
            pass
        except BaseException as e:
            self._coord.request_stop(e)
        finally:
            try:
                self.stop(close_summary_writer=close_summary_writer)
            finally:
                sess.close()
