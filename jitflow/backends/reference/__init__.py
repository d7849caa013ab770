"""The reference backend: a NumPy interpreter of the IR, the oracle for every other backend.

Control-flow ops (``cond``, ``while``) get their regions as executables of their own, passed
to the op's reference implementation as ``regions=`` (callables: arrays -> arrays), with
the op's result and operand types (``types=``, ``operand_types=``)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ...errors import InvalidArgumentError, OpError
from ...ir.core import Function, Op
from ...ir.opdef import OPS
from ...ir.verifier import verify
from ...ops.narrow_ref import touches_narrow, wrap
from ..base import CompileOptions


def _op_error(op: Op, e: Exception) -> OpError:
    cls = type(e) if isinstance(e, OpError) else InvalidArgumentError
    msg = e.message if isinstance(e, OpError) else f"{type(e).__name__}: {e}"
    args = ", ".join(str(v.type) for v in op.operands)
    err = cls(f"{msg}\n\t [[node {op.loc.tf_name or op.opname} (op {op.opname}({args})) "
              f"defined at {op.loc.file or '<unknown>'}:{op.loc.line}]]")
    err.op = op
    return err


class ReferenceExecutable:
    """Runs the ops in order; values live in a list indexed by slot."""

    def __init__(self, f: Function, _verified: bool = False) -> None:
        if not _verified:
            verify(f, allow_pseudo=False)
        self.function = f
        slot: dict[int, int] = {}
        for v in f.values():
            slot[id(v)] = len(slot)
        self.n_slots = len(slot)
        self.n_params = len(f.params)
        self.plan = []
        for op in f.ops:
            fn = OPS[op.opname].reference
            if touches_narrow(op, OPS[op.opname]):
                fn = wrap(fn, op.opname, [r.type.dtype for r in op.results])
            attrs = op.attrs
            if op.regions:
                attrs = {**attrs, "regions": [ReferenceExecutable(r, True).run for r in op.regions],
                         "types": [r.type for r in op.results],
                         "operand_types": [v.type for v in op.operands]}
            self.plan.append((fn, [slot[id(v)] for v in op.operands], attrs,
                              [slot[id(r)] for r in op.results], op))
        self.result_slots = [slot[id(v)] for v in f.results]

    def run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        env: list = [None] * self.n_slots
        env[:self.n_params] = args
        with np.errstate(all="ignore"):
            for fn, ins, attrs, outs, op in self.plan:
                try:
                    res = fn(*[env[i] for i in ins], **attrs)
                except Exception as e:  # noqa: BLE001 - re-raised with the op's name and line
                    raise _op_error(op, e) from None
                if len(outs) == 1:
                    env[outs[0]] = res
                else:
                    for o, r in zip(outs, res):
                        env[o] = r
        return [env[i] for i in self.result_slots]


class ReferenceBackend:
    name = "reference"

    def compile(self, f: Function, options: Optional[CompileOptions] = None
                ) -> ReferenceExecutable:
        return ReferenceExecutable(f)
