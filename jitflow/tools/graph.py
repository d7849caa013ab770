"""Pictures of IR Functions: Graphviz DOT and SVG (through Graphviz's ``dot``); the HTML page
is tools/page.py.

In the DOT graph each op is a node labelled with its value number, op name, result type(s)
and TF name (attributes and ``file:line`` in the tooltip); parameters are green inverted
houses, results red houses, constants small notes; ops of one fusion group are drawn inside
``subgraph cluster_N``. Dashed edges are operands whose shape only is used.

``dot`` is looked up on PATH (or ``JITFLOW_DOT``); without it, SVG fails with a message that
says how to install Graphviz, while DOT output still works.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Optional

from ..ir.core import Function, Op
from ..ir.printer import format_attr
from ..ir.types import format_type
from ..passes.fusion import shape_only as _shape_only

INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
                "`dnf install graphviz` (Fedora), `brew install graphviz` (macOS) or "
                "`conda install graphviz`; `--format dot` works without it")

GROUP_COLORS = ["#dae8fc", "#d5e8d4", "#fff2cc", "#f8cecc", "#e1d5e7", "#ffe6cc", "#e6f2f2",
                "#f5f5f5"]


class GraphvizMissing(RuntimeError):
    pass


def _q(s: str) -> str:
    """A DOT double-quoted string (``\\n`` in ``s`` stays a line break)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short_attrs(op: Op, limit: int = 48) -> str:
    parts = []
    for k in sorted(op.attrs):
        v = op.attrs[k]
        if k == "value" and op.opname == "constant":
            continue
        if v is False:                 # e.g. transpose_a=false: the default, left out
            continue
        try:
            text = format_attr(v)
        except TypeError:
            text = repr(v)
        parts.append(f"{k}={text}")
    s = ", ".join(parts)
    return s if len(s) <= limit else ""


def _const_label(op: Op) -> str:
    a = op.attrs.get("value")
    if a is not None and getattr(a, "size", 2) == 1:
        x = a.reshape(()).item()
        return f"{x:.7g}" if isinstance(x, float) else format_attr(x)
    return "" if a is None else f"{a.size} values"


def function_to_dot(f: Function, title: str = "") -> str:
    names = {id(v): f"%{i}" for i, v in enumerate(f.values())}
    node_of: dict[int, tuple[str, int]] = {}   # id(Value) -> (node id, result index)
    lines = [f"digraph {_q(title or f.name)} {{",
             f"  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=12, labelloc=t, "
             f"label={_q(title or f.name)}, nodesep=0.25, ranksep=0.35];",
             "  node [fontname=\"Helvetica\", fontsize=10, shape=box, style=\"rounded,filled\", "
             "fillcolor=white, color=\"#444444\"];",
             "  edge [color=\"#555555\", arrowsize=0.6, fontsize=8, fontname=\"Helvetica\"];"]
    for i, p in enumerate(f.params):
        nid = f"p{i}"
        node_of[id(p)] = (nid, 0)
        label = f"{names[id(p)]} param {i}" + (f"\n{p.name}" if p.name else "") + f"\n{format_type(p.type)}"
        lines.append(f"  {nid} [shape=invhouse, style=filled, fillcolor=\"#b9e0a5\", "
                     f"label={_q(label)}];")
    body: dict[Optional[int], list[str]] = {}
    for n, op in enumerate(f.ops):
        nid = f"n{n}"
        for r in op.results:
            node_of[id(r)] = (nid, r.index)
        lhs = ", ".join(names[id(r)] for r in op.results)
        types = ", ".join(format_type(r.type) for r in op.results)
        tip = [f"{lhs} = {op.opname}" if lhs else op.opname]
        if op.loc.tf_name:
            tip.append(f"TF op: {op.loc.tf_name}")
        if op.loc.file:
            tip.append(f"at {op.loc.file}:{op.loc.line}")
        attrs_full = []
        for k in sorted(op.attrs):
            try:
                text = format_attr(op.attrs[k])
            except TypeError:
                text = repr(op.attrs[k])
            attrs_full.append(f"{k} = {text if len(text) <= 80 else text[:77] + '...'}")
        tip += attrs_full
        if op.opname == "constant":
            label = f"{lhs} = {_const_label(op)}\n{types}"
            if op.loc.tf_name:
                label += f"\n{op.loc.tf_name}"
            attr = "shape=note, style=filled, fillcolor=\"#f5f5f5\", fontsize=8, height=0.3"
        else:
            label = f"{lhs} = {op.opname}" if lhs else op.opname
            short = _short_attrs(op)
            if short:
                label += f"\n{{{short}}}"
            label += f"\n{types}"
            if op.loc.tf_name:
                label += f"\n{op.loc.tf_name}"
            attr = "shape=box"
            if op.opname == "gradients":
                attr += ", fillcolor=\"#ffe6cc\""
        line = f"{nid} [{attr}, label={_q(label)}, tooltip={_q(chr(10).join(tip))}];"
        body.setdefault(op.group, []).append(line)
    for line in body.get(None, []):
        lines.append("  " + line)
    for g in sorted(k for k in body if k is not None):
        color = GROUP_COLORS[g % len(GROUP_COLORS)]
        lines.append(f"  subgraph cluster_{g} {{")
        lines.append(f"    label={_q(f'group({g})')}; style=\"rounded,filled\"; "
                     f"fillcolor={_q(color)}; color=\"#6c8ebf\"; fontsize=10;")
        for line in body[g]:
            lines.append("    " + line)
        lines.append("  }")
    for i, (v, name) in enumerate(zip(f.results, f.result_names)):
        label = f"result {i}" + (f"\n{name}" if name else "") + f"\n{format_type(v.type)}"
        lines.append(f"  r{i} [shape=house, style=filled, fillcolor=\"#f4b6b6\", label={_q(label)}];")
    # edges
    for n, op in enumerate(f.ops):
        shape_only = _shape_only(op)
        for k, v in enumerate(op.operands):
            src = node_of.get(id(v))
            if src is None:
                continue
            attrs = []
            if src[1] or (v.producer is not None and len(v.producer.results) > 1):
                attrs.append(f"taillabel={_q(':' + str(src[1]))}")
            if k in shape_only:
                attrs.append("style=dashed, tooltip=\"shape only\"")
            lines.append(f"  {src[0]} -> n{n}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    for i, v in enumerate(f.results):
        src = node_of.get(id(v))
        if src is not None:
            lines.append(f"  {src[0]} -> r{i} [color=\"#b85450\"];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_program() -> Optional[str]:
    override = os.environ.get("JITFLOW_DOT")
    if override is not None:
        return override if (os.path.isfile(override) and os.access(override, os.X_OK)) else None
    return shutil.which("dot")


def dot_version() -> Optional[str]:
    prog = dot_program()
    if prog is None:
        return None
    try:
        p = subprocess.run([prog, "-V"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return (p.stderr or p.stdout).strip() or "unknown version"


def render_svg(dot_source: str, timeout: float = 120.0) -> str:
    prog = dot_program()
    if prog is None:
        raise GraphvizMissing("Graphviz's `dot` program was not found, so no SVG can be drawn; "
                              + INSTALL_HINT)
    try:
        p = subprocess.run([prog, "-Tsvg"], input=dot_source, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GraphvizMissing(f"`dot` took more than {timeout:.0f} s; try --format dot") from None
    except OSError as e:
        raise GraphvizMissing(f"could not run {prog}: {e}; " + INSTALL_HINT) from None
    if p.returncode != 0:
        raise RuntimeError(f"`dot -Tsvg` failed (status {p.returncode}): {p.stderr.strip()}")
    return p.stdout


def to_graphviz(f: Function, title: str = ""):
    """A ``graphviz.Source`` of the Function (needs the ``graphviz`` Python package), which
    Jupyter displays as a picture."""
    try:
        import graphviz
    except ImportError:
        raise ImportError("to_graphviz needs the graphviz Python package: pip install graphviz "
                          "(and the Graphviz programs: " + INSTALL_HINT + ")") from None
    return graphviz.Source(function_to_dot(f, title))

