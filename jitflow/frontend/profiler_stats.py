"""The graph statistics behind ``tf.profiler`` (TF's ``tfprof_logger`` + ``TFGraphNode``):
one :class:`StatNode` per graph op with its op types, registered float ops and parameters,
merged with a caller's ``OpLogProto``."""
from __future__ import annotations

import linecache
import os
import sys
from typing import Any, Optional

from .graph import Graph, GraphKeys, Operation
from .profiler_flops import IncompleteShape, op_flops, op_parameters, op_shape
from .profiler_options import TRAINABLE_VARIABLES
from .profiler_proto import GraphNodeProto, OpLogEntry, OpLogProto

SCOPE_PARENT = "_kTFScopeParent"
ROOT = "_TFProfRoot"


class StatNode:
    """One graph node (or a name scope's stand-in) as tfprof sees it."""

    def __init__(self, name: str, op: Optional[Operation] = None,
                 op_type: str = SCOPE_PARENT) -> None:
        self.name = name
        self.op = op
        self.op_type = op.type if op is not None else op_type
        self.types: set[str] = {self.op_type}
        self.float_ops = 0
        self.parameters = op_parameters(op) if op is not None else 0
        self.shape = (op_shape(op) or []) if op is not None else []
        self.devices: list[str] = [op.device] if op is not None and op.device else []

    def code(self) -> str:
        """The Python line that created the op (jitflow records one frame: the user's)."""
        if self.op is None:
            return ""
        src = linecache.getline(self.op.file, self.op.line).strip()
        return f"{os.path.basename(self.op.file)}:{self.op.line}:{src}"

    def proto(self) -> GraphNodeProto:
        """A GraphNodeProto with this node's self statistics (no totals)."""
        p = GraphNodeProto(self.name)
        p.parameters, p.float_ops = self.parameters, self.float_ops
        p.devices = list(self.devices)
        if self.op is not None:
            p.shapes = [_dims(t.shape) for t in self.op.outputs]
            p.input_shapes = {i: _dims(t.shape) for i, t in enumerate(self.op.inputs)}
        return p


def _dims(shape: Any) -> list[int]:
    if shape.dims is None:
        return []
    return [-1 if d is None else int(d) for d in shape.dims] or [1]


def logged_ops(graph: Graph, op_log: Any = None, quiet: bool = False) -> OpLogProto:
    """TF's ``_merge_default_with_oplog``: every op's registered float ops (ops whose shapes
    are incomplete are skipped, and counted on stderr unless ``quiet``), the
    ``_trainable_variables`` type of the trainable variables' ops, merged into ``op_log``'s
    entries."""
    logged: dict[str, OpLogEntry] = {}
    missing = 0
    for op in graph.get_operations():
        try:
            flops = op_flops(op)
        except IncompleteShape:
            missing += 1
            continue
        if flops:
            logged[op.name] = OpLogEntry(op.name, flops)
    for v in graph.get_collection(GraphKeys.TRAINABLE_VARIABLES):
        name = v.op.name
        logged.setdefault(name, OpLogEntry(name)).types.append(TRAINABLE_VARIABLES)
    if missing and not quiet:
        sys.stderr.write(f"{missing} ops no flops stats due to incomplete shapes.\n")
    out = OpLogProto()
    if not op_log:
        out.log_entries.extend(logged.values())
        return out
    entries = getattr(op_log, "log_entries", None)
    if entries is None:
        raise TypeError(f"op_log must be an OpLogProto (with log_entries), got "
                        f"{type(op_log).__name__}")
    merged = {e.name: OpLogEntry(e.name, e.float_ops, e.types) for e in entries}
    for name, e in logged.items():
        if name in merged:
            m = merged[name]
            m.types.extend(e.types)
            if e.float_ops > 0 and m.float_ops == 0:
                m.float_ops = e.float_ops
        else:
            merged[name] = e
    out.log_entries.extend(merged.values())
    return out


def stat_nodes(graph: Graph, op_log: OpLogProto) -> dict[str, StatNode]:
    """The graph's nodes by name (sorted, as tfprof's map), with ``op_log`` applied."""
    nodes = {op.name: StatNode(op.name, op) for op in graph.get_operations()}
    for e in op_log.log_entries:
        n = nodes.get(e.name)
        if n is None:
            continue
        n.types.update(e.types)
        n.float_ops += int(e.float_ops)
    return dict(sorted(nodes.items()))
