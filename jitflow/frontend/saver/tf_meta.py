"""TensorFlow's ``MetaGraphDef`` (``.meta`` files): written by ``Saver.save`` and
``export_meta_graph``, read by ``import_meta_graph``.

Written: ``meta_graph.proto``'s ``MetaGraphDef`` with ``graph_def`` (the TF-expressible ops,
:mod:`..graph_def`), TF's save/restore nodes under ``save/`` (``SaveV2``/``RestoreV2`` over the
saved variables, so ``tf.train.import_meta_graph(...).restore`` works in TensorFlow with no
model code), ``saver_def`` naming them, and ``collection_def`` (variables as ``VariableDef``
bytes, tensors and ops as ``node_list``, numbers and strings). jitflow's complete graph -- the
training step included, which TF cannot express because jitflow differentiates symbolically --
travels in the collection ``jitflow_meta_graph`` as the sealed JSON of :mod:`.meta_graph`
(TensorFlow keeps it as an opaque bytes collection); jitflow reads it back exactly.

Read: a ``.meta`` TensorFlow wrote is rebuilt through :func:`..graph_def.import_nodes`
(unmapped op types fail at import), its ``VariableDef`` collections become Variables, the
other collections are restored, and the returned Saver covers the saved variables.
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional

import numpy as np

from ...errors import DataLossError
from ...interop import tf_protos as P
from ..graph import GraphKeys, Operation, Tensor, get_default_graph
from .format import _atomic_write, _sealed_json

JSON_COLLECTION = "jitflow_meta_graph"
_VAR_COLLECTIONS = (GraphKeys.GLOBAL_VARIABLES, GraphKeys.TRAINABLE_VARIABLES,
                    GraphKeys.LOCAL_VARIABLES, GraphKeys.MODEL_VARIABLES)


# ------------------------------------------------------------------ writing ----------------

def _save_scope(names: set) -> str:
    s, i = "save", 0
    while any(n == s or n.startswith(s + "/") for n in names):
        i += 1
        s = f"save_{i}"
    return s


def _add_saver_nodes(gd: Any, var_list: dict, exported: set) -> Optional[Any]:
    from ..graph_def import _attr_value
    items = [(k, v) for k, v in sorted(var_list.items()) if v.op.name in exported]
    if not items:
        return None
    s = _save_scope({n.name for n in gd.node})

    def node(name, op, inputs=(), **attrs):
        nd = gd.node.add(name=f"{s}/{name}" if name else s, op=op)
        nd.input.extend(inputs)
        for k, v in attrs.items():
            nd.attr[k].CopyFrom(_attr_value(v))
        return nd.name

    def string_const(name, values):
        return node(name, "Const", dtype=("type", "string"),
                    value=("tensor", np.array([x.encode() for x in values], dtype=object)
                           if isinstance(values, list) else np.array(values.encode(), dtype=object)))
    fin = string_const("filename/input", "model")
    fn = node("filename", "PlaceholderWithDefault", [fin], dtype=("type", "string"),
              shape=("shape", ()))
    c = node("Const", "PlaceholderWithDefault", [fn], dtype=("type", "string"), shape=("shape", ()))
    names = [k for k, _ in items]
    dtypes = [P.DT_TO_TF[v.dtype.name] for _, v in items]
    tn = string_const("SaveV2/tensor_names", names)
    sl = string_const("SaveV2/shape_and_slices", [""] * len(names))
    sv = node("SaveV2", "SaveV2", [c, tn, sl] + [v.op.name for _, v in items])
    gd.node[-1].attr["dtypes"].list.type.extend(dtypes)
    cd = node("control_dependency", "Identity", [c, "^" + sv], T=("type", "string"))
    rtn = string_const("RestoreV2/tensor_names", names)
    rsl = string_const("RestoreV2/shape_and_slices", [""] * len(names))
    rv = node("RestoreV2", "RestoreV2", [c, rtn, rsl])
    gd.node[-1].attr["dtypes"].list.type.extend(dtypes)
    assigns = []
    for i, (_, v) in enumerate(items):
        assigns.append(node(f"Assign_{i}" if i else "Assign", "Assign",
                            [v.op.name, rv if i == 0 else f"{rv}:{i}"],
                            T=("type", v.dtype), use_locking=True, validate_shape=True))
    ra = node("restore_all", "NoOp", ["^" + a for a in assigns])
    sd = P.saver_pb2.SaverDef(filename_tensor_name=c + ":0", save_tensor_name=cd + ":0",
                              restore_op_name=ra, version=P.saver_pb2.SaverDef.V2)
    return sd


def _variable_def(v: Any) -> bytes:
    vd = P.variable_pb2.VariableDef(variable_name=v.name, snapshot_name=v._snapshot.name,
                                    trainable=bool(v.trainable))
    if getattr(v, "initializer", None) is not None:
        vd.initializer_name = v.initializer.name
    if getattr(v, "_initial_value", None) is not None:
        vd.initial_value_name = v._initial_value.name
    return vd.SerializeToString()


def build_meta_graph_def(g: Any, meta_json: dict, saver: Any = None,
                         clear_devices: bool = False) -> Any:
    from ..graph_def import graph_to_graph_def
    from ..variables import Variable
    gd, _ = graph_to_graph_def(g)
    if clear_devices:
        for nd in gd.node:
            nd.device = ""
    exported = {nd.name for nd in gd.node}
    m = P.meta_graph_pb2.MetaGraphDef()
    m.meta_info_def.meta_graph_version = "jitflow"    # tensorflow_version: unset (not TF)
    if saver is not None:
        sd = _add_saver_nodes(gd, saver.var_list, exported)
        if sd is not None:
            sd.max_to_keep = saver._max_to_keep or 0
            sd.keep_checkpoint_every_n_hours = float(saver._keep_every_n_hours)
            m.saver_def.CopyFrom(sd)
    m.graph_def.CopyFrom(gd)
    for key in g.get_all_collection_keys():
        items = g.get_collection(key)
        col = m.collection_def[key] if items else None
        if col is None:
            continue
        if all(isinstance(i, Variable) for i in items):
            col.bytes_list.value.extend(_variable_def(v) for v in items if v.op.name in exported)
        elif all(isinstance(i, (Tensor, Operation)) for i in items):
            col.node_list.value.extend(i.name for i in items
                                       if (i.op.name if isinstance(i, Tensor) else i.name)
                                       in exported)
        elif all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            col.int64_list.value.extend(items)
        elif all(isinstance(i, float) for i in items):
            col.float_list.value.extend(items)
        elif all(isinstance(i, str) for i in items):
            col.bytes_list.value.extend(i.encode() for i in items)
        else:
            del m.collection_def[key]      # mixed: only in the jitflow JSON
            continue
        if not col.ListFields():
            del m.collection_def[key]
    m.collection_def[JSON_COLLECTION].bytes_list.value.append(_sealed_json(meta_json))
    return m


def write_meta_graph(path: str, m: Any, as_text: bool = False) -> None:
    data = P.text_format.MessageToString(m).encode() if as_text else m.SerializeToString()
    _atomic_write(os.fspath(path), data)


# ------------------------------------------------------------------ reading ----------------

def parse_meta_graph(raw: bytes, where: str) -> Any:
    m = P.meta_graph_pb2.MetaGraphDef()
    try:
        m.ParseFromString(raw)
        return m
    except (P.DecodeError, RecursionError, ValueError) as e:
        err = e
    try:
        m = P.meta_graph_pb2.MetaGraphDef()
        P.text_format.Parse(raw.decode("utf-8"), m)
        return m
    except Exception:
        raise DataLossError(f"{where} is corrupted or truncated: not a MetaGraphDef protocol "
                            f"buffer ({err})") from None


def embedded_json(m: Any, where: str) -> Optional[dict]:
    """The jitflow JSON of a jitflow-written MetaGraphDef (its checksum verified), or None."""
    from .format import _canonical
    import hashlib
    if JSON_COLLECTION not in m.collection_def:
        return None
    vals = m.collection_def[JSON_COLLECTION].bytes_list.value
    if len(vals) != 1:
        raise DataLossError(f"{where}: malformed {JSON_COLLECTION} collection")
    try:
        obj = json.loads(vals[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise DataLossError(f"{where}: the jitflow graph in it is corrupted ({e})") from None
    if not isinstance(obj, dict) or obj.get("format") != "jitflow.meta_graph":
        raise DataLossError(f"{where}: the {JSON_COLLECTION} collection is not a jitflow graph")
    body = {k: v for k, v in obj.items() if k != "sha256"}
    if obj.get("sha256") != hashlib.sha256(_canonical(body)).hexdigest():
        raise DataLossError(f"{where} is corrupted: its checksum does not match its contents")
    return obj


def import_tf_meta(m: Any, where: str, import_scope: Optional[str] = None,
                   clear_devices: bool = False) -> Any:
    """Rebuild a TensorFlow-written MetaGraphDef in the default graph; returns a Saver."""
    from ..graph_def import import_nodes, _reserve
    from ..variables import Variable
    from .meta_graph import _rebuild_variable
    from .saver import Saver
    g = get_default_graph()
    prefix = (import_scope.rstrip("/") + "/") if import_scope else ""
    skip = set()
    if m.HasField("saver_def") and m.saver_def.restore_op_name:
        scope = m.saver_def.restore_op_name.rsplit("/", 1)[0]
        skip = {nd.name for nd in m.graph_def.node if nd.name.startswith(scope + "/")}
    for nd in m.graph_def.node:
        if nd.name not in skip and prefix + nd.name in g._ops_by_name:
            raise ValueError(f"Cannot import {where}: an op named {prefix + nd.name} already "
                             "exists in the default graph (use import_scope= or a new graph)")
    created = import_nodes(m.graph_def, graph=g, prefix=prefix, where=where, skip=skip)
    for op in created.values():
        _reserve(g, op.name)
        if clear_devices:
            op.device = ""

    def lookup(name: str, what: str) -> Any:
        op_name, _, idx = name.partition(":")
        op = created.get(op_name)
        if op is None:
            raise DataLossError(f"{where}: {what} names unknown node {op_name}")
        return op.outputs[int(idx)] if idx else op

    variables: dict[str, Any] = {}
    by_op = g.__dict__.setdefault("_variables_by_op", {})
    for key in _VAR_COLLECTIONS:
        if key not in m.collection_def:
            continue
        for raw in m.collection_def[key].bytes_list.value:
            vd = P.variable_pb2.VariableDef()
            try:
                vd.ParseFromString(raw)
            except P.DecodeError as e:
                raise DataLossError(f"{where}: collection {key}: bad VariableDef ({e})") from None
            op_name = vd.variable_name.split(":")[0]
            if op_name not in variables:
                var_op = lookup(op_name, f"collection {key}")
                if var_op.type != "VariableV2":
                    raise DataLossError(f"{where}: variable {op_name} is a {var_op.type} node")
                v = _rebuild_variable(
                    Variable, var_op, vd.trainable,
                    lookup(vd.initializer_name, "a VariableDef") if vd.initializer_name else None,
                    lookup(vd.snapshot_name, "a VariableDef") if vd.snapshot_name
                    else var_op.outputs[0],
                    lookup(vd.initial_value_name, "a VariableDef")
                    if vd.initial_value_name else None)
                by_op[var_op] = v
                variables[op_name] = v
            g.add_to_collection(key, variables[op_name])
    for key, col in m.collection_def.items():
        if key in _VAR_COLLECTIONS:
            continue
        kind = col.WhichOneof("kind")
        if kind == "node_list":
            for n in col.node_list.value:
                if n.split(":")[0] in created:
                    g.add_to_collection(key, lookup(n, f"collection {key}"))
        elif kind == "int64_list":
            for x in col.int64_list.value:
                g.add_to_collection(key, int(x))
        elif kind == "float_list":
            for x in col.float_list.value:
                g.add_to_collection(key, float(x))
        elif kind == "bytes_list":
            for x in col.bytes_list.value:
                g.add_to_collection(key, x.decode("utf-8", "replace"))
    if not variables:
        return None
    sd = m.saver_def
    return Saver({k: v for k, v in variables.items()},
                 max_to_keep=sd.max_to_keep if sd.max_to_keep else 5,
                 keep_checkpoint_every_n_hours=sd.keep_checkpoint_every_n_hours or 10000.0,
                 allow_empty=True)
