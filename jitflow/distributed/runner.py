"""What runs on a device: a replica (gradients of the loss on a batch, at given parameter
values) and a parameter holder (a shard of the variables, their optimizer state and the
update). Both wrap an ordinary ``Session``, so each compiles its own executable for its own
backend; the engines (threads, Ray actors) only move arrays between them.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Optional, Sequence

import numpy as np

from ..frontend.graph import Graph, Tensor
from ..runtime.session import Session
from .threads import limit_threads


def _names_to_vars(graph: Graph) -> dict:
    from .plan import _variables_of
    return {op.name: v for op, v in _variables_of(graph).items()}


def import_spec_graph(spec: dict) -> Graph:
    """Rebuild the user's graph from the meta-graph JSON text in a new Graph."""
    from ..frontend.saver import import_meta_graph
    g = Graph()
    with g.as_default():
        import_meta_graph(json.loads(spec["meta_graph"]))
    return g


def _example_batch(t: Tensor, n: int = 1) -> Optional[np.ndarray]:
    dims = t.shape.dims
    if dims is None or any(d is None for d in dims[1:]):
        return None
    shape = [n if d is None else d for d in dims]
    return np.zeros(shape, dtype=t.dtype.np)


class Replica:
    """Computes ``loss`` and the gradients of the trainable variables on a batch, with the
    parameter values it is given. Holds no parameter state between steps: the values are
    loaded before every step (the engine pulls them from the parameter holder)."""

    def __init__(self, graph: Graph, loss: Tensor, grads: Sequence[Tensor],
                 inputs: Sequence[Tensor], var_list: Sequence[Any], worker_vars: Sequence[Any],
                 train_feed: Optional[dict] = None, backend: Optional[str] = None,
                 delay: float = 0.0, threads: Optional[int] = None,
                 update_ops: Sequence[Any] = (), update_vars: Sequence[Any] = ()) -> None:
        self.graph = graph
        self.sess = Session(graph=graph, backend=backend)
        self.n_grads = len(grads)
        self.fetches = [loss] + list(grads) + list(update_ops)     # (ops fetch None)
        self.update_vars = list(update_vars)
        self.inputs = list(inputs)
        self.var_list = list(var_list)
        self.worker_vars = list(worker_vars)
        self.train_feed = dict(train_feed or {})
        self.delay = float(delay or 0.0)
        self.threads = threads
        self.steps = 0
        self.compute_seconds = 0.0

    @classmethod
    def from_spec(cls, spec: dict, backend: Optional[str] = None, delay: float = 0.0,
                  graph: Optional[Graph] = None, threads: Optional[int] = None) -> "Replica":
        g = graph or import_spec_graph(spec)
        by_name = _names_to_vars(g)
        return cls(g, g.get_tensor_by_name(spec["loss"]),
                   [g.get_tensor_by_name(n) for n in spec["grads"]],
                   [g.get_tensor_by_name(n) for n in spec["inputs"]],
                   [by_name[n] for n in spec["var_list"]],
                   [by_name[n] for n in spec["worker_vars"]],
                   {g.get_tensor_by_name(k): v for k, v in spec["train_feed"].items()},
                   backend, delay, threads,
                   [g.get_operation_by_name(n) for n in spec.get("update_ops", [])],
                   [by_name[n] for n in spec.get("update_vars", [])])

    def load(self, values: dict) -> None:
        """Set the variables the forward pass and the update ops read (by op name); missing
        names are skipped."""
        for v in self.worker_vars:
            a = values.get(v.op.name)
            if a is not None:
                self.sess._load_variable(v, a)

    def compute(self, params: Sequence[np.ndarray], batch: Sequence[np.ndarray]
                ) -> tuple[float, list[np.ndarray]]:
        for v, a in zip(self.var_list, params):
            self.sess._load_variable(v, a)
        feed = dict(self.train_feed)
        for t, a in zip(self.inputs, batch):
            feed[t] = a
        limit_threads(self.threads)     # per thread: this replica's share of the cores
        t0 = time.perf_counter()
        out = self.sess.run(self.fetches, feed_dict=feed)
        self.compute_seconds += time.perf_counter() - t0
        if self.delay > 0:
            time.sleep(self.delay)    # a simulated slower device (for experiments and tests)
        self.steps += 1
        return float(out[0]), [np.asarray(g) for g in out[1:1 + self.n_grads]]

    def update_values(self) -> dict:
        """{op name: value} of the variables the update ops assign (this replica's copy)."""
        out = {}
        for v in self.update_vars:
            val = self.sess._variable_value(v)
            if val is not None:
                out[v.op.name] = np.array(val)
        return out

    def warmup(self, params: Sequence[np.ndarray]) -> bool:
        """Compile the step now, on a batch of one zero example (the batch dim is symbolic,
        so real batches reuse the executable). False when the input shapes are not known."""
        batch = [_example_batch(t) for t in self.inputs]
        if any(b is None for b in batch):
            return False
        delay, self.delay = self.delay, 0.0
        kept = self.update_values()     # the warm-up batch must not move the statistics
        try:
            self.compute(params, batch)
        finally:
            self.delay = delay
            self.steps -= 1
            self.load(kept)
        return True


class ParameterHolder:
    """A shard of the trainable variables with the optimizer state that goes with them; applies
    gradients through the user's optimizer (the plan's apply op for this shard). Thread-safe:
    pulls and updates are serialized by a lock; ``version`` counts applied updates."""

    def __init__(self, graph: Graph, var_list: Sequence[Any], grad_placeholders: Sequence[Tensor],
                 apply_op: Any, state_vars: Sequence[Any], backend: Optional[str] = None) -> None:
        self.sess = Session(graph=graph, backend=backend)
        self.var_list = list(var_list)
        self.grad_placeholders = list(grad_placeholders)
        self.apply_op = apply_op
        self.state_vars = list(state_vars)
        self.lock = threading.Lock()
        self.version = 0
        self.pushes = 0          # gradient pushes received
        self.applied = 0         # updates applied (== pushes unless an update failed)
        self.staleness: list[int] = []

    @classmethod
    def from_spec(cls, spec: dict, shard: int, backend: Optional[str] = None,
                  graph: Optional[Graph] = None) -> "ParameterHolder":
        g = graph or import_spec_graph(spec)
        by_name = _names_to_vars(g)
        sh = spec["shards"][shard]
        return cls(g, [by_name[spec["var_list"][i]] for i in sh["vars"]],
                   [g.get_tensor_by_name(spec["grad_placeholders"][i]) for i in sh["vars"]],
                   g.get_operation_by_name(sh["apply"]),
                   [by_name[n] for n in sh["state"]], backend)

    # ------------------------------------------------------------------ state ------------
    def set_state(self, values: dict, version: Optional[int] = None) -> None:
        """Load variable values (by op name; every state variable must be given)."""
        with self.lock:
            missing = [v.op.name for v in self.state_vars if v.op.name not in values]
            if missing:
                raise ValueError(f"parameter holder: no value for {', '.join(missing)}")
            for v in self.state_vars:
                self.sess._load_variable(v, values[v.op.name])
            if version is not None:
                self.version = int(version)

    def get_state(self) -> dict:
        with self.lock:
            return {v.op.name: np.array(self.sess._variable_value(v)) for v in self.state_vars}

    def pull(self) -> tuple[int, list[np.ndarray]]:
        """The current version and a copy of the parameter values (the update may write the
        variables' buffers in place, so a copy is taken under the lock)."""
        with self.lock:
            return self.version, [np.array(self.sess._variable_value(v)) for v in self.var_list]

    def apply(self, grads: Sequence[np.ndarray], base_version: Optional[int] = None
              ) -> tuple[int, int]:
        """Apply one update now; returns (version after it, staleness = updates applied since
        ``base_version``, the version the gradient was computed at)."""
        with self.lock:
            self.pushes += 1
            stale = 0 if base_version is None else self.version - int(base_version)
            feed = {p: g for p, g in zip(self.grad_placeholders, grads)}
            self.sess.run(self.apply_op, feed_dict=feed)
            self.version += 1
            self.applied += 1
            self.staleness.append(stale)
            return self.version, stale

    def warmup(self) -> None:
        """Compile the update by applying zero gradients, then put the state back."""
        with self.lock:
            saved = {v.op.name: np.array(self.sess._variable_value(v)) for v in self.state_vars}
            feed = {p: np.zeros(p.shape.as_list(), dtype=p.dtype.np) for p in self.grad_placeholders}
            self.sess.run(self.apply_op, feed_dict=feed)
            for v in self.state_vars:
                self.sess._load_variable(v, saved[v.op.name])

    def stats(self) -> dict:
        with self.lock:
            return {"version": self.version, "pushes": self.pushes, "applied": self.applied}
