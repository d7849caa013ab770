"""Stable value names for the dump tool: a value is named after what produced it -- a
parameter by its label (``%Placeholder:0``), an op's result by the op's TF name and kind
(``%MatMul_1:matmul``, ``%gradients/Tanh_grad:sub``; ``.1``, ``.2`` for further results),
numbered (``#2``) only among ops of one TF name and kind -- instead of by its position. A pass that removes or
adds ops then leaves every other line of the text unchanged, so ``dump-ir --diff`` shows only
what the pass changed. This is a rendering of the dump tool; the IR's own printer (and the
text ``jitflow.ir.parse`` reads) keeps its ``%N`` numbering."""
from __future__ import annotations

import json
import re

from ..ir.core import Function
from ..ir.printer import format_op
from ..ir.types import format_type

_UNSAFE = re.compile(r"[^\w./:-]")


def stable_names(f: Function) -> dict[int, str]:
    names: dict[int, str] = {}
    seen: dict[str, int] = {}

    def claim(base: str) -> str:
        n = seen.get(base, 0) + 1
        seen[base] = n
        return base if n == 1 else f"{base}#{n}"

    for i, p in enumerate(f.params):
        names[id(p)] = "%" + claim(_UNSAFE.sub("_", p.name) if p.name else f"arg{i}")
    for op in f.ops:
        base = f"{_UNSAFE.sub('_', op.loc.tf_name)}:{op.opname}" if op.loc.tf_name else op.opname
        stem = claim(base)
        for k, r in enumerate(op.results):
            names[id(r)] = "%" + (stem if k == 0 else f"{stem}.{k}")
    return names


def stable_text(f: Function) -> str:
    """``f`` printed like ``print_function`` but with stable value names."""
    names = stable_names(f)
    params = ", ".join(f"{names[id(p)]}: {format_type(p.type)}" for p in f.params)
    res = ", ".join(format_type(v.type) + (f" {json.dumps(n)}" if n else "")
                    for v, n in zip(f.results, f.result_names))
    lines = [f"func @{f.name}({params}) -> ({res}) {{"]
    lines += ["  " + format_op(op, names) for op in f.ops]
    lines.append("  return " + ", ".join(names.get(id(v), "%<undefined>") for v in f.results))
    return "\n".join(lines + ["}"]) + "\n"
