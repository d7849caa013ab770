"""The messages ``tf.profiler`` returns and takes, as plain Python objects with TF's field
names: ``GraphNodeProto`` (scope and graph views), ``MultiGraphNodeProto`` (op and code views),
``OpLogProto`` / ``OpLogEntry`` (extra op types and float ops, ``tf.profiler.write_op_log``),
and tfprof's number, time and memory formats."""
from __future__ import annotations

import copy
from typing import Any, Iterator

from ..interop.protowire import field_bytes, field_varint

#: the statistics every node proto carries (self and ``total_`` values)
STATS = ("run_count", "exec_micros", "accelerator_exec_micros", "cpu_exec_micros",
         "requested_bytes", "peak_bytes", "residual_bytes", "output_bytes", "parameters",
         "float_ops")


class _NodeProto:
    """Common fields: name, the self statistics, their totals, ``children``."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        for s in STATS:
            setattr(self, s, 0)
            setattr(self, "total_" + s, 0)
        self.total_definition_count = 0
        self.children: list = []

    def reset_totals(self) -> None:
        for s in STATS:
            setattr(self, "total_" + s, 0)
        self.total_definition_count = 0

    def add_self_to_totals(self) -> None:
        for s in STATS:
            setattr(self, "total_" + s, getattr(self, "total_" + s) + getattr(self, s))
        self.total_definition_count += 1

    def aggregate_totals(self, other: "_NodeProto") -> None:
        for s in STATS:
            setattr(self, "total_" + s, getattr(self, "total_" + s) + getattr(other, "total_" + s))
        self.total_definition_count += other.total_definition_count

    def copy(self) -> Any:
        out = copy.copy(self)
        out.children = []
        for k, v in vars(self).items():
            if isinstance(v, (list, dict)) and k != "children":
                setattr(out, k, copy.copy(v))
        return out

    def _fields(self) -> Iterator[tuple[str, Any]]:
        for k, v in vars(self).items():
            if k != "children" and v not in (0, "", [], {}, None):
                yield k, v

    def __str__(self) -> str:
        lines = []
        for k, v in self._fields():
            if isinstance(v, list):
                lines += [f"{k}: {_text(x)}" for x in v]
            elif isinstance(v, dict):
                lines += [f"{k} {{ key: {a} value: {_text(b)} }}" for a, b in v.items()]
            else:
                lines.append(f"{k}: {_text(v)}")
        for c in self.children:
            inner = str(c).rstrip("\n").replace("\n", "\n  ")
            lines.append("children {\n  " + inner + "\n}")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} total_float_ops={self.total_float_ops} "
                f"total_parameters={self.total_parameters} children={len(self.children)}>")


def _text(v: Any) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(str(x) for x in v) + "]"
    if isinstance(v, _NodeProto):
        return "{ " + str(v).replace("\n", " ") + "}"
    return str(v)


class GraphNodeProto(_NodeProto):
    """tfprof's GraphNodeProto: one graph node (or name scope) with its statistics,
    ``devices``, ``shapes`` (its outputs'), ``input_shapes`` (index -> dims) and ``children``."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.devices: list[str] = []
        self.shapes: list[list[int]] = []
        self.input_shapes: dict[int, list[int]] = {}


class MultiGraphNodeProto(_NodeProto):
    """tfprof's MultiGraphNodeProto: the graph nodes of one op type (op view) or one line of
    Python (code view), in ``graph_nodes``."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.graph_nodes: list[GraphNodeProto] = []


class OpLogEntry:
    """One op's extra information: ``name``, ``float_ops``, ``types`` (e.g.
    ``'_trainable_variables'``)."""

    def __init__(self, name: str = "", float_ops: int = 0, types: Any = ()) -> None:
        self.name = name
        self.float_ops = int(float_ops)
        self.types = list(types)

    def SerializeToString(self) -> bytes:  # noqa: N802 - TF's name
        out = field_bytes(1, self.name.encode())
        if self.float_ops:
            out += field_varint(2, self.float_ops)
        for t in self.types:
            out += field_bytes(3, t.encode())
        return out


class _Entries(list):
    def add(self, **fields: Any) -> OpLogEntry:
        e = OpLogEntry(**fields)
        self.append(e)
        return e


class OpLogProto:
    """tfprof's OpLogProto: ``log_entries`` (``add()`` appends one) and ``id_to_string``."""

    def __init__(self) -> None:
        self.log_entries: list[OpLogEntry] = _Entries()
        self.id_to_string: dict[int, str] = {}

    def SerializeToString(self) -> bytes:  # noqa: N802 - TF's name
        out = b"".join(field_bytes(1, e.SerializeToString()) for e in self.log_entries)
        for i, s in sorted(self.id_to_string.items()):
            out += field_bytes(2, field_varint(1, i) + field_bytes(2, s.encode()))
        return out


def format_number(n: int) -> str:
    """tfprof's FormatNumber: 999, 1.00k, 1.00m, 1.00b."""
    if n < 1000:
        return f"{n}"
    if n < 1000000:
        return f"{n / 1000.0:.2f}k"
    if n < 1000000000:
        return f"{n / 1000000.0:.2f}m"
    return f"{n / 1000000000.0:.2f}b"


def format_time(micros: int) -> str:
    if micros < 1000:
        return f"{micros}us"
    if micros < 1000000:
        return f"{micros / 1000.0:.2f}ms"
    return f"{micros / 1000000.0:.2f}sec"


def format_memory(n: int) -> str:
    if n < 1000:
        return f"{n}B"
    if n < 1000000:
        return f"{n / 1000.0:.2f}KB"
    return f"{n / 1000000.0:.2f}MB"
