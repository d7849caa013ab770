"""SSA values, ops and functions: the contract between frontend, passes and backends."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Sequence

from .types import TensorType


@dataclass(frozen=True)
class Location:
    """Where an op came from: the TF op name and the user's source line."""

    tf_name: str = ""
    file: str = ""
    line: int = 0

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file else "<unknown>"
        return f"'{self.tf_name}' at {where}" if self.tf_name else where


UNKNOWN_LOC = Location()


class Value:
    """An SSA value: a Function parameter (producer None) or the index-th result of an op."""

    __slots__ = ("type", "producer", "index", "name")

    def __init__(self, type: TensorType, producer: Optional["Op"] = None, index: int = 0,
                 name: str = "") -> None:
        self.type = type
        self.producer = producer
        self.index = index
        self.name = name  # parameter / result label, e.g. "X:0"; informational

    @property
    def dtype(self):
        return self.type.dtype

    @property
    def shape(self):
        return self.type.shape

    def __repr__(self) -> str:
        src = self.producer.opname if self.producer is not None else "param"
        return f"<Value {src}#{self.index} {self.type}>"


class Op:
    """One operation: an OpDef name, operands, attributes, typed results and a location.

    ``regions`` (control-flow ops only) are closed nested Functions: a region sees nothing of
    the enclosing Function; every value it uses comes in as one of its parameters, which the
    op binds to its operands (see ``jitflow/ops/control.py``)."""

    __slots__ = ("opname", "operands", "attrs", "results", "loc", "group", "regions")

    def __init__(self, opname: str, operands: Sequence[Value], attrs: dict[str, Any],
                 result_types: Sequence[TensorType], loc: Location = UNKNOWN_LOC,
                 regions: Sequence["Function"] = ()) -> None:
        self.opname = opname
        self.operands = list(operands)
        self.attrs = dict(attrs)
        self.results = [Value(t, self, i) for i, t in enumerate(result_types)]
        self.loc = loc
        self.group: Optional[int] = None  # fusion group (set by the fusion pass), printed "group(N)"
        self.regions: list[Function] = list(regions)

    @property
    def result(self) -> Value:
        if len(self.results) != 1:
            raise ValueError(f"op {self.opname} has {len(self.results)} results, not 1")
        return self.results[0]

    def __repr__(self) -> str:
        return f"<Op {self.opname} {self.loc}>"


class Function:
    """A single-block SSA function: parameters, ops in order, results."""

    def __init__(self, name: str = "main", params: Sequence[Value] = (),
                 ops: Sequence[Op] = (), results: Sequence[Value] = (),
                 result_names: Sequence[str] = ()) -> None:
        self.name = name
        self.params = list(params)
        self.ops = list(ops)
        self.results = list(results)
        self.result_names = list(result_names) or [""] * len(self.results)

    def add_param(self, type: TensorType, name: str = "") -> Value:
        v = Value(type, None, len(self.params), name)
        self.params.append(v)
        return v

    def set_results(self, values: Sequence[Value], names: Sequence[str] = ()) -> None:
        self.results = list(values)
        self.result_names = list(names) or [""] * len(self.results)

    def users(self) -> dict[Value, list[Op]]:
        out: dict[Value, list[Op]] = {}
        for op in self.ops:
            for v in op.operands:
                out.setdefault(v, []).append(op)
        return out

    def replace_all_uses(self, mapping: dict[Value, Value]) -> None:
        """Rewrite operands and results through ``mapping`` (old value -> new value)."""
        if not mapping:
            return

        def look(v: Value) -> Value:
            while v in mapping:
                v = mapping[v]
            return v

        for op in self.ops:
            op.operands = [look(v) for v in op.operands]
        self.results = [look(v) for v in self.results]

    def values(self) -> Iterator[Value]:
        yield from self.params
        for op in self.ops:
            yield from op.results

    def __str__(self) -> str:
        from .printer import print_function
        return print_function(self)

    def walk(self) -> Iterator[Op]:
        """Every op of this Function and, depth first, of the regions nested in it."""
        for op in self.ops:
            yield op
            for r in op.regions:
                yield from r.walk()

    def clone(self) -> "Function":
        """A deep copy (new Values and Ops, regions included) so passes can work on their own copy."""
        from .printer import print_function
        from .parser import parse_function
        return parse_function(print_function(self))


def walk_operands(values: Iterable[Value]) -> Iterator[Value]:
    """All values reachable backwards from ``values`` (each once)."""
    seen: set[int] = set()
    stack = list(values)
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        yield v
        if v.producer is not None:
            stack.extend(v.producer.operands)
