"""tf.* math: elementwise ops, comparisons, reductions, matmul, cast, add_n.

Each function converts its arguments the TF1 way (Python values take the other operand's
dtype; tensors of different dtypes are an error) and creates one IR-backed op.
"""
from __future__ import annotations

from typing import Any, Optional

from ..errors import GraphTypeError
from ..ir.dtypes import DType, as_dtype, float32, float64
from .graph import Tensor, name_scope, user_location
from .op_builder import convert_to_tensor, make_op, static_ints


def _out(op):
    return op.outputs[0]


def unary(op_type: str, ir_op: str):
    def fn(x: Any, name: Optional[str] = None) -> Tensor:
        return _out(make_op(op_type, ir_op, [convert_to_tensor(x)], name=name))
    fn.__name__ = ir_op
    fn.__doc__ = f"tf.{ir_op}: elementwise {ir_op} (TF op {op_type})."
    return fn


def binary_operands(x: Any, y: Any, op_type: str,
                    name: Optional[str] = None) -> tuple[Tensor, Tensor]:
    x_is = isinstance(x, Tensor) or hasattr(x, "_as_tensor")
    y_is = isinstance(y, Tensor) or hasattr(y, "_as_tensor")
    if x_is:
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype=None if y_is else x.dtype)
    elif y_is:
        y = convert_to_tensor(y)
        x = convert_to_tensor(x, dtype=y.dtype)
    else:
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype=x.dtype)
    if x.dtype is not y.dtype:
        g = x.graph
        op_name = name[:-1] if name and name.endswith("/") else g.unique_name(
            name or op_type, mark_as_used=False)
        file, line = user_location()
        raise GraphTypeError(f"Input 'y' of '{op_type}' Op has type {y.dtype.name} that does not "
                             f"match type {x.dtype.name} of argument 'x'. (op '{op_name}' with "
                             f"inputs {x}, {y}, defined at {file}:{line})")
    return x, y


def binary(op_type: str, ir_op: str, default_name: Optional[str] = None):
    def fn(x: Any, y: Any, name: Optional[str] = None) -> Tensor:
        a, b = binary_operands(x, y, op_type, name or default_name)
        return _out(make_op(op_type, ir_op, [a, b], name=name or default_name))
    fn.__name__ = ir_op
    fn.__doc__ = f"Elementwise {ir_op} with broadcasting (TF op {op_type})."
    return fn


abs = unary("Abs", "abs")  # noqa: A001 - TF's name
negative = unary("Neg", "neg")
neg = negative
sign = unary("Sign", "sign")
square = unary("Square", "square")
sqrt = unary("Sqrt", "sqrt")
rsqrt = unary("Rsqrt", "rsqrt")
exp = unary("Exp", "exp")
log = unary("Log", "log")
tanh = unary("Tanh", "tanh")
sigmoid = unary("Sigmoid", "sigmoid")
relu = unary("Relu", "relu")
logical_not = unary("LogicalNot", "logical_not")

add = binary("Add", "add")
subtract = binary("Sub", "sub")
multiply = binary("Mul", "mul")
maximum = binary("Maximum", "maximum")
minimum = binary("Minimum", "minimum")
pow = binary("Pow", "pow")  # noqa: A001
floordiv = binary("FloorDiv", "floordiv")
floor_div = floordiv
floormod = binary("FloorMod", "mod")
mod = floormod
equal = binary("Equal", "equal")
not_equal = binary("NotEqual", "not_equal")
less = binary("Less", "less")
less_equal = binary("LessEqual", "less_equal")
greater = binary("Greater", "greater")
greater_equal = binary("GreaterEqual", "greater_equal")
logical_and = binary("LogicalAnd", "logical_and")
logical_or = binary("LogicalOr", "logical_or")
_real_div = binary("RealDiv", "div")


def truediv(x: Any, y: Any, name: Optional[str] = None) -> Tensor:
    """``/``: integers are cast to float64 (int32/int64) first, as tf.truediv does."""
    x, y = binary_operands(x, y, "RealDiv")
    with name_scope(name, "truediv") as scope:
        if not x.dtype.is_floating:
            x, y = cast(x, float64), cast(y, float64)
        return _real_div(x, y, name=scope)


divide = truediv


def div(x: Any, y: Any, name: Optional[str] = None) -> Tensor:
    """TF1 ``tf.div``: floor division for integers, true division for floats."""
    x, y = binary_operands(x, y, "Div")
    if x.dtype.is_floating:
        return _real_div(x, y, name=name or "div")
    return floordiv(x, y, name=name or "div")


def squared_difference(x: Any, y: Any, name: Optional[str] = None) -> Tensor:
    with name_scope(name, "SquaredDifference") as scope:
        return square(subtract(x, y), name=scope)


reciprocal = unary("Reciprocal", "reciprocal")   # an IR op: ops/math_unary.py


def cast(x: Any, dtype: Any, name: Optional[str] = None) -> Tensor:
    dt = as_dtype(dtype)
    if not isinstance(x, Tensor) and hasattr(x, "dense_shape") and hasattr(x, "values"):
        from .data.string_format import SparseTensor     # a SparseTensor: cast its values
        return SparseTensor(x.indices, cast(x.values, dt, name), x.dense_shape)
    x = convert_to_tensor(x)
    if x.dtype is dt:
        return x
    return _out(make_op("Cast", "cast", [x], {"dtype": dt}, name or "Cast"))


def to_float(x: Any, name: str = "ToFloat") -> Tensor:
    return cast(x, float32, name=name)


def to_int32(x: Any, name: str = "ToInt32") -> Tensor:
    return cast(x, "int32", name=name)


def to_int64(x: Any, name: str = "ToInt64") -> Tensor:
    return cast(x, "int64", name=name)


def to_double(x: Any, name: str = "ToDouble") -> Tensor:
    return cast(x, float64, name=name)


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False,
           adjoint_a: bool = False, adjoint_b: bool = False, a_is_sparse: bool = False,
           b_is_sparse: bool = False, name: Optional[str] = None) -> Tensor:
    a, b = binary_operands(a, b, "MatMul", name or "MatMul")
    return _out(make_op("MatMul", "matmul", [a, b],
                        {"transpose_a": bool(transpose_a or adjoint_a),
                         "transpose_b": bool(transpose_b or adjoint_b)}, name))


def _reduction(op_type: str, ir_op: str):
    def fn(input_tensor: Any, axis: Any = None, keepdims: Optional[bool] = None,
           name: Optional[str] = None, reduction_indices: Any = None,
           keep_dims: Optional[bool] = None) -> Tensor:
        if axis is not None and reduction_indices is not None:
            raise ValueError("Can not specify both 'axis' and 'reduction_indices'.")
        axes = static_ints(axis if axis is not None else reduction_indices, "axis")
        keep = bool(keepdims if keepdims is not None else (keep_dims or False))
        x = convert_to_tensor(input_tensor)
        return _out(make_op(op_type, ir_op, [x], {"axes": axes, "keepdims": keep}, name))
    fn.__name__ = ir_op
    fn.__doc__ = f"tf.{ir_op}(input_tensor, axis=None, keepdims=None) (TF op {op_type})."
    return fn


reduce_sum = _reduction("Sum", "reduce_sum")
reduce_mean = _reduction("Mean", "reduce_mean")
reduce_max = _reduction("Max", "reduce_max")
reduce_min = _reduction("Min", "reduce_min")
reduce_prod = _reduction("Prod", "reduce_prod")


def add_n(inputs, name: Optional[str] = None) -> Tensor:
    inputs = [convert_to_tensor(x) for x in inputs]
    if not inputs:
        raise ValueError("inputs must be a list of at least one Tensor with the same dtype and shape")
    if len(inputs) == 1:
        from .array_ops import identity
        return identity(inputs[0], name=name)
    return _out(make_op("AddN", "add_n", inputs, name=name))


def _dtype_of(x: Any) -> DType:
    return x.dtype
