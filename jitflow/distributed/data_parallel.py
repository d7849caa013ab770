"""``DataParallel``: one model, several replicas, synchronous or asynchronous updates, on
threads of this process or on Ray actors. See docs/distributed.md."""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..frontend.graph import Tensor
from ..runtime.session import Session
from .errors import ReplicaLost, WorkerFailedError, WorkerTimeoutError
from .plan import TrainingPlan

MODES = ("sync", "async")
ENGINES = ("local", "ray")
POLICIES = ("raise", "drop", "replace")


def parse_device(device: Any) -> tuple[str, int, Optional[str]]:
    """``(kind, index, backend)`` for a device string: ``None`` -> the default backend
    (``JITFLOW_BACKEND``, else cuda where a GPU is present, else llvm); ``"cpu"``/``"/cpu:0"``/
    ``"/device:CPU:0"`` -> the ``llvm`` backend; ``"gpu:1"``/``"/device:GPU:1"``/``"cuda:1"`` ->
    the ``cuda`` backend; a backend name (``"llvm"``, ``"reference"``) -> that backend."""
    from ..backends import available_backends
    if device is None:
        return "cpu", 0, None
    s = str(device).strip()
    low = s.lower().lstrip("/")
    if low.startswith("device:"):
        low = low[len("device:"):]
    kind, _, idx = low.partition(":")
    if kind in available_backends():
        return "cpu", 0, kind
    if kind == "cpu":
        return "cpu", int(idx or 0), "llvm"
    if kind in ("gpu", "cuda"):
        return "gpu", int(idx or 0), "cuda"
    raise ValueError(f"DataParallel: unknown device {device!r}: use 'cpu', 'cpu:N', 'gpu:N' "
                     f"(TF spellings like '/device:GPU:0' work too) or a backend name "
                     f"({', '.join(available_backends())})")


def _check_backend(backend: Optional[str], device: Any) -> None:
    from ..backends import available_backends
    if backend is not None and backend not in available_backends():
        raise ValueError(f"DataParallel: device {device!r} needs the {backend!r} backend, which "
                         f"this jitflow does not have (available: "
                         f"{', '.join(available_backends())})")


def _unwrap_sync_replicas(optimizer: Any, mode: str, replicas: int) -> Any:
    """A ``tf.train.SyncReplicasOptimizer`` is what ``mode="sync"`` does over real replicas
    (each step averages ``replicas`` gradients and applies them once): train with the
    optimizer it wraps, when its ``replicas_to_aggregate`` is the number of replicas."""
    from ..frontend.train_sync import SyncReplicasOptimizer
    if not isinstance(optimizer, SyncReplicasOptimizer):
        return optimizer
    if mode != "sync":
        raise ValueError("DataParallel: a SyncReplicasOptimizer aggregates synchronously; use "
                         "mode='sync' (or pass the optimizer it wraps for mode='async')")
    if optimizer.replicas_to_aggregate != replicas:
        raise ValueError(f"DataParallel: the SyncReplicasOptimizer aggregates "
                         f"replicas_to_aggregate={optimizer.replicas_to_aggregate} gradients "
                         f"per update but there are {replicas} replicas; make them equal")
    if optimizer._variable_averages is not None:
        raise ValueError("DataParallel does not run a SyncReplicasOptimizer's "
                         "variable_averages; apply the ExponentialMovingAverage after training")
    return optimizer.wrapped_optimizer


class DataParallel:
    """Data-parallel training of a TF1 graph.

    Build the model with the ordinary TF1 API, then::

        dp = DataParallel(loss, tf.train.AdamOptimizer(), inputs=(X, y), mode="sync",
                          replicas=2, engine="local", metrics={"accuracy": accuracy})
        history = dp.fit(X_train, y_train, batch_size=50, epochs=3,
                         validation_data=(X_test, y_test))
        with tf.Session() as sess:
            dp.to_session(sess)            # the trained variables, optimizer state included
            saver.save(sess, "model.ckpt")

    ``mode``: ``"sync"`` (every replica computes on the same parameter version, the gradients
    are averaged with the batch sizes as weights, one update per step) or ``"async"`` (each
    replica pulls the latest parameters, computes on its own batch and pushes; every push is
    applied at once; staleness is measured). ``engine``: ``"local"`` (threads, one Session per
    replica) or ``"ray"`` (parameter-server and worker actors). ``batch_size`` in ``fit`` is per
    replica: a synchronous step consumes ``replicas * batch_size`` examples.

    Faults (``on_worker_failure``): ``"raise"`` (the default in sync mode: a lost replica stops
    ``fit`` with ``WorkerFailedError``, a hung one with ``WorkerTimeoutError`` after
    ``step_timeout`` seconds), ``"drop"`` (go on with the remaining replicas; in sync mode the
    interrupted step is redone by them on the same parameters and data) or ``"replace"`` (the
    default in async mode: start a new replica; its batch is requeued).
    """

    def __init__(self, loss: Tensor, optimizer: Any, inputs: Sequence[Any], mode: str = "sync",
                 replicas: Optional[int] = None, engine: str = "local",
                 devices: Optional[Sequence[Any]] = None, metrics: Optional[dict] = None,
                 global_step: Any = None, var_list: Optional[Sequence[Any]] = None,
                 num_ps: int = 1, on_worker_failure: Optional[str] = None,
                 step_timeout: float = 120.0, init_timeout: float = 300.0,
                 simulate_delay: Optional[Sequence[float]] = None, session: Any = None,
                 train_feed_dict: Optional[dict] = None, eval_feed_dict: Optional[dict] = None,
                 threads_per_replica: Optional[int] = None,
                 ray_address: Optional[str] = None, ray_init_kwargs: Optional[dict] = None,
                 ray_options: Optional[dict] = None) -> None:
        if mode not in MODES:
            raise ValueError(f"DataParallel: mode must be one of {MODES}, got {mode!r}")
        if engine not in ENGINES:
            raise ValueError(f"DataParallel: engine must be one of {ENGINES}, got {engine!r}")
        policy = on_worker_failure or ("raise" if mode == "sync" else "replace")
        if policy not in POLICIES:
            raise ValueError(f"DataParallel: on_worker_failure must be one of {POLICIES}, got "
                             f"{on_worker_failure!r}")
        if isinstance(inputs, Tensor):
            inputs = (inputs,)
        if devices is not None and isinstance(devices, (str, bytes)):
            devices = [devices]
        if replicas is None:
            replicas = len(devices) if devices else 1
        replicas = int(replicas)
        if replicas < 1:
            raise ValueError(f"DataParallel: replicas must be >= 1, got {replicas}")
        if devices is None:
            devices = [None] * replicas
        devices = list(devices)
        if len(devices) == 1 and replicas > 1:
            devices = devices * replicas
        if len(devices) != replicas:
            raise ValueError(f"DataParallel: {len(devices)} devices for {replicas} replicas: give "
                             "one device per replica (or one for all)")
        parsed = [parse_device(d) for d in devices]
        for (_, _, b), d in zip(parsed, devices):
            _check_backend(b, d)
        delays = list(simulate_delay or [])
        if len(delays) > replicas:
            raise ValueError("DataParallel: simulate_delay has more entries than replicas")
        delays += [0.0] * (replicas - len(delays))
        if engine == "local" and any(k == "gpu" and i != 0 for k, i, _ in parsed):
            raise ValueError("DataParallel: engine='local' runs GPU replicas on the default GPU "
                             "only (device index selection per replica thread is not "
                             "implemented); use engine='ray', which gives each worker its own "
                             "GPU (num_gpus=1)")
        if engine == "local" and num_ps != 1:
            raise ValueError("DataParallel: engine='local' keeps the parameters in one holder; "
                             "num_ps applies to engine='ray'")
        optimizer = _unwrap_sync_replicas(optimizer, mode, replicas)
        self.mode, self.engine_name, self.policy = mode, engine, policy
        self.num_replicas = replicas
        self.devices = devices
        self.step_timeout = float(step_timeout)
        self.plan = plan = TrainingPlan(loss, optimizer, inputs, num_shards=max(1, int(num_ps)),
                                        global_step=global_step, metrics=metrics, var_list=var_list,
                                        train_feed_dict=train_feed_dict,
                                        eval_feed_dict=eval_feed_dict)
        self.graph = plan.graph
        self._sess = Session(graph=self.graph)      # the driver's copy: init, eval, checkpoints
        self._init_values(session)
        self._saver = None
        self.history: list[dict] = []
        self.steps: list[dict] = []
        self._lock = threading.Lock()
        ps_values = self._values([v for sh in plan.shards for v in sh.state_vars])
        worker_values = self._values(plan.worker_aux)
        backends = [b for _, _, b in parsed]
        if engine == "local":
            from .local import LocalEngine
            from .threads import default_threads_per_replica
            threads = threads_per_replica or default_threads_per_replica(replicas)
            self.threads_per_replica = threads
            # parameter servers apply updates on the CPU, as TF's do
            self.engine = LocalEngine(plan, backends, delays, self.step_timeout, threads=threads,
                                      ps_backend="llvm")
            self.engine.set_state(ps_values)
            self.engine.set_worker_values(worker_values)
        else:
            from .ray_engine import RayEngine
            gpu_ranks = [r for r, (kind, _, _) in enumerate(parsed) if kind == "gpu"]
            # each actor is a process; Ray sets OMP_NUM_THREADS to the actor's num_cpus
            self.threads_per_replica = threads_per_replica
            self.engine = RayEngine(plan, backends, delays, self.step_timeout, float(init_timeout),
                                    ps_values, worker_values, address=ray_address,
                                    init_kwargs=ray_init_kwargs, options=ray_options,
                                    gpu_ranks=gpu_ranks, threads=threads_per_replica,
                                    ps_backend="llvm")
        self.engine.start()
        self._closed = False

    # ------------------------------------------------------------------ state ------------
    def _init_values(self, session: Any) -> None:
        """Start from ``session``'s values where it has them; run the initializers of the rest
        (e.g. the optimizer slots this DataParallel created)."""
        todo = []
        for v in self.plan.all_vars.values():
            val = session._variable_value(v) if session is not None else None
            if val is not None:
                self._sess._load_variable(v, val)
            elif v.initializer is not None:
                todo.append(v.initializer)
        if todo:
            self._sess.run(todo)

    def _values(self, variables) -> dict:
        out = {}
        for v in variables:
            val = self._sess._variable_value(v)
            if val is None:
                raise ValueError(f"DataParallel: variable {v.op.name} has no value")
            out[v.op.name] = np.array(val)
        return out

    def _pull(self) -> None:
        """Copy the parameter servers' state into the driver's session."""
        state = self.engine.get_state()
        by_name = {v.op.name: v for v in self.plan.all_vars.values()}
        for name, val in state.items():
            self._sess._load_variable(by_name[name], val)

    def _push(self) -> None:
        """Send the driver's values to the parameter servers and the replicas."""
        self.engine.set_state(self._values([v for sh in self.plan.shards for v in sh.state_vars]))
        self.engine.set_worker_values(self._values(self.plan.worker_aux))

    def to_session(self, sess: Any = None) -> Session:
        """Load every variable's current value (parameters, optimizer slots, global step) into
        ``sess`` (a Session on the model's graph; a new one when None) and return it."""
        self._pull()
        if sess is None:
            sess = Session(graph=self.graph)
        if sess.graph is not self.graph:
            raise ValueError("DataParallel.to_session: the session runs another graph")
        for v in self.plan.all_vars.values():
            val = self._sess._variable_value(v)
            if val is not None:
                sess._load_variable(v, val)
        return sess

    def load_from_session(self, sess: Any) -> None:
        """Continue from the values in ``sess`` (e.g. after ``saver.restore(sess, path)``)."""
        for v in self.plan.all_vars.values():
            val = sess._variable_value(v)
            if val is not None:
                self._sess._load_variable(v, val)
        self._push()

    def pull_parameters(self) -> tuple[int, dict]:
        """``(version, {variable op name: value})`` of the trainable variables, read from the
        parameter servers; safe to call during ``fit`` (e.g. from ``on_step``)."""
        version, values = self.engine.pull()
        return version, {v.op.name: a for v, a in zip(self.plan.var_list, values)}

    def get_variables(self) -> dict:
        """{variable op name: value} for every variable of the model's graph."""
        self._pull()
        return self._values([v for v in self.plan.all_vars.values()
                             if self._sess._variable_value(v) is not None])

    @property
    def saver(self):
        if self._saver is None:
            from ..frontend.saver import Saver
            with self.graph.as_default():
                self._saver = Saver(list(self.plan.all_vars.values()))
        return self._saver

    def save(self, save_path: str, global_step: Any = None, saver: Any = None, **kwargs) -> str:
        """Checkpoint the parameter servers' state (a ``tf.train.Saver`` checkpoint: restore it
        into a Session with ``saver.restore``, or into a DataParallel with ``restore``)."""
        self._pull()
        return (saver or self.saver).save(self._sess, save_path, global_step=global_step, **kwargs)

    def restore(self, save_path: str, saver: Any = None) -> None:
        """Load a checkpoint into the parameter servers (and replicas) and go on from it."""
        (saver or self.saver).restore(self._sess, save_path)
        self._push()

    # ------------------------------------------------------------------ info -------------
    @property
    def workers(self) -> dict:
        """{rank: replica}: Ray actor handles for engine='ray', Replica objects for 'local'."""
        return dict(self.engine.workers if self.engine_name == "ray" else self.engine.replicas)

    @property
    def parameter_servers(self) -> list:
        return list(self.engine.ps) if self.engine_name == "ray" else [self.engine.ps]

    @property
    def shards(self) -> list[list[str]]:
        """The trainable variables (op names) held by each parameter-server shard."""
        return [[self.plan.var_list[i].op.name for i in sh.var_indices] for sh in self.plan.shards]

    @property
    def events(self) -> list[dict]:
        """Fault events (lost, replaced, dropped replicas) with their times."""
        return list(self.engine.events)

    def stats(self) -> dict:
        """``version`` (updates applied), ``pushes`` received, ``applied``, per shard."""
        return self.engine.stats()

    def kill_worker(self, rank: int) -> None:
        """Kill replica ``rank`` as a crash would (Ray: ``ray.kill`` of its actor; local: its
        current step is discarded). For fault drills and tests."""
        self.engine.kill(rank)

    # ------------------------------------------------------------------ data -------------
    def _arrays(self, x: Any, y: Any) -> list[np.ndarray]:
        inputs = self.plan.inputs
        if y is None:
            arrays = list(x) if isinstance(x, (list, tuple)) else [x]
        else:
            arrays = (list(x) if isinstance(x, (list, tuple)) else [x]) + \
                (list(y) if isinstance(y, (list, tuple)) else [y])
        if len(arrays) != len(inputs):
            raise ValueError(f"DataParallel: {len(arrays)} data arrays for {len(inputs)} inputs "
                             f"({', '.join(t.name for t in inputs)})")
        out = [np.ascontiguousarray(a, dtype=t.dtype.np) for a, t in zip(arrays, inputs)]
        n = len(out[0])
        for a, t in zip(out, inputs):
            if len(a) != n:
                raise ValueError(f"DataParallel: input {t.name} has {len(a)} examples, the first "
                                 f"input {n}")
        return out

    # ------------------------------------------------------------------ fit --------------
    def fit(self, x: Any, y: Any = None, batch_size: int = 32, epochs: int = 1,
            shuffle: bool = True, seed: Optional[int] = 0, initial_epoch: int = 0,
            validation_data: Optional[tuple] = None, verbose: int = 1,
            on_step: Optional[Callable[[dict], None]] = None,
            on_epoch: Optional[Callable[[dict], None]] = None, log: Any = None) -> list[dict]:
        """Train for ``epochs`` passes over the data; returns one dict per epoch (also in
        ``history``; each update is in ``steps``). ``batch_size`` is per replica. The data order
        of epoch ``e`` depends only on (``seed``, ``e``), so ``initial_epoch`` resumes a run.
        ``verbose``: 0 silent, 1 progress bar (tqdm, when installed) and one line per epoch,
        2 one line per epoch (to ``log``, default stdout). ``on_step(record)`` is called after
        every applied update (from a replica thread in local async mode), ``on_epoch(metrics)``
        after every epoch."""
        if self._closed:
            raise RuntimeError("DataParallel is closed")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        arrays = self._arrays(x, y)
        n = len(arrays[0])
        if n == 0:
            raise ValueError("DataParallel.fit: no training examples")
        self.engine.set_data(arrays)
        self.engine.set_worker_values(self._values(self.plan.worker_aux))
        out = []
        log = log or sys.stdout
        t_fit = time.perf_counter()
        for epoch in range(initial_epoch, epochs):
            rng = np.random.default_rng(None if seed is None else [int(seed), epoch])
            order = rng.permutation(n) if shuffle else np.arange(n)
            bar = self._bar(n, epoch, epochs, verbose)
            before = self.engine.stats()
            first_step = len(self.steps)
            t0 = time.perf_counter()

            def record(rank, loss, count, version, staleness, ranks=None):
                rec = {"time": time.perf_counter() - t_fit, "epoch": epoch, "version": int(version),
                       "loss": float(loss), "n": int(count), "staleness": int(staleness),
                       "rank": rank}
                if ranks is not None:
                    rec["ranks"] = ranks
                with self._lock:
                    self.steps.append(rec)
                    if bar is not None:
                        bar.update(count)
                        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                if on_step is not None:
                    on_step(rec)

            try:
                if self.mode == "sync":
                    self._fit_sync_epoch(order, batch_size, record)
                else:
                    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
                    self.engine.run_async(batches, record, self.policy)
            finally:
                if bar is not None:
                    bar.close()
            seconds = time.perf_counter() - t0
            self._gather_updates()
            after = self.engine.stats()
            recs = self.steps[first_step:]
            images = sum(r["n"] for r in recs)
            stale = [r["staleness"] for r in recs]
            m = {"epoch": epoch, "mode": self.mode, "engine": self.engine_name,
                 "replicas": len(self.engine.ranks),
                 "loss": float(sum(r["loss"] * r["n"] for r in recs) / max(images, 1)),
                 "seconds": seconds, "images": images,
                 "images_per_sec": images / seconds if seconds > 0 else float("nan"),
                 "updates": after["version"] - before["version"],
                 "pushes": after["pushes"] - before["pushes"],
                 "updates_total": after["version"],
                 "staleness_mean": float(np.mean(stale)) if stale else 0.0,
                 "staleness_max": int(max(stale)) if stale else 0}
            if validation_data is not None:
                vx, vy = (validation_data if len(validation_data) == 2 else (validation_data, None))
                for k, v in self.evaluate(vx, vy).items():
                    m["val_" + k] = v
            self.history.append(m)
            out.append(m)
            if verbose:
                print(self._summary(m, epochs), file=log, flush=True)
            if on_epoch is not None:
                on_epoch(m)
        return out

    def _gather_updates(self) -> None:
        """The variables that UPDATE_OPS assign (batch norm's moving statistics), averaged over
        the replicas' copies, into the driver's session (so evaluate, checkpoints and the next
        fit use them)."""
        if not self.plan.update_vars:
            return
        per_replica = [d for d in self.engine.update_values() if d]
        for v in self.plan.update_vars:
            vals = [d[v.op.name] for d in per_replica if v.op.name in d]
            if vals:
                mean = np.mean(np.stack(vals), axis=0)
                self._sess._load_variable(v, mean.astype(vals[0].dtype))

    def _fit_sync_epoch(self, order: np.ndarray, batch_size: int, record) -> None:
        pos, n = 0, len(order)
        while pos < n:
            ranks = self.engine.ranks
            if not ranks:
                raise WorkerFailedError("sync: no replica left", [])
            take = order[pos:pos + batch_size * len(ranks)]
            while True:
                ranks = self.engine.ranks
                if not ranks:
                    raise WorkerFailedError("sync: every replica was lost", [])
                parts = np.array_split(take, min(len(ranks), len(take)))
                assignments = list(zip(ranks, parts))
                try:
                    results, version = self.engine.sync_step(assignments)
                    break
                except ReplicaLost as e:
                    self._sync_failure(e)
            count = sum(c for _, _, c in results)
            loss = sum(l * c for _, l, c in results) / count
            record(None, loss, count, version, 0, ranks=[r for r, _, _ in results])
            pos += len(take)

    def _sync_failure(self, e: ReplicaLost) -> None:
        what = "did not answer within step_timeout" if e.timed_out else "died"
        self.engine.events.append({"event": "timed out" if e.timed_out else "died",
                                   "ranks": e.ranks, "time": time.time()})
        if self.policy == "raise":
            msg = (f"sync training stopped: replica(s) {e.ranks} {what} "
                   f"({type(e.cause).__name__}: {e.cause}). Synchronous steps need every replica; "
                   "nothing of this step was applied, so the parameters are those of the last "
                   "completed step (save them with DataParallel.save). To go on without the lost "
                   "replicas use on_worker_failure='drop', or 'replace' to start new ones.")
            if e.timed_out:
                raise WorkerTimeoutError(msg, e.ranks) from e.cause
            raise WorkerFailedError(msg, e.ranks, e.cause) from e.cause
        for r in e.ranks:
            if self.policy == "drop":
                self.engine.drop(r)
                self.engine.events.append({"event": "dropped", "rank": r, "time": time.time()})
            else:
                self.engine.replace(r)
                self.engine.events.append({"event": "replaced", "rank": r, "time": time.time()})

    def _bar(self, n: int, epoch: int, epochs: int, verbose: int):
        if verbose != 1:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        return tqdm(total=n, desc=f"epoch {epoch + 1}/{epochs}", unit="img", leave=False,
                    disable=None)

    @staticmethod
    def _summary(m: dict, epochs: int) -> str:
        s = (f"epoch {m['epoch'] + 1}/{epochs} [{m['mode']}/{m['engine']} x{m['replicas']}] "
             f"loss {m['loss']:.4f} - {m['images_per_sec']:.0f} img/s - {m['updates']} updates")
        if m["mode"] == "async":
            s += f" - staleness {m['staleness_mean']:.2f} (max {m['staleness_max']})"
        for k, v in m.items():
            if k.startswith("val_"):
                s += f" - {k} {v:.4f}"
        return s

    # ------------------------------------------------------------------ evaluate ---------
    def evaluate(self, x: Any, y: Any = None, batch_size: int = 1000) -> dict:
        """The loss and the ``metrics`` tensors over the data with the current parameters,
        each averaged over batches weighted by batch size (metrics are taken to be means over
        the batch, as ``tf.reduce_mean(tf.cast(correct, tf.float32))`` is)."""
        arrays = self._arrays(x, y)
        self._pull()
        names = ["loss"] + list(self.plan.metrics)
        fetches = [self.plan.loss] + list(self.plan.metrics.values())
        sums = np.zeros(len(fetches))
        n = len(arrays[0])
        for i in range(0, n, batch_size):
            feed = dict(self.plan.eval_feed)
            for t, a in zip(self.plan.inputs, arrays):
                feed[t] = a[i:i + batch_size]
            vals = self._sess.run(fetches, feed_dict=feed)
            k = min(batch_size, n - i)
            sums += np.array([float(v) for v in vals]) * k
        return {name: float(s / max(n, 1)) for name, s in zip(names, sums)}

    # ------------------------------------------------------------------ lifetime ---------
    def close(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self.engine.close()

    def __enter__(self) -> "DataParallel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"DataParallel(mode={self.mode!r}, engine={self.engine_name!r}, "
                f"replicas={len(self.engine.ranks)}, shards={len(self.plan.shards)})")
