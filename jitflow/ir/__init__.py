"""The typed SSA IR: dtypes, tensor types, values/ops/functions, op registry, text form."""
from .builder import Builder
from .core import Function, Location, Op, UNKNOWN_LOC, Value
from .dtypes import DType, as_dtype, bool_, float32, float64, int32, int64
from .opdef import OPS, Attr, OpDef, defop, get_opdef
from .parser import IRParseError, parse, parse_function
from .printer import print_function
from .types import ShapeMismatch, TensorType, broadcast_shapes
from .verifier import VerificationError, verify

__all__ = [
    "Attr", "Builder", "DType", "Function", "IRParseError", "Location", "OPS", "Op", "OpDef",
    "ShapeMismatch", "TensorType", "UNKNOWN_LOC", "Value", "VerificationError", "as_dtype",
    "bool_", "broadcast_shapes", "defop", "float32", "float64", "get_opdef", "int32", "int64",
    "parse", "parse_function", "print_function", "verify",
]
