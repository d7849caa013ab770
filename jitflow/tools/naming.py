"""Stable value names for the dump tool, the same in every stage of one compilation.

A parameter is named by its label (``%Placeholder:0``); an op's result by the op's TF name
(``%MatMul_1``), with the op kind added when several ops share that TF name
(``%gradients/Tanh_grad:sub``), ``#2``... among ops of one name and kind, and ``.1``, ``.2``
for further results. The first stage is named on its own; each later stage is *matched*
against the one before it (``chain_names``): an op keeps its predecessor's name when it has the
same TF name and kind (the best match by operands, attributes and result types wins), or when
it replaced the only op of its TF name (constant folding turns ``Sub_3 = sub(..)`` into
``Sub_3 = constant()``); only ops no earlier stage had get fresh names. A pass that removes or
rewrites a few ops therefore leaves every other line of the text unchanged, and
``dump-ir --diff`` shows what the pass changed: removed and added ops, and the uses it rewired.
This is a rendering of the dump tool; the IR's own printer (and the text ``jitflow.ir.parse``
reads) keeps its ``%N`` numbering."""
from __future__ import annotations

import json
import re
from collections import Counter
from typing import Optional, Sequence

from ..ir.core import Function, Op
from ..ir.printer import format_attr, format_op
from ..ir.types import format_type

_UNSAFE = re.compile(r"[^\w./:-]")

Names = dict  # id(Value) -> "%name"


def _tf(op: Op) -> str:
    return _UNSAFE.sub("_", op.loc.tf_name)


def _attrs(op: Op) -> str:
    parts = []
    for k in sorted(op.attrs):
        try:
            parts.append(f"{k}={format_attr(op.attrs[k])}")
        except TypeError:
            parts.append(f"{k}={op.attrs[k]!r}")
    return ",".join(parts)


def _types(op: Op) -> tuple:
    return tuple(format_type(r.type) for r in op.results)


class _Namer:
    """Hands out names not taken in this stage nor any earlier one."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken

    def claim(self, base: str) -> str:
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}#{n}"
        self.taken.add(name)
        return name


def _param_names(f: Function, names: Names) -> None:
    seen: Counter = Counter()
    for i, p in enumerate(f.params):
        base = _UNSAFE.sub("_", p.name) if p.name else f"arg{i}"
        seen[base] += 1
        names[id(p)] = "%" + (base if seen[base] == 1 else f"{base}#{seen[base]}")


def _set_op_names(op: Op, stem: str, names: Names) -> None:
    for k, r in enumerate(op.results):
        names[id(r)] = stem if k == 0 else f"{stem}.{k}"


def _fresh(f: Function, ops: Sequence[Op], names: Names, namer: _Namer) -> None:
    per_tf = Counter(_tf(op) for op in f.ops if _tf(op))
    for op in ops:
        tf = _tf(op)
        base = (tf if per_tf[tf] == 1 else f"{tf}:{op.opname}") if tf else op.opname
        _set_op_names(op, "%" + namer.claim(base), names)


def _score(op: Op, cand: Op, names: Names, prev_names: Names) -> int:
    s = 0
    ours = [names.get(id(v)) for v in op.operands]
    theirs = [prev_names.get(id(v)) for v in cand.operands]
    if None not in ours and ours == theirs:
        s += 4
    if _attrs(op) == _attrs(cand):
        s += 2
    if _types(op) == _types(cand):
        s += 1
    return s


def _match(f: Function, prev: Function, prev_names: Names, names: Names,
           namer: _Namer) -> None:
    """Names for ``f``'s ops, carried over from ``prev`` where an op survived the pass."""
    by_key: dict[tuple, list[Op]] = {}
    for op in prev.ops:
        if op.results:
            by_key.setdefault((_tf(op), op.opname), []).append(op)
    used: set[int] = set()
    unmatched: list[Op] = []
    for op in f.ops:                 # in order: an op's operands are named before it
        cands = [c for c in by_key.get((_tf(op), op.opname), []) if id(c) not in used]
        if not op.results or not cands:
            unmatched.append(op)
            continue
        best = max(cands, key=lambda c: _score(op, c, names, prev_names))  # first of equals
        used.add(id(best))
        _set_op_names(op, prev_names[id(best.results[0])], names)
    # an op that replaced the only op of its TF name (a folded constant) keeps that name
    left = {}
    for op in prev.ops:
        tf = _tf(op)
        if op.results and id(op) not in used and tf and prev_names[id(op.results[0])] == "%" + tf:
            left[tf] = op
    rest = []
    for op in unmatched:
        cand = left.get(_tf(op))
        if cand is not None and op.results and _types(op)[:1] == _types(cand)[:1]:
            del left[_tf(op)]
            _set_op_names(op, prev_names[id(cand.results[0])], names)
        else:
            rest.append(op)
    _fresh(f, rest, names, namer)


def chain_names(functions: Sequence[Function]) -> list[Names]:
    """Stable names for consecutive stages of one compilation (see the module docstring)."""
    out: list[Names] = []
    taken: set[str] = set()
    prev: Optional[tuple[Function, Names]] = None
    for f in functions:
        names: Names = {}
        _param_names(f, names)
        stage_taken = set(taken) | {n[1:] for n in names.values()}
        namer = _Namer(stage_taken)
        if prev is None:
            _fresh(f, f.ops, names, namer)
        else:
            _match(f, prev[0], prev[1], names, namer)
        taken = stage_taken          # every name handed out so far, this stage's included
        out.append(names)
        prev = (f, names)
    return out


def stable_names(f: Function) -> Names:
    """Stable names of one Function on its own."""
    return chain_names([f])[0]


def stable_text(f: Function, names: Optional[Names] = None) -> str:
    """``f`` printed like ``print_function`` but with stable value names."""
    names = stable_names(f) if names is None else names
    params = ", ".join(f"{names[id(p)]}: {format_type(p.type)}" for p in f.params)
    res = ", ".join(format_type(v.type) + (f" {json.dumps(n)}" if n else "")
                    for v, n in zip(f.results, f.result_names))
    lines = [f"func @{f.name}({params}) -> ({res}) {{"]
    lines += ["  " + format_op(op, names) for op in f.ops]
    lines.append("  return " + ", ".join(names.get(id(v), "%<undefined>") for v in f.results))
    return "\n".join(lines + ["}"]) + "\n"


def change_summary(a: Function, na: Names, b: Function, nb: Names) -> str:
    """One line: the ops a pass removed and added (by kind) and how many it rewrote."""
    def keyed(f: Function, n: Names) -> dict[str, tuple[str, str]]:
        return {n[id(op.results[0])]: (op.opname, format_op(op, n))
                for op in f.ops if op.results}
    ka, kb = keyed(a, na), keyed(b, nb)
    removed = Counter(ka[k][0] for k in ka if k not in kb)
    added = Counter(kb[k][0] for k in kb if k not in ka)
    rewritten = sum(1 for k in kb if k in ka and ka[k][1] != kb[k][1])

    def kinds(c: Counter) -> str:
        return ", ".join(f"{n} {k}" for k, n in c.most_common())
    parts = [f"{sum(removed.values())} op(s) removed" + (f" ({kinds(removed)})" if removed else ""),
             f"{sum(added.values())} added" + (f" ({kinds(added)})" if added else ""),
             f"{rewritten} rewritten (operands, attributes or fusion group)"]
    return "; ".join(parts)
