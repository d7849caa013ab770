"""Variables, variable scopes, get_variable, assignments and initializer groups (TF1 rules)."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Optional

from ..ir.dtypes import as_dtype, float32
from ..ir.types import TensorType
from .graph import GraphKeys, Operation, Tensor, TensorShape, get_default_graph
from .op_builder import convert_to_tensor, make_op
from .default_session import session_for


class _ReuseMarker:
    def __repr__(self) -> str:
        return "AUTO_REUSE"


AUTO_REUSE = _ReuseMarker()


class Variable:
    """``tf.Variable``: ops ``v`` (VariableV2), ``v/Assign`` (its initializer), ``v/read``."""

    __array_priority__ = 100  # so NumPy arrays on the left defer to our operators

    def __init__(self, initial_value: Any = None, trainable: Optional[bool] = None,
                 collections: Optional[list] = None, validate_shape: bool = True,
                 caching_device=None, name: Optional[str] = None, variable_def=None,
                 dtype: Any = None, expected_shape=None, import_scope=None, constraint=None,
                 use_resource=None, synchronization=None, aggregation=None, shape=None) -> None:
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        trainable = True if trainable is None else trainable
        g = get_default_graph()
        # like TF's init_scope: a variable never inherits the caller's control dependencies
        # (else an optimizer slot created under control_dependencies(update_ops) would make
        # the initializer depend on the training batch)
        with g.control_dependencies(None), g.name_scope(name or "Variable") as scope:
            if callable(initial_value):
                with g.name_scope("Initializer"):
                    init = initial_value()
                init = convert_to_tensor(init, dtype=dtype)
            else:
                init = convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
            if dtype is not None and init.dtype is not as_dtype(dtype):
                from .math_ops import cast
                init = cast(init, dtype)
            var_shape = TensorShape(shape).dims if shape is not None else init.shape.dims
            if var_shape is None or any(d is None for d in var_shape):
                raise ValueError(f"initial_value must have a shape specified: {init}")
            self._variable_op = make_op("VariableV2", None, [], name=scope,
                                        out_types=[TensorType(init.dtype, var_shape)])
            self._variable = self._variable_op.outputs[0]
            self._initial_value = init
            self.initializer = make_op("Assign", None, [self._variable, init], name="Assign",
                                       out_types=[self._variable._type])
            self._snapshot = make_op("Identity", "identity", [self._variable], name="read").outputs[0]
        self.trainable = trainable
        g._variables_by_op = getattr(g, "_variables_by_op", {})
        g._variables_by_op[self._variable_op] = self
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections = list(collections) + [GraphKeys.TRAINABLE_VARIABLES]
        g.add_to_collections(collections, self)

    @classmethod
    def _from_ops(cls, var_op: Operation, initializer: Optional[Operation], snapshot: Tensor,
                  initial_value: Optional[Tensor], trainable: bool) -> "Variable":
        """A Variable over existing ops (no new ops), as when importing a meta graph."""
        v = cls.__new__(cls)
        v._variable_op = var_op
        v._variable = var_op.outputs[0]
        v._initial_value = initial_value
        v.initializer = initializer
        v._snapshot = snapshot
        v.trainable = trainable
        g = var_op.graph
        g._variables_by_op = getattr(g, "_variables_by_op", {})
        g._variables_by_op[var_op] = v
        return v

    # ------------------------------------------------------------------ properties -------
    @property
    def name(self) -> str:
        return self._variable.name

    @property
    def op(self) -> Operation:
        return self._variable_op

    @property
    def dtype(self):
        return self._variable.dtype

    @property
    def shape(self) -> TensorShape:
        return self._variable.shape

    def get_shape(self) -> TensorShape:
        return self.shape

    @property
    def graph(self):
        return self._variable.graph

    @property
    def device(self) -> str:
        return self._variable_op.device

    @property
    def initial_value(self) -> Tensor:
        return self._initial_value

    def initialized_value(self) -> Tensor:
        return self._initial_value

    def value(self) -> Tensor:
        return self._snapshot

    def read_value(self) -> Tensor:
        return make_op("Identity", "identity", [self._variable], name="read").outputs[0]

    def _as_tensor(self) -> Tensor:
        return self._snapshot

    def _as_graph_element(self) -> Tensor:
        return self._variable

    # ------------------------------------------------------------------ updates ----------
    def assign(self, value: Any, use_locking: bool = False, name: Optional[str] = None,
               read_value: bool = True):
        return assign(self, value, name=name)

    def assign_add(self, delta: Any, use_locking: bool = False, name: Optional[str] = None,
                   read_value: bool = True):
        return assign_add(self, delta, name=name)

    def assign_sub(self, delta: Any, use_locking: bool = False, name: Optional[str] = None,
                   read_value: bool = True):
        return assign_sub(self, delta, name=name)

    def eval(self, session=None):
        return self._variable.eval(session=session)

    def load(self, value: Any, session=None) -> None:
        session_for(session, "load()")._load_variable(self, value)

    def __repr__(self) -> str:
        return (f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}_ref>")

    __hash__ = object.__hash__

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __ne__(self, other: Any) -> bool:
        return self is not other

    def __getitem__(self, key):
        return self._snapshot[key]

    def __iter__(self):
        raise TypeError("'Variable' object is not iterable.")


def _delegate(op_name: str):
    def method(self, *args):
        return getattr(Tensor, op_name)(self._snapshot, *args)
    method.__name__ = op_name
    return method


for _name in ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
              "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__",
              "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__abs__", "__lt__", "__le__",
              "__gt__", "__ge__", "__and__", "__rand__", "__or__", "__ror__", "__invert__"]:
    setattr(Variable, _name, _delegate(_name))


def _assign_like(op_type: str, ref: Any, value: Any, name: Optional[str]) -> Tensor:
    target = ref._variable if isinstance(ref, Variable) else ref
    if not isinstance(target, Tensor) or target.op.type != "VariableV2":
        raise TypeError(f"{op_type} needs a Variable as its first argument, got {ref!r}")
    v = convert_to_tensor(value, dtype=target.dtype)
    if not v.shape.is_compatible_with(target.shape):
        raise ValueError(f"Shapes {target.shape} and {v.shape} are incompatible for {op_type} to "
                         f"{target.op.name}")
    return make_op(op_type, None, [target, v], name=name or op_type,
                   out_types=[target._type]).outputs[0]


def assign(ref: Any, value: Any, validate_shape: Any = None, use_locking: Any = None,
           name: Optional[str] = None) -> Tensor:
    return _assign_like("Assign", ref, value, name)


def assign_add(ref: Any, value: Any, use_locking: Any = None, name: Optional[str] = None) -> Tensor:
    return _assign_like("AssignAdd", ref, value, name)


def assign_sub(ref: Any, value: Any, use_locking: Any = None, name: Optional[str] = None) -> Tensor:
    return _assign_like("AssignSub", ref, value, name)


# ---------------------------------------------------------------------- groups --------------

def no_op(name: Optional[str] = None) -> Operation:
    return make_op("NoOp", None, [], name=name or "NoOp", out_types=[])


def group(*inputs: Any, name: Optional[str] = None) -> Operation:
    deps = []
    for x in inputs:
        if isinstance(x, (list, tuple)):
            deps.extend(x)
        elif x is not None:
            deps.append(x)
    g = get_default_graph()
    with g.control_dependencies(deps):
        return no_op(name=name or "group_deps")


def global_variables(scope: Optional[str] = None) -> list:
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


all_variables = global_variables


def trainable_variables(scope: Optional[str] = None) -> list:
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: Optional[str] = None) -> list:
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def variables_initializer(var_list, name: str = "init") -> Operation:
    return group(*[v.initializer for v in var_list], name=name)


def global_variables_initializer() -> Operation:
    return variables_initializer(global_variables(), name="init")


initialize_all_variables = global_variables_initializer


def local_variables_initializer() -> Operation:
    return variables_initializer(local_variables(), name="init")


# ---------------------------------------------------------------------- variable scopes -----

class VariableScope:
    def __init__(self, name: str, reuse: Any, initializer=None, regularizer=None, dtype=None,
                 original_name_scope: str = "") -> None:
        self.name = name
        self.reuse = reuse
        self.initializer = initializer
        self.regularizer = regularizer
        self.dtype = dtype
        self.original_name_scope = original_name_scope

    def reuse_variables(self) -> None:
        self.reuse = True

    def set_initializer(self, initializer) -> None:
        self.initializer = initializer

    def set_regularizer(self, regularizer) -> None:
        self.regularizer = regularizer


def get_variable_scope() -> VariableScope:
    g = get_default_graph()
    if not g._var_scope_stack:
        g._var_scope_stack.append(VariableScope("", False))
    return g._var_scope_stack[-1]


def _scope_counts(g) -> dict:
    """How often each variable scope name was opened (TF1's ``variable_scopes_count``)."""
    return g._var_scope_counts[0]


def _unique_variable_scope(g, prefix: str) -> str:
    """TF1's ``_get_unique_variable_scope``: ``prefix``, else ``prefix_1``, ``prefix_2``, ...
    unique among the scopes opened under the current variable scope."""
    counts = _scope_counts(g)
    cur = get_variable_scope().name
    name = f"{cur}/{prefix}" if cur else prefix
    if counts.get(name, 0) == 0:
        return prefix
    idx = 1
    while counts.get(f"{name}_{idx}", 0) > 0:
        idx += 1
    return f"{prefix}_{idx}"


@contextlib.contextmanager
def _pure_variable_scope(g, name_or_scope: Any, reuse: Any, initializer, regularizer, dtype,
                         old_name_scope: Optional[str]) -> Iterator[VariableScope]:
    """Push a VariableScope (no name scope), as TF1's ``_pure_variable_scope`` does."""
    old = get_variable_scope()
    counts = _scope_counts(g)
    if isinstance(name_or_scope, VariableScope):
        new_name = name_or_scope.name
        vs = VariableScope(name_or_scope.name, reuse if reuse else name_or_scope.reuse,
                           name_or_scope.initializer, name_or_scope.regularizer,
                           name_or_scope.dtype, name_or_scope.original_name_scope)
        counts[new_name] = counts.get(new_name, 0) + 1
        saved = dict(counts)
    else:
        new_name = f"{old.name}/{name_or_scope}" if old.name else name_or_scope
        vs = VariableScope(new_name, reuse or old.reuse, old.initializer, old.regularizer,
                           old.dtype, name_or_scope if old_name_scope is None else old_name_scope)
        counts[new_name] = counts.get(new_name, 0) + 1
        saved = None
    if initializer is not None:
        vs.initializer = initializer
    if regularizer is not None:
        vs.regularizer = regularizer
    if dtype is not None:
        vs.dtype = dtype
    g._var_scope_stack.append(vs)
    try:
        yield vs
    finally:
        if g._var_scope_stack and g._var_scope_stack[-1] is vs:
            g._var_scope_stack.pop()
        counts = _scope_counts(g)
        if saved is not None:         # jumping out of a re-entered scope restores the counts
            counts.clear()
            counts.update(saved)
        else:                          # leaving a prolonged scope forgets its subscopes
            prefix = new_name + "/"
            for k in counts:
                if k.startswith(prefix):
                    counts[k] = 0


@contextlib.contextmanager
def variable_scope(name_or_scope: Any = None, default_name: Optional[str] = None, values=None,
                   initializer=None, regularizer=None, caching_device=None, partitioner=None,
                   custom_getter=None, reuse: Any = None, dtype=None, use_resource=None,
                   constraint=None, auxiliary_name_scope: bool = True) -> Iterator[VariableScope]:
    """TF1's ``tf.variable_scope``: a variable scope plus (usually) a new name scope.

    A string extends the current variable scope and opens a new, uniquified name scope
    (re-opening ``"my_scope"`` gives ops under ``my_scope_1/``); a VariableScope object jumps
    to that scope (its name scope is again a new one unless ``auxiliary_name_scope=False``);
    ``default_name`` is made unique among the current scope's sub-scopes. ``reuse`` is
    inherited by sub-scopes (``True`` or ``AUTO_REUSE``); ``False`` means ``None``.
    """
    if default_name is None and name_or_scope is None:
        raise TypeError("If default_name is None then name_or_scope is required")
    if reuse is False:
        reuse = None
    if not (reuse is True or reuse is None or reuse is AUTO_REUSE):
        raise ValueError("The reuse parameter must be True or False or None.")
    g = get_default_graph()
    get_variable_scope()  # make sure the root scope exists
    if dtype is not None:
        dtype = as_dtype(dtype)
    if not auxiliary_name_scope:
        cur = g.get_name_scope()
        ns_cm = g.name_scope(cur + "/" if cur else "")
    else:
        ns_cm = None
    with contextlib.ExitStack() as stack:
        if name_or_scope is not None:
            if not isinstance(name_or_scope, (VariableScope, str)):
                raise TypeError("VariableScope: name_or_scope must be a string or VariableScope.")
            if isinstance(name_or_scope, str):
                ns_name = name_or_scope
            else:
                ns_name = name_or_scope.name.split("/")[-1]
            old_name_scope = None
            if ns_name or ns_cm is not None:
                entered = stack.enter_context(ns_cm or g.name_scope(ns_name))
                old_name_scope = (entered if isinstance(name_or_scope, str)
                                  else name_or_scope.original_name_scope)
            vs = stack.enter_context(_pure_variable_scope(
                g, name_or_scope, reuse, initializer, regularizer, dtype, old_name_scope))
        else:
            if reuse:
                raise ValueError("reuse=True cannot be used without a name_or_scope")
            entered = stack.enter_context(ns_cm or g.name_scope(default_name))
            unique = _unique_variable_scope(g, default_name)
            vs = stack.enter_context(_pure_variable_scope(
                g, unique, None, initializer, regularizer, dtype, entered))
        yield vs


def get_variable(name: str, shape: Any = None, dtype: Any = None, initializer: Any = None,
                 regularizer: Optional[Callable] = None, trainable: Optional[bool] = None,
                 collections: Optional[list] = None, caching_device=None, partitioner=None,
                 validate_shape: bool = True, use_resource=None, custom_getter=None,
                 constraint=None, synchronization=None, aggregation=None) -> Variable:
    g = get_default_graph()
    scope = get_variable_scope()
    full = f"{scope.name}/{name}" if scope.name else name
    # TF1: an explicit dtype must agree with a value initializer's; then the scope's defaults
    if dtype is not None and initializer is not None and not callable(initializer):
        init_dtype = convert_to_tensor(initializer).dtype if not isinstance(
            initializer, Tensor) else initializer.dtype
        if init_dtype is not as_dtype(dtype):
            raise ValueError(f"Initializer type '{init_dtype.name}' and explicit dtype "
                             f"'{as_dtype(dtype).name}' don't match.")
    init = initializer if initializer is not None else scope.initializer
    dt = as_dtype(dtype or scope.dtype or float32)
    from_value = init is not None and not callable(init)
    if shape is not None and from_value:
        raise ValueError("If initializer is a constant, do not specify shape.")
    existing = g._var_store.get(full)
    if existing is not None:
        if not scope.reuse:
            raise ValueError(f"Variable {full} already exists, disallowed. Did you mean to set "
                             f"reuse=True or reuse=tf.AUTO_REUSE in VarScope? Originally "
                             f"defined at:\n\n  File \"{existing.op.file}\", line "
                             f"{existing.op.line}")
        if shape is not None and not existing.shape.is_compatible_with(shape):
            raise ValueError(f"Trying to share variable {full}, but specified shape "
                             f"{TensorShape(shape)} and found shape {existing.shape}.")
        if dt is not existing.dtype:   # (the scope's default float32 when no dtype is given)
            raise ValueError(f"Trying to share variable {full}, but specified dtype "
                             f"{dt.name} and found dtype {existing.dtype.name}.")
        return existing
    if scope.reuse is True:
        raise ValueError(f"Variable {full} does not exist, or was not created with "
                         f"tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in VarScope?")
    if init is None:
        from .initializers import GlorotUniform, Zeros
        init = GlorotUniform() if dt.is_floating else Zeros()
    if isinstance(init, type):
        init = init()
    var_dtype = None
    if not from_value:
        if shape is None:
            raise ValueError(f"Shape of a new variable ({full}) must be fully defined, but "
                             f"instead was <unknown>.")
        dims = TensorShape(shape).as_list()
        initial = lambda: init(dims, dtype=dt)  # noqa: E731
        var_dtype = dt
    else:
        initial = init    # a Tensor or a value: the variable takes its dtype and shape
    with g.name_scope(None):
        v = Variable(initial, trainable=trainable, collections=collections, name=full,
                     dtype=var_dtype)
    g._var_store[full] = v
    reg = regularizer or scope.regularizer
    if reg is not None:
        with g.name_scope(f"{v.op.name}/Regularizer/"):
            loss = reg(v)
        if loss is not None:
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
    return v
