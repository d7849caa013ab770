"""TF1 graph objects: Graph, Operation, Tensor, TensorShape; naming, scopes, collections.

A frontend Operation records the IR op it stands for (``ir_op`` + ``attrs``) so the Session can
lower a pruned subgraph to an ``ir.Function`` one op at a time. A few op types are handled by
the lowering itself (placeholders, variables, assignments, no-ops, gradients).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from typing import Any, Iterator, Optional, Sequence

from ..ir.core import Location
from ..ir.dtypes import DType
from ..ir.types import TensorType, format_shape_tf
from .default_session import default_session_stack, session_for

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_location() -> tuple[str, int]:
    """The innermost stack frame outside the jitflow package: the user's file:line."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_PKG_DIR) and not fn.startswith("<frozen"):
            return fn, f.f_lineno
        f = f.f_back
    return "<unknown>", 0


class GraphKeys:
    GLOBAL_VARIABLES = "variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    LOCAL_VARIABLES = "local_variables"
    MODEL_VARIABLES = "model_variables"
    UPDATE_OPS = "update_ops"
    REGULARIZATION_LOSSES = "regularization_losses"
    LOSSES = "losses"
    SUMMARIES = "summaries"
    TRAIN_OP = "train_op"
    GLOBAL_STEP = "global_step"
    SAVERS = "savers"
    INIT_OP = "init_op"


class TensorShape:
    """A possibly-partial static shape: dims are ints or None; ``dims is None`` = unknown rank."""

    def __init__(self, dims: Any) -> None:
        if isinstance(dims, TensorShape):
            dims = dims.dims
        if dims is None:
            self.dims = None
        elif isinstance(dims, (int,)) or hasattr(dims, "__index__") and not isinstance(dims, (list, tuple)):
            self.dims = (int(dims),)
        else:
            self.dims = tuple(None if d is None or isinstance(d, str) or
                              getattr(d, "value", 0) is None else
                              (None if isinstance(d, TensorShape) else int(d)) for d in dims)

    @property
    def ndims(self) -> Optional[int]:
        return None if self.dims is None else len(self.dims)

    rank = ndims

    def as_list(self) -> list:
        if self.dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self.dims)

    def is_fully_defined(self) -> bool:
        return self.dims is not None and all(d is not None for d in self.dims)

    def num_elements(self) -> Optional[int]:
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self.dims:
            n *= d
        return n

    def is_compatible_with(self, other: Any) -> bool:
        other = TensorShape(other)
        if self.dims is None or other.dims is None:
            return True
        return len(self.dims) == len(other.dims) and all(
            a is None or b is None or a == b for a, b in zip(self.dims, other.dims))

    def merge_with(self, other: Any) -> "TensorShape":
        other = TensorShape(other)
        if self.dims is None:
            return other
        if other.dims is None:
            return self
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {other} are not compatible")
        return TensorShape([a if a is not None else b for a, b in zip(self.dims, other.dims)])

    def __len__(self) -> int:
        if self.dims is None:
            raise ValueError("Cannot take the length of shape with unknown rank.")
        return len(self.dims)

    def __iter__(self):
        """TF1's: the dims as ``Dimension`` objects (``[d.value for d in x.shape]``)."""
        if self.dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        from .dimension import of_dim
        return iter([of_dim(d) for d in self.dims])

    def __getitem__(self, i):
        """TF1's: a ``Dimension`` (``x.get_shape()[1].value``; an int subclass when known,
        ``Dimension(None)`` when not), a TensorShape for a slice. jitflow's own code reads
        ``dim(i)`` or ``dims``."""
        from .dimension import of_dim
        if self.dims is None:
            return of_dim(None) if not isinstance(i, slice) else TensorShape(None)
        if isinstance(i, slice):
            return TensorShape(self.dims[i])
        return of_dim(self.dims[i])

    def dim(self, i: int) -> Optional[int]:
        """Dim ``i`` as an int, None where unknown (also for an unknown rank)."""
        return None if self.dims is None else self.dims[i]

    def __eq__(self, other: Any) -> bool:
        try:
            other = TensorShape(other)
        except (TypeError, ValueError):
            return NotImplemented
        return self.dims == other.dims

    def __hash__(self) -> int:
        return hash(self.dims)

    def __str__(self) -> str:
        return format_shape_tf(self.dims)

    def __repr__(self) -> str:
        return "TensorShape(None)" if self.dims is None else f"TensorShape({list(self.dims)})"


def _shape_of_type(t: TensorType) -> tuple | None:
    if t.shape is None:
        return None
    return tuple(d if isinstance(d, int) else None for d in t.shape)


class Tensor:
    """A symbolic output of an Operation (``name`` is ``"op_name:index"``)."""

    __array_priority__ = 100  # so numpy scalars on the left defer to our operators

    def __init__(self, op: "Operation", index: int, ttype: TensorType) -> None:
        self._op = op
        self._index = index
        self._type = TensorType(ttype.dtype, _shape_of_type(ttype))

    @property
    def op(self) -> "Operation":
        return self._op

    @property
    def value_index(self) -> int:
        return self._index

    @property
    def graph(self) -> "Graph":
        return self._op.graph

    @property
    def dtype(self) -> DType:
        return self._type.dtype

    @property
    def name(self) -> str:
        return f"{self._op.name}:{self._index}"

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._type.shape)

    def get_shape(self) -> TensorShape:
        return self.shape

    def set_shape(self, shape: Any) -> None:
        merged = self.shape.merge_with(shape)
        self._type = TensorType(self.dtype, merged.dims)

    @property
    def device(self) -> str:
        return self._op.device

    def consumers(self) -> list["Operation"]:
        return [op for op in self.graph._ops if any(t is self for t in op.inputs)]

    def eval(self, feed_dict=None, session=None):
        return session_for(session, "eval()").run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<tf.Tensor '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    def __str__(self) -> str:
        return f'Tensor("{self.name}", shape={self.shape}, dtype={self.dtype.name})'

    __hash__ = object.__hash__

    def __eq__(self, other: Any) -> bool:  # TF1: identity, so tensors work as dict keys
        return self is other

    def __ne__(self, other: Any) -> bool:
        return self is not other

    def __bool__(self) -> bool:
        raise TypeError("Using a `tf.Tensor` as a Python `bool` is not allowed. Use `if t is not "
                        "None:` instead of `if t:` to test if a tensor is defined.")

    def __len__(self) -> int:
        raise TypeError(f"len is not well defined for symbolic Tensors ({self.name}). Use "
                        "tf.shape or Tensor.shape instead.")

    def __iter__(self):
        d = self.shape.dims
        if d is None or not d or d[0] is None:
            raise TypeError("Tensor objects are only iterable when the first dimension is known.")
        from .array_ops import unstack
        return iter(unstack(self))


class Operation:
    """A graph node. ``type`` is the TF op type ("MatMul"); ``ir_op`` the IR op it lowers to."""

    def __init__(self, graph: "Graph", op_type: str, name: str, inputs: Sequence[Tensor],
                 out_types: Sequence[TensorType], ir_op: Optional[str] = None,
                 attrs: Optional[dict] = None, control_inputs: Sequence["Operation"] = (),
                 loc: tuple[str, int] = ("<unknown>", 0), rng: bool = False) -> None:
        self.graph = graph
        self.type = op_type
        self.name = name
        self._inputs = list(inputs)
        self.ir_op = ir_op
        self.attrs = dict(attrs or {})
        self.control_inputs = list(control_inputs)
        self.outputs = [Tensor(self, i, t) for i, t in enumerate(out_types)]
        self.file, self.line = loc
        self.rng = rng                 # takes the session's run step (random ops)
        self.device = graph._device_stack[-1] if graph._device_stack else ""
        self._id = len(graph._ops)

    @property
    def inputs(self) -> list[Tensor]:
        return list(self._inputs)

    @property
    def location(self) -> Location:
        return Location(self.name, self.file, self.line)

    @property
    def node_def(self):
        return self

    def get_attr(self, name: str) -> Any:
        if name in self.attrs:
            return self.attrs[name]
        raise ValueError(f"Operation '{self.name}' has no attr named '{name}'.")

    def _add_control_input(self, op: "Operation") -> None:
        self.control_inputs.append(op)

    def run(self, feed_dict=None, session=None) -> None:
        session_for(session, "run()").run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<tf.Operation '{self.name}' type={self.type}>"


class Graph:
    """A TF1 graph: the ops, their unique names, scopes, collections and the random seed."""

    def __init__(self) -> None:
        self._ops: list[Operation] = []
        self._ops_by_name: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._name_stack = ""
        self._control_stack: list[list[Operation]] = []
        self._device_stack: list[str] = []
        self._collections: dict[str, list] = {}
        self.seed: Optional[int] = None
        self._var_store: dict[str, Any] = {}           # get_variable's full name -> Variable
        self._var_scope_stack: list = []               # frontend.variables.VarScope
        self._var_scope_counts: list[dict[str, int]] = [{}]
        self._finalized = False
        self._version = 0

    # -------------------------------------------------------------- default graph -------
    @contextlib.contextmanager
    def as_default(self) -> Iterator["Graph"]:
        _stack().append(self)
        try:
            yield self
        finally:
            _stack().pop()

    # -------------------------------------------------------------- naming --------------
    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        if self._name_stack:
            name = f"{self._name_stack}/{name}"
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            base = key
            while key in self._names_in_use:
                key = f"{base}_{i}"
                i += 1
            if mark_as_used:
                self._names_in_use[key] = 1
            name = f"{name}_{i - 1}"
        return name

    def get_name_scope(self) -> str:
        return self._name_stack

    @contextlib.contextmanager
    def name_scope(self, name: Optional[str]) -> Iterator[str]:
        old = self._name_stack
        if not name:
            new = ""
        elif name.endswith("/"):
            new = name[:-1]
        else:
            new = self.unique_name(name)
        self._name_stack = new
        try:
            yield f"{new}/" if new else ""
        finally:
            self._name_stack = old

    def gradient_override_map(self, op_type_map: dict):
        """``with g.gradient_override_map({"Identity": "MyGrad"}):`` ops of those types
        created inside use the gradient registered as "MyGrad" (frontend/custom_gradient.py)."""
        from .custom_gradient import gradient_override_map
        return gradient_override_map(self, op_type_map)

    # -------------------------------------------------------------- control deps --------
    @contextlib.contextmanager
    def control_dependencies(self, control_inputs) -> Iterator[None]:
        if control_inputs is None:
            saved, self._control_stack = self._control_stack, []
            try:
                yield
            finally:
                self._control_stack = saved
            return
        ops = []
        for c in control_inputs:
            c = getattr(c, "_as_graph_element", lambda: c)()
            if isinstance(c, Tensor):
                c = c.op
            if not isinstance(c, Operation):
                raise TypeError(f"Can not convert {c!r} to an Operation for control_dependencies")
            ops.append(c)
        self._control_stack.append(ops)
        try:
            yield
        finally:
            self._control_stack.pop()

    @contextlib.contextmanager
    def device(self, name: Optional[str]) -> Iterator[None]:
        """Ops built inside get ``op.device == name``; ``None`` clears the scope, ``""`` keeps
        the enclosing one (as in TF1). jitflow/runtime/placement.py honours it."""
        if name == "" and self._device_stack:
            name = self._device_stack[-1]
        self._device_stack.append(name or "")
        try:
            yield
        finally:
            self._device_stack.pop()

    # -------------------------------------------------------------- ops -----------------
    def _add_op(self, op_type: str, inputs: Sequence[Tensor], out_types: Sequence[TensorType],
                ir_op: Optional[str], attrs: Optional[dict], name: Optional[str],
                loc: tuple[str, int], rng: bool = False,
                control_inputs: Sequence[Operation] = ()) -> Operation:
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")
        for t in inputs:
            if t.graph is not self:
                raise ValueError(f"Tensor {t.name} must be from the same graph as the op being "
                                 f"created ({op_type}).")
        if name and name.endswith("/"):
            full = name[:-1]   # a name scope ("loss/") names the op exactly, as in TF
        else:
            full = self.unique_name(name or op_type)
        ctrl = [c for group in self._control_stack for c in group] + list(control_inputs)
        op = Operation(self, op_type, full, inputs, out_types, ir_op, attrs, ctrl, loc, rng)
        self._ops.append(op)
        self._ops_by_name[full] = op
        self._version += 1
        return op

    def get_operations(self) -> list[Operation]:
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        if not isinstance(name, str):
            raise TypeError(f"Operation names are strings (or similar), not {type(name).__name__}.")
        if ":" in name:
            raise ValueError(f"Name '{name}' appears to refer to a Tensor, not a Operation.")
        try:
            return self._ops_by_name[name]
        except KeyError:
            raise KeyError(f"The name '{name}' refers to an Operation not in the graph.") from None

    def get_tensor_by_name(self, name: str) -> Tensor:
        if not isinstance(name, str) or ":" not in name:
            raise ValueError(f"The name '{name}' looks a like an Operation name, but is not a "
                             "valid Tensor name. Tensor names must be of the form "
                             "\"<op_name>:<output_index>\".")
        op_name, _, idx = name.rpartition(":")
        op = self._ops_by_name.get(op_name)
        if op is None or not idx.isdigit() or int(idx) >= len(op.outputs):
            raise KeyError(f"The name '{name}' refers to a Tensor which does not exist. The "
                           f"operation, '{op_name}', does not exist in the graph."
                           if op is None else
                           f"The name '{name}' refers to a Tensor which does not exist. The "
                           f"operation, '{op_name}', exists but only has {len(op.outputs)} outputs.")
        return op.outputs[int(idx)]

    def as_graph_element(self, obj: Any, allow_tensor: bool = True, allow_operation: bool = True):
        if isinstance(obj, str):
            if ":" in obj and allow_tensor:
                return self.get_tensor_by_name(obj)
            if allow_operation:
                return self.get_operation_by_name(obj)
        conv = getattr(obj, "_as_graph_element", None)
        if conv is not None:
            obj = conv()
        if isinstance(obj, (Tensor, Operation)):
            if obj.graph is not self:
                kind = "Tensor" if isinstance(obj, Tensor) else "Operation"
                raise ValueError(f"{kind} {obj} is not an element of this graph.")
            return obj
        raise TypeError(f"Can not convert a {type(obj).__name__} into a Tensor or Operation.")

    # -------------------------------------------------------------- collections ---------
    def add_to_collection(self, name: str, value: Any) -> None:
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value: Any) -> None:
        for n in ([names] if isinstance(names, str) else names):
            self.add_to_collection(n, value)

    def get_collection_ref(self, name: str) -> list:
        return self._collections.setdefault(name, [])

    def get_collection(self, name: str, scope: Optional[str] = None) -> list:
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        pattern = re.compile(scope)
        out = []
        for item in items:
            item_name = getattr(item, "name", None)
            if isinstance(item_name, str) and pattern.match(item_name):
                out.append(item)
        return out

    def get_all_collection_keys(self) -> list[str]:
        return [k for k, v in self._collections.items() if v]

    def clear_collection(self, name: str) -> None:
        self._collections.pop(name, None)

    def finalize(self) -> None:
        self._finalized = True

    def as_graph_def(self, from_version: Any = None, add_shapes: bool = False) -> Any:
        """TF's ``GraphDef`` protocol buffer of this graph (see frontend/graph_def.py)."""
        from .graph_def import as_graph_def
        return as_graph_def(self, from_version, add_shapes)

    @property
    def graph_def_versions(self) -> Any:
        return self.as_graph_def().versions

    @property
    def finalized(self) -> bool:
        return self._finalized

    @property
    def version(self) -> int:
        return self._version


# ------------------------------------------------------------------ default graph stack -----
_local = threading.local()
_global_default: list[Graph] = [Graph()]


def _stack() -> list[Graph]:
    s = getattr(_local, "stack", None)
    if s is None:
        s = _local.stack = []
    return s


def get_default_graph() -> Graph:
    s = _stack()
    return s[-1] if s else _global_default[0]


def reset_default_graph() -> None:
    if _stack():
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. If you "
                             "need a cleared graph, exit the nesting and create a new graph.")
    if default_session_stack():
        raise AssertionError("Do not use tf.reset_default_graph() while a default session is "
                             "active (inside `with tf.Session()`).")
    _global_default[0] = Graph()


def name_scope(name: Optional[str], default_name: Optional[str] = None, values=None):
    return get_default_graph().name_scope(name if name is not None else default_name)


def control_dependencies(control_inputs):
    return get_default_graph().control_dependencies(control_inputs)


def add_to_collection(name: str, value: Any) -> None:
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value: Any) -> None:
    get_default_graph().add_to_collections(names, value)


def get_collection(key: str, scope: Optional[str] = None) -> list:
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key: str) -> list:
    return get_default_graph().get_collection_ref(key)


def device(name: Optional[str]):
    return get_default_graph().device(name)
