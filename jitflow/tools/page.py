"""The ``dump-ir --format html`` page: one self-contained file (inline CSS, JS and data; no
network) with an interactive graph of every IR stage and the text of every stage.

The graph is drawn in the browser by ``viewer.js`` from each stage's ops as JSON (``stage_graph``):
ops grouped by TF name scope into collapsible clusters, laid out per scope so that collapsing
one gives its space back (a static Graphviz picture cannot: its clusters keep their place),
pan/zoom, search, and a side panel with the op's type, result dtypes and shapes, source line
and fusion group. It needs no Graphviz. Values carry the stable names of tools/naming.py, the
same in every stage, so a selection survives switching stages and the per-stage diffs show
what each pass changed.
"""
from __future__ import annotations

import difflib
import html
import json
import re
from pathlib import Path
from typing import Optional, Sequence

from ..ir.core import Function, Op
from ..ir.printer import format_attr, format_op
from ..ir.types import format_type
from ..passes.fusion import shape_only as _shape_only

# fusion groups' fills: no greens or reds, which mark parameters and results
GROUP_COLORS = ["#dae8fc", "#fff2cc", "#e1d5e7", "#ffe6cc", "#d0eef0", "#f3e0f7", "#e0e4ff",
                "#f1ead8"]
_ASSETS = Path(__file__).resolve().parent


def _scope_parts(name: str) -> list[str]:
    return [p for p in name.split("/") if p]


def _attr_lines(op: Op, limit: int = 90) -> list[str]:
    out = []
    for k in sorted(op.attrs):
        try:
            text = format_attr(op.attrs[k])
        except TypeError:
            text = repr(op.attrs[k])
        out.append(f"{k} = {text if len(text) <= limit else text[:limit - 3] + '...'}")
    return out


def _category(op: Op) -> str:
    if op.opname == "constant":
        return "const"
    if op.opname == "gradients":
        return "grad"
    return "op"


def stage_graph(f: Function, names: dict[int, str]) -> dict:
    """The nodes of one stage for the viewer: parameters, ops and results, each with its name
    scope, operands (node id, result index, shape only) and what the side panel shows."""
    nodes: list[dict] = []
    node_of: dict[int, tuple[str, int]] = {}
    for i, p in enumerate(f.params):
        nid = names[id(p)]
        node_of[id(p)] = (nid, 0)
        label = re.sub(r":\d+$", "", p.name) if p.name else f"arg{i}"
        parts = _scope_parts(label)
        nodes.append({"id": nid, "kind": "param", "cat": "param", "tf": p.name,
                      "short": (parts[-1] if parts else label) + f" (param {i})",
                      "num": f"%{i}", "names": [nid], "types": [format_type(p.type)],
                      "attrs": [], "file": "", "line": 0, "group": None,
                      "scope": parts[:-1], "in": [], "ir": f"{nid}: {format_type(p.type)}"})
    per_tf: dict[str, int] = {}
    for op in f.ops:
        if op.loc.tf_name:
            per_tf[op.loc.tf_name] = per_tf.get(op.loc.tf_name, 0) + 1
    number = {id(v): f"%{i}" for i, v in enumerate(f.values())}
    for n, op in enumerate(f.ops):
        nid = names[id(op.results[0])] if op.results else f"op:{n}"
        for r in op.results:
            node_of[id(r)] = (nid, r.index)
        tf = op.loc.tf_name
        parts = _scope_parts(tf)
        scope = parts if per_tf.get(tf, 0) > 1 else parts[:-1]
        shape_only = _shape_only(op)
        ins = []
        for k, v in enumerate(op.operands):
            src = node_of.get(id(v))
            if src is not None:
                ins.append([src[0], src[1], k in shape_only])
        nodes.append({"id": nid, "kind": op.opname, "cat": _category(op), "tf": tf,
                      "short": parts[-1] if parts else "", "num": ", ".join(
                          number[id(r)] for r in op.results),
                      "names": [names[id(r)] for r in op.results],
                      "types": [format_type(r.type) for r in op.results],
                      "attrs": _attr_lines(op), "file": op.loc.file, "line": op.loc.line,
                      "group": op.group, "scope": scope, "in": ins,
                      "ir": format_op(op, names).split(" [\n")[0]})
    scope_of = {n["id"]: n["scope"] for n in nodes}
    for i, (v, rname) in enumerate(zip(f.results, f.result_names)):
        src = node_of.get(id(v))
        # beside what computes it (a variable's update sits in its optimizer scope), not in one
        # long row of results at the bottom
        scope = list(scope_of.get(src[0], [])) if src else []
        nodes.append({"id": f"result:{i}", "kind": "result", "cat": "result", "tf": rname or "",
                      "short": f"{rname or ''} (result {i})".strip(), "num": "",
                      "names": [f"result:{i}"], "types": [format_type(v.type)], "attrs": [],
                      "file": "", "line": 0, "group": None, "scope": scope,
                      "in": [[src[0], src[1], False]] if src else [],
                      "ir": f"return #{i} = {names.get(id(v), '%?')}"})
    return {"nodes": nodes}


def diff_html(a: str, b: str, name_a: str, name_b: str) -> str:
    out = []
    for line in difflib.unified_diff(a.splitlines(), b.splitlines(), name_a, name_b, lineterm=""):
        cls = ("hunk" if line.startswith("@@") else "add" if line.startswith("+") and not
               line.startswith("+++") else "del" if line.startswith("-") and not
               line.startswith("---") else "")
        esc = html.escape(line)
        out.append(f'<span class="{cls}">{esc}</span>' if cls else esc)
    return "\n".join(out)


def _json_script(data) -> str:
    """JSON safe inside <script>: no ``</`` and no ``<!--``."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


_TOOLBAR = """<div id="jf-app"><div id="jf-bar">
<span class="title">{title}</span>
<label>stage <select id="jf-stage"></select></label>
<input id="jf-search" type="search" placeholder="search: op name, type or value" size="28">
<span id="jf-count"></span>
<button id="jf-fit" title="fit the graph to the window">fit</button>
<button id="jf-zin" title="zoom in">+</button><button id="jf-zout" title="zoom out">&minus;</button>
<button id="jf-expand" title="open every name scope">expand all</button>
<button id="jf-collapse" title="close every name scope">collapse all</button>
<a href="#jf-text">text &amp; diffs &darr;</a>
</div><div id="jf-main"><div id="jf-graph">
<svg id="jf-svg" xmlns="http://www.w3.org/2000/svg"><defs><marker id="jf-arrow" viewBox="0 0 10 10"
 refX="9" refY="5" markerWidth="7" markerHeight="7" markerUnits="userSpaceOnUse" orient="auto">
<path d="M0,0L10,5L0,10z" fill="#607d8b"/></marker></defs><g id="jf-viewport"></g></svg>
<div id="jf-nograph"></div><p id="jf-desc"></p></div>
<aside id="jf-panel"></aside></div></div>"""


def html_page(title: str, meta: Sequence[str], sections: Sequence[dict]) -> str:
    """``sections``: dicts with name, description, text, is_ir, and optionally graph (from
    ``stage_graph``), diff (prev name, prev text, text, summary) in stable names."""
    css = (_ASSETS / "viewer.css").read_text(encoding="utf-8")
    js = (_ASSETS / "viewer.js").read_text(encoding="utf-8")
    stages, seen = [], {}
    for i, s in enumerate(sections):        # a stage a pass left unchanged points at its twin
        st = {"name": s["name"], "description": s.get("description", ""), "graph": s.get("graph")}
        if st["graph"] is not None:
            key = json.dumps(st["graph"], sort_keys=True)
            if key in seen:
                st["graph"], st["graph_of"] = None, seen[key]
            else:
                seen[key] = i
        stages.append(st)
    data = {"group_colors": GROUP_COLORS, "stages": stages}
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{html.escape(title)}</title>", f"<style>{css}</style></head><body>",
             _TOOLBAR.format(title=html.escape(title)),
             "<div id=\"jf-text\"><header>"]
    parts += [f"<p>{html.escape(m)}</p>" for m in meta]
    parts.append("</header><nav>")
    parts += [f"<a href=\"#stage-{html.escape(s['name'])}\">{html.escape(s['name'])}</a>"
              for s in sections]
    parts.append("</nav>")
    for s in sections:
        name = html.escape(s["name"])
        parts.append(f"<section class=\"stage\" id=\"stage-{name}\"><h2>{name}</h2>")
        parts.append(f"<p class=\"desc\">{html.escape(s.get('description', ''))}</p>")
        label = "IR text" if s.get("is_ir", True) else "text"
        parts.append(f"<details{'' if s.get('graph') else ' open'}><summary>{label}</summary>"
                     f"<pre>{html.escape(s['text'])}</pre></details>")
        diff: Optional[tuple] = s.get("diff")
        if diff is not None:
            prev_name, prev_text, text, summary = diff
            if prev_text == text:
                parts.append(f"<p class=\"note\">no change from {html.escape(prev_name)}</p>")
            else:
                parts.append(f"<details><summary>changes from {html.escape(prev_name)}"
                             f"{': ' + html.escape(summary) if summary else ''}</summary>"
                             f"<pre>{diff_html(prev_text, text, prev_name, s['name'])}</pre>"
                             "</details>")
        parts.append("</section>")
    parts.append("</div>")
    parts.append(f"<script type=\"application/json\" id=\"jf-data\">{_json_script(data)}</script>")
    parts.append(f"<script>{js}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
