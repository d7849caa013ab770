"""``tf.train.SyncReplicasOptimizer`` for a program in one process.

TF builds it from shared-resource machinery: one ``ConditionalAccumulator`` per variable that
each worker's ``train_op`` pushes its gradient into, a chief queue runner whose ``sync_op``
takes the average of ``replicas_to_aggregate`` gradients from them, applies it with the
wrapped optimizer (advancing ``global_step``) and refills a token queue the workers block on.

**The decision.** jitflow keeps that contract in ONE process, deterministically, without the
queue and the thread: ``train_op`` (one ``Session.run``, one compiled step) adds the gradient
into an accumulator variable ``<var>/grad_accum`` and counts it; the run that brings the count
to ``replicas_to_aggregate`` also applies the accumulated mean through the wrapped optimizer
(slots, ``beta1_power``, ``global_step``, ``variable_averages`` all moved by it) and empties
the accumulators; any other run leaves everything but the accumulators as it was (the update
is computed and discarded by a ``select``: jitflow's ``tf.cond`` cannot assign variables). So
with N = ``replicas_to_aggregate`` the variables move by the mean of N gradients every N
steps, and ``global_step`` advances only then, as TF's accumulators make it. Every gradient
is computed on the current parameters (the run holds the variables' locks from its reads to
its writes, also when several threads share one Session), so none is ever stale and none is
dropped: the staleness check and the tokens have nothing to do. ``get_init_tokens_op`` still
validates ``num_tokens`` as TF does and returns a no-op; ``get_chief_queue_runner`` returns a
QueueRunner that starts no thread. The accumulators and the local step are LOCAL variables
(not checkpointed, like TF's accumulators); ``local_step_init_op`` and ``chief_init_op`` also
(re)initialize the accumulators, so a Supervisor given only those as ``local_init_op`` works.

Replicas in several sessions, threads or machines are ``jitflow.distributed.DataParallel``'s
job (its ``mode="sync"`` is the same averaging over real replicas); DataParallel accepts a
SyncReplicasOptimizer and trains with the optimizer it wraps (docs/distributed.md).
"""
from __future__ import annotations

from typing import Any, Optional

from . import tf_logging as logging
from .array_ops import identity, select, zeros, zeros_like
from .graph import GraphKeys, Operation, Tensor, get_default_graph, name_scope
from .graph_to_ir import needed_ops
from .math_ops import cast, greater_equal, truediv
from .op_builder import constant, convert_to_tensor
from .queues import QueueRunner
from .train import Optimizer
from .training.hooks import SessionRunHook
from .variables import Variable, assign, assign_add, group, no_op

_ASSIGNS = ("Assign", "AssignAdd", "AssignSub")


class _NoThreadQueueRunner(QueueRunner):
    """The chief's queue runner: the sync op runs inside each ``train_op`` run, so there is
    no thread to start (``create_threads`` returns [])."""

    def __init__(self, name: str) -> None:
        self.queue = None
        self.enqueue_ops: list = []
        self.close_op = self.cancel_op = None
        self.exceptions_raised: list = []
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def create_threads(self, sess: Any, coord: Any = None, daemon: bool = False,
                       start: bool = False) -> list:
        return []


class SyncReplicasOptimizer(Optimizer):
    """Aggregates ``replicas_to_aggregate`` gradients before applying their mean with
    ``opt`` (see the module docstring for how one process runs it)."""

    def __init__(self, opt: Optimizer, replicas_to_aggregate: int,
                 total_num_replicas: Optional[int] = None, variable_averages: Any = None,
                 variables_to_average: Any = None, use_locking: bool = False,
                 name: str = "sync_replicas") -> None:
        if total_num_replicas is None:
            total_num_replicas = replicas_to_aggregate
        if int(replicas_to_aggregate) < 1:
            raise ValueError(f"replicas_to_aggregate must be at least 1, got "
                             f"{replicas_to_aggregate}")
        super().__init__(use_locking, name)
        logging.info("SyncReplicasV2: replicas_to_aggregate=%s; total_num_replicas=%s",
                     replicas_to_aggregate, total_num_replicas)
        self._opt = opt
        self._replicas_to_aggregate = int(replicas_to_aggregate)
        self._total_num_replicas = int(total_num_replicas)
        self._tokens_per_step = max(self._total_num_replicas, self._replicas_to_aggregate)
        self._variable_averages = variable_averages
        self._variables_to_average = variables_to_average
        self._gradients_applied = False
        self._global_step: Optional[Variable] = None
        self._local_step: Optional[Variable] = None
        self._chief_queue_runner: Optional[QueueRunner] = None
        self._accumulator_list: list = []      # (accumulator variable, device), as TF's
        self.local_step_init_op: Any = None
        self.chief_init_op: Any = None
        self.ready_for_local_init_op: Any = None

    @property
    def wrapped_optimizer(self) -> Optimizer:
        """The optimizer that applies the aggregated gradients."""
        return self._opt

    @property
    def replicas_to_aggregate(self) -> int:
        return self._replicas_to_aggregate

    def compute_gradients(self, *args: Any, **kwargs: Any):
        return self._opt.compute_gradients(*args, **kwargs)

    def apply_gradients(self, grads_and_vars, global_step: Optional[Variable] = None,
                        name: Optional[str] = None) -> Tensor:
        gvs = list(grads_and_vars)
        if not gvs:
            raise ValueError("Must supply at least one variable")
        if global_step is None:
            raise ValueError("Global step is required to check staleness")
        self._global_step = global_step
        g = get_default_graph()
        n = self._replicas_to_aggregate
        live = [(convert_to_tensor(gr), v) for gr, v in gvs if gr is not None]
        if not live:
            raise ValueError(f"No gradients provided for any variable: "
                             f"{[str(v) for _, v in gvs]}.")
        local = [GraphKeys.LOCAL_VARIABLES]
        # the state and its init ops do not inherit the caller's control dependencies (an
        # UPDATE_OPS dependency would run with the initializers)
        with g.control_dependencies(None), g.name_scope(None):
            self._local_step = Variable(constant(0, dtype=global_step.dtype), trainable=False,
                                        collections=local, name="sync_rep_local_step")
            accums = [Variable(zeros(v.shape.as_list(), v.dtype), trainable=False,
                               collections=local, name=f"{v.op.name}/grad_accum")
                      for _, v in live]
            count = Variable(constant(0, dtype="int32"), trainable=False, collections=local,
                             name=f"{self._name}/grad_count")
            inits = [a.initializer for a in accums] + [count.initializer]
            with g.control_dependencies(inits):
                self.local_step_init_op = assign(self._local_step, identity(global_step))
            self.chief_init_op = group(self.local_step_init_op)
        self._accumulator_list = [(a, None) for a in accums]
        self.ready_for_local_init_op = None     # the hook checks the global variables itself

        with name_scope(name or self._name):
            summed = [assign_add(a, gr) for a, (gr, _) in zip(accums, live)]
            counted = assign_add(count, 1)
            full = greater_equal(counted, n)
            means = [truediv(s, cast(n, s.dtype)) for s in summed]
        # the wrapped optimizer's update (TF's sync_op), computed every run, kept when full
        with g.name_scope(None):
            sync_op = self._opt.apply_gradients(list(zip(means, [v for _, v in live])),
                                                global_step)
            if self._variable_averages is not None:
                with g.control_dependencies([sync_op]):
                    sync_op = self._variable_averages.apply(self._variables_to_average)
        # what sync_op assigns beyond what computing the gradients assigns (an UPDATE_OPS
        # dependency of the loss runs every step, as in TF)
        own = {t.op for t in _assigned(g, summed + [counted], set())}
        targets = _assigned(g, [sync_op], own)
        with name_scope(name or self._name):
            before = [identity(t) for t in targets]        # the values at the run's start
            keeps = []
            with g.control_dependencies([sync_op]):
                for t, old in zip(targets, before):
                    keeps.append(assign(t, select(full, identity(t), old)))
            empties = [assign(a, select(full, zeros_like(s), s)) for a, s in zip(accums, summed)]
            empties.append(assign(count, select(full, zeros_like(counted), counted)))
            with g.control_dependencies(keeps + empties):
                train_op = assign(self._local_step, identity(global_step))
        self._chief_queue_runner = _NoThreadQueueRunner(f"{self._name}/sync_queue_runner")
        self._gradients_applied = True
        return train_op

    def get_chief_queue_runner(self) -> QueueRunner:
        if self._gradients_applied is False:
            raise ValueError("Should be called after apply_gradients().")
        return self._chief_queue_runner

    def get_slot(self, *args: Any, **kwargs: Any):
        return self._opt.get_slot(*args, **kwargs)

    def get_slot_names(self, *args: Any, **kwargs: Any) -> list[str]:
        return self._opt.get_slot_names(*args, **kwargs)

    def variables(self) -> list[Variable]:
        """The wrapped optimizer's variables (not the local step or the accumulators)."""
        return self._opt.variables()

    def get_init_tokens_op(self, num_tokens: int = -1) -> Operation:
        """TF fills its token queue with it; here it validates ``num_tokens`` as TF does and
        is a no-op (there are no tokens in one process)."""
        if self._gradients_applied is False:
            raise ValueError("get_init_tokens_op() should be called after apply_gradients().")
        tokens_needed = self._replicas_to_aggregate - self._total_num_replicas
        if num_tokens == -1:
            num_tokens = self._replicas_to_aggregate
        elif num_tokens < tokens_needed:
            raise ValueError("Too few tokens to finish the first step: %d (given) vs %d (needed)"
                             % (num_tokens, tokens_needed))
        return no_op(name="sync_init_tokens" if num_tokens > 0 else "no_init_tokens")

    def make_session_run_hook(self, is_chief: bool, num_tokens: int = -1) -> SessionRunHook:
        """A hook that runs the init ops after the session is created."""
        return _SyncReplicasOptimizerHook(self, is_chief, num_tokens)


def _assigned(g: Any, ops: list, exclude: set) -> list:
    """The variables that running ``ops`` (ops or tensors) assigns, but ``exclude``'s."""
    targets = [o.op if isinstance(o, Tensor) else o for o in ops]
    out: list = []
    for o in needed_ops([], targets, set()):
        if o.type in _ASSIGNS:
            var_op = o.inputs[0].op
            if var_op not in exclude and var_op not in out:
                out.append(var_op)
    by_op = getattr(g, "_variables_by_op", {})
    return [by_op.get(v, v.outputs[0]) for v in out]


class _SyncReplicasOptimizerHook(SessionRunHook):
    """Runs the SyncReplicasOptimizer's init ops once the session exists (TF's hook)."""

    def __init__(self, sync_optimizer: SyncReplicasOptimizer, is_chief: bool,
                 num_tokens: int) -> None:
        self._sync_optimizer = sync_optimizer
        self._is_chief = is_chief
        self._num_tokens = num_tokens

    def begin(self) -> None:
        opt = self._sync_optimizer
        if opt._gradients_applied is False:
            raise ValueError("SyncReplicasOptimizer.apply_gradient should be called before "
                             "using the hook.")
        if self._is_chief:
            self._local_init_op = opt.chief_init_op
            self._q_runner = opt.get_chief_queue_runner()
            self._init_tokens_op = opt.get_init_tokens_op(self._num_tokens)
        else:
            self._local_init_op = opt.local_step_init_op
            self._q_runner = None
            self._init_tokens_op = None

    def after_create_session(self, session: Any, coord: Any) -> None:
        from .training.monitored_session import _uninitialized
        missing = _uninitialized(session)
        if missing:
            name = getattr(self._local_init_op, "name", self._local_init_op)
            raise RuntimeError(f"Init operations did not make model ready for "
                               f"SyncReplicasOptimizer local_init. Init op: {name}, error: "
                               f"Variables not initialized: {', '.join(missing)}")
        session.run(self._local_init_op)
        if self._init_tokens_op is not None:
            session.run(self._init_tokens_op)
        if self._q_runner is not None:
            self._q_runner.create_threads(session, coord=coord, daemon=True, start=True)
