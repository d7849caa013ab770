"""GraphDef in and out: ``Graph.as_graph_def``, ``tf.import_graph_def``, ``tf.train.write_graph``,
``tf.graph_util.convert_variables_to_constants``.

Export writes each op that :mod:`.tf_op_table` maps as a ``NodeDef`` (TF op type, TF attrs,
inputs ``op:i`` / ``^control``, plus the Const nodes TF wants where jitflow keeps an attribute,
named ``<op>/<input name>``). Ops TF has no equivalent for -- jitflow's symbolic ``Gradients``
op and everything computed from it, i.e. the training step -- are left out, with what depends
on them; :func:`graph_to_graph_def` reports them.

Import creates each node as a jitflow op under its own name (prefixed by ``name/``), checks
every node's op type against the table first (an unmapped type is a ``NotFoundError`` naming
the type and the node, before any op is created), and replaces TensorFlow's expanded gradient
subgraphs (``.../gradients/...`` feeding ``Apply*`` optimizer ops) by jitflow's own symbolic
gradients of the same loss, so an imported training graph trains.
"""
from __future__ import annotations

import math
import os
import re
from typing import Any, Iterable, Optional

import numpy as np

from ..errors import DataLossError, InvalidArgumentError, NotFoundError
from ..interop import tf_protos as P
from ..ir.dtypes import as_dtype
from .graph import Graph, Operation, Tensor, get_default_graph
from .tf_op_table import DROP_IF_UNUSED, EXPORT_INPUT_ORDER, TABLE, export_row

MAX_NODES = 1_000_000
MAX_CONST_ELEMENTS = 1 << 28


# ------------------------------------------------------------------ values -----------------

def tensor_proto(arr: np.ndarray) -> Any:
    arr = np.asarray(arr)
    t = P.tensor_pb2.TensorProto()
    name = arr.dtype.name if arr.dtype.kind not in "SUO" else "string"
    if name not in P.DT_TO_TF:
        raise ValueError(f"no TensorFlow dtype for {arr.dtype}")
    t.dtype = P.DT_TO_TF[name]
    for d in arr.shape:
        t.tensor_shape.dim.add().size = int(d)
    if name == "string":
        t.string_val.extend(x if isinstance(x, bytes) else str(x).encode() for x in arr.reshape(-1))
    else:
        t.tensor_content = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
    return t


def tensor_value(t: Any, where: str) -> np.ndarray:
    """A ``TensorProto`` as an array (sizes checked before allocating)."""
    name = P.DT_FROM_TF.get(t.dtype)
    if name is None:
        raise NotImplementedError(f"{where}: tensor dtype enum {t.dtype} is not supported")
    shape = tuple(int(d.size) for d in t.tensor_shape.dim)
    if any(d < 0 for d in shape):
        raise DataLossError(f"{where}: tensor with negative dimension {list(shape)}")
    n = math.prod(shape)
    if n > MAX_CONST_ELEMENTS:
        raise DataLossError(f"{where}: a tensor of shape {list(shape)} ({n} elements) exceeds "
                            f"the limit of {MAX_CONST_ELEMENTS}")
    if name == "string":
        vals = list(t.string_val)
        return np.array(vals if len(vals) == n else vals[:1] * n, dtype=object).reshape(shape)
    dt = np.dtype(name)
    if t.tensor_content:
        if len(t.tensor_content) != n * dt.itemsize:
            raise DataLossError(f"{where}: tensor_content has {len(t.tensor_content)} bytes, "
                                f"shape {list(shape)} of {name} needs {n * dt.itemsize}")
        return np.frombuffer(t.tensor_content, dt.newbyteorder("<")).astype(dt).reshape(shape)
    field = {"float32": t.float_val, "float64": t.double_val, "int64": t.int64_val,
             "bool": t.bool_val, "float16": t.half_val, "bfloat16": t.half_val,
             "complex64": t.scomplex_val, "complex128": t.dcomplex_val,
             "uint32": t.uint32_val, "uint64": t.uint64_val}.get(name, t.int_val)
    vals = list(field)
    if name in ("float16", "bfloat16"):     # TF keeps their 16 bits in half_val
        vals = np.array(vals, np.uint16).view(dt)
    elif name in ("complex64", "complex128"):     # (real, imaginary) pairs
        vals = np.array(vals, np.float32 if name == "complex64" else np.float64).view(dt)
    if len(vals) == n:
        return np.array(vals, dtype=dt).reshape(shape)
    if len(vals) > n:
        raise DataLossError(f"{where}: {len(vals)} values for shape {list(shape)}")
    fill = vals[-1] if len(vals) else 0          # TF repeats the last value
    out = np.full(n, fill, dtype=dt)
    out[:len(vals)] = vals
    return out.reshape(shape)


def _attr_value(v: Any) -> Any:
    a = P.attr_value_pb2.AttrValue()
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) and v[0] in (
            "type", "shape", "tensor", "ints"):
        kind, x = v
        if kind == "type":
            a.type = P.DT_TO_TF[x if isinstance(x, str) and x in P.DT_TO_TF else as_dtype(x).name]
        elif kind == "shape":
            a.shape.SetInParent()                   # a scalar's shape is set, with no dims
            if x is None:
                a.shape.unknown_rank = True
            else:
                for d in x:
                    a.shape.dim.add().size = -1 if d is None else int(d)
        elif kind == "tensor":
            a.tensor.CopyFrom(tensor_proto(x))
        else:
            a.list.SetInParent()
            a.list.i.extend(int(i) for i in x)
    elif isinstance(v, bool):
        a.b = v
    elif isinstance(v, int):
        a.i = v
    elif isinstance(v, float):
        a.f = v
    elif isinstance(v, str):
        a.s = v.encode()
    else:
        raise TypeError(f"no AttrValue for {v!r}")
    return a


class Node:
    """A NodeDef with decoded attributes (what the table's importers see)."""

    def __init__(self, nd: Any, where: str) -> None:
        self.nd, self.name, self.op, self.where = nd, nd.name, nd.op, where

    def attr(self, key: str, default: Any = None) -> Any:
        if key not in self.nd.attr:
            return default
        a = self.nd.attr[key]
        kind = a.WhichOneof("value")
        if kind == "s":
            return a.s.decode("utf-8", "replace")
        if kind in ("i", "f", "b"):
            return getattr(a, kind)
        if kind == "type":
            name = P.DT_FROM_TF.get(a.type)
            if name is None:
                raise NotImplementedError(f"{self.where}: node {self.name}: dtype enum {a.type}")
            return name
        if kind == "shape":
            return None if a.shape.unknown_rank else tuple(
                None if d.size < 0 else int(d.size) for d in a.shape.dim)
        if kind == "tensor":
            return tensor_value(a.tensor, f"{self.where}: node {self.name} attr {key}")
        if kind == "list":
            lst = a.list
            for f in ("i", "f", "b", "s", "type"):
                vals = list(getattr(lst, f))
                if vals:
                    return [v.decode() if f == "s" else v for v in vals]
            return []
        raise NotImplementedError(f"{self.where}: node {self.name}: attribute {key} of kind "
                                  f"{kind} is not supported")


# ------------------------------------------------------------------ export -----------------

def graph_to_graph_def(graph: Optional[Graph] = None, ops: Optional[Iterable[Operation]] = None,
                       add_shapes: bool = False) -> tuple[Any, list[Operation]]:
    """(GraphDef of the TF-expressible ops, the ops left out)."""
    g = graph or get_default_graph()
    gd = P.graph_pb2.GraphDef()
    gd.versions.producer = 1087
    gd.versions.min_consumer = 12
    done: set = set()
    left_out: list[Operation] = []
    for op in (list(ops) if ops is not None else g.get_operations()):
        row = export_row(op)
        deps = [t.op for t in op.inputs] + list(op.control_inputs)
        if row is None or any(d not in done for d in deps):
            left_out.append(op)
            continue
        try:
            attrs, extra = row.exp(op)
        except (KeyError, NotImplementedError, ValueError, TypeError):
            left_out.append(op)
            continue
        inputs = [t.op.name if t.value_index == 0 else t.name for t in op.inputs]
        for i, arr in enumerate(extra):
            cname = f"{op.name}/_jf_const_{i}"
            c = gd.node.add(name=cname, op="Const")
            c.attr["dtype"].CopyFrom(_attr_value(("type", as_dtype(np.asarray(arr).dtype.name))))
            c.attr["value"].CopyFrom(_attr_value(("tensor", np.asarray(arr))))
            inputs.append(cname)
        if op.type in EXPORT_INPUT_ORDER:
            inputs = EXPORT_INPUT_ORDER[op.type](op, inputs)
        nd = gd.node.add(name=op.name, op=row.tf_type)
        nd.input.extend(inputs + ["^" + c.name for c in op.control_inputs])
        if op.device:
            nd.device = op.device
        for k, v in attrs.items():
            nd.attr[k].CopyFrom(_attr_value(v))
        if add_shapes:
            sh = nd.attr["_output_shapes"].list.shape
            for t in op.outputs:
                s = sh.add()
                if t.shape.dims is None:
                    s.unknown_rank = True
                else:
                    for d in t.shape.dims:
                        s.dim.add().size = -1 if d is None else d
        done.add(op)
    return gd, left_out


def as_graph_def(graph: Optional[Graph] = None, from_version: Any = None,
                 add_shapes: bool = False) -> Any:
    """``Graph.as_graph_def()``: a ``GraphDef`` protocol buffer of the graph."""
    return graph_to_graph_def(graph, add_shapes=add_shapes)[0]


def write_graph(graph_or_graph_def: Any, logdir: str, name: str, as_text: bool = True) -> str:
    """``tf.train.write_graph``: the GraphDef as text or binary protobuf; returns the path."""
    from .saver.format import _atomic_write
    gd = graph_or_graph_def
    if isinstance(gd, Graph):
        gd = as_graph_def(gd)
    os.makedirs(logdir, exist_ok=True) if logdir else None
    path = os.path.join(logdir, name)
    data = P.text_format.MessageToString(gd).encode() if as_text else gd.SerializeToString()
    _atomic_write(path, data)
    return path


# ------------------------------------------------------------------ import -----------------

_GRAD_SEED = re.compile(r"^(.*?gradients(?:_\d+)?)/(?:Fill|grad_ys_0)$")
# TF's optimizer ops and the index of their gradient input (training_ops.cc signatures:
# ApplyGradientDescent(var, alpha, delta), ApplyMomentum(var, accum, lr, grad, momentum),
# ApplyAdam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad))
_APPLY_GRAD_INPUT = {"ApplyGradientDescent": 2, "ApplyMomentum": 3, "ApplyAdam": 9}
_APPLY_GRAD_INPUT.update({"Resource" + k: v for k, v in _APPLY_GRAD_INPUT.items()})
_APPLY = set(_APPLY_GRAD_INPUT)
_SKIP_SAVER = re.compile(r"^(save(_\d+)?)/")


def parse_graph_def(data: bytes, where: str) -> Any:
    gd = P.graph_pb2.GraphDef()
    try:
        gd.ParseFromString(data)
    except (P.DecodeError, RecursionError, ValueError) as e:
        try:
            gd = P.graph_pb2.GraphDef()
            P.text_format.Parse(data.decode("utf-8"), gd)
        except Exception:
            raise DataLossError(f"{where}: not a GraphDef protocol buffer (binary or text), or "
                                f"corrupted: {e}") from None
    return gd


def _split_input(s: str) -> tuple[str, int, bool]:
    if s.startswith("^"):
        return s[1:], -1, True
    name, _, idx = s.partition(":")
    return name, int(idx) if idx else 0, False


def _grad_scopes(nodes: dict) -> dict[str, str]:
    """{gradient scope: the ys tensor name} for TF's expanded gradient subgraphs: a scope
    ``.../gradients`` holds the seed ``grad_ys_0`` (or ``Fill``), whose consumers are named
    ``<scope>/<ys op>_grad/...``."""
    seeds = {}
    for name, nd in nodes.items():
        m = _GRAD_SEED.match(name)
        if m and nd.op == "Fill":
            seeds[name] = m.group(1)
    out = {}
    for name, nd in nodes.items():
        for ref in nd.input:
            src = _split_input(ref)[0]
            scope = seeds.get(src)
            if scope and name.startswith(scope + "/") and "_grad/" in name:
                fwd = name[len(scope) + 1:].split("_grad/")[0]
                if fwd in nodes:
                    out.setdefault(scope, fwd + ":0")
    return out


def _scope_of(name: str, scopes: Iterable[str]) -> Optional[str]:
    for s in scopes:
        if name.startswith(s + "/"):
            return s
    return None


def import_nodes(gd: Any, *, graph: Optional[Graph] = None, input_map: Optional[dict] = None,
                 prefix: str = "", where: str = "graph_def",
                 skip: Optional[set] = None) -> dict[str, Operation]:
    """Create the nodes of ``gd`` in ``graph``; returns {node name: Operation}."""
    g = graph or get_default_graph()
    if len(gd.node) > MAX_NODES:
        raise DataLossError(f"{where}: {len(gd.node)} nodes (limit {MAX_NODES})")
    nodes = {nd.name: nd for nd in gd.node}
    if len(nodes) != len(gd.node):
        raise DataLossError(f"{where}: duplicate node names")
    skip = set(skip or ())
    scopes = _grad_scopes(nodes)
    for name in nodes:
        if _scope_of(name, scopes):
            skip.add(name)
    used = {_split_input(r)[0] for nd in gd.node if nd.name not in skip for r in nd.input}
    skip |= {n for n, nd in nodes.items() if nd.op in DROP_IF_UNUSED and n not in used}
    for name, nd in nodes.items():       # every op type is checked before anything is built
        if name not in skip and nd.op not in TABLE and nd.op not in _APPLY:
            raise NotFoundError(f"{where}: node {name}: op type '{nd.op}' has no jitflow "
                                f"mapping (Op type not registered; jitflow maps "
                                f"{len(TABLE) + len(_APPLY)} TF op types, see "
                                "jitflow/frontend/tf_op_table.py)")
    input_map = dict(input_map or {})
    created: dict[str, Operation] = {}
    grads: dict[tuple[str, str], Tensor] = {}
    state = {n: 0 for n in nodes}         # 0 new, 1 in progress, 2 done

    def tensor_for(ref: str, user: str) -> Tensor:
        name, idx, _ = _split_input(ref)
        key = f"{name}:{idx}"
        if key in input_map or (idx == 0 and name in input_map):
            t = input_map.get(key, input_map.get(name))
            from .op_builder import convert_to_tensor
            return convert_to_tensor(t)
        if name not in nodes:
            raise DataLossError(f"{where}: node {user} has an input from unknown node {name}")
        if name in skip:
            raise NotImplementedError(f"{where}: node {user} reads {ref}, which jitflow does not "
                                      "import (a gradient or saver node)")
        op = build(name)
        if idx >= len(op.outputs):
            raise DataLossError(f"{where}: node {user} reads output {idx} of {name}, which has "
                                f"{len(op.outputs)}")
        return op.outputs[idx]

    def build(name: str) -> Operation:
        if state[name] == 2:
            return created[name]
        # iterative depth-first order: no recursion on the file's structure
        stack = [name]
        while stack:
            n = stack[-1]
            if state[n] == 2:
                stack.pop()
                continue
            state[n] = 1
            pending = []
            for ref in nodes[n].input:
                dep, idx, _ = _split_input(ref)
                if (f"{dep}:{idx}" in input_map or dep in input_map) and not ref.startswith("^"):
                    continue
                if dep not in nodes:
                    raise DataLossError(f"{where}: node {n} has an input from unknown node {dep}")
                if dep in skip:
                    continue
                if state[dep] == 1:
                    raise DataLossError(f"{where}: node {n} is on a cycle (through {dep})")
                if state[dep] == 0:
                    pending.append(dep)
            if pending:
                stack.extend(pending)
                continue
            created[n] = _make(nodes[n])
            state[n] = 2
            stack.pop()
        return created[name]

    def _make(nd: Any) -> Operation:
        node = Node(nd, where)
        data_refs = [r for r in nd.input if not r.startswith("^")]
        ctrl = [_split_input(r)[0] for r in nd.input if r.startswith("^")]
        if nd.op in _APPLY:
            ins = [tensor_for(r, nd.name) if _scope_of(_split_input(r)[0], scopes) is None
                   else None for r in data_refs]
            op = _apply(g, node, ins, data_refs, scopes, nodes, grads, tensor_for, prefix)
        else:
            ins = [tensor_for(r, nd.name) for r in data_refs]
            consts = [t.op.attrs.get("value") if t.op.type == "Const" else None for t in ins]
            row = TABLE[nd.op]
            renamed = _Renamed(node, prefix)
            with g.name_scope(None), g.control_dependencies(None):
                try:
                    op = row.imp(renamed, ins, consts)
                except NotImplementedError as e:
                    raise InvalidArgumentError(f"{where}: {e}") from None
                except (TypeError, ValueError) as e:
                    raise InvalidArgumentError(f"{where}: node {nd.name} ({nd.op}): {e}") from None
        op.control_inputs = [build(c) for c in ctrl if c not in skip]
        if nd.device:
            op.device = nd.device
        return op

    for name in nodes:
        if name not in skip:
            build(name)
    return created


class _Renamed:
    def __init__(self, node: Node, prefix: str) -> None:
        self._n, self.name, self.op = node, prefix + node.name, node.op

    def attr(self, key: str, default: Any = None) -> Any:
        return self._n.attr(key, default)


def _apply(g, node, ins, refs, scopes, nodes, grads, tensor_for, prefix) -> Operation:
    """An ``Apply*`` optimizer node whose gradient input comes from TF's expanded gradients:
    rebuilt with jitflow's symbolic gradient of the same loss."""
    from . import math_ops as M
    from .gradients import gradients
    from .op_builder import make_op
    gi = _APPLY_GRAD_INPUT[node.op]             # which input is the gradient
    scope = _scope_of(_split_input(refs[gi])[0], scopes)
    var = ins[0]
    if scope is None:
        grad = ins[gi]
    else:
        key = (scope, var.op.name)
        if key not in grads:
            ys = tensor_for(scopes[scope], node.name)
            with g.name_scope(None), g.control_dependencies(None):
                with g.name_scope(prefix + scope.rsplit("/", 1)[0] + "/" if "/" in scope else None):
                    grads[key] = gradients(ys, [var])[0]
        grad = grads[key]
    base = prefix + node.name
    with g.name_scope(None), g.control_dependencies(None):
        kind = node.op[len("Resource"):] if node.op.startswith("Resource") else node.op
        if kind == "ApplyGradientDescent":
            lr = ins[1]
            new = make_op("Sub", "sub", [var, make_op("Mul", "mul", [lr, grad], {},
                                                      base + "/mul/").outputs[0]], {},
                          base + "/sub/").outputs[0]
            return make_op("Assign", None, [var, new], name=base + "/", out_types=[var._type])
        if kind == "ApplyMomentum":             # accum = accum*momentum + grad; var -= lr*accum
            accum, lr, mom = ins[1], ins[2], ins[4]
            if node.attr("use_nesterov", False):
                raise InvalidArgumentError(f"{node.name}: Nesterov momentum is not supported")
            new_acc = M.add(M.multiply(accum, mom), grad)
            a1 = make_op("Assign", None, [accum, new_acc], name=base + "/accum/",
                         out_types=[accum._type])
            with g.control_dependencies([a1]):
                new = M.subtract(var, M.multiply(lr, a1.outputs[0]))
            return make_op("Assign", None, [var, new], name=base + "/", out_types=[var._type])
        if kind == "ApplyAdam":
            m, v, b1p, b2p, lr, b1, b2, eps = ins[1:9]
            lr_t = M.divide(M.multiply(lr, M.sqrt(M.subtract(1.0, b2p))), M.subtract(1.0, b1p))
            m_new = M.add(m, M.multiply(M.subtract(grad, m), M.subtract(1.0, b1)))
            v_new = M.add(v, M.multiply(M.subtract(M.square(grad), v), M.subtract(1.0, b2)))
            am = make_op("Assign", None, [m, m_new], name=base + "/m/", out_types=[m._type])
            av = make_op("Assign", None, [v, v_new], name=base + "/v/", out_types=[v._type])
            new = M.subtract(var, M.divide(M.multiply(lr_t, am.outputs[0]),
                                           M.add(M.sqrt(av.outputs[0]), eps)))
            return make_op("Assign", None, [var, new], name=base + "/", out_types=[var._type])
    raise NotFoundError(f"{node.name}: optimizer op {node.op} is not supported")


def import_graph_def(graph_def: Any, input_map: Optional[dict] = None,
                     return_elements: Optional[list] = None, name: Optional[str] = None,
                     op_dict: Any = None, producer_op_list: Any = None) -> Optional[list]:
    """``tf.import_graph_def``: the nodes of ``graph_def`` (a GraphDef or its bytes) into the
    default graph under ``name/`` ("import" by default; "" for none)."""
    if isinstance(graph_def, (bytes, bytearray)):
        graph_def = parse_graph_def(bytes(graph_def), "graph_def")
    if not hasattr(graph_def, "node"):
        raise TypeError(f"graph_def must be a GraphDef proto, got {type(graph_def).__name__}")
    g = get_default_graph()
    prefix = "import" if name is None else name
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    for nd in graph_def.node:
        if prefix + nd.name in g._ops_by_name:
            raise ValueError(f"import_graph_def: an op named {prefix + nd.name} already exists "
                             "(choose another name=)")
    imap = {}
    for k, v in (input_map or {}).items():
        imap[k if ":" in k or k.startswith("^") else k + ":0"] = v
    created = import_nodes(graph_def, graph=g, input_map=imap, prefix=prefix)
    for op in created.values():
        _reserve(g, op.name)
    if return_elements is None:
        return None
    out = []
    for r in return_elements:
        n, _, idx = r.partition(":")
        if n not in created:
            raise ValueError(f"Requested return_element {r!r} not found in graph_def.")
        out.append(created[n].outputs[int(idx)] if idx else created[n])
    return out


def _reserve(g: Graph, name: str) -> None:
    key = name.lower()
    if key not in g._names_in_use:
        g._names_in_use[key] = 1


# ------------------------------------------------------------------ freezing ---------------

def convert_variables_to_constants(sess: Any, input_graph_def: Any, output_node_names: list,
                                   variable_names_whitelist: Any = None,
                                   variable_names_blacklist: Any = None) -> Any:
    """``tf.graph_util.convert_variables_to_constants``: the subgraph that computes
    ``output_node_names``, with each variable read replaced by a Const of its current value."""
    g = sess.graph
    nodes = {nd.name: nd for nd in input_graph_def.node}
    keep, stack = set(), list(output_node_names)
    while stack:
        n = stack.pop()
        if n in keep:
            continue
        if n not in nodes:
            raise ValueError(f"convert_variables_to_constants: no node {n} in the graph_def")
        keep.add(n)
        if nodes[n].op not in ("VariableV2",):
            stack.extend(_split_input(r)[0] for r in nodes[n].input)
    out = P.graph_pb2.GraphDef()
    out.versions.CopyFrom(input_graph_def.versions)
    for nd in input_graph_def.node:
        if nd.name not in keep:
            continue
        use = (nd.op == "VariableV2" and
               (variable_names_whitelist is None or nd.name in variable_names_whitelist) and
               (variable_names_blacklist is None or nd.name not in variable_names_blacklist))
        if use:
            var = g.get_operation_by_name(nd.name)
            v = sess._variable_value(g._variables_by_op[var])
            if v is None:
                raise ValueError(f"convert_variables_to_constants: variable {nd.name} is not "
                                 "initialized in this session")
            c = out.node.add(name=nd.name, op="Const")
            c.attr["dtype"].CopyFrom(_attr_value(("type", as_dtype(np.asarray(v).dtype.name))))
            c.attr["value"].CopyFrom(_attr_value(("tensor", np.asarray(v))))
        else:
            out.node.add().CopyFrom(nd)
    return out
