"""The training plan: what the replicas and the parameter holders run, built once from the
user's graph.

Given the loss, the user's optimizer and the input placeholders, the plan adds to the user's
graph (under the name scope ``data_parallel``):

* the gradients ``optimizer.compute_gradients(loss)`` (what a replica fetches with the loss);
* one placeholder per gradient and, per parameter-server shard, ``optimizer.apply_gradients``
  over that shard's variables fed from those placeholders (what a parameter holder runs).
  Optimizer state (Adam's ``m``/``v`` slots, ``beta1_power``...) is created by the user's
  optimizer as usual, so it lives with the parameters and is saved by a ``tf.train.Saver``.

It also records every name the remote engines need, so the graph can travel as the meta-graph
JSON (``tf.train.export_meta_graph``) and be rebuilt by ``import_meta_graph`` in another
process, where the same names find the same tensors.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from ..frontend.graph import GraphKeys, Operation, Tensor
from ..frontend import saver as _saver
from ..frontend.array_ops import placeholder
from ..frontend.graph_to_ir import needed_ops

SCOPE = "data_parallel"


def _variables_of(graph) -> dict:
    """{VariableV2 op: Variable} for every variable of the graph."""
    out = {}
    for key in (GraphKeys.GLOBAL_VARIABLES, GraphKeys.LOCAL_VARIABLES):
        for v in graph.get_collection(key):
            out[v.op] = v
    for op, v in getattr(graph, "_variables_by_op", {}).items():
        out.setdefault(op, v)
    return out


def variables_read(fetches: Sequence[Any], fed: Sequence[Tensor]) -> list:
    """The VariableV2 ops that running ``fetches`` (tensors or ops) reads or writes."""
    tensors = [f for f in fetches if isinstance(f, Tensor)]
    targets = [f for f in fetches if isinstance(f, Operation)]
    ops = needed_ops(tensors, targets, {id(t) for t in fed})
    return [op for op in ops if op.type == "VariableV2"]


def assigned_variables(targets: Sequence[Operation], fed: Sequence[Tensor]) -> list:
    """The VariableV2 ops that running ``targets`` assigns."""
    ops = needed_ops([], list(targets), {id(t) for t in fed})
    out: list = []
    for op in ops:
        if op.type in ("Assign", "AssignAdd", "AssignSub") and op.inputs[0].op not in out:
            out.append(op.inputs[0].op)
    return out


def _runnable_update_ops(graph, fed: Sequence[Tensor]) -> list:
    """The ops of ``UPDATE_OPS`` that a replica can run with its feeds (no other placeholder)."""
    fed_ids = {id(t) for t in fed}
    out: list = []
    for item in graph.get_collection(GraphKeys.UPDATE_OPS):
        op = item.op if isinstance(item, Tensor) else item
        if not isinstance(op, Operation) or op in out:
            continue
        needed = needed_ops([], [op], fed_ids)
        if any(o.type == "Placeholder" for o in needed):
            continue
        out.append(op)
    return out


def shard_by_size(sizes: Sequence[int], num_shards: int) -> list[list[int]]:
    """Greedy balancing: largest first, each to the currently lightest shard. Returns, per
    shard, the indices it owns (in ascending order); no shard is empty unless there are fewer
    items than shards."""
    num_shards = max(1, min(num_shards, len(sizes)))
    load = [0] * num_shards
    owned: list[list[int]] = [[] for _ in range(num_shards)]
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        k = min(range(num_shards), key=lambda k: (load[k], k))
        owned[k].append(i)
        load[k] += sizes[i]
    return [sorted(o) for o in owned]


@dataclass
class Shard:
    """One parameter-server shard: the trainable variables it owns (indices into the plan's
    ``var_list``), its apply op and every variable that op reads or writes (the variables, their
    optimizer slots, the optimizer's shared non-slot state such as ``beta1_power``, and the
    global step on shard 0)."""
    index: int
    var_indices: list[int]
    apply_op: Operation
    state_vars: list = field(default_factory=list)     # Variables


class TrainingPlan:
    """Everything the replicas and parameter holders of one DataParallel run."""

    def __init__(self, loss: Tensor, optimizer: Any, inputs: Sequence[Tensor], num_shards: int = 1,
                 global_step: Any = None, metrics: Optional[dict] = None,
                 var_list: Optional[Sequence[Any]] = None,
                 train_feed_dict: Optional[dict] = None,
                 eval_feed_dict: Optional[dict] = None) -> None:
        from ..frontend.train import get_global_step
        if not isinstance(loss, Tensor):
            raise TypeError(f"DataParallel: loss must be a Tensor, got {type(loss).__name__}")
        if not hasattr(optimizer, "compute_gradients") or not hasattr(optimizer, "apply_gradients"):
            raise TypeError("DataParallel: optimizer must be a tf.train optimizer (with "
                            f"compute_gradients and apply_gradients), got {optimizer!r}")
        self.graph = g = loss.graph
        if g.finalized:
            raise RuntimeError("DataParallel adds its gradient and update ops to the graph; build "
                               "it before calling graph.finalize()")
        self.loss = loss
        self.optimizer = optimizer
        self.inputs = [self._placeholder(t, g) for t in inputs]
        if not self.inputs:
            raise ValueError("DataParallel: inputs must name at least one placeholder, e.g. "
                             "inputs=(X, y)")
        self.metrics = {}
        for k, t in (metrics or {}).items():
            t = g.as_graph_element(t)
            if not isinstance(t, Tensor):
                raise TypeError(f"DataParallel: metric {k!r} must be a Tensor, got {t!r}")
            self.metrics[str(k)] = t
        self.train_feed = self._feed(train_feed_dict, g)
        self.eval_feed = self._feed(eval_feed_dict, g)
        if global_step is None:
            global_step = get_global_step(g)
        self.global_step = global_step
        with g.as_default():
            gvs = optimizer.compute_gradients(loss, var_list=var_list)
            gvs = [(gr, v) for gr, v in gvs if gr is not None]
            if not gvs:
                raise ValueError(f"DataParallel: no variable receives a gradient from {loss.name}")
            self.var_list = [v for _, v in gvs]
            self.grads = [gr for gr, _ in gvs]
            sizes = [int(np.prod(v.shape.as_list(), dtype=np.int64)) for v in self.var_list]
            self.sizes = sizes
            owned = shard_by_size(sizes, num_shards)
            self.shards: list[Shard] = []
            with g.name_scope(SCOPE):
                self.grad_placeholders = [
                    placeholder(v.dtype, v.shape.as_list(), name=f"grad_{i}")
                    for i, v in enumerate(self.var_list)]
                for k, idx in enumerate(owned):
                    op = optimizer.apply_gradients(
                        [(self.grad_placeholders[i], self.var_list[i]) for i in idx],
                        global_step=global_step if k == 0 else None,
                        name=f"apply_shard_{k}")
                    self.shards.append(Shard(k, idx, op))
        self.all_vars = _variables_of(g)            # after the optimizer made its slots
        for sh in self.shards:
            sh.state_vars = [self.all_vars[op] for op in
                             variables_read([sh.apply_op], self.grad_placeholders)]
        fed = self.inputs + list(self.train_feed)
        # UPDATE_OPS (batch norm's moving statistics): each replica runs them with its gradient
        # step on its own batches; fit averages the replicas' values at the end (the mean over
        # replicas of their moving averages: TF's sync-on-read MEAN)
        self.update_ops = _runnable_update_ops(g, fed)
        self.worker_vars = [self.all_vars[op] for op in
                            variables_read([loss] + self.grads + self.update_ops, fed)]
        self.update_vars = [self.all_vars[op] for op in assigned_variables(self.update_ops, fed)]
        trainable_ops = {v.op for v in self.var_list}
        # variables the forward pass reads but no gradient updates (e.g. batch norm's moving
        # statistics): the replicas get their values at the start of fit
        self.worker_aux = [v for v in self.worker_vars if v.op not in trainable_ops]
        ps_ops = {v.op for sh in self.shards for v in sh.state_vars}
        # every variable not held by a parameter server: kept by the driver (checkpointed too)
        self.driver_vars = [v for op, v in self.all_vars.items() if op not in ps_ops]
        self.var_index = {v.op.name: i for i, v in enumerate(self.var_list)}

    # ------------------------------------------------------------------ helpers ----------
    @staticmethod
    def _placeholder(t: Any, g) -> Tensor:
        t = g.as_graph_element(t)
        if not isinstance(t, Tensor):
            raise TypeError(f"DataParallel: inputs must be placeholders (Tensors), got {t!r}")
        if t.op.type not in ("Placeholder", "PlaceholderWithDefault"):
            raise TypeError(f"DataParallel: input {t.name} is a {t.op.type}, not a placeholder")
        return t

    @staticmethod
    def _feed(feed: Optional[dict], g) -> dict:
        out = {}
        for k, v in (feed or {}).items():
            t = g.as_graph_element(k)
            if not isinstance(t, Tensor):
                raise TypeError(f"DataParallel: feed key {k!r} is not a Tensor")
            out[t] = np.asarray(v, dtype=t.dtype.np)
        return out

    def shard_of(self) -> dict:
        """{variable op name: shard index} for the trainable variables."""
        return {self.var_list[i].op.name: sh.index for sh in self.shards for i in sh.var_indices}

    # ------------------------------------------------------------------ remote spec ------
    def spec(self) -> dict:
        """A picklable description for the remote engines: the meta graph as JSON text and the
        names of everything a worker or a parameter server runs."""
        meta = _saver.export_meta_graph(graph=self.graph)
        return {
            "meta_graph": json.dumps(meta),
            "loss": self.loss.name,
            "grads": [t.name for t in self.grads],
            "inputs": [t.name for t in self.inputs],
            "var_list": [v.op.name for v in self.var_list],
            "grad_placeholders": [t.name for t in self.grad_placeholders],
            "shards": [{"index": sh.index, "vars": list(sh.var_indices),
                        "apply": sh.apply_op.name,
                        "state": [v.op.name for v in sh.state_vars]} for sh in self.shards],
            "worker_vars": [v.op.name for v in self.worker_vars],
            "update_ops": [op.name for op in self.update_ops],
            "update_vars": [v.op.name for v in self.update_vars],
            "train_feed": {t.name: a for t, a in self.train_feed.items()},
        }


def average_gradients(grad_lists: Sequence[Sequence[np.ndarray]],
                      weights: Sequence[float]) -> list[np.ndarray]:
    """The weighted mean ``sum_i w_i g_i / sum_i w_i`` per variable, in the replicas' order (so
    the result does not depend on which replica finished first). With ``w_i`` = the replica's
    batch size and a loss that is a mean over the batch, this is the gradient of the loss over
    the union of the batches."""
    total = float(sum(weights))
    out = []
    for parts in zip(*grad_lists):
        acc = np.zeros(np.shape(parts[0]), dtype=np.float64)
        for w, p in zip(weights, parts):
            acc += (w / total) * p
        out.append(acc.astype(parts[0].dtype))
    return out
