"""engine="ray": parameter-server actors (the trainable variables sharded over them by size,
each with its optimizer state) and worker actors, on a local Ray or a Ray cluster.

The graph travels as the meta-graph JSON text (``tf.train.export_meta_graph``); every actor
rebuilds it with ``import_meta_graph`` and compiles its own executable for its own device.

* sync: the driver asks every shard for its parameters once (one version for everyone), each
  worker computes the gradients of its part of the global batch, and once all have answered
  each shard averages its part of the gradients (weights = batch sizes) and applies one update.
  The gradients go from the workers to the shards through Ray's object store, not through the
  driver. A dead worker is noticed when its result is an error; a hung one after
  ``step_timeout`` seconds (it is then killed, so nothing waits on it).
* async: each worker step pulls the latest parameters from every shard, computes, and pushes to
  every shard, which applies the push at once and answers with the staleness (the updates
  applied by others since the pull). The driver only hands out batches (indices into the data,
  which sits once in the object store) and watches for lost workers.
"""
from __future__ import annotations

import collections
import os
import time
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .errors import ParameterServerError, ReplicaLost, WorkerFailedError, WorkerTimeoutError
from .plan import TrainingPlan, average_gradients
from .runner import ParameterHolder, Replica, import_spec_graph


def _ray():
    try:
        import ray
    except ImportError:   # pragma: no cover - depends on the install
        raise ImportError("engine='ray' needs Ray: pip install 'jitflow[distributed]' "
                          "(or pip install ray)") from None
    return ray


# ---------------------------------------------------------------------- actors (plain classes,
# made remote by _remote_classes so importing this module does not need Ray)

class _Worker:
    def __init__(self, spec: dict, rank: int, backend: Optional[str], delay: float,
                 ps_handles: list, values: dict, threads: Optional[int] = None) -> None:
        self.rank = rank
        self.rep = Replica.from_spec(spec, backend, delay, threads=threads)
        self.rep.load(values)
        self.ps = list(ps_handles)
        self.shard_vars = [sh["vars"] for sh in spec["shards"]]
        self.n_vars = len(spec["var_list"])
        self.data: tuple = ()

    def _params(self, pulled: Sequence[tuple]) -> tuple[list[int], list[np.ndarray]]:
        params: list = [None] * self.n_vars
        versions = []
        for (version, arrays), idx in zip(pulled, self.shard_vars):
            versions.append(version)
            for i, a in zip(idx, arrays):
                params[i] = a
        return versions, params

    def ready(self) -> dict:
        import ray
        _, params = self._params(ray.get([ps.pull.remote() for ps in self.ps]))
        compiled = self.rep.warmup(params)
        return {"rank": self.rank, "pid": os.getpid(), "compiled": compiled,
                "node": ray.get_runtime_context().get_node_id()}

    def set_data(self, *arrays) -> None:
        self.data = arrays

    def set_values(self, values: dict) -> None:
        self.rep.load(values)

    def update_values(self) -> dict:
        return self.rep.update_values()

    def compute(self, idx: np.ndarray, *pulled) -> list:
        """sync: gradients at the pulled parameters, split per shard."""
        versions, params = self._params(pulled)
        loss, grads = self.rep.compute(params, [a[idx] for a in self.data])
        out: list = [(loss, len(idx), versions)]
        out.extend([grads[i] for i in idx_k] for idx_k in self.shard_vars)
        return out

    def async_step(self, idx: np.ndarray) -> dict:
        """async: pull the latest parameters, compute, push (each shard applies at once)."""
        import ray
        versions, params = self._params(ray.get([ps.pull.remote() for ps in self.ps]))
        loss, grads = self.rep.compute(params, [a[idx] for a in self.data])
        acks = ray.get([ps.push.remote([grads[i] for i in idx_k], v)
                        for ps, idx_k, v in zip(self.ps, self.shard_vars, versions)])
        return {"loss": loss, "n": len(idx), "version": acks[0][0],
                "staleness": max(a[1] for a in acks)}

    def pid(self) -> int:
        return os.getpid()


class _ParameterServer:
    def __init__(self, spec: dict, shard: int, backend: Optional[str], state: dict) -> None:
        self.h = ParameterHolder.from_spec(spec, shard, backend)
        self.h.set_state(state)
        self.h.warmup()

    def pull(self) -> tuple:
        return self.h.pull()

    def apply_mean(self, weights: list, *grad_lists) -> tuple:
        return self.h.apply(average_gradients(grad_lists, weights))

    def push(self, grads: list, base_version: int) -> tuple:
        return self.h.apply(grads, base_version)

    def get_state(self) -> dict:
        return self.h.get_state()

    def set_state(self, values: dict, version: Optional[int] = None) -> None:
        self.h.set_state(values, version)

    def stats(self) -> dict:
        return self.h.stats()


_REMOTE: dict = {}


def _remote_classes():
    if not _REMOTE:
        ray = _ray()
        _REMOTE["worker"] = ray.remote(max_restarts=0)(_Worker)
        _REMOTE["ps"] = ray.remote(max_restarts=0)(_ParameterServer)
    return _REMOTE["worker"], _REMOTE["ps"]


def _is_actor_death(e: BaseException) -> bool:
    """The actor itself is gone (killed, crashed, its node lost), not an error in its code."""
    ray = _ray()
    if isinstance(e, ray.exceptions.RayTaskError):
        return False
    return isinstance(e, (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError,
                          ray.exceptions.WorkerCrashedError))


class RayEngine:
    name = "ray"

    def __init__(self, plan: TrainingPlan, backends: Sequence[Optional[str]],
                 delays: Sequence[float], step_timeout: float, init_timeout: float,
                 ps_values: dict, worker_values: dict, address: Optional[str] = None,
                 init_kwargs: Optional[dict] = None, options: Optional[dict] = None,
                 gpu_ranks: Sequence[int] = (), ps_backend: Optional[str] = None,
                 threads: Optional[int] = None) -> None:
        ray = _ray()
        self.started_ray = False
        if not ray.is_initialized():
            kw = {"include_dashboard": False, "log_to_driver": True}
            kw.update(init_kwargs or {})
            ray.init(address=address, **kw)
            self.started_ray = True
        self.plan = plan
        self.spec = plan.spec()
        self.spec_ref = ray.put(self.spec)
        self.step_timeout = step_timeout
        self.threads = threads
        self.init_timeout = init_timeout
        self.backends = {r: b for r, b in enumerate(backends)}
        self.delays = {r: float(d) for r, d in enumerate(delays)}
        self.gpu_ranks = set(gpu_ranks)
        options = options or {}
        self.worker_options = dict(options.get("worker", {}))
        self.ps_options = dict(options.get("ps", {}))
        self._worker_values = dict(worker_values)
        self.data_refs: list = []
        self.events: list[dict] = []
        self.warm: set[int] = set()
        Worker, PS = _remote_classes()
        self.ps = []
        for sh in self.spec["shards"]:
            state = {n: ps_values[n] for n in sh["state"]}
            self.ps.append(PS.options(**self.ps_options).remote(
                self.spec_ref, sh["index"], ps_backend, state))
        self._get(self.ps_ready(), self.init_timeout, "starting the parameter servers", ps=True)
        self.workers: dict[int, Any] = {}
        for r in self.backends:
            self.workers[r] = self._new_worker(r)
        infos = self._wait_ready(list(self.workers))
        self.worker_info = {i["rank"]: i for i in infos}

    # ------------------------------------------------------------------ helpers ----------
    def ps_ready(self) -> list:
        return [p.stats.remote() for p in self.ps]

    def _get(self, refs, timeout: float, what: str, ps: bool = False):
        ray = _ray()
        try:
            return ray.get(refs, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            cls = ParameterServerError if ps else WorkerTimeoutError
            raise cls(f"ray engine: {what} took more than {timeout}s") from None
        except Exception as e:   # noqa: BLE001
            if ps and _is_actor_death(e):
                raise ParameterServerError(f"ray engine: a parameter server died while {what}: "
                                           f"{e}") from e
            if ps and isinstance(e, ray.exceptions.RayTaskError) and \
                    isinstance(getattr(e, "cause", None), ray.exceptions.RayActorError):
                raise ParameterServerError(f"ray engine: a parameter server died while {what}: "
                                           f"{e}") from e
            raise

    def _new_worker(self, rank: int):
        Worker, _ = _remote_classes()
        opts = dict(self.worker_options)
        if rank in self.gpu_ranks:
            opts.setdefault("num_gpus", 1)
        w = Worker.options(**opts).remote(self.spec_ref, rank, self.backends[rank],
                                          self.delays.get(rank, 0.0), self.ps, self._worker_values,
                                          self.threads)
        if self.data_refs:
            w.set_data.remote(*self.data_refs)
        return w

    def _wait_ready(self, ranks: Sequence[int]) -> list:
        refs = [self.workers[r].ready.remote() for r in ranks]
        try:
            infos = _ray().get(refs, timeout=self.init_timeout)
        except _ray().exceptions.GetTimeoutError:
            raise WorkerTimeoutError(f"ray engine: workers {list(ranks)} were not ready within "
                                     f"init_timeout={self.init_timeout}s (not enough resources "
                                     "in the cluster for the actors?)", ranks) from None
        self.warm.update(ranks)
        return infos

    @property
    def ranks(self) -> list[int]:
        return sorted(self.workers)

    # ------------------------------------------------------------------ state ------------
    def set_state(self, values: dict, version: Optional[int] = None) -> None:
        refs = []
        for sh, p in zip(self.spec["shards"], self.ps):
            refs.append(p.set_state.remote({n: values[n] for n in sh["state"]}, version))
        self._get(refs, self.step_timeout, "loading state", ps=True)

    def get_state(self) -> dict:
        out: dict = {}
        # shared optimizer state (e.g. beta1_power) is on every shard, identical: shard 0 wins
        for st in reversed(self._get([p.get_state.remote() for p in self.ps], self.step_timeout,
                                     "reading state", ps=True)):
            out.update(st)
        return out

    def pull(self) -> tuple[int, list[np.ndarray]]:
        """(version of shard 0, values of the plan's var_list), gathered from every shard."""
        pulled = self._get([p.pull.remote() for p in self.ps], self.step_timeout,
                           "pulling parameters", ps=True)
        params: list = [None] * len(self.spec["var_list"])
        for (_, arrays), sh in zip(pulled, self.spec["shards"]):
            for i, a in zip(sh["vars"], arrays):
                params[i] = a
        return pulled[0][0], params

    def set_worker_values(self, values: dict) -> None:
        self._worker_values = dict(values)
        if values:
            self._get([w.set_values.remote(values) for w in self.workers.values()],
                      self.step_timeout, "loading worker values")

    def update_values(self) -> list[dict]:
        """Each live worker's values of the variables the update ops assign."""
        if not self.workers:
            return []
        return self._get([self.workers[r].update_values.remote() for r in sorted(self.workers)],
                         self.step_timeout, "reading the update ops' variables")

    def set_data(self, arrays: Sequence[np.ndarray]) -> None:
        ray = _ray()
        self.data_refs = [ray.put(np.ascontiguousarray(a)) for a in arrays]
        for w in self.workers.values():
            w.set_data.remote(*self.data_refs)

    def stats(self) -> dict:
        shards = self._get([p.stats.remote() for p in self.ps], self.step_timeout,
                           "reading statistics", ps=True)
        return {"version": shards[0]["version"], "pushes": shards[0]["pushes"],
                "applied": shards[0]["applied"], "shards": shards}

    def start(self) -> None:
        pass   # the actors compiled their steps in ready() / their constructors

    def close(self) -> None:
        ray = _ray()
        if not ray.is_initialized():
            return
        for a in list(self.workers.values()) + list(self.ps):
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.workers.clear()
        self.ps = []
        if self.started_ray:
            ray.shutdown()

    # ------------------------------------------------------------------ faults -----------
    def kill(self, rank: int) -> None:
        _ray().kill(self.workers[rank])

    def drop(self, rank: int) -> None:
        w = self.workers.pop(rank, None)
        self.warm.discard(rank)
        if w is not None:
            try:
                _ray().kill(w)
            except Exception:  # noqa: BLE001
                pass

    def replace(self, rank: int, wait: bool = True) -> None:
        self.drop(rank)
        self.workers[rank] = self._new_worker(rank)
        if wait:
            self._wait_ready([rank])

    # ------------------------------------------------------------------ sync -------------
    def sync_step(self, assignments: Sequence[tuple[int, np.ndarray]]) -> tuple[list, int]:
        ray = _ray()
        K = len(self.ps)
        pulls = [p.pull.remote() for p in self.ps]
        outs = {r: self.workers[r].compute.options(num_returns=1 + K).remote(idx, *pulls)
                for r, idx in assignments}
        heads = {outs[r][0]: r for r in outs}
        ready, pending = ray.wait(list(heads), num_returns=len(heads), timeout=self.step_timeout)
        infos, lost, cause = {}, [], None
        for ref in ready:
            r = heads[ref]
            try:
                infos[r] = ray.get(ref)
            except Exception as e:  # noqa: BLE001
                if _is_actor_death(e):
                    lost.append(r)
                    cause = e
                    continue
                self._check_ps(pulls)
                raise
        if pending:
            late = sorted(heads[ref] for ref in pending)
            for r in late:     # nothing may go on waiting for a hung worker
                self.drop(r)
            raise ReplicaLost(late, WorkerTimeoutError(
                f"replicas {late} did not finish a step within step_timeout={self.step_timeout}s",
                late), timed_out=True)
        if lost:
            self._check_ps(pulls)
            for r in lost:
                self.workers.pop(r, None)
                self.warm.discard(r)
            raise ReplicaLost(sorted(lost), cause)
        order = [r for r, _ in assignments]
        weights = [infos[r][1] for r in order]
        applies = [self.ps[k].apply_mean.remote(weights, *[outs[r][1 + k] for r in order])
                   for k in range(K)]
        acks = self._get(applies, self.step_timeout, "applying a synchronous update", ps=True)
        return [(r, infos[r][0], infos[r][1]) for r in order], acks[0][0]

    def _check_ps(self, pulls) -> None:
        ray = _ray()
        for ref in pulls:
            try:
                ray.get(ref, timeout=self.step_timeout)
            except Exception as e:  # noqa: BLE001
                raise ParameterServerError(f"ray engine: a parameter server is lost: {e}") from e

    # ------------------------------------------------------------------ async ------------
    def run_async(self, batches: Sequence[np.ndarray], record: Callable[..., None],
                  policy: str) -> None:
        ray = _ray()
        queue = collections.deque(batches)
        inflight: dict = {}      # ref -> (rank, idx, deadline)

        def submit(rank: int) -> None:
            if not queue or rank not in self.workers:
                return
            idx = queue.popleft()
            ref = self.workers[rank].async_step.remote(idx)
            budget = self.step_timeout + (0 if rank in self.warm else self.init_timeout)
            inflight[ref] = (rank, idx, time.monotonic() + budget)

        def lost(rank: int, why: str, cause: Optional[BaseException]) -> None:
            self.events.append({"event": why, "rank": rank, "time": time.time()})
            if policy == "replace":
                self.replace(rank, wait=False)
                self.events.append({"event": "replaced", "rank": rank, "time": time.time()})
                submit(rank)
            elif policy == "drop":
                self.drop(rank)
                self.events.append({"event": "dropped", "rank": rank, "time": time.time()})
            else:
                self.drop(rank)
                raise WorkerFailedError(f"async: worker {rank} was lost ({why}); "
                                        "on_worker_failure='raise'", [rank], cause) from cause

        for r in self.ranks:
            submit(r)
        while inflight:
            now = time.monotonic()
            wait_s = max(0.0, min(dl for _, _, dl in inflight.values()) - now)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=wait_s)
            if not ready:
                now = time.monotonic()
                for ref, (r, idx, dl) in list(inflight.items()):
                    if dl <= now:
                        del inflight[ref]
                        queue.appendleft(idx)
                        self.drop(r)
                        lost(r, "timed out", None)
                continue
            ref = ready[0]
            r, idx, _ = inflight.pop(ref)
            try:
                res = ray.get(ref)
            except Exception as e:  # noqa: BLE001
                if _is_actor_death(e):
                    queue.appendleft(idx)
                    self.workers.pop(r, None)
                    self.warm.discard(r)
                    lost(r, "died", e)
                    if not inflight and queue and not self.workers:
                        raise WorkerFailedError(f"async: every worker was lost with {len(queue)} "
                                                "batches of the epoch left", [r], e) from e
                    if not inflight and queue:
                        for r2 in self.ranks:
                            submit(r2)
                    continue
                if isinstance(e, ray.exceptions.RayTaskError) and \
                        isinstance(getattr(e, "cause", None), ray.exceptions.RayActorError):
                    raise ParameterServerError(f"ray engine: worker {r} lost a parameter server: "
                                               f"{e}") from e
                raise
            self.warm.add(r)
            record(r, res["loss"], res["n"], res["version"], res["staleness"])
            submit(r)
            if not inflight and queue:
                for r2 in self.ranks:
                    submit(r2)
        if queue:
            raise WorkerFailedError(f"async: every worker was lost with {len(queue)} batches of "
                                    "the epoch left", [])


__all__ = ["RayEngine", "import_spec_graph"]
