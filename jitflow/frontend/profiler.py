"""``tf.profiler`` (TF1's tfprof) for jitflow graphs: ``profile``, ``Profiler``,
``write_op_log``, ``advise``, ``ProfileOptionBuilder``.

The statistics are graph-level: TF's registered ``flops`` of each op from the shapes known at
graph build (:mod:`.profiler_flops`), parameters of the ops with a ``shape`` attribute
(variables, placeholders), op types plus ``_trainable_variables`` for trainable variables.
Time and memory come from run metadata in TF; jitflow's ``RunMetadata`` records no step
stats (a compiled run has no per-op kernels), so they are 0 and ``time_and_memory()`` shows
only the root. The text follows tfprof's layout (legend, one line per node, ``self/total``
values) without being byte-identical.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Optional

from ..errors import InvalidArgumentError
from .graph import Graph, get_default_graph
from .profiler_options import Options, ProfileOptionBuilder
from .profiler_proto import GraphNodeProto, MultiGraphNodeProto, OpLogEntry, OpLogProto
from .profiler_stats import StatNode, logged_ops, stat_nodes
from .profiler_views import GraphView, MultiView, ScopeView

__all__ = ["profile", "Profiler", "write_op_log", "advise", "ProfileOptionBuilder",
           "GraphNodeProto", "MultiGraphNodeProto", "OpLogProto", "OpLogEntry"]

_DEFAULT_PROFILE_OPTIONS = 0
_CMDS = ("scope", "graph", "code", "op")
_BANNER = ("\n=========================Options=============================\n",
           "\n==================Model Analysis Report======================\n",
           "\n======================End of Report==========================\n")


def _graph(graph: Optional[Graph]) -> Graph:
    g = graph if graph is not None else get_default_graph()
    if not isinstance(g, Graph):
        raise TypeError(f"graph must be a tf.Graph, got {type(g).__name__}")
    return g


def _check_run_meta(run_meta: Any) -> None:
    if run_meta is not None and not hasattr(run_meta, "step_stats"):
        raise TypeError(f"run_meta must be a tf.RunMetadata, got {type(run_meta).__name__}")


def _render(nodes: dict[str, StatNode], cmd: str, options: Any,
            steps: set[int]) -> Any:
    """Build the ``cmd`` view, show it as ``options`` say, return its proto."""
    if cmd not in _CMDS:
        raise InvalidArgumentError(f"unknown cmd: {cmd}\n")
    opts = Options(options)
    empty = GraphNodeProto() if cmd in ("scope", "graph") else MultiGraphNodeProto()
    if opts.step >= 0 and opts.step not in steps:
        sys.stderr.write(f"Options -step={opts.step} not found.\nAvailable steps: "
                         + "".join(f"{s} " for s in sorted(steps)) + "\n")
        return empty
    if opts.output_type in ("timeline", "pprof"):
        raise NotImplementedError(
            f"tf.profiler {opts.output_type} output needs per-op step stats, which jitflow's "
            "RunMetadata does not record; use with_stdout_output() or with_file_output()")
    view = {"scope": ScopeView, "graph": GraphView}.get(cmd)
    view = view(nodes) if view is not None else MultiView(nodes, cmd)
    proto, text = view.show(opts)
    text = "Profile:\n" + text
    if opts.output_type == "stdout":
        sys.stdout.write(_BANNER[0] + opts.to_string() + _BANNER[1] + text + _BANNER[2])
        sys.stdout.flush()
    elif opts.output_type == "file":
        with open(opts.output_options["outfile"], "w") as f:
            f.write(text)
    return proto


def profile(graph: Optional[Graph] = None, run_meta: Any = None, op_log: Any = None,
            cmd: str = "scope", options: Any = _DEFAULT_PROFILE_OPTIONS) -> Any:
    """Profile a graph (TF1's ``tf.profiler.profile``).

    ``cmd`` is ``'scope'`` or ``'graph'`` (returns a GraphNodeProto), ``'op'`` or ``'code'``
    (a MultiGraphNodeProto); ``options`` a dict from ``ProfileOptionBuilder`` (default:
    ``trainable_variables_parameter()``). Output goes to stdout, a file, or nowhere, as
    ``options['output']`` says."""
    g = _graph(graph)
    _check_run_meta(run_meta)
    if isinstance(options, int) and options == _DEFAULT_PROFILE_OPTIONS:
        options = ProfileOptionBuilder.trainable_variables_parameter()
    # TF reports the ops skipped for their shapes only without run metadata
    merged = logged_ops(g, op_log, quiet=run_meta is not None)
    return _render(stat_nodes(g, merged), cmd, options, set())


def advise(graph: Optional[Graph] = None, run_meta: Any = None, options: Any = 0) -> Any:
    """TF's tfprof advisor (expensive-operation, accelerator-utilization checkers): it reads
    per-op timings that jitflow does not record, so it is not provided."""
    raise NotImplementedError("tf.profiler.advise is not implemented in jitflow: its checkers "
                              "read per-op step stats, which jitflow's RunMetadata does not "
                              "record; use tf.profiler.profile for float ops and parameters")


def write_op_log(graph: Graph, log_dir: str, op_log: Any = None, run_meta: Any = None,
                 add_trace: bool = True) -> None:
    """Write ``log_dir/tfprof_log``: ``op_log`` merged with the graph's float ops and the
    ``_trainable_variables`` types, a serialized OpLogProto (no code traces)."""
    g = _graph(graph)
    _check_run_meta(run_meta)
    merged = logged_ops(g, op_log, quiet=run_meta is not None)
    with open(os.path.join(log_dir, "tfprof_log"), "wb") as f:
        f.write(merged.SerializeToString())


class Profiler:
    """TF1's multi-step ``tf.profiler.Profiler`` over one graph."""

    def __init__(self, graph: Optional[Graph] = None, op_log: Any = None) -> None:
        self._graph = _graph(graph)
        self._op_log = op_log
        self._steps: set[int] = set()
        logged_ops(self._graph, op_log)      # TF reports the ops skipped for their shapes here

    def add_step(self, step: int, run_meta: Any) -> None:
        """Add a step's run metadata (its step stats are empty in jitflow: the step number
        is recorded, so ``with_step(step)`` options select it)."""
        _check_run_meta(run_meta)
        if run_meta is None:
            raise ValueError("Profiler.add_step needs the run_meta of a Session.run")
        self._steps.add(int(step))

    def _profile(self, cmd: str, options: Any) -> Any:
        nodes = stat_nodes(self._graph, logged_ops(self._graph, self._op_log, quiet=True))
        return _render(nodes, cmd, options, self._steps)

    def profile_python(self, options: dict) -> MultiGraphNodeProto:
        """The 'code' view: statistics per Python line that created ops."""
        return self._profile("code", options)

    def profile_operations(self, options: dict) -> MultiGraphNodeProto:
        """The 'op' view: statistics per op type (MatMul, Conv2D, ...)."""
        return self._profile("op", options)

    def profile_name_scope(self, options: dict) -> GraphNodeProto:
        """The 'scope' view: statistics per name scope."""
        return self._profile("scope", options)

    def profile_graph(self, options: dict) -> GraphNodeProto:
        """The 'graph' view: statistics along the dataflow (a node's inputs under it)."""
        return self._profile("graph", options)

    def advise(self, options: Any = None) -> Any:
        return advise(self._graph, None, options)

    def serialize_to_string(self) -> bytes:
        raise NotImplementedError("Profiler.serialize_to_string (tfprof's ProfileProto) is "
                                  "not implemented in jitflow")
