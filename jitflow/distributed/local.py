"""engine="local": replicas are threads of this process, each with its own Session (so its own
compiled executable) on the user's graph; one parameter holder, guarded by a lock.

A compiled step is one native call made through ctypes, which releases the GIL, so the
replicas' steps really run at the same time on different cores.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import threading
import time
from typing import Callable, Optional, Sequence

import numpy as np

from .errors import ReplicaLost, WorkerFailedError, WorkerTimeoutError, _Killed
from .plan import TrainingPlan, average_gradients
from .runner import ParameterHolder, Replica


class BatchQueue:
    """The batches of one epoch, handed out one at a time; a batch whose replica was lost goes
    back to the front."""

    def __init__(self, batches: Sequence[np.ndarray]) -> None:
        self._q = collections.deque(batches)
        self._lock = threading.Lock()

    def pop(self) -> Optional[np.ndarray]:
        with self._lock:
            return self._q.popleft() if self._q else None

    def push_front(self, idx: np.ndarray) -> None:
        with self._lock:
            self._q.appendleft(idx)

    def __len__(self) -> int:
        with self._lock:
            return len(self._q)


class LocalEngine:
    name = "local"

    def __init__(self, plan: TrainingPlan, backends: Sequence[Optional[str]],
                 delays: Sequence[float], step_timeout: float, ps_backend: Optional[str] = None,
                 threads: Optional[int] = None) -> None:
        if len(plan.shards) != 1:
            raise ValueError("the local engine keeps all parameters in one holder (num_ps=1)")
        self.plan = plan
        self.step_timeout = step_timeout
        self.threads = threads
        self.backends = {r: b for r, b in enumerate(backends)}
        self.delays = {r: float(d) for r, d in enumerate(delays)}
        sh = plan.shards[0]
        self.ps = ParameterHolder(plan.graph, plan.var_list, plan.grad_placeholders, sh.apply_op,
                                  sh.state_vars, backend=ps_backend)
        self.replicas: dict[int, Replica] = {r: self._new_replica(r) for r in self.backends}
        self.generation = {r: 0 for r in self.replicas}
        self._killed: set[int] = set()
        self._pool: Optional[cf.ThreadPoolExecutor] = None
        self.data: list[np.ndarray] = []
        self._worker_values: dict = {}
        self.events: list[dict] = []

    def _new_replica(self, rank: int) -> Replica:
        p = self.plan
        return Replica(p.graph, p.loss, p.grads, p.inputs, p.var_list, p.worker_vars,
                       p.train_feed, self.backends[rank], self.delays.get(rank, 0.0),
                       self.threads, p.update_ops, p.update_vars)

    # ------------------------------------------------------------------ state ------------
    @property
    def ranks(self) -> list[int]:
        return sorted(self.replicas)

    def set_state(self, values: dict, version: Optional[int] = None) -> None:
        self.ps.set_state(values, version)

    def get_state(self) -> dict:
        return self.ps.get_state()

    def pull(self) -> tuple[int, list[np.ndarray]]:
        """(version, values of the plan's var_list): a consistent copy, safe during training."""
        return self.ps.pull()

    def set_worker_values(self, values: dict) -> None:
        self._worker_values = dict(values)
        for rep in self.replicas.values():
            rep.load(values)

    def update_values(self) -> list[dict]:
        """Each live replica's values of the variables the update ops assign."""
        return [self.replicas[r].update_values() for r in self.ranks]

    def set_data(self, arrays: Sequence[np.ndarray]) -> None:
        self.data = list(arrays)

    def stats(self) -> dict:
        s = self.ps.stats()
        return {"version": s["version"], "pushes": s["pushes"], "applied": s["applied"],
                "shards": [s]}

    def start(self) -> None:
        """Compile every replica's step and the update before the clock starts."""
        _, params = self.ps.pull()
        for rep in self.replicas.values():
            rep.warmup(params)
        self.ps.warmup()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # ------------------------------------------------------------------ faults -----------
    def kill(self, rank: int) -> None:
        """Stop replica ``rank`` as a lost device would: its current step is discarded (never
        pushed) and the failure policy applies. For tests and fault drills."""
        self._killed.add(rank)

    def drop(self, rank: int) -> None:
        self.replicas.pop(rank, None)
        self._killed.discard(rank)
        self._reset_pool()

    def replace(self, rank: int) -> None:
        rep = self._new_replica(rank)
        rep.load(self._worker_values)
        _, params = self.ps.pull()
        rep.warmup(params)
        self.replicas[rank] = rep
        self.generation[rank] = self.generation.get(rank, 0) + 1
        self._killed.discard(rank)
        self._reset_pool()

    def _reset_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # ------------------------------------------------------------------ sync -------------
    def _compute(self, rank: int, rep: Replica, params, idx: np.ndarray):
        if rank in self._killed:
            raise _Killed(rank)
        out = rep.compute(params, [a[idx] for a in self.data])
        if rank in self._killed:
            raise _Killed(rank)
        return out

    def sync_step(self, assignments: Sequence[tuple[int, np.ndarray]]) -> tuple[list, int]:
        """All replicas compute on the same parameter version; the gradients, averaged with
        the batch sizes as weights, make one update. Returns ([(rank, loss, n)], version)."""
        if self._pool is None:
            self._pool = cf.ThreadPoolExecutor(max_workers=max(1, len(self.replicas)),
                                               thread_name_prefix="jitflow-replica")
        version, params = self.ps.pull()
        futs = {self._pool.submit(self._compute, r, self.replicas[r], params, idx): (r, idx)
                for r, idx in assignments}
        done, pending = cf.wait(futs, timeout=self.step_timeout)
        if pending:
            ranks = sorted(futs[f][0] for f in pending)
            for r in ranks:            # a thread cannot be stopped: its result is discarded
                self._killed.add(r)
            raise ReplicaLost(ranks, WorkerTimeoutError(
                f"replicas {ranks} did not finish a step within step_timeout="
                f"{self.step_timeout}s", ranks), timed_out=True)
        lost, results = [], {}
        for f in done:
            r, idx = futs[f]
            try:
                results[r] = f.result()
            except _Killed:
                lost.append(r)
        if lost:
            raise ReplicaLost(sorted(lost), RuntimeError(f"replicas {sorted(lost)} were killed"))
        order = [r for r, _ in assignments]
        ns = [len(idx) for _, idx in assignments]
        grads = average_gradients([results[r][1] for r in order], ns)
        new_version, _ = self.ps.apply(grads, version)
        return [(r, results[r][0], n) for r, n in zip(order, ns)], new_version

    # ------------------------------------------------------------------ async ------------
    def run_async(self, batches: Sequence[np.ndarray], record: Callable[..., None],
                  policy: str) -> None:
        """Each replica thread: take a batch, pull the latest parameters, compute, push; the
        holder applies each push at once. Returns when every batch has been applied."""
        queue = BatchQueue(batches)
        lock = threading.Lock()
        state = {"abort": None}
        busy: dict[int, tuple[int, np.ndarray, float]] = {}     # rank -> (gen, idx, since)
        dead_gens: set[tuple[int, int]] = set()
        threads: dict[int, threading.Thread] = {}

        def loop(rank: int, gen: int) -> None:
            rep = self.replicas[rank]
            while state["abort"] is None:
                idx = queue.pop()
                if idx is None:
                    return
                with lock:
                    busy[rank] = (gen, idx, time.monotonic())
                try:
                    if rank in self._killed:
                        raise _Killed(rank)
                    version, params = self.ps.pull()
                    loss, grads = rep.compute(params, [a[idx] for a in self.data])
                    with lock:
                        if (rank, gen) in dead_gens:      # declared lost by the watchdog
                            return
                        busy.pop(rank, None)
                    if rank in self._killed:
                        raise _Killed(rank)
                    new_version, stale = self.ps.apply(grads, version)
                except _Killed:
                    queue.push_front(idx)
                    with lock:
                        busy.pop(rank, None)
                    self._killed.discard(rank)
                    if not self._on_lost(rank, policy, state, lock, "killed"):
                        return
                    rep, gen = self.replicas[rank], self.generation.get(rank, 0)
                    continue
                except BaseException as e:  # noqa: BLE001 - a bug in the step: stop everything
                    with lock:
                        if state["abort"] is None:
                            state["abort"] = e
                    return
                record(rank, loss, len(idx), new_version, stale)

        def spawn(rank: int) -> None:
            gen = self.generation.get(rank, 0)
            th = threading.Thread(target=loop, args=(rank, gen), daemon=True,
                                  name=f"jitflow-replica-{rank}")
            threads[rank] = th
            th.start()

        for r in self.ranks:
            spawn(r)
        while True:
            alive = [th for th in threads.values() if th.is_alive()]
            if not alive:
                break
            alive[0].join(timeout=0.05)
            now = time.monotonic()
            with lock:
                stuck = [(r, g, idx) for r, (g, idx, since) in busy.items()
                         if now - since > self.step_timeout and (r, g) not in dead_gens]
                for r, g, idx in stuck:
                    dead_gens.add((r, g))
                    busy.pop(r, None)
            for r, g, idx in stuck:
                queue.push_front(idx)
                self.events.append({"event": "timeout", "rank": r, "time": time.time()})
                if policy == "raise":
                    with lock:
                        if state["abort"] is None:
                            state["abort"] = WorkerTimeoutError(
                                f"async: replica {r} did not finish a step within step_timeout="
                                f"{self.step_timeout}s", [r])
                elif self._on_lost(r, policy, state, lock, "timed out"):
                    spawn(r)
            if state["abort"] is not None:
                break
        if state["abort"] is not None:
            raise state["abort"]
        if len(queue):
            raise WorkerFailedError(f"async: every replica was lost with {len(queue)} batches "
                                    "of the epoch left", [])

    def _on_lost(self, rank: int, policy: str, state: dict, lock, why: str) -> bool:
        """Apply the failure policy to a lost replica; True if it was replaced."""
        self.events.append({"event": why, "rank": rank, "time": time.time()})
        if policy == "replace":
            self.replace(rank)
            self.events.append({"event": "replaced", "rank": rank, "time": time.time()})
            return True
        if policy == "drop":
            self.replicas.pop(rank, None)
            self.events.append({"event": "dropped", "rank": rank, "time": time.time()})
            return False
        with lock:
            if state["abort"] is None:
                state["abort"] = WorkerFailedError(
                    f"async: replica {rank} was lost ({why}); on_worker_failure='raise'", [rank])
        return False
