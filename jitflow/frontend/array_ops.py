"""tf.* array ops: identity, reshape, transpose, expand_dims, squeeze, fill/zeros/ones(_like),
where, stop_gradient, placeholders, stack/unstack."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import as_dtype, float32
from ..ir.types import TensorType
from .graph import Tensor, get_default_graph, name_scope
from .dynamic_shape import is_dynamic, shape_like
from .op_builder import constant, convert_to_tensor, make_op, static_ints, to_numpy


def _out(op):
    return op.outputs[0]


def identity(input: Any, name: Optional[str] = None) -> Tensor:
    return _out(make_op("Identity", "identity", [convert_to_tensor(input)], name=name))


def stop_gradient(input: Any, name: Optional[str] = None) -> Tensor:
    return _out(make_op("StopGradient", "stop_gradient", [convert_to_tensor(input)], name=name))


def placeholder(dtype: Any, shape: Any = None, name: Optional[str] = None) -> Tensor:
    from .graph import TensorShape
    dims = TensorShape(shape).dims
    return _out(make_op("Placeholder", None, [], name=name,
                        out_types=[TensorType(as_dtype(dtype), dims)]))


def placeholder_with_default(input: Any, shape: Any, name: Optional[str] = None) -> Tensor:
    from .graph import TensorShape
    x = convert_to_tensor(input)
    dims = TensorShape(shape).dims
    if dims is not None and x.shape.dims is not None and not TensorShape(dims).is_compatible_with(x.shape):
        raise ValueError(f"placeholder_with_default: default of shape {x.shape} is not "
                         f"compatible with shape {TensorShape(dims)}")
    return _out(make_op("PlaceholderWithDefault", None, [x], name=name,
                        out_types=[TensorType(x.dtype, dims)]))


def reshape(tensor: Any, shape: Any, name: Optional[str] = None) -> Tensor:
    x = convert_to_tensor(tensor)
    if isinstance(shape, Tensor) and shape.op.type == "Shape":
        return _out(make_op("Reshape", "reshape_like", [x, shape.op.inputs[0]], name=name or "Reshape"))
    from .dynamic_shape import is_dynamic, reshape_computed
    if is_dynamic(shape):
        return reshape_computed(x, shape, name)
    dims = static_ints(shape, "reshape's shape")
    return _out(make_op("Reshape", "reshape", [x], {"shape": dims}, name))


def shape(input: Any, name: Optional[str] = None, out_type: Any = "int32") -> Tensor:
    """The run-time shape of ``input`` (an int vector); usable as ``reshape``'s shape."""
    x = convert_to_tensor(input)
    if x.shape.dims is not None and x.shape.is_fully_defined():
        return constant(np.array(x.shape.dims, dtype=as_dtype(out_type).np), name=name or "Shape")
    return _out(make_op("Shape", "shape", [x], {"dtype": as_dtype(out_type)}, name))


def transpose(a: Any, perm: Any = None, name: str = "transpose", conjugate: bool = False) -> Tensor:
    x = convert_to_tensor(a)
    p = static_ints(perm, "perm") or ()
    return _out(make_op("Transpose", "transpose", [x], {"perm": p}, name))


def expand_dims(input: Any, axis: Any = None, name: Optional[str] = None, dim: Any = None) -> Tensor:
    ax = axis if axis is not None else dim
    if ax is None:
        raise ValueError("expand_dims requires an axis")
    return _out(make_op("ExpandDims", "expand_dims", [convert_to_tensor(input)],
                        {"axis": int(static_ints(ax, "axis")[0])}, name))


def squeeze(input: Any, axis: Any = None, name: Optional[str] = None, squeeze_dims: Any = None) -> Tensor:
    """Without ``axis``, squeezes the dims that are statically 1 (a dim unknown at graph
    build stays, even if it is 1 at run time: the IR needs a static rank)."""
    x = convert_to_tensor(input)
    ax = axis if axis is not None else squeeze_dims
    axes = static_ints(ax, "axis") or ()
    if not axes:
        dims = x.shape.dims
        if dims is None:
            raise ValueError(f"squeeze without axis needs a tensor of known rank, got {x}")
        axes = tuple(i for i, d in enumerate(dims) if d == 1)
        if not axes:
            return identity(x, name=name or "Squeeze")
    return _out(make_op("Squeeze", "squeeze", [x], {"axes": axes}, name))


def fill(dims: Any, value: Any, name: Optional[str] = None) -> Tensor:
    v = convert_to_tensor(value)
    if is_dynamic(dims):                      # e.g. tf.fill(tf.shape(x), 3.0)
        with name_scope(name or "Fill") as scope:
            like = shape_like(dims, "tf.fill")
            return _out(make_op("Add", "add", [zeros_like(like, dtype=v.dtype), v], name=scope))
    return _out(make_op("Fill", "fill", [v], {"shape": static_ints(dims, "dims")}, name))


def _filled(shape: Any, dtype: Any, value: float, name: str) -> Tensor:
    dt = as_dtype(dtype)
    if is_dynamic(shape):                     # e.g. tf.zeros(tf.shape(x)), tf.ones([n, 3])
        with name_scope(name) as scope:
            like = shape_like(shape, f"tf.{name}")
            fn = zeros_like if value == 0 else ones_like
            return fn(like, dtype=dt, name=scope)
    dims = static_ints(shape, "shape")
    with name_scope(name) as scope:
        v = constant(to_numpy(bool(value) if dt.is_bool else value, dt), name="Const")
        return _out(make_op("Fill", "fill", [v], {"shape": dims}, scope))


def zeros(shape: Any, dtype: Any = float32, name: str = "zeros") -> Tensor:
    return _filled(shape, dtype, 0, name)


def ones(shape: Any, dtype: Any = float32, name: str = "ones") -> Tensor:
    return _filled(shape, dtype, 1, name)


def zeros_like(tensor: Any, dtype: Any = None, name: Optional[str] = None, optimize: bool = True) -> Tensor:
    x = convert_to_tensor(tensor)
    out = _out(make_op("ZerosLike", "zeros_like", [x], name=name or "zeros_like"))
    return out if dtype is None else _cast(out, dtype)


def ones_like(tensor: Any, dtype: Any = None, name: Optional[str] = None, optimize: bool = True) -> Tensor:
    x = convert_to_tensor(tensor)
    out = _out(make_op("OnesLike", "ones_like", [x], name=name or "ones_like"))
    return out if dtype is None else _cast(out, dtype)


def _cast(x: Tensor, dtype: Any) -> Tensor:
    from .math_ops import cast
    return cast(x, dtype)


def where(condition: Any, x: Any = None, y: Any = None, name: Optional[str] = None) -> Tensor:
    """TF1 ``tf.where(cond, x, y)`` (op Select): ``cond`` has the shape of ``x`` and ``y``, is
    a scalar, or is a vector that picks rows (``cond.shape == [x.shape[0]]``); nothing else
    broadcasts (see ``where_v2``). With one argument, the indices of the true elements."""
    if x is None and y is None:      # the indices of the true elements (run on the host)
        from .host_ops import where_indices
        return where_indices(condition, name=name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    from .math_ops import binary_operands
    from .select_rules import check_select_shapes
    c = convert_to_tensor(condition)
    xt, yt = binary_operands(x, y, "Select")
    op_name = get_default_graph().unique_name(name or "Select", mark_as_used=False)
    rows = check_select_shapes(c, xt, yt, op_name)
    return select_rows(c, xt, yt, rows, name)


def select(condition: Any, x: Any, y: Any, name: Optional[str] = None) -> Tensor:
    """jitflow's lenient select for its own helpers: a rank-1 ``condition`` picks rows of a
    rank > 1 ``x`` (TF1's rule); any other shapes broadcast (exported as SelectV2)."""
    from .math_ops import binary_operands
    c = convert_to_tensor(condition)
    xt, yt = binary_operands(x, y, "Select")
    rows = c.shape.ndims == 1 and xt.shape.ndims not in (None, 0, 1)
    return select_rows(c, xt, yt, rows, name)


def select_rows(c: Tensor, x: Tensor, y: Tensor, rows: bool, name: Optional[str] = None,
                reshape_name: Optional[str] = None) -> Tensor:
    """A ``Select`` op; ``rows``: ``c`` (a vector) first becomes ``[n, 1, ..., 1]``."""
    if rows:
        c = reshape(c, [-1] + [1] * (x.shape.ndims - 1), name=reshape_name)
    return _out(make_op("Select", "select", [c, x, y], name=name))


def where_v2(condition: Any, x: Any = None, y: Any = None, name: Optional[str] = None) -> Tensor:
    """``tf.where_v2`` (TF2's ``tf.where``): ``condition``, ``x`` and ``y`` broadcast together
    as NumPy's ``where`` does (TF op SelectV2); with one argument, the indices of the true
    elements, as ``tf.where``."""
    if x is None and y is None:
        return where(condition, name=name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    from .math_ops import binary_operands
    xt, yt = binary_operands(x, y, "SelectV2")
    return _out(make_op("SelectV2", "select", [convert_to_tensor(condition), xt, yt], name=name))


def stack(values, axis: int = 0, name: str = "stack") -> Tensor:
    from ..ops import array as _  # noqa: F401
    values = [convert_to_tensor(v) for v in values]
    with name_scope(name) as scope:
        expanded = [expand_dims(v, axis) for v in values]
        if len(expanded) == 1:
            return identity(expanded[0], name=scope)
        return _out(make_op("Pack", "concat", expanded, {"axis": axis}, scope))


def unstack(value: Any, num: Optional[int] = None, axis: int = 0, name: str = "unstack") -> list:
    x = convert_to_tensor(value)
    n = num if num is not None else x.shape.dim(axis)
    if n is None:
        raise ValueError(f"Cannot infer num from shape {x.shape}")
    with name_scope(name):
        outs = []
        for i in range(n):
            idx = [slice(None)] * (axis % x.shape.ndims) + [i]
            outs.append(x[tuple(idx)])
        return outs


def get_default_graph_ops() -> list:
    return get_default_graph().get_operations()
