"""Run-time errors of compiled kernels: one status code per message, and the wording.

A kernel reports a failing check (a bad label, an integer division by zero, a NaN under
check_numerics) as ``code = index + 1`` in one status word, keeping the smallest code: codes
follow program order, so the earliest failing op wins. An *exact* message depends on run-time
values (the offending index); the executable re-runs the reference interpreter to word it.
"""
from __future__ import annotations

from typing import Iterable

from ..ir.core import Op


class UnsupportedOp(NotImplementedError):
    """Ops a backend has no lowering for; ``ops`` names them."""

    def __init__(self, backend: str, ops: Iterable[str]) -> None:
        self.backend = backend
        self.ops = set(ops)
        super().__init__(f"the {backend} backend has no lowering for op(s) {sorted(self.ops)}")


class ErrorTable:
    """The run-time error messages of one executable, numbered from 1."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.exact: set[int] = set()

    def code(self, message: str, exact: bool = False) -> int:
        if message not in self.messages:
            self.messages.append(message)
        c = self.messages.index(message) + 1
        if exact:
            self.exact.add(c)
        return c

    def message(self, code: int) -> str:
        return self.messages[code - 1] if 0 < code <= len(self.messages) else \
            f"kernel status {code}"


def op_where(op: Op) -> str:
    """The reference backend's wording of where an op is: node, operands, source line."""
    args = ", ".join(str(v.type) for v in op.operands)
    return (f"\n\t [[node {op.loc.tf_name or op.opname} (op {op.opname}({args})) "
            f"defined at {op.loc.file or '<unknown>'}:{op.loc.line}]]")
