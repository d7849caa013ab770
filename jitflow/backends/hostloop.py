"""Control flow on a native backend, driven from the host.

A Function holding ``cond``/``while`` ops runs as a list of steps: the straight-line runs of
ops between control ops become sub-Functions compiled by the backend (one native call each),
and each control op runs its regions, each compiled ONCE (to native code, or again as a
host-driven executable when it nests control flow) and called per trip. A ``while`` loop's
body and condition are compiled together into one step region (body, then the condition on
the new values), so a trip is one native call: Python only moves array references between
trips, and the loop's semantics (``maximum_iterations``, per-trip stacks for gradients and
``num_stacked``) are ``ops/control.run_while``, the reference interpreter's own.

The backend gives two callables: ``compile_leaf(Function) -> Executable`` for a Function
without control ops, and ``prepare(Function) -> Function``, its pass pipeline for a region
(regions are not fused by the top-level pipeline) or a segment (re-fused on its own). cuda
subclasses the driver (``backends/cuda/control.py``: values stay on the device, predicates are
read back).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from ..ir.builder import Builder
from ..ir.core import Function, Op, Value
from ..ir.opdef import OPS
from ..ops.control import run_while
from ..ops.control_grad import inline
from .loopbuffers import buffered_while

Leaf = Callable[[Function], object]
Prepare = Callable[[Function], Function]


def has_control(f: Function) -> bool:
    return any(op.regions for op in f.ops)


def compile_any(f: Function, compile_leaf: Leaf, prepare: Prepare,
                driver: Optional[type] = None):
    """An executable for a prepared Function: native as a whole, or host-driven (by
    ``driver``, a HostDriven class; default HostDriven)."""
    d = driver or HostDriven
    return d(f, compile_leaf, prepare) if d.needs(f) else compile_leaf(f)


def _segment(f: Function, ops: Sequence[Op], outputs: Sequence[Value], k: int
             ) -> tuple[Function, list[Value]]:
    """``ops`` (straight-line, in order) as a closed Function giving ``outputs``; returns it
    and the outer values it takes as parameters."""
    sub = Function(f"{f.name}_part{k}")
    env: dict[int, Value] = {}
    inputs: list[Value] = []
    for op in ops:
        for v in op.operands:
            if id(v) not in env:
                env[id(v)] = sub.add_param(v.type, v.name)
                inputs.append(v)
        new = Op(op.opname, [env[id(v)] for v in op.operands], op.attrs,
                 [r.type for r in op.results], op.loc)
        for r, nr in zip(op.results, new.results):
            env[id(r)] = nr
        sub.ops.append(new)
    sub.set_results([env[id(v)] for v in outputs])
    return sub, inputs


def step_region(cond_r: Function, body_r: Function, n: int, m: int) -> Function:
    """One trip of a while loop as one region: the body's results (carried, stacked), then
    the condition on the new carried values (and the same invariants)."""
    f = Function(f"{body_r.name}_step")
    ps = [f.add_param(p.type) for p in body_r.params]
    b = Builder(f.ops)
    outs = inline(body_r, ps, b)
    pred = inline(cond_r, outs[:n] + ps[n:], b)
    f.set_results(outs + pred)
    return f


def _counters(f: Function, n: int) -> dict[int, int]:
    """Carried parameters of a step region that count by one: position -> +1 or -1 (its
    next value is ``param + 1`` or ``param - 1``)."""
    out = {}
    for c in range(n):
        p, r = f.params[c], f.results[c]
        op = r.producer
        if (op is None or op.opname not in ("add", "sub") or p.type.shape != ()
                or not p.type.dtype.is_integer or op.operands[0] is not p):
            continue
        k = op.operands[1].producer
        if k is not None and k.opname == "constant" and k.attrs["value"].size == 1 \
                and int(k.attrs["value"].reshape(-1)[0]) == 1:
            out[c] = 1 if op.opname == "add" else -1
    return out


def row_params(f: Function, n: int) -> list[tuple[int, int, int]]:
    """Rewrite the step region ``f``: a ``gather`` of an invariant's row at a counting
    carried value (a loop's time index) becomes a parameter of its own, appended, that the
    loop driver points at that row (no copy). Returns (invariant param, counter param,
    direction) per new parameter."""
    counting = _counters(f, n)
    pos = {id(p): i for i, p in enumerate(f.params)}
    rows, mapping, keep = [], {}, []
    for op in f.ops:
        if op.opname == "gather" and op.attrs["axis"] == 0:
            src, idx = op.operands
            j, c = pos.get(id(src), -1), pos.get(id(idx), -1)
            if j >= n and c in counting and src.type.shape:
                mapping[op.results[0]] = f.add_param(op.results[0].type)
                rows.append((j, c, counting[c]))
                continue
        keep.append(op)
    if rows:
        f.ops = keep
        f.replace_all_uses(mapping)
    return rows


class _RowStep:
    """The step's runner for the generic loop (``run_while``): appends each row parameter,
    read (gather semantics and errors) from its invariant at the counter's value."""

    def __init__(self, step, rows: list) -> None:
        from ..ops.gather import _gather_ref
        self.step, self.rows, self.gather = step, rows, _gather_ref

    def run(self, args: list) -> list:
        extra = [self.gather(np.asarray(args[j]), np.asarray(args[c]), 0)
                 for j, c, _ in self.rows]
        return self.step.run(list(args) + extra)


class _While:
    def __init__(self, op: Op, compile_region: Callable[[Function], object]) -> None:
        cond_r, body_r = op.regions
        self.attrs = dict(op.attrs)
        n, m = self.attrs["num_carried"], self.attrs["num_stacked"]
        self.cond = compile_region(cond_r)
        step = step_region(cond_r, body_r, n, m)
        self.rows = row_params(step, n)
        self.step = compile_region(step)
        self.types = [r.type for r in op.results]
        self.operand_types = [v.type for v in op.operands]
        self.parts = [self.cond, self.step]
        self.last_trips = 0             # the last run's trips: the next run's buffer size

    def __call__(self, args: list) -> list:
        a = self.attrs
        if hasattr(self.step, "run_into"):
            out = buffered_while(self.cond.run, self.step, args, a["num_carried"],
                                 a["maximum_iterations"], a["record"], a["num_stacked"],
                                 self.types, self.last_trips, self.rows)
            if out is not None:
                if a["num_stacked"] or a["record"]:
                    self.last_trips = len(out[a["num_carried"]]) if a["num_stacked"] \
                        else int(out[-1])
                return out
        step = _RowStep(self.step, self.rows).run if self.rows else self.step.run
        return run_while(self.cond.run, None, args, a["num_carried"], a["maximum_iterations"],
                         a["record"], a["num_stacked"], self.types, step=step,
                         operand_types=self.operand_types)


class _Cond:
    def __init__(self, op: Op, compile_region: Callable[[Function], object]) -> None:
        self.parts = [compile_region(r) for r in op.regions]

    def __call__(self, args: list) -> list:
        then, other = self.parts
        return (then if bool(args[0]) else other).run(list(args[1:]))


#: the control ops the host driver runs
CONTROL = {"while": _While, "cond": _Cond}


class _HostStep:
    """One host op (kind ``host``) inside a host-driven Function: the reference interpreter
    runs it on the arrays between the compiled segments around it."""

    def __init__(self, op: Op) -> None:
        from .reference import ReferenceExecutable
        f = Function(f"host_{op.opname}")
        ps = [f.add_param(v.type, v.name) for v in op.operands]
        new = Op(op.opname, ps, op.attrs, [r.type for r in op.results], op.loc, op.regions)
        f.ops.append(new)
        f.set_results(list(new.results))
        self.exe = ReferenceExecutable(f)
        self.parts: list = []

    def __call__(self, args: list) -> list:
        return self.exe.run(list(args))


class HostDriven:
    """An executable for a Function with control ops (see the module docstring). A backend
    may subclass it (cuda: ``backends/cuda/control.py``): ``control`` (op name -> runner
    class), ``breaks``/``runner`` (which ops the driver runs itself, and how) and ``copy`` (a
    private copy of a result or donated operand) are its hooks; nested control flow is
    driven by the same class."""

    control: dict = CONTROL

    @staticmethod
    def breaks(op: Op) -> bool:
        """Whether the driver runs ``op`` itself, between compiled segments: control ops, and
        host ops (kind ``host``: data-dependent shapes, callbacks), which the Session places
        on the host at the top level but which may also sit inside a loop or a cond."""
        return bool(op.regions) or OPS[op.opname].kind == "host"

    @classmethod
    def needs(cls, f: Function) -> bool:
        """Whether ``f`` needs this driver (else it compiles as one leaf)."""
        return any(cls.breaks(op) for op in f.ops)

    def runner(self, op: Op, compile_region: Callable[[Function], object]):
        """The callable (operands -> results) running ``op``; its ``parts`` are compiled."""
        if not op.regions and OPS[op.opname].kind == "host":
            return _HostStep(op)
        if op.opname not in self.control:
            raise NotImplementedError(f"no host driver for control op {op.opname!r} "
                                      f"({op.loc})")
        return self.control[op.opname](op, compile_region)

    def __init__(self, f: Function, compile_leaf: Leaf, prepare: Prepare,
                 donations: Optional[dict[int, int]] = None) -> None:
        """``donations`` (result index -> parameter index: a variable's update may overwrite
        its old value) apply to the last straight-line segment, the one that computes the
        updates after every loop; a run whose other results still hold the old array (a
        fetched variable, a loop that returned it) donates a copy instead."""
        self.function = f
        slot = {id(v): i for i, v in enumerate(f.values())}
        self.n_slots, self.n_params = len(slot), len(f.params)
        last: dict[int, float] = {}
        for i, op in enumerate(f.ops):
            for v in op.operands:
                last[id(v)] = i
        for v in f.results:
            last[id(v)] = float("inf")

        def compile_region(r: Function):
            return compile_any(prepare(r.clone()), compile_leaf, prepare, type(self))

        #: (run: list -> list, operand slots, result slots)
        self.steps: list[tuple[Callable, list[int], list[int]]] = []
        self.parts: list = []
        seg: list[Op] = []

        self.guards: list[int] = []        # operand positions of the last step it donates

        def flush(end: int) -> None:
            outs = [r for op in seg for r in op.results if last.get(id(r), -1) >= end]
            if outs:
                sub, ins = _segment(f, seg, outs, len(self.steps))
                don = {}
                if end == len(f.ops) and donations:
                    pos = {id(v): j for j, v in enumerate(outs)}
                    arg = {id(v): q for q, v in enumerate(ins)}
                    for r, p in donations.items():
                        v, prm = f.results[r], f.params[p]
                        if id(v) in pos and id(prm) in arg and \
                                not any(x is prm for x in f.results):
                            don[pos[id(v)]] = arg[id(prm)]
                exe = compile_leaf(prepare(sub), don) if don else compile_leaf(prepare(sub))
                self.guards = sorted(set(getattr(exe, "donated", {}).values())) if don else []
                self.parts.append(exe)
                self.steps.append((exe.run, [slot[id(v)] for v in ins],
                                   [slot[id(v)] for v in outs]))
            seg.clear()

        for i, op in enumerate(f.ops):
            if not self.breaks(op):
                seg.append(op)
                continue
            flush(i)
            runner = self.runner(op, compile_region)
            self.parts += getattr(runner, "parts", [])
            self.steps.append((runner, [slot[id(v)] for v in op.operands],
                               [slot[id(r)] for r in op.results]))
        flush(len(f.ops))
        self.result_slots = [slot[id(v)] for v in f.results]
        self.duplicate = [i for i, s in enumerate(self.result_slots)
                          if s in self.result_slots[:i]]

    def run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(args) != self.n_params:
            from ..errors import InvalidArgumentError
            raise InvalidArgumentError(f"expected {self.n_params} arguments, got {len(args)}")
        env: list = [None] * self.n_slots
        env[:self.n_params] = args
        last = len(self.steps) - 1
        for k, (run, ins, outs) in enumerate(self.steps):
            operands = [env[i] for i in ins]
            if k == last and self.guards:
                held = [env[s] for s in self.result_slots if s not in outs]
                for q in self.guards:          # still returned elsewhere: donate a copy
                    if any(h is operands[q] for h in held):
                        operands[q] = self.copy(operands[q])
            res = run(operands)
            for o, r in zip(outs, res):
                env[o] = r
        out = [env[i] for i in self.result_slots]
        for i in self.duplicate:
            out[i] = self.copy(out[i])
        return out

    @staticmethod
    def copy(x):
        return np.array(x, copy=True)

    def close(self) -> None:
        for p in self.parts:
            close = getattr(p, "close", None)
            if close is not None:
                close()

    @property
    def compile_seconds(self) -> float:
        return sum(getattr(p, "compile_seconds", 0.0) for p in self.parts)


__all__ = ["CONTROL", "HostDriven", "compile_any", "has_control", "step_region"]
