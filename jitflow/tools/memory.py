"""The ``memory`` stage: the llvm executable's buffers and kernels, as text.

Sizes are polynomials in the symbolic dims of the IR types (``f32[s0,10]`` -> ``40*s0`` bytes);
an unknown dim (``?``) makes a size unknown. Temporaries list the kernels they are live
between: at run time the arena reuses a temporary's space after its last reader, so the sum
of their sizes is an upper bound.
"""
from __future__ import annotations

import json
import textwrap
from typing import Optional

from ..ir.types import TensorType, format_type

Poly = dict  # tuple of symbol names (sorted, with repeats) -> integer coefficient


def size_poly(t: TensorType) -> Optional[Poly]:
    """Bytes of a tensor of type ``t`` as a polynomial, or None when a dim is unknown."""
    if t.shape is None:
        return None
    coeff = t.dtype.np.itemsize
    syms = []
    for d in t.shape:
        if d is None:
            return None
        if isinstance(d, int):
            coeff *= d
        else:
            syms.append(str(d))
    return {tuple(sorted(syms)): coeff} if coeff else {(): 0}


def add_poly(a: Optional[Poly], b: Optional[Poly]) -> Optional[Poly]:
    if a is None or b is None:
        return None
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def format_poly(p: Optional[Poly]) -> str:
    if p is None:
        return "?"
    terms = []
    for syms, c in sorted(p.items(), key=lambda kv: (-len(kv[0]), kv[0])):
        if c == 0:
            continue
        mono = "*".join(syms)
        terms.append(mono if (c == 1 and mono) else (f"{c}*{mono}" if mono else str(c)))
    return " + ".join(terms) or "0"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths)]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def memory_plan_text(exe) -> str:
    """The plan of an ``LLVMExecutable`` (``exe.mb``: ModuleBuilder with buffers/kernels)."""
    f = exe.function
    mb = exe.mb
    names = {id(v): f"%{i}" for i, v in enumerate(f.values())}
    result_idx: dict[int, list[int]] = {}
    for i, v in enumerate(f.results):
        result_idx.setdefault(id(v), []).append(i)

    def vdesc(v) -> str:
        s = names.get(id(v), "%?")
        if v.producer is None:
            return f"{s} param {v.index}" + (f" {json.dumps(v.name)}" if v.name else "")
        op = v.producer
        return f"{s} {op.opname}" + (f" {json.dumps(op.loc.tf_name)}" if op.loc.tf_name else "")

    # liveness of temporaries, as the executable's arena planner computes it
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for n, k in enumerate(mb.kernels):
        for b in k.writes:
            if b.kind in ("temp", "scratch"):
                first.setdefault(b.idx, n)
                last[b.idx] = max(last.get(b.idx, n), n)
        for b in k.reads:
            if b.kind == "temp":
                last[b.idx] = n

    totals: dict[str, Optional[Poly]] = {}
    rows = [["buf", "kind", "type", "bytes", "holds", "notes"]]
    kind_order = {"param": 0, "result": 1, "donated": 2, "const": 3, "temp": 4, "scratch": 5}
    scratch = _scratch_sizes(exe)
    for b in sorted(mb.buffers, key=lambda b: (kind_order.get(b.kind, 9), b.idx)):
        if b.value is None:          # a kernel's private scratch space: no IR value
            rows.append([f"#{b.idx}", b.kind, "-", scratch[b.idx][0], _owner(mb, b),
                         "; ".join(filter(None, [f"live k{first[b.idx]}..k{last[b.idx]}"
                                                 if b.idx in first else "", scratch[b.idx][1]]))])
            continue
        size = size_poly(b.value.type)
        totals[b.kind] = add_poly(totals.get(b.kind, {}), size)
        notes = []
        if b.kind == "result":
            notes.append("result " + ", ".join(map(str, result_idx.get(id(b.value), [b.ref]))))
        elif b.kind == "donated":
            p = f.params[b.ref]
            notes.append(f"result {', '.join(map(str, result_idx.get(id(b.value), [])))} written "
                         f"in place into param {b.ref}" + (f" {json.dumps(p.name)}" if p.name else ""))
        elif b.kind == "temp":
            if b.idx in first:
                notes.append(f"live k{first[b.idx]}..k{last.get(b.idx, first[b.idx])}")
        elif b.kind == "const" and b.array is not None:
            notes.append(f"{b.array.size} element(s) held by the executable")
        rows.append([f"#{b.idx}", b.kind, format_type(b.value.type), format_poly(size),
                     vdesc(b.value), "; ".join(notes)])

    syms = []
    for p in f.params:
        for a, d in enumerate(p.type.shape or ()):
            if isinstance(d, str) and d not in [s for s, _ in syms]:
                syms.append((d, f"dim {a} of param {p.index}" + (f" {json.dumps(p.name)}" if p.name else "")))

    lines = [f"memory plan of @{f.name} on llvm: {len(mb.buffers)} buffers, {len(mb.kernels)} kernels"]
    if syms:
        lines.append("symbolic dims: " + "; ".join(f"{s} = {w}" for s, w in syms))
    lines.append("")
    lines.append("buffers (sizes in bytes):")
    lines += _table(rows)

    # results: which buffer each comes from
    lines.append("")
    lines.append("results:")
    rrows = []
    for i, v in enumerate(f.results):
        b = mb.storage.get(id(v))
        label = f.result_names[i] if i < len(f.result_names) else ""
        where = "-" if b is None else f"#{b.idx} ({b.kind})"
        if b is not None and b.kind == "const":
            where += ", copied per run"
        elif b is not None and b.kind == "param" and i in mb.applied_donations:
            where += ", written in place (donated)"
        elif b is not None and b.kind == "param":
            where += ", the parameter itself"
        rrows.append([str(i), json.dumps(label) if label else "", names.get(id(v), "%?"), where])
    lines += _table(rrows) if rrows else ["  (none)"]

    # views and values never computed
    in_kernel = {id(op) for k in mb.kernels for op in k.ops}
    views, skipped = [], []
    for op in f.ops:
        if id(op) in in_kernel or op.opname == "constant":
            continue
        r = op.results[0] if op.results else None
        b = mb.storage.get(id(r)) if r is not None else None
        if b is not None and b.value is not r:
            views.append(f"{names[id(r)]} {op.opname} -> #{b.idx}")
        elif r is not None and id(r) not in getattr(mb, "needed", {id(r)}):
            skipped.append(f"{names[id(r)]} {op.opname}")
    if views:
        lines.append("")
        lines += textwrap.wrap("views (share their source's buffer): " + ", ".join(views),
                               100, subsequent_indent="  ")
    if skipped:
        lines.append("")
        lines += textwrap.wrap("not computed (only their shapes are used): " + ", ".join(skipped),
                               100, subsequent_indent="  ")

    lines.append("")
    lines.append("kernels, in execution order:")
    kw = max([len(k.name) for k in mb.kernels] + [2])
    tw = max([len(k.kind) for k in mb.kernels] + [2])
    for k in mb.kernels:
        group = k.ops[-1].group if k.ops else None
        head = f"  {k.name.ljust(kw)}  {k.kind.ljust(tw)}  "
        head += (f"group({group})" if group is not None else "").ljust(10)
        head += "  reads " + (" ".join(f"#{b.idx}" for b in k.reads) or "-")
        head += "  writes " + (" ".join(f"#{b.idx}" for b in k.writes) or "-")
        lines.append(head)
        ops = ", ".join(f"{names.get(id(op.results[0]), '%?') if op.results else ''} {op.opname}"
                        .strip() for op in k.ops)
        lines += textwrap.wrap("ops: " + ops, 100, initial_indent="      ",
                               subsequent_indent="        ")

    lines.append("")
    lines.append("totals (bytes):")
    for kind in ("param", "result", "donated", "const", "temp"):
        if kind in totals:
            note = "  (upper bound: the arena reuses space after a temp's last reader)" \
                if kind == "temp" else ""
            lines.append(f"  {kind:<8} {format_poly(totals[kind])}{note}")
    if scratch:
        lines.append(f"  scratch  {len(scratch)} kernel-private buffer(s) sized per input shape "
                     "(see their rows), planned in the arena beside the temps")
    return "\n".join(lines) + "\n"


class _Shaped:
    """Stands in for an argument array where only the shape is read (run_shapes)."""

    def __init__(self, shape: tuple) -> None:
        self.shape = shape


def _scratch_sizes(exe) -> dict[int, tuple[str, str]]:
    """buffer idx -> (bytes column, note) for each scratch buffer: the exact size when every
    param's shape is static, else its size at two example sizes of the symbolic dims (a
    scratch size is a function of the concrete shapes, e.g. an im2col chunk capped by a
    budget, not a polynomial)."""
    from ..kernels.shapes import run_shapes
    bufs = [b for b in exe.mb.buffers if b.kind == "scratch"]
    if not bufs:
        return {}
    f = exe.function
    syms = sorted({d for p in f.params for d in (p.type.shape or ()) if isinstance(d, str)})
    unknown = any(p.type.shape is None or None in p.type.shape for p in f.params)

    def sizes_at(n: int) -> Optional[dict[int, int]]:
        args = [_Shaped(tuple(n if isinstance(d, str) else d for d in p.type.shape))
                for p in f.params]
        try:
            shapes = run_shapes(f, args)
            return {b.idx: int(b.nbytes(shapes)) for b in bufs}
        except Exception:  # noqa: BLE001 - a shape rule refusing the example sizes
            return None

    out: dict[int, tuple[str, str]] = {}
    if unknown:
        return {b.idx: ("?", "sized per input shape (a param has an unknown dim)") for b in bufs}
    if not syms:
        exact = sizes_at(1) or {}
        return {b.idx: (str(exact.get(b.idx, "?")), "") for b in bufs}
    small, big = sizes_at(1), sizes_at(1000)
    names = ",".join(syms)
    for b in bufs:
        parts = [f"{d[b.idx]} at {names}={n}" for n, d in ((1, small), (1000, big)) if d]
        out[b.idx] = ("per shape", "sized per input shape: " + (", ".join(parts) or "?"))
    return out


def _owner(mb, b) -> str:
    for k in mb.kernels:
        if b in k.writes:
            return f"scratch of {k.name}"
    return "scratch"
