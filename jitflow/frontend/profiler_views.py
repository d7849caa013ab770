"""tfprof's views over :mod:`.profiler_stats` nodes, as TF's C++ profiler computes them
(``tfprof_scope.cc``, ``tfprof_op.cc``, ``tfprof_show*.cc``): which nodes are accounted
(``account_type_regexes``), shown (the ``min_*`` limits, ``max_depth``, name regexes), how
totals add up (``account_displayed_op_only``), the order (``order_by``) and the text.

* ``scope``: the tree of name scopes (``a/b/c`` under ``a/b``), a GraphNodeProto;
* ``graph``: the dataflow tree (a node's inputs under it, each node shown once), a
  GraphNodeProto;
* ``op``: one node per op type, a MultiGraphNodeProto whose ``children`` are a chain (each
  op type the only child of the one before, as TF nests them), every total the sum of its
  own and the following types';
* ``code``: one node per Python line that created ops (jitflow records the user's frame
  only, so the tree is one level deep), a MultiGraphNodeProto.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from .profiler_options import ORDER_BY, Options, full_match, match_all
from .profiler_proto import (GraphNodeProto, MultiGraphNodeProto, format_memory,
                             format_number, format_time)
from .profiler_stats import ROOT, StatNode

_LEGEND = (("params", "# parameters"), ("float_ops", "# float_ops"), ("bytes", "requested bytes"),
           ("peak_bytes", "peak bytes"), ("residual_bytes", "residual bytes"),
           ("output_bytes", "output bytes"))
_MEM = (("bytes", "requested_bytes"), ("peak_bytes", "peak_bytes"),
        ("residual_bytes", "residual_bytes"), ("output_bytes", "output_bytes"))
_TIMES = (("micros", "exec_micros"), ("accelerator_micros", "accelerator_exec_micros"),
          ("cpu_micros", "cpu_exec_micros"))


class ShowNode:
    """A view node: its graph node(s), its proto (self stats + totals), display state."""

    def __init__(self, name: str, node: Optional[StatNode], proto: Any) -> None:
        self.name = name
        self.node = node
        self.proto = proto
        self.children: list["ShowNode"] = []
        self.show_children: list["ShowNode"] = []
        self.account = False
        self.formatted = ""

    def types(self) -> set[str]:
        return self.node.types if self.node is not None else set()


def _sort(nodes: Sequence[ShowNode], opts: Options) -> list[ShowNode]:
    key = ORDER_BY.get(opts.order_by)
    roots = [n for n in nodes if n.name == ROOT]
    rest = [n for n in nodes if n.name != ROOT]
    if key is None:            # "name", or an attribute tfprof does not know
        rest = sorted(rest, key=lambda n: n.name)
    else:
        rest = sorted(rest, key=lambda n: -getattr(n.proto, key))
    return roots + rest


def _limits_ok(p: Any, opts: Options, self_counts: bool) -> bool:
    """The ``min_*`` options; the scope view compares parameters, float ops and runs of
    the node itself, the multi-node views their totals."""
    pre = "" if self_counts else "total_"
    return not (p.total_requested_bytes < opts.min_bytes or
                p.total_peak_bytes < opts.min_peak_bytes or
                p.total_residual_bytes < opts.min_residual_bytes or
                p.total_output_bytes < opts.min_output_bytes or
                p.total_exec_micros < opts.min_micros or
                p.total_accelerator_exec_micros < opts.min_accelerator_micros or
                p.total_cpu_exec_micros < opts.min_cpu_micros or
                getattr(p, pre + "parameters") < opts.min_params or
                getattr(p, pre + "float_ops") < opts.min_float_ops or
                (self_counts and p.run_count < opts.min_occurrence))


def _should_show(n: ShowNode, opts: Options, depth: int, self_counts: bool) -> bool:
    if n.name == ROOT:
        return True
    if not _limits_ok(n.proto, opts, self_counts) or depth > opts.max_depth:
        return False
    if not match_all(opts.show_name_regexes) and not full_match(opts.show_name_regexes, n.name):
        return False
    return not full_match(opts.hide_name_regexes, n.name)


def _type_matches(types: set[str], opts: Options) -> bool:
    return match_all(opts.account_type_regexes) or any(
        full_match(opts.account_type_regexes, t) for t in types)


def legend(opts: Options, multi: bool) -> str:
    """The header line: the selected columns, in the scope or multi-node views' order."""
    size = [t for k, t in _LEGEND[:2] if opts.selects(k)]
    mem = [t for k, t in _LEGEND[2:] if opts.selects(k)]
    if opts.selects("micros"):
        timing = ["total execution time", "accelerator execution time", "cpu execution time"]
    else:
        timing = [t for k, t in (("accelerator_micros", "accelerator execution time"),
                                 ("cpu_micros", "cpu execution time")) if opts.selects(k)]
    names = mem + timing + size if multi else size + mem + timing
    for key, text in (("device", "assigned devices"), ("op_types", "op types"),
                      ("occurrence", "op occurrence (run|defined)" if multi
                       else "op count (run|defined)"), ("input_shapes", "input shapes")):
        if opts.selects(key):
            names.append(text)
    return f"node name | {' | '.join(names)}\n"


# ------------------------------------------------------------------ scope view -----------
def _scope_line(n: ShowNode, opts: Options) -> str:
    p, info = n.proto, []

    def mine(self_text: str, total_text: str) -> str:
        return (self_text if n.account else "--") + "/" + total_text

    if opts.selects("params"):
        if n.node is not None and n.node.shape:
            info.append("x".join(str(d) for d in n.node.shape))
        info.append(mine(format_number(p.parameters), format_number(p.total_parameters)
                         + " params"))
    if opts.selects("float_ops"):
        info.append(mine(format_number(p.float_ops), format_number(p.total_float_ops) + " flops"))
    for key, field in _MEM:
        if opts.selects(key):
            info.append(mine(format_memory(getattr(p, field)),
                             format_memory(getattr(p, "total_" + field))))
    for key, field in _TIMES:
        if opts.selects("micros") or opts.selects(key):
            info.append(mine(format_time(getattr(p, field)),
                             format_time(getattr(p, "total_" + field))))
    if opts.selects("device") and p.devices:
        info.append("|".join(p.devices))
    if opts.selects("op_types"):
        info.append("|".join(sorted(n.types())))
    if opts.selects("occurrence"):
        info.append(mine(format_number(p.run_count), format_number(p.total_run_count)) + "|"
                    + mine("1", format_number(p.total_definition_count)))
    if opts.selects("input_shapes"):
        info.append("|".join(f"{i}:{'x'.join(map(str, s)) if s else 'unknown'}"
                             for i, s in sorted(p.input_shapes.items())))
    return f"{n.name} ({', '.join(info)})"


class ScopeView:
    """The name-scope tree of a graph's nodes."""

    def __init__(self, nodes: dict[str, StatNode]) -> None:
        self._map: dict[str, ShowNode] = {}
        for name, sn in nodes.items():
            self._map.setdefault(name, ShowNode(name, sn, None))
            while "/" in name:
                name = name.rpartition("/")[0]
                if name not in self._map:
                    self._map[name] = ShowNode(name, StatNode(name), None)
        self.root = ShowNode(ROOT, None, GraphNodeProto(ROOT))
        for name in sorted(self._map):
            n = self._map[name]
            parent = self._map[name.rpartition("/")[0]] if "/" in name else self.root
            parent.children.append(n)

    def _account(self, nodes: list[ShowNode], opts: Options) -> list[ShowNode]:
        out = []
        for n in nodes:
            kids = self._account(n.children, opts)
            n.proto = n.node.proto()
            n.account = _type_matches(n.node.types, opts)
            if n.account or kids:
                n.show_children = list(kids)
                n.proto.add_self_to_totals()
                for c in kids:
                    n.proto.aggregate_totals(c.proto)
                out.append(n)
        return out

    def _print(self, nodes: list[ShowNode], opts: Options, depth: int, indent: int,
               visits: Optional[set] = None) -> list[ShowNode]:
        shown = []
        for n in nodes:
            if visits is not None:          # the graph view shows a node once
                if n.name in visits:
                    continue
                visits.add(n.name)
            show = _should_show(n, opts, depth, self_counts=True)
            kids: list[ShowNode] = []
            if not full_match(opts.trim_name_regexes, n.name) and depth <= opts.max_depth:
                kids = self._print(n.show_children, opts, depth + 1, indent + (2 if show else 0),
                                   visits)
            if not show:
                shown.extend(kids)
                continue
            if opts.account_displayed_op_only:
                n.proto.reset_totals()
                n.proto.add_self_to_totals()
            n.show_children = _sort(kids, opts)
            for c in n.show_children:
                if opts.account_displayed_op_only:
                    n.proto.aggregate_totals(c.proto)
            n.formatted = " " * indent + _scope_line(n, opts) + "\n"
            shown.append(n)
        return shown

    def show(self, opts: Options) -> tuple[GraphNodeProto, str]:
        root = self.root
        root.proto = GraphNodeProto(ROOT)
        root.account = False
        roots = self._account(root.children, opts)
        for n in roots:
            root.proto.aggregate_totals(n.proto)
        if not match_all(opts.start_name_regexes):
            roots = _search_root(roots, opts.start_name_regexes, self._visits())
        root.show_children = roots
        root = self._print([root], opts, 1, 0, self._visits())[0]
        text = [legend(opts, multi=False), root.formatted]
        out = root.proto.copy()

        def emit(nodes: list[ShowNode], proto: GraphNodeProto) -> None:
            for n in nodes:
                text.append(n.formatted)
                child = n.proto.copy()
                proto.children.append(child)
                emit(n.show_children, child)
        emit(root.show_children, out)
        return out, "".join(text)


    @staticmethod
    def _visits() -> Optional[set]:
        return None


class GraphView(ScopeView):
    """The dataflow view: a node's children are its inputs (data, then control); the roots
    are the nodes no other node reads; an unaccounted node hands its accounted inputs up."""

    def __init__(self, nodes: dict[str, StatNode]) -> None:
        self._map = {name: ShowNode(name, sn, None) for name, sn in nodes.items()}
        read: set[str] = set()
        for n in self._map.values():
            op = n.node.op
            for name in [t.op.name for t in op.inputs] + [c.name for c in op.control_inputs]:
                read.add(name)
                if name in self._map:
                    n.children.append(self._map[name])
        self.root = ShowNode(ROOT, None, GraphNodeProto(ROOT))
        self.root.children = [n for name, n in self._map.items() if name not in read]
        self._seen: set[str] = set()

    def _account(self, nodes: list[ShowNode], opts: Options) -> list[ShowNode]:
        out: list[ShowNode] = []
        for n in nodes:
            if n.name in self._seen:
                continue
            self._seen.add(n.name)
            kids = self._account(n.children, opts)
            n.proto = n.node.proto()
            n.account = _type_matches(n.node.types, opts)
            if n.account:
                n.show_children = list(kids)
                n.proto.add_self_to_totals()
                for c in kids:
                    n.proto.aggregate_totals(c.proto)
                out.append(n)
            else:
                out.extend(kids)
        return out

    def show(self, opts: Options) -> tuple[GraphNodeProto, str]:
        self._seen = set()
        return super().show(opts)

    @staticmethod
    def _visits() -> Optional[set]:
        return set()


def _search_root(nodes: list[ShowNode], regexes: list,
                 visits: Optional[set] = None) -> list[ShowNode]:
    out = []
    for n in nodes:
        if visits is not None:
            if n.name in visits:
                continue
            visits.add(n.name)
        if full_match(regexes, n.name):
            out.append(n)
        else:
            out.extend(_search_root(n.show_children, regexes, visits))
    return out


# ------------------------------------------------------------------ op and code views ----
def _multi_line(n: ShowNode, root: MultiGraphNodeProto, opts: Options) -> str:
    p, attrs = n.proto, []

    def pct(field: str, unit: str, fmt: Any) -> str:
        accu = own = 0.0
        whole = getattr(root, "total_" + field)
        if getattr(p, "total_" + field) > 0 and whole > 0:
            accu = 100.0 * getattr(p, "total_" + field) / whole
            own = 100.0 * getattr(p, field) / whole
        return f"{fmt(getattr(p, field)) + unit + f' ({accu:.2f}%, {own:.2f}%)':>30}"

    for key, field in _MEM:
        if opts.selects(key):
            attrs.append(pct(field, "", format_memory))
    for key, field in _TIMES:
        if opts.selects("micros") or opts.selects(key):
            attrs.append(pct(field, "", format_time))
    if opts.selects("params"):
        attrs.append(pct("parameters", " params", format_number))
    if opts.selects("float_ops"):
        attrs.append(pct("float_ops", " float_ops", format_number))
    if opts.selects("device"):
        attrs.append("|".join(sorted({d for g in p.graph_nodes for d in g.devices})))
    if opts.selects("op_types"):
        attrs.append("|".join(sorted(n.types())))
    if opts.selects("occurrence"):
        attrs.append(f"{f'{sum(g.run_count for g in p.graph_nodes)}|{len(p.graph_nodes)}':>10}")
    line = f"{n.name:<25}{', '.join(attrs)}\n"
    if opts.selects("input_shapes"):
        counts: dict[str, int] = {}
        for g in p.graph_nodes:
            s = ",\t".join(f"{i}:{'x'.join(map(str, d)) if d else 'unknown'}"
                           for i, d in sorted(g.input_shapes.items()))
            counts[f"input_type: {s}"] = counts.get(f"input_type: {s}", 0) + 1
        if counts:
            line += "\n" + "\n".join(f"{k}\t(run*0|defined*{c})\texec_time: 0us"
                                     for k, c in counts.items()) + "\n\n"
    return line


class _Group(StatNode):
    """The graph nodes of one op type or one code line, as one view node."""

    def __init__(self, name: str, members: list[StatNode]) -> None:
        super().__init__(name)
        self.members = members
        self.types = set().union(*(m.types for m in members)) if members else set()

    def snapshot(self, opts: Options) -> tuple[MultiGraphNodeProto, bool]:
        """TF's SnapshotNodes: the members whose types match ``account_type_regexes``."""
        picked = self.members if match_all(opts.account_type_regexes) else [
            m for m in self.members if any(full_match(opts.account_type_regexes, t)
                                           for t in m.types)]
        p = MultiGraphNodeProto(self.name)
        for m in picked:
            g = m.proto()
            g.add_self_to_totals()
            p.graph_nodes.append(g)
            p.parameters += m.parameters
            p.float_ops += m.float_ops
        return p, bool(picked) or match_all(opts.account_type_regexes)


class MultiView:
    """The op view (``key='op'``: grouped by op type) or the code view (by Python line)."""

    def __init__(self, nodes: dict[str, StatNode], key: str) -> None:
        groups: dict[str, list[StatNode]] = {}
        for n in nodes.values():
            k = n.op_type if key == "op" else n.code()
            groups.setdefault(k, []).append(n)
        self.groups = [ShowNode(k, _Group(k, v), None) for k, v in sorted(groups.items())]
        self.chain = key == "op"

    def show(self, opts: Options) -> tuple[MultiGraphNodeProto, str]:
        root = MultiGraphNodeProto(ROOT)
        if not self.groups:
            return root, legend(opts, multi=True)
        for n in self.groups:
            n.proto, n.account = n.node.snapshot(opts)
            n.proto.add_self_to_totals()
        accounted = [n for n in _sort(self.groups, opts) if n.account]
        if self.chain:              # each op type's totals include the types after it
            for a, b in zip(accounted[-2::-1], accounted[::-1]):
                a.proto.aggregate_totals(b.proto)
            if accounted:
                root.aggregate_totals(accounted[0].proto)
        else:
            for n in accounted:
                root.aggregate_totals(n.proto)
        start = 0
        if opts.start_name_regexes and not match_all(opts.start_name_regexes):
            start = next((i for i, n in enumerate(accounted)
                          if full_match(opts.start_name_regexes, n.name)), len(accounted))
        shown = []
        for depth, n in enumerate(accounted[start:]):
            if full_match(opts.trim_name_regexes, n.name) or depth > opts.max_depth:
                break
            if _should_show(n, opts, depth, self_counts=False):
                shown.append(n)
        if opts.account_displayed_op_only:
            nxt = None
            for n in reversed(shown):
                n.proto.reset_totals()
                n.proto.add_self_to_totals()
                if nxt is not None and self.chain:
                    n.proto.aggregate_totals(nxt.proto)
                nxt = n
            root.reset_totals()
            for n in (shown[:1] if self.chain else shown):
                root.aggregate_totals(n.proto)
        text = legend(opts, multi=True) + "".join(_multi_line(n, root, opts) for n in shown)
        if self.chain:
            at = root
            for n in shown:
                child = n.proto.copy()
                at.children = [child]
                at = child
        else:
            root.children = [n.proto.copy() for n in shown]
        return root, text
