from __future__ import annotations

import os
import warnings
from typing import Any, Optional

import numpy as np

from ...errors import DataLossError, NotFoundError
from ...ir.dtypes import as_dtype
from ...ir.types import TensorType
from ..graph import GraphKeys, Operation, Tensor, get_default_graph
from .format import FORMAT_VERSION, _load_sealed_json
from .saver import Saver, _variables_by_op

# ====================================================================== meta graphs ==========

class MetaGraph(dict):
    """What ``export_meta_graph`` returns: the JSON object (a dict) of the .meta file."""


def _format_attr_value(op: Operation, key: str, v: Any) -> str:
    from ...ir.printer import format_attr

    def canon(x: Any) -> Any:
        if isinstance(x, (list, tuple)):
            return tuple(canon(i) for i in x)
        if isinstance(x, np.generic):
            return x.item()
        return x
    try:
        return format_attr(canon(v))
    except TypeError as e:
        raise ValueError(f"cannot export op {op.name} ({op.type}): attribute {key} = {v!r} has "
                         f"no IR text form ({e})") from None


def _parse_attr_text(text: str, where: str) -> Any:
    from ...ir.parser import IRParseError, _parse_attr, _Tokens
    try:
        ts = _Tokens(text)
        v = _parse_attr(ts)
        if ts.peek()[0] != "eof":
            raise IRParseError(f"trailing text after the value: {ts.peek()[1]!r}")
        return v
    except (IRParseError, ValueError, TypeError) as e:
        raise DataLossError(f"{where}: cannot parse attribute {text[:80]!r}: {e}") from None
    except RecursionError:
        raise DataLossError(f"{where}: attribute {text[:80]!r}... is nested too deeply") from None


def _ir_ops() -> dict:
    from ... import ops  # noqa: F401  (registers the IR ops)
    from ...ir.opdef import OPS
    return OPS


def _collection_item(item: Any) -> Optional[dict]:
    from ..variables import Variable
    if isinstance(item, Variable):
        return {"variable": item.op.name}
    if isinstance(item, Tensor):
        return {"tensor": item.name}
    if isinstance(item, Operation):
        return {"op": item.name}
    if item is None or isinstance(item, (bool, int, float, str)):
        return {"value": item}
    from ..summary import SummaryTensor
    if isinstance(item, SummaryTensor):
        return {"summary": item.name,
                "entries": [[tag, kind, t.name] for tag, kind, t in item._entries]}
    return None


def export_meta_graph(filename: Optional[str] = None, meta_info_def: Any = None,
                      graph_def: Any = None, saver_def: Any = None, collection_list=None,
                      as_text: bool = False, graph: Any = None, export_scope: Optional[str] = None,
                      clear_devices: bool = False, clear_extraneous_savers: bool = False,
                      strip_default_attrs: bool = False, save_debug_info: bool = False,
                      saver: Optional[Saver] = None, **kwargs: Any) -> MetaGraph:
    """``tf.train.export_meta_graph``: the graph, its variables and collections as JSON
    (written atomically to ``filename`` if given); returns the JSON object."""
    g = graph or get_default_graph()
    ops = []
    for op in g.get_operations():
        ops.append({
            "name": op.name, "type": op.type, "ir_op": op.ir_op,
            "attrs": {k: _format_attr_value(op, k, v) for k, v in sorted(op.attrs.items())},
            "inputs": [t.name for t in op.inputs],
            "control_inputs": [c.name for c in op.control_inputs],
            "outputs": [{"dtype": t.dtype.name,
                         "shape": None if t.shape.dims is None else list(t.shape.dims)}
                        for t in op.outputs],
            "device": "" if clear_devices else (op.device or ""),
            "rng": bool(op.rng), "file": op.file, "line": op.line,
        })
    variables = []
    for var_op, v in _variables_by_op(g).items():
        variables.append({
            "name": var_op.name, "trainable": bool(v.trainable),
            "initializer": v.initializer.name if getattr(v, "initializer", None) else None,
            "snapshot": v._snapshot.name,
            "initial_value": (v._initial_value.name
                              if getattr(v, "_initial_value", None) is not None else None),
        })
    keys = g.get_all_collection_keys() if collection_list is None else list(collection_list)
    collections = {}
    for key in keys:
        items = []
        for item in g.get_collection(key):
            d = _collection_item(item)
            if d is not None:
                items.append(d)
        if items:
            collections[key] = items
    meta = {"format": "jitflow.meta_graph", "version": FORMAT_VERSION,
            "producer": "jitflow", "ops": ops, "variables": variables,
            "collections": collections,
            "saver": saver._saver_def() if saver is not None else None}
    if filename:
        from .tf_meta import build_meta_graph_def, write_meta_graph
        write_meta_graph(filename, build_meta_graph_def(g, meta, saver, clear_devices), as_text)
    return MetaGraph(meta)


def _read_meta(meta_graph_or_file: Any) -> Any:
    """The jitflow JSON dict of a meta graph, or a TensorFlow-written MetaGraphDef."""
    from .tf_meta import embedded_json, parse_meta_graph
    if isinstance(meta_graph_or_file, dict):
        return dict(meta_graph_or_file)
    if hasattr(meta_graph_or_file, "graph_def"):          # a MetaGraphDef message
        return embedded_json(meta_graph_or_file, "meta graph") or meta_graph_or_file
    path = os.fspath(meta_graph_or_file)
    try:
        with open(path, "rb") as f:
            head = f.read(1)
    except FileNotFoundError:
        raise OSError(f"File {path} does not exist.") from None
    if head == b"{":
        warnings.warn(f"{path} is a jitflow 0.1 meta graph (JSON), a deprecated format: "
                      "re-save it to get TensorFlow's .meta", DeprecationWarning, stacklevel=3)
        return _load_sealed_json(path, "jitflow.meta_graph")
    with open(path, "rb") as f:
        raw = f.read()
    m = parse_meta_graph(raw, path)
    return embedded_json(m, path) or m


def import_meta_graph(meta_graph_or_file: Any, clear_devices: bool = False,
                      import_scope: Optional[str] = None, **kwargs: Any) -> Optional[Saver]:
    """``tf.train.import_meta_graph``: recreate the saved graph's ops (same names, or under
    ``import_scope/``), Variables and collections in the default graph. Returns a Saver for the
    saved var_list (or all imported global variables), or None when there are no variables."""
    from ..variables import Variable
    meta = _read_meta(meta_graph_or_file)
    where = meta_graph_or_file if isinstance(meta_graph_or_file, (str, os.PathLike)) else "meta graph"
    if not isinstance(meta, dict):
        from .tf_meta import import_tf_meta
        return import_tf_meta(meta, str(where), import_scope, clear_devices)
    g = get_default_graph()
    prefix = (import_scope.rstrip("/") + "/") if import_scope else ""

    def rename(n: str) -> str:
        return prefix + n

    def tensor(name: str) -> Tensor:
        op_name, _, idx = name.rpartition(":")
        op = created.get(op_name)
        if op is None or not idx.isdigit() or int(idx) >= len(op.outputs):
            raise DataLossError(f"{where}: reference to unknown tensor {name}")
        return op.outputs[int(idx)]

    created: dict[str, Operation] = {}
    pending_ctrl: list[tuple[Operation, list]] = []
    try:
        op_entries = meta["ops"]
        for e in op_entries:
            name = rename(e["name"])
            if name in g._ops_by_name:
                raise ValueError(f"Cannot import {where}: an op named {name} already exists in "
                                 "the default graph (use import_scope= or a new graph)")
            if e.get("ir_op") is not None and e["ir_op"] not in _ir_ops():
                raise NotFoundError(f"{where}: op {e['name']} (type {e['type']}) names the "
                                    f"unknown IR op {e['ir_op']!r} (Op type not registered)")
            inputs = [tensor(t) for t in e["inputs"]]
            outs = [TensorType(as_dtype(o["dtype"]),
                               None if o["shape"] is None else tuple(o["shape"]))
                    for o in e["outputs"]]
            attrs = {k: _parse_attr_text(v, f"{where}: op {e['name']}")
                     for k, v in e["attrs"].items()}
            _mark_name(g, name)
            with g.name_scope(None), g.control_dependencies(None):
                op = g._add_op(e["type"], inputs, outs, e.get("ir_op"), attrs, name + "/",
                               (e.get("file", "<unknown>"), int(e.get("line", 0))),
                               rng=bool(e.get("rng", False)))
            if not clear_devices:
                op.device = e.get("device", "") or ""
            created[e["name"]] = op
            pending_ctrl.append((op, e.get("control_inputs", [])))
        for op, ctrl in pending_ctrl:
            try:
                op.control_inputs = [created[c] for c in ctrl]
            except KeyError as ex:
                raise DataLossError(f"{where}: op {op.name} has an unknown control input "
                                    f"{ex.args[0]}") from None
        variables: dict[str, Any] = {}
        by_op = getattr(g, "_variables_by_op", None)
        if by_op is None:
            by_op = g._variables_by_op = {}
        for ve in meta.get("variables", []):
            var_op = created.get(ve["name"])
            if var_op is None or var_op.type != "VariableV2":
                raise DataLossError(f"{where}: variable {ve['name']} has no VariableV2 op")
            v = _rebuild_variable(
                Variable, var_op, ve.get("trainable", True),
                created.get(ve["initializer"]) if ve.get("initializer") else None,
                tensor(ve["snapshot"]),
                tensor(ve["initial_value"]) if ve.get("initial_value") else None)
            by_op[var_op] = v
            variables[ve["name"]] = v
        for key, items in meta.get("collections", {}).items():
            for d in items:
                if "variable" in d:
                    v = variables.get(d["variable"])
                    if v is None:
                        raise DataLossError(f"{where}: collection {key} names unknown variable "
                                            f"{d['variable']}")
                    g.add_to_collection(key, v)
                elif "tensor" in d:
                    g.add_to_collection(key, tensor(d["tensor"]))
                elif "op" in d:
                    op = created.get(d["op"])
                    if op is None:
                        raise DataLossError(f"{where}: collection {key} names unknown op "
                                            f"{d['op']}")
                    g.add_to_collection(key, op)
                elif "value" in d:
                    g.add_to_collection(key, d["value"])
                elif "summary" in d:
                    from ..summary import SummaryTensor
                    g.add_to_collection(key, SummaryTensor(
                        [(tag, kind, tensor(name)) for tag, kind, name in d["entries"]],
                        d["summary"]))
    except (KeyError, TypeError) as ex:
        raise DataLossError(f"{where} is malformed: {ex!r}") from None
    sd = meta.get("saver")
    if sd:
        try:
            var_list = {k: variables[n] for k, n in sd["var_list"].items()}
        except KeyError as ex:
            raise DataLossError(f"{where}: the saver names unknown variable {ex.args[0]}") from None
        return Saver(var_list, max_to_keep=sd.get("max_to_keep", 5),
                     keep_checkpoint_every_n_hours=sd.get("keep_checkpoint_every_n_hours",
                                                          10000.0),
                     pad_step_number=sd.get("pad_step_number", False), allow_empty=True)
    ours = {id(v) for v in variables.values()}
    imported = [v for v in g.get_collection(GraphKeys.GLOBAL_VARIABLES) if id(v) in ours]
    if imported:
        return Saver(imported)
    return None


def _mark_name(g: Any, name: str) -> None:
    """Reserve an imported op's name so later ops are uniquified around it."""
    key = name.lower()
    if key not in g._names_in_use:
        g._names_in_use[key] = 1


def _rebuild_variable(cls: Any, var_op: Operation, trainable: bool,
                      initializer: Optional[Operation], snapshot: Tensor,
                      initial_value: Optional[Tensor]) -> Any:
    """A Variable object over existing ops (no new ops), as TF's Variable(variable_def=...)."""
    make = getattr(cls, "_from_ops", None)
    if make is not None:
        return make(var_op, initializer=initializer, snapshot=snapshot,
                    initial_value=initial_value, trainable=trainable)
    v = cls.__new__(cls)
    v._variable_op = var_op
    v._variable = var_op.outputs[0]
    v._initial_value = initial_value
    v.initializer = initializer
    v._snapshot = snapshot
    v.trainable = trainable
    return v
